//! `feature_store.yaml`: Feast's keys and defaults, `${VAR}` expansion, and the resolved configuration.
//!
//! Unknown top-level keys are warnings (Feast allows them); unknown keys inside a store's mapping are
//! errors that name the key and list the valid ones. Backends Larder does not implement yet are parsed
//! into [`OnlineStoreConfig::Other`] / [`OfflineStoreConfig::Other`] and rejected where they are used.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value as J};

use crate::error::{Error, Result};

/// The file name Feast and Larder look for in a repo.
pub const FEATURE_STORE_YAML: &str = "feature_store.yaml";

/// A resolved `feature_store.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoConfig {
    /// The repo directory (the YAML file's directory); relative paths resolve against it.
    pub repo_path: PathBuf,
    /// The YAML file itself.
    pub config_path: PathBuf,
    /// `project`.
    pub project: String,
    /// `project_description`.
    pub project_description: Option<String>,
    /// `provider` (`local`; `gcp`, `aws`, `azure` behave the same here).
    pub provider: String,
    /// `registry`.
    pub registry: RegistryConfig,
    /// `online_store`; `None` when disabled with `null` or `"none"`.
    pub online_store: Option<OnlineStoreConfig>,
    /// `offline_store`.
    pub offline_store: OfflineStoreConfig,
    /// `batch_engine` type (`local` is the only one Larder runs).
    pub batch_engine: String,
    /// `entity_key_serialization_version` (3 by default; 2 accepted).
    pub entity_key_serialization_version: u32,
    /// `materialization`.
    pub materialization: MaterializationConfig,
    /// `feature_server`.
    pub feature_server: FeatureServerConfig,
    /// Things the user should know but that do not stop Larder (unknown top-level keys, ...).
    pub warnings: Vec<String>,
}

/// `registry`: where the registry lives.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryConfig {
    /// `registry_type`.
    pub registry_type: RegistryType,
    /// For a file registry, the absolute path; for SQL, the database URL as written.
    pub path: String,
    /// `cache_ttl_seconds` (600 by default; 0 = never expire).
    pub cache_ttl: Duration,
}

/// The kinds of registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryType {
    /// One serialized `Registry` protobuf in a file (Feast's default).
    File,
    /// A SQL database (SQLite or PostgreSQL URL).
    Sql,
    /// Anything else (`snowflake.registry`, `remote`, ...): parsed, not supported.
    Other(String),
}

/// `online_store`.
#[derive(Debug, Clone, PartialEq)]
pub enum OnlineStoreConfig {
    /// `type: sqlite`.
    Sqlite {
        /// The database file, absolute.
        path: PathBuf,
    },
    /// `type: redis`.
    Redis(RedisConfig),
    /// `type: postgres`.
    Postgres(PostgresConfig),
    /// A type Larder does not implement yet.
    Other {
        /// The `type` as written.
        type_name: String,
    },
}

impl OnlineStoreConfig {
    /// The store's type name as Feast prints it (`sqlite`, `redis`, ...).
    pub fn type_name(&self) -> &str {
        match self {
            OnlineStoreConfig::Sqlite { .. } => "sqlite",
            OnlineStoreConfig::Redis(_) => "redis",
            OnlineStoreConfig::Postgres(_) => "postgres",
            OnlineStoreConfig::Other { type_name } => type_name,
        }
    }
}

/// Redis online store settings (Feast's `RedisOnlineStoreConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct RedisConfig {
    /// `redis_type`.
    pub redis_type: RedisType,
    /// `connection_string`: `host:port[,host:port...][,key=value...]`.
    pub connection_string: String,
    /// `key_ttl_seconds`.
    pub key_ttl_seconds: Option<u64>,
    /// `full_scan_for_deletion`.
    pub full_scan_for_deletion: bool,
    /// `skip_dedup`: write without the newer-wins check.
    pub skip_dedup: bool,
    /// `sentinel_master`.
    pub sentinel_master: String,
}

/// `redis_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisType {
    /// A single Redis server.
    Redis,
    /// A Redis Cluster.
    RedisCluster,
    /// Redis Sentinel.
    RedisSentinel,
}

/// PostgreSQL connection settings (Feast's `PostgreSQLConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresConfig {
    /// `host`.
    pub host: String,
    /// `port`.
    pub port: u16,
    /// `database`.
    pub database: String,
    /// `db_schema`.
    pub db_schema: String,
    /// `user`.
    pub user: String,
    /// `password`.
    pub password: String,
    /// `sslmode`.
    pub sslmode: Option<String>,
}

/// `offline_store`.
#[derive(Debug, Clone, PartialEq)]
pub enum OfflineStoreConfig {
    /// Files read in process (`file`, `dask` and `duckdb` in Feast): Larder reads them with DataFusion.
    File {
        /// The `type` as written.
        type_name: String,
    },
    /// `type: postgres`.
    Postgres(PostgresConfig),
    /// A type Larder does not implement yet.
    Other {
        /// The `type` as written.
        type_name: String,
    },
}

/// `materialization`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MaterializationConfig {
    /// `online_write_batch_size`: rows per online write (Larder picks one when unset).
    pub online_write_batch_size: Option<usize>,
    /// `pull_latest_features`.
    pub pull_latest_features: bool,
}

/// `feature_server`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeatureServerConfig {
    /// `feature_server.metrics.enabled`.
    pub metrics_enabled: bool,
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "project",
    "project_description",
    "provider",
    "registry",
    "online_store",
    "offline_store",
    "batch_engine",
    "batch_engine_config",
    "entity_key_serialization_version",
    "feature_server",
    "auth",
    "coerce_tz_aware",
    "materialization",
    "embedding_model",
    "openlineage",
    "mlflow",
    "data_quality_monitoring",
    "flags",
    "repo_path",
];
const REGISTRY_KEYS: &[&str] = &[
    "registry_type",
    "path",
    "cache_ttl_seconds",
    "cache_mode",
    "s3_additional_kwargs",
    "purge_feast_metadata",
    "enable_online_feature_view_versioning",
    "serve_features_while_materializing",
    "mcp",
    "registry_store_type",
    "read_path",
    "sqlalchemy_config_kwargs",
    "thread_pool_executor_worker_count",
    "schema_mode",
    "cert",
    "is_tls",
    "client_cert",
];
const SQLITE_KEYS: &[&str] = &[
    "type",
    "path",
    "vector_enabled",
    "vector_len",
    "similarity",
    "text_search_enabled",
    "enable_openai_compatible_store",
];
const REDIS_KEYS: &[&str] = &[
    "type",
    "redis_type",
    "client",
    "sentinel_master",
    "connection_string",
    "key_ttl_seconds",
    "full_scan_for_deletion",
    "skip_dedup",
];
const POSTGRES_KEYS: &[&str] = &[
    "type",
    "host",
    "port",
    "database",
    "db_schema",
    "user",
    "password",
    "min_conn",
    "max_conn",
    "conn_type",
    "sslmode",
    "sslkey_path",
    "sslcert_path",
    "sslrootcert_path",
    "keepalives_idle",
    "vector_enabled",
    "vector_len",
    "similarity",
    "enable_openai_compatible_store",
    "max_batched_result_rows",
    "entity_select_mode",
];
const FILE_OFFLINE_KEYS: &[&str] = &[
    "type",
    "staging_location",
    "staging_location_endpoint_override",
];

impl RepoConfig {
    /// Reads `feature_store.yaml` at `path`; the repo directory is the file's directory.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: match e.kind() {
                std::io::ErrorKind::NotFound => "not found: run Larder inside a feature repo, point -c/--chdir at one, or create one with `larder init`"
                    .to_string(),
                _ => format!("cannot read: {e}"),
            },
        })?;
        let path = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
        let repo = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, &path, &repo)
    }

    /// Parses YAML text as if read from `path`, resolving relative paths against `repo_path`.
    pub fn parse(text: &str, path: &Path, repo_path: &Path) -> Result<Self> {
        let err = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let expanded = expand_vars(text);
        let raw: J =
            serde_saphyr::from_str(&expanded).map_err(|e| err(format!("not valid YAML: {e}")))?;
        let J::Object(top) = raw else {
            return Err(err(
                "expected a mapping of keys such as `project:` and `registry:`".into(),
            ));
        };
        let mut warnings = Vec::new();
        for key in top.keys() {
            if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
                warnings.push(format!(
                    "{}: unknown key `{key}` is ignored (known keys: {})",
                    path.display(),
                    TOP_LEVEL_KEYS.join(", ")
                ));
            }
        }
        if top.contains_key("flags") {
            warnings.push(format!(
                "{}: `flags` are no longer necessary and are ignored",
                path.display()
            ));
        }
        let project = match top.get("project") {
            Some(J::String(p)) => p.clone(),
            Some(_) => return Err(err("`project` must be a string".into())),
            None => {
                return Err(err(
                    "`project` is required: add e.g. `project: my_project`".into()
                ));
            }
        };
        let online_store = parse_online_store(top.get("online_store"), repo_path).map_err(&err)?;
        validate_project_name(
            &project,
            matches!(online_store, Some(OnlineStoreConfig::Sqlite { .. })),
        )
        .map_err(|m| err(format!("`project`: {m}")))?;
        let registry =
            parse_registry(top.get("registry"), repo_path, &mut warnings).map_err(&err)?;
        let offline_store = parse_offline_store(top.get("offline_store")).map_err(&err)?;
        let version = match top.get("entity_key_serialization_version") {
            None | Some(J::Null) => 3,
            Some(v) => match v.as_u64() {
                Some(n @ 2..=3) => n as u32,
                _ => {
                    return Err(err(format!(
                        "`entity_key_serialization_version` is {v}: use 3 (the default) or 2"
                    )));
                }
            },
        };
        if version == 2 {
            warnings.push(format!(
                "{}: entity_key_serialization_version 2 is deprecated in Feast; 3 is the default",
                path.display()
            ));
        }
        Ok(RepoConfig {
            repo_path: repo_path.to_path_buf(),
            config_path: path.to_path_buf(),
            project,
            project_description: opt_string(&top, "project_description").map_err(&err)?,
            provider: opt_string(&top, "provider")
                .map_err(&err)?
                .unwrap_or_else(|| "local".into()),
            registry,
            online_store,
            offline_store,
            batch_engine: parse_batch_engine(&top).map_err(&err)?,
            entity_key_serialization_version: version,
            materialization: parse_materialization(top.get("materialization")).map_err(&err)?,
            feature_server: parse_feature_server(top.get("feature_server")),
            warnings,
        })
    }

    /// The online store, or an error saying it is disabled.
    pub fn require_online_store(&self) -> Result<&OnlineStoreConfig> {
        self.online_store.as_ref().ok_or_else(|| Error::Config {
            path: self.config_path.clone(),
            message: "`online_store` is disabled (null or \"none\"): configure one, e.g. `online_store: {type: sqlite, path: data/online.db}`".into(),
        })
    }
}

/// Checks a project name as Feast does: letters, digits, `_` and `-`, not starting with `_` or `-`;
/// no `-` when the online store is SQLite (the name becomes part of table names).
pub fn validate_project_name(name: &str, sqlite: bool) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.starts_with('_') || name.starts_with('-') {
        return Err(format!("`{name}` must not start with `_` or `-`"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "`{name}` contains `{c}`: use only letters, digits, `_` and `-`"
        ));
    }
    if sqlite && name.contains('-') {
        return Err(format!(
            "`{name}` contains `-`, which the SQLite online store cannot use in table names: use `_`"
        ));
    }
    Ok(())
}

/// Expands `${VAR}` and `$VAR` from the environment, leaving unknown variables as written
/// (like Python's `os.path.expandvars`).
pub fn expand_vars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(body) = after.strip_prefix('{') {
            match body.find('}') {
                Some(end) => (&body[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match (name.is_empty(), std::env::var(name)) {
            (false, Ok(value)) => {
                out.push_str(&value);
                rest = &after[len..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn opt_string(map: &Map<String, J>, key: &str) -> std::result::Result<Option<String>, String> {
    match map.get(key) {
        None | Some(J::Null) => Ok(None),
        Some(J::String(s)) => Ok(Some(s.clone())),
        Some(J::Number(n)) => Ok(Some(n.to_string())),
        Some(J::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

fn opt_bool(
    map: &Map<String, J>,
    section: &str,
    key: &str,
) -> std::result::Result<Option<bool>, String> {
    match map.get(key) {
        None | Some(J::Null) => Ok(None),
        Some(J::Bool(b)) => Ok(Some(*b)),
        Some(J::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(J::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(format!("`{section}.{key}` is {v}: use true or false")),
    }
}

fn opt_u64(
    map: &Map<String, J>,
    section: &str,
    key: &str,
) -> std::result::Result<Option<u64>, String> {
    match map.get(key) {
        None | Some(J::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(Some)
            .ok_or_else(|| format!("`{section}.{key}` is {v}: use a whole number")),
    }
}

fn check_keys(
    map: &Map<String, J>,
    section: &str,
    kind: &str,
    allowed: &[&str],
) -> std::result::Result<(), String> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(format!(
                "`{section}.{key}` is not a setting of the {kind}; valid keys: {}",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

/// A store section as a mapping: a bare string is `{type: <string>}`.
fn section_map(value: &J, section: &str) -> std::result::Result<Map<String, J>, String> {
    match value {
        J::String(t) => {
            let mut m = Map::new();
            m.insert("type".into(), J::String(t.clone()));
            Ok(m)
        }
        J::Object(m) => Ok(m.clone()),
        other => Err(format!(
            "`{section}` is {other}: use a type name or a mapping with `type:`"
        )),
    }
}

fn resolve_path(repo: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        repo.join(p)
    }
}

fn parse_registry(
    value: Option<&J>,
    repo: &Path,
    warnings: &mut Vec<String>,
) -> std::result::Result<RegistryConfig, String> {
    let map = match value {
        None | Some(J::Null) => {
            return Err("`registry` is required: add e.g. `registry: data/registry.db`".into());
        }
        Some(J::String(path)) => {
            let mut m = Map::new();
            m.insert("path".into(), J::String(path.clone()));
            m
        }
        Some(J::Object(m)) => m.clone(),
        Some(other) => {
            return Err(format!(
                "`registry` is {other}: use a path or a mapping with `path:`"
            ));
        }
    };
    for key in map.keys() {
        if !REGISTRY_KEYS.contains(&key.as_str()) {
            warnings.push(format!(
                "`registry.{key}` is not a registry setting and is ignored"
            ));
        }
    }
    let registry_type = match opt_string(&map, "registry_type")?.as_deref() {
        None | Some("file") => RegistryType::File,
        Some("sql") => RegistryType::Sql,
        Some(other) => RegistryType::Other(other.to_string()),
    };
    let path = opt_string(&map, "path")?.unwrap_or_default();
    if path.is_empty() {
        return Err(
            "`registry.path` is required: e.g. `data/registry.db` or a database URL".into(),
        );
    }
    let path = match registry_type {
        RegistryType::File if !path.contains("://") || path.starts_with("file://") => {
            let p = path.strip_prefix("file://").unwrap_or(&path);
            resolve_path(repo, p).to_string_lossy().into_owned()
        }
        _ => path,
    };
    let ttl = opt_u64(&map, "registry", "cache_ttl_seconds")?.unwrap_or(600);
    Ok(RegistryConfig {
        registry_type,
        path,
        cache_ttl: Duration::from_secs(ttl),
    })
}

fn parse_online_store(
    value: Option<&J>,
    repo: &Path,
) -> std::result::Result<Option<OnlineStoreConfig>, String> {
    let map = match value {
        None => {
            return Ok(Some(OnlineStoreConfig::Sqlite {
                path: repo.join("data/online.db"),
            }));
        }
        Some(J::Null) => return Ok(None),
        Some(J::String(s)) if s.eq_ignore_ascii_case("none") => return Ok(None),
        Some(v) => section_map(v, "online_store")?,
    };
    let type_name = opt_string(&map, "type")?.unwrap_or_else(|| "sqlite".into());
    Ok(Some(match type_name.as_str() {
        "sqlite" => {
            check_keys(&map, "online_store", "sqlite online store", SQLITE_KEYS)?;
            let path = opt_string(&map, "path")?.unwrap_or_else(|| "data/online.db".into());
            OnlineStoreConfig::Sqlite {
                path: resolve_path(repo, &path),
            }
        }
        "redis" => {
            check_keys(&map, "online_store", "redis online store", REDIS_KEYS)?;
            let redis_type = match opt_string(&map, "redis_type")?.as_deref() {
                None | Some("redis") => RedisType::Redis,
                Some("redis_cluster") => RedisType::RedisCluster,
                Some("redis_sentinel") => RedisType::RedisSentinel,
                Some(other) => {
                    return Err(format!(
                        "`online_store.redis_type` is `{other}`: use redis, redis_cluster or redis_sentinel"
                    ));
                }
            };
            OnlineStoreConfig::Redis(RedisConfig {
                redis_type,
                connection_string: opt_string(&map, "connection_string")?
                    .unwrap_or_else(|| "localhost:6379".into()),
                key_ttl_seconds: opt_u64(&map, "online_store", "key_ttl_seconds")?,
                full_scan_for_deletion: opt_bool(&map, "online_store", "full_scan_for_deletion")?
                    .unwrap_or(true),
                skip_dedup: opt_bool(&map, "online_store", "skip_dedup")?.unwrap_or(false),
                sentinel_master: opt_string(&map, "sentinel_master")?
                    .unwrap_or_else(|| "mymaster".into()),
            })
        }
        "postgres" => {
            check_keys(&map, "online_store", "postgres online store", POSTGRES_KEYS)?;
            OnlineStoreConfig::Postgres(parse_postgres(&map, "online_store")?)
        }
        other => OnlineStoreConfig::Other {
            type_name: other.to_string(),
        },
    }))
}

fn parse_postgres(
    map: &Map<String, J>,
    section: &str,
) -> std::result::Result<PostgresConfig, String> {
    let required = |key: &str| -> std::result::Result<String, String> {
        opt_string(map, key)?.ok_or_else(|| format!("`{section}.{key}` is required for postgres"))
    };
    Ok(PostgresConfig {
        host: required("host")?,
        port: opt_u64(map, section, "port")?.unwrap_or(5432) as u16,
        database: required("database")?,
        db_schema: opt_string(map, "db_schema")?.unwrap_or_else(|| "public".into()),
        user: required("user")?,
        password: opt_string(map, "password")?.unwrap_or_default(),
        sslmode: opt_string(map, "sslmode")?,
    })
}

fn parse_offline_store(value: Option<&J>) -> std::result::Result<OfflineStoreConfig, String> {
    let map = match value {
        None | Some(J::Null) => {
            return Ok(OfflineStoreConfig::File {
                type_name: "dask".into(),
            });
        }
        Some(v) => section_map(v, "offline_store")?,
    };
    let type_name = opt_string(&map, "type")?.unwrap_or_else(|| "dask".into());
    Ok(match type_name.as_str() {
        "file" | "dask" | "duckdb" => {
            check_keys(
                &map,
                "offline_store",
                "file offline store",
                FILE_OFFLINE_KEYS,
            )?;
            OfflineStoreConfig::File { type_name }
        }
        "postgres" => {
            check_keys(
                &map,
                "offline_store",
                "postgres offline store",
                POSTGRES_KEYS,
            )?;
            OfflineStoreConfig::Postgres(parse_postgres(&map, "offline_store")?)
        }
        other => OfflineStoreConfig::Other {
            type_name: other.to_string(),
        },
    })
}

fn parse_batch_engine(top: &Map<String, J>) -> std::result::Result<String, String> {
    let value = top
        .get("batch_engine")
        .or_else(|| top.get("batch_engine_config"));
    match value {
        None | Some(J::Null) => Ok("local".into()),
        Some(v) => {
            let map = section_map(v, "batch_engine")?;
            Ok(opt_string(&map, "type")?.unwrap_or_else(|| "local".into()))
        }
    }
}

fn parse_materialization(value: Option<&J>) -> std::result::Result<MaterializationConfig, String> {
    let Some(J::Object(map)) = value else {
        return Ok(MaterializationConfig::default());
    };
    check_keys(
        map,
        "materialization",
        "materialization settings",
        &["pull_latest_features", "online_write_batch_size"],
    )?;
    Ok(MaterializationConfig {
        online_write_batch_size: opt_u64(map, "materialization", "online_write_batch_size")?
            .filter(|n| *n > 0)
            .map(|n| n as usize),
        pull_latest_features: opt_bool(map, "materialization", "pull_latest_features")?
            .unwrap_or(false),
    })
}

fn parse_feature_server(value: Option<&J>) -> FeatureServerConfig {
    let enabled = value
        .and_then(|v| v.get("metrics"))
        .and_then(|m| m.get("enabled"))
        .and_then(J::as_bool)
        .unwrap_or(false);
    FeatureServerConfig {
        metrics_enabled: enabled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RepoConfig> {
        RepoConfig::parse(
            text,
            Path::new("/repo/feature_store.yaml"),
            Path::new("/repo"),
        )
    }

    #[test]
    fn defaults_follow_feast() {
        let c = parse("project: demo\nregistry: data/registry.db\n").unwrap();
        assert_eq!(c.provider, "local");
        assert_eq!(c.registry.registry_type, RegistryType::File);
        assert_eq!(c.registry.path, "/repo/data/registry.db");
        assert_eq!(c.registry.cache_ttl, Duration::from_secs(600));
        assert_eq!(
            c.online_store,
            Some(OnlineStoreConfig::Sqlite {
                path: "/repo/data/online.db".into()
            })
        );
        assert_eq!(c.entity_key_serialization_version, 3);
        assert!(matches!(c.offline_store, OfflineStoreConfig::File { .. }));
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn reads_the_fixture_style_file() {
        let c = parse(
            "project: feast_demo\nprovider: local\nregistry: data/registry.db\nonline_store:\n  type: sqlite\n  path: data/online.db\noffline_store:\n  type: duckdb\nentity_key_serialization_version: 3\n",
        )
        .unwrap();
        assert_eq!(c.project, "feast_demo");
        assert_eq!(
            c.offline_store,
            OfflineStoreConfig::File {
                type_name: "duckdb".into()
            }
        );
    }

    #[test]
    fn redis_and_sql_registry() {
        let c = parse(
            "project: p\nregistry:\n  registry_type: sql\n  path: postgresql://localhost/test\n  cache_ttl_seconds: 5\nonline_store:\n  type: redis\n  redis_type: redis_cluster\n  connection_string: 127.0.0.1:7000,127.0.0.1:7001\n  key_ttl_seconds: 3600\n",
        )
        .unwrap();
        assert_eq!(c.registry.registry_type, RegistryType::Sql);
        assert_eq!(c.registry.path, "postgresql://localhost/test");
        let Some(OnlineStoreConfig::Redis(r)) = c.online_store else {
            panic!()
        };
        assert_eq!(r.redis_type, RedisType::RedisCluster);
        assert_eq!(r.key_ttl_seconds, Some(3600));
        assert!(r.full_scan_for_deletion);
    }

    #[test]
    fn unknown_store_key_is_an_error_naming_it() {
        let e = parse("project: p\nregistry: r.db\nonline_store:\n  type: sqlite\n  paht: x.db\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("online_store.paht") && e.contains("path"), "{e}");
    }

    #[test]
    fn unknown_top_level_key_is_a_warning() {
        let c = parse("project: p\nregistry: r.db\nfrobnicate: 1\n").unwrap();
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("frobnicate"));
    }

    #[test]
    fn missing_project_and_registry_are_errors() {
        assert!(
            parse("registry: r.db\n")
                .unwrap_err()
                .to_string()
                .contains("`project` is required")
        );
        assert!(
            parse("project: p\n")
                .unwrap_err()
                .to_string()
                .contains("`registry` is required")
        );
    }

    #[test]
    fn project_names_are_checked() {
        assert!(parse("project: _p\nregistry: r\n").is_err());
        let e = parse("project: my-proj\nregistry: r\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("SQLite"), "{e}");
        assert!(parse("project: my-proj\nregistry: r\nonline_store: {type: redis}\n").is_ok());
        assert!(parse("project: a.b\nregistry: r\n").is_err());
    }

    #[test]
    fn expands_environment_variables() {
        // `set_var` is unsafe in edition 2024; use a variable every test environment has.
        let home = std::env::var("PATH").unwrap();
        assert_eq!(expand_vars("a ${PATH} b"), format!("a {home} b"));
        assert_eq!(expand_vars("$PATH"), home);
        assert_eq!(
            expand_vars("${LARDER_SURELY_UNSET_VAR}"),
            "${LARDER_SURELY_UNSET_VAR}"
        );
        assert_eq!(expand_vars("cost: $5"), "cost: $5");
    }

    #[test]
    fn disabled_online_store() {
        let c = parse("project: p\nregistry: r\nonline_store: null\n").unwrap();
        assert!(c.online_store.is_none());
        assert!(c.require_online_store().is_err());
        let c = parse("project: p\nregistry: r\nonline_store: none\n").unwrap();
        assert!(c.online_store.is_none());
    }

    #[test]
    fn bad_serialization_version() {
        let e =
            parse("project: p\nregistry: r\nentity_key_serialization_version: 1\n").unwrap_err();
        assert!(e.to_string().contains("use 3"));
    }
}
