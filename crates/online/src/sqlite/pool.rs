//! A small pool of SQLite connections to one database file, configured as the store needs them
//! (WAL, `synchronous=NORMAL`, a busy timeout, a statement cache).
//!
//! Connections come in two kinds ([`Use`]). Readers map the database file into memory
//! (`mmap_size`), so a random read of a page that is not in SQLite's own cache costs a page-table
//! lookup instead of a `pread` copying the page; serving reads pages all over a file much larger
//! than any page cache. Writers do not map the file: a bulk write touches most of it, and mapped
//! pages would count against the writing process's resident memory.
//!
//! A reader keeps one read transaction (one snapshot of the file) across calls for at most
//! [`SNAPSHOT_MAX_AGE`]: beginning and ending a read transaction in WAL mode takes file locks
//! (`fcntl`), an `fstat` and the shared-memory mutexes of every connection to the file, which was a
//! tenth of serving a 1-entity request. A snapshot ends early when this pool has written since it
//! began (a reader always sees this process's own writes), when a call on it fails, and, once its
//! reader is idle, within a few milliseconds ([`Sweeper`]), so that an idle server never holds the
//! WAL back from being checkpointed. Another process's writes become visible at most
//! [`SNAPSHOT_MAX_AGE`] after they commit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// Idle connections of each kind kept for reuse; more may be open at once while many calls run.
/// Enough for a server's concurrent reads: a new connection starts with a cold page cache.
const MAX_IDLE: usize = 16;
/// How long a statement waits for another connection's write lock before failing.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Prepared statements cached per connection (upserts and reads of several tables and chunk sizes).
const STATEMENT_CACHE: usize = 64;

/// How long a reader may keep reading one snapshot of the file across calls.
const SNAPSHOT_MAX_AGE: Duration = Duration::from_millis(1);
/// How often idle readers' snapshots are looked at while any is open.
const SWEEP_EVERY: Duration = Duration::from_millis(2);

/// Connections to one database file, reused across calls.
pub(super) struct Pool {
    path: PathBuf,
    shared: Arc<Shared>,
}

/// What the pool and its [`Sweeper`] share.
struct Shared {
    state: Mutex<State>,
    /// Signalled when an idle reader with an open snapshot is put back while the sweeper waits
    /// for one ([`State::sweeper_waiting`]).
    snapshot_idle: Condvar,
    /// Write calls finished so far: a snapshot that began before the latest ends before a read.
    writes: AtomicU64,
}

struct State {
    /// Bumped by [`Pool::reset`]; connections of an older generation are closed, not reused.
    generation: u64,
    /// Idle readers.
    readers: Vec<Reader>,
    /// Idle writers.
    writers: Vec<Connection>,
    /// Whether idle readers' snapshots are being ended for them.
    sweeper: SweeperState,
    /// Whether the sweeper is asleep on [`Shared::snapshot_idle`]. Only then is it signalled: a
    /// signal is a system call (`futex`) even when nobody waits, which was 2 % of serving a
    /// 1-entity request when every read gave one.
    sweeper_waiting: bool,
}

/// Whether a [`Sweeper`] thread runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SweeperState {
    /// Not needed yet: no reader has kept a snapshot.
    NotStarted,
    Running,
    /// The thread could not be started: readers end their snapshot after each call instead.
    Unavailable,
}

/// A reading connection and the read transaction it may have open.
struct Reader {
    conn: Connection,
    snapshot: Option<Snapshot>,
}

/// An open read transaction.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    began: Instant,
    /// [`Shared::writes`] when it began.
    writes: u64,
}

impl Reader {
    /// A new reading connection to `path`, with no transaction open.
    fn open(path: &Path) -> rusqlite::Result<Self> {
        Ok(Reader {
            conn: connect(path, Use::Read)?,
            snapshot: None,
        })
    }

    /// Whether its snapshot is older than [`SNAPSHOT_MAX_AGE`] at `now`, or than this pool's last
    /// write.
    fn stale(&self, now: Instant, writes: u64) -> bool {
        self.snapshot.is_some_and(|s| {
            s.writes != writes || now.saturating_duration_since(s.began) > SNAPSHOT_MAX_AGE
        })
    }

    /// Ends the open read transaction, if any; `false` if that failed (the connection is then
    /// not reused).
    fn end_snapshot(&mut self) -> bool {
        if self.snapshot.take().is_none() || self.conn.is_autocommit() {
            return true;
        }
        self.conn
            .prepare_cached("COMMIT")
            .and_then(|mut end| end.execute([]))
            .is_ok()
    }

    /// Begins a read transaction unless one is open.
    fn begin_snapshot(&mut self, writes: u64) -> rusqlite::Result<()> {
        if self.snapshot.is_some() {
            return Ok(());
        }
        self.conn.prepare_cached("BEGIN")?.execute([])?;
        self.snapshot = Some(Snapshot {
            began: Instant::now(),
            writes,
        });
        Ok(())
    }
}

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    /// Reads: the file is memory-mapped.
    Read,
    /// Writes and schema changes.
    Write,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// Opens the database (creating it) and keeps the first connection.
    pub(super) fn open(path: &Path) -> rusqlite::Result<Self> {
        let first = connect(path, Use::Write)?;
        Ok(Pool {
            path: path.to_path_buf(),
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    generation: 0,
                    readers: Vec::new(),
                    writers: vec![first],
                    sweeper: SweeperState::NotStarted,
                    sweeper_waiting: false,
                }),
                snapshot_idle: Condvar::new(),
                writes: AtomicU64::new(0),
            }),
        })
    }

    /// The database file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with a connection for `use_`: an idle one, or a new one when all are busy.
    pub(super) fn with<T>(
        &self,
        use_: Use,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        match use_ {
            Use::Read => self.read(f),
            Use::Write => self.write(f),
        }
    }

    /// Runs `f` on a reader, in its current snapshot while that is fresh enough.
    fn read<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let (generation, mut reader) = self.take(|state| state.readers.pop(), Reader::open)?;
        let writes = self.shared.writes.load(Ordering::Acquire);
        if reader.stale(Instant::now(), writes) && !reader.end_snapshot() {
            // Could not end it: start over on a new connection.
            reader = Reader::open(&self.path)?;
        }
        let result = reader
            .begin_snapshot(writes)
            .and_then(|()| f(&mut reader.conn));
        let mut state = self.lock();
        self.start_sweeper(&mut state);
        let keep =
            (result.is_ok() && state.sweeper == SweeperState::Running) || reader.end_snapshot();
        if keep && state.generation == generation && state.readers.len() < MAX_IDLE {
            let snapshot = reader.snapshot.is_some();
            state.readers.push(reader);
            if snapshot && state.sweeper_waiting {
                state.sweeper_waiting = false;
                self.shared.snapshot_idle.notify_one();
            }
        }
        result
    }

    /// An idle connection taken with `idle`, or a new one made by `open` when there is none, with
    /// the pool generation it belongs to.
    fn take<C>(
        &self,
        idle: impl FnOnce(&mut State) -> Option<C>,
        open: impl FnOnce(&Path) -> rusqlite::Result<C>,
    ) -> rusqlite::Result<(u64, C)> {
        let (generation, idle) = {
            let mut state = self.lock();
            (state.generation, idle(&mut state))
        };
        match idle {
            Some(conn) => Ok((generation, conn)),
            None => Ok((generation, open(&self.path)?)),
        }
    }

    /// Runs `f` on a writer; then every snapshot older than the write ends before its next read.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let (generation, mut conn) = self.take(
            |state| state.writers.pop(),
            |path| connect(path, Use::Write),
        )?;
        let result = f(&mut conn);
        self.shared.writes.fetch_add(1, Ordering::AcqRel);
        let mut state = self.lock();
        if state.generation == generation && state.writers.len() < MAX_IDLE {
            state.writers.push(conn);
        }
        result
    }

    /// Closes the idle connections; connections in use are closed when they come back. Used before
    /// the database file is deleted, so that later calls open a new file.
    pub(super) fn reset(&self) {
        let closed = {
            let mut state = self.lock();
            state.generation += 1;
            (
                std::mem::take(&mut state.readers),
                std::mem::take(&mut state.writers),
            )
        };
        drop(closed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().expect("sqlite pool lock")
    }

    /// Starts the [`Sweeper`] on the first read; if the thread cannot be started, says so once
    /// and leaves snapshots unkept.
    fn start_sweeper(&self, state: &mut State) {
        if state.sweeper != SweeperState::NotStarted {
            return;
        }
        let sweeper = Sweeper {
            shared: Arc::downgrade(&self.shared),
        };
        let started = std::thread::Builder::new()
            .name("larder-sqlite-snapshots".into())
            .spawn(move || sweeper.run());
        state.sweeper = match started {
            Ok(_) => SweeperState::Running,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "cannot start the SQLite snapshot sweeper thread: every read opens its own \
                     read transaction (correct, somewhat slower)"
                );
                SweeperState::Unavailable
            }
        };
    }
}

impl Drop for Pool {
    /// Closes the idle connections now (not when the sweeper lets go of them) and wakes the
    /// sweeper so that it stops.
    fn drop(&mut self) {
        self.reset();
        self.shared.snapshot_idle.notify_one();
    }
}

/// Ends the read transactions of idle readers once they are [`SNAPSHOT_MAX_AGE`] old (every
/// [`SWEEP_EVERY`] while any is open; asleep otherwise). Stops when its pool is dropped.
struct Sweeper {
    shared: Weak<Shared>,
}

impl Sweeper {
    fn run(self) {
        while let Some(shared) = self.shared.upgrade() {
            let mut state = shared.state.lock().expect("sqlite pool lock");
            let now = Instant::now();
            let writes = shared.writes.load(Ordering::Acquire);
            let mut open = false;
            for reader in &mut state.readers {
                if reader.stale(now, writes) {
                    reader.end_snapshot();
                }
                open |= reader.snapshot.is_some();
            }
            if open {
                drop(state);
                drop(shared);
                std::thread::sleep(SWEEP_EVERY);
            } else {
                // Asleep until a reader with a snapshot is put back (or now and then, to notice
                // that the pool is gone).
                state.sweeper_waiting = true;
                let (mut state, _) = shared
                    .snapshot_idle
                    .wait_timeout(state, Duration::from_secs(1))
                    .expect("sqlite pool lock");
                state.sweeper_waiting = false;
                drop(state);
            }
        }
    }
}

/// The page cache per connection, in KiB as SQLite's negative `cache_size` takes it (32 MiB).
const CACHE_KIB: i64 = -32_768;

/// How much of the database file a reader maps (SQLite caps it at its compile-time maximum).
const READ_MMAP_BYTES: i64 = 1 << 40;

/// The page size of store files Larder creates.
const PAGE_SIZE: i64 = 16_384;

/// Opens `path` with the store's settings for `use_`.
fn connect(path: &Path, use_: Use) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Takes effect only when this creates the file: larger pages make shallower B-trees and fewer
    // page splits for the bulk writes of materialization. Any SQLite (Feast's too) reads any size.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // A page cache large enough for bulk upserts to stay in memory instead of re-reading and
    // re-writing pages through the WAL (the cache grows only as pages are used).
    conn.pragma_update(None, "cache_size", CACHE_KIB)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    if use_ == Use::Read {
        conn.pragma_update(None, "mmap_size", READ_MMAP_BYTES)?;
    }
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool on a new file with a table `t(v)` holding 1, and a second connection to the file
    /// standing for another process.
    fn pool_and_other_process() -> (tempfile::TempDir, Pool, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("online.db");
        let pool = Pool::open(&path).unwrap();
        pool.with(Use::Write, |c| {
            c.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);")
        })
        .unwrap();
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(BUSY_TIMEOUT).unwrap();
        (dir, pool, other)
    }

    fn sum(pool: &Pool) -> i64 {
        pool.with(Use::Read, |c| {
            c.query_row("SELECT sum(v) FROM t", [], |r| r.get(0))
        })
        .unwrap()
    }

    #[test]
    fn reads_see_this_pools_writes_at_once() {
        let (_dir, pool, _other) = pool_and_other_process();
        assert_eq!(sum(&pool), 1);
        pool.with(Use::Write, |c| c.execute("INSERT INTO t VALUES (2)", []))
            .unwrap();
        assert_eq!(
            sum(&pool),
            3,
            "a read right after this pool's write sees it"
        );
    }

    #[test]
    fn reads_see_other_processes_writes_within_the_snapshot_age() {
        let (_dir, pool, other) = pool_and_other_process();
        assert_eq!(sum(&pool), 1);
        other.execute("INSERT INTO t VALUES (2)", []).unwrap();
        std::thread::sleep(SNAPSHOT_MAX_AGE + Duration::from_millis(1));
        assert_eq!(sum(&pool), 3);
    }

    #[test]
    fn an_idle_reader_does_not_hold_the_wal_back() {
        let (_dir, pool, other) = pool_and_other_process();
        assert_eq!(sum(&pool), 1);
        // The reader is idle now; another process writes and checkpoints the whole WAL away,
        // which a reader still in an older snapshot would prevent.
        other.execute("INSERT INTO t VALUES (2)", []).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let busy: i64 = other
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .unwrap();
            if busy == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "an idle reader kept its snapshot: the WAL could not be checkpointed"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let readers = pool.lock().readers.len();
        assert_eq!(readers, 1);
        assert!(pool.lock().readers.iter().all(|r| r.snapshot.is_none()));
    }

    #[test]
    fn a_failed_read_ends_its_snapshot() {
        let (_dir, pool, _other) = pool_and_other_process();
        let err = pool.with(Use::Read, |c| {
            c.query_row("SELECT nope FROM t", [], |r| r.get::<_, i64>(0))
        });
        assert!(err.is_err());
        let state = pool.lock();
        assert!(
            state
                .readers
                .iter()
                .all(|r| r.snapshot.is_none() && r.conn.is_autocommit())
        );
    }
}
