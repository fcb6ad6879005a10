//! `get-online-features`: prints exactly the JSON `POST /get-online-features` returns.

use std::process::ExitCode;

use anyhow::{Result, bail};
use larder::{FeatureSelection, FeatureStore};
use larder_core::types::ValueType;
use serde_json::{Map, Value as J};

use crate::args::OnlineArgs;

pub(crate) async fn run(store: &FeatureStore, args: OnlineArgs) -> Result<ExitCode> {
    let selection = match (&args.feature_service, args.features.is_empty()) {
        (Some(service), _) => FeatureSelection::Service(service.clone()),
        (None, false) => FeatureSelection::Refs(args.features.clone()),
        (None, true) => {
            bail!("pass features with -f view:feature or a feature service with --feature-service")
        }
    };
    let plan = store
        .online_read_plan(&selection, args.full_feature_names)
        .await?;
    let entities = parse_entities(&args.entities, &plan.entity_column_types())?;
    let response = store.read_online(&plan, &entities).await?;
    crate::output::line(&serde_json::to_string_pretty(&response)?)?;
    Ok(ExitCode::SUCCESS)
}

/// Turns `-e key=value` pairs into entity columns, typing each value by its join key's type.
fn parse_entities(pairs: &[String], types: &[(String, ValueType)]) -> Result<Map<String, J>> {
    let mut entities = Map::new();
    for pair in pairs {
        let Some((key, raw)) = pair.split_once('=') else {
            bail!("entity `{pair}` must look like join_key=value, e.g. -e driver_id=1001");
        };
        let ty = types.iter().find(|(k, _)| k == key).map(|(_, t)| *t);
        let value = match ty {
            Some(ValueType::String) | Some(ValueType::Bytes) => J::String(raw.to_string()),
            Some(ValueType::Int32) | Some(ValueType::Int64) | Some(ValueType::Unknown) => match raw
                .parse::<i64>(
            ) {
                Ok(n) => J::from(n),
                Err(_) => bail!("entity `{key}` is an integer key but `{raw}` is not an integer"),
            },
            None => bail!(
                "`{key}` is not a join key of the requested features; they need: {}",
                types
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(_) => J::String(raw.to_string()),
        };
        entities
            .entry(key.to_string())
            .or_insert_with(|| J::Array(Vec::new()));
        if let Some(J::Array(values)) = entities.get_mut(key) {
            values.push(value);
        }
    }
    Ok(entities)
}
