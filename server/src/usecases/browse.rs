//! Reads for people browsing the farm (the web UI): a page of candidates with their progress and
//! pass rates, everything a candidate's page shows, a run with its scenario and its baseline's run
//! of the same variant, a scenario's history across the latest candidates, and the operator's view
//! of the queue and the workers. Nothing here writes.

use std::collections::BTreeMap;

use super::candidates::{self, CandidateView};
use super::{Farm, UseCaseError};
use crate::domain::candidate::Candidate;
use crate::domain::compare::Comparison;
use crate::domain::config_diff::{self, ConfigChange};
use crate::domain::coverage::Coverage;
use crate::domain::ids::{CandidateId, RunId};
use crate::domain::run::{Run, RunStatus, ScenarioVersion};
use crate::domain::significance::{wilson, Rate};
use crate::infra::store::overview::{self, ErrorRow, HistoryRow, WorkerRow};
use crate::infra::store::{candidates as store, runs as store_runs};

/// One line of the candidates list.
#[derive(Debug, Clone)]
pub struct CandidateRow {
    /// The candidate.
    pub candidate: Candidate,
    /// Runs by status.
    pub counts: BTreeMap<RunStatus, i64>,
    /// Pass rate over finished runs with its 95 % interval.
    pub rate: Rate,
}

impl CandidateRow {
    /// Runs with their result.
    pub fn finished(&self) -> i64 {
        self.counts.iter().filter(|(s, _)| s.is_finished()).map(|(_, n)| n).sum()
    }

    /// All runs.
    pub fn total(&self) -> i64 {
        self.counts.values().sum::<i64>().max(self.candidate.runs_total)
    }
}

/// Where the next page of candidates starts: the last row's creation time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Id.
    pub id: CandidateId,
}

impl Cursor {
    /// As text for a link: `CREATED_AT.ID`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id.as_str())
    }

    /// Parses [`Cursor::encode`]'s text.
    pub fn decode(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('.')?;
        Some(Self { created_at: at.parse().ok()?, id: CandidateId::parse(id).ok()? })
    }
}

/// A page of candidates, newest first, filtered by name; and the cursor of the next page.
pub async fn candidates_page(
    farm: &Farm,
    name: Option<&str>,
    before: Option<&Cursor>,
    limit: i64,
) -> Result<(Vec<CandidateRow>, Option<Cursor>), UseCaseError> {
    let mut list = store::page(&farm.store, name, before.map(|c| (c.created_at, &c.id)), limit + 1).await?;
    let next = if list.len() as i64 > limit {
        list.truncate(usize::try_from(limit).unwrap_or(0));
        list.last().map(|c| Cursor { created_at: c.created_at, id: c.id.clone() })
    } else {
        None
    };
    let ids: Vec<CandidateId> = list.iter().map(|c| c.id.clone()).collect();
    let mut counts: BTreeMap<CandidateId, BTreeMap<RunStatus, i64>> = BTreeMap::new();
    for (id, status, n) in overview::status_counts_of(&farm.store, &ids).await? {
        counts.entry(id).or_default().insert(status, n);
    }
    let rows = list
        .into_iter()
        .map(|candidate| {
            let counts = counts.remove(&candidate.id).unwrap_or_default();
            let passed = counts.get(&RunStatus::Passed).copied().unwrap_or(0);
            let finished: i64 = counts.iter().filter(|(s, _)| s.is_finished()).map(|(_, n)| n).sum();
            let rate = wilson(u64::try_from(passed).unwrap_or(0), u64::try_from(finished).unwrap_or(0));
            CandidateRow { candidate, counts, rate }
        })
        .collect();
    Ok((rows, next))
}

/// Pass rate of one group of runs (a tag or a scenario).
#[derive(Debug, Clone)]
pub struct GroupRate {
    /// Tag or scenario id.
    pub name: String,
    /// Pass rate with its interval.
    pub rate: Rate,
    /// Runs without a result yet.
    pub pending: u64,
}

/// Pass rates per scenario (or per tag with `by_tag`), in name order.
pub fn group_rates(runs: &[Run], by_tag: bool) -> Vec<GroupRate> {
    let mut groups: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for r in runs {
        let names: Vec<String> = if by_tag { r.tags.to_vec() } else { vec![r.scenario_id.clone()] };
        for name in names {
            let g = groups.entry(name).or_default();
            if r.status.is_finished() {
                g.0 += 1;
                g.1 += u64::from(r.status == RunStatus::Passed);
            } else {
                g.2 += 1;
            }
        }
    }
    groups.into_iter().map(|(name, (n, p, pending))| GroupRate { name, rate: wilson(p, n), pending }).collect()
}

/// Everything a candidate's page shows.
#[derive(Debug, Clone)]
pub struct CandidatePage {
    /// The candidate, its statistics and gate.
    pub view: CandidateView,
    /// Its runs in queue order.
    pub runs: Vec<Run>,
    /// Runs that failed once and wait for their confirmation re-run (not counted as anything yet).
    pub awaiting_confirmation: Vec<RunId>,
    /// The baseline, when one resolves.
    pub baseline: Option<Candidate>,
    /// The comparison with it, or why there is none.
    pub comparison: Result<Comparison, String>,
    /// Configuration keys that differ from the baseline's.
    pub config_changes: Vec<ConfigChange>,
    /// ODD coverage (none when the catalog declares no ODD).
    pub coverage: Option<Coverage>,
}

/// A candidate's page; `axes` picks the coverage heatmap's two dimensions.
pub async fn candidate_page(
    farm: &Farm,
    id: &CandidateId,
    axes: Option<(&str, &str)>,
) -> Result<CandidatePage, UseCaseError> {
    let view = candidates::detail(farm, id).await?;
    let runs = store_runs::all(&farm.store, id).await?;
    let awaiting_confirmation = overview::awaiting_confirmation(&farm.store, id).await?;
    let baseline = match candidates::resolve_baseline(farm, &view.candidate, None).await {
        Ok(b) => b,
        Err(UseCaseError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let comparison = match (&baseline, view.stats.status.as_str()) {
        (None, _) => Err(match &view.candidate.baseline {
            Some(name) => format!("the named baseline `{name}` does not exist"),
            None => "no baseline: none was named and no earlier candidate passed its gate".to_owned(),
        }),
        (Some(_), _) => candidates::compare(farm, id, None).await.map_err(|e| e.to_string()),
    };
    let config_changes = match &baseline {
        Some(b) => {
            let mine = store::stack_config(&farm.store, id).await?;
            let theirs = store::stack_config(&farm.store, &b.id).await?;
            let json = |c: Option<autonomy_stack::StackConfig>| {
                c.and_then(|c| serde_json::to_value(c).ok()).unwrap_or(serde_json::Value::Null)
            };
            config_diff::diff(&json(theirs), &json(mine))
        }
        None => Vec::new(),
    };
    let (x, y) = (axes.map(|a| a.0), axes.map(|a| a.1));
    let coverage = match candidates::coverage(farm, id, x, y).await {
        Ok(c) => Some(c),
        Err(UseCaseError::NotFound(_)) => None,
        Err(UseCaseError::Invalid { .. }) if axes.is_some() => candidates::coverage(farm, id, None, None).await.ok(),
        Err(e) => return Err(e),
    };
    Ok(CandidatePage { view, runs, awaiting_confirmation, baseline, comparison, config_changes, coverage })
}

/// A candidate's effective stack configuration (what `farm run --stack-config` takes to reproduce).
pub async fn stack_config(farm: &Farm, id: &CandidateId) -> Result<autonomy_stack::StackConfig, UseCaseError> {
    store::stack_config(&farm.store, id).await?.ok_or_else(|| UseCaseError::not_found("candidate"))
}

/// Everything a run's page shows.
#[derive(Debug, Clone)]
pub struct RunPage {
    /// The run.
    pub run: Run,
    /// Its candidate.
    pub candidate: Candidate,
    /// The exact scenario text it ran.
    pub scenario: Option<ScenarioVersion>,
    /// The candidate's baseline, when one resolves.
    pub baseline: Option<Candidate>,
    /// The baseline's run of the same variant.
    pub baseline_run: Option<Run>,
    /// Whether `GET /api/v1/runs/{id}/trace` can answer: a trace was stored, or the run passed
    /// (its trace is re-simulated).
    pub has_trace: bool,
}

/// A run's page.
pub async fn run_page(farm: &Farm, id: &RunId) -> Result<RunPage, UseCaseError> {
    let run = super::runs::get(farm, id).await?;
    let candidate =
        store::get(&farm.store, &run.candidate_id).await?.ok_or_else(|| UseCaseError::not_found("candidate"))?;
    let scenario = store_runs::scenario(&farm.store, &run.content_hash).await?;
    let baseline = match candidates::resolve_baseline(farm, &candidate, None).await {
        Ok(b) => b,
        Err(UseCaseError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let baseline_run = match &baseline {
        Some(b) => store_runs::by_variant(&farm.store, &b.id, &run.variant_key).await?,
        None => None,
    };
    let has_trace = run.status == RunStatus::Passed || store_runs::trace(&farm.store, id).await?.is_some();
    Ok(RunPage { run, candidate, scenario, baseline, baseline_run, has_trace })
}

/// One candidate's outcome on a scenario.
#[derive(Debug, Clone)]
pub struct HistoryPoint {
    /// Candidate id.
    pub candidate_id: CandidateId,
    /// Candidate name.
    pub candidate_name: String,
    /// Pass rate over its finished runs of the scenario.
    pub rate: Rate,
}

/// A variant whose status differs between candidates.
#[derive(Debug, Clone)]
pub struct ChangedVariant {
    /// The variant key.
    pub variant_key: String,
    /// Status and run per candidate, in the history's order (none: not run by that candidate).
    pub outcomes: Vec<Option<(RunStatus, RunId)>>,
}

/// A scenario's pass rate across the latest candidates that ran it (newest first), and the
/// variants whose status changed between them.
#[derive(Debug, Clone, Default)]
pub struct ScenarioHistory {
    /// One point per candidate, newest first.
    pub points: Vec<HistoryPoint>,
    /// Variants whose finished status is not the same in every candidate.
    pub changed: Vec<ChangedVariant>,
}

/// The history of `scenario_id` over the `candidates` latest candidates that ran it.
pub async fn scenario_history(
    farm: &Farm,
    scenario_id: &str,
    candidates: i64,
) -> Result<ScenarioHistory, UseCaseError> {
    let rows = overview::scenario_history(&farm.store, scenario_id, candidates).await?;
    Ok(history_of(&rows))
}

fn history_of(rows: &[HistoryRow]) -> ScenarioHistory {
    let mut order: Vec<(CandidateId, String)> = Vec::new();
    let mut by_variant: BTreeMap<String, BTreeMap<usize, (RunStatus, RunId)>> = BTreeMap::new();
    for r in rows {
        let i = match order.iter().position(|(id, _)| *id == r.candidate_id) {
            Some(i) => i,
            None => {
                order.push((r.candidate_id.clone(), r.candidate_name.clone()));
                order.len() - 1
            }
        };
        by_variant.entry(r.variant_key.to_string()).or_default().insert(i, (r.status, r.run_id.clone()));
    }
    let points = order
        .iter()
        .enumerate()
        .map(|(i, (id, name))| {
            let (mut n, mut p) = (0, 0);
            for v in by_variant.values() {
                if let Some((s, _)) = v.get(&i).filter(|(s, _)| s.is_finished()) {
                    n += 1;
                    p += u64::from(*s == RunStatus::Passed);
                }
            }
            HistoryPoint { candidate_id: id.clone(), candidate_name: name.clone(), rate: wilson(p, n) }
        })
        .collect();
    let changed = by_variant
        .into_iter()
        .filter(|(_, v)| {
            let finished: Vec<bool> =
                v.values().filter(|(s, _)| s.is_finished()).map(|(s, _)| *s == RunStatus::Passed).collect();
            finished.windows(2).any(|w| w[0] != w[1])
        })
        .map(|(key, v)| ChangedVariant {
            variant_key: key,
            outcomes: (0..order.len()).map(|i| v.get(&i).cloned()).collect(),
        })
        .collect();
    ScenarioHistory { points, changed }
}

/// What an operator watches.
#[derive(Debug, Clone)]
pub struct FarmState {
    /// Runs by status over the whole store.
    pub queue: Vec<(RunStatus, i64)>,
    /// Workers, most recently seen first.
    pub workers: Vec<WorkerRow>,
    /// Results written in the last minute.
    pub finished_last_minute: i64,
    /// Results written in the last hour.
    pub finished_last_hour: i64,
    /// The latest runs in `error`.
    pub errors: Vec<ErrorRow>,
    /// The time these were read, ms since the epoch.
    pub now: i64,
}

/// The farm's state now.
pub async fn farm_state(farm: &Farm) -> Result<FarmState, UseCaseError> {
    let now = crate::infra::clock::now_ms();
    Ok(FarmState {
        queue: store_runs::global_status_counts(&farm.store).await?,
        workers: overview::workers(&farm.store, 50).await?,
        finished_last_minute: overview::finished_since(&farm.store, now - 60_000).await?,
        finished_last_hour: overview::finished_since(&farm.store, now - 3_600_000).await?,
        errors: overview::recent_errors(&farm.store, 20).await?,
        now,
    })
}

/// Filters of a candidate's run list (any combination; each narrows).
#[derive(Debug, Clone, Default)]
pub struct RunListQuery {
    /// Only this status.
    pub status: Option<RunStatus>,
    /// Only runs whose scenario carries this tag.
    pub tag: Option<String>,
    /// Only this scenario.
    pub scenario: Option<String>,
    /// After this position (the previous page's cursor).
    pub after: Option<i64>,
}

/// A page of a candidate's runs in queue order (keyset pagination on the run's position), and the
/// cursor of the next page.
pub async fn run_list(
    farm: &Farm,
    id: &CandidateId,
    q: RunListQuery,
    limit: i64,
) -> Result<(Vec<Run>, Option<String>), UseCaseError> {
    let filter = crate::infra::store::runs::RunFilter {
        status: q.status,
        tag: q.tag,
        scenario: q.scenario,
        after: q.after,
        limit,
    };
    candidates::runs_page(farm, id, filter).await
}
