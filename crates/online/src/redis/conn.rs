//! Connections: Feast's `connection_string`, a single server (through a `ConnectionManager`) or a
//! Redis Cluster, and [`Commands`], which send per-key command groups the right way for each.
//!
//! redis-rs does not split a pipeline by slot: a cluster pipeline goes to the node of its first key
//! and fails with `CROSSSLOT` when keys live in different slots. So on a cluster every key's commands
//! form their own small pipeline (one slot), and those pipelines run concurrently over the
//! multiplexed node connections; on a single server they form one pipeline.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{
    Client, Cmd, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, Pipeline, RedisResult, Value,
    cmd,
};

use crate::error::{Error, Result};

/// How long to wait for a TCP connection.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for a reply (a pipeline of a few thousand commands included).
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Per-key pipelines in flight at once on a cluster.
const CLUSTER_IN_FLIGHT: usize = 256;
/// `SCAN ... COUNT`.
const SCAN_COUNT: usize = 1000;

/// Feast's `connection_string`: `host:port` nodes and `key=value` options, comma-separated.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct ConnectionSpec {
    /// The nodes, as written (`host:port`, `host`, or a `redis://` URL).
    pub(super) nodes: Vec<String>,
    /// `db=`.
    pub(super) db: Option<i64>,
    /// `username=`.
    pub(super) username: Option<String>,
    /// `password=`.
    pub(super) password: Option<String>,
}

impl ConnectionSpec {
    /// Parses a `connection_string` such as `redis:6379,db=0,password=x` or `r1:6379,r2:6379`.
    pub(super) fn parse(text: &str) -> Result<Self> {
        let mut spec = ConnectionSpec::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                Some((key, value)) if !item.contains("://") => {
                    spec.option(key.trim(), unquote(value.trim()))?
                }
                _ => spec.nodes.push(item.to_string()),
            }
        }
        if spec.nodes.is_empty() {
            return Err(Error::Config(format!(
                "online_store.connection_string `{text}` names no server: give host:port, e.g. localhost:6379"
            )));
        }
        Ok(spec)
    }

    fn option(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "password" => self.password = Some(value.to_string()),
            "username" => self.username = Some(value.to_string()),
            "db" => {
                let db = value.parse().map_err(|_| {
                    Error::Config(format!(
                        "online_store.connection_string: db={value} is not a database number"
                    ))
                })?;
                self.db = Some(db);
            }
            "ssl" if truthy(value) => {
                return Err(Error::Config(
                    "online_store.connection_string: ssl=true is not supported yet (this build of Larder has \
                     no TLS for Redis): connect without TLS, e.g. through a local TLS tunnel"
                        .into(),
                ));
            }
            "ssl" => {}
            other => tracing::warn!(
                option = other,
                "online_store.connection_string: ignoring option `{other}`, which Larder does not use"
            ),
        }
        Ok(())
    }

    /// The nodes, for messages (no credentials).
    pub(super) fn describe(&self) -> String {
        self.nodes
            .iter()
            .map(|n| strip_url_credentials(n))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The connection info of `node`, with the spec's options applied.
    pub(super) fn node_info(&self, node: &str) -> Result<ConnectionInfo> {
        let bad = |why: String| {
            Error::Config(format!(
                "online_store.connection_string: node `{node}`: {why}"
            ))
        };
        let info = if node.contains("://") {
            node.into_connection_info()
                .map_err(|e| bad(e.to_string()))?
        } else {
            let (host, port) = match node.rsplit_once(':') {
                Some((h, p)) => (
                    h,
                    p.parse::<u16>()
                        .map_err(|_| bad(format!("`{p}` is not a port")))?,
                ),
                None => (node, 6379),
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            ConnectionAddr::Tcp(host.to_string(), port)
                .into_connection_info()
                .map_err(|e| bad(e.to_string()))?
        };
        let mut redis = info.redis_settings().clone();
        if let Some(db) = self.db {
            redis = redis.set_db(db);
        }
        if let Some(user) = &self.username {
            redis = redis.set_username(user);
        }
        if let Some(password) = &self.password {
            redis = redis.set_password(password);
        }
        Ok(info.set_redis_settings(redis))
    }
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

fn truthy(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
}

fn strip_url_credentials(node: &str) -> String {
    match (node.split_once("://"), node.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://{}", &node[at + 1..]),
        _ => node.to_string(),
    }
}

/// A connection to a single server or to a cluster; cheap to clone (multiplexed).
#[derive(Clone)]
pub(super) enum Conn {
    /// One server (`redis_type: redis`): the first node.
    Single(ConnectionManager),
    /// A Redis Cluster (`redis_type: redis_cluster`), discovered from all nodes.
    Cluster(ClusterConnection),
}

impl Conn {
    /// Connects to the first node of `spec`.
    pub(super) async fn single(spec: &ConnectionSpec) -> Result<Conn> {
        let info = spec.node_info(&spec.nodes[0])?;
        let client = Client::open(info).map_err(|e| connect_error(spec, e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2);
        let manager = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| connect_error(spec, e))?;
        Ok(Conn::Single(manager))
    }

    /// Connects to the cluster that `spec`'s nodes belong to.
    pub(super) async fn cluster(spec: &ConnectionSpec) -> Result<Conn> {
        if spec.db.is_some_and(|db| db != 0) {
            return Err(Error::Config(
                "online_store.connection_string: a Redis Cluster has only database 0: remove db="
                    .into(),
            ));
        }
        let nodes = spec
            .nodes
            .iter()
            .map(|n| spec.node_info(n))
            .collect::<Result<Vec<_>>>()?;
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .retries(2)
            .build()
            .map_err(|e| connect_error(spec, e))?;
        let conn = client
            .get_async_connection()
            .await
            .map_err(|e| connect_error(spec, e))?;
        Ok(Conn::Cluster(conn))
    }

    /// An empty set of per-key command groups for this connection.
    pub(super) fn commands(&self) -> Commands {
        match self {
            Conn::Single(conn) => Commands::Single {
                conn: conn.clone(),
                pipe: redis::pipe(),
            },
            Conn::Cluster(conn) => Commands::Cluster {
                conn: conn.clone(),
                pipes: Vec::new(),
            },
        }
    }

    /// How many of the keys that `add_keys` adds to an `EXISTS` exist, on a single server; `None`
    /// (and `add_keys` not called) on a cluster, where one command cannot name keys of several
    /// slots.
    pub(super) async fn count_existing(
        &self,
        add_keys: impl FnOnce(&mut Cmd),
    ) -> RedisResult<Option<u64>> {
        match self {
            Conn::Single(conn) => {
                let mut exists = cmd("EXISTS");
                add_keys(&mut exists);
                Ok(Some(exists.query_async(&mut conn.clone()).await?))
            }
            Conn::Cluster(_) => Ok(None),
        }
    }

    /// The nodes to `SCAN`: `None` for a single server, else every cluster primary.
    pub(super) async fn scan_nodes(&self) -> RedisResult<Vec<Option<(String, u16)>>> {
        match self {
            Conn::Single(_) => Ok(vec![None]),
            Conn::Cluster(conn) => {
                let slots = conn
                    .clone()
                    .route_command(cmd("CLUSTER").arg("SLOTS").clone(), random())
                    .await?;
                Ok(cluster_primaries(slots).into_iter().map(Some).collect())
            }
        }
    }

    /// One `SCAN cursor MATCH pattern` step on `node`: the next cursor and the keys found.
    pub(super) async fn scan(
        &self,
        node: Option<&(String, u16)>,
        cursor: u64,
        pattern: &[u8],
    ) -> RedisResult<(u64, Vec<Vec<u8>>)> {
        let mut scan = cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT);
        let reply = match (self, node) {
            (Conn::Cluster(conn), Some((host, port))) => {
                let at = SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                };
                conn.clone()
                    .route_command(scan, RoutingInfo::SingleNode(at))
                    .await?
            }
            (Conn::Cluster(conn), None) => conn.clone().route_command(scan, random()).await?,
            (Conn::Single(conn), _) => scan.query_async(&mut conn.clone()).await?,
        };
        Ok(redis::from_redis_value(reply)?)
    }
}

fn random() -> RoutingInfo {
    RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random)
}

fn connect_error(spec: &ConnectionSpec, e: redis::RedisError) -> Error {
    Error::backend(
        "redis",
        format!(
            "connecting to {} (is the server up and reachable?)",
            spec.describe()
        ),
        e,
    )
}

/// The `(host, port)` of each primary in a `CLUSTER SLOTS` reply.
fn cluster_primaries(reply: Value) -> Vec<(String, u16)> {
    let Value::Array(ranges) = reply else {
        return Vec::new();
    };
    let mut out: Vec<(String, u16)> = Vec::new();
    for range in ranges {
        let Value::Array(items) = range else { continue };
        let Some(Value::Array(node)) = items.get(2) else {
            continue;
        };
        let host = match node.first() {
            Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(Value::SimpleString(s)) => s.clone(),
            _ => continue,
        };
        let Some(Value::Int(port)) = node.get(1) else {
            continue;
        };
        let primary = (host, *port as u16);
        if !out.contains(&primary) {
            out.push(primary);
        }
    }
    out
}

/// Commands grouped by key: add each key's commands with [`Commands::key`], then [`Commands::run`].
pub(super) enum Commands {
    /// One pipeline for every key.
    Single {
        /// The connection.
        conn: ConnectionManager,
        /// All commands.
        pipe: Pipeline,
    },
    /// One pipeline per key (one slot each).
    Cluster {
        /// The connection.
        conn: ClusterConnection,
        /// One pipeline per key.
        pipes: Vec<Pipeline>,
    },
}

impl Commands {
    /// The pipeline to add the commands of the next key to (all for one key, which must be the only
    /// key they touch).
    pub(super) fn key(&mut self) -> &mut Pipeline {
        match self {
            Commands::Single { pipe, .. } => pipe,
            Commands::Cluster { pipes, .. } => {
                pipes.push(redis::pipe());
                pipes.last_mut().expect("just pushed")
            }
        }
    }

    /// Sends the commands; returns the replies of the commands not marked `ignore`, in order.
    pub(super) async fn run(self) -> RedisResult<Vec<Value>> {
        match self {
            Commands::Single { mut conn, pipe } => {
                if pipe.cmd_iter().next().is_none() {
                    return Ok(Vec::new());
                }
                pipe.query_async(&mut conn).await
            }
            Commands::Cluster { conn, pipes } => {
                let replies: Vec<Vec<Value>> = stream::iter(pipes)
                    .map(|pipe| {
                        let mut conn = conn.clone();
                        async move { pipe.query_async::<Vec<Value>>(&mut conn).await }
                    })
                    .buffered(CLUSTER_IN_FLIGHT)
                    .try_collect()
                    .await?;
                Ok(replies.into_iter().flatten().collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_feasts_connection_strings() {
        let spec =
            ConnectionSpec::parse("redis:6379,db=1,password=\"x\",skip_full_coverage_check=true")
                .unwrap();
        assert_eq!(spec.nodes, vec!["redis:6379".to_string()]);
        assert_eq!((spec.db, spec.password.as_deref()), (Some(1), Some("x")));
        let cluster = ConnectionSpec::parse("r1:7000, r2:7001 ,ssl=false").unwrap();
        assert_eq!(
            cluster.nodes,
            vec!["r1:7000".to_string(), "r2:7001".to_string()]
        );
        let info = cluster.node_info("r2:7001").unwrap();
        assert_eq!(info.addr().to_string(), "r2:7001");
        assert_eq!(
            spec.node_info("localhost").unwrap().addr().to_string(),
            "localhost:6379"
        );
    }

    #[test]
    fn rejects_what_it_cannot_do() {
        assert!(
            ConnectionSpec::parse("db=0")
                .unwrap_err()
                .to_string()
                .contains("names no server")
        );
        assert!(
            ConnectionSpec::parse("h:1,ssl=true")
                .unwrap_err()
                .to_string()
                .contains("ssl=true")
        );
        assert!(
            ConnectionSpec::parse("h:1,db=x")
                .unwrap_err()
                .to_string()
                .contains("db=x")
        );
        let spec = ConnectionSpec::parse("h:port").unwrap();
        assert!(
            spec.node_info("h:port")
                .unwrap_err()
                .to_string()
                .contains("`port` is not a port")
        );
    }

    #[test]
    fn urls_are_nodes_and_hide_credentials() {
        let spec = ConnectionSpec::parse("redis://u:secret@h:6380/2").unwrap();
        assert_eq!(spec.describe(), "redis://h:6380/2");
        let info = spec.node_info(&spec.nodes[0]).unwrap();
        assert_eq!(info.redis_settings().db(), 2);
    }

    #[test]
    fn reads_cluster_slots() {
        let node = |port| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
            ])
        };
        let range = |a, b, port| Value::Array(vec![Value::Int(a), Value::Int(b), node(port)]);
        let reply = Value::Array(vec![
            range(0, 10, 7101),
            range(11, 20, 7102),
            range(21, 30, 7101),
        ]);
        assert_eq!(
            cluster_primaries(reply),
            vec![
                ("127.0.0.1".to_string(), 7101),
                ("127.0.0.1".to_string(), 7102)
            ]
        );
    }
}
