//! `farm run` as CI uses it: exit codes, the JSON report, JUnit XML valid against the xUnit schema,
//! traces of failing runs, and `--variant` reproducing one run bit for bit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn farm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_farm")).args(args).current_dir(root()).output().unwrap()
}

/// Validates with the `xmlschema` package (`pip install xmlschema`; .ci/run installs it) against the
/// xUnit schema in `../shared/schemas/` (beside the checkout, as in CI).
fn validate_junit(xml: &Path) {
    let xsd = root().join("../shared/schemas/junit-10.xsd");
    assert!(
        xsd.is_file(),
        "the JUnit schema {} is missing: the checkout needs shared/ beside it (as in CI)",
        xsd.display()
    );
    let out = Command::new("python3")
        .args(["-c", "import sys, xmlschema; xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])"])
        .arg(&xsd)
        .arg(xml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "JUnit XML invalid against {}:\n{}",
        xsd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_run_writes_json_junit_and_traces_and_its_exit_code_says_whether_all_passed() {
    let dir = tempfile::tempdir().unwrap();
    let (json, junit, traces) = (dir.path().join("r.json"), dir.path().join("j.xml"), dir.path().join("traces"));
    let out = farm(&[
        "run",
        "--scenario",
        "highway.cut_in",
        "--jobs",
        "2",
        "--json",
        json.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--trace-dir",
        traces.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let records: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(records.len(), 24);
    for r in &records {
        for field in
            ["key", "scenario", "params", "verdict", "criteria", "metrics", "latency", "sim_s", "wall_s", "digest"]
        {
            assert!(!r[field].is_null(), "{field} missing");
        }
        assert_eq!(r["digest"].as_str().unwrap().len(), 64);
    }
    let not_passed: Vec<&serde_json::Value> = records.iter().filter(|r| r["verdict"] != "passed").collect();
    assert_eq!(out.status.code(), Some(if not_passed.is_empty() { 0 } else { 1 }), "{stdout}");
    assert!(stdout.contains("By scenario:") && stdout.contains("By tag:"), "{stdout}");
    assert!(stdout.contains("24 runs:"), "{stdout}");
    validate_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 24);
    assert_eq!(
        xml.matches("<failure ").count(),
        records
            .iter()
            .filter(|r| ["failed", "timeout", "inconclusive"].contains(&r["verdict"].as_str().unwrap()))
            .count()
    );
    for r in not_passed {
        let key = r["key"].as_str().unwrap();
        let trace: serde_json::Value =
            serde_json::from_slice(&std::fs::read(traces.join(format!("{key}.json"))).unwrap()).unwrap();
        assert_eq!(trace["variant"], key);
        assert!(traces.join(format!("{key}.trace")).exists());
    }
}

#[test]
fn variant_reproduces_one_run_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.json");
    farm(&["run", "--scenario", "highway.cut_in", "--jobs", "2", "--json", all.to_str().unwrap()]);
    let records: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(&all).unwrap()).unwrap();
    let pick = &records[17];
    let one = dir.path().join("one.json");
    farm(&["run", "--variant", pick["key"].as_str().unwrap(), "--json", one.to_str().unwrap()]);
    let again: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(&one).unwrap()).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["digest"], pick["digest"]);
    // Everything but the wall-clock-measured deadline misses is identical.
    let strip = |m: &serde_json::Value| {
        let mut m = m.clone();
        m.as_object_mut().unwrap().remove("deadline_misses");
        m
    };
    assert_eq!(strip(&again[0]["metrics"]), strip(&pick["metrics"]));
}

#[test]
fn a_bad_stack_config_or_an_unknown_variant_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.yaml");
    std::fs::write(&cfg, "safety:\n  aeb_enabled: false\n  aeb_tcc: 2\n").unwrap();
    let out = farm(&["run", "--scenario", "highway.cut_in", "--stack-config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`safety.aeb_tcc`: ") && err.contains("unknown field `aeb_tcc`"), "{err}");
    let out = farm(&["run", "--variant", "00000000000000000000000000000000"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("variant 00000000000000000000000000000000 is in none of the selected scenarios"), "{err}");
    // An unknown scenario id or tag is named, with the nearest one, never silently ignored.
    let out = farm(&["run", "--scenario", "highway.cut_inn"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown scenario `highway.cut_inn`; did you mean `highway.cut_in`?"), "{err}");
    let out = farm(&["bench", "--tag", "smoek"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown tag `smoek`: no scenario carries it; did you mean `smoke`?"), "{err}");
}

#[test]
fn junit_keeps_failures_and_errors_apart_and_validates() {
    use sim_core::Verdict;
    let record = |verdict: Verdict, reason: Option<&str>| server::domain::report::RunRecord {
        key: "0123456789abcdef0123456789abcdef".into(),
        scenario: "demo.<scenario> & \"quotes\"".into(),
        index: 0,
        tags: vec![],
        params: [("gap".to_owned(), 8.0)].into(),
        seed: 1,
        cell: None,
        verdict,
        reason: reason.map(str::to_owned),
        criteria: vec![],
        events: vec![],
        score: None,
        metrics: Default::default(),
        latency: Default::default(),
        cpu_latency: Default::default(),
        sim_s: 1.0,
        wall_s: 0.01,
        digest: "d".into(),
    };
    let records = vec![
        record(Verdict::Passed, None),
        record(Verdict::Failed, Some("no_collision: collision with lead")),
        record(Verdict::Error, Some("the stack panicked\u{1}")),
        record(Verdict::Timeout, Some("goal not reached")),
    ];
    let xml = server::domain::junit::render("farm", &records);
    assert!(xml.contains(r#"tests="4" failures="2" errors="1""#), "{xml}");
    assert!(xml.contains(r#"<error type="simulation" message="the stack panicked ">"#), "{xml}");
    assert!(xml.contains(r#"<failure type="timeout" message="goal not reached">"#), "{xml}");
    assert!(xml.contains("demo.&lt;scenario&gt; &amp; &quot;quotes&quot;"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.xml");
    std::fs::write(&path, xml).unwrap();
    validate_junit(&path);
}

/// A catalog of `test.minimal` (passes) and `test.late` (cannot reach its goal in time), with
/// `known` as its known_failures.yaml.
fn catalog_with_known_failures(dir: &Path, known: &str) -> PathBuf {
    let catalog = crate::common::minimal_and_late_catalog(dir);
    std::fs::write(catalog.join("known_failures.yaml"), known).unwrap();
    catalog
}

#[test]
fn a_declared_known_failure_is_reported_apart_and_does_not_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let known = "known_failures:\n  - scenario: test.late\n    reason: the goal is 40 m away and 1 s is too short\n    owner: planning-team\n";
    let catalog = catalog_with_known_failures(dir.path(), known);
    let out = farm(&["run", catalog.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("1 known failure(s), accepted in "), "{stdout}");
    assert!(
        stdout.contains("     1  test.late: the goal is 40 m away and 1 s is too short (owner: planning-team)"),
        "{stdout}"
    );
    assert!(stdout.contains("0 unexpected failure(s), 1 known, 0 known now passing"), "{stdout}");
    // --strict counts it: exit 1.
    let strict = farm(&["run", catalog.to_str().unwrap(), "--strict"]);
    assert_eq!(strict.status.code(), Some(1), "{}", String::from_utf8_lossy(&strict.stdout));
    assert!(String::from_utf8_lossy(&strict.stdout).contains("1 unexpected failure(s), 0 known"));

    // Declaring a passing scenario: reported as now passing (remove it), and the run still exits 0
    // only if nothing else failed.
    let known = "known_failures:\n  - scenario: test.minimal\n    reason: flaky once\n    owner: qa\n";
    let catalog = catalog_with_known_failures(&dir.path().join("b"), known);
    let out = farm(&["run", catalog.to_str().unwrap(), "--scenario", "test.minimal"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 run(s) declared as known failures now pass; remove them from "), "{stdout}");
    assert!(stdout.contains("0 unexpected failure(s), 0 known, 1 known now passing"), "{stdout}");

    // A misspelt scenario id is refused with its place and a suggestion, before anything runs.
    let known = "known_failures:\n  - scenario: test.lat\n    reason: r\n    owner: o\n";
    let catalog = catalog_with_known_failures(&dir.path().join("c"), known);
    let out = farm(&["run", catalog.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("known_failures.yaml:2:15: unknown scenario `test.lat`; did you mean `test.late`?"),
        "{stderr}"
    );
}

#[test]
fn a_run_prints_its_gate_and_its_comparison_with_an_earlier_report() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog_with_known_failures(dir.path(), "known_failures: []\n");
    std::fs::write(catalog.join("gate.yaml"), "min_pass_rate: 1.0\nno_failures_in_tags: []\n").unwrap();
    // The baseline: only test.minimal, which passes.
    let base = dir.path().join("base.json");
    let out = farm(&["run", catalog.to_str().unwrap(), "--scenario", "test.minimal", "--json", base.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(&format!("gate ({}): pass", catalog.join("gate.yaml").display())), "{stdout}");
    // The candidate: both scenarios, against that report. test.late is new (no pair), fails the floor.
    let out = farm(&["run", catalog.to_str().unwrap(), "--baseline", base.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("against {}: 1 paired, 0 regressions, 0 fixes, McNemar p = 1.0000", base.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("  - min_pass_rate: pass rate 50.0 % is below 100.0 %; worst: test.late (1 of 1 not passed)"),
        "{stdout}"
    );
    // A baseline that is not a report is refused, naming it.
    std::fs::write(dir.path().join("bad.json"), "{}").unwrap();
    let out = farm(&["run", catalog.to_str().unwrap(), "--baseline", dir.path().join("bad.json").to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.json is not a `farm run --json` report"));
}

#[test]
fn a_scored_protocol_reports_points_per_run_scenario_and_suite_and_the_weak_stack_earns_fewer() {
    let dir = tempfile::tempdir().unwrap();
    let points = |stack: &str| -> (f64, String) {
        let (json, junit) = (dir.path().join(format!("{stack}.json")), dir.path().join(format!("{stack}.xml")));
        let config = format!("catalog/stacks/{stack}.yaml");
        let out = farm(&[
            "run",
            "catalog/protocols/ncap_ccrs.yaml",
            "--stack-config",
            &config,
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let records: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let earned: f64 = records.iter().map(|r| r["score"]["points"].as_f64().unwrap()).sum();
        let max: f64 = records.iter().map(|r| r["score"]["max"].as_f64().unwrap()).sum();
        assert_eq!(max, records.len() as f64, "one point per variant");
        assert!(stdout.contains("Scores:"), "{stdout}");
        let suite = format!("{earned:.2}/{max:<7.2} suite");
        assert!(stdout.contains(&suite), "`{suite}` in {stdout}");
        validate_junit(&junit);
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(xml.contains(&format!("<property name=\"score\" value=\"{earned:.3}\"/>")), "{xml}");
        (earned, stdout)
    };
    let (default, _) = points("default");
    let (weak, stdout) = points("weak");
    assert!(weak < default, "weak {weak} vs default {default}:\n{stdout}");
}
