//! `POST /materialize`, `POST /materialize-incremental` and `GET /jobs/{id}`.

use axum::http::{Method, StatusCode};
use chrono::Utc;
use serde_json::{Value as J, json};

use crate::common::{BIG, Online, Repo, STATS, call, column, online, wait_for_job};

#[tokio::test]
async fn synchronous_materialize_answers_null() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let window = json!({
        "start_ts": (repo.now - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%S").to_string(),
        "end_ts": Utc::now().to_rfc3339(),
        "feature_views": [BIG],
    });
    let (status, body) = call(&app, Method::POST, "/materialize", Some(window)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, J::Null);
    let (_, body) = online(&app, &["big_stats:score"], &[2001, 2010]).await;
    assert_eq!(column(&body, "score").0, [json!(200.1), json!(201.0)]);
}

#[tokio::test]
async fn async_incremental_job_is_polled_to_completion() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let request = json!({"end_ts": Utc::now().to_rfc3339(), "feature_views": [BIG]});
    let (status, accepted) = call(
        &app,
        Method::POST,
        "/materialize-incremental?async=true",
        Some(request),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["feature_views"], json!([BIG]));
    let id = accepted["job_id"].as_str().expect("job id");
    let job = wait_for_job(&app, id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["kind"], "materialize_incremental");
    assert_eq!(job["feature_views"][0]["name"], BIG);
    assert_eq!(job["feature_views"][0]["state"], "succeeded");
    assert_eq!(job["feature_views"][0]["rows_written"], 10, "{job}");
    assert!(
        job["finished_at"].is_string() && job["error"].is_null(),
        "{job}"
    );
    let (_, body) = online(&app, &["big_stats:score"], &[2005]).await;
    assert_eq!(column(&body, "score").0, [json!(200.5)]);
}

#[tokio::test]
async fn a_second_job_on_a_busy_view_is_409() {
    let repo = Repo::with(Online::Sqlite, "it_busy", 40_000).await;
    let app = repo.app().await;
    let window = json!({
        "start_ts": (repo.now - chrono::Duration::days(1)).to_rfc3339(),
        "end_ts": Utc::now().to_rfc3339(),
        "feature_views": [BIG],
    });
    let (status, accepted) = call(
        &app,
        Method::POST,
        "/materialize?async=true",
        Some(window.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let (status, body) = call(&app, Method::POST, "/materialize", Some(window.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let id = accepted["job_id"].as_str().unwrap();
    assert!(body["detail"].as_str().unwrap().contains(id), "{body}");
    let other = json!({"start_ts": window["start_ts"], "end_ts": window["end_ts"], "feature_views": [STATS]});
    let (status, body) = call(&app, Method::POST, "/materialize", Some(other)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "other views are not blocked: {body}"
    );
    let job = wait_for_job(&app, id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["feature_views"][0]["rows_written"], 40_000);
    let (status, body) = call(&app, Method::POST, "/materialize?async=true", Some(window)).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "the view is free again: {body}"
    );
    let job = wait_for_job(&app, body["job_id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
}

#[tokio::test]
async fn failed_jobs_report_their_error() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    std::fs::remove_file(repo.dir.path().join("data/big.parquet")).expect("remove source");
    let window = json!({
        "start_ts": (repo.now - chrono::Duration::days(1)).to_rfc3339(),
        "end_ts": Utc::now().to_rfc3339(),
        "feature_views": [BIG],
    });
    let (status, accepted) =
        call(&app, Method::POST, "/materialize?async=true", Some(window)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job = wait_for_job(&app, accepted["job_id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["feature_views"][0]["state"], "failed", "{job}");
    assert!(
        job["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{job}"
    );
}
