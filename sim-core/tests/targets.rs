//! Targets and road: sizes with height as the sensors see them, parked vehicles, the road's kind
//! as map information, starts placed by overlap with the ego or beside the road, and the strict
//! `no_lane_change` criterion.

mod common;

use autonomy_stack::{Clock, ControlCommand, FrozenClock, ObjectClass, SensorFrame, StackConfig, StackOutput};
use common::{frames, variant, Recorder};
use sim_core::{run_variant, run_with, Driver, RunResult};

const PIECE: &str = r#"
version: 1
metadata: { id: test.piece, title: t, description: d, owner: qa, domain: warehouse, severity: critical }
world:
  road: { lanes: 1, length: 200, speed_limit: 5 }
ego:
  start: { lane: 0, s: 10 }
  goal: { distance: 100 }
actors:
  - id: piece
    kind: obstacle
    start: { lane: 0, s: 30 }
SIZE
environment:
  lidar: { rays: 3600, range_noise: 0 }
  detector: { miss_rate: 0, false_positive_rate: 0, position_noise: 0 }
criteria:
  - no_collision: {}
duration: 0.5
"#;

/// Lidar returns from the piece (20 m ahead, its near face at 19.6 m) in the first scan, and
/// whether the detector's lists report it.
fn seen(size: &str) -> (usize, bool) {
    let fs = frames(&PIECE.replace("SIZE", size));
    let scan = fs.iter().find_map(|f| f.lidar.clone()).expect("a scan");
    let hits = scan.ranges.iter().filter(|r| r.is_some_and(|r| (19.0..21.0).contains(&r))).count();
    let detected = fs
        .iter()
        .filter_map(|f| f.detections.as_ref())
        .any(|d| d.iter().any(|o| o.class == ObjectClass::Unknown && (o.x - 30.0).abs() < 1.0));
    (hits, detected)
}

#[test]
fn a_lying_200_mm_test_piece_is_under_the_lidar_plane_but_the_camera_still_sees_it() {
    let (default_hits, default_detected) = seen("");
    let (low_hits, low_detected) = seen("    size: { length: 1.2, width: 0.2, height: 0.2 }");
    // 0.8 m wide at 19.6 m is 0.041 rad, 23 rays of 3600; the 0.2 m piece is under the 0.5 m plane.
    assert!(default_hits >= 20, "a 0.7 m obstacle gives {default_hits} returns");
    assert_eq!(low_hits, 0, "a 0.2 m piece gives no lidar return");
    assert!(default_detected && low_detected, "{default_detected} {low_detected}");
}

const STREET: &str = r#"
version: 1
metadata: { id: test.street, title: t, description: d, owner: qa, domain: urban, severity: critical }
world:
  road: { lanes: 2, length: 500, speed_limit: LIMIT KIND }
ego:
  start: { lane: 0, s: 10 }
  speed: LIMIT
  goal: { distance: 300 }
actors:
  - id: parked
    kind: car
    parked: true
    start: { lane: 1, s: 180 }
criteria:
  - no_collision: {}
  - no_lane_change: {}
duration: 40
"#;

/// The ego's speed as its centre passes the parked car's.
fn passing_speed(limit: f64, kind: &str) -> (f64, RunResult) {
    let text = STREET.replace("LIMIT", &limit.to_string()).replace(" KIND", kind);
    let r = run_variant(&variant(&text), &StackConfig::default(), &mut FrozenClock);
    let at = r.trace.ticks.iter().find(|t| t.ego[0] >= 180.0).expect("the ego passes the parked car");
    (at.ego[3], r)
}

#[test]
fn the_road_kind_in_the_file_decides_whether_the_stack_passes_a_parked_car_at_street_speed() {
    // 60 km/h: above the 15 m/s the stack would guess a street by; declared a street, it is one.
    let (undeclared, _) = passing_speed(16.7, "");
    let (street, r) = passing_speed(16.7, ", kind: street");
    assert!(undeclared > 15.0, "undeclared 60 km/h road: passed at {undeclared:.2} m/s");
    assert!(street < 9.0, "a declared street: passed at {street:.2} m/s");
    assert!(r.metrics.collisions.is_empty() && r.criteria.iter().all(|c| c.passed), "{:?}", r.criteria);
    // 50 km/h: guessed a street, but declared rural it is not.
    let (guessed, _) = passing_speed(13.9, "");
    let (rural, _) = passing_speed(13.9, ", kind: rural");
    assert!(guessed < 9.0, "undeclared 50 km/h road: passed at {guessed:.2} m/s");
    assert!(rural > 12.5, "a declared rural road: passed at {rural:.2} m/s");
    // The parked car never moved.
    let first = &r.trace.ticks[0].actors[0];
    let last = &r.trace.ticks[r.trace.ticks.len() - 1].actors[0];
    assert_eq!((first[0], first[1], last[3]), (last[0], last[1], 0.0));
}

const PLACED: &str = r#"
version: 1
metadata: { id: test.placed, title: t, description: d, owner: qa, domain: urban, severity: critical }
world:
  road: { lanes: 2, length: 300, speed_limit: 14 }
ego:
  model: { width: 2.0 }
  start: { lane: 0, s: 10, offset: 0.3 }
  goal: { distance: 200 }
actors:
  - id: half_right
    kind: car
    start: { lane: 0, s: 60, overlap: -0.5 }
  - id: one_left
    kind: car
    start: { lane: 1, s: 90, overlap: 1.0 }
  - id: on_pavement
    kind: pedestrian
    start: { lane: 0, s: 120, offset: -6 }
criteria:
  - no_collision: {}
duration: 0.1
"#;

#[test]
fn overlap_places_an_actor_by_the_egos_width_and_a_start_may_stand_beside_the_road() {
    let r =
        run_with(&variant(PLACED), &mut FrozenClock, &mut |_| Ok(Box::new(Recorder::discarding()) as Box<dyn Driver>));
    let y: Vec<f64> = r.trace.ticks[0].actors.iter().map(|a| a[1]).collect();
    // The ego's centre line is at 1.75 + 0.3 = 2.05 m; its width is 2.0 m.
    assert!((y[0] - 1.05).abs() < 1e-9, "half a width right: {}", y[0]);
    assert!((y[1] - 4.05).abs() < 1e-9, "one width left: {}", y[1]);
    // 6 m right of lane 0's centre: 4.25 m beyond the road's right edge, on the pavement.
    assert!((y[2] + 4.25).abs() < 1e-9, "{}", y[2]);
}

struct Steer;

impl Driver for Steer {
    fn step(&mut self, frame: &SensorFrame, _: &mut dyn Clock) -> StackOutput {
        let steer = if frame.time < 1.5 {
            0.02
        } else if frame.time < 3.0 {
            -0.02
        } else {
            0.0
        };
        StackOutput { command: ControlCommand { accel: 0.0, steer }, ..Default::default() }
    }
}

#[test]
fn no_lane_change_fails_when_the_egos_centre_moves_into_the_next_lane_and_names_it() {
    let text = STREET.replace("LIMIT", "14").replace(" KIND", "").replace("s: 180 }", "s: 480 }");
    let r = run_with(&variant(&text), &mut FrozenClock, &mut |_| Ok(Box::new(Steer) as Box<dyn Driver>));
    let c = r.criteria.iter().find(|c| c.criterion == "no_lane_change").unwrap();
    assert!(!c.passed);
    assert_eq!(c.value, Some(1.0), "{}", c.message);
    assert!(c.message.starts_with("the ego's centre moved from lane 0 into lane 1 at t="), "{}", c.message);
    let t = c.decided_at.unwrap();
    assert!((1.0..4.0).contains(&t), "{t}");
    // The stack on an empty road keeps its lane.
    let text = STREET.replace("LIMIT", "14").replace(" KIND", "").replace("s: 180 }", "s: 480 }");
    let r = run_variant(&variant(&text), &StackConfig::default(), &mut FrozenClock);
    let c = r.criteria.iter().find(|c| c.criterion == "no_lane_change").unwrap();
    assert!(c.passed && c.value == Some(0.0), "{}", c.message);
}

const CRASH_AHEAD: &str = r#"
version: 1
metadata: { id: test.crash, title: t, description: d, owner: qa, domain: highway, severity: critical }
world:
  road: { lanes: 2, length: 400, speed_limit: 20 }
ego:
  start: { lane: 0, s: 0 }
  goal: { distance: 20 }
actors:
  - id: runner
    kind: car
    start: { lane: 1, s: 50 }
    speed: 10
  - id: stalled
    kind: car
    start: { lane: 1, s: 100 }
criteria:
  - no_collision: {}
duration: 8
"#;

#[test]
fn actors_that_collide_with_each_other_make_the_run_an_error_naming_them_unless_intended() {
    let r = run_with(&variant(CRASH_AHEAD), &mut FrozenClock, &mut |_| {
        Ok(Box::new(Recorder::discarding()) as Box<dyn Driver>)
    });
    assert_eq!(r.verdict, sim_core::Verdict::Error);
    let reason = r.reason.clone().unwrap();
    assert!(reason.starts_with("actors `runner` and `stalled` collided with each other at t="), "{reason}");
    // 100 - 50 - 4.6 m of gap at 10 m/s: they touch after 4.54 s.
    let at: f64 = reason["actors `runner` and `stalled` collided with each other at t=".len()..]
        .split(' ')
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert!((4.5..4.6).contains(&at), "{at}");
    // Declared, the same run is judged as any other; the trace is the same either way.
    let declared = format!(
        "{CRASH_AHEAD}intended_contacts:\n  - {{ actors: [stalled, runner], reason: the crash the ego drives past }}\n"
    );
    let d = run_with(&variant(&declared), &mut FrozenClock, &mut |_| {
        Ok(Box::new(Recorder::discarding()) as Box<dyn Driver>)
    });
    assert_eq!(d.verdict, sim_core::Verdict::Timeout, "{:?}", d.reason);
    assert_eq!(d.digest, r.digest);
}
