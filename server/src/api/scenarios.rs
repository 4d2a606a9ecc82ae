//! Scenario endpoints: the loaded catalog, and validation of a scenario file with the same
//! diagnostics as `farm lint --json`.

use axum::extract::State;
use axum::http::Uri;
use axum::Json;

use super::dto::{LintDiagnostic, LintReport, ScenarioList, ScenarioSummary};
use super::error::ApiError;
use super::Shared;

/// `GET /api/v1/scenarios`.
pub async fn list(State(state): State<Shared>) -> Json<ScenarioList> {
    let scenarios = state
        .farm
        .catalog
        .catalog()
        .scenarios
        .iter()
        .map(|s| ScenarioSummary {
            id: s.id().to_owned(),
            title: s.template().metadata.title.clone(),
            tags: s.template().metadata.all_tags(),
            variants: s.variants().len(),
            content_hash: s.content_hash().hex(),
            file: s.file().to_owned(),
        })
        .collect();
    Json(ScenarioList { scenarios })
}

#[derive(serde::Deserialize)]
struct ValidateQuery {
    file: Option<String>,
}

/// Validations that may run at once; a request beyond them gets 429 at once rather than queueing
/// work on the server (a maximal file parses for about a second).
pub const CONCURRENT_VALIDATIONS: usize = 2;

/// Validations callers without a token may start: 2 a second, in bursts of up to 10 (shared by all
/// anonymous callers; a token lifts the rate limit, not the concurrency limit).
pub fn anonymous_quota() -> governor::Quota {
    governor::Quota::per_second(std::num::NonZeroU32::MIN.saturating_add(1))
        .allow_burst(std::num::NonZeroU32::MIN.saturating_add(9))
}

/// `POST /api/v1/scenarios/validate?file=NAME` with the file's text as the body. The parse runs on
/// the blocking pool, never on the threads that answer other requests.
pub async fn validate(
    State(state): State<Shared>,
    headers: axum::http::HeaderMap,
    uri: Uri,
    body: axum::body::Bytes,
) -> Result<Json<LintReport>, ApiError> {
    let q: ValidateQuery = super::query(&uri)?;
    let known = headers.contains_key(axum::http::header::AUTHORIZATION)
        && super::auth::require(&state.farm.store, &headers, &["ci", "qa", "release"]).await.is_ok();
    if !known && state.anonymous_validations.check().is_err() {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many validations without a token; retry in a second, or send `Authorization: Bearer <token>`",
        ));
    }
    if body.is_empty() {
        return Err(ApiError::bad_request("empty_body", "send the scenario file's text as the body"));
    }
    let text = String::from_utf8(body.to_vec())
        .map_err(|e| ApiError::bad_request("invalid_utf8", format!("the body is not UTF-8 text: {e}")))?;
    let file = q.file.unwrap_or_else(|| "scenario.yaml".into());
    let permit = state.validations.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_validations",
            format!("{CONCURRENT_VALIDATIONS} validations are running; retry in a second"),
        )
    })?;
    let report = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let parsed = scenario_dsl::parse(&file, &text);
        let diagnostics = parsed
            .diagnostics
            .iter()
            .map(|d| LintDiagnostic {
                file: d.file.clone(),
                line: d.line,
                column: d.column,
                code: d.code.as_str().to_owned(),
                severity: if d.is_error() { "error" } else { "warning" }.to_owned(),
                message: d.message.clone(),
                help: d.help.clone(),
            })
            .collect();
        LintReport {
            scenarios: usize::from(parsed.scenario.is_some()),
            variants: parsed.scenario.as_ref().map_or(0, |s| s.variants().len()),
            diagnostics,
        }
    })
    .await
    .map_err(|_| {
        ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "validation_failed", "the validation crashed")
    })?;
    Ok(Json(report))
}
