//! Writing Parquet files with each row group's columns encoded on every core, for training sets.
//!
//! Parquet's [`ArrowWriter`] encodes one column after another on the calling thread; for a 1M-row
//! training set that was a fifth of a whole retrieval, on one core. [`ParallelParquetWriter`]
//! holds batches until a row group is full (the arrays are shared with the caller, not copied),
//! then encodes the group's columns on scoped threads, the largest first, and appends the chunks
//! in schema order. The file is what [`ArrowWriter`] writes with the same properties: the same
//! row groups, encodings and Arrow schema in its metadata.

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, FieldRef, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::file::properties::{DEFAULT_MAX_ROW_GROUP_ROW_COUNT, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnPath, SchemaDescriptor};

use crate::error::{Error, Result, engine};

/// Writer properties for a training set: no dictionary encoding for floating-point and timestamp
/// columns. Their values are mostly distinct, and building a dictionary for them (hashing every
/// value until the dictionary overflows and the writer falls back to plain encoding) was a tenth
/// of the time of a 1M-row retrieval; integers and strings keep it.
pub fn training_set_properties(schema: &Schema) -> WriterProperties {
    schema
        .fields()
        .iter()
        .filter(|f| f.data_type().is_floating() || matches!(f.data_type(), DataType::Timestamp(..)))
        .fold(WriterProperties::builder(), |props, f| {
            props.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), false)
        })
        .build()
}

/// A Parquet file writer that encodes the columns of each row group in parallel.
pub struct ParallelParquetWriter<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    row_group_rows: usize,
    /// Batches of the row group being filled, and their rows.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    row_groups: usize,
    threads: usize,
}

impl<W: Write + Send> std::fmt::Debug for ParallelParquetWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelParquetWriter")
            .field("row_groups", &self.row_groups)
            .field("pending_rows", &self.pending_rows)
            .finish_non_exhaustive()
    }
}

impl<W: Write + Send> ParallelParquetWriter<W> {
    /// A writer of `schema`'s batches to `out`, with `props` (row group size included), encoding
    /// on one thread per core.
    pub fn try_new(out: W, schema: SchemaRef, props: WriterProperties) -> Result<Self> {
        Self::with_threads(out, schema, props, crate::scan::partitions_per_core())
    }

    /// As [`ParallelParquetWriter::try_new`], on at most `threads` threads.
    pub fn with_threads(
        out: W,
        schema: SchemaRef,
        props: WriterProperties,
        threads: usize,
    ) -> Result<Self> {
        let row_group_rows = props
            .max_row_group_row_count()
            .unwrap_or(DEFAULT_MAX_ROW_GROUP_ROW_COUNT)
            .max(1);
        let (writer, factory) = ArrowWriter::try_new(out, Arc::clone(&schema), Some(props))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(engine("starting a Parquet file"))?;
        Ok(ParallelParquetWriter {
            writer,
            factory,
            schema,
            row_group_rows,
            pending: Vec::new(),
            pending_rows: 0,
            row_groups: 0,
            threads: threads.max(1),
        })
    }

    /// Adds `batch`'s rows; every full row group is encoded and written.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.schema_ref().fields() != self.schema.fields() {
            return Err(Error::Request(format!(
                "a batch with columns ({}) does not match the file's ({})",
                crate::columns::column_list(batch.schema_ref()),
                crate::columns::column_list(&self.schema)
            )));
        }
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (self.row_group_rows - self.pending_rows).min(batch.num_rows() - offset);
            self.pending.push(batch.slice(offset, take));
            self.pending_rows += take;
            offset += take;
            if self.pending_rows == self.row_group_rows {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Writes the last row group and the footer; returns the underlying writer.
    pub fn close(mut self) -> Result<W> {
        self.flush()?;
        self.writer
            .into_inner()
            .map_err(engine("finishing a Parquet file"))
    }

    /// Encodes the pending rows as one row group, its columns on up to `threads` threads.
    fn flush(&mut self) -> Result<()> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let batches = std::mem::take(&mut self.pending);
        self.pending_rows = 0;
        let writers = self
            .factory
            .create_column_writers(self.row_groups)
            .map_err(engine("starting a Parquet row group"))?;
        let jobs = field_jobs(&self.schema, self.writer.schema_descr(), &batches, writers);
        drop(batches);
        let chunks = encode(jobs, self.threads)?;
        let mut row_group = self
            .writer
            .next_row_group()
            .map_err(engine("writing a Parquet row group"))?;
        for chunk in chunks {
            chunk
                .append_to_row_group(&mut row_group)
                .map_err(engine("writing a Parquet row group"))?;
        }
        row_group
            .close()
            .map_err(engine("writing a Parquet row group"))?;
        self.row_groups += 1;
        Ok(())
    }
}

/// One column of a row group: its values batch by batch, and the writers of its leaf columns
/// (one for a flat column, several for a struct).
struct FieldJob {
    field: FieldRef,
    arrays: Vec<ArrayRef>,
    writers: Vec<ArrowColumnWriter>,
    /// The Arrow memory of the values, as a measure of the work.
    bytes: usize,
}

impl FieldJob {
    /// Computes the column's leaves (levels and values) and encodes them: its chunks, leaf order.
    fn encode(self) -> Result<Vec<ArrowColumnChunk>> {
        let FieldJob {
            field,
            arrays,
            mut writers,
            ..
        } = self;
        for array in &arrays {
            let leaves =
                compute_leaves(&field, array).map_err(engine("encoding a Parquet column"))?;
            if leaves.len() != writers.len() {
                return Err(Error::Engine {
                    context: format!("encoding Parquet column `{}`", field.name()),
                    source: format!(
                        "{} leaf columns in the values, {} in the file schema",
                        leaves.len(),
                        writers.len()
                    )
                    .into(),
                });
            }
            for (writer, leaf) in writers.iter_mut().zip(&leaves) {
                writer
                    .write(leaf)
                    .map_err(engine("encoding a Parquet column"))?;
            }
        }
        writers
            .into_iter()
            .map(|w| w.close().map_err(engine("encoding a Parquet column")))
            .collect()
    }
}

/// The row group's columns, in schema order, each with the writers of its leaves.
fn field_jobs(
    schema: &Schema,
    parquet: &SchemaDescriptor,
    batches: &[RecordBatch],
    writers: Vec<ArrowColumnWriter>,
) -> Vec<FieldJob> {
    let mut jobs: Vec<FieldJob> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(c, field)| {
            let arrays: Vec<ArrayRef> = batches.iter().map(|b| Arc::clone(b.column(c))).collect();
            FieldJob {
                field: Arc::clone(field),
                bytes: arrays.iter().map(|a| a.get_array_memory_size()).sum(),
                arrays,
                writers: Vec::new(),
            }
        })
        .collect();
    for (leaf, writer) in writers.into_iter().enumerate() {
        jobs[parquet.get_column_root_idx(leaf)].writers.push(writer);
    }
    jobs
}

/// Encodes every job on up to `threads` scoped threads, the largest first (so that no big
/// column starts last while the other threads idle); the chunks in job order.
fn encode(jobs: Vec<FieldJob>, threads: usize) -> Result<Vec<ArrowColumnChunk>> {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&j| std::cmp::Reverse(jobs[j].bytes));
    let work: Vec<Mutex<Option<FieldJob>>> =
        jobs.into_iter().map(|j| Mutex::new(Some(j))).collect();
    let encoded = crate::parallel::map_jobs(&order, threads, |j| {
        let job = work[j].lock().expect("unpoisoned").take();
        job.expect("each job is taken once").encode()
    });
    let mut chunks = Vec::new();
    for column in encoded {
        chunks.extend(column?);
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        Float64Array, Int64Array, ListArray, StringArray, StructArray, TimestampMicrosecondArray,
    };
    use arrow::buffer::NullBuffer;
    use arrow::compute::concat_batches;
    use arrow::datatypes::{Field, Fields, Int64Type, TimeUnit};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("driver_id", DataType::Int64, true),
            Field::new(
                "event_timestamp",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("rating", DataType::Float64, true),
            Field::new("city", DataType::Utf8, true),
            Field::new(
                "trips",
                DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
                true,
            ),
            Field::new("place", DataType::Struct(place_fields()), true),
        ]))
    }

    /// A struct column has two leaves, each with its own writer.
    fn place_fields() -> Fields {
        Fields::from(vec![
            Field::new("lat", DataType::Float64, true),
            Field::new("name", DataType::Utf8, true),
        ])
    }

    fn batch(first: i64, rows: usize) -> RecordBatch {
        let ids: Vec<i64> = (first..first + rows as i64).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter(
                ids.iter().map(|&i| (i % 7 != 0).then_some(i % 100)),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(ids.iter().map(|&i| i * 1_000_000))
                    .with_timezone("UTC"),
            ),
            Arc::new(Float64Array::from_iter(
                ids.iter().map(|&i| (i % 5 != 0).then_some(i as f64 / 3.0)),
            )),
            Arc::new(StringArray::from_iter(
                ids.iter()
                    .map(|&i| (i % 3 != 0).then(|| format!("city {}", i % 11))),
            )),
            Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
                ids.iter()
                    .map(|&i| (i % 4 != 0).then(|| (0..i % 3).map(Some).collect::<Vec<_>>())),
            )),
            Arc::new(StructArray::new(
                place_fields(),
                vec![
                    Arc::new(Float64Array::from_iter_values(
                        ids.iter().map(|&i| i as f64),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        ids.iter().map(|&i| format!("p{}", i % 13)),
                    )),
                ],
                Some(NullBuffer::from_iter(ids.iter().map(|&i| i % 6 != 0))),
            )),
        ];
        RecordBatch::try_new(schema(), columns).unwrap()
    }

    fn write(batches: &[RecordBatch], props: WriterProperties, threads: usize) -> Vec<u8> {
        let mut writer =
            ParallelParquetWriter::with_threads(Vec::new(), schema(), props, threads).unwrap();
        for b in batches {
            writer.write(b).unwrap();
        }
        writer.close().unwrap()
    }

    fn read(bytes: Vec<u8>) -> (Vec<usize>, RecordBatch) {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        let reader = SerializedFileReader::new(file.try_clone().unwrap()).unwrap();
        let groups = (0..reader.num_row_groups())
            .map(|g| reader.metadata().row_group(g).num_rows() as usize)
            .collect();
        let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        (groups, concat_batches(&schema(), &batches).unwrap())
    }

    #[test]
    fn rows_split_into_full_row_groups_and_read_back_unchanged() {
        let batches = [
            batch(0, 300),
            batch(300, 450),
            batch(750, 0),
            batch(750, 250),
        ];
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(400))
            .build();
        let (groups, read_back) = read(write(&batches, props, 3));
        assert_eq!(groups, [400, 400, 200]);
        assert_eq!(read_back, concat_batches(&schema(), &batches).unwrap());
        // The Arrow schema travels in the metadata: the timestamps come back tagged UTC.
        assert_eq!(read_back.schema(), schema());
    }

    #[test]
    fn the_file_is_what_the_serial_writer_writes() {
        let batches = [batch(0, 1000), batch(1000, 500)];
        let props = || training_set_properties(&schema());
        let mut serial_writer = ArrowWriter::try_new(Vec::new(), schema(), Some(props())).unwrap();
        for b in &batches {
            serial_writer.write(b).unwrap();
        }
        let expected = serial_writer.into_inner().unwrap();
        for threads in [1, 2, 8] {
            assert_eq!(
                write(&batches, props(), threads),
                expected,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn no_rows_make_a_file_with_the_schema_and_no_row_groups() {
        let (groups, read_back) = read(write(&[], WriterProperties::default(), 2));
        assert!(groups.is_empty());
        assert_eq!(read_back.num_rows(), 0);
    }

    #[test]
    fn a_batch_of_other_columns_is_refused() {
        let mut writer =
            ParallelParquetWriter::try_new(Vec::new(), schema(), WriterProperties::default())
                .unwrap();
        let other = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)])),
            vec![Arc::new(Int64Array::from(vec![1]))],
        )
        .unwrap();
        let err = writer.write(&other).unwrap_err().to_string();
        assert!(
            err.contains("columns (x)") && err.contains("driver_id"),
            "{err}"
        );
    }

    #[test]
    fn floats_and_timestamps_are_written_without_a_dictionary() {
        let props = training_set_properties(&schema());
        let dictionary = |name: &str| props.dictionary_enabled(&ColumnPath::from(name));
        assert!(dictionary("driver_id") && dictionary("city"));
        assert!(!dictionary("event_timestamp") && !dictionary("rating"));
    }
}
