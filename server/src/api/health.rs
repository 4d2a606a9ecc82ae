//! Liveness, readiness (the database answers), Prometheus metrics and the farm's public key.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use super::dto::Health;
use super::error::ApiError;
use super::Shared;
use crate::domain::provenance::{GIT_SHA, VERSION};
use crate::infra::clock::now_ms;
use crate::infra::store::{access, runs};

fn health(checks: std::collections::BTreeMap<String, String>) -> Health {
    Health { status: "ok".into(), checks, version: VERSION.into(), git_sha: GIT_SHA.into() }
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<Health> {
    Json(health(Default::default()))
}

/// `GET /readyz`: the database is reachable.
pub async fn readyz(State(state): State<Shared>) -> Result<Json<Health>, ApiError> {
    let up = runs::ping(&state.farm.store).await.is_ok();
    state.metrics.database_up.set(i64::from(up));
    if !up {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the results database does not answer",
        ));
    }
    Ok(Json(health([("database".to_owned(), state.farm.store.dialect().to_owned())].into())))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<Shared>) -> impl IntoResponse {
    let store = &state.farm.store;
    match runs::global_status_counts(store).await {
        Ok(counts) => {
            state.metrics.database_up.set(1);
            for (status, n) in counts {
                state.metrics.runs.with_label_values(&[status.as_str()]).set(n);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot count runs");
            state.metrics.database_up.set(0);
        }
    }
    if let Ok(n) = access::active_workers(store, now_ms() - 60_000).await {
        state.metrics.active_workers.set(n);
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// `GET /api/v1/keys`: the public key that signs evidence packs.
pub async fn keys(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ed25519": hex::encode(state.farm.signing_key.verifying_key().to_bytes()) }))
}
