//! The conformance suite against a Redis Cluster at `LARDER_TEST_REDIS_CLUSTER` (default: the three
//! nodes `scripts/redis-cluster.sh start` runs on 127.0.0.1:7101-7103). Fails when it is down.

use larder_core::config::RedisType;
use larder_online::conformance::Quirks;
use larder_online::{OnlineStore, RedisOnlineStore};

fn nodes() -> String {
    std::env::var("LARDER_TEST_REDIS_CLUSTER")
        .unwrap_or_else(|_| "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103".into())
}

async fn store() -> (RedisOnlineStore, ()) {
    let config = crate::redis::config(RedisType::RedisCluster, nodes());
    let store = RedisOnlineStore::connect(&config).await.unwrap_or_else(|e| {
        panic!(
            "the Redis Cluster at {} is not reachable ({e}): start it with `scripts/redis-cluster.sh start` \
             or set LARDER_TEST_REDIS_CLUSTER",
            config.connection_string
        )
    });
    (store, ())
}

mod conformance {
    use super::*;
    crate::all_conformance_tests!(Quirks::REDIS);
}

/// Keys of one project land on every primary, so the store routes per key; and teardown scans every
/// primary, so none is left anywhere.
#[tokio::test]
async fn keys_spread_over_every_primary_and_teardown_reaches_them_all() {
    let (store, ()) = store().await;
    let project = crate::unique_project("spread");
    let view = crate::feast_sqlite::driver_view();
    store
        .update(&project, std::slice::from_ref(&view), &[])
        .await
        .unwrap();
    for id in 0..300 {
        let row = crate::feast_sqlite::one_driver_batch(id, 1_795_518_000, "x");
        store.write_batch(&project, &view, &row).await.unwrap();
    }
    for (node, keys) in keys_per_node(&project).await {
        assert!(keys > 0, "node {node} holds none of the 300 keys");
    }
    store.teardown(&project, &[view]).await.unwrap();
    for (node, keys) in keys_per_node(&project).await {
        assert_eq!(
            keys, 0,
            "node {node} still holds keys of the project after teardown"
        );
    }
}

/// How many keys ending with `project` each node holds.
async fn keys_per_node(project: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for node in nodes().split(',') {
        let client = redis::Client::open(format!("redis://{node}/")).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let pattern = format!("*{project}");
        let (mut cursor, mut found) = (0u64, 0usize);
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .unwrap();
            found += keys.len();
            if next == 0 {
                break;
            }
            cursor = next;
        }
        out.push((node.to_string(), found));
    }
    out
}

/// Why the store sends one pipeline per key on a cluster: redis-rs routes a whole pipeline to the
/// slot of its first key, so a pipeline over keys of different slots fails with CROSSSLOT (checked
/// with redis 1.8). If this starts passing, per-node pipelines in `redis/conn.rs` become possible.
#[tokio::test]
async fn redis_rs_does_not_split_cluster_pipelines_by_slot() {
    let urls: Vec<String> = nodes()
        .split(',')
        .map(|n| format!("redis://{n}/"))
        .collect();
    let client = redis::cluster::ClusterClient::new(urls).unwrap();
    let mut conn = client
        .get_async_connection()
        .await
        .expect("the test cluster");
    let project = crate::unique_project("crossslot");
    let keys: Vec<String> = (0..20).map(|i| format!("{i}{project}")).collect();
    let mut pipe = redis::pipe();
    for key in &keys {
        pipe.cmd("HGET").arg(key).arg("f");
    }
    let err = pipe
        .query_async::<Vec<Option<Vec<u8>>>>(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().to_lowercase().contains("slot"), "{err}");
}
