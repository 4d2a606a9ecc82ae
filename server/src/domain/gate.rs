//! The gate: a candidate's pass/fail verdict against a policy (`catalog/gate.yaml`), with every
//! reason it failed spelled out.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::compare::Comparison;
use crate::coverage::Coverage;
use crate::stats::CandidateStats;
use crate::store::runs::RunRow;

/// The gate policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatePolicy {
    /// Smallest overall pass rate, 0..1.
    pub min_pass_rate: f64,
    /// Smallest pass rate per tag, 0..1.
    #[serde(default)]
    pub min_pass_rate_by_tag: BTreeMap<String, f64>,
    /// Tags in which not a single run may fail.
    #[serde(default)]
    pub no_failures_in_tags: Vec<String>,
    /// Largest p99 latency per module, microseconds.
    #[serde(default)]
    pub latency_budget_us: BTreeMap<String, f64>,
    /// Largest share of planning cycles that overran their budget.
    #[serde(default = "one")]
    pub max_deadline_miss_rate: f64,
    /// Whether runs in `error` (infrastructure) are tolerated.
    #[serde(default)]
    pub allow_errors: bool,
    /// Fail on a pass-rate drop against the baseline that the paired test calls significant.
    #[serde(default)]
    pub no_significant_regression: bool,
    /// Fail on any regression (passed on the baseline, not now) in scenarios with these tags.
    #[serde(default)]
    pub no_new_failures_in_tags: Vec<String>,
    /// Significance level of the paired test.
    #[serde(default = "five_percent")]
    pub significance_level: f64,
    /// Smallest share of the ODD's declared cells the candidate must exercise, 0..1.
    #[serde(default)]
    pub min_coverage: Option<f64>,
}

fn five_percent() -> f64 {
    0.05
}

fn one() -> f64 {
    1.0
}

impl Default for GatePolicy {
    fn default() -> Self {
        Self {
            min_pass_rate: 0.95,
            min_pass_rate_by_tag: BTreeMap::new(),
            no_failures_in_tags: vec!["critical".into()],
            latency_budget_us: BTreeMap::new(),
            max_deadline_miss_rate: 1.0,
            allow_errors: false,
            no_significant_regression: false,
            no_new_failures_in_tags: Vec::new(),
            significance_level: 0.05,
            min_coverage: None,
        }
    }
}

/// Reads a gate policy file.
pub fn load(path: &Path) -> anyhow::Result<GatePolicy> {
    let text = std::fs::read_to_string(path)?;
    Ok(serde_yaml::from_str(&text)?)
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Gate {
    /// `pass` or `fail`.
    pub verdict: String,
    /// Why it failed (empty when it passed).
    pub reasons: Vec<String>,
}

/// What the gate knows beyond the candidate's own runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The comparison with the baseline, if there is one.
    pub comparison: Option<&'a Comparison>,
    /// ODD coverage, if the catalog declares an ODD.
    pub coverage: Option<&'a Coverage>,
}

/// Evaluates the policy on a finished candidate.
pub fn evaluate(policy: &GatePolicy, stats: &CandidateStats, runs: &[RunRow], context: Context<'_>) -> Gate {
    let mut reasons = Vec::new();
    if let Some(c) = context.comparison {
        if policy.no_significant_regression && c.overall.significant_regression {
            reasons.push(format!(
                "significant regression against {}: {} regressions, {} fixes (McNemar p = {:.4} < {})",
                c.baseline_name, c.overall.regressions, c.overall.fixes, c.overall.p_value, policy.significance_level
            ));
        }
        for tag in &policy.no_new_failures_in_tags {
            let quoted = format!("\"{tag}\"");
            let new: Vec<&crate::compare::Flip> = c
                .regressions
                .iter()
                .filter(|f| runs.iter().any(|r| r.variant_key == f.variant_key && r.tags.contains(&quoted)))
                .collect();
            if let Some(first) = new.first() {
                reasons.push(format!(
                    "{} new failure(s) in scenarios tagged `{tag}` against {}, e.g. {}",
                    new.len(),
                    c.baseline_name,
                    first.scenario
                ));
            }
        }
    }
    if let (Some(min), Some(cov)) = (policy.min_coverage, context.coverage) {
        if cov.exercised_share < min {
            reasons.push(format!("ODD coverage {:.1} % is below {:.1} %", cov.exercised_share * 100.0, min * 100.0));
        }
    }
    if stats.pass_rate < policy.min_pass_rate {
        reasons.push(format!(
            "pass rate {:.1} % is below {:.1} %",
            stats.pass_rate * 100.0,
            policy.min_pass_rate * 100.0
        ));
    }
    for (tag, min) in &policy.min_pass_rate_by_tag {
        if let Some(rate) = stats.pass_rate_by_tag.get(tag) {
            if rate < min {
                reasons.push(format!("pass rate of tag `{tag}` {:.1} % is below {:.1} %", rate * 100.0, min * 100.0));
            }
        }
    }
    for tag in &policy.no_failures_in_tags {
        let quoted = format!("\"{tag}\"");
        let bad: Vec<&RunRow> = runs
            .iter()
            .filter(|r| r.tags.contains(&quoted) && matches!(r.status.as_str(), "failed" | "timeout"))
            .collect();
        if let Some(first) = bad.first() {
            reasons.push(format!(
                "{} run(s) failed in scenarios tagged `{tag}`, e.g. {} ({})",
                bad.len(),
                first.scenario_id,
                first.reason.as_deref().unwrap_or("no reason")
            ));
        }
    }
    for (module, budget) in &policy.latency_budget_us {
        if let Some(l) = stats.latency.get(module) {
            if l.p99 > *budget {
                reasons.push(format!("{module} p99 latency {:.0} µs exceeds the budget of {budget:.0} µs", l.p99));
            }
        }
    }
    if stats.deadline_miss_rate > policy.max_deadline_miss_rate {
        reasons.push(format!(
            "deadline-miss rate {:.2} % exceeds {:.2} %",
            stats.deadline_miss_rate * 100.0,
            policy.max_deadline_miss_rate * 100.0
        ));
    }
    let errors = stats.counts.get("error").copied().unwrap_or(0);
    if errors > 0 && !policy.allow_errors {
        reasons.push(format!("{errors} run(s) ended in error (infrastructure): the result is incomplete"));
    }
    Gate { verdict: if reasons.is_empty() { "pass" } else { "fail" }.into(), reasons }
}
