//! Candidate endpoints: post (idempotent), list, detail with statistics and gate, runs (filtered,
//! paginated) and JUnit XML.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sha2::{Digest, Sha256};

use autonomy_stack::StackConfig;

use super::dto::{
    CandidateCreated, CandidateDetail, CandidateList, CandidateRequest, CandidateSummary, RunPage, RunQuery, RunSummary,
};
use super::error::ApiError;
use super::{auth, Body, Shared};
use crate::catalog_index::SuiteError;
use crate::compare::Comparison;
use crate::coverage::Coverage;
use crate::junit;
use crate::scheduler;
use crate::store::candidates::{self as store_candidates, Candidate, NewCandidate};
use crate::store::runs::{self as store_runs, RunFilter, RunRow};
use crate::store::{access, now_ms};

/// The effective configuration of an override, or a 422 naming the key.
fn stack_config(value: &serde_json::Value) -> Result<StackConfig, ApiError> {
    if !value.is_object() {
        return Err(ApiError::unprocessable("invalid_stack_config", "`stack_config` must be an object"));
    }
    let config: StackConfig = serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        ApiError::unprocessable("invalid_stack_config", format!("`stack_config.{key}`: {}", e.into_inner()))
    })?;
    if let Some(first) = config.validate().first() {
        return Err(ApiError::unprocessable(
            "invalid_stack_config",
            format!("`stack_config.{}`: {}", first.key, first.message),
        ));
    }
    Ok(config)
}

/// `POST /api/v1/candidates` (role ci).
pub async fn create(
    State(state): State<Shared>,
    headers: HeaderMap,
    Body(req): Body<CandidateRequest>,
) -> Result<Response, ApiError> {
    let role = auth::require(&state.store, &headers, &["ci"]).await?;
    let name = req.name.trim();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable("invalid_name", "`name` must be 1 to 128 printable characters"));
    }
    let config = stack_config(&req.stack_config)?;
    let suite = req.suite.clone().unwrap_or_default();
    let (versions, planned) = state.catalog.plan(&suite).map_err(|e| match e {
        SuiteError::UnknownScenario(_) => ApiError::unprocessable("unknown_scenario", e.to_string()),
        SuiteError::Empty => ApiError::unprocessable("empty_suite", e.to_string()),
    })?;
    let config_json = serde_json::to_string(&config)
        .map_err(|_| ApiError::unprocessable("invalid_stack_config", "unserialisable"))?;
    let config_hash = hex::encode(Sha256::digest(config_json.as_bytes()));
    let idempotency_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let new = NewCandidate {
        name: name.to_owned(),
        git_sha: req.git_sha.clone(),
        stack_config: config_json,
        config_hash: config_hash.clone(),
        suite: serde_json::to_string(&suite).unwrap_or_else(|_| "{}".into()),
        baseline: req.baseline.clone(),
        idempotency_key: idempotency_key.clone(),
    };
    let now = now_ms();
    let (candidate, created) =
        store_candidates::create(&state.store, &new, &uuid::Uuid::new_v4().to_string(), now).await?;
    if !created && idempotency_key.is_some() && (candidate.name != new.name || candidate.config_hash != config_hash) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different candidate",
        ));
    }
    let mut runs_total = candidate.runs_total;
    if !candidate.expanded {
        store_candidates::enqueue(&state.store, &candidate.id, &versions, &planned, now).await?;
        runs_total =
            store_candidates::get(&state.store, &candidate.id).await?.map_or(planned.len() as i64, |c| c.runs_total);
        scheduler::notify(&state.store).await;
    }
    if created {
        access::audit(
            &state.store,
            now,
            &role,
            "create_candidate",
            &candidate.id,
            &format!("{name} ({runs_total} runs)"),
        )
        .await?;
    }
    let body = CandidateCreated { id: candidate.id, name: candidate.name, runs_total, created };
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(body)).into_response())
}

/// `GET /api/v1/candidates`.
pub async fn list(State(state): State<Shared>) -> Result<Json<CandidateList>, ApiError> {
    let candidates = store_candidates::list(&state.store, 100)
        .await?
        .into_iter()
        .map(|c| CandidateSummary {
            id: c.id,
            name: c.name,
            created_at: c.created_at,
            runs_total: c.runs_total,
            config_hash: c.config_hash,
        })
        .collect();
    Ok(Json(CandidateList { candidates }))
}

/// The baseline of `candidate`: the one named (by the request, or at posting), else the newest
/// earlier candidate whose gate passed.
async fn resolve_baseline(
    state: &Shared,
    candidate: &Candidate,
    name: Option<&str>,
) -> Result<Option<Candidate>, ApiError> {
    if let Some(name) = name.or(candidate.baseline.as_deref()) {
        return match store_candidates::by_name(&state.store, name).await? {
            Some(b) if b.id != candidate.id => Ok(Some(b)),
            _ => Err(ApiError::not_found(&format!("baseline `{name}`"))),
        };
    }
    for older in store_candidates::list(&state.store, 200).await? {
        if older.id == candidate.id || older.created_at > candidate.created_at {
            continue;
        }
        let runs = store_runs::all(&state.store, &older.id).await?;
        let stats = crate::stats::compute(&runs);
        if stats.status == "done"
            && crate::gate::evaluate(&state.gate, &stats, &runs, Default::default()).verdict == "pass"
        {
            return Ok(Some(older));
        }
    }
    Ok(None)
}

async fn comparison(
    state: &Shared,
    c: &Candidate,
    runs: &[RunRow],
    name: Option<&str>,
) -> Result<Option<Comparison>, ApiError> {
    let Some(b) = resolve_baseline(state, c, name).await? else { return Ok(None) };
    let base_runs = store_runs::all(&state.store, &b.id).await?;
    Ok(Some(crate::compare::compare((&c.id, runs), (&b.id, &b.name, &base_runs), state.gate.significance_level)))
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
    let q: Q =
        axum::extract::Query::try_from_uri(&uri).map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?.0;
    let c = store_candidates::get(&state.store, &id).await?.ok_or_else(|| ApiError::not_found("candidate"))?;
    let runs = store_runs::all(&state.store, &id).await?;
    comparison(&state, &c, &runs, q.baseline.as_deref())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("baseline (none named, and no earlier candidate passed its gate)"))
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
    let q: Q =
        axum::extract::Query::try_from_uri(&uri).map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?.0;
    if store_candidates::get(&state.store, &id).await?.is_none() {
        return Err(ApiError::not_found("candidate"));
    }
    let odd = state.catalog.odd().ok_or_else(|| ApiError::not_found("ODD (the catalog declares none)"))?;
    let runs = store_runs::all(&state.store, &id).await?;
    let axes = match (&q.x, &q.y) {
        (Some(x), Some(y)) => Some((x.as_str(), y.as_str())),
        (None, None) => None,
        _ => return Err(ApiError::bad_request("invalid_query", "give both `x` and `y`, or neither")),
    };
    crate::coverage::compute(odd, &runs, axes)
        .map(Json)
        .map_err(|e| ApiError::bad_request("unknown_dimension", e.to_string()))
}

/// `GET /api/v1/candidates/{id}`.
pub async fn detail(State(state): State<Shared>, Path(id): Path<String>) -> Result<Json<CandidateDetail>, ApiError> {
    let c = store_candidates::get(&state.store, &id).await?.ok_or_else(|| ApiError::not_found("candidate"))?;
    let runs = store_runs::all(&state.store, &id).await?;
    let stats = crate::stats::compute(&runs);
    let gate = if stats.status == "done" {
        // A missing named baseline does not hide the verdict: the gate just cannot compare.
        let comparison = comparison(&state, &c, &runs, None).await.ok().flatten();
        let coverage = state.catalog.odd().and_then(|odd| crate::coverage::compute(odd, &runs, None).ok());
        let context = crate::gate::Context { comparison: comparison.as_ref(), coverage: coverage.as_ref() };
        Some(crate::gate::evaluate(&state.gate, &stats, &runs, context))
    } else {
        None
    };
    Ok(Json(CandidateDetail {
        id: c.id,
        name: c.name,
        git_sha: c.git_sha,
        baseline: c.baseline,
        created_at: c.created_at,
        runs_total: c.runs_total,
        stats,
        gate,
    }))
}

const STATUSES: &[&str] = &["queued", "running", "passed", "failed", "error", "timeout"];

/// The list form of a stored run.
pub(crate) fn summary(r: RunRow) -> RunSummary {
    RunSummary {
        id: r.id,
        variant_key: r.variant_key,
        scenario: r.scenario_id,
        status: r.status,
        attempt: r.attempt,
        reason: r.reason,
        digest: r.digest,
    }
}

/// `GET /api/v1/candidates/{id}/runs?status=&tag=&scenario=&cursor=&limit=`.
pub async fn runs(State(state): State<Shared>, Path(id): Path<String>, uri: Uri) -> Result<Json<RunPage>, ApiError> {
    let q: RunQuery =
        axum::extract::Query::try_from_uri(&uri).map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?.0;
    if let Some(s) = &q.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("unknown status `{s}`; use one of {}", STATUSES.join(", ")),
            ));
        }
    }
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
    if store_candidates::get(&state.store, &id).await?.is_none() {
        return Err(ApiError::not_found("candidate"));
    }
    let filter = RunFilter { status: q.status, tag: q.tag, scenario: q.scenario, after, limit: limit + 1 };
    let mut rows = store_runs::list(&state.store, &id, &filter).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.ord.to_string())
    } else {
        None
    };
    Ok(Json(RunPage { runs: rows.into_iter().map(summary).collect(), next_cursor }))
}

/// `GET /api/v1/candidates/{id}/junit.xml`.
pub async fn junit(State(state): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let c = store_candidates::get(&state.store, &id).await?.ok_or_else(|| ApiError::not_found("candidate"))?;
    let cases: Vec<junit::Case> = store_runs::all(&state.store, &id)
        .await?
        .into_iter()
        .filter(|r| crate::stats::is_finished(&r.status))
        .map(|r| case_of(&r))
        .collect();
    let xml = junit::render_cases(&c.name, &cases);
    Ok(([(axum::http::header::CONTENT_TYPE, "application/xml")], xml).into_response())
}

/// The JUnit case of a stored run.
pub fn case_of(r: &RunRow) -> junit::Case {
    let result: serde_json::Value = r.result.as_deref().and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
    let verdict = match r.status.as_str() {
        "passed" => sim_core::Verdict::Passed,
        "failed" => sim_core::Verdict::Failed,
        "timeout" => sim_core::Verdict::Timeout,
        _ => sim_core::Verdict::Error,
    };
    let params =
        result["params"].as_object().map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect()).unwrap_or_default();
    let failed_criterion = result["criteria"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["passed"] == false))
        .and_then(|c| c["criterion"].as_str())
        .map(str::to_owned);
    junit::Case {
        scenario: r.scenario_id.clone(),
        index: result["index"].as_u64().unwrap_or(r.ord as u64) as usize,
        key: r.variant_key.clone(),
        params,
        seed: result["seed"].as_u64().unwrap_or(0),
        verdict,
        reason: r.reason.clone(),
        failed_criterion,
        digest: r.digest.clone().unwrap_or_default(),
        sim_s: result["sim_s"].as_f64().unwrap_or(0.0),
        wall_s: result["wall_s"].as_f64().unwrap_or(0.0),
    }
}

/// `GET /api/v1/candidates/{id}/evidence` (role release or admin): the signed evidence pack.
pub async fn evidence(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    auth::require(&state.store, &headers, &["release"]).await?;
    let c = store_candidates::get(&state.store, &id).await?.ok_or_else(|| ApiError::not_found("candidate"))?;
    let runs = store_runs::all(&state.store, &id).await?;
    let stats = crate::stats::compute(&runs);
    if stats.status != "done" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_done",
            "the evidence pack exists once every run has a result",
        ));
    }
    let comparison = comparison(&state, &c, &runs, None).await.ok().flatten();
    let coverage = state.catalog.odd().and_then(|odd| crate::coverage::compute(odd, &runs, None).ok());
    let context = crate::gate::Context { comparison: comparison.as_ref(), coverage: coverage.as_ref() };
    let gate = crate::gate::evaluate(&state.gate, &stats, &runs, context);
    let stack_config = store_runs::stack_config(&state.store, &id).await?.unwrap_or_default();
    let mut scenarios = Vec::new();
    let mut hashes: Vec<&str> = runs.iter().map(|r| r.content_hash.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    for h in hashes {
        if let Some((file, body)) = store_runs::scenario_body(&state.store, h).await? {
            scenarios.push((h.to_owned(), file, body));
        }
    }
    let mut traces = Vec::new();
    for r in runs.iter().filter(|r| r.status != "passed") {
        if let Some(bytes) = store_runs::trace(&state.store, &r.id).await? {
            if let Ok(t) = sim_core::Trace::from_bytes(&bytes) {
                traces.push((r.variant_key.clone(), t));
            }
        }
    }
    let input = crate::evidence::PackInput {
        candidate: &c,
        stack_config: &stack_config,
        runs: &runs,
        stats: &stats,
        gate: Some(&gate),
        policy: &state.gate,
        comparison: comparison.as_ref(),
        coverage: coverage.as_ref(),
        scenarios,
        traces,
        public_key: hex::encode(state.signing_key.verifying_key().to_bytes()),
    };
    let files = crate::evidence::assemble(&input);
    let key = state.signing_key.clone();
    let zip = tokio::task::spawn_blocking(move || crate::evidence::seal(files, &key))
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "pack_failed", "building the pack crashed"))?
        .map_err(|e| {
            tracing::error!(error = %e, "evidence pack");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "pack_failed", "the evidence pack could not be built")
        })?;
    let disposition = format!(
        "attachment; filename=\"evidence-{}.zip\"",
        c.name.replace(|ch: char| !ch.is_ascii_alphanumeric() && ch != '-' && ch != '.', "_")
    );
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/zip".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        zip,
    )
        .into_response())
}
