//! Integration tests of the feature server: a temporary repo (definitions, a Parquet source,
//! SQLite or Redis online store) applied and materialized through the façade, then every
//! endpoint exercised through `app(state).oneshot(...)`, plus real sockets on `127.0.0.1:0`.

mod common;
mod errors;
mod materialize;
mod online;
mod operations;
mod push;
mod redis;
mod registry;
mod socket;
