//! The gate: a candidate's pass/fail verdict against a policy (`catalog/gate.yaml`), with every
//! reason it failed spelled out.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use scenario_dsl::diagnostic::did_you_mean;

use super::compare::{Comparison, Flip};
use super::coverage::Coverage;
use super::run::{Run, RunStatus};
use super::stats::CandidateStats;

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

/// Why a gate policy was rejected: the file, and where in it, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct PolicyError {
    /// The policy file.
    pub file: String,
    /// 1-based line (1 when the problem has no single place).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl GatePolicy {
    /// Parses a policy document; unknown keys and wrong types are named with their line and column.
    pub fn parse(file: &str, text: &str) -> Result<GatePolicy, PolicyError> {
        serde_yaml::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            PolicyError { file: file.to_owned(), line, column, message: e.to_string() }
        })
    }

    /// Checks every tag and module the policy names against what exists: a policy that names a tag no
    /// scenario carries (or a module the stack does not have) would silently never fire.
    pub fn check(&self, file: &str, text: &str, known_tags: &BTreeSet<String>) -> Result<(), PolicyError> {
        let modules: Vec<&str> =
            autonomy_stack::Module::ALL.iter().map(|m| sim_core::latency::module_name(*m)).collect();
        let tag_uses = self
            .min_pass_rate_by_tag
            .keys()
            .map(|t| ("min_pass_rate_by_tag", t))
            .chain(self.no_failures_in_tags.iter().map(|t| ("no_failures_in_tags", t)))
            .chain(self.no_new_failures_in_tags.iter().map(|t| ("no_new_failures_in_tags", t)));
        for (rule, tag) in tag_uses {
            if !known_tags.contains(tag) {
                let hint = did_you_mean(tag, known_tags.iter().map(String::as_str))
                    .map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
                return Err(located(
                    file,
                    text,
                    rule,
                    tag,
                    format!("`{rule}`: no scenario carries the tag `{tag}`{hint}"),
                ));
            }
        }
        for module in self.latency_budget_us.keys() {
            if !modules.contains(&module.as_str()) {
                let hint = did_you_mean(module, modules.iter().copied())
                    .map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
                return Err(located(
                    file,
                    text,
                    "latency_budget_us",
                    module,
                    format!(
                        "`latency_budget_us`: unknown module `{module}` (the stack has {}){hint}",
                        modules.join(", ")
                    ),
                ));
            }
        }
        for (rule, v) in
            [("min_pass_rate", self.min_pass_rate), ("max_deadline_miss_rate", self.max_deadline_miss_rate)]
                .into_iter()
                .chain(self.min_pass_rate_by_tag.values().map(|v| ("min_pass_rate_by_tag", *v)))
        {
            if !(0.0..=1.0).contains(&v) {
                return Err(located(file, text, rule, rule, format!("`{rule}` must be within 0..1, not {v}")));
            }
        }
        Ok(())
    }
}

/// An error placed at the first occurrence of `word` after the line that holds `key`.
fn located(file: &str, text: &str, key: &str, word: &str, message: String) -> PolicyError {
    let lines: Vec<&str> = text.lines().collect();
    let key_line = lines.iter().position(|l| l.trim_start().starts_with(key)).unwrap_or(0);
    let (line, column) = lines
        .iter()
        .enumerate()
        .skip(key_line)
        .find_map(|(i, l)| l.find(word).map(|c| (i + 1, c + 1)))
        .unwrap_or((key_line + 1, 1));
    PolicyError { file: file.to_owned(), line, column, message }
}

/// Pass or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateVerdict {
    /// Every rule held.
    Pass,
    /// At least one rule failed.
    Fail,
}

impl GateVerdict {
    /// `pass` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            GateVerdict::Pass => "pass",
            GateVerdict::Fail => "fail",
        }
    }
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Gate {
    /// `pass` or `fail`.
    pub verdict: GateVerdict,
    /// Why it failed (empty when it passed).
    pub reasons: Vec<String>,
}

impl Gate {
    /// Whether the gate passed.
    pub fn passed(&self) -> bool {
        self.verdict == GateVerdict::Pass
    }
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
pub fn evaluate(policy: &GatePolicy, stats: &CandidateStats, runs: &[Run], context: Context<'_>) -> Gate {
    let mut reasons = Vec::new();
    if let Some(c) = context.comparison {
        if policy.no_significant_regression && c.overall.significant_regression {
            reasons.push(format!(
                "significant regression against {}: {} regressions, {} fixes (McNemar p = {:.4} < {})",
                c.baseline_name, c.overall.regressions, c.overall.fixes, c.overall.p_value, policy.significance_level
            ));
        }
        for tag in &policy.no_new_failures_in_tags {
            let new: Vec<&Flip> = c
                .regressions
                .iter()
                .filter(|f| runs.iter().any(|r| r.variant_key.as_str() == f.variant_key && r.tags.contains(tag)))
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
        let bad: Vec<&Run> = runs.iter().filter(|r| r.tags.contains(tag) && r.status.is_failure()).collect();
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
    let errors = stats.counts.get(RunStatus::Error.as_str()).copied().unwrap_or(0);
    if errors > 0 && !policy.allow_errors {
        reasons.push(format!("{errors} run(s) ended in error (infrastructure): the result is incomplete"));
    }
    // A scenario that did not happen is no evidence: the gate cannot pass on it (ADR 0015).
    if let Some(first) = runs.iter().find(|r| r.status == RunStatus::Inconclusive) {
        let n = runs.iter().filter(|r| r.status == RunStatus::Inconclusive).count();
        reasons.push(format!(
            "{n} run(s) inconclusive (the scenario did not happen), first {}: {}",
            first.scenario_id,
            first.reason.as_deref().unwrap_or("no reason")
        ));
    }
    Gate { verdict: if reasons.is_empty() { GateVerdict::Pass } else { GateVerdict::Fail }, reasons }
}
