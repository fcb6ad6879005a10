//! Reading a source with DataFusion: only the needed columns, renamed to their output names, and a
//! time-range filter on the event timestamp that DataFusion pushes into the Parquet scan (row
//! groups whose statistics lie outside the range are skipped). Materialization and historical
//! retrieval read Parquet sources in two passes instead ([`parquet_rows`](crate::parquet_rows));
//! this scan serves CSV sources.
//!
//! Rows have a fixed read order (files sorted by path, rows in file order); ties that remain after
//! (event, created) timestamps are broken by that order. [`Scan::run_partitioned`] splits the files
//! into contiguous byte ranges (whole row groups) read in parallel, and returns the partitions in
//! file order, as the plan's file ranges tell (DataFusion's own partition numbers follow no order,
//! and its work stealing between partitions is turned off): stream `p` holds rows that all come
//! before stream `p + 1`'s, so (stream, row within it) is still the read order. Each partition is
//! decoded on its own task, a few batches ahead of the consumer, so decoding overlaps Larder's own
//! operators on a multi-threaded runtime.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::physical_plan::common::spawn_buffered;
use datafusion::physical_plan::{
    ExecutionPlan, ExecutionPlanProperties, SendableRecordBatchStream, execute_stream_partitioned,
};
use datafusion::prelude::{
    CsvReadOptions, DataFrame, Expr, ParquetReadOptions, SessionConfig, SessionContext, ident, lit,
};
use futures::{Stream, StreamExt};
use larder_core::model::FileFormat;

use crate::columns::Projected;
use crate::error::{Result, engine};
use crate::source::SourceFiles;
use crate::time::bound_in_unit;

/// Rows per batch DataFusion produces.
pub(crate) const SCAN_BATCH_ROWS: usize = 8192;
/// Batches decoded ahead of the consumer.
const READ_AHEAD_BATCHES: usize = 4;

/// How many partitions a source is read in to use the whole machine: one per core.
pub(crate) fn partitions_per_core() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Inclusive bounds on the event timestamp, in microseconds since the epoch (UTC).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TimeRange {
    /// Rows with an earlier timestamp are skipped.
    pub(crate) start: Option<i64>,
    /// Rows with a later timestamp are skipped.
    pub(crate) end: Option<i64>,
}

/// What to read from a source.
#[derive(Debug)]
pub(crate) struct Scan<'a> {
    /// The files.
    pub(crate) files: &'a SourceFiles,
    /// Their schema (the table schema DataFusion reads them with).
    pub(crate) schema: &'a Schema,
    /// The columns to read, with their output names, in output order.
    pub(crate) columns: Vec<Projected>,
    /// The event timestamp column (source name) the range applies to.
    pub(crate) ts_column: &'a str,
    /// The range.
    pub(crate) range: TimeRange,
}

/// A stream of Larder-error batches.
pub(crate) type BatchStream = Pin<Box<dyn Stream<Item = Result<RecordBatch>> + Send>>;

impl Scan<'_> {
    /// Plans the scan and starts it in up to `partitions` streams that together hold every row
    /// once, with the projected columns under their output names; stream `p`'s rows all precede
    /// stream `p + 1`'s in read order.
    pub(crate) async fn run_partitioned(&self, partitions: usize) -> Result<Vec<BatchStream>> {
        let context = format!(
            "reading source `{}` ({})",
            self.files.name,
            self.files.root.display()
        );
        let df = self
            .data_frame(partitions)
            .await
            .map_err(engine(context.clone()))?;
        let df = match self.filter() {
            Some(predicate) => df.filter(predicate).map_err(engine(context.clone()))?,
            None => df,
        };
        let select: Vec<Expr> = self
            .columns
            .iter()
            .map(|c| ident(&c.source).alias(&c.output))
            .collect();
        let df = df.select(select).map_err(engine(context.clone()))?;
        let plan = df
            .create_physical_plan()
            .await
            .map_err(engine(context.clone()))?;
        let order = self.partition_order(&plan);
        let Some(order) = order else {
            if partitions > 1 {
                tracing::debug!(source = %self.files.name, "scan partitions' order unknown; reading in one");
                // The plan does not say which partition reads which part: read in order.
                return Box::pin(self.run_partitioned(1)).await;
            }
            return Err(engine(context)(DataFusionError::Internal(
                "the scan plan has no file partitions".into(),
            )));
        };
        let mut streams: Vec<Option<SendableRecordBatchStream>> =
            execute_stream_partitioned(plan, Arc::new(df.task_ctx()))
                .map_err(engine(context.clone()))?
                .into_iter()
                .map(Some)
                .collect();
        Ok(order
            .into_iter()
            .filter_map(|p| streams[p].take())
            .map(|stream| {
                let context = context.clone();
                spawn_buffered(stream, READ_AHEAD_BATCHES)
                    .map(move |b| b.map_err(engine(context.clone())))
                    .boxed()
            })
            .collect())
    }

    /// The plan's partitions in read order, from the file ranges its scan assigned to each
    /// (DataFusion numbers them in no guaranteed order); `None` when the plan does not say.
    fn partition_order(&self, plan: &Arc<dyn ExecutionPlan>) -> Option<Vec<usize>> {
        let partitions = plan.output_partitioning().partition_count();
        if partitions == 1 {
            return Some(vec![0]);
        }
        let groups = &file_scan(plan)?.file_groups;
        if groups.len() != partitions {
            return None; // something between the scan and the output repartitioned
        }
        let files: Vec<String> = self
            .files
            .files
            .iter()
            .map(|f| object_location(f))
            .collect();
        let starts = groups
            .iter()
            .map(|group| {
                let first = group.files().first()?;
                let file = files
                    .iter()
                    .position(|f| f.as_str() == first.object_meta.location.as_ref())?;
                Some((file, first.range.as_ref().map_or(0, |r| r.start)))
            })
            .collect::<Option<Vec<_>>>()?;
        let mut order: Vec<usize> = (0..groups.len()).collect();
        order.sort_by_key(|&p| starts[p]);
        Some(order)
    }

    /// The files as a DataFusion table read in up to `partitions` partitions.
    async fn data_frame(&self, partitions: usize) -> datafusion::error::Result<DataFrame> {
        let ctx = session(partitions);
        let paths = self.files.file_strings();
        match self.files.format {
            FileFormat::Parquet => {
                let options = ParquetReadOptions::default()
                    .file_extension("")
                    .schema(self.schema);
                ctx.read_parquet(paths, options).await
            }
            FileFormat::Csv => {
                let options = CsvReadOptions::new()
                    .has_header(true)
                    .file_extension("")
                    .schema(self.schema);
                ctx.read_csv(paths, options).await
            }
        }
    }

    /// `start <= ts AND ts <= end`, with literals of the column's own type.
    fn filter(&self) -> Option<Expr> {
        let (unit, tz) = match self
            .schema
            .field_with_name(self.ts_column)
            .map(|f| f.data_type())
        {
            Ok(DataType::Timestamp(unit, tz)) => (*unit, tz.clone()),
            _ => return None,
        };
        let literal = |micros: i64, lower: bool| {
            let v = Some(bound_in_unit(micros, unit, lower));
            lit(match unit {
                TimeUnit::Second => ScalarValue::TimestampSecond(v, tz.clone()),
                TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(v, tz.clone()),
                TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(v, tz.clone()),
                TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(v, tz.clone()),
            })
        };
        let column = || ident(self.ts_column);
        let lower = self.range.start.map(|s| column().gt_eq(literal(s, true)));
        let upper = self.range.end.map(|e| column().lt_eq(literal(e, false)));
        match (lower, upper) {
            (Some(l), Some(u)) => Some(l.and(u)),
            (l, u) => l.or(u),
        }
    }
}

/// A DataFusion session for one scan: up to `partitions` partitions, each a contiguous part of
/// the files (no round-robin repartitioning, which would lose the read order), plain (not view)
/// strings.
fn session(partitions: usize) -> SessionContext {
    let mut config = SessionConfig::new()
        .with_target_partitions(partitions.max(1))
        .with_round_robin_repartition(false)
        .with_batch_size(SCAN_BATCH_ROWS);
    let execution = &mut config.options_mut().execution;
    execution.parquet.schema_force_view_types = false;
    // Each partition reads exactly the file ranges the plan gives it, so that the plan tells
    // the read order; an idle partition stealing a sibling's ranges would scramble it.
    execution.enable_file_stream_work_stealing = false;
    SessionContext::new_with_config(config)
}

/// The name DataFusion gives a local file: its absolute, normalized path without the leading `/`.
fn object_location(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    path.to_string_lossy().trim_start_matches('/').to_string()
}

/// The file scan at the bottom of a single-input `plan`.
fn file_scan(plan: &Arc<dyn ExecutionPlan>) -> Option<&FileScanConfig> {
    if let Some(exec) = plan.downcast_ref::<DataSourceExec>() {
        return exec.data_source().downcast_ref::<FileScanConfig>();
    }
    match plan.children().as_slice() {
        [child] => file_scan(child),
        _ => None,
    }
}
