//! Entity rows for historical retrieval: read from a Parquet or CSV file or taken from memory,
//! with their timestamp column found (`event_timestamp`, else the only timestamp column) and
//! converted to UTC (naive timestamps are UTC; text is parsed as ISO 8601).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, new_empty_array};
use arrow::buffer::NullBuffer;
use arrow::compute::{cast, concat, concat_batches};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use larder_core::model::FileFormat;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::errors::ParquetError;

use crate::EntityRows;
use crate::columns::column_list;
use crate::error::{Error, Result, engine};
use crate::source::{csv_schema, open};
use crate::time::{is_timestamp, tag_naive_as_utc, to_utc_micros, utc_micros_type, values_or};

/// The preferred name of the entity rows' timestamp column.
pub(crate) const ENTITY_TS_COLUMN: &str = "event_timestamp";

/// Where entity rows came from, for messages.
#[derive(Debug, Clone)]
pub(crate) enum EntityOrigin {
    /// A file.
    File(PathBuf),
    /// Batches passed in memory.
    Memory,
}

impl EntityOrigin {
    /// An error about the entity rows: [`Error::Column`] for a file, [`Error::Request`] otherwise.
    pub(crate) fn error(&self, message: String) -> Error {
        match self {
            EntityOrigin::File(file) => Error::Column {
                file: file.clone(),
                message: format!("entity rows: {message}"),
            },
            EntityOrigin::Memory => Error::Request(format!("entity rows (in memory): {message}")),
        }
    }
}

/// Entity rows ready for the join.
#[derive(Debug)]
pub(crate) struct EntityTable {
    /// All rows, in input order; the timestamp column is UTC.
    pub(crate) batch: RecordBatch,
    /// The timestamps in µs (`i64::MIN` where null).
    pub(crate) ts: Vec<i64>,
    /// Which timestamps are null.
    pub(crate) ts_nulls: Option<NullBuffer>,
    /// Where the rows came from.
    pub(crate) origin: EntityOrigin,
}

impl EntityTable {
    /// Reads and prepares `rows`.
    pub(crate) async fn load(rows: &EntityRows) -> Result<Self> {
        let (batch, origin) = match rows {
            EntityRows::File(path) => {
                let path = path.clone();
                let read = tokio::task::spawn_blocking({
                    let path = path.clone();
                    move || read_file(&path)
                });
                (
                    read.await.map_err(engine("reading entity rows"))??,
                    EntityOrigin::File(path),
                )
            }
            EntityRows::Batches(batches) => (concat_memory(batches)?, EntityOrigin::Memory),
        };
        Self::new(batch, origin)
    }

    fn new(batch: RecordBatch, origin: EntityOrigin) -> Result<Self> {
        let ts_index = timestamp_column(batch.schema_ref(), &origin)?;
        let ts_array = utc_timestamps(
            batch.column(ts_index),
            &origin,
            batch.schema().field(ts_index).name(),
        )?;
        let micros = to_utc_micros(&ts_array).expect("a timestamp column");
        let ts = values_or(&micros, i64::MIN);
        let ts_nulls = micros.logical_nulls();
        let mut columns = batch.columns().to_vec();
        columns[ts_index] = ts_array;
        let fields: Vec<_> = batch
            .schema()
            .fields()
            .iter()
            .zip(&columns)
            .map(|(f, c)| {
                f.as_ref()
                    .clone()
                    .with_data_type(c.data_type().clone())
                    .with_nullable(true)
            })
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(engine("preparing entity rows"))?;
        Ok(EntityTable {
            batch,
            ts,
            ts_nulls,
            origin,
        })
    }

    /// The column `name`, or an error naming the view that needs it.
    pub(crate) fn column(&self, name: &str, view: &str, fix: &str) -> Result<&ArrayRef> {
        self.batch.column_by_name(name).ok_or_else(|| {
            self.origin.error(format!(
                "feature view `{view}` needs column `{name}`, which is not there; the columns are: {}. {fix}",
                column_list(self.batch.schema_ref())
            ))
        })
    }

    /// Whether row `i` has a timestamp.
    pub(crate) fn ts_valid(&self, i: usize) -> bool {
        self.ts_nulls.as_ref().is_none_or(|n| n.is_valid(i))
    }

    /// The smallest and greatest non-null timestamps, µs.
    pub(crate) fn time_bounds(&self) -> Option<(i64, i64)> {
        let mut it = (0..self.ts.len())
            .filter(|&i| self.ts_valid(i))
            .map(|i| self.ts[i]);
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t))))
    }
}

/// Reads a whole Parquet or CSV file.
fn read_file(path: &Path) -> Result<RecordBatch> {
    let what = "entity rows";
    let error = |e: &dyn std::fmt::Display| Error::File {
        file: path.to_path_buf(),
        message: format!(
            "cannot read the entity rows: {e}; pass a Parquet file or a CSV file with a header row"
        ),
    };
    let file = open(path, what)?;
    let (schema, batches) = match FileFormat::from_path(&path.to_string_lossy()) {
        FileFormat::Parquet => return read_parquet(path, file).map_err(|e| error(&e)),
        FileFormat::Csv => {
            let schema = csv_schema(path, what, &[ENTITY_TS_COLUMN])?;
            let reader = arrow::csv::ReaderBuilder::new(schema.clone())
                .with_header(true)
                .build(file)
                .map_err(|e| error(&e))?;
            (
                schema,
                reader
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| error(&e))?,
            )
        }
    };
    concat_batches(&schema, &batches).map_err(|e| error(&e))
}

/// Reads a whole Parquet file (`file` is `path` opened) as one batch, its columns decoded in
/// parallel (one column at a time per core, each in one piece, each through its own handle: the
/// reader seeks, and handles cloned from one share its position).
fn read_parquet(path: &Path, file: File) -> Result<RecordBatch, ParquetError> {
    let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default())?;
    let schema = Arc::clone(metadata.schema());
    let rows = usize::try_from(metadata.metadata().file_metadata().num_rows()).unwrap_or(0);
    let columns = schema.fields().len();
    let read_column = |c: usize| -> Result<ArrayRef, ParquetError> {
        let builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(File::open(path)?, metadata.clone());
        let mask = ProjectionMask::roots(builder.parquet_schema(), [c]);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(rows.max(1))
            .build()?;
        let parts = reader.collect::<Result<Vec<_>, _>>()?;
        match parts.as_slice() {
            [] => Ok(new_empty_array(schema.field(c).data_type())),
            [one] => Ok(Arc::clone(one.column(0))),
            _ => {
                let arrays: Vec<&dyn Array> = parts.iter().map(|b| b.column(0).as_ref()).collect();
                Ok(concat(&arrays)?)
            }
        }
    };
    let arrays = crate::parallel::map_on_every_core(columns, read_column)
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema,
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}

/// Entity rows given in memory, as one batch.
fn concat_memory(batches: &[RecordBatch]) -> Result<RecordBatch> {
    let first = batches.first().ok_or_else(|| {
        Error::Request(
            "entity rows (in memory): no batches given; pass at least one (it may have no rows)"
                .into(),
        )
    })?;
    concat_batches(first.schema_ref(), batches).map_err(|e| {
        Error::Request(format!(
            "entity rows (in memory): the batches do not share one schema: {e}"
        ))
    })
}

/// The index of the timestamp column: `event_timestamp`, else the only timestamp column.
fn timestamp_column(schema: &SchemaRef, origin: &EntityOrigin) -> Result<usize> {
    if let Ok(i) = schema.index_of(ENTITY_TS_COLUMN) {
        return Ok(i);
    }
    let candidates: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| is_timestamp(schema.field(i).data_type()))
        .collect();
    match candidates.as_slice() {
        [only] => {
            tracing::info!(column = %schema.field(*only).name(), "using it as the event timestamp of the entity rows");
            Ok(*only)
        }
        _ => Err(origin.error(format!(
            "no `{ENTITY_TS_COLUMN}` column and {} other timestamp columns, so the event time is unknown; \
             the columns are: {}. Name the event time column `{ENTITY_TS_COLUMN}`",
            if candidates.is_empty() { "no".to_string() } else { format!("{} (ambiguous)", candidates.len()) },
            column_list(schema)
        ))),
    }
}

/// The timestamp column as a UTC timestamp: naive timestamps tagged UTC, text and dates cast.
fn utc_timestamps(array: &ArrayRef, origin: &EntityOrigin, name: &str) -> Result<ArrayRef> {
    match array.data_type() {
        DataType::Timestamp(..) => Ok(tag_naive_as_utc(array)),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Date32 | DataType::Date64 => {
            cast(array, &utc_micros_type()).map_err(|e| {
                origin.error(format!("column `{name}` does not hold timestamps ({e}); use ISO 8601, e.g. 2026-11-24T12:00:00Z"))
            })
        }
        other => Err(origin.error(format!(
            "column `{name}` has type {other}, not a timestamp; store the event time as a timestamp"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, StringArray, TimestampNanosecondArray};
    use arrow::datatypes::{Field, TimeUnit};

    use super::*;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    #[test]
    fn finds_the_only_timestamp_column_and_tags_it_utc() {
        let ts: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![1_000, 2_000]));
        let b = batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2]))),
            ("when", ts),
        ]);
        let t = EntityTable::new(b, EntityOrigin::Memory).unwrap();
        assert_eq!(t.ts, vec![1, 2]);
        let expected = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
        assert_eq!(
            t.batch.schema().field(1),
            &Field::new("when", expected, true)
        );
        assert_eq!(t.time_bounds(), Some((1, 2)));
    }

    #[test]
    fn parses_text_event_timestamps() {
        let ts: ArrayRef = Arc::new(StringArray::from(vec![Some("2026-10-02T00:00:00"), None]));
        let t =
            EntityTable::new(batch(vec![("event_timestamp", ts)]), EntityOrigin::Memory).unwrap();
        assert_eq!(t.ts[0], 1_790_899_200_000_000);
        assert_eq!(t.time_bounds(), Some((t.ts[0], t.ts[0])));
    }

    /// Writes `b` as a Parquet file of row groups of `group_rows` rows.
    fn parquet_file(dir: &Path, b: &RecordBatch, group_rows: usize) -> PathBuf {
        let path = dir.join("entities.parquet");
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(group_rows))
            .build();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            File::create(&path).unwrap(),
            b.schema(),
            Some(props),
        )
        .unwrap();
        w.write(b).unwrap();
        w.close().unwrap();
        path
    }

    #[test]
    fn reads_every_column_and_row_group_of_a_parquet_file() {
        let n = 2_500;
        let ids: ArrayRef = Arc::new(Int64Array::from_iter(
            (0..n).map(|i| (i % 7 != 0).then_some(i)),
        ));
        let names: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| format!("n{i}")),
        ));
        let ts: ArrayRef = Arc::new(TimestampNanosecondArray::from_iter_values(0..n));
        let b = batch(vec![
            ("driver_id", ids),
            ("name", names),
            ("event_timestamp", ts),
        ]);
        let dir = tempfile::tempdir().unwrap();
        for group_rows in [1_000, n as usize] {
            let path = parquet_file(dir.path(), &b, group_rows);
            let read = read_file(&path).unwrap();
            assert_eq!(read, b, "row groups of {group_rows}");
        }
        let empty = parquet_file(dir.path(), &b.slice(0, 0), 1_000);
        let read = read_file(&empty).unwrap();
        assert_eq!((read.num_rows(), read.schema()), (0, b.schema()));
    }

    #[test]
    fn no_timestamp_column_lists_the_columns() {
        let b = batch(vec![(
            "driver_id",
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
        )]);
        let err = EntityTable::new(b, EntityOrigin::File("e.parquet".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("e.parquet: entity rows: no `event_timestamp`"),
            "{err}"
        );
        assert!(err.contains("the columns are: driver_id"), "{err}");
    }
}
