//! Candidate endpoints: post (idempotent), list, detail with statistics and gate, runs (filtered,
//! paginated), comparison, coverage, JUnit XML and the evidence pack. Each extracts its input,
//! calls one use case and maps the answer to its wire type.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;

use super::auth::Caller;
use super::dto::{
    CandidateCreated, CandidateDetail, CandidateList, CandidateRequest, CandidateSummary, RunPage, RunQuery, RunSummary,
};
use super::error::ApiError;
use super::{query, Body, Shared};
use crate::domain::compare::Comparison;
use crate::domain::coverage::Coverage;
use crate::domain::ids::CandidateId;
use crate::domain::run::{Run, RunStatus};
use crate::infra::store::runs::RunFilter;
use crate::usecases::candidates::{self as cases, PostCandidate};
use crate::usecases::evidence;

/// A candidate id from the path: anything that is not one names no candidate.
pub(crate) fn candidate_id(text: &str) -> Result<CandidateId, ApiError> {
    CandidateId::parse(text).map_err(|_| ApiError::not_found("candidate"))
}

/// `POST /api/v1/candidates` (role ci).
pub async fn create(
    State(state): State<Shared>,
    Extension(Caller(role)): Extension<Caller>,
    headers: HeaderMap,
    Body(req): Body<CandidateRequest>,
) -> Result<Response, ApiError> {
    let stack_config = crate::domain::stack_config::from_json(&req.stack_config).map_err(|e| {
        use crate::domain::stack_config::StackConfigError;
        let (key, message) = match e {
            StackConfigError::Invalid { key, message } => (key, message),
            StackConfigError::OutOfRange(errors) => errors
                .into_iter()
                .next()
                .map_or_else(|| (String::new(), "out of range".into()), |first| (first.key, first.message)),
        };
        let at = if key == "(top level)" || key.is_empty() { String::new() } else { format!(".{key}") };
        ApiError::unprocessable("invalid_stack_config", format!("`stack_config{at}`: {message}"))
    })?;
    let post = PostCandidate {
        name: req.name,
        git_sha: req.git_sha,
        stack_config,
        suite: req.suite.unwrap_or_default(),
        baseline: req.baseline,
        idempotency_key: headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    let posted = cases::post(&state.farm, post, &role).await?;
    let body = CandidateCreated {
        id: posted.candidate.id.to_string(),
        name: posted.candidate.name,
        runs_total: posted.runs_total,
        created: posted.created,
    };
    Ok((if posted.created { StatusCode::CREATED } else { StatusCode::OK }, Json(body)).into_response())
}

/// `GET /api/v1/candidates`.
pub async fn list(State(state): State<Shared>) -> Result<Json<CandidateList>, ApiError> {
    let candidates = cases::list(&state.farm, 100)
        .await?
        .into_iter()
        .map(|c| CandidateSummary {
            id: c.id.to_string(),
            name: c.name,
            created_at: c.created_at,
            runs_total: c.runs_total,
            config_hash: c.config_hash,
        })
        .collect();
    Ok(Json(CandidateList { candidates }))
}

/// `GET /api/v1/candidates/{id}/compare?baseline=NAME`.
pub async fn compare(
    State(state): State<Shared>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Json<Comparison>, ApiError> {
    #[derive(serde::Deserialize)]
    struct Q {
        baseline: Option<String>,
    }
    let q: Q = query(&uri)?;
    Ok(Json(cases::compare(&state.farm, &candidate_id(&id)?, q.baseline.as_deref()).await?))
}

/// `GET /api/v1/candidates/{id}/coverage?x=DIM&y=DIM`.
pub async fn coverage(
    State(state): State<Shared>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Json<Coverage>, ApiError> {
    #[derive(serde::Deserialize)]
    struct Q {
        x: Option<String>,
        y: Option<String>,
    }
    let q: Q = query(&uri)?;
    match cases::coverage(&state.farm, &candidate_id(&id)?, q.x.as_deref(), q.y.as_deref()).await {
        Err(crate::usecases::UseCaseError::Invalid { code, detail }) => Err(ApiError::bad_request(code, detail)),
        other => Ok(Json(other?)),
    }
}

/// `GET /api/v1/candidates/{id}`.
pub async fn detail(State(state): State<Shared>, Path(id): Path<String>) -> Result<Json<CandidateDetail>, ApiError> {
    let view = cases::detail(&state.farm, &candidate_id(&id)?).await?;
    let c = view.candidate;
    Ok(Json(CandidateDetail {
        id: c.id.to_string(),
        name: c.name,
        git_sha: c.git_sha,
        baseline: c.baseline,
        created_at: c.created_at,
        runs_total: c.runs_total,
        stats: view.stats,
        gate: view.gate,
        awaiting_confirmation: view.awaiting_confirmation,
    }))
}

/// The list form of a stored run.
pub(crate) fn summary(r: &Run) -> RunSummary {
    RunSummary {
        id: r.id.to_string(),
        variant_key: r.variant_key.to_string(),
        scenario: r.scenario_id.clone(),
        status: r.status,
        attempt: r.attempt,
        reason: r.reason.clone(),
        digest: r.digest.clone(),
    }
}

/// `GET /api/v1/candidates/{id}/runs?status=&tag=&scenario=&cursor=&limit=`.
pub async fn runs(State(state): State<Shared>, Path(id): Path<String>, uri: Uri) -> Result<Json<RunPage>, ApiError> {
    let q: RunQuery = query(&uri)?;
    let status = match &q.status {
        Some(s) => Some(s.parse::<RunStatus>().map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?),
        None => None,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", "`limit` must be within 1..=500"));
    }
    let after = match &q.cursor {
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| ApiError::bad_request("invalid_cursor", "`cursor` is not one this API gave out"))?,
        ),
        None => None,
    };
    let filter = RunFilter { status, tag: q.tag, scenario: q.scenario, after, limit };
    let (rows, next_cursor) = cases::runs_page(&state.farm, &candidate_id(&id)?, filter).await?;
    Ok(Json(RunPage { runs: rows.iter().map(summary).collect(), next_cursor }))
}

/// `GET /api/v1/candidates/{id}/junit.xml`.
pub async fn junit(State(state): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let xml = cases::junit(&state.farm, &candidate_id(&id)?).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/xml")], xml).into_response())
}

/// `GET /api/v1/candidates/{id}/evidence` (role release or admin): the signed evidence pack.
pub async fn evidence(State(state): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let pack = evidence::pack(&state.farm, &candidate_id(&id)?).await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/zip".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", pack.file_name)),
        ],
        pack.bytes,
    )
        .into_response())
}
