//! Materialization: copy the latest row per entity key in a time range from the offline store into
//! the online store, streaming, then record the interval in the registry.
//!
//! The interval is recorded only after every row is written, so a failed or killed run leaves the
//! watermark where it was and can simply be rerun (writes are newer-wins and idempotent).

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use larder_core::entity_key::EntityKeyLayout;
use larder_core::model::{DUMMY_ENTITY_ID, FeatureView};
use larder_offline::OfflineStoreRef;
use larder_online::{OnlineStoreRef, WriteBatch, WriteStats};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::store::FeatureStore;

/// How far in the future an `end` may be (clock skew between schedulers and this machine).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// The window `materialize-incremental` uses for a view never materialized and without ttl.
pub const DEFAULT_INCREMENTAL_WINDOW: Duration = Duration::from_secs(52 * 7 * 86_400);
const DEFAULT_WRITE_BATCH_ROWS: usize = 65_536;
/// Views with at most this many latest rows are written in entity-key order (see [`LocalEngine`]).
const KEY_ORDER_LIMIT: usize = 262_144;

/// Receives progress of a materialization (a terminal progress bar, metrics, a job record).
pub trait MaterializeProgress: Send + Sync {
    /// A view starts; `source_rows` is the size of its source when known.
    fn view_started(
        &self,
        _view: &str,
        _start: DateTime<Utc>,
        _end: DateTime<Utc>,
        _source_rows: Option<u64>,
    ) {
    }
    /// Rows were written (`written`) or skipped because the store held newer values (`skipped`).
    fn rows_written(&self, _view: &str, _written: u64, _skipped: u64) {}
    /// A view is done.
    fn view_finished(&self, _report: &ViewReport) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;
impl MaterializeProgress for NoProgress {}

/// What materializing one view did.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewReport {
    /// The view.
    pub view: String,
    /// Interval start (inclusive).
    pub start: DateTime<Utc>,
    /// Interval end (inclusive).
    pub end: DateTime<Utc>,
    /// Entity rows written.
    pub rows_written: u64,
    /// Entity rows skipped because the online store already held newer values.
    pub rows_skipped: u64,
    /// The newest event timestamp written, if any.
    pub max_event_ts: Option<DateTime<Utc>>,
    /// Wall time.
    pub elapsed: Duration,
}

/// One view to materialize, with everything an engine needs.
#[derive(Clone)]
pub struct MaterializationTask {
    /// The project.
    pub project: String,
    /// The view.
    pub view: FeatureView,
    /// Interval start (inclusive).
    pub start: DateTime<Utc>,
    /// Interval end (inclusive).
    pub end: DateTime<Utc>,
    /// Entity-key serialization version.
    pub key_version: u32,
    /// Rows per online write.
    pub write_batch_rows: usize,
    /// Where rows come from.
    pub offline: OfflineStoreRef,
    /// Where rows go.
    pub online: OnlineStoreRef,
    /// Who hears about progress.
    pub progress: Arc<dyn MaterializeProgress>,
}

impl Debug for MaterializationTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaterializationTask")
            .field("view", &self.view.name)
            .field("start", &self.start)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

/// Runs materialization tasks. [`LocalEngine`] runs them in this process; a distributed engine
/// would hand them to an existing cluster engine.
#[async_trait]
pub trait MaterializationEngine: Send + Sync + Debug {
    /// Writes the latest rows of `task.view` in `[start, end]` into the online store.
    async fn materialize(&self, task: MaterializationTask) -> Result<ViewReport>;
}

/// The in-process engine: the offline scan and the online writes run concurrently, connected by a
/// small bounded channel, so memory holds a few batches at a time.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalEngine;

#[async_trait]
impl MaterializationEngine for LocalEngine {
    async fn materialize(&self, task: MaterializationTask) -> Result<ViewReport> {
        let started = Instant::now();
        let latest = task
            .offline
            .pull_latest(&task.view, task.start, task.end)
            .await?;
        task.progress
            .view_started(&task.view.name, task.start, task.end, latest.source_rows);
        let (tx, mut rx) = mpsc::channel::<Result<RecordBatch>>(4);
        let mut batches = latest.rows.batches;
        let reader = tokio::spawn(async move {
            while let Some(batch) = batches.next().await {
                let failed = batch.is_err();
                if tx.send(batch.map_err(Error::from)).await.is_err() || failed {
                    break;
                }
            }
        });
        let layout = key_layout(&task.view, task.key_version)?;
        let mut writer = SliceWriter::new(&task, &layout);
        // For stores that prefer it (SQLite), up to KEY_ORDER_LIMIT rows are gathered and written
        // in serialized-key order, which keeps the B-tree writes sequential; beyond that, and for
        // other stores, batches stream as they come.
        let mut held: Vec<RecordBatch> = Vec::new();
        let mut held_rows = 0;
        let mut streaming = !task.online.prefers_key_order();
        while let Some(batch) = writer.next_input(&mut rx).await? {
            if !streaming && held_rows + batch.num_rows() <= KEY_ORDER_LIMIT {
                held_rows += batch.num_rows();
                held.push(batch);
                continue;
            }
            streaming = true;
            for earlier in std::mem::take(&mut held) {
                writer.write(&earlier).await?;
            }
            writer.write(&batch).await?;
        }
        reader.await.map_err(|e| Error::Task(e.to_string()))?;
        if !held.is_empty() {
            let sorted = in_key_order(held, &task.view, &layout)?;
            writer.write(&sorted).await?;
        }
        let mut report = writer.finish().await?;
        report.elapsed = started.elapsed();
        task.progress.view_finished(&report);
        Ok(report)
    }
}

/// Writes a view's rows in slices of the task's write-batch size, [`SLICES_IN_FLIGHT`] at a time:
/// while the online store writes one slice, the next is encoded on this task's thread (the SQLite
/// store takes its slices one at a time, in order).
struct SliceWriter<'t> {
    task: &'t MaterializationTask,
    layout: &'t EntityKeyLayout,
    in_flight: FuturesOrdered<BoxFuture<'t, Result<SliceWritten>>>,
    report: ViewReport,
}

/// Slices being encoded or written at once.
const SLICES_IN_FLIGHT: usize = 2;

/// What writing one slice did.
struct SliceWritten {
    stats: WriteStats,
    max_event_ts: Option<DateTime<Utc>>,
}

impl<'t> SliceWriter<'t> {
    fn new(task: &'t MaterializationTask, layout: &'t EntityKeyLayout) -> Self {
        SliceWriter {
            task,
            layout,
            in_flight: FuturesOrdered::new(),
            report: ViewReport {
                view: task.view.name.clone(),
                start: task.start,
                end: task.end,
                rows_written: 0,
                rows_skipped: 0,
                max_event_ts: None,
                elapsed: Duration::ZERO,
            },
        }
    }

    /// Queues `batch` in slices, waiting for the oldest slice whenever [`SLICES_IN_FLIGHT`] are
    /// queued.
    async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let len = self.task.write_batch_rows.min(batch.num_rows() - offset);
            let slice = batch.slice(offset, len);
            offset += len;
            if self.in_flight.len() >= SLICES_IN_FLIGHT {
                self.finish_one().await?;
            }
            let (task, layout) = (self.task, self.layout);
            self.in_flight
                .push_back(Box::pin(write_slice(task, layout, slice)));
        }
        Ok(())
    }

    /// Waits for the next batch from `input` while the queued slices go on being encoded and
    /// written.
    async fn next_input(
        &mut self,
        input: &mut mpsc::Receiver<Result<RecordBatch>>,
    ) -> Result<Option<RecordBatch>> {
        loop {
            if self.in_flight.is_empty() {
                return input.recv().await.transpose();
            }
            tokio::select! {
                batch = input.recv() => return batch.transpose(),
                written = self.in_flight.next() => self.count(written)?,
            }
        }
    }

    /// Waits for the oldest slice and counts it.
    async fn finish_one(&mut self) -> Result<()> {
        let written = self.in_flight.next().await;
        self.count(written)
    }

    /// Counts a finished slice.
    fn count(&mut self, written: Option<Result<SliceWritten>>) -> Result<()> {
        if let Some(written) = written {
            let written = written?;
            let report = &mut self.report;
            report.rows_written += written.stats.rows_written;
            report.rows_skipped += written.stats.rows_skipped;
            if let Some(max) = written.max_event_ts {
                report.max_event_ts = Some(report.max_event_ts.map_or(max, |m| m.max(max)));
            }
            self.task.progress.rows_written(
                &self.task.view.name,
                written.stats.rows_written,
                written.stats.rows_skipped,
            );
        }
        Ok(())
    }

    /// Waits for every queued slice; the report of all of them (without the elapsed time).
    async fn finish(mut self) -> Result<ViewReport> {
        while !self.in_flight.is_empty() {
            self.finish_one().await?;
        }
        Ok(self.report)
    }
}

/// The rows of `batches` in one batch, sorted by their serialized entity key.
fn in_key_order(
    batches: Vec<RecordBatch>,
    view: &FeatureView,
    layout: &EntityKeyLayout,
) -> Result<RecordBatch> {
    let arrow_error =
        |e: arrow::error::ArrowError| Error::Task(format!("sorting rows by entity key: {e}"));
    let all =
        arrow::compute::concat_batches(&batches[0].schema(), &batches).map_err(arrow_error)?;
    drop(batches);
    let keys = WriteBatch::entity_keys_of(&all, view, layout)?;
    let order = arrow::compute::sort_to_indices(&keys, None, None).map_err(arrow_error)?;
    arrow::compute::take_record_batch(&all, &order).map_err(arrow_error)
}

/// Encodes `batch` and writes it to the online store.
async fn write_slice(
    task: &MaterializationTask,
    layout: &EntityKeyLayout,
    batch: RecordBatch,
) -> Result<SliceWritten> {
    let write = WriteBatch::from_record_batch(&batch, &task.view, layout)?;
    let max_event_ts =
        arrow::compute::max(&write.event_timestamps).map(larder_core::time::from_micros);
    let stats = task
        .online
        .write_batch(&task.project, &task.view, &write)
        .await?;
    Ok(SliceWritten {
        stats,
        max_event_ts,
    })
}

/// The entity-key layout of a view (entity-less views use Feast's `__dummy_id`).
pub fn key_layout(view: &FeatureView, version: u32) -> Result<EntityKeyLayout> {
    let mut keys = view.join_keys();
    if keys.is_empty() {
        keys.push(DUMMY_ENTITY_ID.to_string());
    }
    Ok(EntityKeyLayout::new(&keys, version)?)
}

/// Views being materialized in this process, so two jobs never write the same view at once.
#[derive(Debug, Default)]
pub struct MaterializationLocks {
    busy: Mutex<HashSet<String>>,
}

/// Holds a view's lock until dropped.
#[derive(Debug)]
pub struct ViewLock<'a> {
    locks: &'a MaterializationLocks,
    view: String,
}

impl MaterializationLocks {
    /// Takes the lock of `view`, or fails with [`Error::AlreadyMaterializing`].
    pub fn lock(&self, view: &str) -> Result<ViewLock<'_>> {
        let mut busy = self.busy.lock().expect("materialization locks");
        if !busy.insert(view.to_string()) {
            return Err(Error::AlreadyMaterializing(view.to_string()));
        }
        Ok(ViewLock {
            locks: self,
            view: view.to_string(),
        })
    }

    /// Whether `view` is being materialized now.
    pub fn is_busy(&self, view: &str) -> bool {
        self.busy
            .lock()
            .expect("materialization locks")
            .contains(view)
    }
}

impl Drop for ViewLock<'_> {
    fn drop(&mut self) {
        self.locks
            .busy
            .lock()
            .expect("materialization locks")
            .remove(&self.view);
    }
}

/// One view's planned interval.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedInterval {
    /// The view.
    pub view: FeatureView,
    /// Start (inclusive).
    pub start: DateTime<Utc>,
    /// End (inclusive).
    pub end: DateTime<Utc>,
}

impl FeatureStore {
    /// The views to materialize: `names`, or every online view when `names` is empty.
    pub async fn views_to_materialize(&self, names: &[String]) -> Result<Vec<FeatureView>> {
        let all = self.feature_views().await?;
        if names.is_empty() {
            return Ok(all.into_iter().filter(|v| v.online).collect());
        }
        names
            .iter()
            .map(|n| {
                all.iter().find(|v| &v.name == n).cloned().ok_or_else(|| {
                    let names: Vec<&str> = all.iter().map(|v| v.name.as_str()).collect();
                    Error::NotFound(format!(
                        "feature view `{n}` does not exist in project `{}`; available: {}",
                        self.project(),
                        names.join(", ")
                    ))
                })
            })
            .collect()
    }

    /// Plans `materialize start end`: every selected view gets `[start, end]`.
    pub async fn plan_materialize(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        views: &[String],
    ) -> Result<Vec<PlannedInterval>> {
        check_end(end)?;
        if start > end {
            return Err(Error::InvalidRequest(format!(
                "the start {start} is after the end {end}: swap them"
            )));
        }
        let views = self.views_to_materialize(views).await?;
        Ok(views
            .into_iter()
            .map(|view| PlannedInterval { view, start, end })
            .collect())
    }

    /// Plans `materialize-incremental end`: each view starts where its last interval ended, else at
    /// `now - ttl`, else (ttl 0) at `now - 52 weeks`.
    pub async fn plan_materialize_incremental(
        &self,
        end: DateTime<Utc>,
        views: &[String],
    ) -> Result<Vec<PlannedInterval>> {
        check_end(end)?;
        let now = Utc::now();
        let mut planned = Vec::new();
        for view in self.views_to_materialize(views).await? {
            let start = match view.most_recent_end() {
                Some(last) => last,
                None if !view.ttl.is_zero() => now - view.ttl,
                None => now - DEFAULT_INCREMENTAL_WINDOW,
            };
            if start > end {
                return Err(Error::InvalidRequest(format!(
                    "feature view `{}` is already materialized up to {start}, after the requested end {end}: \
                     pass an end after {start}",
                    view.name
                )));
            }
            planned.push(PlannedInterval { view, start, end });
        }
        Ok(planned)
    }

    /// Materializes planned intervals one view after another with `engine`, recording each interval
    /// in the registry once its rows are written.
    pub async fn run_materialization(
        &self,
        plan: Vec<PlannedInterval>,
        engine: &dyn MaterializationEngine,
        progress: Arc<dyn MaterializeProgress>,
    ) -> Result<Vec<ViewReport>> {
        let online = self.online_store().await?;
        let offline = self.offline_store().await?;
        let mut reports = Vec::new();
        for item in plan {
            let _lock = self.locks().lock(&item.view.name)?;
            let task = MaterializationTask {
                project: self.project().to_string(),
                key_version: self.config().entity_key_serialization_version,
                write_batch_rows: self
                    .config()
                    .materialization
                    .online_write_batch_size
                    .unwrap_or(DEFAULT_WRITE_BATCH_ROWS),
                view: item.view.clone(),
                start: item.start,
                end: item.end,
                offline: offline.clone(),
                online: online.clone(),
                progress: progress.clone(),
            };
            let report = engine
                .materialize(task)
                .await
                .map_err(|error| Error::Materialize {
                    view: item.view.name.clone(),
                    source_location: self.source_location(&item.view),
                    error: Box::new(error),
                })?;
            self.record_interval(&item.view.name, item.start, item.end)
                .await?;
            reports.push(report);
        }
        Ok(reports)
    }

    /// `materialize start end` with the local engine.
    pub async fn materialize(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        views: &[String],
        progress: Arc<dyn MaterializeProgress>,
    ) -> Result<Vec<ViewReport>> {
        let plan = self.plan_materialize(start, end, views).await?;
        self.run_materialization(plan, &LocalEngine, progress).await
    }

    /// `materialize-incremental end` with the local engine.
    pub async fn materialize_incremental(
        &self,
        end: DateTime<Utc>,
        views: &[String],
        progress: Arc<dyn MaterializeProgress>,
    ) -> Result<Vec<ViewReport>> {
        let plan = self.plan_materialize_incremental(end, views).await?;
        self.run_materialization(plan, &LocalEngine, progress).await
    }

    /// Where a view's rows come from, for messages: the file path, else the source's name.
    fn source_location(&self, view: &FeatureView) -> String {
        match view.batch_source.file_location(&self.config().repo_path) {
            Some((path, _)) => path.display().to_string(),
            None => format!("source `{}`", view.batch_source.name),
        }
    }

    async fn record_interval(
        &self,
        view: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<()> {
        let (project, view) = (self.project().to_string(), view.to_string());
        self.registry()
            .commit(Box::new(move |registry| {
                larder_registry::diff::apply_materialization(
                    registry,
                    &project,
                    &view,
                    start,
                    end,
                    Utc::now(),
                )
            }))
            .await?;
        Ok(())
    }
}

fn check_end(end: DateTime<Utc>) -> Result<()> {
    let limit = Utc::now() + MAX_CLOCK_SKEW;
    if end > limit {
        return Err(Error::InvalidRequest(format!(
            "the end {end} is in the future: materializing up to a future time would record an interval \
             whose later rows are then skipped; use a time up to now"
        )));
    }
    Ok(())
}
