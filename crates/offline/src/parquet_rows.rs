//! Parquet sources read in two passes (late materialization).
//!
//! Which rows a read keeps is decided by a few columns (join keys, event and created timestamps),
//! and usually only a small part of the rows wins: one per key for materialization, at most one per
//! entity row for historical retrieval. So those columns are read for every candidate row first,
//! each row numbered by its *position*, and the other columns are then read for the winning
//! positions only, through a Parquet row selection: rows between the winners are skipped without
//! being materialized, and pages holding none are not decoded.
//!
//! Positions number the rows of the row groups that may hold rows in the time range (a row group
//! whose event-time statistics lie outside it is pruned), files in path order, rows in file order:
//! the read order of [`scan`](crate::scan), so ties are broken alike.
//!
//! Each partition (a contiguous run of positions) is read by the Parquet crate's synchronous
//! reader on a thread of its own, a few batches ahead of its consumer. Columns come out under
//! their output names with the source schema's types (the first file's): a later file's column of
//! another type is cast, and a column missing from a later file reads as nulls, as DataFusion does.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, new_null_array};
use arrow::compute::cast;
use arrow::datatypes::{Field, Schema, SchemaRef};
use futures::StreamExt;
use larder_core::model::FileFormat;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};

use crate::columns::Projected;
use crate::error::{Error, Result, engine};
use crate::scan::{BatchStream, TimeRange};
use crate::source::{SourceFiles, open, parquet_metadata};
use crate::time::to_utc_micros;

/// Batches a reader thread decodes ahead of its consumer, unless told otherwise.
pub(crate) const READ_AHEAD_BATCHES: usize = 4;

/// The candidate rows of a Parquet source, numbered by position.
#[derive(Debug)]
pub(crate) struct ParquetRows {
    source: String,
    /// The source schema: the types columns are read as.
    schema: SchemaRef,
    files: Arc<[FileRows]>,
    /// How many positions there are.
    positions: u64,
    /// How many rows the files hold, pruned or not.
    file_rows: u64,
}

/// One file's part of the positions.
#[derive(Debug)]
struct FileRows {
    path: PathBuf,
    metadata: ArrowReaderMetadata,
    /// The row groups read (not pruned), in file order, with their row counts.
    groups: Vec<(usize, u64)>,
    /// The position of the file's first read row.
    first: u64,
    /// How many rows of the file are read.
    rows: u64,
}

/// What one reader reads of one file: some of its row groups, and which of their rows.
#[derive(Debug)]
struct Segment {
    file: usize,
    groups: Vec<usize>,
    selection: RowSelection,
}

impl ParquetRows {
    /// The rows of `files` (with table schema `schema`) whose row groups may hold event times
    /// (column `ts_column`) in `range`; `None` when the source is not Parquet.
    pub(crate) fn plan(
        files: &SourceFiles,
        schema: &Schema,
        ts_column: &str,
        range: TimeRange,
    ) -> Result<Option<Self>> {
        if files.format != FileFormat::Parquet {
            return Ok(None);
        }
        let mut planned = Vec::with_capacity(files.files.len());
        let (mut position, mut file_rows) = (0, 0);
        for path in &files.files {
            let metadata = parquet_metadata(path, &files.name)?;
            file_rows += u64::try_from(metadata.metadata().file_metadata().num_rows()).unwrap_or(0);
            let groups = row_groups_in_range(&metadata, ts_column, range);
            let rows = groups.iter().map(|(_, rows)| rows).sum();
            planned.push(FileRows {
                path: path.clone(),
                metadata,
                groups,
                first: position,
                rows,
            });
            position += rows;
        }
        Ok(Some(ParquetRows {
            source: files.name.clone(),
            schema: Arc::new(schema.clone()),
            files: planned.into(),
            positions: position,
            file_rows,
        }))
    }

    /// How many positions there are (candidate rows).
    pub(crate) fn positions(&self) -> u64 {
        self.positions
    }

    /// How many rows the source's files hold in all.
    pub(crate) fn file_rows(&self) -> u64 {
        self.file_rows
    }

    /// Every candidate row's `columns`, in up to `partitions` streams of contiguous positions,
    /// each with the position of its first row; in position order. Each stream's reader thread
    /// starts at once and decodes up to `read_ahead` batches before they are asked for.
    pub(crate) fn read_all(
        &self,
        columns: &[Projected],
        partitions: usize,
        batch_rows: usize,
        read_ahead: usize,
    ) -> Result<Vec<(u64, BatchStream)>> {
        let partitions = partitions.max(1) as u64;
        let mut streams = Vec::new();
        for p in 0..partitions {
            let run = self.positions * p / partitions..self.positions * (p + 1) / partitions;
            if run.is_empty() {
                continue;
            }
            let first = run.start;
            let stream =
                self.spawn_reader(self.segments(&[run]), columns, batch_rows, read_ahead)?;
            streams.push((first, stream));
        }
        Ok(streams)
    }

    /// The rows at `positions` (ascending, distinct), `columns` of them, in position order, as
    /// up to `partitions` streams of about equal row counts, in order.
    pub(crate) fn read_selected(
        &self,
        columns: &[Projected],
        positions: &[u64],
        partitions: usize,
        batch_rows: usize,
    ) -> Result<Vec<BatchStream>> {
        let partitions = partitions.max(1);
        let per = positions.len().div_ceil(partitions).max(1);
        positions
            .chunks(per)
            .map(|chunk| {
                self.spawn_reader(
                    self.segments(&runs(chunk)),
                    columns,
                    batch_rows,
                    READ_AHEAD_BATCHES,
                )
            })
            .collect()
    }

    /// The segments that read exactly the positions in `runs` (ascending, disjoint).
    fn segments(&self, runs: &[Range<u64>]) -> Vec<Segment> {
        let mut segments = Vec::new();
        let mut r = 0;
        for (f, file) in self.files.iter().enumerate() {
            let file_end = file.first + file.rows;
            // The runs' parts in this file, in file-local positions.
            let mut local = Vec::new();
            while r < runs.len() && runs[r].start < file_end {
                let (from, to) = (runs[r].start.max(file.first), runs[r].end.min(file_end));
                if from < to {
                    local.push(from - file.first..to - file.first);
                }
                if runs[r].end > file_end {
                    break; // the run goes on in the next file
                }
                r += 1;
            }
            if local.is_empty() {
                continue;
            }
            let mut groups = Vec::new();
            let mut selectors = Vec::new();
            let (mut group_start, mut l) = (0u64, 0);
            for &(group, rows) in &file.groups {
                let group_end = group_start + rows;
                let mut at = group_start;
                while l < local.len() && local[l].start < group_end {
                    let (from, to) = (local[l].start.max(group_start), local[l].end.min(group_end));
                    if from < to {
                        if at == group_start && groups.last() != Some(&group) {
                            groups.push(group);
                        }
                        push_skip(&mut selectors, from - at);
                        selectors.push(RowSelector::select(to as usize - from as usize));
                        at = to;
                    }
                    if local[l].end > group_end {
                        break;
                    }
                    l += 1;
                }
                if groups.last() == Some(&group) {
                    push_skip(&mut selectors, group_end - at);
                }
                group_start = group_end;
            }
            segments.push(Segment {
                file: f,
                groups,
                selection: RowSelection::from(selectors),
            });
        }
        segments
    }

    /// Starts a thread reading `segments`' `columns` and returns its batches as a stream.
    fn spawn_reader(
        &self,
        segments: Vec<Segment>,
        columns: &[Projected],
        batch_rows: usize,
        read_ahead: usize,
    ) -> Result<BatchStream> {
        let reader = SegmentReader {
            source: self.source.clone(),
            files: Arc::clone(&self.files),
            schema: output_schema(&self.schema, columns),
            columns: columns.to_vec(),
            batch_rows,
        };
        let (tx, rx) = tokio::sync::mpsc::channel(read_ahead.max(1));
        std::thread::Builder::new()
            .name("larder-parquet-read".into())
            .spawn(move || reader.run(&segments, &tx))
            .map_err(engine(format!(
                "starting a reader of source `{}`",
                self.source
            )))?;
        let source = self.source.clone();
        Ok(futures::stream::unfold(Some(rx), move |rx| {
            let source = source.clone();
            async move {
                let mut rx = rx?;
                match rx.recv().await {
                    Some(Message::Batch(batch)) => Some((Ok(batch), Some(rx))),
                    Some(Message::Done) => None,
                    Some(Message::Failed(e)) => Some((Err(e), None)),
                    None => {
                        let stopped = std::io::Error::other(
                            "the reader thread stopped before the end of its rows without saying why (it \
                             panicked: its message is in the log above); rerun, and report it if it recurs",
                        );
                        Some((
                            Err(engine(format!("reading source `{source}`"))(stopped)),
                            None,
                        ))
                    }
                }
            }
        })
        .boxed())
    }
}

/// What a reader thread sends.
enum Message {
    Batch(RecordBatch),
    Done,
    Failed(Error),
}

/// One reader thread's work.
struct SegmentReader {
    source: String,
    files: Arc<[FileRows]>,
    schema: SchemaRef,
    columns: Vec<Projected>,
    batch_rows: usize,
}

impl SegmentReader {
    /// Reads the segments in order and sends their batches, then [`Message::Done`]; stops at the
    /// first error (sent) or when the consumer is gone.
    fn run(&self, segments: &[Segment], tx: &tokio::sync::mpsc::Sender<Message>) {
        for segment in segments {
            if let Err(e) = self.read(segment, tx) {
                let _ = tx.blocking_send(Message::Failed(e));
                return;
            }
        }
        let _ = tx.blocking_send(Message::Done);
    }

    fn read(&self, segment: &Segment, tx: &tokio::sync::mpsc::Sender<Message>) -> Result<()> {
        let file = &self.files[segment.file];
        let context = || format!("reading source `{}` ({})", self.source, file.path.display());
        let file_schema = file.metadata.schema().clone();
        let roots: Vec<usize> = self
            .columns
            .iter()
            .filter_map(|c| file_schema.index_of(&c.source).ok())
            .collect();
        let mask = ProjectionMask::roots(file.metadata.parquet_schema(), roots);
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
            open(&file.path, &self.source)?,
            file.metadata.clone(),
        )
        .with_projection(mask)
        .with_row_groups(segment.groups.clone())
        .with_row_selection(segment.selection.clone())
        .with_batch_size(self.batch_rows)
        .build()
        .map_err(engine(context()))?;
        for batch in reader {
            let batch = batch.map_err(engine(context()))?;
            let batch = self.adapt(&batch).map_err(engine(context()))?;
            if tx.blocking_send(Message::Batch(batch)).is_err() {
                return Ok(()); // the consumer is gone
            }
        }
        Ok(())
    }

    /// `batch` (the file's columns) as the output: the columns in order, under their output
    /// names, with the source schema's types.
    fn adapt(&self, batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
        let columns = self
            .columns
            .iter()
            .zip(self.schema.fields())
            .map(|(c, field)| match batch.column_by_name(&c.source) {
                Some(a) if a.data_type() == field.data_type() => Ok(Arc::clone(a)),
                Some(a) => cast(a, field.data_type()),
                None => Ok(new_null_array(field.data_type(), batch.num_rows())),
            })
            .collect::<Result<Vec<ArrayRef>, _>>()?;
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
    }
}

/// The schema of `columns` read from a source of `schema`: output names, source types.
fn output_schema(schema: &Schema, columns: &[Projected]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            let data_type = schema
                .field_with_name(&c.source)
                .map_or(arrow::datatypes::DataType::Null, |f| f.data_type().clone());
            Field::new(&c.output, data_type, true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// `positions` (ascending, distinct) as runs of consecutive positions.
fn runs(positions: &[u64]) -> Vec<Range<u64>> {
    let mut runs: Vec<Range<u64>> = Vec::new();
    for &p in positions {
        match runs.last_mut() {
            Some(run) if run.end == p => run.end = p + 1,
            _ => runs.push(p..p + 1),
        }
    }
    runs
}

fn push_skip(selectors: &mut Vec<RowSelector>, rows: u64) {
    if rows > 0 {
        selectors.push(RowSelector::skip(rows as usize));
    }
}

/// The row groups of a file, with their row counts, whose statistics of `ts_column` overlap
/// `range` (all of them where the statistics do not tell).
fn row_groups_in_range(
    metadata: &ArrowReaderMetadata,
    ts_column: &str,
    range: TimeRange,
) -> Vec<(usize, u64)> {
    let groups = metadata.metadata().row_groups();
    let rows = |g: usize| u64::try_from(groups[g].num_rows()).unwrap_or(0);
    let bounds = (range.start.is_some() || range.end.is_some())
        .then(|| {
            let converter = StatisticsConverter::try_new(
                ts_column,
                metadata.schema(),
                metadata.parquet_schema(),
            )
            .ok()?;
            let mins = converter.row_group_mins(groups.iter()).ok()?;
            let maxes = converter.row_group_maxes(groups.iter()).ok()?;
            Some((to_utc_micros(&mins)?, to_utc_micros(&maxes)?))
        })
        .flatten();
    (0..groups.len())
        .filter(|&g| {
            let Some((mins, maxes)) = &bounds else {
                return true;
            };
            let before = maxes.is_valid(g) && range.start.is_some_and(|s| maxes.value(g) < s);
            let after = mins.is_valid(g) && range.end.is_some_and(|e| mins.value(g) > e);
            !(before || after)
        })
        .map(|g| (g, rows(g)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use arrow::array::{AsArray, Int64Array, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Int64Type};
    use futures::TryStreamExt;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::*;
    use crate::time::utc_micros_type;

    /// Two files (in one source directory) of `rows` rows each, in row groups of 7 rows:
    /// `id` = the row's number across both files, `ts` = `id` seconds (µs).
    fn source(rows: i64) -> (tempfile::TempDir, SourceFiles, SchemaRef) {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("ts", utc_micros_type(), false),
        ]));
        for (f, name) in ["a.parquet", "b.parquet"].iter().enumerate() {
            let ids: Vec<i64> = (0..rows).map(|i| f as i64 * rows + i).collect();
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(ids.clone())),
                    Arc::new(
                        TimestampMicrosecondArray::from(
                            ids.iter().map(|i| i * 1_000_000).collect::<Vec<_>>(),
                        )
                        .with_timezone("UTC"),
                    ),
                ],
            )
            .unwrap();
            let props = WriterProperties::builder()
                .set_max_row_group_row_count(Some(7))
                .build();
            let file = File::create(dir.path().join(name)).unwrap();
            let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).unwrap();
            writer.write(&batch).unwrap();
            writer.close().unwrap();
        }
        let files = SourceFiles {
            name: "src".into(),
            root: dir.path().to_path_buf(),
            format: FileFormat::Parquet,
            files: vec![dir.path().join("a.parquet"), dir.path().join("b.parquet")],
        };
        (dir, files, schema)
    }

    fn id_column() -> Vec<Projected> {
        vec![Projected {
            source: "id".into(),
            output: "row".into(),
        }]
    }

    async fn ids(streams: Vec<BatchStream>) -> Vec<i64> {
        let batches: Vec<RecordBatch> = futures::stream::iter(streams)
            .flatten()
            .try_collect()
            .await
            .unwrap();
        batches
            .iter()
            .flat_map(|b| {
                assert_eq!(b.schema().field(0).name(), "row");
                b.column(0).as_primitive::<Int64Type>().values().to_vec()
            })
            .collect()
    }

    #[tokio::test]
    async fn every_row_is_read_once_in_order_whatever_the_partitions() {
        let (_dir, files, schema) = source(30);
        let rows = ParquetRows::plan(&files, &schema, "ts", TimeRange::default())
            .unwrap()
            .unwrap();
        assert_eq!(rows.positions(), 60);
        for partitions in [1, 2, 3, 7] {
            let parts = rows
                .read_all(&id_column(), partitions, 4, READ_AHEAD_BATCHES)
                .unwrap();
            let firsts: Vec<u64> = parts.iter().map(|(first, _)| *first).collect();
            let streams = parts.into_iter().map(|(_, s)| s).collect();
            assert_eq!(ids(streams).await, (0..60).collect::<Vec<_>>());
            assert_eq!(firsts.len(), partitions);
            assert_eq!(firsts[0], 0);
        }
    }

    #[tokio::test]
    async fn selected_positions_are_read_exactly_across_groups_and_files() {
        let (_dir, files, schema) = source(30);
        let rows = ParquetRows::plan(&files, &schema, "ts", TimeRange::default())
            .unwrap()
            .unwrap();
        let picks: Vec<u64> = vec![0, 1, 6, 7, 13, 14, 29, 30, 31, 45, 59];
        for partitions in [1, 2, 4] {
            let streams = rows
                .read_selected(&id_column(), &picks, partitions, 3)
                .unwrap();
            let expected: Vec<i64> = picks.iter().map(|&p| p as i64).collect();
            assert_eq!(ids(streams).await, expected);
        }
        assert!(
            ids(rows.read_selected(&id_column(), &[], 2, 3).unwrap())
                .await
                .is_empty()
        );
    }

    #[tokio::test]
    async fn row_groups_outside_the_range_are_not_positions() {
        let (_dir, files, schema) = source(30);
        // Rows 10..=40: row groups [7, 14) .. [35, 42) of the whole; file b starts at row 30.
        let range = TimeRange {
            start: Some(10_000_000),
            end: Some(40_000_000),
        };
        let rows = ParquetRows::plan(&files, &schema, "ts", range)
            .unwrap()
            .unwrap();
        // File a: groups 7..14, 14..21, 21..28, 28..30; file b: 30..37, 37..44.
        assert_eq!(rows.positions(), 23 + 14);
        let streams = rows.read_all(&id_column(), 2, 5, 1).unwrap();
        let got = ids(streams.into_iter().map(|(_, s)| s).collect()).await;
        let expected: Vec<i64> = (7..44).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn positions_become_runs() {
        assert_eq!(runs(&[1, 2, 3, 7, 9, 10]), vec![1..4, 7..8, 9..11]);
        assert!(runs(&[]).is_empty());
    }
}
