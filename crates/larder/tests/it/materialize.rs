//! Materialization that fails part-way leaves the watermark where it was; a rerun gives exactly the
//! store content of a run that never failed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{ArrayRef, Float64Array, Int64Array, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use larder::online_store::sqlite::SqliteOnlineStore;
use larder::online_store::{
    OnlineRows, OnlineStore, OnlineStoreRef, Result, WriteBatch, WriteStats,
};
use larder::{FeatureSelection, FeatureStore, NoProgress};
use larder_core::definitions::load_repo;
use larder_core::model::FeatureView;

const DRIVERS: i64 = 50;

/// The real SQLite store, failing every write after the first `allowed` ones (a killed process).
#[derive(Debug)]
struct FailsAfter {
    inner: SqliteOnlineStore,
    allowed: usize,
    writes: AtomicUsize,
}

#[async_trait]
impl OnlineStore for FailsAfter {
    fn type_name(&self) -> &'static str {
        "sqlite"
    }
    fn infra_name(&self, project: &str, view: &str) -> Option<String> {
        self.inner.infra_name(project, view)
    }
    async fn update(
        &self,
        project: &str,
        keep: &[FeatureView],
        delete: &[FeatureView],
    ) -> Result<()> {
        self.inner.update(project, keep, delete).await
    }
    async fn teardown(&self, project: &str, views: &[FeatureView]) -> Result<()> {
        self.inner.teardown(project, views).await
    }
    async fn write_batch(
        &self,
        project: &str,
        view: &FeatureView,
        batch: &WriteBatch,
    ) -> Result<WriteStats> {
        if self.writes.fetch_add(1, Ordering::SeqCst) >= self.allowed {
            return Err(larder::online_store::Error::Config(
                "injected failure: the process died".into(),
            ));
        }
        self.inner.write_batch(project, view, batch).await
    }
    async fn read(
        &self,
        project: &str,
        view: &FeatureView,
        features: &[String],
        keys: &[Vec<u8>],
    ) -> Result<OnlineRows> {
        self.inner.read(project, view, features, keys).await
    }
}

fn write_repo(dir: &Path, online_db: &str) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("feature_store.yaml"),
        format!(
            "project: demo\nregistry: data/registry.db\nonline_store:\n  type: sqlite\n  path: {online_db}\n\
             materialization:\n  online_write_batch_size: 7\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("defs.yaml"),
        "entities:\n  - {name: driver, join_keys: [driver_id], value_type: Int64}\n\
         sources:\n  - {name: src, path: data/stats.parquet, timestamp_field: event_timestamp}\n\
         feature_views:\n  - name: stats\n    entities: [driver]\n    source: src\n    schema:\n      - {name: score, dtype: Float64}\n",
    )
    .unwrap();
    // Four rows per driver, an hour apart; the latest has score = driver_id * 10 + 3.
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("driver_id", DataType::Int64, false),
        Field::new("event_timestamp", ts, false),
        Field::new("score", DataType::Float64, true),
    ]));
    let start = Utc
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .unwrap()
        .timestamp_micros();
    let (mut ids, mut times, mut scores) = (vec![], vec![], vec![]);
    for hour in 0..4 {
        for d in 0..DRIVERS {
            ids.push(d);
            times.push(start + hour * 3_600_000_000);
            scores.push((d * 10 + hour) as f64);
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
        Arc::new(Float64Array::from(scores)),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let file = std::fs::File::create(dir.join("data/stats.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

async fn open(dir: &Path) -> FeatureStore {
    let store = FeatureStore::open(&dir.join("feature_store.yaml")).unwrap();
    store
        .apply(&load_repo(store.config()).unwrap())
        .await
        .unwrap();
    store
}

async fn scores(store: &FeatureStore) -> serde_json::Value {
    let ids: Vec<i64> = (0..DRIVERS).collect();
    let entities = serde_json::json!({ "driver_id": ids });
    let response = store
        .get_online_features(
            &FeatureSelection::Refs(vec!["stats:score".into()]),
            entities.as_object().unwrap(),
            false,
        )
        .await
        .unwrap();
    serde_json::to_value(&response.results[1]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_materialization_reruns_to_the_same_content() {
    let (start, end) = (
        Utc.with_ymd_and_hms(2026, 9, 30, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 10, 2, 0, 0, 0).unwrap(),
    );
    let clean_dir = tempfile::tempdir().unwrap();
    write_repo(clean_dir.path(), "data/online.db");
    let clean = open(clean_dir.path()).await;
    clean
        .materialize(start, end, &[], Arc::new(NoProgress))
        .await
        .unwrap();
    let want = scores(&clean).await;
    assert_eq!(want["values"][3], 33.0);

    let dir = tempfile::tempdir().unwrap();
    write_repo(dir.path(), "data/online.db");
    let crashing = FeatureStore::open(&dir.path().join("feature_store.yaml")).unwrap();
    let real = SqliteOnlineStore::open(dir.path().join("data/online.db")).unwrap();
    let failing: OnlineStoreRef = Arc::new(FailsAfter {
        inner: real,
        allowed: 2,
        writes: AtomicUsize::new(0),
    });
    crashing.use_online_store(failing).unwrap();
    crashing
        .apply(&load_repo(crashing.config()).unwrap())
        .await
        .unwrap();
    let err = crashing
        .materialize(start, end, &[], Arc::new(NoProgress))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("materializing feature view `stats`")
            && err.contains("stats.parquet")
            && err.contains("injected failure"),
        "{err}"
    );
    assert!(
        crashing
            .feature_view("stats")
            .await
            .unwrap()
            .materialization_intervals
            .is_empty(),
        "no interval after a failure"
    );
    let partial = scores(&open(dir.path()).await).await;
    let written = partial["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| *s != "NOT_FOUND")
        .count();
    assert_eq!(
        written, 14,
        "two writes of 7 rows landed before the failure"
    );

    let rerun = open(dir.path()).await;
    rerun
        .materialize(start, end, &[], Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(scores(&rerun).await, want);
    assert_eq!(
        rerun
            .feature_view("stats")
            .await
            .unwrap()
            .materialization_intervals
            .len(),
        1
    );
}
