//! `GET /openapi.json`: the hand-written OpenAPI 3 description of this server (`src/openapi.json`).

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The document, compiled in.
pub(crate) const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Serves the document.
pub(crate) async fn openapi() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_json_and_describes_every_route() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).expect("valid JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for path in crate::metrics::ENDPOINTS
            .iter()
            .filter(|p| p.starts_with('/'))
        {
            assert!(
                doc["paths"].get(*path).is_some(),
                "{path} is not documented"
            );
        }
    }
}
