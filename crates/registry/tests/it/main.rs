//! The integration tests of `larder-registry`, one binary with a module per topic:
//!
//! - `fixture`: a registry written by Feast 0.67 reads, round-trips and plans with no changes;
//! - `file`: the file registry's commit guarantees (no lost updates, atomicity, corruption errors);
//! - `cycle`: plan → apply → plan through a real file.

mod cycle;
mod file;
mod fixture;

use std::path::PathBuf;

/// The Feast-written fixture registry (see `tests/data/README.md`).
pub fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/feast-0.67-driver_demo.registry.db")
}
