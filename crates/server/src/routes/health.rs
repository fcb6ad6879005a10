//! `GET /health`: 200 with an empty body while the registry can be read, else 503.

use axum::extract::State;
use axum::http::StatusCode;

use crate::error::ApiError;
use crate::state::AppState;

/// Reports whether the last registry refresh succeeded (no registry read happens here).
pub(crate) async fn health(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    match state.registry_error() {
        Some(error) => Err(ApiError::Unavailable(format!(
            "the registry cannot be read: {error}"
        ))),
        None => Ok(StatusCode::OK),
    }
}
