//! The release gate as `catalog/gate.yaml` states it: a candidate that breaks exactly one rule of the
//! committed policy fails for that rule's reason, and a policy naming a tag no scenario carries or a
//! module the stack does not have is refused when it loads, with its line and column.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use server::domain::compare::compare;
use server::domain::gate::{evaluate, Context, GatePolicy, GateVerdict};
use server::domain::ids::{CandidateId, RunId};
use server::domain::report::RunRecord;
use server::domain::run::{Run, RunStatus};
use server::domain::stats;
use sim_core::latency::LatencySummary;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The committed policy, loaded and checked the way `farm serve` does it.
fn policy() -> GatePolicy {
    let catalog = server::infra::catalog_files::load_index(&[root().join("catalog")], None).unwrap();
    server::infra::config_files::load_gate_policy(&root().join("catalog/gate.yaml"), &catalog.tags()).unwrap()
}

/// One run: `tags`, `status`, planning and perception p99 (µs) and deadline misses of 1000 cycles.
fn run(i: usize, tags: &[&str], status: RunStatus, planning_p99: f64, perception_p99: f64, misses: u32) -> Run {
    let latency =
        |p99: f64| LatencySummary { p50: p99 / 2.0, p95: p99, p99, max: p99, count: 1000, total: p99 * 500.0 };
    let key = scenario_dsl::VariantKey::parse(&format!("{i:032x}")).unwrap();
    let result = status.verdict().filter(|_| status != RunStatus::Error).map(|verdict| RunRecord {
        key: key.to_string(),
        scenario: format!("s{}", i % 7),
        index: i,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        params: BTreeMap::new(),
        seed: 0,
        cell: None,
        verdict,
        reason: None,
        criteria: Vec::new(),
        events: Vec::new(),
        score: None,
        metrics: sim_core::oracle::Metrics { deadline_misses: misses, ..Default::default() },
        latency: [("planning".to_owned(), latency(planning_p99)), ("perception".to_owned(), latency(perception_p99))]
            .into(),
        sim_s: 10.0,
        wall_s: 0.01,
        digest: "d".into(),
    });
    Run {
        id: RunId::random(),
        candidate_id: CandidateId::random(),
        variant_key: key,
        scenario_id: format!("s{}", i % 7),
        content_hash: "h".into(),
        ord: i as i64,
        tags: tags.iter().copied().collect(),
        status,
        attempt: 0,
        digest: Some("d".into()),
        reason: (status != RunStatus::Passed).then(|| "min_ttc: too close".to_owned()),
        result,
        cell: Default::default(),
    }
}

/// 200 passing runs: 10 smoke, 10 critical, 180 highway; latency within budget, no deadline miss.
fn green() -> Vec<Run> {
    (0..200)
        .map(|i| {
            let tags: &[&str] = match i {
                0..10 => &["smoke", "highway"],
                10..20 => &["critical", "urban"],
                _ => &["highway"],
            };
            run(i, tags, RunStatus::Passed, 1500.0, 600.0, 0)
        })
        .collect()
}

fn reasons(policy: &GatePolicy, runs: &[Run], baseline: Option<&[Run]>) -> Vec<String> {
    let stats = stats::compute(runs);
    let comparison = baseline.map(|b| compare(("cand", runs), ("base", "rc0", b), policy.significance_level));
    let gate = evaluate(policy, &stats, runs, Context { comparison: comparison.as_ref(), coverage: None });
    assert_eq!(gate.verdict == GateVerdict::Pass, gate.reasons.is_empty());
    gate.reasons
}

/// `green()` with `change` applied to the runs at `positions`.
fn with(positions: impl IntoIterator<Item = usize>, change: impl Fn(&Run) -> Run) -> Vec<Run> {
    let mut runs = green();
    for i in positions {
        runs[i] = change(&runs[i]);
    }
    runs
}

fn status(r: &Run, s: RunStatus) -> Run {
    let tags: Vec<&str> = r.tags.iter().collect();
    run(r.ord as usize, &tags, s, 1500.0, 600.0, 0)
}

#[test]
fn each_rule_of_the_committed_policy_fails_the_gate_for_its_own_reason() {
    let p = policy();
    let green = green();
    assert!(reasons(&p, &green, Some(&green)).is_empty(), "the green candidate passes");

    let one = |runs: Vec<Run>, baseline: Option<&[Run]>, expected: &str| {
        let r = reasons(&p, &runs, baseline);
        assert_eq!(r.len(), 1, "expected only `{expected}`, got {r:?}");
        assert!(r[0].starts_with(expected), "expected `{expected}`, got {r:?}");
    };
    // min_pass_rate: 0.95 (11 of 200 fail, none tagged smoke or critical).
    one(with(20..31, |r| status(r, RunStatus::Failed)), None, "pass rate 94.5 % is below 95.0 %");
    // min_pass_rate_by_tag: smoke 1.0.
    one(with([3], |r| status(r, RunStatus::Timeout)), None, "pass rate of tag `smoke` 90.0 % is below 100.0 %");
    // no_failures_in_tags: [critical].
    one(with([12], |r| status(r, RunStatus::Failed)), None, "1 run(s) failed in scenarios tagged `critical`, e.g. s5");
    // latency_budget_us: planning 2000 (the 99th percentile of 200 runs' p99s: three slow runs).
    one(
        with(40..43, |r| run(r.ord as usize, &["highway"], RunStatus::Passed, 2600.0, 600.0, 0)),
        None,
        "planning p99 latency 2600 µs exceeds the budget of 2000 µs",
    );
    // latency_budget_us: perception 1000.
    one(
        with(40..43, |r| run(r.ord as usize, &["highway"], RunStatus::Passed, 1500.0, 1300.0, 0)),
        None,
        "perception p99 latency 1300 µs exceeds the budget of 1000 µs",
    );
    // max_deadline_miss_rate: 0.01 (2,400 misses in 200,000 planning cycles).
    one(
        with([50], |r| run(r.ord as usize, &["highway"], RunStatus::Passed, 1500.0, 600.0, 2400)),
        None,
        "deadline-miss rate 1.20 % exceeds 1.00 %",
    );
    // allow_errors: false.
    one(with([60], |r| status(r, RunStatus::Error)), None, "1 run(s) ended in error (infrastructure)");
    // no_significant_regression with significance_level 0.05: 6 regressions, no fix (p = 0.031),
    // while the pass rate (97 %) stays above its floor.
    one(
        with(100..106, |r| status(r, RunStatus::Failed)),
        Some(&green),
        "significant regression against rc0: 6 regressions, 0 fixes (McNemar p = 0.0313 < 0.05)",
    );
    // no_new_failures_in_tags: [critical]: a critical run that passed on the baseline fails now (it
    // also breaks no_failures_in_tags, which the policy holds too).
    let r = reasons(&p, &with([15], |r| status(r, RunStatus::Failed)), Some(&green));
    assert!(r.iter().any(|x| x.starts_with("1 new failure(s) in scenarios tagged `critical` against rc0")), "{r:?}");
    assert_eq!(r.len(), 2, "{r:?}");
}

#[test]
fn a_policy_naming_an_unknown_tag_module_or_key_is_refused_where_it_says_so() {
    let tags: BTreeSet<String> = ["critical", "smoke", "highway"].map(str::to_owned).into();
    let check = |text: &str| {
        let p = GatePolicy::parse("gate.yaml", text)?;
        p.check("gate.yaml", text, &tags)
    };
    let e = check("min_pass_rate: 0.9\nno_failures_in_tags: [critcal]\n").unwrap_err().to_string();
    assert_eq!(
        e,
        "gate.yaml:2:23: `no_failures_in_tags`: no scenario carries the tag `critcal`; did you mean `critical`?"
    );
    let e = check("min_pass_rate: 0.9\nlatency_budget_us:\n  planing: 2000\n").unwrap_err().to_string();
    assert!(
        e.starts_with("gate.yaml:3:3: `latency_budget_us`: unknown module `planing`")
            && e.ends_with("did you mean `planning`?"),
        "{e}"
    );
    let e = check("min_pass_rate: 0.9\nmin_pass_rate_by_tag: { smoke: 1.5 }\n").unwrap_err().to_string();
    assert!(e.contains("`min_pass_rate_by_tag` must be within 0..1, not 1.5"), "{e}");
    let e = check("min_pass_rat: 0.9\n").unwrap_err().to_string();
    assert!(e.starts_with("gate.yaml:1:1: unknown field `min_pass_rat`"), "{e}");
    // Through the file loader: the file's name and the place.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gate.yaml");
    std::fs::write(&path, "min_pass_rate: 0.95\nmin_pass_rate_by_tag:\n  smok: 1.0\n").unwrap();
    let e = server::infra::config_files::load_gate_policy(&path, &tags).unwrap_err().to_string();
    assert!(e.contains("gate.yaml:3:3: `min_pass_rate_by_tag`: no scenario carries the tag `smok`"), "{e}");
}

#[test]
fn an_inconclusive_run_is_never_a_pass_and_fails_the_gate_for_its_own_reason() {
    let p = policy();
    let runs = with([70], |r| {
        let mut x = status(r, RunStatus::Inconclusive);
        x.reason =
            Some("the scenario did not happen: `ped` step 1 (cross_road when ttc) never fired by t=20.00 s".into());
        x
    });
    let stats = stats::compute(&runs);
    assert_eq!(stats.counts.get("inconclusive"), Some(&1));
    let r = reasons(&p, &runs, None);
    assert_eq!(
        r,
        ["1 run(s) inconclusive (the scenario did not happen), first s0: the scenario did not happen: `ped` step 1 (cross_road when ttc) never fired by t=20.00 s"]
    );
    let xml = server::domain::junit::render_runs("rc", &runs);
    assert!(xml.contains("<failure type=\"inconclusive\" message=\"the scenario did not happen"), "{xml}");
    assert!(xml.contains("failures=\"1\""), "{xml}");
}
