//! Run endpoints: one run with its full result, and its trace as JSON or as an MCAP file for
//! Foxglove (stored, or re-simulated and digest-checked; the `x-trace-source` header says which).

use axum::extract::{Path, State};
use axum::http::{header, HeaderName};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::dto::RunDetail;
use super::error::ApiError;
use super::Shared;
use crate::domain::ids::RunId;
use crate::usecases::runs as cases;

fn run_id(text: &str) -> Result<RunId, ApiError> {
    RunId::parse(text).map_err(|_| ApiError::not_found("run"))
}

/// `GET /api/v1/runs/{id}`.
pub async fn detail(State(state): State<Shared>, Path(id): Path<String>) -> Result<Json<RunDetail>, ApiError> {
    let r = cases::get(&state.farm, &run_id(&id)?).await?;
    let result = r.result.as_ref().map(serde_json::to_value).transpose().map_err(|e| {
        tracing::error!(run_id = %r.id, error = %e, "result does not serialise");
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "corrupt_result",
            "the run's result cannot be shown",
        )
    })?;
    Ok(Json(RunDetail { candidate_id: r.candidate_id.to_string(), result, run: super::candidates::summary(&r) }))
}

/// `GET /api/v1/runs/{id}/trace`.
pub async fn trace(State(state): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (trace, source) = cases::trace(&state.farm, &run_id(&id)?).await?;
    Ok(([("x-trace-source", source.as_str())], Json(trace)).into_response())
}

/// The media type of MCAP files.
pub const MCAP_MEDIA_TYPE: &str = "application/x-mcap";

/// `GET /api/v1/runs/{id}/trace.mcap`: the trace as an MCAP file for Foxglove.
pub async fn trace_mcap(State(state): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = run_id(&id)?;
    let (bytes, source) = cases::trace_mcap(&state.farm, &id).await?;
    let disposition = format!("attachment; filename=\"{id}.mcap\"");
    Ok((
        [
            (header::CONTENT_TYPE, MCAP_MEDIA_TYPE.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (HeaderName::from_static("x-trace-source"), source.as_str().to_owned()),
        ],
        bytes,
    )
        .into_response())
}
