//! A small pool of SQLite connections to one database file, configured as the store needs them
//! (WAL, `synchronous=NORMAL`, a busy timeout, a statement cache).
//!
//! Connections come in two kinds ([`Use`]). Readers map the database file into memory
//! (`mmap_size`), so a random read of a page that is not in SQLite's own cache costs a page-table
//! lookup instead of a `pread` copying the page; serving reads pages all over a file much larger
//! than any page cache. Writers do not map the file: a bulk write touches most of it, and mapped
//! pages would count against the writing process's resident memory.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::Connection;

/// Idle connections of each kind kept for reuse; more may be open at once while many calls run.
/// Enough for a server's concurrent reads: a new connection starts with a cold page cache.
const MAX_IDLE: usize = 16;
/// How long a statement waits for another connection's write lock before failing.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Prepared statements cached per connection (upserts and reads of several tables and chunk sizes).
const STATEMENT_CACHE: usize = 64;

/// Connections to one database file, reused across calls.
pub(super) struct Pool {
    path: PathBuf,
    state: Mutex<State>,
}

struct State {
    /// Bumped by [`Pool::reset`]; connections of an older generation are closed, not reused.
    generation: u64,
    /// Idle connections per [`Use`].
    idle: [Vec<Connection>; 2],
}

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    /// Reads: the file is memory-mapped.
    Read = 0,
    /// Writes and schema changes.
    Write = 1,
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
            state: Mutex::new(State {
                generation: 0,
                idle: [Vec::new(), vec![first]],
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
        let (generation, idle) = {
            let mut state = self.state.lock().expect("sqlite pool lock");
            (state.generation, state.idle[use_ as usize].pop())
        };
        let mut conn = match idle {
            Some(conn) => conn,
            None => connect(&self.path, use_)?,
        };
        let result = f(&mut conn);
        let mut state = self.state.lock().expect("sqlite pool lock");
        let current = state.generation == generation;
        let idle = &mut state.idle[use_ as usize];
        if current && idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        result
    }

    /// Closes the idle connections; connections in use are closed when they come back. Used before
    /// the database file is deleted, so that later calls open a new file.
    pub(super) fn reset(&self) {
        let closed = {
            let mut state = self.state.lock().expect("sqlite pool lock");
            state.generation += 1;
            std::mem::take(&mut state.idle)
        };
        drop(closed);
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
