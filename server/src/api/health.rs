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

/// `GET /healthz`: the process is up (and its embedded workers' loop, if it runs one, has not
/// ended: an orchestrator restarts a process whose workers died). Never touches the database.
pub async fn healthz(State(state): State<Shared>) -> Result<Json<Health>, ApiError> {
    if state.worker.as_ref().is_some_and(|w| !w.is_alive()) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "worker_stopped",
            "the embedded workers' loop has stopped; restart the process",
        ));
    }
    Ok(Json(health(Default::default())))
}

/// `GET /readyz`: the database is reachable.
pub async fn readyz(State(state): State<Shared>) -> Result<Json<Health>, ApiError> {
    let up = matches!(tokio::time::timeout(SCRAPE_DB_BUDGET, runs::ping(&state.farm.store)).await, Ok(Ok(())));
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

/// How long a scrape waits for the database before it serves the last known gauges.
const SCRAPE_DB_BUDGET: std::time::Duration = std::time::Duration::from_millis(500);

/// `GET /metrics`: Prometheus text format. The gauges read from the database are refreshed within a
/// bounded time; when the database does not answer in time, the last known values are served and
/// `farm_database_up` says 0.
pub async fn metrics(State(state): State<Shared>) -> impl IntoResponse {
    let store = &state.farm.store;
    let refresh = async {
        let counts = runs::global_status_counts(store).await?;
        let workers = access::active_workers(store, now_ms() - 60_000).await?;
        Ok::<_, crate::infra::store::StoreError>((counts, workers))
    };
    match tokio::time::timeout(SCRAPE_DB_BUDGET, refresh).await {
        Ok(Ok((counts, workers))) => {
            state.metrics.database_up.set(1);
            // Every status, also those with no run now: a queue that drained reads 0, not its last depth.
            for status in crate::domain::run::RunStatus::ALL {
                let n = counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
                state.metrics.runs.with_label_values(&[status.as_str()]).set(n);
            }
            state.metrics.active_workers.set(workers);
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: the database failed; serving the last known gauges");
            state.metrics.database_up.set(0);
        }
        Err(_) => {
            tracing::warn!("metrics: the database did not answer in time; serving the last known gauges");
            state.metrics.database_up.set(0);
        }
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// `GET /api/v1/keys`: the public key that signs evidence packs, and the retired ones that signed
/// packs before a rotation (`farm evidence verify --public-key` takes this document as a file).
pub async fn keys(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "ed25519": hex::encode(state.farm.signing_key.verifying_key().to_bytes()),
        "past": state.farm.past_keys,
    }))
}
