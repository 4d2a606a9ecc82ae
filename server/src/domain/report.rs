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
    let total = records.len();
    let passed = counts.get(&Verdict::Passed).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "\n{total} runs: {passed} passed, {} failed, {} error, {} timeout; pass rate {:.1} %",
        counts.get(&Verdict::Failed).copied().unwrap_or(0),
        counts.get(&Verdict::Error).copied().unwrap_or(0),
        counts.get(&Verdict::Timeout).copied().unwrap_or(0),
        if total == 0 { 0.0 } else { 100.0 * passed as f64 / total as f64 }
    );
    out
}
