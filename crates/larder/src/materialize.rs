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
use larder_core::entity_key::EntityKeyLayout;
use larder_core::model::{DUMMY_ENTITY_ID, FeatureView};
use larder_offline::OfflineStoreRef;
use larder_online::{OnlineStoreRef, WriteBatch};

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
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(4);
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
        let mut report = ViewReport {
            view: task.view.name.clone(),
            start: task.start,
            end: task.end,
            rows_written: 0,
            rows_skipped: 0,
            max_event_ts: None,
            elapsed: Duration::ZERO,
        };
        // For stores that prefer it (SQLite), up to KEY_ORDER_LIMIT rows are gathered and written
        // in serialized-key order, which keeps the B-tree writes sequential; beyond that, and for
        // other stores, batches stream as they come.
        let mut held: Vec<RecordBatch> = Vec::new();
        let mut held_rows = 0;
        let mut streaming = !task.online.prefers_key_order();
        while let Some(batch) = rx.recv().await {
            let batch = batch?;
            if !streaming && held_rows + batch.num_rows() <= KEY_ORDER_LIMIT {
                held_rows += batch.num_rows();
                held.push(batch);
                continue;
            }
            streaming = true;
            for earlier in std::mem::take(&mut held) {
                write_all(&task, &layout, &earlier, &mut report).await?;
            }
            write_all(&task, &layout, &batch, &mut report).await?;
        }
        reader.await.map_err(|e| Error::Task(e.to_string()))?;
        if !held.is_empty() {
            let sorted = in_key_order(held, &task.view, &layout)?;
            write_all(&task, &layout, &sorted, &mut report).await?;
        }
        report.elapsed = started.elapsed();
        task.progress.view_finished(&report);
        Ok(report)
    }
}

/// Writes `batch` in slices of the task's write-batch size.
async fn write_all(
    task: &MaterializationTask,
    layout: &EntityKeyLayout,
    batch: &RecordBatch,
    report: &mut ViewReport,
) -> Result<()> {
    let mut offset = 0;
    while offset < batch.num_rows() {
        let len = task.write_batch_rows.min(batch.num_rows() - offset);
        write_slice(task, layout, &batch.slice(offset, len), report).await?;
        offset += len;
    }
    Ok(())
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

async fn write_slice(
    task: &MaterializationTask,
    layout: &EntityKeyLayout,
    batch: &RecordBatch,
    report: &mut ViewReport,
) -> Result<()> {
    let write = WriteBatch::from_record_batch(batch, &task.view, layout)?;
    if let Some(max) = arrow::compute::max(&write.event_timestamps) {
        let max = larder_core::time::from_micros(max);
        report.max_event_ts = Some(report.max_event_ts.map_or(max, |m| m.max(max)));
    }
    let stats = task
        .online
        .write_batch(&task.project, &task.view, &write)
        .await?;
    report.rows_written += stats.rows_written;
    report.rows_skipped += stats.rows_skipped;
    task.progress
        .rows_written(&task.view.name, stats.rows_written, stats.rows_skipped);
    Ok(())
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
