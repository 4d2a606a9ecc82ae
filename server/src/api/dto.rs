//! Wire types of the HTTP API, apart from the core types so the API can stay stable while the core
//! changes. Their JSON Schemas feed the OpenAPI document.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::catalog::Suite;
use crate::domain::gate::Gate;
use crate::domain::run::RunStatus;
use crate::domain::stats::CandidateStats;
use crate::infra::store::TokenInfo;

/// `POST /api/v1/candidates`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidateRequest {
    /// Release candidate name, e.g. `stack-2.4.0-rc1`: 1 to 128 characters, no control character,
    /// not only spaces.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"))]
    pub name: String,
    /// Git commit of the stack.
    #[serde(default)]
    pub git_sha: Option<String>,
    /// Partial stack configuration override (missing keys keep their defaults).
    #[serde(default = "empty_object")]
    pub stack_config: serde_json::Value,
    /// Which scenarios to run (default: the whole catalog).
    #[serde(default)]
    pub suite: Option<Suite>,
    /// Name of the candidate to compare against.
    #[serde(default)]
    pub baseline: Option<String>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// The answer to a candidate post.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct CandidateCreated {
    /// Candidate id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Runs enqueued.
    pub runs_total: i64,
    /// False when this was a retry of an earlier post (same key, or same name and configuration).
    pub created: bool,
}

/// One candidate in a list.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct CandidateSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Runs.
    pub runs_total: i64,
    /// Hash of the effective stack configuration.
    pub config_hash: String,
}

/// `GET /api/v1/candidates`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct CandidateList {
    /// Newest first.
    pub candidates: Vec<CandidateSummary>,
}

/// `GET /api/v1/candidates/{id}`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct CandidateDetail {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Git commit.
    pub git_sha: Option<String>,
    /// Baseline name.
    pub baseline: Option<String>,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Runs.
    pub runs_total: i64,
    /// Status, counts, pass rates, latency, deadline-miss rate.
    #[serde(flatten)]
    pub stats: CandidateStats,
    /// Runs that failed once and are queued for their confirmation re-run: among `queued`, and
    /// neither passed nor failed until the re-run decides.
    pub awaiting_confirmation: i64,
    /// The gate verdict, once every run has a result.
    pub gate: Option<Gate>,
}

/// One run in a list.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct RunSummary {
    /// Run id.
    pub id: String,
    /// Variant key.
    pub variant_key: String,
    /// Scenario id.
    pub scenario: String,
    /// queued, running, passed, failed, error or timeout.
    pub status: RunStatus,
    /// Attempts used.
    pub attempt: i32,
    /// Why it did not pass.
    pub reason: Option<String>,
    /// Trace digest.
    pub digest: Option<String>,
}

/// `GET /api/v1/candidates/{id}/runs`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct RunPage {
    /// Runs in queue order.
    pub runs: Vec<RunSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/runs/{id}`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct RunDetail {
    /// The run.
    #[serde(flatten)]
    pub run: RunSummary,
    /// Candidate id.
    pub candidate_id: String,
    /// The full result (criteria, metrics, latency, params, ...), once finished.
    pub result: Option<serde_json::Value>,
}

/// One catalog scenario.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct ScenarioSummary {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Tags, including domain and severity.
    pub tags: Vec<String>,
    /// Variants it expands to.
    pub variants: usize,
    /// Content hash of the loaded version.
    pub content_hash: String,
    /// File.
    pub file: String,
}

/// `GET /api/v1/scenarios`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct ScenarioList {
    /// In catalog order.
    pub scenarios: Vec<ScenarioSummary>,
}

/// `POST /api/v1/scenarios/validate`: the same report as `farm lint --json`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct LintReport {
    /// Valid scenarios (0 or 1).
    pub scenarios: usize,
    /// Variants of the valid scenario.
    pub variants: usize,
    /// Diagnostics.
    pub diagnostics: Vec<LintDiagnostic>,
}

/// One diagnostic.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct LintDiagnostic {
    /// File.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Stable code, e.g. `E0101`.
    pub code: String,
    /// error or warning.
    pub severity: String,
    /// Message.
    pub message: String,
    /// Help.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// Query of `GET /api/v1/candidates/{id}/runs`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// Only this status.
    pub status: Option<String>,
    /// Only this tag.
    pub tag: Option<String>,
    /// Only this scenario id.
    pub scenario: Option<String>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size, 1..=500 (default 100).
    pub limit: Option<i64>,
}

/// A problem document (every error).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct ProblemDoc {
    /// URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// HTTP reason phrase.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable code.
    pub code: String,
    /// Message.
    pub detail: String,
}

/// Health.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// Per-check details.
    pub checks: BTreeMap<String, String>,
    /// The farm's version.
    pub version: String,
    /// The git commit the farm was built from (`unknown` if the build did not know it).
    pub git_sha: String,
}

/// `GET /api/v1/tokens`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct TokenList {
    /// Oldest first; revoked ones included, marked.
    pub tokens: Vec<TokenInfo>,
}
