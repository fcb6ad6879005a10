//! The conformance suite against SQLite, plus SQLite-specific behaviour: legacy text timestamps,
//! the file's life cycle, Feast's table layout.

use larder_core::entity_key::{EntityKeyLayout, KeyValue};
use larder_core::model::FeatureView;
use larder_online::conformance::Quirks;
use larder_online::{OnlineStore, SqliteOnlineStore};
use rusqlite::Connection;

/// A store in its own temp dir, which is removed when the returned guard drops.
async fn store() -> (SqliteOnlineStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        SqliteOnlineStore::open(dir.path().join("data/online.db")).expect("open sqlite store");
    (store, dir)
}

/// A [`store`] with the table of Feast's driver view in project `p`, and that view.
async fn store_with_driver_table() -> (SqliteOnlineStore, tempfile::TempDir, FeatureView) {
    let (store, dir) = store().await;
    let view = crate::feast_sqlite::driver_view();
    store
        .update("p", std::slice::from_ref(&view), &[])
        .await
        .expect("create the driver view's table");
    (store, dir, view)
}

mod conformance {
    use super::*;
    crate::all_conformance_tests!(Quirks::SQLITE);
}

#[tokio::test]
async fn tables_use_feasts_layout_and_teardown_deletes_the_file() {
    let (s, _dir, view) = store_with_driver_table().await;
    assert_eq!(
        s.infra_name("p", &view.name).as_deref(),
        Some("p_driver_hourly_stats")
    );
    let conn = Connection::open(s.path()).unwrap();
    let sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'p_driver_hourly_stats'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        sql.contains("PRIMARY KEY(entity_key, feature_name)") && sql.contains("value_text TEXT"),
        "{sql}"
    );
    // Clustered on its key, so a read seeks each key once (sql::create_table).
    assert!(sql.ends_with("WITHOUT ROWID"), "{sql}");
    let index: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'p_driver_hourly_stats_ek'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(index, 1);
    drop(conn);
    s.teardown("p", &[view]).await.unwrap();
    assert!(
        !s.path().exists(),
        "teardown must delete the database file when no table remains"
    );
}

#[tokio::test]
async fn legacy_text_timestamps_are_read_and_compared() {
    let (s, _dir, view) = store_with_driver_table().await;
    let layout = EntityKeyLayout::new(&["driver_id".to_string()], 3).unwrap();
    let key = layout.serialize(&[KeyValue::Int64(1001)]);
    let conn = Connection::open(s.path()).unwrap();
    for f in &view.features {
        let value: &[u8] = if f.name == "city" {
            &[0x12, 0x01, b'A']
        } else {
            &[]
        };
        conn.execute(
            "INSERT INTO p_driver_hourly_stats (entity_key, feature_name, value, event_ts) \
             VALUES (?1, ?2, ?3, '2026-11-24 12:00:00.250000')",
            rusqlite::params![key, f.name, value],
        )
        .unwrap();
    }
    drop(conn);
    let rows = s
        .read(
            "p",
            &view,
            &["city".to_string()],
            std::slice::from_ref(&key),
        )
        .await
        .unwrap()
        .to_rows();
    let row = rows[0].as_ref().expect("a legacy row");
    assert_eq!(row.event_ts_micros, 1_795_521_600_250_000);
    assert_eq!(row.values, vec![Some(vec![0x12, 0x01, b'A'])]);

    // An older write must not replace the legacy row; a newer one must.
    let older = crate::feast_sqlite::one_driver_batch(1001, 1_795_521_599, "B");
    let stats = s.write_batch("p", &view, &older).await.unwrap();
    assert_eq!((stats.rows_written, stats.rows_skipped), (0, 1));
    let newer = crate::feast_sqlite::one_driver_batch(1001, 1_795_521_601, "C");
    let stats = s.write_batch("p", &view, &newer).await.unwrap();
    assert_eq!((stats.rows_written, stats.rows_skipped), (1, 0));
    s.teardown("p", &[view]).await.unwrap();
}

/// A large write (2,000 drivers x 10 features) has the file to itself here, so it is written
/// through a rollback journal, and the file is in WAL mode again afterwards. While another
/// connection holds the file open, even inside a read transaction, the same write neither waits
/// for it nor changes the journal mode. Every row is written either way.
#[tokio::test]
async fn bulk_writes_take_the_rollback_journal_only_when_alone() {
    let (s, _dir, view) = store_with_driver_table().await;
    let journal_mode = |conn: &Connection| -> String {
        conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap()
    };
    let count_city = |conn: &Connection, city: &str| -> i64 {
        conn.query_row(
            "SELECT count(*) FROM p_driver_hourly_stats WHERE feature_name = 'city' \
             AND value_text = ?1",
            [city],
            |r| r.get(0),
        )
        .unwrap()
    };

    let alone = crate::feast_sqlite::drivers_batch(0..2_000, 1_795_521_600, "A");
    let stats = s.write_batch("p", &view, &alone).await.unwrap();
    assert_eq!((stats.rows_written, stats.rows_skipped), (2_000, 0));
    let reader = Connection::open(s.path()).unwrap();
    assert_eq!(journal_mode(&reader), "wal");
    assert_eq!(count_city(&reader, "A"), 2_000);

    // The reader is inside a read transaction while the next write runs.
    reader.execute_batch("BEGIN").unwrap();
    assert_eq!(count_city(&reader, "A"), 2_000);
    let shared = crate::feast_sqlite::drivers_batch(0..2_000, 1_795_521_601, "B");
    let started = std::time::Instant::now();
    let stats = s.write_batch("p", &view, &shared).await.unwrap();
    assert_eq!((stats.rows_written, stats.rows_skipped), (2_000, 0));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "a write must not wait for a reader: {:?}",
        started.elapsed()
    );
    // The reader's snapshot is unchanged until its transaction ends.
    assert_eq!(count_city(&reader, "B"), 0);
    reader.execute_batch("COMMIT").unwrap();
    assert_eq!(count_city(&reader, "B"), 2_000);
    assert_eq!(journal_mode(&reader), "wal");
    drop(reader);
    s.teardown("p", &[view]).await.unwrap();
}

#[tokio::test]
async fn missing_tables_say_to_run_apply() {
    let (s, _dir) = store().await;
    let view = crate::feast_sqlite::driver_view();
    let err = s
        .read("p", &view, &["city".to_string()], &[vec![1]])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"p_driver_hourly_stats\" does not exist") && err.contains("larder apply"),
        "{err}"
    );
}
