//! The test repo and request helpers shared by every test module.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, Float32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, Utc};
use larder::core::config::RepoConfig;
use larder::{FeatureStore, NoProgress};
use larder_server::{AppState, ServeOptions, app};
use serde_json::{Value as J, json};
use tempfile::TempDir;
use tower::ServiceExt;

/// The main view, fed by the file source.
pub(crate) const STATS: &str = "driver_hourly_stats";
/// The view fed by the push source.
pub(crate) const FRESH: &str = "driver_fresh";
/// The view over the larger source, for concurrent-job tests.
pub(crate) const BIG: &str = "big_stats";
/// The push source.
pub(crate) const PUSH_SOURCE: &str = "driver_stats_push";

/// Where the online data lives.
pub(crate) enum Online {
    Sqlite,
    Redis(String),
}

/// A repo in a temporary directory, applied, with `driver_hourly_stats` materialized.
pub(crate) struct Repo {
    pub(crate) dir: TempDir,
    pub(crate) store: FeatureStore,
    /// When the rows were made; every event time is before it.
    pub(crate) now: DateTime<Utc>,
}

const DEFINITIONS: &str = r#"
entities:
  - {name: driver, join_keys: [driver_id], value_type: Int64}
sources:
  - {name: driver_stats_source, kind: file, path: data/driver_stats.parquet, timestamp_field: event_timestamp, created_timestamp_column: created}
  - {name: driver_stats_push, kind: push, batch_source: driver_stats_source}
  - {name: big_source, kind: file, path: data/big.parquet, timestamp_field: event_timestamp}
feature_views:
  - name: driver_hourly_stats
    entities: [driver]
    ttl: 0
    source: driver_stats_source
    schema:
      - {name: driver_id, dtype: Int64}
      - {name: conv_rate, dtype: Float32}
      - {name: avg_daily_trips, dtype: Int64}
      - {name: city, dtype: String}
  - name: driver_fresh
    entities: [driver]
    ttl: 0
    source: driver_stats_push
    schema:
      - {name: driver_id, dtype: Int64}
      - {name: conv_rate, dtype: Float32}
      - {name: avg_daily_trips, dtype: Int64}
      - {name: city, dtype: String}
  - name: big_stats
    entities: [driver]
    ttl: 0
    source: big_source
    schema:
      - {name: driver_id, dtype: Int64}
      - {name: score, dtype: Float64}
feature_services:
  - name: driver_activity
    features: [driver_hourly_stats]
"#;

impl Repo {
    /// A SQLite repo with a small `big_stats` source.
    pub(crate) async fn new() -> Repo {
        Repo::with(Online::Sqlite, "it_demo", 10).await
    }

    /// A repo for `project` with `big_rows` rows in `big_stats`' source.
    pub(crate) async fn with(online: Online, project: &str, big_rows: usize) -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        let now = Utc::now();
        let online_yaml = match online {
            Online::Sqlite => "online_store:\n  type: sqlite\n  path: data/online.db\n".to_string(),
            Online::Redis(url) => {
                format!("online_store:\n  type: redis\n  connection_string: \"{url}\"\n")
            }
        };
        let yaml = format!(
            "project: {project}\nprovider: local\nregistry: data/registry.db\n{online_yaml}\
             offline_store:\n  type: file\nentity_key_serialization_version: 3\n"
        );
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        std::fs::write(dir.path().join("feature_store.yaml"), yaml).expect("feature_store.yaml");
        std::fs::write(dir.path().join("definitions.yaml"), DEFINITIONS).expect("definitions");
        write_parquet(
            &dir.path().join("data/driver_stats.parquet"),
            &driver_rows(now),
        );
        write_parquet(
            &dir.path().join("data/big.parquet"),
            &big_source_rows(now, big_rows),
        );
        let store = FeatureStore::open(&dir.path().join("feature_store.yaml")).expect("open store");
        let repo = Repo { dir, store, now };
        repo.apply().await;
        repo.store
            .materialize(
                now - chrono::Duration::days(1),
                now,
                &[STATS.to_string()],
                Arc::new(NoProgress),
            )
            .await
            .expect("materialize");
        repo
    }

    /// Loads the repo's definitions and applies them.
    pub(crate) async fn apply(&self) {
        let config = RepoConfig::load(&self.dir.path().join("feature_store.yaml")).expect("config");
        let contents = larder::core::definitions::load_repo(&config).expect("definitions");
        self.store.apply(&contents).await.expect("apply");
    }

    /// The server state with `options`.
    pub(crate) async fn state(&self, options: &ServeOptions) -> AppState {
        AppState::new(self.store.clone(), options)
            .await
            .expect("state")
    }

    /// The router with test options (no access log, metrics on, slow registry refresh).
    pub(crate) async fn app(&self) -> Router {
        app(self.state(&test_options()).await)
    }

    /// Deletes what the tests wrote to the online store for `project` (its Redis keys; a test's
    /// SQLite file goes with its directory).
    pub(crate) async fn delete_online_data(&self, project: &str) {
        let views = self.store.feature_views().await.expect("views");
        let store = self.store.online_store().await.expect("online store");
        store
            .teardown(project, &views)
            .await
            .expect("delete the test's online data");
    }
}

/// A project name no other test run uses (`PREFIX_<pid>_<nanos>`): the online data a test writes
/// under it (Redis keys, shared by every run) is its own to delete.
pub(crate) fn unique_project(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// Options for tests: metrics on, access log off, refresh every 60 s.
pub(crate) fn test_options() -> ServeOptions {
    ServeOptions {
        metrics: true,
        access_log: false,
        ..ServeOptions::default()
    }
}

/// Two rows per driver 1001..=1003 (the later one wins), event times an hour or two ago.
/// Driver 1003's latest row has a null `conv_rate`.
fn driver_rows(now: DateTime<Utc>) -> RecordBatch {
    let hours = |h: i64| (now - chrono::Duration::hours(h)).timestamp_micros();
    let ids = vec![1001, 1001, 1002, 1002, 1003, 1003];
    let events = vec![hours(3), hours(2), hours(3), hours(2), hours(3), hours(1)];
    let created = events.iter().map(|t| t + 1_000_000).collect::<Vec<_>>();
    let conv = vec![Some(0.1), Some(0.5), Some(0.2), Some(0.25), Some(0.3), None];
    let trips = vec![1, 10, 2, 20, 3, 30];
    let city = vec!["Old", "Delhi", "Old", "Pune", "Old", "Goa"];
    batch(vec![
        ("driver_id", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("event_timestamp", timestamps(events)),
        ("created", timestamps(created)),
        ("conv_rate", Arc::new(Float32Array::from(conv))),
        ("avg_daily_trips", Arc::new(Int64Array::from(trips))),
        ("city", Arc::new(StringArray::from(city))),
    ])
}

/// One row per driver 2001.. with score = driver id / 10.
fn big_source_rows(now: DateTime<Utc>, rows: usize) -> RecordBatch {
    let ids: Vec<i64> = (0..rows as i64).map(|i| 2001 + i).collect();
    let scores: Vec<f64> = ids.iter().map(|i| *i as f64 / 10.0).collect();
    let events = vec![(now - chrono::Duration::hours(1)).timestamp_micros(); rows];
    batch(vec![
        ("driver_id", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("event_timestamp", timestamps(events)),
        ("score", Arc::new(Float64Array::from(scores))),
    ])
}

fn timestamps(micros: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(micros).with_timezone("UTC"))
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("batch")
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).expect("parquet file");
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    writer.write(batch).expect("write");
    writer.close().expect("close");
}

/// Sends one request through the router; the body is parsed as JSON when it is JSON.
pub(crate) async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    body: Option<J>,
) -> (StatusCode, J) {
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    send(
        app,
        Request::builder()
            .method(method)
            .uri(uri)
            .body(body)
            .expect("request"),
    )
    .await
}

/// Sends a prepared request; the body is parsed as JSON (an empty body is `J::Null`, other
/// text a JSON string).
pub(crate) async fn send(app: &Router, request: Request<Body>) -> (StatusCode, J) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = if text.is_empty() {
        J::Null
    } else {
        serde_json::from_str(&text).unwrap_or(J::String(text))
    };
    (status, json)
}

/// `POST /get-online-features` for `features` and drivers `ids`.
pub(crate) async fn online(app: &Router, features: &[&str], ids: &[i64]) -> (StatusCode, J) {
    let body = json!({ "features": features, "entities": { "driver_id": ids } });
    call(app, Method::POST, "/get-online-features", Some(body)).await
}

/// The column `name` of an online response: (values, statuses).
pub(crate) fn column(response: &J, name: &str) -> (Vec<J>, Vec<String>) {
    let names = response["metadata"]["feature_names"]
        .as_array()
        .expect("feature_names");
    let i = names
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no column {name} in {response}"));
    let result = &response["results"][i];
    let values = result["values"].as_array().expect("values").clone();
    let statuses = result["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    (values, statuses)
}

/// Polls `GET /jobs/{id}` until the job is over (at most 60 s) and returns its record.
pub(crate) async fn wait_for_job(app: &Router, id: &str) -> J {
    for _ in 0..600 {
        let (status, job) = call(app, Method::GET, &format!("/jobs/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if job["state"] == "succeeded" || job["state"] == "failed" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} did not finish within 60 s");
}

/// Retries `check` every 50 ms for up to `limit`, until it returns true.
pub(crate) async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
