//! [`app`]: the router with every route and the middleware around them, without a socket, so
//! tests can drive it with `tower::ServiceExt::oneshot`.
//!
//! Middleware, outermost first: CORS (when origins are configured), metrics and the access log,
//! JSON bodies for bodiless error answers (405, 408), the request timeout, panics → 500, and
//! the body size limit. It wraps the router once, as one stack of services, rather than each
//! route (`Router::layer`): wrapped per route, every layer boxed and cloned the route's service
//! and boxed its future on every request, 37 of the 99 allocations of a 1-entity request.

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::error::{ApiError, Error, InternalError};
use crate::metrics::{ENDPOINTS, endpoint_of_path};
use crate::routes::{self, health, materialize, metrics, online, openapi, push};
use crate::state::AppState;

/// The router of the feature server for `state`.
pub fn app(state: AppState) -> Router {
    let options = state.options();
    let timeout = (!options.request_timeout.is_zero()).then(|| {
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, options.request_timeout)
    });
    let cors = cors_layer(&options.cors_allowed_origins).unwrap_or_else(|error| {
        tracing::warn!(%error, "CORS is off");
        None
    });
    let routes = routes(options.metrics).with_state(state.clone());
    let service = ServiceBuilder::new()
        .option_layer(cors)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(middleware::map_response_with_state(state, fill_error_body))
        .option_layer(timeout)
        .map_response(with_axum_body)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(DefaultBodyLimit::max(crate::BODY_LIMIT_BYTES))
        .service(routes);
    Router::new().fallback_service(service)
}

/// Every route; `/metrics` only when `metrics` is on.
fn routes(metrics: bool) -> Router<AppState> {
    let router = Router::new()
        .route("/get-online-features", post(online::get_online_features))
        .route("/push", post(push::push))
        .route("/write-to-online-store", post(push::write_to_online_store))
        .route("/materialize", post(materialize::materialize))
        .route(
            "/materialize-incremental",
            post(materialize::materialize_incremental),
        )
        .route("/jobs/{id}", get(materialize::job))
        .route("/health", get(health::health))
        .route("/openapi.json", get(openapi::openapi));
    let router = if metrics {
        router.route("/metrics", get(metrics::metrics))
    } else {
        router
    };
    router.fallback(routes::not_found)
}

/// `response` with its body as an axum [`Body`], as the middleware above the panic catcher
/// (which boxes bodies its own way) takes them.
fn with_axum_body<B>(response: axum::http::Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    response.map(Body::new)
}

/// The CORS layer for `origins` (`*` allows any origin); `None` when the list is empty.
pub(crate) fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, Error> {
    if origins.is_empty() {
        return Ok(None);
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(Any);
    if origins.iter().any(|o| o == "*") {
        return Ok(Some(layer.allow_origin(Any)));
    }
    let values = origins
        .iter()
        .map(|o| HeaderValue::from_str(o.trim()).map_err(|_| Error::Cors { origin: o.clone() }))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(layer.allow_origin(AllowOrigin::list(values))))
}

/// Counts the request in the metrics, logs 5xx causes, and writes the access log line.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let endpoint = endpoint_of_path(request.uri().path());
    let access = state
        .options()
        .access_log
        .then(|| (request.method().clone(), request.uri().path().to_owned()));
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state.metrics().record_request(endpoint, status, elapsed);
    if let Some(InternalError(message)) = response.extensions().get::<InternalError>() {
        tracing::error!(endpoint = ENDPOINTS[endpoint], status, error = %message, "request failed");
    }
    if let Some((method, path)) = access {
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        tracing::info!(target: "larder_server::access", %method, path, status, latency_ms, "request");
    }
    response
}

/// Gives error answers that have no body of their own (405 from routing, 408 from the timeout)
/// the same `{"detail": ...}` body as every other error.
async fn fill_error_body(State(state): State<AppState>, response: Response) -> Response {
    let status = response.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || response.headers().contains_key(CONTENT_TYPE) {
        return response;
    }
    let detail = match status {
        StatusCode::REQUEST_TIMEOUT => format!(
            "the request did not finish within the server's request timeout of {} s",
            state.options().request_timeout.as_secs_f64()
        ),
        other => other.canonical_reason().unwrap_or("error").to_string(),
    };
    let (mut parts, _) = response.into_parts();
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json!({ "detail": detail }).to_string()))
}

/// A handler panic becomes a logged 500 instead of a dropped connection.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = format!(
        "handler panicked: {}",
        materialize::panic_text(panic.as_ref())
    );
    ApiError::Internal(message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_are_validated() {
        assert!(cors_layer(&[]).unwrap().is_none());
        assert!(cors_layer(&["*".into()]).unwrap().is_some());
        assert!(
            cors_layer(&["https://app.example.com".into()])
                .unwrap()
                .is_some()
        );
        let err = cors_layer(&["bad\norigin".into()]).unwrap_err();
        assert!(err.to_string().contains("bad"), "{err}");
    }
}
