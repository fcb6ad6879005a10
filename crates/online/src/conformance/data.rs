//! Test data of the conformance checks (views, record batches and the `Value` bytes they must
//! read back as, built with prost independently of Larder's encoder) and the store calls and
//! comparisons the checks share.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array,
    Int64Builder, ListBuilder, StringArray, StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{Field as ArrowField, Schema};
use arrow::record_batch::RecordBatch;
use larder_core::ValueType;
use larder_core::entity_key::{EntityKeyLayout, KeyValue};
use larder_core::model::{
    DUMMY_ENTITY_NAME, DataSource, EVENT_TS_COLUMN, FeatureView, Field, FileFormat, SourceKind,
    Tags,
};
use larder_core::proto::types::{self as pt, value::Val};

use super::Quirks;

/// 2026-11-24T00:00:00Z, the base event time of the checks.
pub(super) const T0: i64 = 1_795_478_400_000_000;
/// One second, in microseconds.
pub(super) const SECOND: i64 = 1_000_000;
use crate::batch::view_join_keys;
use crate::{OnlineRow, OnlineStore, WriteBatch, WriteStats};

/// A view keyed by `driver_id` with features `conv` (float), `trips` (int64) and `city` (string).
pub(super) fn driver_view(name: &str) -> FeatureView {
    make_view(
        name,
        &[("driver_id", ValueType::Int64)],
        &[
            ("conv", ValueType::Float),
            ("trips", ValueType::Int64),
            ("city", ValueType::String),
        ],
    )
}

/// A view with these join keys (none: an entity-less view) and features.
pub(super) fn make_view(
    name: &str,
    keys: &[(&str, ValueType)],
    features: &[(&str, ValueType)],
) -> FeatureView {
    let entities = match keys {
        [] => vec![DUMMY_ENTITY_NAME.to_string()],
        keys => keys.iter().map(|(k, _)| k.to_string()).collect(),
    };
    FeatureView {
        name: name.into(),
        entities,
        features: features.iter().map(|(n, t)| Field::new(*n, *t)).collect(),
        entity_columns: keys.iter().map(|(n, t)| Field::new(*n, *t)).collect(),
        ttl: Duration::ZERO,
        batch_source: DataSource {
            name: format!("{name}_source"),
            kind: SourceKind::File {
                path: format!("data/{name}.parquet"),
                format: FileFormat::Parquet,
            },
            timestamp_field: "event_timestamp".into(),
            created_timestamp_column: String::new(),
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

pub(super) fn layout(view: &FeatureView) -> EntityKeyLayout {
    EntityKeyLayout::new(&view_join_keys(view), 3).expect("entity key layout")
}

pub(super) fn driver_keys(view: &FeatureView, ids: &[i64]) -> Vec<Vec<u8>> {
    let layout = layout(view);
    ids.iter()
        .map(|&id| layout.serialize(&[KeyValue::Int64(id)]))
        .collect()
}

/// Rows of a [`driver_view`] whose features all derive from `v`.
pub(super) fn driver_batch(ids: &[i64], times: &[i64], v: i64) -> RecordBatch {
    driver_batch_values(ids, times, &vec![v; ids.len()])
}

pub(super) fn driver_batch_values(ids: &[i64], times: &[i64], vs: &[i64]) -> RecordBatch {
    record_batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef,
        ),
        (
            "conv",
            Arc::new(Float32Array::from_iter_values(
                vs.iter().map(|&v| v as f32 / 4.0),
            )) as ArrayRef,
        ),
        ("trips", Arc::new(Int64Array::from(vs.to_vec())) as ArrayRef),
        (
            "city",
            Arc::new(StringArray::from_iter_values(
                vs.iter().map(|v| format!("city{v}")),
            )) as ArrayRef,
        ),
        ts_column(times),
    ])
}

/// The stored values of a [`driver_batch`] row with value `v`.
pub(super) fn driver_values(v: i64) -> Vec<Option<Vec<u8>>> {
    vec![
        Some(value(Val::FloatVal(v as f32 / 4.0))),
        Some(int64(v)),
        Some(value(Val::StringVal(format!("city{v}")))),
    ]
}

/// Writes `batch` and checks the stats.
pub(super) async fn expect_write(
    store: &dyn OnlineStore,
    project: &str,
    view: &FeatureView,
    batch: RecordBatch,
    want: WriteStats,
    when: &str,
) {
    let got = write(store, project, view, batch).await;
    assert_eq!(got, want, "{}: write stats when {when}", view.name);
}

/// Checks `(driver id, event time, value)` rows of a [`driver_view`].
pub(super) async fn expect_drivers(
    store: &dyn OnlineStore,
    project: &str,
    view: &FeatureView,
    quirks: &Quirks,
    rows: &[(i64, i64, i64)],
    when: &str,
) {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let got = read_all(store, project, view, &driver_keys(view, &ids)).await;
    let want: Vec<Option<OnlineRow>> = rows
        .iter()
        .map(|&(_, at, v)| {
            Some(OnlineRow {
                event_ts_micros: quirks.stored(at),
                values: driver_values(v),
            })
        })
        .collect();
    check_rows(&format!("{} {when}", view.name), view, &got, &want);
}

pub(super) fn all_types_view() -> FeatureView {
    use ValueType::*;
    let features = [
        ("i32", Int32),
        ("i64", Int64),
        ("f32", Float),
        ("f64", Double),
        ("flag", Bool),
        ("s", String),
        ("raw", Bytes),
        ("at", UnixTimestamp),
        ("i64s", Int64List),
        ("strs", StringList),
    ];
    make_view("all_types", &[("driver_id", Int64)], &features)
}

/// Drivers 1, 2 (every feature null) and 3 (edge values).
pub(super) fn all_types_batch(times: &[i64]) -> RecordBatch {
    let mut ints = ListBuilder::new(Int64Builder::new());
    ints.values().append_slice(&[1, -300]);
    ints.append(true);
    ints.append(false);
    ints.append(true);
    let mut strs = ListBuilder::new(StringBuilder::new());
    strs.values().append_value("a");
    strs.values().append_value("b");
    strs.append(true);
    strs.append(false);
    strs.values().append_value("");
    strs.append(true);
    let at = TimestampMicrosecondArray::from(vec![Some(1_700_000_000_500_000), None, Some(0)])
        .with_timezone("UTC");
    record_batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
        ),
        (
            "i32",
            Arc::new(Int32Array::from(vec![Some(-7), None, Some(i32::MAX)])),
        ),
        (
            "i64",
            Arc::new(Int64Array::from(vec![Some(1 << 40), None, Some(-1)])),
        ),
        (
            "f32",
            Arc::new(Float32Array::from(vec![Some(0.5), None, Some(-1.25)])),
        ),
        (
            "f64",
            Arc::new(Float64Array::from(vec![Some(4.868), None, Some(1e-5)])),
        ),
        (
            "flag",
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
        ),
        (
            "s",
            Arc::new(StringArray::from(vec![Some("Delhi"), None, Some("")])),
        ),
        (
            "raw",
            Arc::new(BinaryArray::from(vec![
                Some(&[0u8, 255][..]),
                None,
                Some(&[][..]),
            ])),
        ),
        ("at", Arc::new(at)),
        ("i64s", Arc::new(ints.finish())),
        ("strs", Arc::new(strs.finish())),
        ts_column(times),
    ])
}

/// The `Value` bytes of [`all_types_batch`], built with prost (independently of Larder's encoder).
pub(super) fn all_types_values() -> Vec<Vec<Option<Vec<u8>>>> {
    let row1 = vec![
        Val::Int32Val(-7),
        Val::Int64Val(1 << 40),
        Val::FloatVal(0.5),
        Val::DoubleVal(4.868),
        Val::BoolVal(true),
        Val::StringVal("Delhi".into()),
        Val::BytesVal(vec![0, 255]),
        Val::UnixTimestampVal(1_700_000_000),
        Val::Int64ListVal(pt::Int64List { val: vec![1, -300] }),
        Val::StringListVal(pt::StringList {
            val: vec!["a".into(), "b".into()],
        }),
    ];
    let row3 = vec![
        Val::Int32Val(i32::MAX),
        Val::Int64Val(-1),
        Val::FloatVal(-1.25),
        Val::DoubleVal(1e-5),
        Val::BoolVal(false),
        Val::StringVal(String::new()),
        Val::BytesVal(vec![]),
        Val::UnixTimestampVal(0),
        Val::Int64ListVal(pt::Int64List { val: vec![] }),
        Val::StringListVal(pt::StringList {
            val: vec![String::new()],
        }),
    ];
    let bytes = |row: Vec<Val>| row.into_iter().map(|v| Some(value(v))).collect();
    // Nulls are empty values, except a null timestamp: Feast writes pandas' NaT as i64::MIN.
    let mut nulls = vec![Some(Vec::new()); 10];
    nulls[7] = Some(value(Val::UnixTimestampVal(i64::MIN)));
    vec![bytes(row1), nulls, bytes(row3)]
}

pub(super) fn record_batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<ArrowField> = columns
        .iter()
        .map(|(n, a)| ArrowField::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("a valid record batch")
}

pub(super) fn ts_column(micros: &[i64]) -> (&'static str, ArrayRef) {
    (
        EVENT_TS_COLUMN,
        Arc::new(TimestampMicrosecondArray::from(micros.to_vec()).with_timezone("UTC")),
    )
}

pub(super) fn value(val: Val) -> Vec<u8> {
    larder_core::value::encode(&pt::Value { val: Some(val) })
}

pub(super) fn int64(v: i64) -> Vec<u8> {
    value(Val::Int64Val(v))
}

pub(super) fn stats(written: u64, skipped: u64) -> WriteStats {
    WriteStats {
        rows_written: written,
        rows_skipped: skipped,
    }
}

pub(super) async fn write(
    store: &dyn OnlineStore,
    project: &str,
    view: &FeatureView,
    batch: RecordBatch,
) -> WriteStats {
    let rows = WriteBatch::from_record_batch(&batch, view, &layout(view))
        .unwrap_or_else(|e| panic!("preparing rows of view {}: {e}", view.name));
    store
        .write_batch(project, view, &rows)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{} store: writing view {}: {e}",
                store.type_name(),
                view.name
            )
        })
}

/// Reads every feature of `view`.
pub(super) async fn read_all(
    store: &dyn OnlineStore,
    project: &str,
    view: &FeatureView,
    keys: &[Vec<u8>],
) -> Vec<Option<OnlineRow>> {
    let features: Vec<String> = view.features.iter().map(|f| f.name.clone()).collect();
    store
        .read(project, view, &features, keys)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{} store: reading view {}: {e}",
                store.type_name(),
                view.name
            )
        })
        .to_rows()
}

/// Compares rows, reporting the first few differences decoded (not megabytes of bytes).
pub(super) fn check_rows(
    check: &str,
    view: &FeatureView,
    got: &[Option<OnlineRow>],
    want: &[Option<OnlineRow>],
) {
    assert_eq!(
        got.len(),
        want.len(),
        "{check}: view {}: one result per key",
        view.name
    );
    let diffs: Vec<String> = got
        .iter()
        .zip(want)
        .enumerate()
        .filter(|(_, (g, w))| g != w)
        .take(5)
        .map(|(i, (g, w))| {
            format!(
                "  key #{i}:\n    got  {}\n    want {}",
                describe(g),
                describe(w)
            )
        })
        .collect();
    assert!(
        diffs.is_empty(),
        "{check}: view {}: rows differ:\n{}",
        view.name,
        diffs.join("\n")
    );
}

pub(super) fn describe(row: &Option<OnlineRow>) -> String {
    let Some(row) = row else { return "None".into() };
    let values: Vec<String> = row
        .values
        .iter()
        .map(|v| match v {
            None => "-".into(),
            Some(b) => larder_core::value::decode(b)
                .map_or_else(|e| format!("<{e}>"), |v| format!("{:?}", v.val)),
        })
        .collect();
    format!("ts={} [{}]", row.event_ts_micros, values.join(", "))
}
