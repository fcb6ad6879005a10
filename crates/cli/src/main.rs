//! The `larder` binary: parse the command line, call the `larder` library, print the result.
//! Errors print with their whole cause chain and exit with status 2 (1 for a failed check).

mod args;
mod cmd;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use larder::FeatureStore;
use larder_core::config::{FEATURE_STORE_YAML, RepoConfig};

use crate::args::{Cli, Command};

/// mimalloc keeps freed memory for reuse: Arrow batches and response buffers come and go by the
/// thousand, and the system allocator hands large ones back to the kernel and faults them in again.
/// Built without transparent huge pages (`no_thp`), which cost materialization ~30 MB of peak RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_level);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("Error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(level: &str) {
    let level = match level.to_ascii_lowercase().as_str() {
        "warning" => "warn".to_string(),
        "critical" => "error".to_string(),
        other => other.to_string(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LARDER_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},larder_server::access=info"))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Some(dir) = &cli.chdir {
        std::env::set_current_dir(dir)
            .with_context(|| format!("cannot change to {}", dir.display()))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let yaml = cli.feature_store_yaml.clone();
    runtime.block_on(async move {
        match cli.command {
            Command::Init { name } => cmd::init::run(name.as_deref()),
            Command::Version => {
                println!(
                    "larder {} (Feast 0.67 compatible)",
                    env!("CARGO_PKG_VERSION")
                );
                Ok(ExitCode::SUCCESS)
            }
            command => {
                let config = load_config(yaml)?;
                let store = FeatureStore::from_config(config)?;
                cmd::dispatch(&store, command).await
            }
        }
    })
}

/// Loads `feature_store.yaml` (from `-f`, else the current directory) and prints its warnings.
fn load_config(path: Option<PathBuf>) -> Result<RepoConfig> {
    let path = path.unwrap_or_else(|| PathBuf::from(FEATURE_STORE_YAML));
    let config = RepoConfig::load(&path)?;
    for warning in &config.warnings {
        eprintln!("Warning: {warning}");
    }
    Ok(config)
}
