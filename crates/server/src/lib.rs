//! `larder-server`: Larder's HTTP feature server. It speaks Feast 0.67's HTTP API, so Feast
//! clients switch to it by changing a URL.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /get-online-features` | `features` or `feature_service`, `entities`, `full_feature_names` | Feast's online response |
//! | `POST /push` | `push_source_name`, `df`, `to` | 200, empty body |
//! | `POST /write-to-online-store` | `feature_view_name`, `df` | 200 `null` |
//! | `POST /materialize[?async=true]` | `start_ts`, `end_ts`, `feature_views`, `disable_event_timestamp` | 200 `null`, or 202 with a job id |
//! | `POST /materialize-incremental[?async=true]` | `end_ts`, `feature_views` | as `/materialize` |
//! | `GET /jobs/{id}` | | the job's state and rows written per view |
//! | `GET /health` | | 200, or 503 when the registry cannot be read |
//! | `GET /metrics` | | Prometheus text (with `metrics: true`) |
//! | `GET /openapi.json` | | the OpenAPI 3 description |
//!
//! Errors answer `{"detail": "<message>"}` with Feast's codes: 400 malformed request, 404 unknown
//! view, service, feature, job or route, 409 view already materializing, 413 body over 16 MiB,
//! 422 unknown push source, 408 past the request timeout, 501 not supported yet, 503 registry
//! unreadable, 500 anything else (logged; the body stays generic).
//!
//! ```no_run
//! # async fn demo() -> Result<(), larder_server::Error> {
//! let store = larder::FeatureStore::open(std::path::Path::new("feature_store.yaml"))?;
//! larder_server::serve(store, larder_server::ServeOptions::default()).await
//! # }
//! ```

mod app;
pub mod error;
mod extract;
pub mod jobs;
pub mod metrics;
mod plans;
mod routes;
pub mod state;
mod workers;

use std::future::Future;
use std::time::Duration;

use larder::FeatureStore;
use tokio::net::TcpListener;

pub use app::app;
pub use error::{ApiError, Error, Result};
pub use extract::JsonBody;
pub use plans::SelectionRef;
pub use state::AppState;

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT_BYTES: usize = 16 << 20;

/// How the server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// The address to listen on (`127.0.0.1`, `0.0.0.0`, `::`, a host name).
    pub host: String,
    /// The port (`0` picks a free one).
    pub port: u16,
    /// How often the registry is re-read in the background; zero never re-reads it.
    pub registry_ttl: Duration,
    /// Serve `GET /metrics`.
    pub metrics: bool,
    /// Log one `tracing` event per request (target `larder_server::access`).
    pub access_log: bool,
    /// Origins allowed by CORS (`*` for any); empty turns CORS off.
    pub cors_allowed_origins: Vec<String>,
    /// Requests running longer are answered 408; zero means no limit.
    pub request_timeout: Duration,
    /// Server threads, each with an async runtime of its own (a connection stays on one thread);
    /// zero means one per CPU.
    pub threads: usize,
}

impl Default for ServeOptions {
    /// Feast's defaults: `127.0.0.1:6566`, registry re-read every 60 s; no metrics; access log on;
    /// no CORS; 60 s request timeout; one server thread per CPU.
    fn default() -> Self {
        ServeOptions {
            host: "127.0.0.1".into(),
            port: 6566,
            registry_ttl: Duration::from_secs(60),
            metrics: false,
            access_log: true,
            cors_allowed_origins: Vec::new(),
            request_timeout: Duration::from_secs(60),
            threads: 0,
        }
    }
}

/// Serves `store` on `options.host:options.port` until SIGINT or SIGTERM; requests in flight
/// then finish before this returns.
pub async fn serve(store: FeatureStore, options: ServeOptions) -> Result<()> {
    app::cors_layer(&options.cors_allowed_origins)?;
    let address = format!("{}:{}", options.host, options.port);
    let listener = TcpListener::bind((options.host.as_str(), options.port))
        .await
        .map_err(|source| Error::Bind { address, source })?;
    let state = AppState::new(store, &options).await?;
    serve_with(listener, state, shutdown_signal()).await
}

/// Serves `state` on `listener` with `state.options().threads` server threads until `shutdown`
/// completes, then lets requests in flight finish. Materialization jobs run on the calling
/// runtime; those still running at that point are cancelled when it stops (a cancelled run
/// records nothing and can simply be run again).
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let threads = match state.options().threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    workers::serve_on_threads(listener, state.clone(), threads, shutdown).await?;
    let unfinished = state.jobs().unfinished();
    if !unfinished.is_empty() {
        let ids: Vec<String> = unfinished.iter().map(|j| j.id()).collect();
        tracing::warn!(jobs = %ids.join(", "), "stopping with materialization jobs still running; rerun them");
    }
    tracing::info!("feature server stopped");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
