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

/// `POST /api/v1/scenarios/validate?file=NAME` with the file's text as the body.
pub async fn validate(uri: Uri, body: axum::body::Bytes) -> Result<Json<LintReport>, ApiError> {
    let q: ValidateQuery = super::query(&uri)?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::bad_request("invalid_utf8", format!("the body is not UTF-8 text: {e}")))?;
    let file = q.file.unwrap_or_else(|| "scenario.yaml".into());
    let parsed = scenario_dsl::parse(&file, text);
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
    Ok(Json(LintReport {
        scenarios: usize::from(parsed.scenario.is_some()),
        variants: parsed.scenario.as_ref().map_or(0, |s| s.variants().len()),
        diagnostics,
    }))
}
