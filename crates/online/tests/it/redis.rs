//! The conformance suite against a single Redis server at `LARDER_TEST_REDIS_URL` (default
//! `127.0.0.1:6379`), plus Feast's key layout, TTLs and options. Fails when the server is down.

use larder_core::config::{RedisConfig, RedisType};
use larder_core::entity_key::{EntityKeyLayout, KeyValue};
use larder_online::conformance::Quirks;
use larder_online::{Error, OnlineStore, RedisOnlineStore};
use prost::Message;

/// The server under test, as a `connection_string`.
pub(crate) fn server() -> String {
    std::env::var("LARDER_TEST_REDIS_URL").unwrap_or_else(|_| "127.0.0.1:6379".into())
}

pub(crate) fn config(redis_type: RedisType, connection_string: String) -> RedisConfig {
    RedisConfig {
        redis_type,
        connection_string,
        key_ttl_seconds: None,
        full_scan_for_deletion: true,
        skip_dedup: false,
        sentinel_master: "mymaster".into(),
    }
}

async fn connect(config: &RedisConfig) -> RedisOnlineStore {
    RedisOnlineStore::connect(config).await.unwrap_or_else(|e| {
        panic!(
            "Redis at {} is not reachable ({e}): start it with \
             `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no` \
             or set LARDER_TEST_REDIS_URL",
            config.connection_string
        )
    })
}

async fn store() -> (RedisOnlineStore, ()) {
    (connect(&config(RedisType::Redis, server())).await, ())
}

/// A plain connection to look at what the store wrote.
async fn raw() -> redis::aio::MultiplexedConnection {
    let s = server();
    let url = if s.contains("://") {
        s
    } else {
        format!("redis://{s}/")
    };
    let client = redis::Client::open(url).expect("redis url");
    client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test Redis")
}

mod conformance {
    use super::*;
    crate::all_conformance_tests!(Quirks::REDIS);
}

/// `driver_hourly_stats` with two of the fixture's features.
fn driver_view() -> larder_core::model::FeatureView {
    let mut view = crate::feast_sqlite::driver_view();
    view.features
        .retain(|f| f.name == "conv_rate" || f.name == "city");
    view
}

fn driver_key(id: i64) -> Vec<u8> {
    EntityKeyLayout::new(&["driver_id".to_string()], 3)
        .unwrap()
        .serialize(&[KeyValue::Int64(id)])
}

fn one_row(id: i64, secs: i64, city: &str) -> larder_online::WriteBatch {
    use arrow::array::{
        ArrayRef, Float32Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    use std::sync::Arc;
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("driver_id", Arc::new(Int64Array::from(vec![id]))),
        ("conv_rate", Arc::new(Float32Array::from(vec![0.5]))),
        ("city", Arc::new(StringArray::from(vec![city]))),
        (
            larder_core::model::EVENT_TS_COLUMN,
            Arc::new(
                TimestampMicrosecondArray::from(vec![secs * 1_000_000 + 7]).with_timezone("UTC"),
            ),
        ),
    ];
    let fields: Vec<_> = columns
        .iter()
        .map(|(n, a)| arrow::datatypes::Field::new(*n, a.data_type().clone(), true))
        .collect();
    let batch = arrow::record_batch::RecordBatch::try_new(
        Arc::new(arrow::datatypes::Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let layout = EntityKeyLayout::new(&["driver_id".to_string()], 3).unwrap();
    larder_online::WriteBatch::from_record_batch(&batch, &driver_view(), &layout).unwrap()
}

#[tokio::test]
async fn writes_feasts_hash_layout_with_ttl() {
    let mut cfg = config(RedisType::Redis, server());
    cfg.key_ttl_seconds = Some(3600);
    let store = connect(&cfg).await;
    let project = crate::unique_project("layout");
    let view = driver_view();
    store
        .write_batch(&project, &view, &one_row(1001, 1_795_518_000, "Delhi"))
        .await
        .unwrap();

    let mut key = driver_key(1001);
    key.extend_from_slice(project.as_bytes());
    let mut conn = raw().await;
    let fields: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let field = |hex: &str| {
        let name: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        fields
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, v)| v.clone())
    };
    // murmur3 of "driver_hourly_stats:conv_rate" (Feast's spec) -> FloatVal(0.5).
    assert_eq!(field("6160e3da"), Some(vec![0x35, 0, 0, 0, 0x3f]));
    let ts = fields
        .iter()
        .find(|(f, _)| f == b"_ts:driver_hourly_stats")
        .expect("a _ts field")
        .1
        .clone();
    let ts = prost_types::Timestamp::decode(ts.as_slice()).unwrap();
    assert_eq!((ts.seconds, ts.nanos), (1_795_518_000, 7_000));
    assert_eq!(fields.len(), 3, "two features and the timestamp");
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        ttl > 3500 && ttl <= 3600,
        "key_ttl_seconds sets the key's TTL, got {ttl}"
    );

    store.teardown(&project, &[view]).await.unwrap();
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 0, "teardown deletes the hash");
}

#[tokio::test]
async fn reads_what_feast_writes() {
    let (store, ()) = store().await;
    let project = crate::unique_project("feast_written");
    let mut key = driver_key(1002);
    key.extend_from_slice(project.as_bytes());
    // As Feast's online_write_batch writes it: whole-second Timestamp, empty value for null.
    let ts = prost_types::Timestamp {
        seconds: 1_795_518_000,
        nanos: 0,
    }
    .encode_to_vec();
    let mut conn = raw().await;
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg(&[0x61u8, 0x60, 0xe3, 0xda][..])
        .arg(&[0x35u8, 0, 0, 0x80, 0x3f][..])
        .arg(b"_ts:driver_hourly_stats")
        .arg(ts)
        .query_async(&mut conn)
        .await
        .unwrap();
    let features = ["conv_rate".to_string(), "city".to_string()];
    let rows = store
        .read(
            &project,
            &driver_view(),
            &features,
            &[driver_key(1002), driver_key(1)],
        )
        .await
        .unwrap()
        .to_rows();
    let row = rows[0].as_ref().expect("Feast's row");
    assert_eq!(row.event_ts_micros, 1_795_518_000_000_000);
    assert_eq!(row.values, vec![Some(vec![0x35, 0, 0, 0x80, 0x3f]), None]);
    assert_eq!(rows[1], None);
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn skip_dedup_writes_without_checking() {
    let mut cfg = config(RedisType::Redis, server());
    cfg.skip_dedup = true;
    let store = connect(&cfg).await;
    let project = crate::unique_project("skip_dedup");
    let view = driver_view();
    store
        .write_batch(&project, &view, &one_row(1, 200, "new"))
        .await
        .unwrap();
    let stats = store
        .write_batch(&project, &view, &one_row(1, 100, "old"))
        .await
        .unwrap();
    assert_eq!((stats.rows_written, stats.rows_skipped), (1, 0));
    let rows = store
        .read(&project, &view, &["city".to_string()], &[driver_key(1)])
        .await
        .unwrap();
    assert_eq!(rows.event_ts(0), Some(100_000_007));
    store.teardown(&project, &[view]).await.unwrap();
}

#[tokio::test]
async fn unsupported_and_unreachable_servers_fail_clearly() {
    let sentinel = RedisOnlineStore::connect(&config(RedisType::RedisSentinel, server()))
        .await
        .unwrap_err();
    assert!(
        matches!(sentinel, Error::Config(_)) && sentinel.to_string().contains("not supported yet"),
        "{sentinel}"
    );
    let down = RedisOnlineStore::connect(&config(RedisType::Redis, "127.0.0.1:1".into()))
        .await
        .unwrap_err();
    assert!(down.to_string().contains("127.0.0.1:1"), "{down}");
}

/// Reads `city` of drivers 1..=`n` of `project`.
async fn read_drivers(
    store: &RedisOnlineStore,
    project: &str,
    n: usize,
) -> larder_online::Result<larder_online::OnlineRows> {
    let keys: Vec<Vec<u8>> = (1..=n as i64).map(driver_key).collect();
    store
        .read(project, &driver_view(), &["city".to_string()], &keys)
        .await
}

/// The two sizes of read that take the two ways a single server is read: one key (the shared
/// connection) and enough keys for the pooled connections.
const READ_SIZES: [usize; 2] = [1, RedisOnlineStore::POOLED_READ_MIN_KEYS];

/// The value of `city` that `store` reads for driver 1 of `project`, the same by both ways of
/// reading: `None` when nothing is stored.
async fn read_city(store: &RedisOnlineStore, project: &str) -> Option<Vec<u8>> {
    let mut found = Vec::new();
    for n in READ_SIZES {
        let rows = read_drivers(store, project, n)
            .await
            .unwrap_or_else(|e| panic!("reading {n} keys of project {project}: {e}"));
        assert!(
            rows.len() < 2 || rows.event_ts(1).is_none(),
            "only driver 1 is written"
        );
        found.push(rows.value(0, 0).map(<[u8]>::to_vec));
    }
    assert_eq!(found[0], found[1], "both ways read the same");
    found.pop().unwrap()
}

/// Why reading driver 1 of `project` fails, by both ways of reading.
async fn read_error(store: &RedisOnlineStore, project: &str) -> String {
    let mut errors = Vec::new();
    for n in READ_SIZES {
        match read_drivers(store, project, n).await {
            Ok(_) => panic!("reading {n} keys of project {project} should fail"),
            Err(e) => errors.push(e.to_string()),
        }
    }
    errors.join("\n")
}

fn string_value(s: &str) -> Vec<u8> {
    larder_core::proto::types::Value {
        val: Some(larder_core::proto::types::value::Val::StringVal(s.into())),
    }
    .encode_to_vec()
}

#[tokio::test]
async fn reads_log_in_and_select_the_database_as_configured() {
    let project = crate::unique_project("auth_db");
    let user = format!("larder_{project}");
    let mut admin = raw().await;
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", &user, "on", ">s3cret", "~*", "+@all"][..])
        .query_async(&mut admin)
        .await
        .unwrap();
    let in_db_3 = connect(&config(
        RedisType::Redis,
        format!("{},db=3,username={user},password=s3cret", server()),
    ))
    .await;
    in_db_3
        .write_batch(&project, &driver_view(), &one_row(1, 100, "Oslo"))
        .await
        .unwrap();
    assert_eq!(
        read_city(&in_db_3, &project).await,
        Some(string_value("Oslo"))
    );
    let (in_db_0, ()) = store().await;
    assert_eq!(
        read_city(&in_db_0, &project).await,
        None,
        "db 0 holds nothing"
    );

    let wrong = connect(&config(
        RedisType::Redis,
        format!("{},db=3,username={user},password=s3cret", server()),
    ))
    .await;
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", &user, "resetpass", ">changed"][..])
        .query_async(&mut admin)
        .await
        .unwrap();
    let err = read_error(&wrong, &project).await;
    assert!(
        err.contains("AUTH") && err.contains("reading view"),
        "{err}"
    );

    in_db_3.teardown(&project, &[driver_view()]).await.unwrap();
    let _: () = redis::cmd("ACL")
        .arg(&["DELUSER", &user][..])
        .query_async(&mut admin)
        .await
        .unwrap();
}

/// A private `redis-server` on a free loopback port, stopped when dropped.
struct PrivateServer {
    port: u16,
    child: std::process::Child,
}

impl PrivateServer {
    fn start(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is on PATH (the Redis tests need it)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server on port {port} did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        PrivateServer { port, child }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn reads_go_on_after_the_server_restarts() {
    let mut server = PrivateServer::start(PrivateServer::free_port());
    let address = format!("127.0.0.1:{}", server.port);
    let store = connect(&config(RedisType::Redis, address.clone())).await;
    store
        .write_batch("p", &driver_view(), &one_row(1, 100, "Oslo"))
        .await
        .unwrap();
    assert_eq!(read_city(&store, "p").await, Some(string_value("Oslo")));

    // The store's idle read connections now lead to a server that is gone.
    server.stop();
    let mut server = PrivateServer::start(server.port);
    let client = redis::Client::open(format!("redis://{address}/")).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut key = driver_key(1);
    key.extend_from_slice(b"p");
    let mut ts = Vec::new();
    prost_types::Timestamp {
        seconds: 200,
        nanos: 0,
    }
    .encode(&mut ts)
    .unwrap();
    let city = layout_field("driver_hourly_stats:city");
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg(&city[..])
        .arg(string_value("Bergen"))
        .arg("_ts:driver_hourly_stats")
        .arg(ts)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(read_city(&store, "p").await, Some(string_value("Bergen")));

    server.stop();
    let err = read_error(&store, "p").await;
    assert!(
        err.contains("reading view driver_hourly_stats") && err.contains(&address),
        "{err}"
    );
}

/// Feast's hash field of `"<view>:<feature>"`.
fn layout_field(name: &str) -> [u8; 4] {
    mur3::murmurhash3_x86_32(name.as_bytes(), 0).to_le_bytes()
}

#[tokio::test]
async fn concurrent_small_reads_each_get_their_own_replies() {
    let (store, ()) = store().await;
    let project = crate::unique_project("shared_order");
    let view = driver_view();
    for id in 1..=40 {
        store
            .write_batch(&project, &view, &one_row(id, 100, &format!("city {id}")))
            .await
            .unwrap();
    }
    // Reads of one or two keys, many at once on one store handle, some given up half-way: each
    // that finishes must hold its own drivers' values, in order.
    let read = |ids: Vec<i64>, give_up: bool| {
        let (store, project, view) = (&store, &project, &view);
        async move {
            let keys: Vec<Vec<u8>> = ids.iter().map(|&id| driver_key(id)).collect();
            let features = ["city".to_string()];
            let reading = store.read(project, view, &features, &keys);
            if give_up {
                // Polled once (the read is queued), then dropped.
                let _ = tokio::time::timeout(std::time::Duration::ZERO, reading).await;
                return;
            }
            let rows = reading.await.unwrap();
            for (i, id) in ids.iter().enumerate() {
                let want = (*id <= 40).then(|| string_value(&format!("city {id}")));
                assert_eq!(
                    rows.value(i, 0).map(<[u8]>::to_vec),
                    want,
                    "driver {id} of {ids:?}"
                );
            }
        }
    };
    for round in 0..3 {
        let reads = (0..300i64).map(|i| {
            let ids = if i % 3 == 0 {
                vec![i % 45 + 1, (i * 7) % 45 + 1]
            } else {
                vec![i % 45 + 1]
            };
            read(ids, round > 0 && i % 4 == 0)
        });
        futures::future::join_all(reads).await;
    }
    store.teardown(&project, &[view]).await.unwrap();
}
