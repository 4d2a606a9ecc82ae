//! Comparing a candidate with its baseline: runs paired by variant key, flips (regressions and
//! fixes), pass rates with Wilson intervals overall and per tag, the exact McNemar test on the
//! flips, and per-scenario deltas of the key metrics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::run::{Run, RunStatus};
use super::significance::{mcnemar, wilson, Rate};

/// One variant whose verdict changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Flip {
    /// Variant key.
    pub variant_key: String,
    /// Scenario id.
    pub scenario: String,
    /// Status on the baseline.
    pub baseline: String,
    /// Status now.
    pub candidate: String,
    /// Why it does not pass now (regressions) or did not before (fixes).
    pub reason: Option<String>,
}

/// Pass rates and flips of one group (everything, or one tag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupComparison {
    /// Candidate's pass rate over the paired runs.
    pub candidate: Rate,
    /// Baseline's pass rate over the paired runs.
    pub baseline: Rate,
    /// Passed on the baseline, not now.
    pub regressions: u64,
    /// Failed on the baseline, passes now.
    pub fixes: u64,
    /// Exact McNemar p-value on the flips.
    pub p_value: f64,
    /// More regressions than fixes and p below the level.
    pub significant_regression: bool,
}

/// Mean of a metric on both sides, over the pairs where both have it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MetricDelta {
    /// Baseline mean.
    pub baseline: f64,
    /// Candidate mean.
    pub candidate: f64,
    /// candidate - baseline.
    pub delta: f64,
    /// Pairs that had the metric.
    pub pairs: u64,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Comparison {
    /// Candidate id.
    pub candidate_id: String,
    /// Baseline id.
    pub baseline_id: String,
    /// Baseline name.
    pub baseline_name: String,
    /// Significance level of the paired test.
    pub level: f64,
    /// Variants finished on both sides.
    pub paired: u64,
    /// Variants only the candidate ran.
    pub new_variants: u64,
    /// Variants only the baseline ran.
    pub dropped_variants: u64,
    /// Failing on both.
    pub still_failing: u64,
    /// Overall.
    pub overall: GroupComparison,
    /// Per tag.
    pub by_tag: BTreeMap<String, GroupComparison>,
    /// Regressions, in queue order.
    pub regressions: Vec<Flip>,
    /// Fixes, in queue order.
    pub fixes: Vec<Flip>,
    /// Failing on both sides, in queue order (the reason is the candidate's).
    #[serde(default)]
    pub still_failing_runs: Vec<Flip>,
    /// Variants only the candidate ran that did not pass, in queue order (baseline: `none`).
    #[serde(default)]
    pub new_failures: Vec<Flip>,
    /// Per scenario, per metric.
    pub metric_deltas: BTreeMap<String, BTreeMap<String, MetricDelta>>,
}

/// The metrics a comparison follows, from a run's stored result.
fn metrics_of(r: &Run) -> BTreeMap<&'static str, f64> {
    let mut out = BTreeMap::new();
    let Some(result) = &r.result else { return out };
    let m = &result.metrics;
    if let Some(x) = &m.min_ttc {
        out.insert("min_ttc", x.value);
    }
    out.insert("max_decel", m.max_decel);
    if let Some(x) = m.time_to_goal {
        out.insert("time_to_goal", x);
    }
    out.insert("guardrail_activations", m.guardrail_activations.values().map(|n| f64::from(*n)).sum());
    if let Some(l) = result.cpu_latency.get("planning") {
        out.insert("planning_p99_us", l.p99);
    }
    out
}

fn passed(r: &Run) -> bool {
    r.status == RunStatus::Passed
}

fn group(pairs: &[(&Run, &Run)], level: f64) -> GroupComparison {
    let n = pairs.len() as u64;
    let now = pairs.iter().filter(|(c, _)| passed(c)).count() as u64;
    let then = pairs.iter().filter(|(_, b)| passed(b)).count() as u64;
    let regressions = pairs.iter().filter(|(c, b)| passed(b) && !passed(c)).count() as u64;
    let fixes = pairs.iter().filter(|(c, b)| !passed(b) && passed(c)).count() as u64;
    let p_value = mcnemar(regressions, fixes);
    GroupComparison {
        candidate: wilson(now, n),
        baseline: wilson(then, n),
        regressions,
        fixes,
        p_value,
        significant_regression: regressions > fixes && p_value < level,
    }
}

/// Compares a candidate's runs with its baseline's at significance `level`.
pub fn compare(candidate: (&str, &[Run]), baseline: (&str, &str, &[Run]), level: f64) -> Comparison {
    let base: BTreeMap<&str, &Run> =
        baseline.2.iter().filter(|r| r.status.is_finished()).map(|r| (r.variant_key.as_str(), r)).collect();
    let mine: Vec<&Run> = candidate.1.iter().filter(|r| r.status.is_finished()).collect();
    let pairs: Vec<(&Run, &Run)> =
        mine.iter().filter_map(|c| base.get(c.variant_key.as_str()).map(|b| (*c, *b))).collect();
    let mine_keys: std::collections::BTreeSet<&str> = mine.iter().map(|r| r.variant_key.as_str()).collect();
    let flip = |c: &Run, b: &Run, reason: Option<String>| Flip {
        variant_key: c.variant_key.to_string(),
        scenario: c.scenario_id.clone(),
        baseline: b.status.as_str().to_owned(),
        candidate: c.status.as_str().to_owned(),
        reason,
    };
    let regressions =
        pairs.iter().filter(|(c, b)| passed(b) && !passed(c)).map(|(c, b)| flip(c, b, c.reason.clone())).collect();
    let fixes =
        pairs.iter().filter(|(c, b)| !passed(b) && passed(c)).map(|(c, b)| flip(c, b, b.reason.clone())).collect();
    let still_failing_runs =
        pairs.iter().filter(|(c, b)| !passed(b) && !passed(c)).map(|(c, b)| flip(c, b, c.reason.clone())).collect();
    let new_failures = mine
        .iter()
        .filter(|r| !passed(r) && !base.contains_key(r.variant_key.as_str()))
        .map(|c| Flip {
            variant_key: c.variant_key.to_string(),
            scenario: c.scenario_id.clone(),
            baseline: "none".into(),
            candidate: c.status.as_str().to_owned(),
            reason: c.reason.clone(),
        })
        .collect();
    let mut tags: BTreeMap<String, Vec<(&Run, &Run)>> = BTreeMap::new();
    for p in &pairs {
        for t in p.0.tags.iter() {
            tags.entry(t.to_owned()).or_default().push(*p);
        }
    }
    let mut sums: BTreeMap<String, BTreeMap<&'static str, (f64, f64, u64)>> = BTreeMap::new();
    for (c, b) in &pairs {
        let (mc, mb) = (metrics_of(c), metrics_of(b));
        for (k, vc) in &mc {
            if let Some(vb) = mb.get(k) {
                let e = sums.entry(c.scenario_id.clone()).or_default().entry(k).or_insert((0.0, 0.0, 0));
                e.0 += vb;
                e.1 += vc;
                e.2 += 1;
            }
        }
    }
    let metric_deltas = sums
        .into_iter()
        .map(|(s, m)| {
            let m = m
                .into_iter()
                .map(|(k, (b, c, n))| {
                    let (b, c) = (b / n as f64, c / n as f64);
                    (k.to_owned(), MetricDelta { baseline: b, candidate: c, delta: c - b, pairs: n })
                })
                .collect();
            (s, m)
        })
        .collect();
    Comparison {
        candidate_id: candidate.0.to_owned(),
        baseline_id: baseline.0.to_owned(),
        baseline_name: baseline.1.to_owned(),
        level,
        paired: pairs.len() as u64,
        new_variants: mine.iter().filter(|r| !base.contains_key(r.variant_key.as_str())).count() as u64,
        dropped_variants: base.keys().filter(|k| !mine_keys.contains(*k)).count() as u64,
        still_failing: pairs.iter().filter(|(c, b)| !passed(b) && !passed(c)).count() as u64,
        overall: group(&pairs, level),
        by_tag: tags.into_iter().map(|(t, p)| (t, group(&p, level))).collect(),
        regressions,
        fixes,
        still_failing_runs,
        new_failures,
        metric_deltas,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: usize, status: &str, tags: &[&str]) -> Run {
        let status: RunStatus = status.parse().unwrap();
        let verdict = status.verdict();
        let variant_key = scenario_dsl::VariantKey::parse(&format!("{key:032x}")).unwrap();
        let reason = (status != RunStatus::Passed).then(|| format!("reason {key}"));
        let metrics = sim_core::oracle::Metrics {
            max_decel: if status == RunStatus::Passed { 3.0 } else { 8.0 },
            guardrail_activations: [("AebTtc".to_owned(), 1)].into(),
            ..Default::default()
        };
        Run {
            id: crate::domain::ids::RunId::random(),
            candidate_id: crate::domain::ids::CandidateId::random(),
            scenario_id: if key.is_multiple_of(2) { "even".into() } else { "odd".into() },
            content_hash: "h".into(),
            ord: key as i64,
            tags: tags.iter().copied().collect(),
            status,
            attempt: 0,
            digest: Some("d".into()),
            reason: reason.clone(),
            result: verdict.map(|verdict| crate::domain::report::RunRecord {
                reason,
                metrics,
                ..crate::domain::report::RunRecord::fixture(&variant_key, "s", key, verdict)
            }),
            variant_key,
            cell: Default::default(),
        }
    }

    #[test]
    fn a_synthetic_pair_with_known_flips() {
        // 100 paired variants: 10 regress, 2 get fixed, 3 fail on both, 85 pass on both; plus 5 new
        // variants in the candidate and 4 the candidate dropped.
        let mut base = Vec::new();
        let mut cand = Vec::new();
        for k in 0..100 {
            let (b, c) = match k {
                0..=9 => ("passed", "failed"),
                10..=11 => ("failed", "passed"),
                12..=14 => ("failed", "timeout"),
                _ => ("passed", "passed"),
            };
            let tags: &[&str] = if k < 50 { &["critical", "vru"] } else { &["major"] };
            base.push(row(k, b, tags));
            cand.push(row(k, c, tags));
        }
        cand.extend((100..105).map(|k| row(k, "passed", &[])));
        base.extend((200..204).map(|k| row(k, "passed", &[])));
        cand.push(row(300, "queued", &[]));
        let c = compare(("cand", &cand), ("base", "rc0", &base), 0.05);
        assert_eq!((c.paired, c.new_variants, c.dropped_variants, c.still_failing), (100, 5, 4, 3));
        assert_eq!((c.overall.regressions, c.overall.fixes), (10, 2));
        assert_eq!(c.regressions.len(), 10);
        assert_eq!(c.still_failing_runs.iter().map(|f| f.candidate.as_str()).collect::<Vec<_>>(), ["timeout"; 3]);
        assert!(c.new_failures.is_empty(), "the 5 new variants pass");
        assert_eq!(c.regressions[0].reason.as_deref(), Some("reason 0"));
        assert_eq!(
            c.fixes.iter().map(|f| f.variant_key.clone()).collect::<Vec<_>>(),
            [format!("{:032x}", 10), format!("{:032x}", 11)]
        );
        assert!((c.overall.p_value - 79.0 / 2048.0).abs() < 1e-12);
        assert!(c.overall.significant_regression);
        assert_eq!((c.overall.candidate.passed, c.overall.baseline.passed), (87, 95));
        // All flips are in the first 50 (critical): same test there; the major half has none.
        assert!(c.by_tag["critical"].significant_regression);
        assert_eq!((c.by_tag["major"].regressions, c.by_tag["major"].p_value), (0, 1.0));
        // At a stricter level the same drop is not significant.
        assert!(!compare(("cand", &cand), ("base", "rc0", &base), 0.01).overall.significant_regression);
        // Regressions decelerate harder: 8 vs 3 on 5 of the 50 even variants (0, 2, 4, 6, 8).
        let even = &c.metric_deltas["even"]["max_decel"];
        assert_eq!(even.pairs, 50);
        assert!((even.delta - 5.0 * 5.0 / 50.0 + 5.0 / 50.0).abs() < 1e-9, "{even:?}");
    }
}
