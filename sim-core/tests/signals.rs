//! Traffic lights and signs end to end (ADR 0027): the stack stops at a red line and goes on green,
//! a stack blind to the lights runs the red and the criterion names it, a camera that never reads
//! the light is as blind, scripted and reactive actors stop at their red line and a `run_red_light`
//! step drives through it, a stop sign needs a full stop, and a light's program is evaluated from
//! the tick count.

use std::path::Path;

use autonomy_stack::{Clock, FrozenClock, SensorFrame, Stack, StackConfig, StackOutput};
use scenario_dsl::{Catalog, MapSource, SourceFile, Variant};
use sim_core::{run_variant, run_with, Driver, RunResult, Verdict};

/// A straight street with a light 100 m along it: red for the first 14 s, then green.
const STREET: &str = r#"
version: 1
metadata: { id: test.signals.street, title: t, description: d, owner: qa, domain: urban, severity: critical }
world:
  road: { lanes: 2, length: 400, speed_limit: 13 }
  signals:
    - id: main
      at: { s: 100 }
      phases: [{ state: red, duration: 14 }, { state: green, duration: 60 }]
ego:
  start: { lane: 0, s: 10 }
  speed: 10
  goal: { distance: 200 }
actors:
  ACTORS
environment:
  signal_camera: { miss_rate: MISS }
criteria:
  - no_collision: {}
  - no_red_light_violation: {}
  - reach_goal: { within: 50 }
duration: 50
"#;

fn street(actors: &str, miss: f64) -> Variant {
    let text = STREET.replace("ACTORS", actors).replace("MISS", &miss.to_string());
    let text = if actors.is_empty() { text.replace("actors:\n  \n", "") } else { text };
    let parsed = scenario_dsl::parse("t.yaml", &text);
    assert!(parsed.diagnostics.iter().all(|d| !d.is_error()), "{:?}", parsed.diagnostics);
    parsed.scenario.expect("valid").variants()[0].clone()
}

/// The real stack, with every stop line taken out of its frames: it drives as if there were none.
struct Blind(Stack);

impl Driver for Blind {
    fn step(&mut self, frame: &SensorFrame, clock: &mut dyn Clock) -> StackOutput {
        let mut f = frame.clone();
        f.signals.clear();
        self.0.step(&f, clock)
    }
}

fn run_blind(v: &Variant) -> RunResult {
    run_with(v, &mut FrozenClock, &mut |m| {
        Stack::new(StackConfig::default(), m.clone())
            .map(|s| Box::new(Blind(s)) as Box<dyn Driver>)
            .map_err(|e| e.to_string())
    })
}

/// The first time the ego's front is past `s` metres along a straight road from the origin.
fn time_past(r: &RunResult, s: f64, half_length: f64) -> Option<f64> {
    r.trace.ticks.iter().find(|t| t.ego[0] + half_length >= s).map(|t| t.t)
}

#[test]
fn the_stack_stops_at_the_red_line_and_goes_on_green() {
    let r = run_variant(&street("", 0.05), &StackConfig::default(), &mut FrozenClock);
    assert_eq!(r.verdict, Verdict::Passed, "{:?}", r.reason);
    let crossed = time_past(&r, 100.0, 2.3).expect("it crosses the line");
    assert!(crossed >= 14.0, "crossed the line at {crossed} s, before the light turned green at 14 s");
    // It stood before the line while the light was red.
    let stood =
        r.trace.ticks.iter().filter(|t| t.t < 14.0 && t.ego[3] < 0.1).map(|t| t.ego[0] + 2.3).fold(0.0, f64::max);
    assert!((94.0..100.0).contains(&stood), "front stood at {stood} m");
    let changes: Vec<_> = r.signals.iter().map(|c| (c.time, c.state.as_str())).collect();
    assert_eq!(changes, vec![(0.02, "red"), (14.02, "green")]);
}

#[test]
fn a_stack_blind_to_the_lights_runs_the_red_and_the_criterion_says_where_and_when() {
    let r = run_blind(&street("", 0.05));
    assert_eq!(r.verdict, Verdict::Failed);
    let reason = r.reason.expect("a reason");
    assert!(reason.starts_with("no_red_light_violation: crossed the stop line of `main` on red at t="), "{reason}");
    let breach = &r.metrics.signal_breaches[0];
    assert_eq!((breach.kind.as_str(), breach.signal.as_str()), ("red_light", "main"));
    assert!(breach.time < 14.0 && breach.speed > 5.0, "{breach:?}");
}

#[test]
fn a_camera_that_never_reads_the_light_leaves_the_stack_as_blind() {
    let r = run_variant(&street("", 1.0), &StackConfig::default(), &mut FrozenClock);
    assert_eq!(r.verdict, Verdict::Failed);
    assert!(r.reason.as_deref().unwrap_or("").starts_with("no_red_light_violation"), "{:?}", r.reason);
}

#[test]
fn actors_stop_at_their_red_line_unless_told_to_run_it() {
    // Beside the ego, in lane 1, a scripted car and a reactive one; ahead of it a runner.
    let actors = r#"- id: scripted
    kind: car
    start: { lane: 1, s: 60 }
    speed: 10
    behaviour: [{ do: { keep_lane: { speed: 10 } } }]
  - id: reactive
    kind: car
    start: { lane: 1, s: 20 }
    speed: 10
    drive: { desired_speed: 10 }
  - id: runner
    kind: car
    start: { lane: 0, s: 40 }
    speed: 0
    behaviour:
      - do: { run_red_light: {} }
      - when: { signal: { id: main, state: red } }
        do: { start_moving: { speed: 8, accel: 3 } }"#;
    let r = run_variant(&street(actors, 0.05), &StackConfig::default(), &mut FrozenClock);
    // Where each actor's front is at 13.9 s, just before green (actors are 4.6 m long).
    let before_green = r.trace.ticks.iter().find(|t| t.t >= 13.9).expect("a tick");
    let front = |i: usize| before_green.actors[i][0] + 2.3;
    assert!((95.0..100.0).contains(&front(0)), "the scripted car's front is at {} m", front(0));
    assert!(front(1) < 100.0 && before_green.actors[1][3] < 0.1, "the reactive car: {:?}", before_green.actors[1]);
    let runner_past = r.trace.ticks.iter().find(|t| t.actors[2][0] + 2.3 > 100.0).map(|t| t.t);
    assert!(runner_past.is_some_and(|t| t < 14.0), "the runner crossed at {runner_past:?}");
    // After green they all drive on.
    let last = r.trace.ticks.last().expect("ticks");
    assert!(last.actors[0][0] > 110.0 && last.actors[1][0] > 110.0, "{:?}", last.actors);
}

/// A catalog scenario's default variant with its map attached.
fn catalog_variant(file: &str, index: usize) -> Variant {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalog/junctions").join(file);
    let text = std::fs::read_to_string(&path).expect("the catalog file");
    let mut catalog = Catalog::load(&[SourceFile { name: path.display().to_string(), text }], None);
    assert!(!catalog.has_errors(), "{:?}", catalog.diagnostics);
    let s = &mut catalog.scenarios[0];
    let map = path.parent().expect("a folder").join(s.map_file().expect("a map"));
    let text = std::fs::read_to_string(&map).expect("the map");
    s.attach_map(MapSource { file: map.display().to_string(), text: text.into() });
    s.variants()[index].clone()
}

#[test]
fn at_a_stop_sign_the_stack_stands_and_gives_way_and_a_blind_one_overruns_the_line() {
    let v = catalog_variant("stop_sign.yaml", 0);
    let r = run_variant(&v, &StackConfig::default(), &mut FrozenClock);
    assert_eq!(r.verdict, Verdict::Passed, "{:?}", r.reason);
    let blind = run_blind(&v);
    assert_eq!(blind.verdict, Verdict::Failed);
    let failed: Vec<&str> = blind.criteria.iter().filter(|c| !c.passed).map(|c| c.criterion.as_str()).collect();
    assert!(failed.contains(&"no_stop_line_overrun"), "{failed:?}: {:?}", blind.reason);
}

#[test]
fn the_same_signal_variant_gives_the_same_digest() {
    let v = catalog_variant("signalised_stop_and_go.yaml", 1);
    let a = run_variant(&v, &StackConfig::default(), &mut FrozenClock);
    let b = run_variant(&v, &StackConfig::default(), &mut FrozenClock);
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.verdict, Verdict::Passed, "{:?}", a.reason);
}
