//! Historical retrieval: for every entity row, each requested view's features as of the row's
//! timestamp (per view: [`join`](crate::join)). Entity rows keep their order, duplicates and
//! columns; features follow, grouped per view in request order, named `feature` or
//! `<name_to_use>__<feature>`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema};
use futures::StreamExt;
use larder_core::model::FeatureView;

use crate::entity_rows::EntityTable;
use crate::error::{Error, Result, engine};
use crate::join::ViewJoin;
use crate::latest::OUTPUT_BATCH_ROWS;
use crate::{HistoricalRequest, RecordBatchStream};

/// Runs a historical request against the file sources of `repo`; each view's join holds the
/// feature values of at most `buffer_rows` source rows beyond twice the entity rows.
pub(crate) async fn get_historical_features(
    repo: &Path,
    request: &HistoricalRequest,
    buffer_rows: usize,
) -> Result<RecordBatchStream> {
    let names = output_names(request)?;
    let entity = EntityTable::load(&request.entity_rows).await?;
    check_entity_collisions(&entity, &names)?;
    let mut fields: Vec<Field> = entity
        .batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns = entity.batch.columns().to_vec();
    for (view_request, view_names) in request.views.iter().zip(&names) {
        let join = ViewJoin::prepare(repo, &entity, view_request)?;
        let arrays = join.run(buffer_rows).await?;
        for (name, array) in view_names.iter().zip(arrays) {
            fields.push(Field::new(name, array.data_type().clone(), true));
            columns.push(array);
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let all = RecordBatch::try_new(schema.clone(), columns)
        .map_err(engine("assembling the training set"))?;
    let total = all.num_rows();
    let batches: Vec<Result<RecordBatch>> = (0..total)
        .step_by(OUTPUT_BATCH_ROWS)
        .map(|o| Ok(all.slice(o, OUTPUT_BATCH_ROWS.min(total - o))))
        .collect();
    Ok(RecordBatchStream {
        schema,
        batches: futures::stream::iter(batches).boxed(),
    })
}

/// The output column names per view; unknown features and name collisions are errors.
fn output_names(request: &HistoricalRequest) -> Result<Vec<Vec<String>>> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut names = Vec::with_capacity(request.views.len());
    for v in &request.views {
        let mut view_names = Vec::with_capacity(v.features.len());
        for feature in &v.features {
            check_feature(&v.view, feature)?;
            let name = if request.full_feature_names {
                format!("{}__{feature}", v.name_to_use)
            } else {
                feature.clone()
            };
            seen.entry(name.clone())
                .or_default()
                .push(format!("{}:{feature}", v.name_to_use));
            view_names.push(name);
        }
        names.push(view_names);
    }
    let collisions: Vec<String> = seen
        .iter()
        .filter(|(_, refs)| refs.len() > 1)
        .map(|(name, refs)| format!("`{name}` ({})", refs.join(", ")))
        .collect();
    if !collisions.is_empty() {
        return Err(Error::Request(format!(
            "feature name collision: {} would share an output column; request them with full feature names \
             (`<view>__<feature>`) or drop the duplicates",
            collisions.join("; ")
        )));
    }
    Ok(names)
}

/// `feature` must be one of `view`'s features.
fn check_feature(view: &FeatureView, feature: &str) -> Result<()> {
    if view.feature(feature).is_some() {
        return Ok(());
    }
    Err(Error::Request(format!(
        "feature view `{}` has no feature `{feature}`; its features are: {}",
        view.name,
        view.feature_names()
    )))
}

/// A feature must not be named like an entity-row column.
fn check_entity_collisions(entity: &EntityTable, names: &[Vec<String>]) -> Result<()> {
    let schema = entity.batch.schema();
    match names.iter().flatten().find(|n| schema.column_with_name(n).is_some()) {
        Some(name) => Err(entity.origin.error(format!(
            "column `{name}` is both an entity-row column and a requested feature; rename the column \
             or request full feature names"
        ))),
        None => Ok(()),
    }
}
