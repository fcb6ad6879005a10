//! Online retrieval: resolve feature references into a read plan, then read the online store and
//! shape the answer exactly like Feast's `POST /get-online-features` response.

use std::sync::Arc;

use chrono::Utc;
use futures::future::try_join_all;
use larder_core::entity_key::{EntityKeyLayout, KeyValue};
use larder_core::model::{DUMMY_ENTITY_ID, DUMMY_ENTITY_VALUE, FeatureView};
use larder_core::proto::core as pc;
use larder_core::time::{format_rfc3339, from_micros, parse_timestamp};
use larder_core::types::ValueType;
use larder_core::value;
use larder_online::{OnlineRow, OnlineStoreRef};
use larder_registry::view::ProjectView;
use serde::Serialize;
use serde_json::{Map, Value as J};

use crate::error::{Error, Result};
use crate::materialize::key_layout;
use crate::store::FeatureStore;

/// Which features to read: explicit `view:feature` references, or a feature service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeatureSelection {
    /// `["driver_hourly_stats:conv_rate", ...]`.
    Refs(Vec<String>),
    /// A feature service's name.
    Service(String),
}

/// Feast's field statuses (`ServingService.proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldStatus {
    /// The value is present and fresh.
    Present,
    /// The stored value is null.
    NullValue,
    /// No value is stored for this entity.
    NotFound,
    /// The value is older than the view's ttl (it is still returned).
    OutsideMaxAge,
}

/// One column of an online response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureVector {
    /// One value per entity row.
    pub values: Vec<J>,
    /// One status per entity row.
    pub statuses: Vec<FieldStatus>,
    /// One RFC 3339 event timestamp per entity row (the epoch when not found).
    pub event_timestamps: Vec<String>,
}

/// Response metadata: the column names, in `results` order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseMetadata {
    /// Join-key columns first, then features.
    pub feature_names: Vec<String>,
}

/// The answer of an online read, serialized as Feast's HTTP server does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnlineResponse {
    /// Column names.
    pub metadata: ResponseMetadata,
    /// Columns, one per name.
    pub results: Vec<FeatureVector>,
}

/// One view's part of a read plan.
#[derive(Debug, Clone)]
struct ViewRead {
    view: FeatureView,
    name_to_use: String,
    features: Vec<String>,
    /// Per join key (layout order): its type and the request column that holds it.
    keys: Vec<(ValueType, String)>,
    layout: EntityKeyLayout,
}

/// A resolved feature selection: which views, features, key columns and output names.
/// Resolving once and reusing the plan keeps registry work off the request path.
#[derive(Debug, Clone)]
pub struct OnlineReadPlan {
    reads: Vec<ViewRead>,
    full_feature_names: bool,
    /// The registry version this plan was resolved against.
    pub registry_version: String,
}

impl OnlineReadPlan {
    /// Resolves `selection` against a registry snapshot.
    pub fn resolve(
        snapshot: &pc::Registry,
        project: &str,
        selection: &FeatureSelection,
        full_feature_names: bool,
        key_version: u32,
    ) -> Result<Self> {
        let registry = ProjectView::new(snapshot, project);
        let groups = match selection {
            FeatureSelection::Refs(refs) => group_refs(refs)?
                .into_iter()
                .map(|(view, features)| {
                    Ok((
                        registry.feature_view(&view)?,
                        None,
                        features,
                        Default::default(),
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
            FeatureSelection::Service(name) => {
                let service = registry.feature_service(name)?;
                service
                    .projections
                    .into_iter()
                    .map(|p| {
                        let features = p.features.iter().map(|f| f.name.clone()).collect();
                        Ok((
                            registry.feature_view(&p.view)?,
                            p.alias.clone(),
                            features,
                            p.join_key_map,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?
            }
        };
        let reads = groups
            .into_iter()
            .map(|(view, alias, features, join_key_map)| {
                view_read(view, alias, features, &join_key_map, key_version)
            })
            .collect::<Result<Vec<_>>>()?;
        let plan = OnlineReadPlan {
            reads,
            full_feature_names,
            registry_version: snapshot.version_id.clone(),
        };
        plan.check_collisions()?;
        Ok(plan)
    }

    /// The output names of the features (without the join-key columns).
    pub fn feature_names(&self) -> Vec<String> {
        self.reads
            .iter()
            .flat_map(|r| r.features.iter().map(move |f| self.output_name(r, f)))
            .collect()
    }

    fn output_name(&self, read: &ViewRead, feature: &str) -> String {
        if self.full_feature_names {
            format!("{}__{feature}", read.name_to_use)
        } else {
            feature.to_string()
        }
    }

    fn check_collisions(&self) -> Result<()> {
        let mut seen = std::collections::HashMap::new();
        for read in &self.reads {
            for f in &read.features {
                let name = self.output_name(read, f);
                if let Some(prev) = seen.insert(name.clone(), format!("{}:{f}", read.name_to_use)) {
                    return Err(Error::InvalidRequest(format!(
                        "feature name `{name}` is requested twice ({prev} and {}:{f}): \
                         set full_feature_names to name columns <view>__<feature>",
                        read.name_to_use
                    )));
                }
            }
        }
        Ok(())
    }

    /// The request columns this plan needs with their join keys' types.
    pub fn entity_column_types(&self) -> Vec<(String, ValueType)> {
        let mut cols: Vec<(String, ValueType)> = Vec::new();
        for (ty, col) in self.reads.iter().flat_map(|r| r.keys.iter()) {
            if col != DUMMY_ENTITY_ID && !cols.iter().any(|(c, _)| c == col) {
                cols.push((col.clone(), *ty));
            }
        }
        cols
    }

    /// The request columns this plan needs (join keys after `join_key_map`).
    pub fn required_entity_columns(&self) -> Vec<String> {
        let mut cols: Vec<String> = Vec::new();
        for (_, col) in self.reads.iter().flat_map(|r| r.keys.iter()) {
            if col != DUMMY_ENTITY_ID && !cols.contains(col) {
                cols.push(col.clone());
            }
        }
        cols
    }
}

fn view_read(
    view: FeatureView,
    alias: Option<String>,
    features: Vec<String>,
    join_key_map: &std::collections::BTreeMap<String, String>,
    key_version: u32,
) -> Result<ViewRead> {
    for f in &features {
        if view.feature(f).is_none() {
            return Err(Error::NotFound(format!(
                "feature `{f}` does not exist in feature view `{}`; its features are: {}",
                view.name,
                view.feature_names()
            )));
        }
    }
    let layout = key_layout(&view, key_version)?;
    let keys = if view.entity_columns.is_empty() {
        vec![(ValueType::String, DUMMY_ENTITY_ID.to_string())]
    } else {
        view.entity_columns
            .iter()
            .map(|c| {
                (
                    c.dtype,
                    join_key_map
                        .get(&c.name)
                        .cloned()
                        .unwrap_or_else(|| c.name.clone()),
                )
            })
            .collect()
    };
    let name_to_use = alias.unwrap_or_else(|| view.name.clone());
    Ok(ViewRead {
        view,
        name_to_use,
        features,
        keys,
        layout,
    })
}

/// Groups `view:feature` references per view, in order of first reference.
fn group_refs(refs: &[String]) -> Result<Vec<(String, Vec<String>)>> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for r in refs {
        let (view, feature) = r
            .split_once(':')
            .filter(|(v, f)| !v.is_empty() && !f.is_empty())
            .ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "feature reference `{r}` must look like `view:feature`"
                ))
            })?;
        match groups.iter_mut().find(|(v, _)| v == view) {
            Some((_, fs)) if fs.iter().any(|f| f == feature) => {}
            Some((_, fs)) => fs.push(feature.to_string()),
            None => groups.push((view.to_string(), vec![feature.to_string()])),
        }
    }
    if groups.is_empty() {
        return Err(Error::InvalidRequest(
            "no features requested: pass at least one `view:feature`".into(),
        ));
    }
    Ok(groups)
}

impl FeatureStore {
    /// Resolves a feature selection against the current registry.
    pub async fn online_read_plan(
        &self,
        selection: &FeatureSelection,
        full_feature_names: bool,
    ) -> Result<OnlineReadPlan> {
        let snapshot = self.snapshot().await?;
        OnlineReadPlan::resolve(
            &snapshot,
            self.project(),
            selection,
            full_feature_names,
            self.config().entity_key_serialization_version,
        )
    }

    /// Reads the online features of `plan` for the entity rows in `entities`
    /// (column name → values, all the same length; JSON values typed by each join key's type).
    pub async fn read_online(
        &self,
        plan: &OnlineReadPlan,
        entities: &Map<String, J>,
    ) -> Result<OnlineResponse> {
        let store = self.online_store().await?;
        read_online_with(&store, self.project(), plan, entities).await
    }

    /// Resolves `selection` and reads it: `get-online-features` in one call.
    pub async fn get_online_features(
        &self,
        selection: &FeatureSelection,
        entities: &Map<String, J>,
        full_feature_names: bool,
    ) -> Result<OnlineResponse> {
        let plan = self.online_read_plan(selection, full_feature_names).await?;
        self.read_online(&plan, entities).await
    }
}

/// Reads `plan` from `store` (exposed for servers that hold the store themselves).
pub async fn read_online_with(
    store: &OnlineStoreRef,
    project: &str,
    plan: &OnlineReadPlan,
    entities: &Map<String, J>,
) -> Result<OnlineResponse> {
    let rows = entity_row_count(plan, entities)?;
    let key_sets = plan
        .reads
        .iter()
        .map(|read| serialize_keys(read, entities, rows))
        .collect::<Result<Vec<_>>>()?;
    let reads = plan.reads.iter().zip(&key_sets).map(|(read, keys)| {
        let store = Arc::clone(store);
        async move { store.read(project, &read.view, &read.features, keys).await }
    });
    let answers = try_join_all(reads).await?;
    let mut response = OnlineResponse {
        metadata: ResponseMetadata {
            feature_names: Vec::new(),
        },
        results: Vec::new(),
    };
    let required = plan.required_entity_columns();
    for (name, values) in entities.iter() {
        if required.contains(name) {
            push_key_column(&mut response, name, values, rows);
        }
    }
    let now = Utc::now().timestamp_micros();
    for (read, answer) in plan.reads.iter().zip(answers) {
        // One formatted timestamp per row, shared by all of the view's features.
        let row_timestamps: Vec<Option<String>> = answer
            .iter()
            .map(|row| {
                row.as_ref()
                    .map(|row| format_rfc3339(from_micros(row.event_ts_micros)))
            })
            .collect();
        for (i, feature) in read.features.iter().enumerate() {
            response
                .metadata
                .feature_names
                .push(plan.output_name(read, feature));
            response
                .results
                .push(feature_column(read, &answer, &row_timestamps, i, now)?);
        }
    }
    Ok(response)
}

const EPOCH: &str = "1970-01-01T00:00:00Z";

fn push_key_column(response: &mut OnlineResponse, name: &str, values: &J, rows: usize) {
    let values = values.as_array().cloned().unwrap_or_default();
    response.metadata.feature_names.push(name.to_string());
    response.results.push(FeatureVector {
        values,
        statuses: vec![FieldStatus::Present; rows],
        event_timestamps: vec![EPOCH.to_string(); rows],
    });
}

fn feature_column(
    read: &ViewRead,
    answer: &[Option<OnlineRow>],
    row_timestamps: &[Option<String>],
    i: usize,
    now: i64,
) -> Result<FeatureVector> {
    let ttl = read.view.ttl.as_micros() as i64;
    let mut column = FeatureVector {
        values: Vec::with_capacity(answer.len()),
        statuses: Vec::with_capacity(answer.len()),
        event_timestamps: Vec::with_capacity(answer.len()),
    };
    for (row, ts) in answer.iter().zip(row_timestamps) {
        let (value, status, ts) = match (row, ts) {
            (Some(row), Some(ts)) => {
                let ts = ts.clone();
                match row.values.get(i).and_then(|v| v.as_deref()) {
                    None => (J::Null, FieldStatus::NotFound, EPOCH.to_string()),
                    Some([]) => (J::Null, FieldStatus::NullValue, ts),
                    Some(bytes) => {
                        let decoded = value::decode(bytes)?;
                        if value::is_null(&decoded) {
                            (J::Null, FieldStatus::NullValue, ts)
                        } else {
                            let status = if ttl > 0 && now - row.event_ts_micros > ttl {
                                FieldStatus::OutsideMaxAge
                            } else {
                                FieldStatus::Present
                            };
                            (value::to_json(&decoded), status, ts)
                        }
                    }
                }
            }
            _ => (J::Null, FieldStatus::NotFound, EPOCH.to_string()),
        };
        column.values.push(value);
        column.statuses.push(status);
        column.event_timestamps.push(ts);
    }
    Ok(column)
}

fn entity_row_count(plan: &OnlineReadPlan, entities: &Map<String, J>) -> Result<usize> {
    let mut rows: Option<(usize, &str)> = None;
    for column in plan.required_entity_columns() {
        let values = entities.get(&column).ok_or_else(|| {
            let given: Vec<&str> = entities.keys().map(String::as_str).collect();
            Error::InvalidRequest(format!(
                "entity column `{column}` is missing from the request (it has: {}); the requested features need it",
                if given.is_empty() { "nothing".to_string() } else { given.join(", ") }
            ))
        })?;
        let n = values
            .as_array()
            .ok_or_else(|| {
                Error::InvalidRequest(format!("entity column `{column}` must be a list of values"))
            })?
            .len();
        match rows {
            Some((m, other)) if m != n => {
                return Err(Error::InvalidRequest(format!(
                    "entity columns have different lengths: `{other}` has {m} values, `{column}` has {n}"
                )));
            }
            _ => {
                rows = Some((
                    n,
                    entities
                        .get_key_value(&column)
                        .map(|(k, _)| k.as_str())
                        .unwrap_or(""),
                ))
            }
        }
    }
    Ok(rows.map(|(n, _)| n).unwrap_or(1))
}

fn serialize_keys(read: &ViewRead, entities: &Map<String, J>, rows: usize) -> Result<Vec<Vec<u8>>> {
    let columns: Vec<Option<&Vec<J>>> = read
        .keys
        .iter()
        .map(|(_, col)| entities.get(col).and_then(J::as_array))
        .collect();
    let mut out = Vec::with_capacity(rows);
    let mut strings: Vec<String> = Vec::with_capacity(read.keys.len());
    for row in 0..rows {
        strings.clear();
        let mut values = Vec::with_capacity(read.keys.len());
        for ((ty, col), column) in read.keys.iter().zip(&columns) {
            let v = match column {
                Some(c) => json_key(&c[row], *ty, col, row)?,
                None if col == DUMMY_ENTITY_ID => OwnedKey::Str(DUMMY_ENTITY_VALUE.to_string()),
                None => {
                    return Err(Error::InvalidRequest(format!(
                        "entity column `{col}` is missing"
                    )));
                }
            };
            values.push(v);
        }
        let borrowed: Vec<KeyValue<'_>> = values.iter().map(OwnedKey::borrow).collect();
        out.push(read.layout.serialize(&borrowed));
    }
    Ok(out)
}

enum OwnedKey {
    Str(String),
    Bytes(Vec<u8>),
    Int32(i32),
    Int64(i64),
    Ts(i64),
}

impl OwnedKey {
    fn borrow(&self) -> KeyValue<'_> {
        match self {
            OwnedKey::Str(s) => KeyValue::Str(s),
            OwnedKey::Bytes(b) => KeyValue::Bytes(b),
            OwnedKey::Int32(v) => KeyValue::Int32(*v),
            OwnedKey::Int64(v) => KeyValue::Int64(*v),
            OwnedKey::Ts(v) => KeyValue::UnixTimestamp(*v),
        }
    }
}

/// Converts a JSON entity value to the join key's declared type.
fn json_key(v: &J, ty: ValueType, column: &str, row: usize) -> Result<OwnedKey> {
    let bad = |want: &str| {
        Error::InvalidRequest(format!(
            "entity column `{column}` value #{row} is {v}, but the join key is {} ({want})",
            ty.proto_name()
        ))
    };
    Ok(match ty {
        ValueType::Int64 | ValueType::Unknown => OwnedKey::Int64(
            v.as_i64()
                .or_else(|| integral(v))
                .ok_or_else(|| bad("an integer"))?,
        ),
        ValueType::Int32 => {
            let n = v
                .as_i64()
                .or_else(|| integral(v))
                .ok_or_else(|| bad("an integer"))?;
            OwnedKey::Int32(i32::try_from(n).map_err(|_| bad("a 32-bit integer"))?)
        }
        ValueType::String => OwnedKey::Str(v.as_str().ok_or_else(|| bad("a string"))?.to_string()),
        ValueType::Bytes => OwnedKey::Bytes(
            v.as_str()
                .ok_or_else(|| bad("a string"))?
                .as_bytes()
                .to_vec(),
        ),
        ValueType::UnixTimestamp => OwnedKey::Ts(match v {
            J::String(s) => parse_timestamp(s)
                .map_err(|_| bad("a timestamp"))?
                .timestamp(),
            _ => v
                .as_i64()
                .ok_or_else(|| bad("seconds since the epoch or an ISO timestamp"))?,
        }),
        other => {
            return Err(Error::InvalidRequest(format!(
                "entity column `{column}` has type {other}, which cannot be an entity key"
            )));
        }
    })
}

fn integral(v: &J) -> Option<i64> {
    v.as_f64()
        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
        .map(|f| f as i64)
}
