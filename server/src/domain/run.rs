//! The one run model: a run's status, its tags, its coverage cell and its stored result, typed. The
//! store decodes a row into a [`Run`] once, at its boundary; every consumer (statistics, gate,
//! comparison, coverage, evidence, JUnit, the API) reads these fields and never parses text again.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use scenario_dsl::VariantKey;

use super::ids::{CandidateId, RunId};
use super::report::RunRecord;

/// Where a run is in its life. `Queued` and `Running` are the queue; the other four are final and
/// mean the run has its one result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for a worker (also: a first failure waiting for its confirmation re-run).
    Queued,
    /// Leased by a worker.
    Running,
    /// Every criterion held and the goal was reached.
    Passed,
    /// A criterion failed (confirmed by a re-run).
    Failed,
    /// The run could not complete (simulation error, or infrastructure after the last attempt).
    Error,
    /// The duration ran out before the goal (confirmed by a re-run).
    Timeout,
    /// The scenario did not happen (a required scripted event never fired): no evidence either
    /// way, never a pass, and not the stack's failure.
    Inconclusive,
}

impl RunStatus {
    /// Every status, in life order.
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Passed,
        RunStatus::Failed,
        RunStatus::Error,
        RunStatus::Timeout,
        RunStatus::Inconclusive,
    ];

    /// The snake_case name, as stored and as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Passed => "passed",
            RunStatus::Failed => "failed",
            RunStatus::Error => "error",
            RunStatus::Timeout => "timeout",
            RunStatus::Inconclusive => "inconclusive",
        }
    }

    /// Whether the run has its one result.
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }

    /// A failure of the stack under test (not an error of the farm).
    pub fn is_failure(self) -> bool {
        matches!(self, RunStatus::Failed | RunStatus::Timeout)
    }

    /// The final status a simulation's verdict gives.
    pub fn of(verdict: sim_core::Verdict) -> Self {
        match verdict {
            sim_core::Verdict::Passed => RunStatus::Passed,
            sim_core::Verdict::Failed => RunStatus::Failed,
            sim_core::Verdict::Error => RunStatus::Error,
            sim_core::Verdict::Timeout => RunStatus::Timeout,
            sim_core::Verdict::Inconclusive => RunStatus::Inconclusive,
        }
    }

    /// The verdict of a finished status (`None` for the queue's statuses).
    pub fn verdict(self) -> Option<sim_core::Verdict> {
        match self {
            RunStatus::Passed => Some(sim_core::Verdict::Passed),
            RunStatus::Failed => Some(sim_core::Verdict::Failed),
            RunStatus::Error => Some(sim_core::Verdict::Error),
            RunStatus::Timeout => Some(sim_core::Verdict::Timeout),
            RunStatus::Inconclusive => Some(sim_core::Verdict::Inconclusive),
            RunStatus::Queued | RunStatus::Running => None,
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{0}`; use one of queued, running, passed, failed, error, timeout, inconclusive")]
pub struct UnknownStatus(pub String);

impl FromStr for RunStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A scenario's tags (its own, plus its domain and severity), as a set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tags(BTreeSet<String>);

impl Tags {
    /// Whether `tag` is one of them (a whole tag, never a substring).
    pub fn contains(&self, tag: &str) -> bool {
        self.0.contains(tag)
    }

    /// The tags in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// As a sorted list.
    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }
}

impl<S: Into<String>> FromIterator<S> for Tags {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Tags(iter.into_iter().map(Into::into).collect())
    }
}

/// A variant's ODD coverage cell: dimension -> bin label (empty when the catalog declares no ODD).
pub type Cell = BTreeMap<String, String>;

/// One run of one variant for one candidate, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Run id.
    pub id: RunId,
    /// The candidate it belongs to.
    pub candidate_id: CandidateId,
    /// The variant it runs.
    pub variant_key: VariantKey,
    /// Scenario id.
    pub scenario_id: String,
    /// The scenario version (content hash, hex).
    pub content_hash: String,
    /// Position in the candidate's expansion order.
    pub ord: i64,
    /// The scenario's tags.
    pub tags: Tags,
    /// Status.
    pub status: RunStatus,
    /// Attempts used (an attempt ends when a worker disappears holding the run).
    pub attempt: i32,
    /// Trace digest.
    pub digest: Option<String>,
    /// Why it did not pass.
    pub reason: Option<String>,
    /// The full result, once the simulation finished (absent for infrastructure errors).
    pub result: Option<RunRecord>,
    /// ODD coverage cell, fixed at enqueue.
    pub cell: Cell,
}

impl Run {
    /// A run simulated on this machine outside any farm (`farm run`, `farm load-bench`): its own
    /// ids, finished with `record` (a local run has no confirmation re-run).
    pub fn local(candidate_id: CandidateId, ord: i64, variant_key: VariantKey, record: RunRecord) -> Self {
        let status = RunStatus::of(record.verdict);
        Run {
            id: RunId::random(),
            candidate_id,
            variant_key,
            scenario_id: record.scenario.clone(),
            content_hash: String::new(),
            ord,
            tags: record.tags.iter().cloned().collect(),
            status,
            attempt: 1,
            digest: Some(record.digest.clone()),
            reason: record.reason.clone(),
            cell: record.cell.clone().map(|c| c.0.into_iter().collect()).unwrap_or_default(),
            result: Some(record),
        }
    }
}

/// One run to enqueue for a candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    /// Variant key.
    pub variant_key: VariantKey,
    /// Scenario id.
    pub scenario_id: String,
    /// Content hash of the scenario version.
    pub content_hash: String,
    /// Position in the candidate's expansion order.
    pub ord: i64,
    /// The scenario's tags.
    pub tags: Tags,
    /// ODD coverage cell.
    pub cell: Cell,
}

/// One scenario version the runs of a candidate refer to: the exact text they were expanded from.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioVersion {
    /// Content hash (hex).
    pub content_hash: String,
    /// Scenario id.
    pub scenario_id: String,
    /// File it came from.
    pub file: String,
    /// Full text.
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_named() {
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(
            "done".parse::<RunStatus>().unwrap_err().to_string(),
            "unknown status `done`; use one of queued, running, passed, failed, error, timeout, inconclusive"
        );
        assert!(RunStatus::Timeout.is_finished() && RunStatus::Timeout.is_failure());
        // Inconclusive: finished, not a pass, and not the stack's failure (the gate says so apart).
        assert!(RunStatus::Inconclusive.is_finished() && !RunStatus::Inconclusive.is_failure());
        assert!(!RunStatus::Queued.is_finished() && !RunStatus::Error.is_failure());
    }

    #[test]
    fn tags_match_whole_tags_only() {
        let tags: Tags = ["critical-path", "smoke"].into_iter().collect();
        assert!(tags.contains("smoke"));
        assert!(!tags.contains("critical"), "a substring is not a tag");
        assert_eq!(serde_json::to_string(&tags).unwrap(), r#"["critical-path","smoke"]"#);
    }
}
