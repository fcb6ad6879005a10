//! Reads of a few keys on a single server: one connection per store handle shared by every such
//! read, driven by one task that writes the commands of all waiting reads in one write and hands
//! each read its own replies, decoded in place as on the pooled connections ([`super::reads`]).
//!
//! A 1-entity read is three commands' worth of bytes; on a connection of its own each costs a
//! write and a read on both sides, and the redis-server spent twice the CPU per request. Batching
//! the reads that are in flight together, as redis-rs's multiplexed connection does, keeps that
//! cost shared; decoding in place drops redis-rs's parser, a sixth of a 1-entity request.
//!
//! Replies come back in the order the commands were written, so the driver answers reads first in,
//! first out. A read whose caller gave up (a cancelled request) still has its replies read, and
//! dropped. When the connection fails, the reads waiting on it are sent once more on a new one
//! (reads change nothing); those that fail again get the error. A connection silent for longer than
//! the response timeout while reads wait is given up, and its reads fail with the timeout.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::conn::RESPONSE_TIMEOUT;
use super::reads::{
    RangeFrame, ReadConnection, ReadConnections, next_frame, protocol_error, timed_out,
};

/// Consumed reply bytes are dropped from the front of the buffer once there are this many.
const COMPACT_BYTES: usize = 64 * 1024;

/// The shared connection of one store handle: a queue to the task that drives it.
#[derive(Debug)]
pub(super) struct SharedConnection {
    dialer: Arc<ReadConnections>,
    /// The queue of the driver task; a new task is started (on the caller's runtime) when there is
    /// none or it has ended.
    jobs: Mutex<Option<mpsc::UnboundedSender<Job>>>,
}

/// One read: its encoded commands, how many replies they get, and where the replies go.
#[derive(Debug)]
struct Job {
    request: Vec<u8>,
    replies: usize,
    /// Whether it was sent again after a connection failed.
    retried: bool,
    done: oneshot::Sender<io::Result<Reply>>,
}

/// The replies of one read: its bytes, and one frame per command whose ranges index them.
#[derive(Debug)]
struct Reply {
    buf: Vec<u8>,
    frames: Vec<RangeFrame>,
}

impl SharedConnection {
    /// A shared connection that connects as `dialer` does.
    pub(super) fn new(dialer: Arc<ReadConnections>) -> Self {
        SharedConnection {
            dialer,
            jobs: Mutex::new(None),
        }
    }

    /// Sends `request` (`replies` commands, encoded) and hands their replies to `read`, as
    /// [`ReadConnections::query`] does.
    pub(super) async fn query<T>(
        &self,
        request: Vec<u8>,
        replies: usize,
        read: impl FnOnce(&[u8], &[RangeFrame]) -> T,
    ) -> io::Result<T> {
        let (done, answer) = oneshot::channel();
        self.submit(Job {
            request,
            replies,
            retried: false,
            done,
        });
        // The driver gives up a silent connection after the response timeout; a little more here
        // so that its error, which says what happened, arrives first.
        let wait = RESPONSE_TIMEOUT + RESPONSE_TIMEOUT / 10;
        let reply = tokio::time::timeout(wait, answer)
            .await
            .map_err(|_| timed_out("waiting for replies", wait))?
            .map_err(|_| {
                io::Error::other(
                    "the task driving the shared read connection ended before replying (its \
                     runtime shut down); read again",
                )
            })??;
        Ok(read(&reply.buf, &reply.frames))
    }

    /// Queues `job` for the driver, starting one if there is none.
    fn submit(&self, job: Job) {
        let mut jobs = self.jobs.lock().expect("queue lock");
        let job = match jobs.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(job).expect("the receiver is alive");
        tokio::spawn(drive(Arc::clone(&self.dialer), rx));
        *jobs = Some(tx);
    }
}

/// Connects when there is work, serves the queue until the connection fails or every sender is
/// gone, and sends the unanswered reads of a failed connection once more on the next one.
async fn drive(dialer: Arc<ReadConnections>, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut again: VecDeque<Job> = VecDeque::new();
    loop {
        if again.is_empty() {
            match queue.recv().await {
                Some(job) => again.push_back(job),
                None => return,
            }
        }
        let conn = match dialer.connect().await {
            Ok(conn) => conn,
            Err(e) => {
                fail_all(again.drain(..), &e);
                continue;
            }
        };
        match serve(conn, again.drain(..).collect(), &mut queue).await {
            Ok(()) => return,
            Err(Failure { error, unanswered }) => {
                tracing::debug!(%error, "redis read connection failed");
                let retry = error.kind() != io::ErrorKind::TimedOut;
                for mut job in unanswered {
                    if retry && !job.retried {
                        job.retried = true;
                        again.push_back(job);
                    } else {
                        let _ = job.done.send(Err(copy_error(&error)));
                    }
                }
            }
        }
    }
}

/// Why a connection was given up, and the reads still waiting on it.
struct Failure {
    error: io::Error,
    unanswered: VecDeque<Job>,
}

/// Serves reads on `conn`, starting with `first`: every read queued by the time of a write goes
/// in that write; replies are handed out as they complete. `Ok` when every sender is gone.
async fn serve(
    mut conn: ReadConnection,
    first: Vec<Job>,
    queue: &mut mpsc::UnboundedReceiver<Job>,
) -> Result<(), Failure> {
    let mut unsent: Vec<Job> = first;
    let mut sent: VecDeque<Job> = VecDeque::new();
    let mut out: Vec<u8> = Vec::new();
    conn.buf.clear();
    // `conn.buf[start..]` holds the replies of `sent.front()` onwards; `parsed` is how far they
    // are decoded, `frames` the decoded replies of the front read (ranges from `start`).
    let (mut start, mut parsed) = (0, 0);
    let mut frames: Vec<RangeFrame> = Vec::new();
    let mut deadline = Instant::now() + RESPONSE_TIMEOUT;
    loop {
        while let Ok(job) = queue.try_recv() {
            unsent.push(job);
        }
        if !unsent.is_empty() {
            out.clear();
            for job in &unsent {
                out.extend_from_slice(&job.request);
            }
            if sent.is_empty() {
                deadline = Instant::now() + RESPONSE_TIMEOUT;
            }
            sent.extend(unsent.drain(..));
            if let Err(error) = conn.stream.write_all(&out).await {
                return Err(Failure {
                    error,
                    unanswered: sent,
                });
            }
        }
        if sent.is_empty() {
            // Idle: wait for a read, or notice the server closing the connection.
            tokio::select! {
                job = queue.recv() => match job {
                    Some(job) => unsent.push(job),
                    None => return Ok(()),
                },
                _ = conn.stream.read_buf(&mut conn.buf) => {
                    return Err(Failure {
                        error: io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the server closed an idle connection or sent what nobody asked for",
                        ),
                        unanswered: sent,
                    });
                }
            }
            continue;
        }
        tokio::select! {
            read = conn.stream.read_buf(&mut conn.buf) => {
                let error = match read {
                    Ok(0) => Some(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection before replying",
                    )),
                    Ok(_) => None,
                    Err(e) => Some(e),
                };
                if let Some(error) = error {
                    return Err(Failure { error, unanswered: sent });
                }
                while let Some(front) = sent.front() {
                    let decoded = match next_frame(&conn.buf, parsed, start) {
                        Ok(decoded) => decoded,
                        Err(error) => return Err(Failure { error, unanswered: sent }),
                    };
                    let Some((frame, used)) = decoded else { break };
                    frames.push(frame);
                    parsed += used;
                    if frames.len() == front.replies {
                        let job = sent.pop_front().expect("the front read");
                        let reply = Reply {
                            buf: conn.buf[start..parsed].to_vec(),
                            frames: std::mem::take(&mut frames),
                        };
                        // The caller may have given up; its replies are read all the same.
                        let _ = job.done.send(Ok(reply));
                        start = parsed;
                        deadline = Instant::now() + RESPONSE_TIMEOUT;
                    }
                }
                if sent.is_empty() && parsed != conn.buf.len() {
                    // Bytes nobody asked for would be taken for the next read's replies.
                    return Err(Failure {
                        error: protocol_error("more replies than commands"),
                        unanswered: sent,
                    });
                }
                if start == conn.buf.len() {
                    conn.buf.clear();
                    (start, parsed) = (0, 0);
                } else if start >= COMPACT_BYTES {
                    conn.buf.drain(..start);
                    parsed -= start;
                    start = 0;
                }
                conn.buf.reserve(4096);
            }
            job = queue.recv() => match job {
                Some(job) => unsent.push(job),
                // Every store handle is gone: nobody waits for the replies.
                None => return Ok(()),
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Err(Failure {
                    error: timed_out("waiting for replies", RESPONSE_TIMEOUT),
                    unanswered: sent,
                });
            }
        }
    }
}

fn fail_all(jobs: impl IntoIterator<Item = Job>, error: &io::Error) {
    for job in jobs {
        let _ = job.done.send(Err(copy_error(error)));
    }
}

/// The same error for another waiting read (`io::Error` is not `Clone`).
fn copy_error(error: &io::Error) -> io::Error {
    io::Error::new(error.kind(), error.to_string())
}
