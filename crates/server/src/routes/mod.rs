//! The HTTP handlers, one module per concern. Request and response bodies follow Feast 0.67's
//! Python feature server (`feature_server.py`); `/jobs/{id}`, `/metrics` and `/openapi.json` are
//! Larder's additions.

pub(crate) mod health;
pub(crate) mod materialize;
pub(crate) mod metrics;
pub(crate) mod online;
pub(crate) mod openapi;
pub(crate) mod push;

use axum::http::{Method, Uri};

use crate::error::ApiError;

/// The answer for a path no route matches.
pub(crate) async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no route for {method} {}; the API is described at /openapi.json",
        uri.path()
    ))
}

/// Feast's default for `allow_registry_cache`.
pub(crate) fn yes() -> bool {
    true
}
