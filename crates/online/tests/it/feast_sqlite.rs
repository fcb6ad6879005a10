//! Compatibility with Feast 0.67's SQLite store: Larder reads the `online.db` Feast materialized as
//! Feast serves it, and writes rows byte-identical to Feast's.
//!
//! Fixture: `../shared/fixtures/feast-0.67/driver_demo` (see its README), copied to a temp dir first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, Float32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{Field as ArrowField, Schema};
use arrow::record_batch::RecordBatch;
use larder_core::ValueType;
use larder_core::entity_key::{EntityKeyLayout, KeyValue};
use larder_core::model::{
    CREATED_TS_COLUMN, DataSource, EVENT_TS_COLUMN, FeatureView, Field, FileFormat, SourceKind,
    Tags,
};
use larder_core::proto::types::value::Val;
use larder_core::value::{decode, to_json};
use larder_online::{OnlineStore, SqliteOnlineStore, WriteBatch};
use rusqlite::Connection;
use serde_json::Value as Json;

const PROJECT: &str = "feast_demo";
const TABLE: &str = "feast_demo_driver_hourly_stats";

/// The fixture's view features, in definition order.
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

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/feast-0.67/driver_demo")
}

/// A writable copy of Feast's `online.db` in a temp dir.
fn feast_db_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("online.db");
    let source = fixture_dir().join("data/online.db");
    std::fs::copy(&source, &copy).unwrap_or_else(|e| panic!("copying {}: {e}", source.display()));
    (dir, copy)
}

/// `driver_hourly_stats` as Feast's `feature_store.yaml` + definitions declare it.
pub(crate) fn driver_view() -> FeatureView {
    FeatureView {
        name: "driver_hourly_stats".into(),
        entities: vec!["driver".into()],
        features: FEATURES.iter().map(|(n, t)| Field::new(*n, *t)).collect(),
        entity_columns: vec![Field::new("driver_id", ValueType::Int64)],
        ttl: Duration::from_secs(2 * 86_400),
        batch_source: DataSource {
            name: "driver_stats_source".into(),
            kind: SourceKind::File {
                path: "data/driver_stats.parquet".into(),
                format: FileFormat::Parquet,
            },
            timestamp_field: "event_timestamp".into(),
            created_timestamp_column: "created".into(),
            field_mapping: Tags::new(),
            date_partition_column: String::new(),
            description: String::new(),
            tags: Tags::new(),
            owner: String::new(),
        },
        stream_source: None,
        online: true,
        offline: false,
        description: String::new(),
        tags: Tags::new(),
        owner: String::new(),
        materialization_intervals: vec![],
    }
}

fn layout() -> EntityKeyLayout {
    EntityKeyLayout::new(&["driver_id".to_string()], 3).expect("layout")
}

/// One row of [`driver_view`] for driver `id` at `secs`: only `city` set, every other feature null.
pub(crate) fn one_driver_batch(id: i64, secs: i64, city: &str) -> WriteBatch {
    drivers_batch(id..id + 1, secs, city)
}

/// One row per driver in `ids`, all at `secs`, with `city` and null numbers.
pub(crate) fn drivers_batch(ids: std::ops::Range<i64>, secs: i64, city: &str) -> WriteBatch {
    let rows = ids.clone().count();
    let mut columns: Vec<(&str, ArrayRef)> =
        vec![("driver_id", Arc::new(Int64Array::from_iter_values(ids)))];
    for (name, dtype) in FEATURES {
        let column: ArrayRef = match dtype {
            ValueType::String => Arc::new(StringArray::from(vec![city; rows])),
            ValueType::Float => Arc::new(Float32Array::from(vec![None; rows])),
            ValueType::Double => Arc::new(Float64Array::from(vec![None; rows])),
            _ => Arc::new(Int64Array::from(vec![None; rows])),
        };
        columns.push((name, column));
    }
    columns.push((EVENT_TS_COLUMN, timestamps(vec![Some(secs); rows])));
    WriteBatch::from_record_batch(&record_batch(columns), &driver_view(), &layout())
        .expect("write batch")
}

fn timestamps(secs: Vec<Option<i64>>) -> ArrayRef {
    let micros: Vec<Option<i64>> = secs.into_iter().map(|s| s.map(|s| s * 1_000_000)).collect();
    Arc::new(TimestampMicrosecondArray::from(micros).with_timezone("UTC"))
}

fn record_batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<ArrowField> = columns
        .iter()
        .map(|(n, a)| ArrowField::new(*n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

/// Reads every entity of Feast's HTTP response from Feast's `online.db` and compares values, found /
/// not found, and event timestamps.
#[tokio::test]
async fn reads_feasts_online_db_as_feast_serves_it() {
    let (_dir, db) = feast_db_copy();
    let expected: Json = serde_json::from_str(
        &std::fs::read_to_string(fixture_dir().join("expected_online.json"))
            .expect("expected_online.json"),
    )
    .expect("JSON");
    let ids: Vec<i64> = expected["request"]["entities"]["driver_id"]
        .as_array()
        .expect("entity ids")
        .iter()
        .map(|v| v.as_i64().expect("int id"))
        .collect();
    let keys: Vec<Vec<u8>> = ids
        .iter()
        .map(|&id| layout().serialize(&[KeyValue::Int64(id)]))
        .collect();
    let features: Vec<String> = FEATURES.iter().map(|(n, _)| n.to_string()).collect();

    let store = SqliteOnlineStore::open(&db).expect("open Feast's db");
    let rows = store
        .read(PROJECT, &driver_view(), &features, &keys)
        .await
        .expect("read")
        .to_rows();

    let names = expected["response"]["metadata"]["feature_names"]
        .as_array()
        .expect("feature names");
    let results = expected["response"]["results"].as_array().expect("results");
    let mut checked = 0;
    for (name, result) in names.iter().zip(results) {
        let name = name.as_str().expect("name");
        let Some(f) = features.iter().position(|x| x == name) else {
            continue;
        };
        for (j, row) in rows.iter().enumerate() {
            check_feature(
                ids[j],
                name,
                row.as_ref().map(|r| (r.event_ts_micros, &r.values[f])),
                result,
                j,
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        FEATURES.len() * ids.len(),
        "every feature of every entity is compared"
    );
}

/// Compares one (entity, feature) with Feast's response column `result` at index `j`.
fn check_feature(
    id: i64,
    name: &str,
    got: Option<(i64, &Option<Vec<u8>>)>,
    result: &Json,
    j: usize,
) {
    let status = result["statuses"][j].as_str().expect("status");
    let want = &result["values"][j];
    let Some((ts, value)) = got else {
        assert_eq!(
            status, "NOT_FOUND",
            "driver {id} {name}: Larder found nothing, Feast says {status}"
        );
        return;
    };
    assert_eq!(
        status, "PRESENT",
        "driver {id} {name}: Larder found a row, Feast says {status}"
    );
    let bytes = value
        .as_ref()
        .unwrap_or_else(|| panic!("driver {id} {name}: no stored value"));
    let got = to_json(&decode(bytes).expect("a Value"));
    let same = match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) => a == b || (a - b).abs() <= f64::EPSILON * b.abs(),
        _ => &got == want,
    };
    assert!(same, "driver {id} {name}: Larder {got}, Feast {want}");
    let feast_ts = result["event_timestamps"][j].as_str().expect("timestamp");
    let feast_ts = chrono::DateTime::parse_from_rfc3339(feast_ts)
        .expect("RFC3339")
        .timestamp_micros();
    assert_eq!(ts, feast_ts, "driver {id} {name}: event timestamp");
}

/// A row of Feast's table: entity key, feature, value, value_text, event_ts, created_ts and the
/// SQLite types of the timestamps.
type FeastRow = (
    Vec<u8>,
    String,
    Vec<u8>,
    Option<String>,
    rusqlite::types::Value,
    rusqlite::types::Value,
    String,
);

fn table_rows(db: &Path, keys: &[Vec<u8>]) -> Vec<FeastRow> {
    let conn = Connection::open(db).expect("open");
    let marks = vec!["?"; keys.len()].join(",");
    let sql = format!(
        "SELECT entity_key, feature_name, value, value_text, event_ts, created_ts, \
         typeof(event_ts) || ',' || typeof(created_ts) || ',' || typeof(vector_value) \
         FROM {TABLE} WHERE entity_key IN ({marks}) ORDER BY entity_key, feature_name"
    );
    let mut stmt = conn.prepare(&sql).expect("prepare");
    stmt.query_map(rusqlite::params_from_iter(keys), |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })
    .expect("query")
    .collect::<rusqlite::Result<_>>()
    .expect("rows")
}

/// Rebuilds the input of some of Feast's rows (including a null city) as an Arrow batch, writes it
/// with Larder into a fresh database, and compares the rows byte for byte.
#[tokio::test]
async fn writes_rows_byte_identical_to_feasts() {
    let (dir, feast_db) = feast_db_copy();
    let ids = [1001, 1005, 1030, 1036, 1050];
    let keys: Vec<Vec<u8>> = ids
        .iter()
        .map(|&id| layout().serialize(&[KeyValue::Int64(id)]))
        .collect();
    let feast_rows = table_rows(&feast_db, &keys);
    assert_eq!(
        feast_rows.len(),
        ids.len() * FEATURES.len(),
        "Feast's rows of the chosen drivers"
    );
    assert!(
        feast_rows.iter().any(|r| r.2.is_empty() && r.3.is_none()),
        "the sample holds a null value"
    );

    let store = SqliteOnlineStore::open(dir.path().join("larder.db")).expect("open");
    let view = driver_view();
    store
        .update(PROJECT, std::slice::from_ref(&view), &[])
        .await
        .expect("update");
    let batch =
        WriteBatch::from_record_batch(&rebuild_input(&ids, &keys, &feast_rows), &view, &layout())
            .expect("write batch");
    let stats = store
        .write_batch(PROJECT, &view, &batch)
        .await
        .expect("write");
    assert_eq!(
        (stats.rows_written, stats.rows_skipped),
        (ids.len() as u64, 0)
    );

    let larder_rows = table_rows(store.path(), &keys);
    assert_eq!(larder_rows.len(), feast_rows.len());
    for (larder, feast) in larder_rows.iter().zip(&feast_rows) {
        assert_eq!(
            larder, feast,
            "row of feature {} differs from Feast's",
            feast.1
        );
    }
}

/// The Arrow input Feast materialized for these rows: values decoded from Feast's `value` bytes,
/// timestamps from its seconds.
fn rebuild_input(ids: &[i64], keys: &[Vec<u8>], rows: &[FeastRow]) -> RecordBatch {
    let mut cells: BTreeMap<(usize, &str), Option<Val>> = BTreeMap::new();
    let (mut event, mut created) = (vec![None; ids.len()], vec![None; ids.len()]);
    for (key, feature, value, _, event_ts, created_ts, _) in rows {
        let i = keys.iter().position(|k| k == key).expect("a chosen key");
        cells.insert((i, feature.as_str()), decode(value).expect("a Value").val);
        event[i] = as_secs(event_ts);
        created[i] = as_secs(created_ts);
    }
    let cell = |i: usize, name: &str| cells.get(&(i, name)).cloned().flatten();
    let mut columns: Vec<(&str, ArrayRef)> =
        vec![("driver_id", Arc::new(Int64Array::from(ids.to_vec())))];
    for (name, dtype) in FEATURES {
        let n = ids.len();
        let column: ArrayRef = match dtype {
            ValueType::Float => Arc::new(Float32Array::from_iter((0..n).map(|i| {
                match cell(i, name) {
                    Some(Val::FloatVal(v)) => Some(v),
                    _ => None,
                }
            }))),
            ValueType::Double => Arc::new(Float64Array::from_iter((0..n).map(|i| {
                match cell(i, name) {
                    Some(Val::DoubleVal(v)) => Some(v),
                    _ => None,
                }
            }))),
            ValueType::Int64 => {
                Arc::new(Int64Array::from_iter((0..n).map(|i| match cell(i, name) {
                    Some(Val::Int64Val(v)) => Some(v),
                    _ => None,
                })))
            }
            _ => Arc::new(StringArray::from_iter((0..n).map(|i| {
                match cell(i, name) {
                    Some(Val::StringVal(v)) => Some(v),
                    _ => None,
                }
            }))),
        };
        columns.push((name, column));
    }
    columns.push((EVENT_TS_COLUMN, timestamps(event)));
    columns.push((CREATED_TS_COLUMN, timestamps(created)));
    record_batch(columns)
}

fn as_secs(value: &rusqlite::types::Value) -> Option<i64> {
    match value {
        rusqlite::types::Value::Integer(s) => Some(*s),
        other => panic!("Feast's fixture stores integer timestamps, found {other:?}"),
    }
}
