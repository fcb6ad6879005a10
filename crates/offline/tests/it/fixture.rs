//! Compatibility with Feast 0.67's driver_demo fixture: historical retrieval must equal Feast's
//! DuckDB output, and materialization must produce the values Feast served after materializing.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use larder_core::ValueType;
use larder_core::model::{EVENT_TS_COLUMN, FeatureView};
use larder_offline::{EntityRows, FileOfflineStore, HistoricalRequest, OfflineStore, ViewRequest};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::support::{Cell, cell, collect, column, file_source, i64s, timestamps, utc, view};

/// The fixture, in `../shared` beside the project root (see its README).
const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/feast-0.67/driver_demo"
);

const FEATURES: [(&str, ValueType); 10] = [
    ("conv_rate", ValueType::Float),
    ("acc_rate", ValueType::Float),
    ("avg_daily_trips", ValueType::Int64),
    ("rating", ValueType::Double),
    ("earnings", ValueType::Double),
    ("distance_km", ValueType::Float),
    ("trips_today", ValueType::Int64),
    ("cancellations", ValueType::Int64),
    ("speed_avg", ValueType::Double),
    ("city", ValueType::String),
];

fn driver_view() -> FeatureView {
    let source = file_source(
        "driver_stats_source",
        "data/driver_stats.parquet",
        "event_timestamp",
        "created",
    );
    view(
        "driver_hourly_stats",
        &[("driver_id", ValueType::Int64)],
        &FEATURES,
        2 * 86_400,
        source,
    )
}

fn read_parquet(path: &Path) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let schema = reader.schema().clone();
    let batches: Vec<_> = reader.build().unwrap().map(|b| b.unwrap()).collect();
    concat_batches(&schema, &batches).unwrap()
}

async fn historical(full_feature_names: bool, buffer_rows: usize) -> RecordBatch {
    let store = FileOfflineStore::new(PathBuf::from(DIR)).with_join_buffer_rows(buffer_rows);
    let request = HistoricalRequest {
        entity_rows: EntityRows::File(Path::new(DIR).join("data/entity_rows.parquet")),
        views: vec![ViewRequest {
            view: driver_view(),
            name_to_use: "driver_hourly_stats".into(),
            features: FEATURES.iter().map(|f| f.0.to_string()).collect(),
            join_key_map: Default::default(),
        }],
        full_feature_names,
    };
    collect(store.get_historical_features(&request).await.unwrap()).await
}

/// Compares `got` (entity input order) with Feast's `expected` (sorted by `entity_row`), cell by cell.
fn assert_same_training_set(got: &RecordBatch, expected: &RecordBatch) {
    let got_names: Vec<_> = got
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let expected_names: Vec<_> = expected
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(got_names, expected_names);
    assert_eq!(got.num_rows(), expected.num_rows());
    let position: HashMap<i64, usize> = i64s(expected, "entity_row")
        .into_iter()
        .enumerate()
        .map(|(i, r)| (r.unwrap(), i))
        .collect();
    let rows = i64s(got, "entity_row");
    for name in &got_names {
        let (g, e) = (column(got, name), column(expected, name));
        for (i, row) in rows.iter().enumerate() {
            let j = position[&row.unwrap()];
            assert_eq!(
                cell(g, i),
                cell(e, j),
                "column {name}, entity_row {}",
                row.unwrap()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn historical_retrieval_equals_feast() {
    let got = historical(false, larder_offline::DEFAULT_JOIN_BUFFER_ROWS).await;
    assert_same_training_set(
        &got,
        &read_parquet(&Path::new(DIR).join("expected_historical.parquet")),
    );
    assert_eq!(
        historical(false, 1).await,
        got,
        "the same with the smallest join buffer"
    );
    let input = read_parquet(&Path::new(DIR).join("data/entity_rows.parquet"));
    assert_eq!(
        i64s(&got, "entity_row"),
        i64s(&input, "entity_row"),
        "input order is kept"
    );
    let matched = column(&got, "conv_rate").len()
        - arrow::array::Array::null_count(column(&got, "conv_rate").as_ref());
    assert!(
        matched > 10 && matched < got.num_rows(),
        "the fixture has both matches and misses"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn historical_retrieval_with_full_names_equals_feast() {
    let got = historical(true, larder_offline::DEFAULT_JOIN_BUFFER_ROWS).await;
    assert_same_training_set(
        &got,
        &read_parquet(&Path::new(DIR).join("expected_historical_full_names.parquet")),
    );
}

/// The feature values Feast served per driver after `feast materialize`, from expected_online.json.
fn served_values() -> HashMap<i64, HashMap<String, serde_json::Value>> {
    let text = std::fs::read_to_string(Path::new(DIR).join("expected_online.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let response = &json["response"];
    let names: Vec<String> = response["metadata"]["feature_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().into())
        .collect();
    let results = response["results"].as_array().unwrap();
    let ids = results[0]["values"].as_array().unwrap();
    let mut out = HashMap::new();
    for (row, id) in ids.iter().enumerate() {
        let mut values = HashMap::new();
        for (name, result) in names.iter().zip(results) {
            if result["statuses"][row] != "NOT_FOUND" {
                values.insert(name.clone(), result["values"][row].clone());
                values.insert(
                    format!("{name}@ts"),
                    result["event_timestamps"][row].clone(),
                );
            }
        }
        out.insert(id.as_i64().unwrap(), values);
    }
    out
}

/// Whether our cell equals Feast's JSON value (Float32 compared as f32, others within an ulp).
fn same_value(got: &Cell, served: &serde_json::Value, dtype: ValueType) -> bool {
    match (got, served) {
        (Cell::Null, serde_json::Value::Null) => true,
        (Cell::Num(g), v) if dtype == ValueType::Float => {
            v.as_f64().is_some_and(|v| *g as f32 == v as f32)
        }
        // serde_json's default float parsing may be off by one ulp (no `float_roundtrip` feature).
        (Cell::Num(g), v) => v
            .as_f64()
            .is_some_and(|v| (v - *g).abs() <= f64::EPSILON * g.abs()),
        (Cell::Str(g), v) => v.as_str() == Some(g.as_str()),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn materialization_rows_equal_what_feast_served() {
    let store = FileOfflineStore::new(PathBuf::from(DIR));
    let latest = store
        .pull_latest(
            &driver_view(),
            utc("2026-10-02T00:00:00Z"),
            utc("2026-11-01T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(latest.source_rows, Some(300));
    let got = collect(latest.rows).await;
    let served = served_values();
    let found = served
        .values()
        .filter(|v| v.contains_key("conv_rate"))
        .count();
    assert_eq!(got.num_rows(), found, "one row per driver Feast found");
    let ids = i64s(&got, "driver_id");
    let event_ts = timestamps(&got, EVENT_TS_COLUMN);
    for (row, id) in ids.iter().enumerate() {
        let values = &served[&id.unwrap()];
        for (name, dtype) in FEATURES {
            let g = cell(column(&got, name), row);
            assert!(
                same_value(&g, &values[name], dtype),
                "driver {id:?} {name}: {g:?} vs {}",
                values[name]
            );
            let served_ts = super::support::us(values[&format!("{name}@ts")].as_str().unwrap());
            assert_eq!(
                event_ts[row].unwrap() / 1_000_000,
                served_ts / 1_000_000,
                "driver {id:?} event time"
            );
        }
    }
}

/// Feast's file (dask) store drops every entity row with no feature row within the ttl and reorders
/// the rest (feast-dev/feast#6787, #1693, #3360); on this fixture that loses the rows for unknown
/// drivers, for times before any data and for times past the ttl. Larder keeps every row, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r6787_rows_without_a_match_within_ttl_are_kept_in_input_order() {
    let entity_rows = read_parquet(&Path::new(DIR).join("data/entity_rows.parquet"));
    let got = historical(false, usize::MAX).await;
    assert_eq!(got.num_rows(), entity_rows.num_rows());
    assert_eq!(i64s(&got, "entity_row"), i64s(&entity_rows, "entity_row"));
    let unmatched = column(&got, "conv_rate").null_count();
    assert!(
        unmatched >= 5,
        "the fixture has rows with no match within ttl: {unmatched}"
    );
}
