//! `write_rows`: pushed rows become new files that later reads include; nothing is rewritten.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray};
use larder_core::ValueType;
use larder_core::model::{DataSource, EVENT_TS_COLUMN, FeatureView, SourceKind};
use larder_offline::{Error, FileOfflineStore, OfflineStore};

use crate::support::{
    batch, collect, file_source, i64s, timestamps, ts_us, us, utc, view, write_parquet,
};

const T0: &str = "2026-10-01T00:00:00Z";
const T1: &str = "2026-10-03T00:00:00Z";

fn first_rows() -> arrow::array::RecordBatch {
    batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
        ),
        ("trips", Arc::new(Int64Array::from(vec![10, 20]))),
        (
            "ts",
            ts_us(vec![
                Some(us("2026-10-01T01:00:00Z")),
                Some(us("2026-10-01T01:00:00Z")),
            ]),
        ),
    ])
}

/// Newer rows for driver 1, as a push would send them (Int32 trips, columns in another order).
fn pushed_rows() -> arrow::array::RecordBatch {
    batch(vec![
        ("ts", ts_us(vec![Some(us("2026-10-02T01:00:00Z"))])),
        ("trips", Arc::new(Int32Array::from(vec![11])) as ArrayRef),
        ("driver_id", Arc::new(Int64Array::from(vec![1]))),
    ])
}

fn trips_view(source: DataSource) -> FeatureView {
    view(
        "trips",
        &[("driver_id", ValueType::Int64)],
        &[("trips", ValueType::Int64)],
        0,
        source,
    )
}

/// The latest trips per driver, in driver order.
async fn latest_trips(store: &FileOfflineStore, v: &FeatureView) -> Vec<Option<i64>> {
    let got = collect(store.pull_latest(v, utc(T0), utc(T1)).await.unwrap().rows).await;
    let mut rows: Vec<_> = i64s(&got, "driver_id")
        .into_iter()
        .zip(i64s(&got, "trips"))
        .collect();
    rows.sort_unstable();
    rows.into_iter().map(|(_, trips)| trips).collect()
}

#[tokio::test]
async fn single_file_sources_get_a_sibling_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats.parquet");
    write_parquet(&path, &first_rows());
    let before = std::fs::read(&path).unwrap();
    let store = FileOfflineStore::new(dir.path().to_path_buf());
    let source = file_source("s", "stats.parquet", "ts", "");
    let written = store
        .write_rows_to_file(&source, &pushed_rows())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        written.parent().unwrap(),
        dir.path().join("stats.parquet.d")
    );
    let name = written.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("larder-push-") && name.ends_with(".parquet"),
        "{name}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the source file is not rewritten"
    );
    assert_eq!(
        latest_trips(&store, &trips_view(source.clone())).await,
        [Some(11), Some(20)]
    );
    assert_eq!(
        store
            .write_rows_to_file(&source, &pushed_rows().slice(0, 0))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn directory_sources_get_a_new_file_inside() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("data/part-0.parquet"), &first_rows());
    let store = FileOfflineStore::new(dir.path().to_path_buf());
    let source = file_source("s", "data", "ts", "");
    store.write_rows(&source, &pushed_rows()).await.unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("data")).unwrap().count(),
        2
    );
    let latest = store
        .pull_latest(&trips_view(source), utc(T0), utc(T1))
        .await
        .unwrap();
    assert_eq!(latest.source_rows, Some(3));
    assert_eq!(
        i64s(&collect(latest.rows).await, "trips"),
        [Some(11), Some(20)]
    );
}

#[tokio::test]
async fn csv_sources_get_csv_files_with_the_source_columns() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.csv"),
        "driver_id,trips,ts\n1,10,2026-10-01T01:00:00Z\n2,20,2026-10-01 01:00:00\n",
    )
    .unwrap();
    let store = FileOfflineStore::new(dir.path().to_path_buf());
    let source = file_source("s", "s.csv", "ts", "");
    let written = store
        .write_rows_to_file(&source, &pushed_rows())
        .await
        .unwrap()
        .unwrap();
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(
        text.starts_with("driver_id,trips,ts\n1,11,2026-10-02T01:00:00"),
        "{text}"
    );
    let v = trips_view(source);
    let got = collect(store.pull_latest(&v, utc(T0), utc(T1)).await.unwrap().rows).await;
    assert_eq!(i64s(&got, "trips"), [Some(11), Some(20)]);
    assert_eq!(
        timestamps(&got, EVENT_TS_COLUMN)[0],
        Some(us("2026-10-02T01:00:00Z"))
    );
}

#[tokio::test]
async fn a_source_without_data_yet_is_created_by_the_first_push() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileOfflineStore::new(dir.path().to_path_buf());
    let batch_source = file_source("s", "pushed/events.parquet", "ts", "");
    let mut push = batch_source.clone();
    push.name = "push".into();
    push.kind = SourceKind::Push {
        batch_source: Box::new(batch_source.clone()),
    };
    store.write_rows(&push, &first_rows()).await.unwrap();
    assert!(dir.path().join("pushed/events.parquet.d").is_dir());
    assert_eq!(
        latest_trips(&store, &trips_view(push)).await,
        [Some(10), Some(20)]
    );
}

#[tokio::test]
async fn pushed_rows_must_have_every_source_column() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("stats.parquet"), &first_rows());
    let store = FileOfflineStore::new(dir.path().to_path_buf());
    let rows = batch(vec![
        ("driver_id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("comment", Arc::new(StringArray::from(vec!["x"]))),
    ]);
    let err = store
        .write_rows(&file_source("s", "stats.parquet", "ts", ""), &rows)
        .await
        .unwrap_err();
    let Error::Column { file, message } = &err else {
        panic!("{err}")
    };
    assert!(file.ends_with("stats.parquet"));
    assert!(
        message.contains("source `s`: the pushed rows lack column(s) trips, ts"),
        "{message}"
    );
}
