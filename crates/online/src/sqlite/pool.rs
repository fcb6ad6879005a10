//! A small pool of SQLite connections to one database file, configured as the store needs them
//! (WAL, `synchronous=NORMAL`, a busy timeout, a statement cache).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::Connection;

/// Idle connections kept for reuse; more may be open at once while many calls run.
const MAX_IDLE: usize = 4;
/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
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
    idle: Vec<Connection>,
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
        let first = connect(path)?;
        Ok(Pool {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                generation: 0,
                idle: vec![first],
            }),
        })
    }

    /// The database file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with a connection: an idle one, or a new one when all are busy.
    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let (generation, idle) = {
            let mut state = self.state.lock().expect("sqlite pool lock");
            (state.generation, state.idle.pop())
        };
        let mut conn = match idle {
            Some(conn) => conn,
            None => connect(&self.path)?,
        };
        let result = f(&mut conn);
        let mut state = self.state.lock().expect("sqlite pool lock");
        if state.generation == generation && state.idle.len() < MAX_IDLE {
            state.idle.push(conn);
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

/// The page cache per connection, in KiB as SQLite's negative `cache_size` takes it (64 MiB).
const CACHE_KIB: i64 = -65_536;

/// The page size of store files Larder creates.
const PAGE_SIZE: i64 = 16_384;

/// Opens `path` with the store's settings.
fn connect(path: &Path) -> rusqlite::Result<Connection> {
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
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}
