//! Impact-point timing: a crossing started by `impact_point` meets the ego at the fraction of its
//! width the file asks for.

use autonomy_stack::{Clock, ControlCommand, FrozenClock, SensorFrame, StackOutput};
use sim_core::{run_with, Driver, Verdict};

/// Holds the speed: the protocol's robot driver with no AEB, so the encounter happens.
struct Coast;

impl Driver for Coast {
    fn step(&mut self, _: &SensorFrame, _: &mut dyn Clock) -> StackOutput {
        StackOutput { command: ControlCommand { accel: 0.0, steer: 0.0 }, ..Default::default() }
    }
}

const CROSSING: &str = r#"
version: 1
metadata: { id: test.impact, title: t, description: d, owner: qa, domain: urban, severity: critical }
world:
  road: { lanes: 1, length: 400, speed_limit: 14 }
ego:
  start: { lane: 0, s: 10 }
  speed: 13.89
  goal: { distance: 300 }
actors:
  - id: walker
    kind: pedestrian
    start: { lane: 0, s: 120, offset: OFFSET }
    behaviour:
      - when: { impact_point: { at: AT } }
        do: { cross_road: { speed: 1.5, ACCEL direction: DIRECTION } }
criteria:
  - no_collision: {}
duration: 20
"#;

/// Where across the ego's width (0 its right side, 1 its left) the walker's centre was at the
/// collision.
fn impact_fraction(at: f64, offset: f64, accel: &str, direction: &str) -> f64 {
    let text = CROSSING
        .replace("OFFSET", &offset.to_string())
        .replace("AT", &at.to_string())
        .replace("ACCEL ", accel)
        .replace("DIRECTION", direction);
    let parsed = scenario_dsl::parse("t.yaml", &text);
    assert!(parsed.diagnostics.iter().all(|d| !d.is_error()), "{:?}", parsed.diagnostics);
    let v = parsed.scenario.unwrap().variants()[0].clone();
    let r = run_with(&v, &mut FrozenClock, &mut |_| Ok(Box::new(Coast) as Box<dyn Driver>));
    assert_eq!(r.verdict, Verdict::Failed, "{:?}", r.reason);
    let hit = r.metrics.collisions[0].time;
    let tick = r.trace.ticks.iter().find(|t| (t.t - hit).abs() < 1e-9).unwrap();
    // The ego's right side is at 1.75 - 0.95 = 0.8 m on this straight road along +x.
    (tick.actors[0][1] - 0.8) / 1.9
}

#[test]
fn a_crossing_started_by_impact_point_meets_the_ego_at_that_fraction_of_its_width() {
    let from_right = impact_fraction(0.25, -3.5, "", "left");
    assert!((from_right - 0.25).abs() < 0.03, "from the right, at 25 %: {from_right:.3}");
    // From the left, accelerating at 1 m/s² from standing: the ramp is part of the timing.
    let from_left = impact_fraction(0.5, 3.0, "accel: 1.0, ", "right");
    assert!((from_left - 0.5).abs() < 0.03, "from the left, at 50 %: {from_left:.3}");
}
