//! The behaviour every [`OnlineStore`] must have, as checks any store's tests can run.
//!
//! Each check takes the store, a project name that no other check or test run uses (checks create and
//! remove their own views in it), and the store's [`Quirks`]. Checks panic with a message naming the
//! check, view and key on the first difference, and tear down what they wrote when they pass.
//!
//! ```no_run
//! # async fn run() -> larder_online::Result<()> {
//! use larder_online::SqliteOnlineStore;
//! use larder_online::conformance::{self, Quirks};
//!
//! let store = SqliteOnlineStore::open("/tmp/larder-conformance/online.db")?;
//! conformance::newer_wins(&store, "newer_wins", &Quirks::SQLITE).await;
//! # Ok(())
//! # }
//! ```

mod data;

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, StringArray};
use larder_core::ValueType;
use larder_core::entity_key::{EntityKeyLayout, KeyValue};
use larder_core::proto::types::value::Val;

use self::data::{
    SECOND, T0, all_types_batch, all_types_values, all_types_view, check_rows, driver_batch,
    driver_batch_values, driver_keys, driver_view, expect_drivers, expect_write, int64, layout,
    make_view, read_all, record_batch, stats, ts_column, value, write,
};
use crate::{OnlineRow, OnlineStore, WriteStats};

/// Where stores may differ and still conform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    /// Whether a row with the same event time as the stored one replaces it (SQLite: yes, so reruns
    /// rewrite) or is skipped (Redis, as in Feast). Either way an older row never replaces a newer one.
    pub equal_timestamp_overwrites: bool,
    /// The resolution of stored event times, in microseconds (SQLite: whole seconds; Redis: 1).
    pub timestamp_resolution_micros: i64,
}

impl Quirks {
    /// [`crate::SqliteOnlineStore`].
    pub const SQLITE: Quirks = Quirks {
        equal_timestamp_overwrites: true,
        timestamp_resolution_micros: 1_000_000,
    };
    /// [`crate::RedisOnlineStore`], single server or cluster.
    pub const REDIS: Quirks = Quirks {
        equal_timestamp_overwrites: false,
        timestamp_resolution_micros: 1,
    };

    /// `micros` as the store keeps it.
    fn stored(&self, micros: i64) -> i64 {
        micros - micros.rem_euclid(self.timestamp_resolution_micros)
    }
}

/// Every scalar type and two list types, with nulls, written and read back byte for byte; reading a
/// subset of features in another order, and a feature the view does not have.
pub async fn round_trip(store: &dyn OnlineStore, project: &str, quirks: &Quirks) {
    let view = all_types_view();
    store
        .update(project, std::slice::from_ref(&view), &[])
        .await
        .expect("update");
    let times = vec![T0 + 250_000, T0, T0 + 999_999];
    let stats = write(store, project, &view, all_types_batch(&times)).await;
    assert_eq!(
        stats,
        WriteStats {
            rows_written: 3,
            rows_skipped: 0
        },
        "round_trip: write stats"
    );

    let keys = driver_keys(&view, &[1, 2, 3]);
    let expected = all_types_values();
    let want: Vec<Option<OnlineRow>> = (0..3)
        .map(|i| {
            Some(OnlineRow {
                event_ts_micros: quirks.stored(times[i]),
                values: expected[i].clone(),
            })
        })
        .collect();
    check_rows(
        "round_trip",
        &view,
        &read_all(store, project, &view, &keys).await,
        &want,
    );

    let subset = ["s", "i32", "not_a_feature"].map(String::from);
    let got = store
        .read(project, &view, &subset, &keys[..1])
        .await
        .expect("read a subset")
        .to_rows();
    let want_subset = vec![Some(OnlineRow {
        event_ts_micros: quirks.stored(times[0]),
        values: vec![expected[0][5].clone(), expected[0][0].clone(), None],
    })];
    check_rows("round_trip (subset of features)", &view, &got, &want_subset);
    store.teardown(project, &[view]).await.expect("teardown");
}

/// Keys never written read as `None`, in request order, duplicates included; no keys read as
/// nothing; another project's data is invisible.
pub async fn unknown_keys(store: &dyn OnlineStore, project: &str, _quirks: &Quirks) {
    let view = driver_view("drivers");
    store
        .update(project, std::slice::from_ref(&view), &[])
        .await
        .expect("update");
    write(store, project, &view, driver_batch(&[1, 2], &[T0, T0], 5)).await;
    let keys = driver_keys(&view, &[3, 1, 3, 2, 1]);
    let got = read_all(store, project, &view, &keys).await;
    let found: Vec<bool> = got.iter().map(Option::is_some).collect();
    assert_eq!(
        found,
        vec![false, true, false, true, true],
        "unknown_keys: which keys are found"
    );
    assert_eq!(
        got[1], got[4],
        "unknown_keys: a key asked twice reads the same"
    );
    assert!(
        read_all(store, project, &view, &[]).await.is_empty(),
        "unknown_keys: no keys read as nothing"
    );

    let other = format!("{project}_other");
    store
        .update(&other, std::slice::from_ref(&view), &[])
        .await
        .expect("update the other project");
    let got = read_all(store, &other, &view, &keys).await;
    assert!(
        got.iter().all(Option::is_none),
        "unknown_keys: another project's keys must not be visible"
    );
    store
        .teardown(&other, std::slice::from_ref(&view))
        .await
        .expect("teardown the other project");
    store.teardown(project, &[view]).await.expect("teardown");
}

/// An older row never replaces a newer one; an equal one does when [`Quirks::equal_timestamp_overwrites`];
/// a newer one does; skipped rows are counted; within one batch the newest row of a key wins.
pub async fn newer_wins(store: &dyn OnlineStore, project: &str, quirks: &Quirks) {
    let view = driver_view("drivers");
    store
        .update(project, std::slice::from_ref(&view), &[])
        .await
        .expect("update");
    let ids = [1, 2, 3];
    let step = |batch, want, what| expect_write(store, project, &view, batch, want, what);
    step(
        driver_batch(&ids, &[T0; 3], 1),
        stats(3, 0),
        "first writing",
    )
    .await;
    step(
        driver_batch(&ids, &[T0 - 10 * SECOND; 3], 0),
        stats(0, 3),
        "writing older rows",
    )
    .await;
    expect_drivers(
        store,
        project,
        &view,
        quirks,
        &[(1, T0, 1), (2, T0, 1), (3, T0, 1)],
        "after older rows",
    )
    .await;

    let (equal, after_equal) = if quirks.equal_timestamp_overwrites {
        (stats(3, 0), 2)
    } else {
        (stats(0, 3), 1)
    };
    step(
        driver_batch(&ids, &[T0; 3], 2),
        equal,
        "writing rows as old as the stored ones",
    )
    .await;
    let v = after_equal;
    expect_drivers(
        store,
        project,
        &view,
        quirks,
        &[(1, T0, v), (2, T0, v), (3, T0, v)],
        "after equal rows",
    )
    .await;

    let t1 = T0 + 10 * SECOND;
    step(
        driver_batch(&ids, &[t1; 3], 3),
        stats(3, 0),
        "writing newer rows",
    )
    .await;
    step(
        driver_batch(&[1, 2, 4], &[T0 + 20 * SECOND, T0, T0], 4),
        stats(2, 1),
        "mixing newer, older and new keys",
    )
    .await;
    let t2 = T0 + 20 * SECOND;
    expect_drivers(
        store,
        project,
        &view,
        quirks,
        &[(1, t2, 4), (2, t1, 3), (3, t1, 3), (4, T0, 4)],
        "after mixed rows",
    )
    .await;

    let dup = driver_batch_values(&[1, 1], &[T0 + 40 * SECOND, T0 + 30 * SECOND], &[6, 5]);
    step(
        dup,
        stats(1, 1),
        "one batch holds a key twice, the newer first",
    )
    .await;
    expect_drivers(
        store,
        project,
        &view,
        quirks,
        &[(1, T0 + 40 * SECOND, 6)],
        "after a batch with a key twice",
    )
    .await;
    store.teardown(project, &[view]).await.expect("teardown");
}

/// Two views with the same join keys (Redis: the same hashes) and a feature name in common keep their
/// values apart, and removing one leaves the other.
pub async fn views_sharing_keys(store: &dyn OnlineStore, project: &str, quirks: &Quirks) {
    let a = driver_view("view_a");
    let b = driver_view("view_b");
    let both = [a.clone(), b.clone()];
    store.update(project, &both, &[]).await.expect("update");
    write(store, project, &a, driver_batch(&[1, 2], &[T0, T0], 10)).await;
    write(
        store,
        project,
        &b,
        driver_batch(&[1, 2], &[T0 + SECOND, T0 + SECOND], 20),
    )
    .await;
    expect_drivers(
        store,
        project,
        &a,
        quirks,
        &[(1, T0, 10), (2, T0, 10)],
        "view_a beside view_b",
    )
    .await;
    expect_drivers(
        store,
        project,
        &b,
        quirks,
        &[(1, T0 + SECOND, 20), (2, T0 + SECOND, 20)],
        "view_b",
    )
    .await;

    store
        .teardown(project, std::slice::from_ref(&b))
        .await
        .expect("teardown view_b");
    store
        .update(project, std::slice::from_ref(&b), &[])
        .await
        .expect("recreate view_b");
    let gone = read_all(store, project, &b, &driver_keys(&b, &[1, 2])).await;
    assert!(
        gone.iter().all(Option::is_none),
        "views_sharing_keys: view_b must be empty after its teardown"
    );
    expect_drivers(
        store,
        project,
        &a,
        quirks,
        &[(1, T0, 10), (2, T0, 10)],
        "view_a after view_b's teardown",
    )
    .await;
    store.teardown(project, &both).await.expect("teardown");
}

/// A view without entities stores one row under Feast's `__dummy_id = ""` key.
pub async fn entity_less_view(store: &dyn OnlineStore, project: &str, quirks: &Quirks) {
    let view = make_view("totals", &[], &[("total", ValueType::Int64)]);
    store
        .update(project, std::slice::from_ref(&view), &[])
        .await
        .expect("update");
    let batch = |total: i64, at: i64| {
        record_batch(vec![
            ("total", Arc::new(Int64Array::from(vec![total])) as ArrayRef),
            ts_column(&[at]),
        ])
    };
    assert_eq!(
        write(store, project, &view, batch(5, T0)).await,
        stats(1, 0),
        "entity_less_view: first write"
    );
    assert_eq!(
        write(store, project, &view, batch(7, T0 + SECOND)).await,
        stats(1, 0),
        "entity_less_view: newer"
    );
    let key = layout(&view).serialize(&[KeyValue::Str("")]);
    let got = read_all(store, project, &view, &[key]).await;
    let want = vec![Some(OnlineRow {
        event_ts_micros: quirks.stored(T0 + SECOND),
        values: vec![Some(int64(7))],
    })];
    check_rows("entity_less_view", &view, &got, &want);
    store.teardown(project, &[view]).await.expect("teardown");
}

/// `update` with views to delete removes their data and keeps the others; `teardown` removes
/// everything of its views, and the store works again after it.
pub async fn update_and_teardown(store: &dyn OnlineStore, project: &str, quirks: &Quirks) {
    let keep = driver_view("kept");
    let gone = driver_view("deleted");
    let other = make_view(
        "by_user",
        &[("user", ValueType::String)],
        &[("score", ValueType::Double)],
    );
    let all = [keep.clone(), gone.clone(), other.clone()];
    store.update(project, &all, &[]).await.expect("update");
    write(store, project, &keep, driver_batch(&[1], &[T0], 1)).await;
    write(store, project, &gone, driver_batch(&[1], &[T0], 2)).await;
    let user_batch = record_batch(vec![
        ("user", Arc::new(StringArray::from(vec!["u1"])) as ArrayRef),
        ("score", Arc::new(Float64Array::from(vec![0.5])) as ArrayRef),
        ts_column(&[T0]),
    ]);
    write(store, project, &other, user_batch).await;
    let user_key = layout(&other).serialize(&[KeyValue::Str("u1")]);

    store
        .update(
            project,
            &[keep.clone(), other.clone()],
            std::slice::from_ref(&gone),
        )
        .await
        .expect("update delete");
    store
        .update(project, std::slice::from_ref(&gone), &[])
        .await
        .expect("recreate");
    let got = read_all(store, project, &gone, &driver_keys(&gone, &[1])).await;
    assert_eq!(
        got,
        vec![None],
        "update_and_teardown: a deleted view's data must be gone"
    );
    expect_drivers(
        store,
        project,
        &keep,
        quirks,
        &[(1, T0, 1)],
        "a kept view after update",
    )
    .await;
    let got = read_all(store, project, &other, std::slice::from_ref(&user_key)).await;
    assert!(
        got[0].is_some(),
        "update_and_teardown: a view with other join keys must be kept"
    );

    store.teardown(project, &all).await.expect("teardown");
    store
        .update(project, &all, &[])
        .await
        .expect("update after teardown");
    let got = read_all(store, project, &keep, &driver_keys(&keep, &[1])).await;
    assert_eq!(
        got,
        vec![None],
        "update_and_teardown: teardown must remove the data"
    );
    let got = read_all(store, project, &other, &[user_key]).await;
    assert_eq!(
        got,
        vec![None],
        "update_and_teardown: teardown must remove every view's data"
    );
    assert_eq!(
        write(store, project, &keep, driver_batch(&[1], &[T0], 3)).await,
        stats(1, 0),
        "write after teardown"
    );
    store.teardown(project, &all).await.expect("teardown");
}

/// A view keyed by two join keys (declared `user, a`; the key sorts them) stores and finds each pair.
pub async fn multi_key_entity(store: &dyn OnlineStore, project: &str, quirks: &Quirks) {
    let view = make_view(
        "pairs",
        &[("user", ValueType::String), ("a", ValueType::Int32)],
        &[("n", ValueType::Int64)],
    );
    store
        .update(project, std::slice::from_ref(&view), &[])
        .await
        .expect("update");
    let batch = record_batch(vec![
        ("a", Arc::new(Int32Array::from(vec![7, 8, 7])) as ArrayRef),
        ("n", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        (
            "user",
            Arc::new(StringArray::from(vec!["u1", "u1", "u2"])) as ArrayRef,
        ),
        ts_column(&[T0; 3]),
    ]);
    assert_eq!(
        write(store, project, &view, batch).await,
        stats(3, 0),
        "multi_key_entity: write stats"
    );
    let declared = layout(&view);
    let sorted = EntityKeyLayout::new(&["a".to_string(), "user".to_string()], 3).expect("layout");
    let keys = vec![
        declared.serialize(&[KeyValue::Str("u2"), KeyValue::Int32(7)]),
        sorted.serialize(&[KeyValue::Int32(8), KeyValue::Str("u1")]),
        declared.serialize(&[KeyValue::Str("u1"), KeyValue::Int32(7)]),
        declared.serialize(&[KeyValue::Str("u2"), KeyValue::Int32(8)]),
    ];
    let row = |n| {
        Some(OnlineRow {
            event_ts_micros: quirks.stored(T0),
            values: vec![Some(int64(n))],
        })
    };
    check_rows(
        "multi_key_entity",
        &view,
        &read_all(store, project, &view, &keys).await,
        &[row(3), row(2), row(1), None],
    );
    store.teardown(project, &[view]).await.expect("teardown");
}

/// 50,000 rows in one batch are written and read back exactly (reads and writes cross the stores'
/// chunk sizes).
pub async fn large_batch(store: &dyn OnlineStore, project: &str, quirks: &Quirks) {
    const ROWS: i64 = 50_000;
    let view = make_view(
        "large",
        &[("driver_id", ValueType::Int64)],
        &[
            ("trips", ValueType::Int64),
            ("rate", ValueType::Double),
            ("city", ValueType::String),
        ],
    );
    store
        .update(project, std::slice::from_ref(&view), &[])
        .await
        .expect("update");
    let ids: Vec<i64> = (0..ROWS).collect();
    let times: Vec<i64> = ids.iter().map(|i| T0 + i * SECOND + 1).collect();
    let batch = record_batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from(ids.clone())) as ArrayRef,
        ),
        (
            "trips",
            Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| i * 3))) as ArrayRef,
        ),
        (
            "rate",
            Arc::new(Float64Array::from_iter_values(
                ids.iter().map(|&i| i as f64 / 7.0),
            )) as ArrayRef,
        ),
        (
            "city",
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("c{i}")),
            )) as ArrayRef,
        ),
        ts_column(&times),
    ]);
    assert_eq!(
        write(store, project, &view, batch).await,
        stats(ROWS as u64, 0),
        "large_batch: write stats"
    );
    let keys = driver_keys(&view, &ids);
    let want: Vec<Option<OnlineRow>> = ids
        .iter()
        .map(|&i| {
            let values = vec![
                Some(int64(i * 3)),
                Some(value(Val::DoubleVal(i as f64 / 7.0))),
                Some(value(Val::StringVal(format!("c{i}")))),
            ];
            Some(OnlineRow {
                event_ts_micros: quirks.stored(times[i as usize]),
                values,
            })
        })
        .collect();
    check_rows(
        "large_batch",
        &view,
        &read_all(store, project, &view, &keys).await,
        &want,
    );
    store.teardown(project, &[view]).await.expect("teardown");
}
