//! [`RedisOnlineStore`]: Feast's Redis online store layout, on a single server or a Redis Cluster.
//!
//! Key = serialized entity key ++ project; one hash per key, shared by every view with the same join
//! keys; per feature a field named by the murmur3 of `"<view>:<feature>"` holding the `Value` bytes
//! (empty for null), and `_ts:<view>` holding the event time as a `google.protobuf.Timestamp`.
//! Writes are newer-wins as in Feast: a row is skipped when the stored time is the same or later
//! (on a single server, a batch of keys none of which exists yet is written without reading any).

mod conn;
mod delete;
mod layout;
mod reads;
mod shared;

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use larder_core::config::{RedisConfig, RedisType};
use larder_core::entity_key::EntityKeyLayout;
use larder_core::model::FeatureView;
use redis::{RedisError, Value};

use self::conn::{Commands, Conn, ConnectionSpec};
use self::layout::{ViewFields, decode_timestamp, encode_timestamp, read_fields, redis_key};
use self::reads::{RangeFrame, ReadConnections, bulk_string, bulk_string_parts, command_header};
use self::shared::SharedConnection;
use crate::error::{Error, Result};
use crate::{OnlineRows, OnlineStore, WriteBatch, WriteStats};

/// The store name in errors.
const STORE: &str = "redis";
/// Keys per pipeline: bounds the memory of a write or read.
const CHUNK: usize = 1000;
/// Write pipelines in flight at once.
const CHUNKS_IN_FLIGHT: usize = 4;

/// An online store in Redis or a Redis Cluster, in Feast's layout.
#[derive(Clone)]
pub struct RedisOnlineStore {
    conn: Conn,
    /// The read hot path's own connections, on a single server reached over TCP with RESP2: a
    /// pool for reads of many keys, and one shared connection for reads of a few.
    reads: Option<(Arc<ReadConnections>, Arc<SharedConnection>)>,
    /// What the store was connected with, to connect again from another runtime.
    config: RedisConfig,
    /// The nodes, for messages.
    endpoint: String,
    key_ttl_seconds: Option<u64>,
    skip_dedup: bool,
    full_scan_for_deletion: bool,
    /// `entity_key_serialization_version`, for the key prefix of deletion scans.
    key_version: u32,
}

impl std::fmt::Debug for RedisOnlineStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.conn {
            Conn::Single(_) => "redis",
            Conn::Cluster(_) => "redis_cluster",
        };
        f.debug_struct("RedisOnlineStore")
            .field("redis_type", &kind)
            .field("endpoint", &self.endpoint)
            .field("key_ttl_seconds", &self.key_ttl_seconds)
            .field("skip_dedup", &self.skip_dedup)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

impl RedisOnlineStore {
    /// On a single server, reads of at least this many keys go over a pool of the store's own
    /// connections, one read per connection at a time, so that a large read never holds up small
    /// ones; smaller reads share one connection whose driver sends the commands of concurrent reads
    /// in one write and reads their replies in one read. Batching is what counts when each read is
    /// a handful of commands. Measured at concurrency 32, requests/s: a connection per read
    /// against redis-rs's multiplexed connection, 1 key 42k against 54k, 4 keys 33.3k against
    /// 37.7k; the shared connection against a connection per read, 10 keys 25.5k against 22.7k,
    /// 100 keys 4.72k against 4.81k (the redis-server is the bound there; Larder's CPU 126 against
    /// 119 µs a request). 32 lies between those two sizes; it is not tuned any finer.
    pub const POOLED_READ_MIN_KEYS: usize = 32;

    /// Connects as `config` says (`redis`: the first node of `connection_string`; `redis_cluster`: the
    /// cluster its nodes belong to). Keys use entity-key serialization version 3 (Feast's default);
    /// see [`RedisOnlineStore::with_entity_key_serialization_version`].
    pub async fn connect(config: &RedisConfig) -> Result<Self> {
        let spec = ConnectionSpec::parse(&config.connection_string)?;
        let mut reads = None;
        let conn = match config.redis_type {
            RedisType::Redis => {
                let info = spec.node_info(&spec.nodes[0])?;
                reads = ReadConnections::new(&info).map(|pool| {
                    let pool = Arc::new(pool);
                    let shared = Arc::new(SharedConnection::new(Arc::clone(&pool)));
                    (pool, shared)
                });
                Conn::single(&spec).await?
            }
            RedisType::RedisCluster => Conn::cluster(&spec).await?,
            RedisType::RedisSentinel => {
                return Err(Error::Config(
                    "redis_type redis_sentinel is not supported yet: use redis with the master's host:port, \
                     or redis_cluster"
                        .into(),
                ));
            }
        };
        Ok(RedisOnlineStore {
            conn,
            reads,
            config: config.clone(),
            endpoint: spec.describe(),
            key_ttl_seconds: config.key_ttl_seconds.filter(|&ttl| ttl > 0),
            skip_dedup: config.skip_dedup,
            full_scan_for_deletion: config.full_scan_for_deletion,
            key_version: 3,
        })
    }

    /// Uses `version` (`entity_key_serialization_version`, 2 or 3) for the key prefix that deleting a
    /// view scans for. Writes and reads take serialized keys, so they do not depend on it.
    pub fn with_entity_key_serialization_version(mut self, version: u32) -> Result<Self> {
        EntityKeyLayout::new(&[], version)?;
        self.key_version = version;
        Ok(self)
    }

    /// Wraps `e` with what was being done and where.
    fn error(&self, e: RedisError, doing: std::fmt::Arguments<'_>) -> Error {
        Error::backend(STORE, format!("{doing} ({})", self.endpoint), e)
    }

    /// Whether none of the keys of `rows` exists yet (one `EXISTS` for all of them), so every row
    /// is newer than what is stored and the per-key timestamp reads can be skipped: a first
    /// materialization sends half the commands. Always `false` on a cluster.
    async fn none_stored(
        &self,
        project: &str,
        view: &str,
        batch: &WriteBatch,
        rows: &[usize],
    ) -> Result<bool> {
        if rows.is_empty() {
            return Ok(true);
        }
        let add_keys = |exists: &mut redis::Cmd| {
            let mut key = Vec::new();
            for &row in rows {
                redis_key(batch.entity_keys.value(row), project, &mut key);
                exists.arg(&key);
            }
        };
        let existing =
            self.conn.count_existing(add_keys).await.map_err(|e| {
                self.error(e, format_args!("checking which keys of view {view} exist"))
            })?;
        Ok(existing == Some(0))
    }

    /// The rows of `rows` whose event time is later than the stored `_ts:<view>` of their key.
    async fn newer_than_stored(
        &self,
        project: &str,
        view: &str,
        fields: &ViewFields,
        batch: &WriteBatch,
        rows: &[usize],
    ) -> Result<Vec<usize>> {
        let mut cmds = self.conn.commands();
        let mut key = Vec::new();
        for &row in rows {
            redis_key(batch.entity_keys.value(row), project, &mut key);
            cmds.key().cmd("HMGET").arg(&key).arg(&fields.ts);
        }
        let replies = cmds
            .run()
            .await
            .map_err(|e| self.error(e, format_args!("reading the timestamps of view {view}")))?;
        let times = batch.event_timestamps.values();
        let mut newer = Vec::with_capacity(rows.len());
        for (&row, reply) in rows.iter().zip(&replies) {
            let stored = first_field(reply)
                .map(decode_timestamp)
                .transpose()
                .map_err(|e| {
                    Error::backend(
                        STORE,
                        format!(
                            "field _ts:{view} of a key of project {project} is not a Timestamp"
                        ),
                        e,
                    )
                })?;
            if stored.is_none_or(|stored| stored < times[row]) {
                newer.push(row);
            }
        }
        Ok(newer)
    }

    /// The `HSET` (and `EXPIRE`) commands of `rows`.
    fn hset_commands(
        &self,
        project: &str,
        fields: &ViewFields,
        batch: &WriteBatch,
        rows: &[usize],
    ) -> Result<Commands> {
        let mut cmds = self.conn.commands();
        let (mut key, mut buf) = (Vec::new(), Vec::new());
        let times = batch.event_timestamps.values();
        for &row in rows {
            redis_key(batch.entity_keys.value(row), project, &mut key);
            buf.clear();
            encode_timestamp(times[row], &mut buf);
            let pipe = cmds.key();
            pipe.cmd("HSET").arg(&key).arg(&fields.ts).arg(&buf);
            for ((_, encoder), field) in batch.features.iter().zip(&fields.features) {
                buf.clear();
                encoder.encode(row, &mut buf)?;
                pipe.arg(&field[..]).arg(&buf);
            }
            pipe.ignore();
            if let Some(ttl) = self.key_ttl_seconds {
                pipe.cmd("EXPIRE").arg(&key).arg(ttl).ignore();
            }
        }
        Ok(cmds)
    }

    /// Writes the rows `chunk` (distinct keys) that are newer than what is stored (all of them
    /// with `skip_dedup`); how many were written and skipped.
    async fn write_chunk(
        &self,
        project: &str,
        view: &str,
        fields: &ViewFields,
        batch: &WriteBatch,
        chunk: &[usize],
    ) -> Result<(u64, u64)> {
        let write = if self.skip_dedup || self.none_stored(project, view, batch, chunk).await? {
            chunk.to_vec()
        } else {
            self.newer_than_stored(project, view, fields, batch, chunk)
                .await?
        };
        let cmds = self.hset_commands(project, fields, batch, &write)?;
        cmds.run()
            .await
            .map_err(|e| self.error(e, format_args!("writing view {view}")))?;
        Ok((write.len() as u64, (chunk.len() - write.len()) as u64))
    }

    /// Reads one chunk of keys into `out`.
    async fn read_chunk(
        &self,
        project: &str,
        view: &str,
        fields: &ViewFields,
        keys: &[Vec<u8>],
        out: &mut OnlineRows,
    ) -> Result<()> {
        let reading = || format!("reading view {view} ({})", self.endpoint);
        let bad_reply = |e: io::Error| Error::backend(STORE, reading(), e);
        if let Some((pool, shared)) = &self.reads {
            let request = hmget_request(project, fields, keys);
            let decode = |buf: &[u8], replies: &[RangeFrame]| {
                let mut values = Vec::with_capacity(fields.hmget_len());
                for reply in replies {
                    frame_fields(buf, reply, &mut values)?;
                    push_row(&values, out)?;
                }
                Ok(())
            };
            let result = if keys.len() >= Self::POOLED_READ_MIN_KEYS {
                pool.query(&request, keys.len(), decode).await
            } else {
                shared.query(request, keys.len(), decode).await
            };
            return result.map_err(bad_reply)?.map_err(bad_reply);
        }
        let mut cmds = self.conn.commands();
        let mut key = Vec::new();
        for entity_key in keys {
            redis_key(entity_key, project, &mut key);
            let pipe = cmds.key();
            pipe.cmd("HMGET").arg(&key);
            for field in &fields.features {
                pipe.arg(&field[..]);
            }
            pipe.arg(&fields.ts);
        }
        let replies = cmds
            .run()
            .await
            .map_err(|e| self.error(e, format_args!("reading view {view}")))?;
        let mut values = Vec::with_capacity(fields.hmget_len());
        for reply in &replies {
            value_fields(reply, &mut values).map_err(bad_reply)?;
            push_row(&values, out).map_err(bad_reply)?;
        }
        Ok(())
    }
}

/// The `HMGET <key> <features...> _ts:<view>` of each of `keys`, encoded for [`ReadConnections`].
fn hmget_request(project: &str, fields: &ViewFields, keys: &[Vec<u8>]) -> Vec<u8> {
    let tail = fields.hmget_args();
    let mut out = Vec::with_capacity(keys.len() * (tail.len() + project.len() + 64));
    for entity_key in keys {
        command_header(&mut out, 2 + fields.hmget_len());
        bulk_string(&mut out, b"HMGET");
        // The key, entity key ++ project (`redis_key`), written as one argument in two parts.
        bulk_string_parts(&mut out, &[entity_key, project.as_bytes()]);
        out.extend_from_slice(tail);
    }
    out
}

/// The rows to write: per key, the row with the latest event time (the first of equals).
fn newest_per_key(batch: &WriteBatch) -> Vec<usize> {
    let times = batch.event_timestamps.values();
    let mut newest: HashMap<&[u8], usize> = HashMap::with_capacity(batch.len());
    for row in 0..batch.len() {
        newest
            .entry(batch.entity_keys.value(row))
            .and_modify(|best| {
                if times[row] > times[*best] {
                    *best = row;
                }
            })
            .or_insert(row);
    }
    let mut rows: Vec<usize> = newest.into_values().collect();
    rows.sort_unstable();
    rows
}

/// The first field of an `HMGET` reply.
fn first_field(reply: &Value) -> Option<&[u8]> {
    match reply {
        Value::Array(items) => match items.first()? {
            Value::BulkString(bytes) => Some(bytes),
            _ => None,
        },
        _ => None,
    }
}

/// Sets `out` to the fields of an `HMGET` reply decoded by redis-rs: a bulk string per stored
/// field, `None` per missing one.
fn value_fields<'v>(reply: &'v Value, out: &mut Vec<Option<&'v [u8]>>) -> io::Result<()> {
    out.clear();
    match reply {
        Value::Array(items) => {
            for item in items {
                out.push(match item {
                    Value::BulkString(bytes) => Some(bytes),
                    Value::Nil => None,
                    other => return Err(not_fields(format_args!("{other:?}"))),
                });
            }
            Ok(())
        }
        Value::ServerError(e) => Err(server_error(format_args!("{e}"))),
        other => Err(not_fields(format_args!("{other:?}"))),
    }
}

/// Sets `out` to the fields of an `HMGET` reply decoded in place: ranges of `buf`.
fn frame_fields<'b>(
    buf: &'b [u8],
    reply: &RangeFrame,
    out: &mut Vec<Option<&'b [u8]>>,
) -> io::Result<()> {
    out.clear();
    match reply {
        RangeFrame::Array(items) => {
            for item in items {
                out.push(match item {
                    RangeFrame::BulkString((a, b)) => Some(&buf[*a..*b]),
                    RangeFrame::Null => None,
                    other => return Err(not_fields(format_args!("{other:?}"))),
                });
            }
            Ok(())
        }
        RangeFrame::Error((a, b)) => Err(server_error(format_args!(
            "{}",
            String::from_utf8_lossy(&buf[*a..*b])
        ))),
        other => Err(not_fields(format_args!("{other:?}"))),
    }
}

fn not_fields(what: std::fmt::Arguments<'_>) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("an HMGET reply holds something other than fields: {what}"),
    )
}

fn server_error(message: std::fmt::Arguments<'_>) -> io::Error {
    io::Error::other(format!("the server replied with an error: {message}"))
}

/// Adds the row in the fields of an `HMGET key features... _ts:<view>` reply to `out`: absent
/// when nothing is stored.
fn push_row(fields: &[Option<&[u8]>], out: &mut OnlineRows) -> io::Result<()> {
    if fields.len() != out.width() + 1 {
        return Err(not_fields(format_args!(
            "{} fields where {} were asked for",
            fields.len(),
            out.width() + 1
        )));
    }
    let (ts, values) = fields.split_last().expect("at least the timestamp field");
    if ts.is_none() && values.iter().all(Option::is_none) {
        out.push_absent();
        return Ok(());
    }
    let event_ts_micros = match ts {
        Some(bytes) => decode_timestamp(bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a _ts field is not a Timestamp: {e}"),
            )
        })?,
        None => 0,
    };
    out.push_found(event_ts_micros, values.iter().copied());
    Ok(())
}

#[async_trait]
impl OnlineStore for RedisOnlineStore {
    fn type_name(&self) -> &'static str {
        STORE
    }

    fn infra_name(&self, _project: &str, _view: &str) -> Option<String> {
        None
    }

    /// New connections: redis-rs drives each connection from a task of the runtime that opened it.
    async fn connect_for_current_runtime(&self) -> Result<Option<crate::OnlineStoreRef>> {
        let store = Self::connect(&self.config)
            .await?
            .with_entity_key_serialization_version(self.key_version)?;
        Ok(Some(std::sync::Arc::new(store)))
    }

    async fn update(
        &self,
        project: &str,
        _keep: &[FeatureView],
        delete: &[FeatureView],
    ) -> Result<()> {
        if !self.full_scan_for_deletion {
            return Ok(());
        }
        for view in delete {
            delete::delete_view(&self.conn, project, view, self.key_version)
                .await
                .map_err(|e| {
                    self.error(
                        e,
                        format_args!("deleting view {} of project {project}", view.name),
                    )
                })?;
        }
        Ok(())
    }

    async fn teardown(&self, project: &str, views: &[FeatureView]) -> Result<()> {
        for view in views {
            delete::delete_view(&self.conn, project, view, self.key_version)
                .await
                .map_err(|e| {
                    self.error(
                        e,
                        format_args!("deleting view {} of project {project}", view.name),
                    )
                })?;
        }
        Ok(())
    }

    async fn write_batch(
        &self,
        project: &str,
        view: &FeatureView,
        batch: &WriteBatch,
    ) -> Result<WriteStats> {
        let fields = ViewFields::new(
            &view.name,
            batch.features.iter().map(|(name, _)| name.as_str()),
        );
        let rows: Vec<usize> = if self.skip_dedup {
            (0..batch.len()).collect()
        } else {
            newest_per_key(batch)
        };
        let mut stats = WriteStats {
            rows_written: 0,
            rows_skipped: (batch.len() - rows.len()) as u64,
        };
        // Chunks hold distinct keys, so several can be in flight at once: Redis works on one while
        // the next is encoded and the previous one's replies travel back.
        let writes: Vec<_> = rows
            .chunks(CHUNK)
            .map(|chunk| self.write_chunk(project, &view.name, &fields, batch, chunk))
            .collect();
        let mut chunks = futures::stream::iter(writes).buffered(CHUNKS_IN_FLIGHT);
        while let Some((written, skipped)) = chunks.try_next().await? {
            stats.rows_written += written;
            stats.rows_skipped += skipped;
        }
        Ok(stats)
    }

    async fn read(
        &self,
        project: &str,
        view: &FeatureView,
        features: &[String],
        entity_keys: &[Vec<u8>],
    ) -> Result<OnlineRows> {
        let fields = read_fields(&view.name, features);
        let mut out = OnlineRows::with_capacity(
            features.len(),
            entity_keys.len(),
            entity_keys.len() * features.len() * 16,
        );
        for chunk in entity_keys.chunks(CHUNK) {
            self.read_chunk(project, &view.name, &fields, chunk, &mut out)
                .await?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(reply: &Value, width: usize) -> io::Result<OnlineRows> {
        let mut out = OnlineRows::with_capacity(width, 1, 0);
        let mut fields = Vec::new();
        value_fields(reply, &mut fields)?;
        push_row(&fields, &mut out)?;
        Ok(out)
    }

    #[test]
    fn missing_hashes_read_as_absent() {
        let reply = Value::Array(vec![Value::Nil, Value::Nil, Value::Nil]);
        assert_eq!(read(&reply, 2).unwrap().row(0), None);
        let mut ts = Vec::new();
        encode_timestamp(2_000_000, &mut ts);
        let reply = Value::Array(vec![
            Value::BulkString(vec![]),
            Value::Nil,
            Value::BulkString(ts),
        ]);
        let row = read(&reply, 2).unwrap().row(0).unwrap();
        assert_eq!(row.event_ts_micros, 2_000_000);
        assert_eq!(row.values, vec![Some(vec![]), None]);
    }

    #[test]
    fn replies_that_are_not_fields_are_errors() {
        let wrong_type = Value::Array(vec![Value::Int(1), Value::Nil]);
        let err = read(&wrong_type, 1).unwrap_err().to_string();
        assert!(err.contains("other than fields"), "{err}");
        let too_few = Value::Array(vec![Value::Nil, Value::Nil]);
        let err = read(&too_few, 2).unwrap_err().to_string();
        assert!(err.contains("2 fields where 3 were asked for"), "{err}");
        assert!(read(&Value::Okay, 1).is_err());
        assert_eq!(
            first_field(&Value::Array(vec![Value::BulkString(b"t".to_vec())])),
            Some(&b"t"[..])
        );
        assert_eq!(first_field(&Value::Array(vec![Value::Nil])), None);
    }

    #[test]
    fn replies_decoded_in_place_read_as_redis_rs_reads_them() {
        let mut ts = Vec::new();
        encode_timestamp(2_000_000, &mut ts);
        let mut buf = b"*3\r\n$0\r\n\r\n$-1\r\n$".to_vec();
        buf.extend_from_slice(format!("{}\r\n", ts.len()).as_bytes());
        buf.extend_from_slice(&ts);
        buf.extend_from_slice(b"\r\n*3\r\n$-1\r\n$-1\r\n$-1\r\n-WRONGTYPE not a hash\r\n");
        let mut frames = Vec::new();
        let mut at = 0;
        while let Some((frame, used)) =
            redis_protocol::resp2::decode::decode_range(&buf[at..]).unwrap()
        {
            frames.push((at, frame));
            at += used;
        }
        let mut out = OnlineRows::with_capacity(2, 2, 0);
        let mut fields = Vec::new();
        for (at, frame) in &frames[..2] {
            frame_fields(&buf[*at..], frame, &mut fields).unwrap();
            push_row(&fields, &mut out).unwrap();
        }
        let want = Value::Array(vec![
            Value::BulkString(vec![]),
            Value::Nil,
            Value::BulkString(ts),
        ]);
        assert_eq!(out.row(0), read(&want, 2).unwrap().row(0));
        assert_eq!(out.row(1), None);
        let (at, error) = &frames[2];
        let err = frame_fields(&buf[*at..], error, &mut fields)
            .unwrap_err()
            .to_string();
        assert!(err.contains("WRONGTYPE not a hash"), "{err}");
    }

    #[test]
    fn hmget_requests_are_the_commands_redis_rs_would_send() {
        let fields = ViewFields::new("v", ["a", "b"]);
        let keys = vec![b"k1".to_vec(), b"k\r\n2".to_vec()];
        let mut pipe = redis::pipe();
        for key in &keys {
            let mut full = key.clone();
            full.extend_from_slice(b"proj");
            pipe.cmd("HMGET")
                .arg(full)
                .arg(&fields.features[0][..])
                .arg(&fields.features[1][..])
                .arg(&fields.ts);
        }
        assert_eq!(
            hmget_request("proj", &fields, &keys),
            pipe.get_packed_pipeline()
        );
    }
}
