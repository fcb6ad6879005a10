//! Loading a repo's YAML definitions into [`RepoContents`], checked the way Feast checks at `apply`.
//!
//! [`load_repo`] finds the definition files (`discover`), reads each object from its own YAML node so
//! one mistake costs one object (`node`, `raw`), then resolves references and infers what Feast infers
//! from the data files' schemas (`resolve`, `views`, `services`, `infer`). Every problem of the repo is
//! reported at once, each with its file, line, object and field. Nothing is written.
//!
//! A definition file is a mapping with any of these keys:
//!
//! ```yaml
//! project: {name: feast_demo, description: ..., tags: {...}, owner: ...}   # optional; must match feature_store.yaml
//! entities:
//!   - {name: driver, join_keys: [driver_id], value_type: Int64, description: driver id}
//! sources:
//!   - {name: stats, kind: file, path: data/stats.parquet, timestamp_field: event_timestamp}
//!   - {name: stats_push, kind: push, batch_source: stats}
//!   - {name: request, kind: request, schema: [{name: x, dtype: Float64}]}
//! feature_views:
//!   - {name: driver_stats, entities: [driver], ttl: 2d, source: stats, schema: [{name: rate, dtype: Float32}]}
//! feature_services:
//!   - {name: svc, features: [driver_stats, "other:feature", {view: v, features: [a], alias: w}]}
//! ```

mod discover;
mod infer;
mod node;
mod raw;
mod resolve;
mod services;
mod sources;
mod views;

#[cfg(test)]
mod tests;

use crate::config::RepoConfig;
use crate::error::{Error, Problem, Result};
use crate::model::RepoContents;

/// Loads and validates the definitions of the repo `config` describes.
///
/// Reads every `*.yaml` / `*.yml` under the repo (except `feature_store.yaml`, hidden entries, `data/`,
/// `target/`, `node_modules/`, `__pycache__` and what `.larderignore` / `.feastignore` list) and the
/// schemas of the data files the sources name.
///
/// # Errors
/// [`Error::Definitions`] with every problem found, sorted by file and line; [`Error::Io`] when the repo
/// directory or an ignore file cannot be read.
pub fn load_repo(config: &RepoConfig) -> Result<RepoContents> {
    let files = discover::definition_files(config)?;
    let mut problems = Vec::new();
    let mut raw = raw::RawRepo::default();
    for path in &files {
        let shown = resolve::relative(path, &config.repo_path);
        match std::fs::read_to_string(path) {
            Ok(text) => raw::parse_file(&shown, &text, &mut raw, &mut problems),
            Err(e) => problems.push(Problem {
                file: shown,
                line: None,
                object: None,
                field: None,
                message: format!("cannot read the file: {e}"),
            }),
        }
    }
    let (contents, more) = resolve::Resolver::new(config, &raw).run();
    problems.extend(more);
    if problems.is_empty() {
        return Ok(contents);
    }
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Err(Error::Definitions(problems))
}
