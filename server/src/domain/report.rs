//! What a regression run reports: one [`RunRecord`] per variant (the JSON report), and the summary by
//! scenario and by tag that `farm run` prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use scenario_dsl::{CoverageCell, Variant};
use sim_core::oracle::{CriterionOutcome, Metrics};
use sim_core::{RunResult, Verdict};

/// One variant's result: a line of `farm run`'s JSON report, and the result a worker stores for a
/// run (decoded once, at the store's boundary).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Variant key.
    pub key: String,
    /// Scenario id.
    pub scenario: String,
    /// Index of the variant within its scenario.
    pub index: usize,
    /// The scenario's tags (including domain and severity).
    pub tags: Vec<String>,
    /// Parameter values.
    pub params: BTreeMap<String, f64>,
    /// Seed.
    pub seed: u64,
    /// ODD coverage cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<CoverageCell>,
    /// Verdict.
    pub verdict: Verdict,
    /// Why it did not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Each criterion's outcome.
    pub criteria: Vec<CriterionOutcome>,
    /// Every scripted event (a step with a trigger) and when it fired (absent in results stored
    /// before events were recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<sim_core::actors::ScriptedEvent>,
    /// Points earned under the scenario's `scoring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<sim_core::oracle::Score>,
    /// Metrics.
    pub metrics: Metrics,
    /// Per-module wall-time percentiles, microseconds: reported, never judged.
    pub latency: BTreeMap<String, sim_core::latency::LatencySummary>,
    /// Per-module thread-CPU-time percentiles, microseconds: what the gate's budgets judge (empty in
    /// results stored before CPU time was measured).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cpu_latency: BTreeMap<String, sim_core::latency::LatencySummary>,
    /// Simulated seconds.
    pub sim_s: f64,
    /// Wall seconds.
    pub wall_s: f64,
    /// Trace digest.
    pub digest: String,
}

impl RunRecord {
    /// The record of `result` for `variant`.
    pub fn new(
        variant: &Variant,
        tags: Vec<String>,
        cell: Option<CoverageCell>,
        result: &RunResult,
        wall_s: f64,
    ) -> Self {
        Self {
            key: variant.key.to_string(),
            scenario: variant.scenario_id.clone(),
            index: variant.index,
            tags,
            params: variant.params.clone(),
            seed: variant.seed,
            cell,
            verdict: result.verdict,
            reason: result.reason.clone(),
            criteria: result.criteria.clone(),
            events: result.events.clone(),
            score: result.score.clone(),
            metrics: result.metrics.clone(),
            latency: result.latency.clone(),
            cpu_latency: result.cpu_latency.clone(),
            sim_s: result.sim_s,
            wall_s,
            digest: result.digest.clone(),
        }
    }
}

#[derive(Default)]
struct Tally {
    total: usize,
    passed: usize,
    failures: Vec<String>,
}

fn rate(t: &Tally) -> f64 {
    if t.total == 0 {
        0.0
    } else {
        100.0 * t.passed as f64 / t.total as f64
    }
}

/// The human summary: totals, pass rate by scenario and by tag, and each scenario's first failures.
pub fn summary(records: &[RunRecord]) -> String {
    let mut by_scenario: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut by_tag: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut counts: BTreeMap<Verdict, usize> = BTreeMap::new();
    for r in records {
        *counts.entry(r.verdict).or_default() += 1;
        let passed = r.verdict == Verdict::Passed;
        let s = by_scenario.entry(&r.scenario).or_default();
        s.total += 1;
        s.passed += usize::from(passed);
        if !passed {
            s.failures.push(format!(
                "#{} {} [{}]: {}",
                r.index,
                r.key,
                r.verdict.as_str(),
                r.reason.as_deref().unwrap_or("")
            ));
        }
        for t in &r.tags {
            let e = by_tag.entry(t).or_default();
            e.total += 1;
            e.passed += usize::from(passed);
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "\nBy scenario:");
    for (id, t) in &by_scenario {
        let _ = writeln!(out, "  {:>6.1} %  {:>4}/{:<4} {id}", rate(t), t.passed, t.total);
        for f in t.failures.iter().take(3) {
            let _ = writeln!(out, "             {f}");
        }
        if t.failures.len() > 3 {
            let _ = writeln!(out, "             ... and {} more", t.failures.len() - 3);
        }
    }
    let _ = writeln!(out, "\nBy tag:");
    for (tag, t) in &by_tag {
        let _ = writeln!(out, "  {:>6.1} %  {:>5}/{:<5} {tag}", rate(t), t.passed, t.total);
    }
    out.push_str(&scores(records));
    let total = records.len();
    let passed = counts.get(&Verdict::Passed).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "\n{total} runs: {passed} passed, {} failed, {} error, {} timeout, {} inconclusive; pass rate {:.1} %",
        counts.get(&Verdict::Failed).copied().unwrap_or(0),
        counts.get(&Verdict::Error).copied().unwrap_or(0),
        counts.get(&Verdict::Timeout).copied().unwrap_or(0),
        counts.get(&Verdict::Inconclusive).copied().unwrap_or(0),
        if total == 0 { 0.0 } else { 100.0 * passed as f64 / total as f64 }
    );
    out
}

/// Points earned and available.
pub type Points = (f64, f64);

/// Points earned and available per scenario and over the suite, for scenarios with `scoring`.
pub fn score_totals(records: &[RunRecord]) -> (BTreeMap<&str, Points>, Points) {
    totals(records.iter().filter_map(|r| Some((r.scenario.as_str(), r.score.as_ref()?))))
}

/// [`score_totals`] of stored runs (those with a result): the evidence pack's and the web UI's.
pub fn run_score_totals(runs: &[super::run::Run]) -> (BTreeMap<&str, Points>, Points) {
    totals(runs.iter().filter_map(|r| Some((r.scenario_id.as_str(), r.result.as_ref()?.score.as_ref()?))))
}

fn totals<'a>(
    scores: impl Iterator<Item = (&'a str, &'a sim_core::oracle::Score)>,
) -> (BTreeMap<&'a str, Points>, Points) {
    let mut by_scenario: BTreeMap<&str, Points> = BTreeMap::new();
    let mut suite = (0.0, 0.0);
    for (scenario, s) in scores {
        let e = by_scenario.entry(scenario).or_default();
        e.0 += s.points;
        e.1 += s.max;
        suite.0 += s.points;
        suite.1 += s.max;
    }
    (by_scenario, suite)
}

/// The scores section of the summary (empty when no scenario is scored).
fn scores(records: &[RunRecord]) -> String {
    let (by_scenario, suite) = score_totals(records);
    if by_scenario.is_empty() {
        return String::new();
    }
    let pct = |(p, m): (f64, f64)| if m > 0.0 { 100.0 * p / m } else { 0.0 };
    let mut out = String::from("\nScores:\n");
    for (id, t) in &by_scenario {
        let _ = writeln!(out, "  {:>6.1} %  {:>7.2}/{:<7.2} {id}", pct(*t), t.0, t.1);
    }
    let _ = writeln!(out, "  {:>6.1} %  {:>7.2}/{:<7.2} suite", pct(suite), suite.0, suite.1);
    out
}

#[cfg(test)]
impl RunRecord {
    /// A record for tests: no criteria, events, score or latency, one simulated second.
    pub(crate) fn fixture(key: &scenario_dsl::VariantKey, scenario: &str, index: usize, verdict: Verdict) -> Self {
        RunRecord {
            key: key.to_string(),
            scenario: scenario.to_owned(),
            index,
            tags: Vec::new(),
            params: BTreeMap::new(),
            seed: 0,
            cell: None,
            verdict,
            reason: None,
            criteria: Vec::new(),
            events: Vec::new(),
            score: None,
            metrics: Metrics::default(),
            latency: BTreeMap::new(),
            cpu_latency: BTreeMap::new(),
            sim_s: 1.0,
            wall_s: 0.01,
            digest: "d".into(),
        }
    }
}

/// Runs with scores, for the tests of the pages and packs that show them.
#[cfg(test)]
pub(crate) fn scored_runs(scores: &[(&str, f64, f64)]) -> Vec<super::run::Run> {
    use super::run::{Run, RunStatus};
    scores
        .iter()
        .enumerate()
        .map(|(i, (scenario, points, max))| {
            let variant_key = scenario_dsl::VariantKey::parse(&format!("{i:032x}")).unwrap();
            Run {
                id: super::ids::RunId::random(),
                candidate_id: super::ids::CandidateId::random(),
                scenario_id: (*scenario).to_owned(),
                content_hash: "h".into(),
                ord: i as i64,
                tags: Default::default(),
                status: RunStatus::Passed,
                attempt: 0,
                digest: Some("d".into()),
                reason: None,
                result: Some(RunRecord {
                    score: Some(sim_core::oracle::Score { points: *points, max: *max, outcome: "avoided".into() }),
                    ..RunRecord::fixture(&variant_key, scenario, i, Verdict::Passed)
                }),
                variant_key,
                cell: Default::default(),
            }
        })
        .collect()
}
