//! Errors: [`enum@Error`] for starting and running the server, and [`ApiError`], the one type every
//! handler fails with, which maps to an HTTP status in a single `match`.
//!
//! Every error response has the body `{"detail": "<message>"}` (content type `application/json`).
//! 5xx answers carry a generic message; the real one is attached to the response as an
//! [`InternalError`] extension and logged by the access middleware.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use larder::offline as offline_store;
use larder::online_store;
use larder::registry;
use serde_json::json;

/// A result whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the server could not start, or stopped with a failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be opened.
    #[error("cannot listen on {address}: {source}; is another process using the port?")]
    Bind {
        /// `host:port`.
        address: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The server loop failed.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// A configured CORS origin is not a valid header value.
    #[error("CORS origin `{origin}` is not valid: use `*` or origins like https://app.example.com")]
    Cors {
        /// The origin as given.
        origin: String,
    },
    /// A server thread failed outside a request (it could not start, or stopped early).
    #[error("a server thread failed: {0}")]
    Thread(String),
    /// The feature store failed while starting (registry unreadable, online store unreachable).
    #[error(transparent)]
    Store(#[from] larder::Error),
}

/// A failed request: its status and the message the client sees.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: malformed JSON, a wrong value type, a missing entity column, a bad time range.
    BadRequest(String),
    /// 404: an unknown feature view, feature service, feature, job or route.
    NotFound(String),
    /// 409: a materialization of one of the views is already running.
    Conflict(String),
    /// 413: the body is over the size limit.
    PayloadTooLarge(String),
    /// 422: the push source does not exist (Feast's code for `PushSourceNotFoundException`).
    UnknownPushSource(String),
    /// 501: the request needs something Larder does not implement yet.
    NotImplemented(String),
    /// 503: the registry cannot be read.
    Unavailable(String),
    /// 500: anything else; the message is logged, never sent.
    Internal(String),
}

/// The real message of a 5xx answer, attached to the response for the logging middleware.
#[derive(Debug, Clone)]
pub struct InternalError(pub String);

/// The body clients get for a 500 instead of the internal message.
const INTERNAL_DETAIL: &str = "internal server error; the server log has the details";

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnknownPushSource(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message (for a 500, the internal one).
    pub fn message(&self) -> &str {
        match self {
            ApiError::BadRequest(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::PayloadTooLarge(m)
            | ApiError::UnknownPushSource(m)
            | ApiError::NotImplemented(m)
            | ApiError::Unavailable(m)
            | ApiError::Internal(m) => m,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status().as_u16(), self.message())
    }
}

impl From<larder::Error> for ApiError {
    fn from(error: larder::Error) -> Self {
        use larder::Error as E;
        let message = error.to_string();
        match error {
            E::NotFound(_) | E::Registry(registry::Error::NotFound { .. }) => {
                ApiError::NotFound(message)
            }
            E::PushSourceNotFound(_) => ApiError::UnknownPushSource(message),
            E::InvalidRequest(_)
            | E::Online(online_store::Error::Data { .. })
            | E::Offline(offline_store::Error::Request(_))
            | E::Core(larder::core::Error::Value(_) | larder::core::Error::Parse(_)) => {
                ApiError::BadRequest(message)
            }
            E::AlreadyMaterializing(_) => ApiError::Conflict(message),
            E::Unsupported(_) | E::Registry(registry::Error::Unsupported { .. }) => {
                ApiError::NotImplemented(message)
            }
            _ => ApiError::Internal(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(message) = self {
            let mut response = (status, Json(json!({ "detail": INTERNAL_DETAIL }))).into_response();
            response.extensions_mut().insert(InternalError(message));
            return response;
        }
        (status, Json(json!({ "detail": self.message() }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facade_errors_map_to_feast_codes() {
        let cases = [
            (larder::Error::NotFound("x".into()), StatusCode::NOT_FOUND),
            (
                larder::Error::PushSourceNotFound("x".into()),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                larder::Error::InvalidRequest("x".into()),
                StatusCode::BAD_REQUEST,
            ),
            (
                larder::Error::AlreadyMaterializing("v".into()),
                StatusCode::CONFLICT,
            ),
            (
                larder::Error::Unsupported("x".into()),
                StatusCode::NOT_IMPLEMENTED,
            ),
            (
                larder::Error::Task("boom".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(ApiError::from(error).status(), status);
        }
        let not_found = registry::Error::NotFound {
            kind: "feature view",
            name: "nope".into(),
            project: "demo".into(),
            available: vec![],
        };
        let api = ApiError::from(larder::Error::Registry(not_found));
        assert_eq!(api.status(), StatusCode::NOT_FOUND);
        assert!(api.message().contains("`nope`"));
    }

    #[test]
    fn internal_messages_stay_in_the_log() {
        let response = ApiError::Internal("disk on fire".into()).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let logged = response
            .extensions()
            .get::<InternalError>()
            .expect("extension");
        assert_eq!(logged.0, "disk on fire");
    }
}
