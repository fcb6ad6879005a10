//! Reading a source with DataFusion: only the needed columns, renamed to their output names, and a
//! time-range filter on the event timestamp that DataFusion pushes into the Parquet scan (row
//! groups whose statistics lie outside the range are skipped).
//!
//! Scans run in one partition, so rows arrive in a fixed order (files sorted by path, rows in file
//! order); ties that remain after (event, created) timestamps are broken by that order. The scan
//! runs on its own task, a few batches ahead of the consumer, so decoding overlaps Larder's own
//! operators on a multi-threaded runtime.

use std::pin::Pin;

use arrow::datatypes::{DataType, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::common::spawn_buffered;
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
const SCAN_BATCH_ROWS: usize = 8192;
/// Batches decoded ahead of the consumer.
const READ_AHEAD_BATCHES: usize = 4;

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
    /// Plans the scan and starts it; batches have the projected columns under their output names.
    pub(crate) async fn run(&self) -> Result<BatchStream> {
        let context = format!(
            "reading source `{}` ({})",
            self.files.name,
            self.files.root.display()
        );
        let df = self.data_frame().await.map_err(engine(context.clone()))?;
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
        let stream: SendableRecordBatchStream =
            df.execute_stream().await.map_err(engine(context.clone()))?;
        let stream = spawn_buffered(stream, READ_AHEAD_BATCHES);
        Ok(stream
            .map(move |b| b.map_err(engine(context.clone())))
            .boxed())
    }

    /// The files as a DataFusion table.
    async fn data_frame(&self) -> datafusion::error::Result<DataFrame> {
        let ctx = session();
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

/// A DataFusion session for one scan: one partition (a fixed row order), plain (not view) strings.
fn session() -> SessionContext {
    let mut config = SessionConfig::new()
        .with_target_partitions(1)
        .with_batch_size(SCAN_BATCH_ROWS);
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    SessionContext::new_with_config(config)
}

/// Collects a stream into batches.
pub(crate) async fn collect(mut stream: BatchStream) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        batches.push(batch?);
    }
    Ok(batches)
}
