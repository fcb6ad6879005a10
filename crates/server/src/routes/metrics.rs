//! `GET /metrics`: Prometheus text exposition (routed only when metrics are enabled).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use chrono::Utc;

use crate::state::AppState;

/// The exposition format's content type.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let views = state.online_views();
    let text = state
        .metrics()
        .render(state.store().project(), &views, Utc::now());
    ([(CONTENT_TYPE, PROMETHEUS_TEXT)], text)
}
