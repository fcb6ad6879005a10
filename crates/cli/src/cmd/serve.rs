//! `serve`: the HTTP feature server.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use larder::FeatureStore;
use larder_server::ServeOptions;

use crate::args::ServeArgs;

pub(crate) async fn run(store: &FeatureStore, args: ServeArgs) -> Result<ExitCode> {
    let options = ServeOptions {
        host: args.host,
        port: args.port,
        registry_ttl: Duration::from_secs(args.registry_ttl_sec),
        metrics: args.metrics || store.config().feature_server.metrics_enabled,
        access_log: !args.no_access_log,
        cors_allowed_origins: args.cors_allowed_origins,
        request_timeout: Duration::from_secs(args.request_timeout_sec),
        threads: args.workers.map_or(0, usize::from),
    };
    larder_server::serve(store.clone(), options).await?;
    Ok(ExitCode::SUCCESS)
}
