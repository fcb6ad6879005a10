//! `POST /push` and `POST /write-to-online-store`: rows as JSON columns into the stores.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use larder::push::{PushMode, PushReport};
use serde::Deserialize;
use serde_json::{Map, Value as J};

use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::routes::yes;
use crate::state::{AppState, Catalog};

/// Feast's `PushFeaturesRequest`; `transform_on_write` is accepted and ignored (Larder has no
/// on-demand transformations).
#[derive(Debug, Deserialize)]
pub(crate) struct PushRequest {
    push_source_name: String,
    df: Map<String, J>,
    #[serde(default = "yes")]
    allow_registry_cache: bool,
    #[serde(default)]
    to: PushMode,
}

/// Feast's `WriteToFeatureStoreRequest`.
#[derive(Debug, Deserialize)]
pub(crate) struct WriteRequest {
    feature_view_name: String,
    df: Map<String, J>,
    #[serde(default = "yes")]
    allow_registry_cache: bool,
}

/// Pushes rows to every view fed by the push source; 200 with an empty body.
pub(crate) async fn push(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<PushRequest>,
) -> Result<StatusCode, ApiError> {
    let catalog = catalog(&state, request.allow_registry_cache).await?;
    let report = state
        .store()
        .push_with_snapshot(
            &catalog.registry,
            &request.push_source_name,
            &request.df,
            request.to,
        )
        .await?;
    state
        .metrics()
        .record_push(&request.push_source_name, request.to.as_str());
    record_event_times(&state, &report);
    Ok(StatusCode::OK)
}

/// Writes rows to one view's online data; 200 with `null`.
pub(crate) async fn write_to_online_store(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<WriteRequest>,
) -> Result<Json<J>, ApiError> {
    let catalog = catalog(&state, request.allow_registry_cache).await?;
    let report = state
        .store()
        .write_to_online_store_with_snapshot(
            &catalog.registry,
            &request.feature_view_name,
            &request.df,
        )
        .await?;
    record_event_times(&state, &report);
    Ok(Json(J::Null))
}

/// The catalog to use: the cached one, or (when the client disallows the registry cache) one
/// refreshed now.
async fn catalog(
    state: &AppState,
    allow_registry_cache: bool,
) -> Result<std::sync::Arc<Catalog>, ApiError> {
    if !allow_registry_cache {
        state.refresh_registry().await?;
    }
    Ok(state.catalog())
}

fn record_event_times(state: &AppState, report: &PushReport) {
    for view in report.views.iter().filter(|v| v.online.is_some()) {
        if let Some(newest) = view.max_event_ts {
            state.metrics().record_event_time(&view.view, newest);
        }
    }
}
