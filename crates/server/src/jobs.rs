//! Materialization jobs started over HTTP: their records (for `GET /jobs/{id}`), and the claims
//! that keep two jobs from materializing the same feature view at once (a conflict is a 409).
//!
//! Every `/materialize` call is a job, synchronous or not: the work runs in its own task, so a
//! client that disconnects or times out does not cancel a run half-way.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use larder::core::time::format_rfc3339;
use larder::materialize::PlannedInterval;
use larder::{MaterializeProgress, ViewReport};
use serde::Serialize;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// Finished jobs kept for `GET /jobs/{id}`; older ones are forgotten.
const KEPT_FINISHED_JOBS: usize = 256;

/// The state of a job, or of one view within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted, not started.
    Pending,
    /// Writing rows.
    Running,
    /// Done; every view's interval is recorded.
    Succeeded,
    /// Stopped on an error; views not reported as succeeded were not (fully) materialized.
    Failed,
}

/// Which endpoint started a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// `POST /materialize`.
    Materialize,
    /// `POST /materialize-incremental`.
    MaterializeIncremental,
}

/// One view's part of a job, as `GET /jobs/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ViewProgress {
    /// The feature view.
    pub name: String,
    /// Interval start (RFC 3339).
    pub start: String,
    /// Interval end (RFC 3339).
    pub end: String,
    /// Its state.
    pub state: JobState,
    /// Entity rows written so far.
    pub rows_written: u64,
    /// Entity rows skipped because the online store held newer values.
    pub rows_skipped: u64,
    #[serde(skip)]
    started: Option<Instant>,
}

/// A job's record, as `GET /jobs/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    /// The job id.
    pub job_id: String,
    /// Which endpoint started it.
    pub kind: JobKind,
    /// Its state.
    pub state: JobState,
    /// When it was accepted.
    pub created_at: String,
    /// When it started running.
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// The views, in materialization order.
    pub feature_views: Vec<ViewProgress>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A job: its record behind a short lock.
#[derive(Debug)]
pub struct Job {
    record: Mutex<JobRecord>,
}

impl Job {
    /// A snapshot of the record.
    pub fn record(&self) -> JobRecord {
        self.lock().clone()
    }

    /// The job's state.
    pub fn state(&self) -> JobState {
        self.lock().state
    }

    /// Whether the job is over (succeeded or failed).
    pub fn is_finished(&self) -> bool {
        matches!(self.state(), JobState::Succeeded | JobState::Failed)
    }

    /// The job id.
    pub fn id(&self) -> String {
        self.lock().job_id.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JobRecord> {
        self.record.lock().expect("job lock")
    }

    /// Marks the job as running.
    pub fn start(&self) {
        let mut record = self.lock();
        record.state = JobState::Running;
        record.started_at = Some(now());
    }

    /// Records the outcome; on failure, the view that was running is marked failed and the
    /// failure is counted for it in `metrics`.
    pub fn finish(&self, result: &Result<Vec<ViewReport>, larder::Error>, metrics: &Metrics) {
        let mut record = self.lock();
        record.finished_at = Some(now());
        match result {
            Ok(_) => record.state = JobState::Succeeded,
            Err(e) => {
                record.state = JobState::Failed;
                record.error = Some(e.to_string());
                if let Some(view) = record
                    .feature_views
                    .iter_mut()
                    .find(|v| v.state != JobState::Succeeded)
                {
                    view.state = JobState::Failed;
                    let elapsed = view.started.map_or(Duration::ZERO, |s| s.elapsed());
                    metrics.record_materialization(&view.name, false, elapsed);
                }
            }
        }
    }

    fn view(&self, name: &str, update: impl FnOnce(&mut ViewProgress)) {
        if let Some(view) = self
            .lock()
            .feature_views
            .iter_mut()
            .find(|v| v.name == name)
        {
            update(view);
        }
    }
}

/// Reports a job's progress into its record and the metrics.
pub struct JobProgress {
    job: Arc<Job>,
    state: crate::AppState,
}

impl JobProgress {
    /// Progress of `job`, counted in `state`'s metrics.
    pub fn new(job: Arc<Job>, state: crate::AppState) -> Self {
        JobProgress { job, state }
    }
}

impl MaterializeProgress for JobProgress {
    fn view_started(
        &self,
        view: &str,
        _start: DateTime<Utc>,
        _end: DateTime<Utc>,
        _source_rows: Option<u64>,
    ) {
        self.job.view(view, |v| {
            v.state = JobState::Running;
            v.started = Some(Instant::now());
        });
    }

    fn rows_written(&self, view: &str, written: u64, skipped: u64) {
        self.job.view(view, |v| {
            v.rows_written += written;
            v.rows_skipped += skipped;
        });
    }

    fn view_finished(&self, report: &ViewReport) {
        self.job.view(&report.view, |v| {
            v.state = JobState::Succeeded;
            v.rows_written = report.rows_written;
            v.rows_skipped = report.rows_skipped;
        });
        let metrics = self.state.metrics();
        metrics.record_materialization(&report.view, true, report.elapsed);
        if let Some(newest) = report.max_event_ts {
            metrics.record_event_time(&report.view, newest);
        }
    }
}

#[derive(Debug, Default)]
struct Table {
    jobs: HashMap<String, Arc<Job>>,
    /// Job ids, oldest first.
    order: VecDeque<String>,
    /// View name → the id of the job materializing it.
    busy: HashMap<String, String>,
}

/// All jobs of this server.
#[derive(Debug, Default, Clone)]
pub struct Jobs {
    table: Arc<Mutex<Table>>,
}

/// The views a job holds; released when dropped (also when the job's task panics).
#[derive(Debug)]
pub struct Claim {
    table: Arc<Mutex<Table>>,
    views: Vec<String>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut table = self.table.lock().expect("jobs lock");
        for view in &self.views {
            table.busy.remove(view);
        }
    }
}

impl Jobs {
    /// Creates a pending job for `plan` and claims its views, or fails with a 409 naming the
    /// views already being materialized and the jobs doing it.
    pub fn create(
        &self,
        kind: JobKind,
        plan: &[PlannedInterval],
    ) -> Result<(Arc<Job>, Claim), ApiError> {
        let mut table = self.table.lock().expect("jobs lock");
        let busy: Vec<String> = plan
            .iter()
            .filter_map(|p| {
                table
                    .busy
                    .get(&p.view.name)
                    .map(|job| format!("`{}` (job {job})", p.view.name))
            })
            .collect();
        if !busy.is_empty() {
            return Err(ApiError::Conflict(format!(
                "already materializing {}: wait for the job to finish (GET /jobs/<id>)",
                busy.join(", ")
            )));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let job = Arc::new(Job {
            record: Mutex::new(new_record(&id, kind, plan)),
        });
        let views: Vec<String> = plan.iter().map(|p| p.view.name.clone()).collect();
        for view in &views {
            table.busy.insert(view.clone(), id.clone());
        }
        table.jobs.insert(id.clone(), job.clone());
        table.order.push_back(id);
        prune(&mut table);
        Ok((
            job,
            Claim {
                table: self.table.clone(),
                views,
            },
        ))
    }

    /// The job `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.table.lock().expect("jobs lock").jobs.get(id).cloned()
    }

    /// The jobs not finished yet.
    pub fn unfinished(&self) -> Vec<Arc<Job>> {
        let table = self.table.lock().expect("jobs lock");
        table
            .jobs
            .values()
            .filter(|j| !j.is_finished())
            .cloned()
            .collect()
    }
}

fn new_record(id: &str, kind: JobKind, plan: &[PlannedInterval]) -> JobRecord {
    JobRecord {
        job_id: id.to_string(),
        kind,
        state: JobState::Pending,
        created_at: now(),
        started_at: None,
        finished_at: None,
        feature_views: plan
            .iter()
            .map(|p| ViewProgress {
                name: p.view.name.clone(),
                start: format_rfc3339(p.start),
                end: format_rfc3339(p.end),
                state: JobState::Pending,
                rows_written: 0,
                rows_skipped: 0,
                started: None,
            })
            .collect(),
        error: None,
    }
}

/// Forgets the oldest finished jobs beyond [`KEPT_FINISHED_JOBS`].
fn prune(table: &mut Table) {
    let finished = |t: &Table, id: &str| t.jobs.get(id).is_some_and(|j| j.is_finished());
    let mut excess = table
        .order
        .iter()
        .filter(|id| finished(table, id))
        .count()
        .saturating_sub(KEPT_FINISHED_JOBS);
    let mut kept = VecDeque::with_capacity(table.order.len());
    while let Some(id) = table.order.pop_front() {
        if excess > 0 && finished(table, &id) {
            table.jobs.remove(&id);
            excess -= 1;
        } else {
            kept.push_back(id);
        }
    }
    table.order = kept;
}

fn now() -> String {
    format_rfc3339(Utc::now())
}

#[cfg(test)]
mod tests {
    use larder::core::model::{DataSource, FeatureView, FileFormat, SourceKind};

    use super::*;

    fn interval(name: &str) -> PlannedInterval {
        let source = DataSource {
            name: "s".into(),
            kind: SourceKind::File {
                path: "x.parquet".into(),
                format: FileFormat::Parquet,
            },
            timestamp_field: "ts".into(),
            created_timestamp_column: String::new(),
            field_mapping: Default::default(),
            date_partition_column: String::new(),
            description: String::new(),
            tags: Default::default(),
            owner: String::new(),
        };
        let view = FeatureView {
            name: name.into(),
            entities: vec![],
            features: vec![],
            entity_columns: vec![],
            ttl: Duration::ZERO,
            batch_source: source,
            stream_source: None,
            online: true,
            offline: false,
            description: String::new(),
            tags: Default::default(),
            owner: String::new(),
            materialization_intervals: vec![],
        };
        PlannedInterval {
            view,
            start: Utc::now(),
            end: Utc::now(),
        }
    }

    #[test]
    fn claims_conflict_until_released() {
        let jobs = Jobs::default();
        let (job, claim) = jobs
            .create(JobKind::Materialize, &[interval("a"), interval("b")])
            .unwrap();
        let err = jobs
            .create(JobKind::Materialize, &[interval("b")])
            .unwrap_err();
        assert!(matches!(err, ApiError::Conflict(_)));
        assert!(err.message().contains(&job.id()), "{err}");
        assert!(jobs.create(JobKind::Materialize, &[interval("c")]).is_ok());
        drop(claim);
        assert!(jobs.create(JobKind::Materialize, &[interval("b")]).is_ok());
        assert_eq!(jobs.get(&job.id()).unwrap().state(), JobState::Pending);
    }

    #[test]
    fn failures_mark_the_unfinished_view() {
        let jobs = Jobs::default();
        let (job, _claim) = jobs
            .create(
                JobKind::MaterializeIncremental,
                &[interval("a"), interval("b")],
            )
            .unwrap();
        job.start();
        job.view("a", |v| v.state = JobState::Succeeded);
        job.finish(
            &Err(larder::Error::Task("boom".into())),
            &Metrics::default(),
        );
        let record = job.record();
        assert_eq!(record.state, JobState::Failed);
        assert_eq!(record.feature_views[0].state, JobState::Succeeded);
        assert_eq!(record.feature_views[1].state, JobState::Failed);
        assert!(record.error.unwrap().contains("boom"));
    }

    #[test]
    fn old_finished_jobs_are_forgotten() {
        let jobs = Jobs::default();
        let first = {
            let (job, _claim) = jobs.create(JobKind::Materialize, &[interval("v")]).unwrap();
            job.finish(&Ok(vec![]), &Metrics::default());
            job.id()
        };
        for _ in 0..KEPT_FINISHED_JOBS + 1 {
            let (job, _claim) = jobs.create(JobKind::Materialize, &[interval("v")]).unwrap();
            job.finish(&Ok(vec![]), &Metrics::default());
        }
        assert!(jobs.get(&first).is_none());
    }
}
