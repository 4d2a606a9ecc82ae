//! Run endpoints: one run with its full result, and its trace (stored for runs that did not pass,
//! re-simulated deterministically on demand for passes, and checked against the stored digest).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use autonomy_stack::{FrozenClock, StackConfig};

use super::dto::RunDetail;
use super::error::ApiError;
use super::Shared;
use crate::store::runs as store_runs;

/// `GET /api/v1/runs/{id}`.
pub async fn detail(State(state): State<Shared>, Path(id): Path<String>) -> Result<Json<RunDetail>, ApiError> {
    let r = store_runs::get(&state.store, &id).await?.ok_or_else(|| ApiError::not_found("run"))?;
    let result = r.result.as_deref().and_then(|j| serde_json::from_str(j).ok());
    Ok(Json(RunDetail { candidate_id: r.candidate_id.clone(), result, run: super::candidates::summary(r) }))
}

/// `GET /api/v1/runs/{id}/trace`.
pub async fn trace(State(state): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let r = store_runs::get(&state.store, &id).await?.ok_or_else(|| ApiError::not_found("run"))?;
    if let Some(bytes) = store_runs::trace(&state.store, &id).await? {
        let trace = sim_core::Trace::from_bytes(&bytes).map_err(|e| {
            tracing::error!(run = %id, error = %e, "stored trace is corrupt");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_trace", "the stored trace cannot be read")
        })?;
        return Ok(([("x-trace-source", "stored")], Json(trace)).into_response());
    }
    if r.status != "passed" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_trace_yet",
            format!("the run is `{}`; its trace exists once it has passed or failed", r.status),
        ));
    }
    let (file, body) = store_runs::scenario_body(&state.store, &r.content_hash)
        .await?
        .ok_or_else(|| ApiError::not_found("scenario version"))?;
    let config_json = store_runs::stack_config(&state.store, &r.candidate_id)
        .await?
        .ok_or_else(|| ApiError::not_found("candidate"))?;
    let key = r.variant_key.clone();
    let simulated = tokio::task::spawn_blocking(move || -> Result<sim_core::RunResult, String> {
        let config: StackConfig = serde_json::from_str(&config_json).map_err(|e| e.to_string())?;
        let scenario = scenario_dsl::parse(&file, &body).scenario.ok_or("the stored scenario no longer parses")?;
        let variant = scenario.variants().iter().find(|v| v.key.as_str() == key).ok_or("the variant is gone")?;
        Ok(sim_core::run_variant(variant, &config, &mut FrozenClock))
    })
    .await
    .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "resimulation_failed", "the re-simulation crashed"))?
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "resimulation_failed", e))?;
    if r.digest.as_deref() != Some(simulated.digest.as_str()) {
        tracing::error!(run = %id, stored = ?r.digest, resimulated = %simulated.digest, "nondeterminism");
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "nondeterminism",
            "re-simulating this run gave a different digest than the stored result: a farm bug",
        ));
    }
    Ok(([("x-trace-source", "resimulated")], Json(simulated.trace)).into_response())
}
