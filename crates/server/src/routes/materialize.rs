//! `POST /materialize`, `POST /materialize-incremental` and `GET /jobs/{id}`.
//!
//! Both materialize endpoints plan first (unknown views and bad times fail at once), then run
//! the plan as a job in its own task. By default the request waits for the job and answers
//! 200 `null`; with `?async=true` it answers 202 at once with the job id to poll.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::FutureExt;
use larder::core::time::parse_timestamp;
use larder::materialize::PlannedInterval;
use larder::{LocalEngine, ViewReport};
use serde::Deserialize;
use serde_json::{Value as J, json};

use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::jobs::{Claim, Job, JobKind, JobProgress, JobRecord};
use crate::state::AppState;

/// Feast's `MaterializeRequest` (`full_feature_names` and `version` are accepted and ignored).
#[derive(Debug, Deserialize)]
pub(crate) struct MaterializeRequest {
    #[serde(default)]
    start_ts: Option<String>,
    #[serde(default)]
    end_ts: Option<String>,
    #[serde(default)]
    feature_views: Option<Vec<String>>,
    #[serde(default)]
    disable_event_timestamp: bool,
}

/// Feast's `MaterializeIncrementalRequest`.
#[derive(Debug, Deserialize)]
pub(crate) struct IncrementalRequest {
    end_ts: String,
    #[serde(default)]
    feature_views: Option<Vec<String>>,
}

/// Materializes `[start_ts, end_ts]` (or, with `disable_event_timestamp`, everything up to now).
pub(crate) async fn materialize(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    JsonBody(request): JsonBody<MaterializeRequest>,
) -> Result<Response, ApiError> {
    let run_async = async_flag(query.as_deref())?;
    let (start, end) = interval(&request)?;
    let views = request.feature_views.unwrap_or_default();
    let plan = state.store().plan_materialize(start, end, &views).await?;
    run(state, JobKind::Materialize, plan, run_async).await
}

/// Materializes each view from where it was last materialized up to `end_ts`.
pub(crate) async fn materialize_incremental(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    JsonBody(request): JsonBody<IncrementalRequest>,
) -> Result<Response, ApiError> {
    let run_async = async_flag(query.as_deref())?;
    let end = timestamp("end_ts", &request.end_ts)?;
    let views = request.feature_views.unwrap_or_default();
    let plan = state
        .store()
        .plan_materialize_incremental(end, &views)
        .await?;
    run(state, JobKind::MaterializeIncremental, plan, run_async).await
}

/// A job's record.
pub(crate) async fn job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobRecord>, ApiError> {
    let job = state.jobs().get(&id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "job `{id}` does not exist (the server keeps the last 256 finished jobs)"
        ))
    })?;
    Ok(Json(job.record()))
}

/// The `async` query parameter: `true`/`1`/`yes` or `false`/`0`/`no` (other parameters, such as
/// Feast's `force`, are ignored).
fn async_flag(query: Option<&str>) -> Result<bool, ApiError> {
    let Some(query) = query else { return Ok(false) };
    let mut run_async = false;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, "true"));
        if key != "async" {
            continue;
        }
        run_async = match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "" => true,
            "false" | "0" | "no" => false,
            other => {
                return Err(ApiError::BadRequest(format!(
                    "query parameter async={other} is not a boolean: use async=true or async=false"
                )));
            }
        };
    }
    Ok(run_async)
}

/// The interval of a `/materialize` request; `disable_event_timestamp` means the epoch to now.
fn interval(request: &MaterializeRequest) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    if request.disable_event_timestamp {
        return Ok((DateTime::UNIX_EPOCH, Utc::now()));
    }
    match (&request.start_ts, &request.end_ts) {
        (Some(start), Some(end)) => Ok((timestamp("start_ts", start)?, timestamp("end_ts", end)?)),
        _ => Err(ApiError::BadRequest(
            "start_ts and end_ts are required when disable_event_timestamp is false".into(),
        )),
    }
}

fn timestamp(field: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    parse_timestamp(text).map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))
}

/// Starts `plan` as a job (409 if one of its views is busy), then waits for it or answers 202.
async fn run(
    state: AppState,
    kind: JobKind,
    plan: Vec<PlannedInterval>,
    run_async: bool,
) -> Result<Response, ApiError> {
    let (job, claim) = state.jobs().create(kind, &plan)?;
    let names: Vec<String> = plan.iter().map(|p| p.view.name.clone()).collect();
    let task = {
        let job = job.clone();
        state.spawn_background(move |state| run_job(state, job, claim, plan))
    };
    if run_async {
        let body = json!({ "status": "accepted", "job_id": job.id(), "feature_views": names });
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    match task.await {
        Ok(Ok(_)) => Ok(Json(J::Null).into_response()),
        Ok(Err(error)) => Err(error.into()),
        Err(error) => Err(ApiError::Internal(format!(
            "materialization job {} did not finish: {error}",
            job.id()
        ))),
    }
}

/// Runs a job to the end, recording its outcome; a panic fails the job instead of leaving it
/// running forever. The views are released before the outcome is recorded.
async fn run_job(
    state: AppState,
    job: Arc<Job>,
    claim: Claim,
    plan: Vec<PlannedInterval>,
) -> Result<Vec<ViewReport>, larder::Error> {
    job.start();
    let progress = Arc::new(JobProgress::new(job.clone(), state.clone()));
    let work = state
        .store()
        .run_materialization(plan, &LocalEngine, progress);
    let result = AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            Err(larder::Error::Task(format!(
                "materialization panicked: {}",
                panic_text(&panic)
            )))
        });
    drop(claim);
    match &result {
        Ok(reports) => {
            tracing::info!(job = %job.id(), views = reports.len(), "materialization job succeeded")
        }
        Err(error) => tracing::warn!(job = %job.id(), %error, "materialization job failed"),
    }
    job.finish(&result, state.metrics());
    result
}

/// The message of a panic payload.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn async_flag_parses_booleans() {
        assert!(!async_flag(None).unwrap());
        assert!(async_flag(Some("async=true")).unwrap());
        assert!(async_flag(Some("force=true&async=1")).unwrap());
        assert!(!async_flag(Some("async=false")).unwrap());
        assert!(async_flag(Some("async")).unwrap());
        let err = async_flag(Some("async=maybe")).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn interval_needs_both_ends_unless_disabled() {
        let request = |start: Option<&str>, end: Option<&str>, disable| MaterializeRequest {
            start_ts: start.map(String::from),
            end_ts: end.map(String::from),
            feature_views: None,
            disable_event_timestamp: disable,
        };
        let (start, end) = interval(&request(
            Some("2026-11-01"),
            Some("2026-11-02T00:00:00Z"),
            false,
        ))
        .unwrap();
        assert_eq!((end - start).num_hours(), 24);
        assert!(interval(&request(None, Some("2026-11-02"), false)).is_err());
        assert_eq!(
            interval(&request(None, None, true)).unwrap().0,
            DateTime::UNIX_EPOCH
        );
        let err = interval(&request(Some("soon"), Some("2026-11-02"), false)).unwrap_err();
        assert!(err.message().starts_with("start_ts:"), "{err}");
    }
}
