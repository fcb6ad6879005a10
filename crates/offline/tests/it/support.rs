//! Shared helpers: views and sources, writing test files, collecting streams, comparing cells.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use futures::StreamExt;
use larder_core::ValueType;
use larder_core::model::{DataSource, FeatureView, Field, FileFormat, SourceKind};
use larder_offline::RecordBatchStream;

/// A file source at `path` (relative to the repo or absolute).
pub(crate) fn file_source(name: &str, path: &str, ts: &str, created: &str) -> DataSource {
    DataSource {
        name: name.into(),
        kind: SourceKind::File {
            path: path.into(),
            format: FileFormat::from_path(path),
        },
        timestamp_field: ts.into(),
        created_timestamp_column: created.into(),
        field_mapping: BTreeMap::new(),
        date_partition_column: String::new(),
        description: String::new(),
        tags: BTreeMap::new(),
        owner: String::new(),
    }
}

/// A view over `source` with typed join keys and features.
pub(crate) fn view(
    name: &str,
    keys: &[(&str, ValueType)],
    features: &[(&str, ValueType)],
    ttl_secs: u64,
    source: DataSource,
) -> FeatureView {
    FeatureView {
        name: name.into(),
        entities: if keys.is_empty() {
            vec!["__dummy".into()]
        } else {
            keys.iter().map(|k| k.0.into()).collect()
        },
        features: features.iter().map(|(n, t)| Field::new(*n, *t)).collect(),
        entity_columns: keys.iter().map(|(n, t)| Field::new(*n, *t)).collect(),
        ttl: Duration::from_secs(ttl_secs),
        batch_source: source,
        stream_source: None,
        online: true,
        offline: false,
        description: String::new(),
        tags: BTreeMap::new(),
        owner: String::new(),
        materialization_intervals: vec![],
    }
}

/// Writes `batch` as a Parquet file.
pub(crate) fn write_parquet(path: &Path, batch: &RecordBatch) {
    write_parquet_groups(path, batch, 1 << 20);
}

/// Writes `batch` as a Parquet file with row groups of at most `group_rows` rows.
pub(crate) fn write_parquet_groups(path: &Path, batch: &RecordBatch, group_rows: usize) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// Writes `batch` as a CSV file with a header row (timestamps in RFC 3339, nulls empty).
pub(crate) fn write_csv(path: &Path, batch: &RecordBatch) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let file = std::fs::File::create(path).unwrap();
    let mut writer = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(file);
    writer.write(batch).unwrap();
}

/// A batch from named columns.
pub(crate) fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter_with_nullable(columns.into_iter().map(|(n, a)| (n, a, true)))
        .unwrap()
}

/// Microsecond UTC timestamps as an array.
pub(crate) fn ts_us(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(arrow::array::TimestampMicrosecondArray::from(values).with_timezone("UTC"))
}

/// All batches of a stream as one batch (checking every batch has the stream's schema).
pub(crate) async fn collect(stream: RecordBatchStream) -> RecordBatch {
    let schema = stream.schema.clone();
    let batches: Vec<RecordBatch> = stream.batches.map(|b| b.unwrap()).collect().await;
    for b in &batches {
        assert_eq!(b.schema(), schema);
    }
    concat_batches(&schema, &batches).unwrap()
}

/// A cell, normalized for comparing with Feast's pandas output: numbers as f64 (NaN is null).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// Null (or NaN).
    Null,
    /// Any number.
    Num(f64),
    /// Text.
    Str(String),
    /// A timestamp in µs.
    Ts(i64),
}

/// Cell `row` of `array`.
pub(crate) fn cell(array: &ArrayRef, row: usize) -> Cell {
    if array.is_null(row) {
        return Cell::Null;
    }
    let num = |v: f64| if v.is_nan() { Cell::Null } else { Cell::Num(v) };
    match array.data_type() {
        DataType::Int64 => Cell::Num(array.as_primitive::<Int64Type>().value(row) as f64),
        DataType::Int32 => Cell::Num(array.as_primitive::<Int32Type>().value(row) as f64),
        DataType::Float64 => num(array.as_primitive::<Float64Type>().value(row)),
        DataType::Float32 => num(array.as_primitive::<Float32Type>().value(row) as f64),
        DataType::Utf8 => Cell::Str(array.as_string::<i32>().value(row).to_string()),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Cell::Ts(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        other => panic!("no cell conversion for {other}"),
    }
}

/// Column `name` of `batch`.
pub(crate) fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", batch.schema()))
}

/// Column `name` as i64 values (nulls as `None`).
pub(crate) fn i64s(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    column(batch, name)
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

/// Column `name` as timestamps in µs.
pub(crate) fn timestamps(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    column(batch, name)
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect()
}

/// Microseconds since the epoch of an RFC 3339 time.
pub(crate) fn us(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_micros()
}

/// A chrono UTC time from RFC 3339.
pub(crate) fn utc(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&chrono::Utc)
}
