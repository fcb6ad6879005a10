//! Integration tests of `larder-online`: the conformance suite against every store (SQLite in a temp
//! dir, Redis at `LARDER_TEST_REDIS_URL`, a Redis Cluster at `LARDER_TEST_REDIS_CLUSTER`), and
//! compatibility with the files Feast 0.67 writes.
//!
//! Redis tests fail (they do not skip) when their server is down: start Redis on 127.0.0.1:6379 and
//! the cluster with `scripts/redis-cluster.sh start`.

mod cluster;
mod feast_sqlite;
mod redis;
mod sqlite;

/// A project name no other test or test run uses, so that runs sharing a Redis never collide.
pub(crate) fn unique_project(check: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("it_{check}_{}_{nanos}_{n}", std::process::id())
}

/// One `#[tokio::test]` per conformance check, each with a fresh store from the module's
/// `async fn store() -> (Store, Guard)` (the guard lives until the test ends) and a unique project.
macro_rules! conformance_tests {
    ($quirks:expr, $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let (store, _guard) = store().await;
                let project = crate::unique_project(stringify!($check));
                larder_online::conformance::$check(&store, &project, &$quirks).await;
            }
        )+
    };
}
pub(crate) use conformance_tests;

/// Every conformance check, for [`conformance_tests`].
macro_rules! all_conformance_tests {
    ($quirks:expr) => {
        crate::conformance_tests!(
            $quirks,
            round_trip,
            unknown_keys,
            newer_wins,
            views_sharing_keys,
            entity_less_view,
            update_and_teardown,
            multi_key_entity,
            large_batch,
        );
    };
}
pub(crate) use all_conformance_tests;
