//! The registry is read in the background: changes are picked up live, and an unreadable
//! registry turns `/health` to 503 while the last good version keeps serving.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use larder_server::{ServeOptions, app};
use serde_json::json;

use crate::common::{Repo, call, column, eventually, online, test_options};

const EXTRA_VIEW: &str = r#"
feature_views:
  - name: driver_extra
    entities: [driver]
    ttl: 0
    source: driver_stats_source
    schema:
      - {name: driver_id, dtype: Int64}
      - {name: city, dtype: String}
"#;

fn fast_refresh() -> ServeOptions {
    ServeOptions {
        registry_ttl: Duration::from_millis(100),
        ..test_options()
    }
}

#[tokio::test]
async fn a_new_view_is_served_without_restart() {
    let repo = Repo::new().await;
    let app = app(repo.state(&fast_refresh()).await);
    assert_eq!(
        online(&app, &["driver_extra:city"], &[1001]).await.0,
        StatusCode::NOT_FOUND
    );
    std::fs::write(repo.dir.path().join("extra.yaml"), EXTRA_VIEW).expect("extra definitions");
    repo.apply().await;
    let served = eventually(Duration::from_secs(10), || async {
        online(&app, &["driver_extra:city"], &[1001]).await.0 == StatusCode::OK
    })
    .await;
    assert!(served, "the new view was not picked up within 10 s");
    let window = json!({
        "start_ts": (repo.now - chrono::Duration::days(1)).to_rfc3339(),
        "end_ts": chrono::Utc::now().to_rfc3339(),
        "feature_views": ["driver_extra"],
    });
    assert_eq!(
        call(&app, Method::POST, "/materialize", Some(window))
            .await
            .0,
        StatusCode::OK
    );
    let (_, body) = online(&app, &["driver_extra:city"], &[1001]).await;
    assert_eq!(column(&body, "city").0, [json!("Delhi")]);
}

#[tokio::test]
async fn an_unreadable_registry_makes_health_503() {
    let repo = Repo::new().await;
    let app = app(repo.state(&fast_refresh()).await);
    let path = repo.dir.path().join("data/registry.db");
    let good = std::fs::read(&path).expect("registry");
    std::fs::write(&path, b"\xff\xff not a registry").expect("corrupt");
    let down = eventually(Duration::from_secs(10), || async {
        call(&app, Method::GET, "/health", None).await.0 == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    assert!(down, "/health did not turn 503");
    let (status, body) = call(&app, Method::GET, "/health", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["detail"].as_str().unwrap().contains("registry"),
        "{body}"
    );
    let (status, body) = online(&app, &["driver_hourly_stats:city"], &[1001]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the last good registry keeps serving: {body}"
    );
    std::fs::write(&path, good).expect("restore");
    let up = eventually(Duration::from_secs(10), || async {
        call(&app, Method::GET, "/health", None).await.0 == StatusCode::OK
    })
    .await;
    assert!(up, "/health did not recover");
}
