//! The server over a Redis online store at `LARDER_TEST_REDIS_URL` (default `127.0.0.1:6379`).
//! Fails when Redis is down; uses its own project name and deletes its keys at the end.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{Online, PUSH_SOURCE, Repo, call, column, online, unique_project};

pub(crate) fn server() -> String {
    std::env::var("LARDER_TEST_REDIS_URL").unwrap_or_else(|_| "127.0.0.1:6379".into())
}

/// Fails with a clear message when nothing listens at the Redis address.
pub(crate) async fn require_redis(url: &str) {
    let address = url
        .trim_start_matches("redis://")
        .split(['/', ','])
        .next()
        .unwrap_or(url)
        .to_string();
    let connect = tokio::net::TcpStream::connect(address.clone());
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(_)) => {}
        _ => panic!(
            "Redis at {address} is not reachable: start it (redis-server --daemonize yes --port 6379) \
             or set LARDER_TEST_REDIS_URL"
        ),
    }
}

#[tokio::test]
async fn serves_and_pushes_with_redis() {
    let url = server();
    require_redis(&url).await;
    let project = unique_project("larder_it");
    let repo = Repo::with(Online::Redis(url), &project, 10).await;
    let app = repo.app().await;

    let (status, body) = online(
        &app,
        &["driver_hourly_stats:conv_rate", "driver_hourly_stats:city"],
        &[1001, 999],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        column(&body, "conv_rate"),
        (
            vec![json!(0.5), json!(null)],
            vec!["PRESENT".into(), "NOT_FOUND".into()]
        )
    );
    assert_eq!(column(&body, "city").0, [json!("Delhi"), json!(null)]);

    let push = json!({"push_source_name": PUSH_SOURCE, "df": {
        "driver_id": [1001], "conv_rate": [0.75], "avg_daily_trips": [5], "city": ["Agra"],
        "event_timestamp": [chrono::Utc::now().to_rfc3339()],
    }});
    assert_eq!(
        call(&app, Method::POST, "/push", Some(push)).await.0,
        StatusCode::OK
    );
    let (_, body) = online(&app, &["driver_fresh:city"], &[1001]).await;
    assert_eq!(column(&body, "city").0, [json!("Agra")]);

    repo.delete_online_data(&project).await;
    let (status, body) = online(
        &app,
        &["driver_hourly_stats:city", "driver_fresh:conv_rate"],
        &[1001],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names = body["metadata"]["feature_names"].as_array().unwrap();
    for i in 1..names.len() {
        assert_eq!(
            body["results"][i]["statuses"],
            json!(["NOT_FOUND"]),
            "keys left behind: {body}"
        );
    }
}
