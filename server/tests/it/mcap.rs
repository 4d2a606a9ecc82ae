//! The MCAP export (`domain::mcap`): the same run gives the same bytes; a hand-made run gives exactly
//! the channels, schemas, messages and log lines expected (read back with the `mcap` crate); and
//! `farm run --trace-format mcap` files are read by the official Python reader with every message
//! valid against Foxglove's JSON Schemas (`mcap_validate.py`; `pip install mcap jsonschema`, which
//! .ci/run does: a missing package fails the test, naming it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use autonomy_stack::{Mode, Reason};
use scenario_dsl::model::Criticality;
use server::domain::mcap::{encode, topic, SCALAR_SCHEMA_NAME};
use server::domain::report::RunRecord;
use sim_core::oracle::{Collision, CriterionOutcome};
use sim_core::trace::{Trace, TraceActor, TraceTick};
use sim_core::Verdict;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

const MAGIC: &[u8] = b"\x89MCAP0\r\n";

/// Three ticks: an ego closing on a lead car, a pedestrian crossing, the mode going nominal ->
/// degraded -> fallback with AEB, a NaN acceleration on the last tick, a collision and a failure.
fn hand_made() -> (Trace, RunRecord) {
    let tick = |t: f64, x: f64, accel: f64, mode: Mode, events: Vec<Reason>| TraceTick {
        t,
        ego: [x, 0.0, 0.0, 10.0, accel, 0.01],
        command: [-2.0, 0.0],
        mode,
        events,
        actors: vec![[30.0, 0.0, 0.0, 5.0], [20.0, 5.0, -std::f64::consts::FRAC_PI_2, 1.0]],
        ttc: None,
        nearest: None,
    };
    let trace = Trace {
        variant: "0123456789abcdef0123456789abcdef".into(),
        dt: 0.02,
        ego_size: [4.5, 1.8],
        actors: vec![
            TraceActor { id: "lead".into(), kind: "car".into(), length: 4.0, width: 1.8 },
            TraceActor { id: "walker".into(), kind: "pedestrian".into(), length: 0.5, width: 0.5 },
        ],
        ticks: vec![
            tick(0.02, 0.0, 0.0, Mode::Nominal, vec![]),
            tick(0.04, 0.2, -1.0, Mode::Degraded, vec![Reason::AebTtc]),
            tick(0.06, 0.4, f64::NAN, Mode::Fallback, vec![Reason::AebTtc, Reason::EnvelopeClamp]),
        ],
        ..Default::default()
    };
    let criterion = |name: &str, passed: bool| CriterionOutcome {
        criterion: name.into(),
        severity: Criticality::Critical,
        passed,
        value: None,
        threshold: None,
        message: format!("{name} message"),
        decided_at: None,
    };
    let mut metrics = sim_core::oracle::Metrics::default();
    metrics.collisions.push(Collision {
        with: "lead".into(),
        time: 0.04,
        relative_speed: 3.5,
        ego_speed: 3.5,
        along_contact: 3.5,
    });
    let record = RunRecord {
        key: trace.variant.clone(),
        scenario: "demo.closing".into(),
        index: 0,
        tags: vec![],
        params: [("gap".to_owned(), 8.0)].into(),
        seed: 7,
        cell: None,
        verdict: Verdict::Failed,
        reason: Some("no_collision: collision with lead".into()),
        criteria: vec![criterion("min_ttc", true), criterion("no_collision", false)],
        events: vec![],
        score: None,
        metrics,
        latency: Default::default(),
        cpu_latency: Default::default(),
        sim_s: 0.06,
        wall_s: 0.001,
        digest: "d".into(),
    };
    (trace, record)
}

/// Every message as (topic, schema name, log time, JSON), in file order, read with the `mcap` crate.
fn read(bytes: &[u8]) -> Vec<(String, String, u64, Value)> {
    mcap::MessageStream::new(bytes)
        .unwrap()
        .map(|m| {
            let m = m.unwrap();
            assert_eq!(m.channel.message_encoding, "json");
            let schema = m.channel.schema.as_ref().expect("every channel has a schema");
            assert_eq!(schema.encoding, "jsonschema");
            assert_eq!(m.publish_time, m.log_time);
            (m.channel.topic.clone(), schema.name.clone(), m.log_time, serde_json::from_slice(&m.data).unwrap())
        })
        .collect()
}

#[test]
fn the_same_run_gives_the_same_bytes() {
    let (trace, record) = hand_made();
    let a = encode(&trace, Some(&record)).unwrap();
    let b = encode(&trace.clone(), Some(&record.clone())).unwrap();
    assert!(a == b, "two exports of one run differ");
    assert!(a.starts_with(MAGIC) && a.ends_with(MAGIC), "not an MCAP file");
    // And the bytes depend on the run: another tick moves the ego.
    let mut moved = trace.clone();
    moved.ticks[2].ego[0] = 0.5;
    assert!(encode(&moved, Some(&record)).unwrap() != a);
}

/// SHA-256 of the hand-made run's export. The bytes depend on nothing but the run (no clock, no
/// machine, no hash order), so they are pinned like the golden trace digests.
const GOLDEN: &str = "eeb8fa688d90afd868c68304651c31f4c6081165d535776b60af4c2cc6ce7e0e";

#[test]
fn the_export_is_pinned_by_a_golden_digest() {
    use sha2::Digest;
    let (trace, record) = hand_made();
    let digest = hex::encode(sha2::Sha256::digest(encode(&trace, Some(&record)).unwrap()));
    assert_eq!(
        digest, GOLDEN,
        "the MCAP export's bytes changed; if that is intended (a new field or topic, another mcap crate version), \
         set GOLDEN in server/tests/it/mcap.rs to the new digest and say why in the commit"
    );
}

#[test]
fn a_run_has_its_channels_schemas_and_every_message() {
    let (trace, record) = hand_made();
    let bytes = encode(&trace, Some(&record)).unwrap();
    let summary = mcap::Summary::read(&bytes).unwrap().expect("a summary section");
    let schemas: BTreeMap<u16, String> = summary.schemas.iter().map(|(id, s)| (*id, s.name.clone())).collect();
    assert_eq!(
        schemas.values().collect::<Vec<_>>(),
        ["foxglove.SceneUpdate", "foxglove.FrameTransform", "foxglove.Log", SCALAR_SCHEMA_NAME]
    );
    let mut channels: Vec<(String, String)> = summary
        .channels
        .values()
        .map(|c| (c.topic.clone(), c.schema.as_ref().map(|s| s.name.clone()).unwrap_or_default()))
        .collect();
    channels.sort();
    let mut expected: Vec<(String, String)> =
        [(topic::SCENE, "foxglove.SceneUpdate"), (topic::TF, "foxglove.FrameTransform"), (topic::LOG, "foxglove.Log")]
            .into_iter()
            .chain(topic::SCALARS.map(|t| (t, SCALAR_SCHEMA_NAME)))
            .map(|(t, s)| (t.to_owned(), s.to_owned()))
            .collect();
    expected.sort();
    assert_eq!(channels, expected);

    let messages = read(&bytes);
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for (topic, _, _, _) in &messages {
        *counts.entry(topic.as_str()).or_default() += 1;
    }
    // One scene, transform and sample per tick; the NaN acceleration is left out, not written as null.
    let per_tick = [topic::SCENE, topic::TF, topic::SPEED, topic::STEER, topic::MODE, topic::COMMAND_ACCEL];
    let mut want: BTreeMap<&str, u64> = per_tick.into_iter().map(|t| (t, 3)).collect();
    want.extend([(topic::COMMAND_STEER, 3), (topic::TTC, 3), (topic::DISTANCE, 3), (topic::ACCEL, 2), (topic::LOG, 9)]);
    assert_eq!(counts, want);
    let stats = summary.stats.unwrap();
    assert_eq!(stats.message_count, messages.len() as u64);
    assert_eq!((stats.message_start_time, stats.message_end_time), (20_000_000, 60_000_000));
    assert!(messages.windows(2).all(|w| w[0].2 <= w[1].2), "messages not in log-time order");

    // The log: start mode, changes, every guardrail activation, the collision at its time, the failed
    // criterion (not the passed one) and the verdict at the end.
    let log: Vec<(u64, u64, &str)> = messages
        .iter()
        .filter(|m| m.0 == topic::LOG)
        .map(|(_, _, t, v)| (*t / 1_000_000, v["level"].as_u64().unwrap(), v["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        log,
        [
            (20, 2, "mode nominal at start"),
            (40, 3, "mode nominal -> degraded"),
            (40, 3, "guardrail aeb_ttc"),
            (40, 4, "collision with lead at 3.50 m/s relative speed"),
            (60, 3, "mode degraded -> fallback"),
            (60, 3, "guardrail aeb_ttc"),
            (60, 3, "guardrail envelope_clamp"),
            (60, 4, "criterion no_collision (critical) failed: no_collision message"),
            (60, 4, "verdict failed: no_collision: collision with lead"),
        ]
    );

    // The first scene: the ego and each actor as an oriented box under its own id, sized by the
    // trace and by kind, standing on the ground.
    let scene = &messages.iter().find(|m| m.0 == topic::SCENE).unwrap().3;
    let entities = scene["entities"].as_array().unwrap();
    let ids: Vec<&str> = entities.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["ego", "lead", "walker"]);
    let cube = |i: usize| &entities[i]["cubes"][0];
    assert_eq!(cube(0)["size"], serde_json::json!({"x": 4.5, "y": 1.8, "z": 1.5}));
    assert_eq!(cube(0)["pose"]["position"], serde_json::json!({"x": 0.0, "y": 0.0, "z": 0.75}));
    assert_eq!(cube(1)["size"], serde_json::json!({"x": 4.0, "y": 1.8, "z": 1.5}));
    assert_eq!(cube(2)["size"], serde_json::json!({"x": 0.5, "y": 0.5, "z": 1.8}));
    let q = &cube(2)["pose"]["orientation"];
    assert!((q["z"].as_f64().unwrap() + std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12, "{q}");
    assert_eq!(entities[2]["texts"][0]["text"], "walker");
    assert_eq!(entities[0]["frame_id"], "world");

    let tf = &messages.iter().find(|m| m.0 == topic::TF).unwrap().3;
    assert_eq!((tf["parent_frame_id"].as_str(), tf["child_frame_id"].as_str()), (Some("world"), Some("ego")));
    // The lead is 30 m ahead at 5 m/s against the ego's 10: 25.75 m of gap closing at 5 m/s.
    let ttc = &messages.iter().find(|m| m.0 == topic::TTC).unwrap().3;
    assert!((ttc["value"].as_f64().unwrap() - 5.15).abs() < 1e-9, "{ttc}");
    let speed = &messages.iter().find(|m| m.0 == topic::SPEED).unwrap().3;
    assert_eq!(speed, &serde_json::json!({"timestamp": {"sec": 0, "nsec": 20_000_000}, "value": 10.0}));
}

#[test]
fn a_trace_without_a_result_or_ticks_still_opens() {
    let (mut trace, _) = hand_made();
    let bytes = encode(&trace, None).unwrap();
    let log = read(&bytes).into_iter().filter(|m| m.0 == topic::LOG).count();
    assert_eq!(log, 6, "without a result: modes and guardrails only");
    trace.ticks.clear();
    let empty = encode(&trace, None).unwrap();
    assert!(empty.starts_with(MAGIC) && empty.ends_with(MAGIC));
    assert!(read(&empty).is_empty());
}

/// Runs `mcap_validate.py` on `file`; its JSON summary.
fn validate_with_python(file: &Path) -> Value {
    let out = Command::new("python3")
        .arg(root().join("server/tests/mcap_validate.py"))
        .arg(file)
        .arg(root().join("server/src/domain/mcap_schemas"))
        .output()
        .expect("python3 must be installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} does not validate with the official MCAP reader and Foxglove's JSON Schemas:\n{stderr}",
        file.display()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_official_python_reader_reads_the_hand_made_run_and_every_message_is_valid() {
    let (trace, record) = hand_made();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.mcap");
    std::fs::write(&file, encode(&trace, Some(&record)).unwrap()).unwrap();
    let summary = validate_with_python(&file);
    assert_eq!(summary["counts"][topic::LOG], 9);
    assert_eq!(summary["counts"][topic::SCENE], 3);
    assert_eq!(summary["schema_count"], 4);
    assert_eq!(summary["metadata"]["scenario_farm.run"]["verdict"], "failed");
    assert_eq!(summary["metadata"]["scenario_farm.run"]["variant"], trace.variant.as_str());
}

#[test]
fn farm_run_writes_mcap_that_the_python_reader_validates() {
    // The weakened stack (no AEB) runs into the child running out from behind parked cars:
    // collisions, guardrail events and failed criteria, on real simulated traces. (Since the
    // open-area planner passes a standing person, the weak stack passes warehouse.person.standing_in_aisle.)
    let dir = tempfile::tempdir().unwrap();
    let traces = dir.path().join("traces");
    let report = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_farm"))
        .args(["run", "--scenario", "urban.pedestrian.child_runout", "--stack-config"])
        .arg(root().join("catalog/stacks/weak.yaml"))
        .arg("--json")
        .arg(&report)
        .arg("--trace-dir")
        .arg(&traces)
        .args(["--trace-format", "mcap", "--trace-format", "binary"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<RunRecord> = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let failed: Vec<&RunRecord> = records.iter().filter(|r| r.verdict != Verdict::Passed).collect();
    assert!(!failed.is_empty(), "the weak stack no longer fails this scenario: pick another");
    // Every failed run's file is checked byte for byte against the domain's export; the Python
    // reader (about 4 s a file) validates the first three, which carry collisions, guardrail events
    // and failed criteria alike (all 36 took 2.7 min of a test thread).
    for (i, r) in failed.into_iter().enumerate() {
        // The binary form is exact (postcard), so the export can be redone from it bit for bit.
        let trace = Trace::from_bytes(&std::fs::read(traces.join(format!("{}.trace", r.key))).unwrap())
            .expect("--trace-format binary writes KEY.trace");
        assert!(!traces.join(format!("{}.json", r.key)).exists(), "json was not asked for");
        let file = traces.join(format!("{}.mcap", r.key));
        let bytes = std::fs::read(&file).unwrap();
        assert!(bytes == encode(&trace, Some(r)).unwrap(), "the CLI's file is not the domain's export");
        if i >= 3 {
            continue;
        }
        let summary = validate_with_python(&file);
        let ticks = trace.ticks.len() as u64;
        assert_eq!(summary["counts"][topic::SCENE], ticks);
        assert_eq!(summary["counts"][topic::TF], ticks);
        assert_eq!(summary["counts"][topic::SPEED], ticks);
        let activations: u64 = r.metrics.guardrail_activations.values().map(|n| u64::from(*n)).sum();
        let failed_criteria = r.criteria.iter().filter(|c| !c.passed).count() as u64;
        let mode_lines = 1 + trace.ticks.windows(2).filter(|w| w[0].mode != w[1].mode).count() as u64;
        assert_eq!(
            summary["counts"][topic::LOG],
            mode_lines + activations + r.metrics.collisions.len() as u64 + failed_criteria + 1
        );
        assert_eq!(summary["metadata"]["scenario_farm.run"]["digest"], r.digest.as_str());
    }
}
