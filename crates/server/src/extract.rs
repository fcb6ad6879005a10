//! [`JsonBody`]: the JSON request extractor. Bad JSON, wrong field types and bodies over the limit
//! become [`ApiError`]s, so every rejection has the same `{"detail": ...}` shape.
//!
//! Unlike `axum::Json` it does not insist on a `Content-Type: application/json` header (Feast's
//! server does not either), and it names the field at fault (`entities.driver_id[2]: ...`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A request body parsed as JSON into `T`.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let BodyBytes(bytes) = BodyBytes::from_request(request, state).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// A request body as bytes, for handlers that parse it themselves (to borrow strings from it);
/// a body over the limit or one that cannot be read is rejected as [`JsonBody`] rejects it.
#[derive(Debug, Clone)]
pub(crate) struct BodyBytes(pub(crate) Bytes);

impl<S> FromRequest<S> for BodyBytes
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(format!(
                        "the request body is over the limit of {} MiB; send fewer rows per request",
                        crate::BODY_LIMIT_BYTES >> 20
                    ))
                } else {
                    ApiError::BadRequest(format!(
                        "cannot read the request body: {}",
                        rejection.body_text()
                    ))
                }
            })
            .map(BodyBytes)
    }
}

/// Parses `bytes` as a `T`, naming the offending field in errors.
///
/// A valid body is parsed once, without tracking where the parser is; only a body that fails is
/// parsed again with tracking, to name the field at fault.
pub(crate) fn parse<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(_) => parse_naming_the_field(bytes),
    }
}

/// [`parse`] with the path of the field at fault in the error.
fn parse_naming_the_field<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let is_data = e.inner().classify() == serde_json::error::Category::Data;
        if is_data && path != "." {
            ApiError::BadRequest(format!("invalid JSON body: field `{path}`: {}", e.inner()))
        } else {
            ApiError::BadRequest(format!("invalid JSON body: {}", e.inner()))
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[allow(dead_code)]
        features: Vec<String>,
    }

    #[test]
    fn names_the_field_at_fault() {
        let err = parse::<Body>(br#"{"features": ["a", 3]}"#).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(err.message().contains("`features[1]`"), "{err}");
        let err = parse::<Body>(b"{").unwrap_err();
        assert!(err.message().starts_with("invalid JSON body: EOF"), "{err}");
        let err = parse::<Body>(br#"{"features": []} x"#).unwrap_err();
        assert!(err.message().contains("trailing"), "{err}");
        let err = parse::<Body>(br#"{}"#).unwrap_err();
        assert!(err.message().contains("missing field `features`"), "{err}");
    }
}
