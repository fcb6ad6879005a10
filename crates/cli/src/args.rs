//! The command line: Feast's command names and global flags, parsed by clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Larder: a Feast-compatible feature store in one binary.
#[derive(Debug, Parser)]
#[command(name = "larder", version, about, long_about = None, disable_help_subcommand = true)]
pub(crate) struct Cli {
    /// Run as if started in this directory (the feature repo).
    #[arg(short = 'c', long = "chdir", global = true, env = "FEATURE_REPO_DIR")]
    pub(crate) chdir: Option<PathBuf>,
    /// The feature_store.yaml to use (default: <repo>/feature_store.yaml). Goes before the command.
    #[arg(
        short = 'f',
        long = "feature-store-yaml",
        env = "FEAST_FS_YAML_FILE_PATH"
    )]
    pub(crate) feature_store_yaml: Option<PathBuf>,
    /// Log level: error, warning, info, debug, trace.
    #[arg(long = "log-level", global = true, default_value = "warning")]
    pub(crate) log_level: String,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a new feature repo with example definitions and generated data.
    Init {
        /// The directory (and project) name.
        name: Option<String>,
    },
    /// Show what `apply` would change, object by object and field by field.
    Plan,
    /// Apply the repo's definitions to the registry and create online-store tables.
    Apply,
    /// Remove the project's online tables and registry objects.
    Teardown,
    /// Print the project's registry contents as JSON.
    RegistryDump,
    /// Print the version.
    Version,
    /// Entities.
    #[command(subcommand)]
    Entities(ObjectCommand),
    /// Data sources.
    #[command(subcommand)]
    DataSources(ObjectCommand),
    /// Feature views.
    #[command(subcommand)]
    FeatureViews(ObjectCommand),
    /// Feature services.
    #[command(subcommand)]
    FeatureServices(ObjectCommand),
    /// Projects in the registry.
    #[command(subcommand)]
    Projects(ObjectCommand),
    /// Load the latest feature values in [START, END] into the online store.
    Materialize(MaterializeArgs),
    /// Load feature values from where each view's last materialization ended up to END.
    MaterializeIncremental(MaterializeIncrementalArgs),
    /// Read feature values from the online store (prints the JSON the HTTP server returns).
    GetOnlineFeatures(OnlineArgs),
    /// Build a point-in-time correct training set.
    GetHistoricalFeatures(HistoricalArgs),
    /// Run the HTTP feature server (Feast's HTTP API).
    #[command(disable_help_flag = true)]
    Serve(ServeArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ObjectCommand {
    /// List the objects.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Describe one object.
    Describe {
        /// The object's name.
        name: String,
        /// Print JSON instead of YAML.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct MaterializeArgs {
    /// Start (ISO 8601; UTC when no zone is given), inclusive.
    pub(crate) start: String,
    /// End (ISO 8601), inclusive.
    pub(crate) end: String,
    /// Only these feature views (repeatable).
    #[arg(short = 'v', long = "views")]
    pub(crate) views: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct MaterializeIncrementalArgs {
    /// End (ISO 8601; UTC when no zone is given), inclusive.
    pub(crate) end: String,
    /// Only these feature views (repeatable).
    #[arg(short = 'v', long = "views")]
    pub(crate) views: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct OnlineArgs {
    /// Feature references `view:feature` (repeatable, or comma-separated).
    #[arg(short = 'f', long = "features", value_delimiter = ',')]
    pub(crate) features: Vec<String>,
    /// A feature service instead of feature references.
    #[arg(short = 's', long = "feature-service", conflicts_with = "features")]
    pub(crate) feature_service: Option<String>,
    /// Entity values `join_key=value` (repeatable; one per entity row).
    #[arg(short = 'e', long = "entities")]
    pub(crate) entities: Vec<String>,
    /// Name features `<view>__<feature>`.
    #[arg(long)]
    pub(crate) full_feature_names: bool,
}

#[derive(Debug, Args)]
pub(crate) struct HistoricalArgs {
    /// Entity rows: a Parquet or CSV file with the join keys and an event_timestamp column.
    #[arg(short = 'd', long = "entities")]
    pub(crate) entities: PathBuf,
    /// Feature references `view:feature` (repeatable, or comma-separated).
    #[arg(short = 'f', long = "features", value_delimiter = ',')]
    pub(crate) features: Vec<String>,
    /// A feature service instead of feature references.
    #[arg(short = 's', long = "feature-service", conflicts_with = "features")]
    pub(crate) feature_service: Option<String>,
    /// Name features `<view>__<feature>`.
    #[arg(long)]
    pub(crate) full_feature_names: bool,
    /// Where to write: a `.parquet` or `.csv` file, or `-` for CSV on standard output.
    #[arg(short = 'o', long = "output", default_value = "-")]
    pub(crate) output: String,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub(crate) help: Option<bool>,
    /// Address to listen on.
    #[arg(short = 'h', long = "host", default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// Port to listen on.
    #[arg(short = 'p', long = "port", default_value_t = 6566)]
    pub(crate) port: u16,
    /// Seconds between background registry refreshes.
    #[arg(
        short = 'r',
        long = "registry-ttl-sec",
        alias = "registry_ttl_sec",
        default_value_t = 60
    )]
    pub(crate) registry_ttl_sec: u64,
    /// Serve Prometheus metrics at /metrics.
    #[arg(short = 'm', long = "metrics")]
    pub(crate) metrics: bool,
    /// Turn off the access log.
    #[arg(long = "no-access-log")]
    pub(crate) no_access_log: bool,
    /// Allowed CORS origins (repeatable; `*` for any).
    #[arg(long = "cors-allowed-origins", value_delimiter = ',')]
    pub(crate) cors_allowed_origins: Vec<String>,
    /// Request timeout in seconds.
    #[arg(long = "request-timeout-sec", default_value_t = 60)]
    pub(crate) request_timeout_sec: u64,
    /// Threads serving requests (default: one per CPU). Each runs the whole of its connections'
    /// requests; all share one process, one SQLite pool and one registry cache (each has its own
    /// Redis connection). On a machine whose cores other busy processes share, fewer threads than
    /// cores keep tail latency down.
    #[arg(short = 'w', long = "workers", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) workers: Option<u16>,
}
