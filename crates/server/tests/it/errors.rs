//! Every error code, each with a `{"detail": ...}` body naming what is wrong.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use larder_server::{BODY_LIMIT_BYTES, ServeOptions, app};
use serde_json::{Value as J, json};

use crate::common::{PUSH_SOURCE, Repo, call, online, send, test_options};

fn detail(body: &J) -> &str {
    body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail in {body}"))
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let raw = Request::post("/get-online-features")
        .body(Body::from("{\"features\": ["))
        .unwrap();
    let (status, body) = send(&app, raw).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).starts_with("invalid JSON body"), "{body}");

    let wrong_field =
        json!({"features": "driver_hourly_stats:conv_rate", "entities": {"driver_id": [1]}});
    let (status, body) = call(
        &app,
        Method::POST,
        "/get-online-features",
        Some(wrong_field),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).contains("`features`"), "{body}");

    let (status, body) = call(
        &app,
        Method::POST,
        "/get-online-features",
        Some(json!({"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": ["abc"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        detail(&body).contains("driver_id") && detail(&body).contains("INT64"),
        "{body}"
    );

    let (status, body) = call(
        &app,
        Method::POST,
        "/get-online-features",
        Some(json!({"features": ["driver_hourly_stats:conv_rate"], "entities": {"rider_id": [1]}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).contains("`driver_id` is missing"), "{body}");

    let (status, body) = call(
        &app,
        Method::POST,
        "/materialize",
        Some(json!({"end_ts": "2026-01-01"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).contains("start_ts"), "{body}");
}

#[tokio::test]
async fn unknown_objects_are_404() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let (status, body) = online(&app, &["nope:conv_rate"], &[1001]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(detail(&body).contains("`nope`"), "{body}");
    let (status, body) = online(&app, &["driver_hourly_stats:nope"], &[1001]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(detail(&body).contains("`nope`"), "{body}");
    let service = json!({"feature_service": "nope", "entities": {"driver_id": [1]}});
    let (status, _) = call(&app, Method::POST, "/get-online-features", Some(service)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let write = json!({"feature_view_name": "nope", "df": {}});
    let (status, _) = call(&app, Method::POST, "/write-to-online-store", Some(write)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let window =
        json!({"start_ts": "2026-01-01", "end_ts": "2026-01-02", "feature_views": ["nope"]});
    let (status, _) = call(&app, Method::POST, "/materialize", Some(window)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(&app, Method::GET, "/jobs/no-such-job", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(detail(&body).contains("no-such-job"), "{body}");
    let (status, body) = call(&app, Method::GET, "/no/such/route", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(detail(&body).contains("/no/such/route"), "{body}");
    let (status, body) = call(&app, Method::GET, "/push", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(detail(&body), "Method Not Allowed");
}

#[tokio::test]
async fn unknown_push_source_is_422() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let body = json!({"push_source_name": "nope", "df": {"driver_id": [1]}});
    let (status, body) = call(&app, Method::POST, "/push", Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        detail(&body).contains("`nope`") && detail(&body).contains(PUSH_SOURCE),
        "{body}"
    );
    let bad_mode = json!({"push_source_name": PUSH_SOURCE, "df": {}, "to": "everywhere"});
    let (status, body) = call(&app, Method::POST, "/push", Some(bad_mode)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).contains("`to`"), "{body}");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let padding = "x".repeat(BODY_LIMIT_BYTES + 1);
    let body = json!({"features": [], "entities": {}, "padding": padding});
    let (status, body) = call(&app, Method::POST, "/get-online-features", Some(body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(detail(&body).contains("16 MiB"), "{body}");
}

#[tokio::test]
async fn requests_past_the_timeout_are_408() {
    let repo = Repo::new().await;
    let options = ServeOptions {
        request_timeout: Duration::from_nanos(1),
        ..test_options()
    };
    let app = app(repo.state(&options).await);
    let window = json!({"start_ts": "2026-01-01", "end_ts": "2026-01-02"});
    let (status, body) = call(&app, Method::POST, "/materialize", Some(window)).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert!(detail(&body).contains("request timeout"), "{body}");
}
