//! The gate: a candidate's pass/fail verdict against a policy (`catalog/gate.yaml`), with every
//! reason it failed spelled out.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use scenario_dsl::diagnostic::did_you_mean;
use scenario_dsl::model::{Criticality, Domain};

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
    /// Smallest pass rate per operating domain, 0..1.
    #[serde(default)]
    pub min_pass_rate_by_domain: BTreeMap<Domain, f64>,
    /// Tags in which not a single run may fail (for any criterion, comfort included).
    #[serde(default)]
    pub no_failures_in_tags: Vec<String>,
    /// Tags (usually the scenario severity `critical`) in which no criterion of severity
    /// `critical` may fail: safety breaches block the release, while comfort and progress breaches
    /// (criteria of severity `major` or `minor`) count only against the pass-rate floors.
    #[serde(default)]
    pub no_critical_failures_in_tags: Vec<String>,
    /// Smallest share of runs per tag that failed no criterion of severity `critical` and did not
    /// collide, 0..1: a floor on safety alone, which comfort and progress breaches do not lower.
    #[serde(default)]
    pub min_safety_pass_rate_by_tag: BTreeMap<String, f64>,
    /// Whether a single collision anywhere fails the gate.
    #[serde(default)]
    pub no_collisions: bool,
    /// Limits on the key performance indicators release reviews read, per simulated hour.
    #[serde(default)]
    pub kpis: KpiLimits,
    /// Largest p99 latency per module, microseconds of the thread's CPU time.
    #[serde(default)]
    pub latency_budget_us: BTreeMap<String, f64>,
    /// Largest share of planning cycles whose CPU time overran their budget.
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

/// KPI limits per simulated hour over all of a candidate's finished runs. Each is optional: an
/// absent limit is not checked.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiLimits {
    /// Guardrail (safety monitor) activations per simulated hour, every reason counted.
    #[serde(default)]
    pub max_guardrail_activations_per_hour: Option<f64>,
    /// Fallback engagements (the safety layer taking over) per simulated hour.
    #[serde(default)]
    pub max_fallback_engagements_per_hour: Option<f64>,
    /// Near misses per simulated hour: a run counts one when its smallest TTC fell below
    /// `near_miss_ttc_s` without a collision.
    #[serde(default)]
    pub max_near_misses_per_hour: Option<f64>,
    /// The TTC under which an encounter is a near miss, seconds.
    #[serde(default = "one")]
    pub near_miss_ttc_s: f64,
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
            min_pass_rate_by_domain: BTreeMap::new(),
            min_safety_pass_rate_by_tag: BTreeMap::new(),
            no_failures_in_tags: vec!["critical".into()],
            no_critical_failures_in_tags: Vec::new(),
            no_collisions: false,
            kpis: KpiLimits::default(),
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
            .chain(self.no_critical_failures_in_tags.iter().map(|t| ("no_critical_failures_in_tags", t)))
            .chain(self.min_safety_pass_rate_by_tag.keys().map(|t| ("min_safety_pass_rate_by_tag", t)))
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
                .chain(self.min_pass_rate_by_domain.values().map(|v| ("min_pass_rate_by_domain", *v)))
                .chain(self.min_safety_pass_rate_by_tag.values().map(|v| ("min_safety_pass_rate_by_tag", *v)))
        {
            if !(0.0..=1.0).contains(&v) {
                return Err(located(file, text, rule, rule, format!("`{rule}` must be within 0..1, not {v}")));
            }
        }
        let k = &self.kpis;
        for (rule, v) in [
            ("max_guardrail_activations_per_hour", k.max_guardrail_activations_per_hour),
            ("max_fallback_engagements_per_hour", k.max_fallback_engagements_per_hour),
            ("max_near_misses_per_hour", k.max_near_misses_per_hour),
            ("near_miss_ttc_s", Some(k.near_miss_ttc_s)),
        ] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(located(
                    file,
                    text,
                    rule,
                    rule,
                    format!("`kpis.{rule}` must be a number of 0 or more, not {v}"),
                ));
            }
        }
        Ok(())
    }
}

/// An error placed at the first occurrence of `word` after the line that holds `key`.
pub(crate) fn located(file: &str, text: &str, key: &str, word: &str, message: String) -> PolicyError {
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
    /// Why it failed, one sentence per broken rule (empty when it passed).
    pub reasons: Vec<String>,
    /// The same, structured: the rule, the measured value, the limit and the worst offenders
    /// (absent from verdicts stored before it existed).
    #[serde(default)]
    pub findings: Vec<Finding>,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// The policy key, e.g. `min_pass_rate_by_tag.smoke` or `kpis.max_near_misses_per_hour`.
    pub rule: String,
    /// What was measured, in the rule's unit.
    pub measured: f64,
    /// The policy's limit, in the rule's unit.
    pub limit: f64,
    /// The worst scenarios or variants, worst first (at most five), each with its own figure.
    pub worst: Vec<String>,
    /// The sentence shown as the reason.
    pub message: String,
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

/// Evaluates the policy on a finished candidate. Every broken rule becomes one [`Finding`]: the
/// rule, the measured value, the limit and the worst scenarios or variants.
pub fn evaluate(policy: &GatePolicy, stats: &CandidateStats, runs: &[Run], context: Context<'_>) -> Gate {
    let mut f = Findings::default();
    if let Some(c) = context.comparison {
        if policy.no_significant_regression && c.overall.significant_regression {
            f.push(
                "no_significant_regression",
                c.overall.p_value,
                policy.significance_level,
                worst_flips(&c.regressions),
                format!(
                    "significant regression against {}: {} regressions, {} fixes (McNemar p = {:.4} < {})",
                    c.baseline_name,
                    c.overall.regressions,
                    c.overall.fixes,
                    c.overall.p_value,
                    policy.significance_level
                ),
            );
        }
        for tag in &policy.no_new_failures_in_tags {
            let new: Vec<&Flip> = c
                .regressions
                .iter()
                .filter(|f| runs.iter().any(|r| r.variant_key.as_str() == f.variant_key && r.tags.contains(tag)))
                .collect();
            if !new.is_empty() {
                f.push(
                    &format!("no_new_failures_in_tags.{tag}"),
                    new.len() as f64,
                    0.0,
                    worst_flips(new.iter().copied()),
                    format!("{} new failure(s) in scenarios tagged `{tag}` against {}", new.len(), c.baseline_name),
                );
            }
        }
    }
    if let (Some(min), Some(cov)) = (policy.min_coverage, context.coverage) {
        if cov.exercised_share < min {
            f.push(
                "min_coverage",
                cov.exercised_share,
                min,
                Vec::new(),
                format!("ODD coverage {:.1} % is below {:.1} %", cov.exercised_share * 100.0, min * 100.0),
            );
        }
    }
    if stats.pass_rate < policy.min_pass_rate {
        let (rate, min) = figures(stats.pass_rate, policy.min_pass_rate, 100.0);
        f.push(
            "min_pass_rate",
            stats.pass_rate,
            policy.min_pass_rate,
            worst_scenarios(runs.iter()),
            format!("pass rate {rate} % is below {min} %"),
        );
    }
    for (tag, min) in &policy.min_pass_rate_by_tag {
        if let Some(rate) = stats.pass_rate_by_tag.get(tag).filter(|rate| *rate < min) {
            let (shown, floor) = figures(*rate, *min, 100.0);
            f.push(
                &format!("min_pass_rate_by_tag.{tag}"),
                *rate,
                *min,
                worst_scenarios(runs.iter().filter(|r| r.tags.contains(tag))),
                format!("pass rate of tag `{tag}` {shown} % is below {floor} %"),
            );
        }
    }
    for (domain, min) in &policy.min_pass_rate_by_domain {
        let d = domain.as_str();
        if let Some(rate) = stats.pass_rate_by_tag.get(d).filter(|rate| *rate < min) {
            let (shown, floor) = figures(*rate, *min, 100.0);
            f.push(
                &format!("min_pass_rate_by_domain.{d}"),
                *rate,
                *min,
                worst_scenarios(runs.iter().filter(|r| r.tags.contains(d))),
                format!("pass rate of domain `{d}` {shown} % is below {floor} %"),
            );
        }
    }
    for tag in &policy.no_failures_in_tags {
        let bad: Vec<&Run> = runs.iter().filter(|r| r.tags.contains(tag) && r.status.is_failure()).collect();
        if !bad.is_empty() {
            f.push(
                &format!("no_failures_in_tags.{tag}"),
                bad.len() as f64,
                0.0,
                bad.iter().take(WORST).map(|r| run_label(r, r.reason.as_deref().unwrap_or("no reason"))).collect(),
                format!("{} run(s) failed in scenarios tagged `{tag}`", bad.len()),
            );
        }
    }
    for tag in &policy.no_critical_failures_in_tags {
        let bad: Vec<(&Run, String)> = runs
            .iter()
            .filter(|r| r.tags.contains(tag))
            .filter_map(|r| critical_breach(r).map(|why| (r, why)))
            .collect();
        if !bad.is_empty() {
            f.push(
                &format!("no_critical_failures_in_tags.{tag}"),
                bad.len() as f64,
                0.0,
                bad.iter().take(WORST).map(|(r, why)| run_label(r, why)).collect(),
                format!("{} run(s) in scenarios tagged `{tag}` failed a critical criterion", bad.len()),
            );
        }
    }
    for (tag, min) in &policy.min_safety_pass_rate_by_tag {
        let tagged: Vec<&Run> = runs.iter().filter(|r| r.tags.contains(tag) && r.result.is_some()).collect();
        let unsafe_runs: Vec<(&Run, String)> =
            tagged.iter().filter_map(|r| critical_breach(r).map(|why| (*r, why))).collect();
        if tagged.is_empty() {
            continue;
        }
        let rate = 1.0 - unsafe_runs.len() as f64 / tagged.len() as f64;
        if rate < *min {
            let (shown, floor) = figures(rate, *min, 100.0);
            f.push(
                &format!("min_safety_pass_rate_by_tag.{tag}"),
                rate,
                *min,
                unsafe_runs.iter().take(WORST).map(|(r, why)| run_label(r, why)).collect(),
                format!(
                    "{shown} % of the runs tagged `{tag}` held every critical criterion, below {floor} % ({} breached one)",
                    unsafe_runs.len()
                ),
            );
        }
    }
    if policy.no_collisions {
        let hit: Vec<&Run> =
            runs.iter().filter(|r| r.result.as_ref().is_some_and(|x| !x.metrics.collisions.is_empty())).collect();
        if !hit.is_empty() {
            let worst = hit
                .iter()
                .take(WORST)
                .map(|r| {
                    let c = r.result.as_ref().and_then(|x| x.metrics.collisions.first());
                    run_label(
                        r,
                        &c.map_or_else(String::new, |c| format!("hit {} at {:.1} m/s", c.with, c.relative_speed)),
                    )
                })
                .collect();
            f.push("no_collisions", hit.len() as f64, 0.0, worst, format!("{} run(s) collided", hit.len()));
        }
    }
    for (module, budget) in &policy.latency_budget_us {
        match stats.latency.get(module) {
            Some(l) if l.p99 > *budget => {
                let mut slow: Vec<(&Run, f64)> =
                    runs.iter().filter_map(|r| Some((r, r.result.as_ref()?.cpu_latency.get(module)?.p99))).collect();
                slow.sort_by(|a, b| b.1.total_cmp(&a.1));
                f.push(
                    &format!("latency_budget_us.{module}"),
                    l.p99,
                    *budget,
                    slow.iter().take(WORST).map(|(r, p)| run_label(r, &format!("p99 {p:.0} µs"))).collect(),
                    format!("{module} p99 CPU time {:.0} µs exceeds the budget of {budget:.0} µs", l.p99),
                );
            }
            Some(_) => {}
            None if runs.iter().any(|r| r.result.is_some()) => f.push(
                &format!("latency_budget_us.{module}"),
                f64::NAN,
                *budget,
                Vec::new(),
                format!("{module}: no run measured its CPU time, so its budget cannot be checked"),
            ),
            None => {}
        }
    }
    if stats.deadline_miss_rate > policy.max_deadline_miss_rate {
        let mut missing: Vec<(&Run, u32)> =
            runs.iter().filter_map(|r| Some((r, r.result.as_ref()?.metrics.deadline_misses))).collect();
        missing.sort_by_key(|m| std::cmp::Reverse(m.1));
        f.push(
            "max_deadline_miss_rate",
            stats.deadline_miss_rate,
            policy.max_deadline_miss_rate,
            missing
                .iter()
                .filter(|(_, n)| *n > 0)
                .take(WORST)
                .map(|(r, n)| run_label(r, &format!("{n} misses")))
                .collect(),
            format!(
                "deadline-miss rate {:.2} % exceeds {:.2} %",
                stats.deadline_miss_rate * 100.0,
                policy.max_deadline_miss_rate * 100.0
            ),
        );
    }
    kpis(&policy.kpis, runs, &mut f);
    // A scenario that did not happen is no evidence: the gate cannot pass on it (ADR 0015).
    let inconclusive: Vec<&Run> = runs.iter().filter(|r| r.status == RunStatus::Inconclusive).collect();
    if !inconclusive.is_empty() {
        f.push(
            "inconclusive",
            inconclusive.len() as f64,
            0.0,
            inconclusive.iter().take(WORST).map(|r| run_label(r, r.reason.as_deref().unwrap_or("no reason"))).collect(),
            format!("{} run(s) inconclusive (the scenario did not happen)", inconclusive.len()),
        );
    }
    let errors = stats.counts.get(RunStatus::Error.as_str()).copied().unwrap_or(0);
    if errors > 0 && !policy.allow_errors {
        let bad = runs.iter().filter(|r| r.status == RunStatus::Error);
        f.push(
            "allow_errors",
            errors as f64,
            0.0,
            bad.take(WORST).map(|r| run_label(r, r.reason.as_deref().unwrap_or("no reason"))).collect(),
            format!("{errors} run(s) ended in error (infrastructure): the result is incomplete"),
        );
    }
    let findings = f.0;
    Gate {
        verdict: if findings.is_empty() { GateVerdict::Pass } else { GateVerdict::Fail },
        reasons: findings.iter().map(|f| f.message.clone()).collect(),
        findings,
    }
}

/// `value` and `limit` times `scale` for a reason: one decimal, or as many more (up to four) as it
/// takes for a value that broke its limit not to read as the limit itself ("98.0 % is below 98.0 %"
/// for 97.98 %).
fn figures(value: f64, limit: f64, scale: f64) -> (String, String) {
    let (v, l) = (value * scale, limit * scale);
    let mut decimals = 1;
    while decimals < 4 && format!("{v:.decimals$}") == format!("{l:.decimals$}") {
        decimals += 1;
    }
    (format!("{v:.decimals$}"), format!("{l:.1}"))
}

/// How many offenders a finding names.
const WORST: usize = 5;

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, rule: &str, measured: f64, limit: f64, worst: Vec<String>, what: String) {
        let message = if worst.is_empty() {
            format!("{rule}: {what}")
        } else {
            format!("{rule}: {what}; worst: {}", worst.join(", "))
        };
        self.0.push(Finding { rule: rule.to_owned(), measured, limit, worst, message });
    }
}

/// "scenario (variant 1a2b3c4d: detail)".
fn run_label(r: &Run, detail: &str) -> String {
    let key = r.variant_key.as_str();
    let short = &key[..key.len().min(8)];
    if detail.is_empty() {
        format!("{} (variant {short})", r.scenario_id)
    } else {
        format!("{} (variant {short}: {detail})", r.scenario_id)
    }
}

/// The scenarios with the most finished runs that did not pass, worst first: "s3 (2 of 29 not passed)".
fn worst_scenarios<'a>(runs: impl Iterator<Item = &'a Run>) -> Vec<String> {
    let mut by: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in runs.filter(|r| r.status.is_finished()) {
        let e = by.entry(r.scenario_id.as_str()).or_default();
        e.0 += 1;
        e.1 += usize::from(r.status != RunStatus::Passed);
    }
    let mut v: Vec<(&str, (usize, usize))> = by.into_iter().filter(|(_, (_, bad))| *bad > 0).collect();
    v.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(b.0)));
    v.into_iter().take(WORST).map(|(s, (n, bad))| format!("{s} ({bad} of {n} not passed)")).collect()
}

fn worst_flips<'a>(flips: impl IntoIterator<Item = &'a Flip>) -> Vec<String> {
    flips
        .into_iter()
        .take(WORST)
        .map(|f| {
            let short = &f.variant_key[..f.variant_key.len().min(8)];
            format!("{} (variant {short})", f.scenario)
        })
        .collect()
}

/// The first failed criterion of severity `critical` (a collision always counts), if any.
fn critical_breach(r: &Run) -> Option<String> {
    let result = r.result.as_ref()?;
    if let Some(c) = result.metrics.collisions.first() {
        return Some(format!("collided with {} at {:.1} m/s", c.with, c.relative_speed));
    }
    result.criteria.iter().find(|c| !c.passed && c.severity == Criticality::Critical).map(|c| c.message.clone())
}

/// How many of a KPI's events one run had.
type KpiCount = Box<dyn Fn(&super::report::RunRecord) -> f64>;

/// The KPI limits, per simulated hour over every finished run with a result.
fn kpis(limits: &KpiLimits, runs: &[Run], f: &mut Findings) {
    let with_result: Vec<(&Run, &super::report::RunRecord)> =
        runs.iter().filter_map(|r| r.result.as_ref().map(|x| (r, x))).collect();
    let hours: f64 = with_result.iter().map(|(_, x)| x.sim_s).sum::<f64>() / 3600.0;
    if hours <= 0.0 {
        return;
    }
    let ttc = limits.near_miss_ttc_s;
    let kinds: [(&str, Option<f64>, &str, KpiCount); 3] = [
        (
            "kpis.max_guardrail_activations_per_hour",
            limits.max_guardrail_activations_per_hour,
            "guardrail activations",
            Box::new(|x| x.metrics.guardrail_activations.values().map(|n| f64::from(*n)).sum()),
        ),
        (
            "kpis.max_fallback_engagements_per_hour",
            limits.max_fallback_engagements_per_hour,
            "fallback engagements",
            Box::new(|x| f64::from(x.metrics.fallback_engagements)),
        ),
        (
            "kpis.max_near_misses_per_hour",
            limits.max_near_misses_per_hour,
            "near misses",
            Box::new(move |x| {
                let close = x.metrics.min_ttc.as_ref().is_some_and(|m| m.value < ttc);
                f64::from(u8::from(close && x.metrics.collisions.is_empty()))
            }),
        ),
    ];
    for (rule, limit, what, count) in kinds {
        let Some(limit) = limit else { continue };
        let mut per_run: Vec<(&Run, f64)> = with_result.iter().map(|(r, x)| (*r, count(x))).collect();
        let rate = per_run.iter().map(|(_, n)| n).sum::<f64>() / hours;
        if rate > limit {
            per_run.sort_by(|a, b| b.1.total_cmp(&a.1));
            let worst = per_run
                .iter()
                .filter(|(_, n)| *n > 0.0)
                .take(WORST)
                .map(|(r, n)| run_label(r, &format!("{n:.0}")))
                .collect();
            let (shown, max) = figures(rate, limit, 1.0);
            f.push(
                rule,
                rate,
                limit,
                worst,
                format!("{shown} {what} per simulated hour exceed {max} (over {hours:.2} h)"),
            );
        }
    }
}
