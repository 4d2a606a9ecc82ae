//! Liveness, readiness (the database answers) and Prometheus metrics.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use super::dto::Health;
use super::error::ApiError;
use super::Shared;
use crate::store::{access, now_ms, runs};

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into(), checks: Default::default() })
}

/// `GET /readyz`: the database is reachable.
pub async fn readyz(State(state): State<Shared>) -> Result<Json<Health>, ApiError> {
    runs::ping(&state.store).await.map_err(|_| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", "the results database does not answer")
    })?;
    Ok(Json(Health { status: "ok".into(), checks: [("database".to_owned(), state.store.dialect().to_owned())].into() }))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<Shared>) -> impl IntoResponse {
    if let Ok(counts) = runs::global_status_counts(&state.store).await {
        for (status, n) in counts {
            state.metrics.runs.with_label_values(&[status.as_str()]).set(n);
        }
    }
    if let Ok(n) = access::active_workers(&state.store, now_ms() - 60_000).await {
        state.metrics.active_workers.set(n);
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// `GET /api/v1/keys`: the public key that signs evidence packs.
pub async fn keys(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ed25519": hex::encode(state.signing_key.verifying_key().to_bytes()) }))
}
