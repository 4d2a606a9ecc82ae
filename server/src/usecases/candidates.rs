//! Candidates: posting one (plan the suite, store it idempotently, enqueue its runs), reading one
//! with its statistics and gate, its baseline, comparison, coverage, runs and JUnit, and storing the
//! gate verdict of a candidate whose last run finished.

use autonomy_stack::StackConfig;
use tracing::Instrument;

use super::{Farm, UseCaseError};
use crate::domain::candidate::{Candidate, NewCandidate};
use crate::domain::catalog::{Suite, SuiteError};
use crate::domain::compare::Comparison;
use crate::domain::coverage::Coverage;
use crate::domain::gate::{self, Gate};
use crate::domain::ids::CandidateId;
use crate::domain::run::Run;
use crate::domain::stats::{self, CandidateStats};
use crate::infra::clock::now_ms;
use crate::infra::store::runs::RunFilter;
use crate::infra::store::{access, candidates as store, runs as store_runs};
use crate::infra::{scheduler, telemetry};

/// What CI posts.
#[derive(Debug, Clone)]
pub struct PostCandidate {
    /// Release candidate name.
    pub name: String,
    /// Git commit of the stack.
    pub git_sha: Option<String>,
    /// The effective stack configuration (already parsed and validated).
    pub stack_config: StackConfig,
    /// The suite (default: the whole catalog).
    pub suite: Suite,
    /// Baseline name.
    pub baseline: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
}

/// The answer to a post.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The candidate (new or the earlier one).
    pub candidate: Candidate,
    /// Runs enqueued.
    pub runs_total: i64,
    /// False for a retry of an earlier post.
    pub created: bool,
}

/// The stable code of a suite that cannot be planned.
fn suite_error(e: SuiteError) -> UseCaseError {
    let code = match e {
        SuiteError::UnknownScenario { .. } => "unknown_scenario",
        SuiteError::UnknownTag { .. } => "unknown_tag",
        SuiteError::Empty | SuiteError::UnknownVariant(_) => "empty_suite",
        SuiteError::MissingSource(_) => {
            tracing::error!(error = %e, "catalog index without a source");
            return UseCaseError::Internal { code: "catalog_incomplete", detail: e.to_string() };
        }
    };
    UseCaseError::invalid(code, e.to_string())
}

/// Posts a candidate: idempotent by key (or by name and configuration), its runs enqueued once.
pub async fn post(farm: &Farm, req: PostCandidate, actor: &str) -> Result<Posted, UseCaseError> {
    let name = req.name.trim();
    if name.is_empty() || req.name.chars().count() > 128 || req.name.chars().any(char::is_control) {
        return Err(UseCaseError::invalid("invalid_name", "`name` must be 1 to 128 printable characters"));
    }
    let (versions, planned) = farm.catalog.plan(&req.suite).map_err(suite_error)?;
    let mut new = NewCandidate::new(name, req.git_sha, req.stack_config, req.suite);
    new.baseline = req.baseline;
    new.idempotency_key = req.idempotency_key.clone();
    // The request's trace context travels with the candidate to the workers (None unless exported).
    new.traceparent = telemetry::traceparent_of(&tracing::Span::current());
    let now = now_ms();
    let (candidate, created) = store::create(&farm.store, &new, &CandidateId::random(), now).await?;
    let span = tracing::info_span!("candidate", candidate_id = %candidate.id);
    enqueue_posted(farm, candidate, created, &new, (&versions, &planned), req.idempotency_key.is_some(), actor, now)
        .instrument(span)
        .await
}

#[allow(clippy::too_many_arguments)]
async fn enqueue_posted(
    farm: &Farm,
    candidate: Candidate,
    created: bool,
    new: &NewCandidate,
    (versions, planned): (&[crate::domain::run::ScenarioVersion], &[crate::domain::run::PlannedRun]),
    keyed: bool,
    actor: &str,
    now: i64,
) -> Result<Posted, UseCaseError> {
    let name = new.name.as_str();
    if !created && keyed && (candidate.name != new.name || candidate.config_hash != new.config_hash) {
        return Err(UseCaseError::Conflict {
            code: "idempotency_key_reused",
            detail: "this Idempotency-Key was used for a different candidate".into(),
        });
    }
    let mut runs_total = candidate.runs_total;
    if !candidate.expanded {
        let n = store::enqueue(&farm.store, &candidate.id, versions, planned, now).await?;
        tracing::info!(runs = n, "expanded");
        runs_total = store::get(&farm.store, &candidate.id).await?.map_or(planned.len() as i64, |c| c.runs_total);
        scheduler::notify(&farm.store).await;
    }
    if created {
        let detail = format!("{name} ({runs_total} runs)");
        access::audit(&farm.store, now, actor, "create_candidate", candidate.id.as_str(), &detail).await?;
    }
    Ok(Posted { candidate, runs_total, created })
}

/// The newest candidates.
pub async fn list(farm: &Farm, limit: i64) -> Result<Vec<Candidate>, UseCaseError> {
    Ok(store::list(&farm.store, limit).await?)
}

async fn get(farm: &Farm, id: &CandidateId) -> Result<Candidate, UseCaseError> {
    store::get(&farm.store, id).await?.ok_or_else(|| UseCaseError::not_found("candidate"))
}

/// A candidate with its statistics and, once every run has a result, its gate.
#[derive(Debug, Clone)]
pub struct CandidateView {
    /// The candidate.
    pub candidate: Candidate,
    /// Statistics over its runs.
    pub stats: CandidateStats,
    /// The gate, once done.
    pub gate: Option<Gate>,
    /// Runs that failed once and wait for their confirmation re-run (counted among the queued,
    /// never as passed or failed).
    pub awaiting_confirmation: i64,
}

/// A candidate with its statistics and gate. The gate of a finished candidate is decided once and
/// stored; later reads return the stored verdict.
pub async fn detail(farm: &Farm, id: &CandidateId) -> Result<CandidateView, UseCaseError> {
    let candidate = get(farm, id).await?;
    let runs = store_runs::all(&farm.store, id).await?;
    let stats = stats::compute(&runs);
    let gate = match (&candidate.gate, stats.status.as_str()) {
        (Some(g), _) => Some(g.clone()),
        (None, "done") if candidate.expanded => {
            // Decide every due verdict in creation order, this one included, so that each gate
            // compares against the verdicts before it.
            decide_finished(farm).await?;
            store::get(&farm.store, id).await?.and_then(|c| c.gate)
        }
        _ => None,
    };
    let awaiting_confirmation =
        i64::try_from(crate::infra::store::overview::awaiting_confirmation(&farm.store, id).await?.len())
            .unwrap_or(i64::MAX);
    Ok(CandidateView { candidate, stats, gate, awaiting_confirmation })
}

/// Evaluates a finished candidate's gate against its baseline and coverage, and stores it (the first
/// stored verdict stands; a concurrent decision returns the stored one). Earlier candidates' due
/// verdicts must be decided first (`decide_finished` goes in creation order).
async fn decide_gate(
    farm: &Farm,
    candidate: &Candidate,
    runs: &[Run],
    stats: &CandidateStats,
) -> Result<Gate, UseCaseError> {
    // A named baseline that does not exist does not hide the verdict: the gate just cannot compare.
    let comparison = match comparison_with(farm, candidate, runs, None).await {
        Ok(c) => c,
        Err(UseCaseError::NotFound(what)) => {
            tracing::warn!(candidate_id = %candidate.id, %what, "gate decided without a comparison");
            None
        }
        Err(e) => return Err(e),
    };
    let coverage = farm.catalog.odd().and_then(|odd| crate::domain::coverage::compute(odd, runs, None).ok());
    let context = gate::Context { comparison: comparison.as_ref(), coverage: coverage.as_ref() };
    let decided = gate::evaluate(&farm.gate, stats, runs, context);
    if store::record_gate(&farm.store, &candidate.id, &decided, now_ms()).await? {
        tracing::info!(candidate_id = %candidate.id, verdict = decided.verdict.as_str(), "gate decided");
        return Ok(decided);
    }
    let stored = store::get(&farm.store, &candidate.id).await?.and_then(|c| c.gate);
    Ok(stored.unwrap_or(decided))
}

/// Stores the gate verdict of every candidate whose last run finished, oldest first (the scheduler
/// calls this after each pass; reads that need verdicts call it first, which costs one query when
/// nothing is due).
pub async fn decide_finished(farm: &Farm) -> Result<usize, UseCaseError> {
    let due = store::finished_without_gate(&farm.store).await?;
    for c in &due {
        let runs = store_runs::all(&farm.store, &c.id).await?;
        let stats = stats::compute(&runs);
        decide_gate(farm, c, &runs, &stats).await?;
    }
    Ok(due.len())
}

/// The baseline of `candidate`: the one named (by the request, or at posting), else the newest
/// earlier candidate whose gate passed (one indexed query over stored verdicts).
pub async fn resolve_baseline(
    farm: &Farm,
    candidate: &Candidate,
    name: Option<&str>,
) -> Result<Option<Candidate>, UseCaseError> {
    if let Some(name) = name.or(candidate.baseline.as_deref()) {
        return match store::by_name(&farm.store, name).await? {
            Some(b) if b.id != candidate.id => Ok(Some(b)),
            _ => Err(UseCaseError::not_found(format!("baseline `{name}`"))),
        };
    }
    Ok(store::last_passed_before(&farm.store, candidate.created_at, &candidate.id).await?)
}

async fn comparison_with(
    farm: &Farm,
    candidate: &Candidate,
    runs: &[Run],
    name: Option<&str>,
) -> Result<Option<Comparison>, UseCaseError> {
    let Some(b) = resolve_baseline(farm, candidate, name).await? else { return Ok(None) };
    let base_runs = store_runs::all(&farm.store, &b.id).await?;
    Ok(Some(crate::domain::compare::compare(
        (candidate.id.as_str(), runs),
        (b.id.as_str(), &b.name, &base_runs),
        farm.gate.significance_level,
    )))
}

/// The comparison of a candidate with its baseline (named, or resolved).
pub async fn compare(farm: &Farm, id: &CandidateId, baseline: Option<&str>) -> Result<Comparison, UseCaseError> {
    let candidate = get(farm, id).await?;
    if baseline.is_none() && candidate.baseline.is_none() {
        decide_finished(farm).await?;
    }
    let runs = store_runs::all(&farm.store, id).await?;
    comparison_with(farm, &candidate, &runs, baseline)
        .await?
        .ok_or_else(|| UseCaseError::not_found("baseline (none named, and no earlier candidate passed its gate)"))
}

/// ODD coverage of a candidate, with a heatmap over two dimensions: `x` and `y` when given, a missing
/// one the first dimension other than the given one (default: the first two).
pub async fn coverage(
    farm: &Farm,
    id: &CandidateId,
    x: Option<&str>,
    y: Option<&str>,
) -> Result<Coverage, UseCaseError> {
    get(farm, id).await?;
    let odd = farm.catalog.odd().ok_or_else(|| UseCaseError::not_found("ODD (the catalog declares none)"))?;
    let names: Vec<&str> = odd.dimensions().iter().map(|d| d.name.as_str()).collect();
    let other = |than: &str| names.iter().copied().find(|n| *n != than);
    let axes = match (x, y) {
        (None, None) => None,
        (Some(x), Some(y)) => Some((x, y)),
        (Some(x), None) => other(x).map(|y| (x, y)),
        (None, Some(y)) => other(y).map(|x| (x, y)),
    };
    let runs = store_runs::all(&farm.store, id).await?;
    crate::domain::coverage::compute(odd, &runs, axes)
        .map_err(|e| UseCaseError::Invalid { code: "unknown_dimension", detail: e.to_string() })
}

/// A page of a candidate's runs, and the cursor of the next page.
pub async fn runs_page(
    farm: &Farm,
    id: &CandidateId,
    mut filter: RunFilter,
) -> Result<(Vec<Run>, Option<String>), UseCaseError> {
    get(farm, id).await?;
    let limit = filter.limit;
    filter.limit = limit + 1;
    let mut rows = store_runs::list(&farm.store, id, &filter).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        rows.last().map(|r| r.ord.to_string())
    } else {
        None
    };
    Ok((rows, next))
}

/// JUnit XML of a candidate's finished runs.
pub async fn junit(farm: &Farm, id: &CandidateId) -> Result<String, UseCaseError> {
    let candidate = get(farm, id).await?;
    let runs = store_runs::all(&farm.store, id).await?;
    Ok(crate::domain::junit::render_runs(&candidate.name, &runs))
}
