//! `/health`, `/metrics`, `/openapi.json` and CORS.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use larder_server::{ServeOptions, app};
use serde_json::{Value as J, json};

use crate::common::{PUSH_SOURCE, Repo, call, online, send, test_options};

#[tokio::test]
async fn health_is_200_with_an_empty_body() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    assert_eq!(
        call(&app, Method::GET, "/health", None).await,
        (StatusCode::OK, J::Null)
    );
}

#[tokio::test]
async fn metrics_count_requests_entities_and_freshness() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    online(&app, &["driver_hourly_stats:conv_rate"], &[1001, 1002, 999]).await;
    online(&app, &["nope:x"], &[1]).await;
    let push = json!({"push_source_name": PUSH_SOURCE, "df": {
        "driver_id": [1], "conv_rate": [0.5], "avg_daily_trips": [1], "city": ["x"],
        "event_timestamp": [chrono::Utc::now().to_rfc3339()],
    }});
    assert_eq!(
        call(&app, Method::POST, "/push", Some(push)).await.0,
        StatusCode::OK
    );
    let window = json!({
        "start_ts": (repo.now - chrono::Duration::days(1)).to_rfc3339(),
        "end_ts": chrono::Utc::now().to_rfc3339(),
        "feature_views": ["driver_hourly_stats"],
    });
    assert_eq!(
        call(&app, Method::POST, "/materialize", Some(window))
            .await
            .0,
        StatusCode::OK
    );
    let (status, text) = call(&app, Method::GET, "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().expect("text exposition");
    for line in [
        "feast_feature_server_request_total{endpoint=\"/get-online-features\",status=\"200\"} 1",
        "feast_feature_server_request_total{endpoint=\"/get-online-features\",status=\"404\"} 1",
        "feast_online_features_request_total 1",
        "feast_online_features_entity_count_count 1",
        "feast_online_features_status_total{status=\"PRESENT\"} 2",
        "feast_online_features_status_total{status=\"NOT_FOUND\"} 1",
        "feast_push_request_total{push_source=\"driver_stats_push\",mode=\"online\"} 1",
        "feast_feature_server_request_latency_seconds_count{endpoint=\"/push\"} 1",
        "feast_materialization_result_total{feature_view=\"driver_hourly_stats\",status=\"success\"} 1",
        "feast_materialization_duration_seconds_count{feature_view=\"driver_hourly_stats\"} 1",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    let freshness = text
        .lines()
        .find(|l| {
            l.starts_with("feast_feature_freshness_seconds{feature_view=\"driver_hourly_stats\"")
        })
        .unwrap_or_else(|| panic!("no freshness line in\n{text}"));
    let seconds: f64 = freshness.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        (3_550.0..3_700.0).contains(&seconds),
        "the newest materialized row is 1 h old: {freshness}"
    );
    assert!(
        text.contains("feast_feature_freshness_seconds{feature_view=\"driver_fresh\""),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_are_off_unless_enabled() {
    let repo = Repo::new().await;
    let options = ServeOptions {
        metrics: false,
        ..test_options()
    };
    let app = app(repo.state(&options).await);
    assert_eq!(
        call(&app, Method::GET, "/metrics", None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn openapi_document_lists_the_routes() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let (status, doc) = call(&app, Method::GET, "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/get-online-features",
        "/push",
        "/write-to-online-store",
        "/materialize",
        "/jobs/{id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }
}

#[tokio::test]
async fn cors_answers_preflight_for_allowed_origins() {
    let repo = Repo::new().await;
    let options = ServeOptions {
        cors_allowed_origins: vec!["https://app.example.com".into()],
        ..test_options()
    };
    let app = app(repo.state(&options).await);
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/get-online-features")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .unwrap()
    };
    let response = tower::ServiceExt::oneshot(app.clone(), preflight("https://app.example.com"))
        .await
        .unwrap();
    let allowed = response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(allowed.as_deref(), Some("https://app.example.com"));
    let response = tower::ServiceExt::oneshot(app.clone(), preflight("https://evil.example.com"))
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let (status, _) = send(
        &app,
        Request::get("/health")
            .header("origin", "https://app.example.com")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}
