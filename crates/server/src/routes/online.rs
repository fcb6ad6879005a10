//! `POST /get-online-features`: Feast's request and response, served from a cached read plan.

use std::borrow::Cow;
use std::cell::RefCell;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value as J};

use crate::error::ApiError;
use crate::extract::{BodyBytes, parse};
use crate::plans::SelectionRef;
use crate::state::AppState;

/// Feast's `GetOnlineFeaturesRequest`. `include_feature_view_version_metadata` is accepted and
/// ignored (unknown fields are ignored, as pydantic does). Names are borrowed from the body
/// (copied only when they hold JSON escapes): the plan is looked up by them.
#[derive(Debug, Deserialize)]
pub(crate) struct OnlineRequest<'a> {
    /// `["view:feature", ...]`, used when no feature service is named.
    #[serde(default, borrow)]
    features: Option<Vec<Name<'a>>>,
    /// A feature service's name; wins over `features`.
    #[serde(default, borrow)]
    feature_service: Option<Name<'a>>,
    /// Join key (or request column) → one value per entity row.
    entities: Map<String, J>,
    /// Name columns `<view>__<feature>`.
    #[serde(default)]
    full_feature_names: bool,
}

/// A name in a request, borrowed from the body unless it holds escapes.
#[derive(Debug, Deserialize)]
struct Name<'a>(#[serde(borrow)] Cow<'a, str>);

/// Reads the requested features for the entity rows; the response JSON is written straight from
/// the stored bytes.
pub(crate) async fn get_online_features(
    State(state): State<AppState>,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    let request: OnlineRequest<'_> = parse(&body)?;
    let rows = entity_rows(&request.entities)?;
    let refs: Vec<&str>;
    let selection = match &request.feature_service {
        Some(Name(service)) if !service.is_empty() => SelectionRef::Service(service),
        _ => {
            refs = request.features.iter().flatten().map(|n| &*n.0).collect();
            SelectionRef::Refs(&refs)
        }
    };
    let plan = state.online_plan(selection, request.full_feature_names)?;
    let answer = state
        .store()
        .read_online_answer(&plan, &request.entities)
        .await?;
    let (body, statuses) = RESPONSE_BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        let statuses = answer.write_json(buffer)?;
        let body = Bytes::copy_from_slice(buffer);
        if buffer.capacity() > MAX_KEPT_BUFFER_BYTES {
            *buffer = Vec::new();
        }
        Ok::<_, larder::Error>((body, statuses))
    })?;
    state.metrics().record_online(rows, statuses);
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

thread_local! {
    /// Each server thread writes its responses here first, then copies each into a body of
    /// exactly its size: one allocation per response, where a growing `Vec` reallocated on the
    /// way and then needed one more to become a body. The buffer keeps its capacity between
    /// requests (up to [`MAX_KEPT_BUFFER_BYTES`]).
    static RESPONSE_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A response buffer larger than this after a request is freed rather than kept.
const MAX_KEPT_BUFFER_BYTES: usize = 4 << 20;

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
