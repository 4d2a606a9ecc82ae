//! Warehouse forms: speed zones the stack slows for and a criterion on the speed inside them, a
//! criterion on where the ego stops, obstacles that move, and waypoints relative to a start.

mod common;

use autonomy_stack::{Clock, ControlCommand, FrozenClock, SensorFrame, StackConfig, StackOutput};
use common::variant;
use sim_core::{run_variant, run_with, Driver, Verdict};

const ZONED: &str = r#"
version: 1
metadata: { id: test.zone, title: t, description: d, owner: qa, domain: urban, severity: critical }
world:
  road: { lanes: 1, length: 400, speed_limit: 14 }
  zones:
    - { id: school, road: { from: 150, to: 250 }, speed_limit: 5 }
ego:
  start: { lane: 0, s: 10 }
  speed: 14
  goal: { distance: 330 }
criteria:
  - zone_speed: { tolerance: 0.3 }
  - reach_goal: { within: 60 }
duration: 70
"#;

#[test]
fn the_stack_slows_for_a_speed_zone_and_zone_speed_measures_the_speed_inside_it() {
    let r = run_variant(&variant(ZONED), &StackConfig::default(), &mut FrozenClock);
    assert_eq!(r.verdict, Verdict::Passed, "{:?} {:?}", r.reason, r.criteria);
    let c = &r.criteria[0];
    // The front bumper (2.3 m ahead of the centre) enters at s = 150.
    let inside: Vec<f64> =
        r.trace.ticks.iter().filter(|t| t.ego[0] + 2.3 >= 150.0 && t.ego[0] - 2.3 <= 250.0).map(|t| t.ego[3]).collect();
    let peak = inside.iter().copied().fold(0.0, f64::max);
    assert!((c.value.unwrap() - (peak - 5.0)).abs() < 1e-9, "{} vs {peak}", c.message);
    assert!(peak < 5.3, "peak speed in the zone {peak:.2} m/s");
    // Back at 14 m/s after it.
    let after = r.trace.ticks.iter().filter(|t| t.ego[0] > 300.0).map(|t| t.ego[3]).fold(0.0, f64::max);
    assert!(after > 10.0, "{after}");
    assert!(c.message.contains("in zone `school` (limit 5 m/s)"), "{}", c.message);
}

struct Brake;

impl Driver for Brake {
    fn step(&mut self, _: &SensorFrame, _: &mut dyn Clock) -> StackOutput {
        StackOutput { command: ControlCommand { accel: -5.0, steer: 0.0 }, ..Default::default() }
    }
}

const STOPPING: &str = r#"
version: 1
metadata: { id: test.stop, title: t, description: d, owner: qa, domain: urban, severity: critical }
world:
  road: { lanes: 1, length: 200, speed_limit: 14 }
ego:
  start: { lane: 0, s: 0 }
  speed: 10
  goal: { distance: 150 }
end_when: { ego_stopped: { duration: 0.5 } }
criteria:
  - stop_within: { road: { from: FROM, to: TO } }
duration: 20
"#;

#[test]
fn stop_within_judges_where_the_ego_stands_at_the_end() {
    let run = |from: &str, to: &str| {
        let v = variant(&STOPPING.replace("FROM", from).replace("TO", to));
        run_with(&v, &mut FrozenClock, &mut |_| Ok(Box::new(Brake) as Box<dyn Driver>))
    };
    let r = run("5", "15");
    let stop_x = r.trace.ticks.last().unwrap().ego[0];
    // 10 m/s at 5 m/s² is 10 m, plus the actuator's lag.
    assert!((10.0..12.0).contains(&stop_x), "{stop_x}");
    assert_eq!(r.verdict, Verdict::Passed, "{:?}", r.criteria);
    assert_eq!(r.criteria[0].value, Some(0.0));
    let r = run("20", "30");
    assert_eq!(r.verdict, Verdict::Failed);
    assert!((r.criteria[0].value.unwrap() - (20.0 - stop_x)).abs() < 1e-6, "{}", r.criteria[0].message);
    assert!(r.criteria[0].message.starts_with("the ego stopped "), "{}", r.criteria[0].message);
}

const PIECES: &str = r#"
version: 1
metadata: { id: test.pieces, title: t, description: d, owner: qa, domain: warehouse, severity: critical }
world:
  area: { bounds: { min_x: 0, min_y: 0, max_x: 60, max_y: 20 }, speed_limit: 2 }
ego:
  start: { x: 2, y: 2 }
  goal: { position: { x: 50, y: 2 } }
actors:
  - id: towed
    kind: obstacle
    size: { length: 1.2, width: 0.2, height: 0.2 }
    start: { x: 40, y: 12, heading: -90 }
    behaviour:
      - do: { start_moving: { speed: 0.5, accel: 10 } }
  - id: walker
    kind: pedestrian
    start: { x: 20, y: 15 }
    behaviour:
      - do: { follow_waypoints: { points: [{ x: 3, y: 0 }, { x: 3, y: -4 }], speed: 1, relative: true } }
criteria:
  - no_collision: {}
duration: 8
"#;

#[test]
fn an_obstacle_can_move_and_waypoints_can_be_relative_to_the_start() {
    let v = variant(PIECES);
    let r = run_with(&v, &mut FrozenClock, &mut |_| Ok(Box::new(Brake) as Box<dyn Driver>));
    let last = r.trace.ticks.last().unwrap();
    // The piece heads -90° (south) at 0.5 m/s: about 4 m in 8 s.
    let towed = last.actors[0];
    assert!((towed[0] - 40.0).abs() < 1e-6 && (12.0 - towed[1] - 4.0).abs() < 0.1, "{towed:?}");
    // The walker's 7 m of waypoints, relative to (20, 15), take 7 s: it stands at (23, 11).
    let walker = last.actors[1];
    assert!((walker[0] - 23.0).abs() < 1e-6 && (walker[1] - 11.0).abs() < 1e-6, "{walker:?}");
}
