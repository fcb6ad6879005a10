//! `POST /get-online-features`: Feast's request and response, served from a cached read plan.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use larder::FeatureSelection;
use serde::Deserialize;
use serde_json::{Map, Value as J};

use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;

/// Feast's `GetOnlineFeaturesRequest`. `include_feature_view_version_metadata` is accepted and
/// ignored (unknown fields are ignored, as pydantic does).
#[derive(Debug, Deserialize)]
pub(crate) struct OnlineRequest {
    /// `["view:feature", ...]`, used when no feature service is named.
    #[serde(default)]
    features: Option<Vec<String>>,
    /// A feature service's name; wins over `features`.
    #[serde(default)]
    feature_service: Option<String>,
    /// Join key (or request column) → one value per entity row.
    entities: Map<String, J>,
    /// Name columns `<view>__<feature>`.
    #[serde(default)]
    full_feature_names: bool,
}

/// Reads the requested features for the entity rows; the response JSON is written straight from
/// the stored bytes.
pub(crate) async fn get_online_features(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<OnlineRequest>,
) -> Result<Response, ApiError> {
    let rows = entity_rows(&request.entities)?;
    let selection = match request.feature_service {
        Some(service) if !service.is_empty() => FeatureSelection::Service(service),
        _ => FeatureSelection::Refs(request.features.unwrap_or_default()),
    };
    let plan = state.online_plan(selection, request.full_feature_names)?;
    let answer = state
        .store()
        .read_online_answer(&plan, &request.entities)
        .await?;
    let mut body = Vec::with_capacity(RESPONSE_BYTES_PER_ROW * rows.max(1));
    let statuses = answer.write_json(&mut body)?;
    state.metrics().record_online(rows, statuses);
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// A first guess at the response size per entity row, to size the buffer once.
const RESPONSE_BYTES_PER_ROW: usize = 512;

/// Checks every entity column is a list and returns the number of rows (of the first column).
fn entity_rows(entities: &Map<String, J>) -> Result<usize, ApiError> {
    let mut rows = None;
    for (name, values) in entities {
        let values = values.as_array().ok_or_else(|| {
            ApiError::BadRequest(format!(
                "entities.{name} must be a list of values, one per entity row"
            ))
        })?;
        rows.get_or_insert(values.len());
    }
    Ok(rows.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn entity_columns_must_be_lists() {
        let ok = json!({"driver_id": [1, 2], "other": []});
        assert_eq!(entity_rows(ok.as_object().unwrap()).unwrap(), 2);
        let bad = json!({"driver_id": 1001});
        let err = entity_rows(bad.as_object().unwrap()).unwrap_err();
        assert!(err.message().contains("entities.driver_id"), "{err}");
    }
}
