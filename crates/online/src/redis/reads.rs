//! The read hot path on a single server for reads of many keys: pipelines of `HMGET`s over
//! connections of this module's own, their replies decoded in place with redis-protocol's range
//! decoder. (Reads of a few keys share one connection that batches concurrent reads,
//! [`super::shared`]: see `RedisOnlineStore::POOLED_READ_MIN_KEYS`.)
//!
//! Serving 100 entities sends 100 `HMGET`s and gets back about 1,100 fields. Through redis-rs each
//! field became its own `Vec` inside a `Value`, built by a combinator parser: about a third of
//! Larder's CPU per request. Here a pipeline's replies land in one buffer per connection, each field
//! is a range of it, and the caller copies the values once, into
//! [`OnlineRows`](crate::OnlineRows).
//!
//! Connections are pooled per store handle (each runtime has its own), opened on demand, and
//! dropped on any failure or when a read is cancelled mid-way, so a connection in the pool never
//! holds half a reply. A read that fails on a pooled connection (the server may have closed it
//! while it sat idle) is retried once on a new one; reads change nothing, so that is safe. Writes,
//! deletes and clusters stay on redis-rs; so does a server reached by TLS, a Unix socket, or RESP3.

use std::io;
use std::sync::Mutex;

use redis::{ConnectionAddr, ConnectionInfo, ProtocolVersion};
use redis_protocol::resp2::decode::decode_range;
pub(super) use redis_protocol::resp2::types::RangeFrame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::conn::{CONNECT_TIMEOUT, RESPONSE_TIMEOUT};

/// Idle connections kept per store handle; more are closed when their read ends.
const MAX_IDLE: usize = 64;
/// Bytes a new connection's reply buffer starts with (a 100-entity reply is about 15 KiB).
const BUFFER_BYTES: usize = 16 * 1024;
/// An idle connection whose reply buffer grew past this (a read of a thousand keys of many
/// features) gets a new one, so that the pool does not keep the largest reply per connection.
const MAX_IDLE_BUFFER_BYTES: usize = 1024 * 1024;

/// A pool of read connections to one server.
#[derive(Debug)]
pub(super) struct ReadConnections {
    host: String,
    port: u16,
    /// `AUTH` and `SELECT` for a new connection, encoded, and how many replies they get.
    hello: Vec<u8>,
    hello_replies: usize,
    idle: Mutex<Vec<ReadConnection>>,
}

#[derive(Debug)]
pub(super) struct ReadConnection {
    pub(super) stream: TcpStream,
    /// The replies of the last request.
    pub(super) buf: Vec<u8>,
}

impl ReadConnections {
    /// Read connections like those `info` describes; `None` when they would need what this module
    /// does not speak (TLS, a Unix socket, RESP3), so reads go through redis-rs.
    pub(super) fn new(info: &ConnectionInfo) -> Option<Self> {
        let ConnectionAddr::Tcp(host, port) = info.addr() else {
            return None;
        };
        let settings = info.redis_settings();
        if settings.protocol() != ProtocolVersion::RESP2 {
            return None;
        }
        let (mut hello, mut hello_replies) = (Vec::new(), 0);
        if let Some(password) = settings.password() {
            match settings.username() {
                Some(user) => command(&mut hello, &[b"AUTH", user.as_bytes(), password.as_bytes()]),
                None => command(&mut hello, &[b"AUTH", password.as_bytes()]),
            }
            hello_replies += 1;
        }
        if settings.db() != 0 {
            command(
                &mut hello,
                &[
                    b"SELECT",
                    itoa::Buffer::new().format(settings.db()).as_bytes(),
                ],
            );
            hello_replies += 1;
        }
        Some(ReadConnections {
            host: host.clone(),
            port: *port,
            hello,
            hello_replies,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends `request` (`replies` commands, encoded) and hands their replies to `read`: the reply
    /// buffer and one frame per command, whose ranges index the buffer.
    pub(super) async fn query<T>(
        &self,
        request: &[u8],
        replies: usize,
        read: impl FnOnce(&[u8], &[RangeFrame]) -> T,
    ) -> io::Result<T> {
        let pooled = self.idle.lock().expect("pool lock").pop();
        let was_pooled = pooled.is_some();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        let frames = match self.exchange(&mut conn, request, replies).await {
            Ok(frames) => frames,
            Err(e) if was_pooled && retryable(&e) => {
                tracing::debug!(error = %e, "redis read connection failed; retrying on a new one");
                conn = self.connect().await?;
                self.exchange(&mut conn, request, replies).await?
            }
            Err(e) => return Err(e),
        };
        let out = read(&conn.buf, &frames);
        if conn.buf.capacity() > MAX_IDLE_BUFFER_BYTES {
            conn.buf = Vec::with_capacity(BUFFER_BYTES);
        }
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        Ok(out)
    }

    /// Opens a connection and authenticates and selects the database as configured.
    pub(super) async fn connect(&self) -> io::Result<ReadConnection> {
        let connecting = async {
            let stream = TcpStream::connect((self.host.as_str(), self.port)).await?;
            stream.set_nodelay(true)?;
            Ok::<_, io::Error>(stream)
        };
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .unwrap_or_else(|_| Err(timed_out("connecting", CONNECT_TIMEOUT)))
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "connecting to {}:{}: {e} (is the server up and reachable?)",
                        self.host, self.port
                    ),
                )
            })?;
        let mut conn = ReadConnection {
            stream,
            buf: Vec::with_capacity(BUFFER_BYTES),
        };
        if self.hello_replies > 0 {
            let frames = self
                .exchange(&mut conn, &self.hello, self.hello_replies)
                .await?;
            for frame in &frames {
                if let RangeFrame::Error(range) = frame {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!(
                            "the server refused the connection's AUTH or SELECT: {} (check \
                             username=, password= and db= in online_store.connection_string)",
                            String::from_utf8_lossy(&conn.buf[range.0..range.1])
                        ),
                    ));
                }
            }
        }
        Ok(conn)
    }

    /// Writes `request` and reads `replies` whole replies into the connection's buffer.
    async fn exchange(
        &self,
        conn: &mut ReadConnection,
        request: &[u8],
        replies: usize,
    ) -> io::Result<Vec<RangeFrame>> {
        let work = async {
            conn.stream.write_all(request).await?;
            conn.buf.clear();
            let mut frames = Vec::with_capacity(replies);
            let mut parsed = 0;
            while frames.len() < replies {
                match next_frame(&conn.buf, parsed, 0)? {
                    Some((frame, used)) => {
                        frames.push(frame);
                        parsed += used;
                    }
                    None => {
                        conn.buf.reserve(BUFFER_BYTES);
                        if conn.stream.read_buf(&mut conn.buf).await? == 0 {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the server closed the connection before replying",
                            ));
                        }
                    }
                }
            }
            if parsed != conn.buf.len() {
                return Err(protocol_error("more replies than commands"));
            }
            Ok(frames)
        };
        tokio::time::timeout(RESPONSE_TIMEOUT, work)
            .await
            .map_err(|_| timed_out("waiting for replies", RESPONSE_TIMEOUT))?
    }
}

/// Appends the RESP encoding of the command `args` to `out`.
pub(super) fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    command_header(out, args.len());
    for arg in args {
        bulk_string(out, arg);
    }
}

/// Appends the header of a command of `args` arguments; the arguments follow as [`bulk_string`]s.
pub(super) fn command_header(out: &mut Vec<u8>, args: usize) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(args).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends one command argument.
pub(super) fn bulk_string(out: &mut Vec<u8>, arg: &[u8]) {
    bulk_string_parts(out, &[arg]);
}

/// Appends one command argument made of `parts` end to end.
pub(super) fn bulk_string_parts(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.extend_from_slice(b"\r\n");
    for part in parts {
        out.extend_from_slice(part);
    }
    out.extend_from_slice(b"\r\n");
}

/// The next whole reply in `buf` from `from` (`None` while it is incomplete) with its ranges made
/// to index `buf[base..]`, and how many bytes it takes.
pub(super) fn next_frame(
    buf: &[u8],
    from: usize,
    base: usize,
) -> io::Result<Option<(RangeFrame, usize)>> {
    Ok(decode_range(&buf[from..])
        .map_err(protocol_error)?
        .map(|(frame, used)| (offset(frame, from - base), used)))
}

/// `frame`, decoded from `buf[at..]`, with its ranges made to index `buf`.
fn offset(frame: RangeFrame, at: usize) -> RangeFrame {
    if at == 0 {
        return frame;
    }
    let shift = |(a, b): (usize, usize)| (a + at, b + at);
    match frame {
        RangeFrame::BulkString(r) => RangeFrame::BulkString(shift(r)),
        RangeFrame::SimpleString(r) => RangeFrame::SimpleString(shift(r)),
        RangeFrame::Error(r) => RangeFrame::Error(shift(r)),
        RangeFrame::Array(items) => {
            RangeFrame::Array(items.into_iter().map(|f| offset(f, at)).collect())
        }
        other @ (RangeFrame::Integer(_) | RangeFrame::Null) => other,
    }
}

/// Whether a failed exchange may be retried on a new connection: the old one broke (not a
/// timeout, which would only double the wait, nor a reply that could not be decoded).
fn retryable(e: &io::Error) -> bool {
    !matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::InvalidData | io::ErrorKind::PermissionDenied
    )
}

pub(super) fn timed_out(doing: &str, after: std::time::Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("timed out after {} s {doing}", after.as_secs()),
    )
}

pub(super) fn protocol_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("a reply is not valid RESP2: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_as_redis_rs_encodes_them() {
        let key = b"\x02\x00\x00\x00k\r\n*$".as_slice();
        let mut ours = Vec::new();
        command(&mut ours, &[b"HMGET", key, b"", b"_ts:v"]);
        let theirs = redis::cmd("HMGET")
            .arg(key)
            .arg(b"".as_slice())
            .arg("_ts:v")
            .get_packed_command();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn frames_decoded_later_in_the_buffer_index_the_whole_buffer() {
        let buf = b"*1\r\n$1\r\na\r\n*2\r\n$2\r\nbc\r\n$-1\r\n".as_slice();
        let (first, used) = decode_range(buf).unwrap().unwrap();
        let (second, _) = decode_range(&buf[used..]).unwrap().unwrap();
        let RangeFrame::Array(items) = offset(second, used) else {
            panic!("an array")
        };
        let RangeFrame::BulkString((a, b)) = items[0] else {
            panic!("a bulk string")
        };
        assert_eq!(&buf[a..b], b"bc");
        assert!(matches!(items[1], RangeFrame::Null));
        assert!(matches!(first, RangeFrame::Array(_)));
    }

    #[test]
    fn only_broken_connections_are_retried() {
        assert!(retryable(&io::Error::from(io::ErrorKind::UnexpectedEof)));
        assert!(retryable(&io::Error::from(io::ErrorKind::ConnectionReset)));
        assert!(!retryable(&timed_out(
            "waiting for replies",
            RESPONSE_TIMEOUT
        )));
        assert!(!retryable(&protocol_error("bad")));
    }
}
