//! Reactive traffic: IDM car following, MOBIL lane changes, the seeded placement of a `traffic`
//! block, and a reactive car behind an ego that brakes hard.

mod common;

use autonomy_stack::{Clock, ControlCommand, FrozenClock, SensorFrame, StackConfig, StackOutput};
use common::variant;
use scenario_dsl::model::{Actor, ActorKind, Drive, Manoeuvre, SpeedDistribution, Start, Step, Traffic, Trigger};
use sim_core::actors::{self, ActorState, EgoView};
use sim_core::footprint::Footprint;
use sim_core::road::RoadFrame;
use sim_core::signals::SignalsNow;
use sim_core::traffic::{self, Idm, Occupant};
use sim_core::{run_with, Driver, Verdict};

const DT: f64 = 0.02;

fn road() -> RoadFrame {
    RoadFrame { lanes: 3, lane_width: 3.5, length: 5000.0, curvature: 0.0, speed_limit: 30.0, line: None }
}

fn actor(id: &str, lane: u32, s: f64, speed: f64) -> Actor<f64> {
    Actor {
        id: id.into(),
        kind: ActorKind::Car,
        start: Start {
            lane: Some(lane),
            s: Some(s),
            offset: None,
            x: None,
            y: None,
            heading: None,
            map: None,
            overlap: None,
        },
        speed,
        size: None,
        behaviour: Vec::new(),
        drive: None,
        parked: false,
    }
}

fn reactive(id: &str, lane: u32, s: f64, speed: f64, desired: f64) -> Actor<f64> {
    Actor { drive: Some(Drive { desired_speed: Some(desired), ..Drive::default() }), ..actor(id, lane, s, speed) }
}

fn keep_changes_off(mut a: Actor<f64>) -> Actor<f64> {
    if let Some(d) = a.drive.as_mut() {
        d.lane_change.enabled = false;
    }
    a
}

/// An ego standing far behind in the leftmost lane, out of everyone's way.
fn far_ego() -> EgoView {
    EgoView {
        footprint: Footprint { x: -1000.0, y: road().lane_centre(2), heading: 0.0, length: 4.6, width: 1.9 },
        velocity: (0.0, 0.0),
        speed: 0.0,
        s: Some(-1000.0),
        stopped_for: 0.0,
    }
}

fn states(list: &[Actor<f64>]) -> Vec<ActorState> {
    list.iter().map(|a| ActorState::new(a, Some(&road()))).collect()
}

/// Bumper-to-bumper gap from `rear` to `front` along the road.
fn gap(front: &ActorState, rear: &ActorState) -> f64 {
    front.x - rear.x - 0.5 * (front.length + rear.length)
}

fn simulate(actors: &mut [ActorState], seconds: f64, mut each: impl FnMut(&[ActorState])) {
    let ego = far_ego();
    for tick in 0..(seconds / DT) as u64 {
        actors::step_all(actors, tick as f64 * DT, DT, &ego, Some(&road()), SignalsNow::none());
        each(actors);
    }
}

#[test]
fn an_idm_follower_never_hits_a_braking_leader_and_settles_at_the_equilibrium_gap() {
    // The leader cruises at 20 m/s, brakes at 7 m/s² to 5 m/s, then accelerates back to 20 m/s.
    let mut lead = actor("lead", 0, 150.0, 20.0);
    lead.behaviour = vec![
        Step {
            when: Some(Trigger::Time { after: 5.0 }),
            action: Manoeuvre::Brake { to_speed: 5.0, decel: 7.0, jerk: None },
            optional: false,
        },
        Step { when: None, action: Manoeuvre::KeepLane { speed: 20.0, accel: 1.0 }, optional: false },
    ];
    let follower = keep_changes_off(reactive("follower", 0, 100.0, 25.0, 30.0));
    let mut actors = states(&[lead, follower]);
    let mut min_gap = f64::INFINITY;
    simulate(&mut actors, 120.0, |a| min_gap = min_gap.min(gap(&a[0], &a[1])));
    assert!(min_gap > 1.0, "the follower came within {min_gap:.2} m of the leader");
    // IDM's equilibrium behind a leader at v: s = (s0 + vT) / sqrt(1 - (v/v0)^4).
    let idm = Idm::from_drive(&Drive { desired_speed: Some(30.0), ..Drive::default() }, 30.0);
    let v: f64 = 20.0;
    let expected = (idm.min_gap + v * idm.time_headway) / (1.0 - (v / 30.0).powi(4)).sqrt();
    let settled = gap(&actors[0], &actors[1]);
    assert!((settled - expected).abs() < 0.5, "settled at {settled:.2} m, IDM's equilibrium is {expected:.2} m");
    assert!((actors[1].speed() - 20.0).abs() < 0.05, "follower at {:.2} m/s", actors[1].speed());
}

#[test]
fn an_idm_follower_stops_behind_a_stopped_car_at_its_standstill_gap() {
    let stopped = actor("stopped", 0, 400.0, 0.0);
    let follower = keep_changes_off(reactive("follower", 0, 100.0, 30.0, 30.0));
    let mut actors = states(&[stopped, follower]);
    simulate(&mut actors, 60.0, |a| assert!(gap(&a[0], &a[1]) > 0.5));
    let g = gap(&actors[0], &actors[1]);
    assert!(
        actors[1].speed() < 0.05 && (g - 2.0).abs() < 0.5,
        "stopped {g:.2} m behind at {:.2} m/s",
        actors[1].speed()
    );
}

fn lane_of(a: &ActorState) -> u32 {
    road().lane_at(a.road_position().unwrap().1).unwrap()
}

/// A reactive car in lane 0 stuck behind a scripted car at 10 m/s while it wants 30.
fn stuck(extra: Option<Actor<f64>>) -> Vec<ActorState> {
    let mut list = vec![actor("slow", 0, 125.0, 10.0), reactive("stuck", 0, 100.0, 10.0, 30.0)];
    list.extend(extra);
    states(&list)
}

#[test]
fn mobil_changes_lane_when_the_gain_exceeds_the_threshold() {
    let mut actors = stuck(None);
    let mut changed_at = None;
    let mut t = 0.0;
    simulate(&mut actors, 10.0, |a| {
        t += DT;
        if changed_at.is_none() && lane_of(&a[1]) == 1 {
            changed_at = Some(t);
        }
    });
    assert!(changed_at.is_some_and(|t| t < 3.0), "changed lanes at {changed_at:?}");
    let (_, d) = actors[1].road_position().unwrap();
    assert!((d - road().lane_centre(1)).abs() < 1e-9, "ends on lane 1's centre, at d = {d}");
    assert!(actors[1].x > actors[0].x, "and overtakes");
}

#[test]
fn mobil_does_not_change_lane_when_the_gain_stays_below_the_threshold() {
    // Stuck at 10 m/s behind the slow car, the gain of the free lane is IDM's full 1.5 m/s² at most.
    let mut list = vec![actor("slow", 0, 125.0, 10.0), reactive("stuck", 0, 100.0, 10.0, 30.0)];
    list[1].drive.as_mut().unwrap().lane_change.threshold = 2.0;
    let mut actors = states(&list);
    simulate(&mut actors, 10.0, |a| assert_eq!(lane_of(&a[1]), 0, "changed lanes for a gain under the threshold"));
}

#[test]
fn mobil_does_not_change_lane_when_the_new_follower_would_have_to_brake_hard() {
    // A reactive car in lane 1 a few metres behind, at the same speed: cutting in would force it to
    // brake far harder than `safe_decel`.
    let beside = keep_changes_off(reactive("beside", 1, 90.0, 10.0, 10.0));
    let mut actors = stuck(Some(beside));
    simulate(&mut actors, 10.0, |a| assert_eq!(lane_of(&a[1]), 0, "changed lanes in front of a close follower"));
    // With the follower gone it does change (`mobil_changes_lane_when_the_gain_exceeds_the_threshold`),
    // so the follower is what held it.
}

#[test]
fn mobil_does_not_change_lane_into_a_gap_the_new_leader_leaves_too_small() {
    let mut ahead_in_target = actor("ahead", 1, 103.0, 10.0);
    ahead_in_target.speed = 10.0;
    let mut actors = stuck(Some(ahead_in_target));
    simulate(&mut actors, 1.0, |a| assert_eq!(lane_of(&a[1]), 0, "changed lanes next to a car alongside"));
}

#[test]
fn a_lane_change_is_a_smooth_lateral_move_over_its_duration() {
    let mut actors = stuck(None);
    let mut ds = Vec::new();
    simulate(&mut actors, 8.0, |a| ds.push(a[1].road_position().unwrap().1));
    let steps: Vec<f64> = ds.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let max_step = steps.iter().cloned().fold(0.0, f64::max);
    // 3.5 m over 4 s on a cosine profile: at most 3.5 * pi / 8 m/s, i.e. 0.028 m per tick.
    assert!(max_step < 0.03, "a lateral jump of {max_step:.3} m in one tick");
    let moving = steps.iter().filter(|s| **s > 1e-9).count() as f64 * DT;
    assert!((moving - 4.0).abs() < 0.1, "the lateral move took {moving:.2} s");
}

fn block(density: f64) -> Traffic<f64> {
    Traffic {
        density,
        lanes: Vec::new(),
        from: 0.0,
        to: Some(2000.0),
        desired_speed: SpeedDistribution { mean: Some(28.0), std: Some(3.0), min: Some(20.0), max: Some(35.0) },
        truck_share: 0.15,
        clear_gap: 20.0,
        drive: Drive::default(),
    }
}

fn ego_at(s: f64) -> Occupant {
    Occupant { s, d: road().lane_centre(1), length: 4.6, width: 1.9, speed: 25.0 }
}

#[test]
fn the_same_seed_places_the_same_traffic_and_another_seed_other_traffic() {
    let t = block(20.0);
    let a = traffic::populate(&t, &road(), &[ego_at(300.0)], 7);
    let b = traffic::populate(&t, &road(), &[ego_at(300.0)], 7);
    let c = traffic::populate(&t, &road(), &[ego_at(300.0)], 8);
    assert_eq!(a, b);
    assert_ne!(a.iter().map(|x| x.start.s).collect::<Vec<_>>(), c.iter().map(|x| x.start.s).collect::<Vec<_>>());
    assert!(a.iter().enumerate().all(|(i, x)| x.id == format!("traffic-{i}")));
}

#[test]
fn placement_matches_the_requested_density_and_keeps_safe_gaps() {
    let t = block(20.0);
    let placed = traffic::populate(&t, &road(), &[], 1);
    // 20 vehicles per km per lane over 2 km of 3 lanes.
    assert_eq!(placed.len(), 120);
    for lane in 0..3 {
        let mut s: Vec<(f64, f64)> = placed
            .iter()
            .filter(|a| a.start.lane == Some(lane))
            .map(|a| (a.start.s.unwrap(), a.kind.default_size().0))
            .collect();
        assert_eq!(s.len(), 40, "lane {lane}");
        s.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in s.windows(2) {
            let g = w[1].0 - w[0].0 - 0.5 * (w[0].1 + w[1].1);
            assert!(g >= 2.0, "lane {lane}: a gap of {g:.2} m");
        }
    }
    let trucks = placed.iter().filter(|a| a.kind == ActorKind::Truck).count();
    assert!((8..=30).contains(&trucks), "{trucks} trucks of 120 at a 15 % share");
    for a in &placed {
        let v = a.drive.as_ref().unwrap().desired_speed.unwrap();
        assert!((20.0..=35.0).contains(&v) && a.speed <= v + 1e-9);
    }
}

#[test]
fn placement_keeps_clear_of_the_ego_and_slows_the_car_behind_it() {
    let t = block(40.0);
    let ego = Occupant { speed: 10.0, ..ego_at(500.0) };
    let placed = traffic::populate(&t, &road(), &[ego], 3);
    let in_lane: Vec<&Actor<f64>> = placed.iter().filter(|a| a.start.lane == Some(1)).collect();
    for a in &in_lane {
        let (s, len) = (a.start.s.unwrap(), a.kind.default_size().0);
        let g = (s - 500.0).abs() - 0.5 * (len + 4.6);
        assert!(g >= 20.0, "{} starts {g:.1} m from the ego", a.id);
    }
    // Fewer in the ego's lane than in the others, by the cleared stretch only.
    let others = placed.iter().filter(|a| a.start.lane == Some(0)).count();
    assert!(in_lane.len() < others && in_lane.len() + 3 >= others, "{} vs {others}", in_lane.len());
    let behind = in_lane
        .iter()
        .filter(|a| a.start.s.unwrap() < 500.0)
        .max_by(|a, b| a.start.s.unwrap().total_cmp(&b.start.s.unwrap()));
    let behind = behind.unwrap();
    assert!(behind.speed < 20.0, "the car behind a 10 m/s ego starts at {:.1} m/s", behind.speed);
}

const BRAKING_EGO: &str = r#"
version: 1
metadata: { id: test.brake, title: t, description: d, owner: qa, domain: highway, severity: critical }
world:
  road: { lanes: 2, length: 1000, speed_limit: 30 }
ego:
  start: { lane: 0, s: 100 }
  speed: 25
  goal: { distance: 600 }
actors:
  - id: behind
    kind: car
    start: { lane: 0, s: 70 }
    speed: 25
    FOLLOWER
criteria:
  - no_collision: {}
duration: 20
"#;

struct BrakeAt(f64);

impl Driver for BrakeAt {
    fn step(&mut self, frame: &SensorFrame, _: &mut dyn Clock) -> StackOutput {
        let accel = if frame.time >= self.0 { -8.0 } else { 0.0 };
        StackOutput { command: ControlCommand { accel, steer: 0.0 }, ..Default::default() }
    }
}

#[test]
fn a_reactive_car_behind_an_ego_that_brakes_hard_does_not_rear_end_it() {
    let run = |follower: &str| {
        let v = variant(&BRAKING_EGO.replace("FOLLOWER", follower));
        run_with(&v, &mut FrozenClock, &mut |_| Ok(Box::new(BrakeAt(2.0)) as Box<dyn Driver>))
    };
    // 25 m/s, 25.4 m apart, the ego brakes at 8 m/s² to a stop.
    let reactive = run("drive: { desired_speed: 25, lane_change: { enabled: false } }");
    assert!(reactive.metrics.collisions.is_empty(), "{:?}", reactive.metrics.collisions);
    let trace = &reactive.trace;
    let last = trace.ticks.last().unwrap();
    let gap = last.ego[0] - last.actors[0][0] - 4.6;
    assert!(last.actors[0][3] < 0.05 && (1.0..10.0).contains(&gap), "stopped {gap:.2} m behind");
    // The same car on a script drives into the ego: the test can fail.
    let scripted = run("behaviour: [{ do: { keep_lane: { speed: 25 } } }]");
    assert_eq!(scripted.verdict, Verdict::Failed);
    assert_eq!(scripted.metrics.collisions[0].with, "behind");
}

const DENSE: &str = r#"
version: 1
metadata: { id: test.dense, title: t, description: d, owner: qa, domain: highway, severity: critical }
world:
  road: { lanes: 4, length: 2000, speed_limit: 33 }
ego:
  start: { lane: 1, s: 300 }
  speed: 25
  goal: { distance: 1200 }
traffic:
  density: 12
  from: 100
  to: 1300
  desired_speed: { mean: 27, std: 3, min: 20, max: 33 }
  truck_share: 0.15
criteria:
  - no_collision: {}
duration: 60
"#;

#[test]
fn traffic_vehicles_are_actors_of_the_trace_and_the_run_is_reproducible() {
    let v = variant(DENSE);
    let a = sim_core::run_variant(&v, &StackConfig::default(), &mut FrozenClock);
    let b = sim_core::run_variant(&v, &StackConfig::default(), &mut FrozenClock);
    assert_eq!(a.digest, b.digest);
    // 12 per km per lane over 1.2 km of 4 lanes, less the few kept clear of the ego.
    let n = a.trace.actors.len();
    assert!((50..=58).contains(&n), "{n} vehicles");
    assert!(a.trace.actors.iter().enumerate().all(|(i, x)| x.id == format!("traffic-{i}")));
    assert!(a.trace.ticks.iter().all(|t| t.actors.len() == n));
    assert!(a.metrics.collisions.is_empty(), "{:?}: {:?}", a.verdict, a.metrics.collisions);
    // No two vehicles ever overlap (the physics reports only the ego's contacts).
    for t in a.trace.ticks.iter().step_by(5) {
        for (i, p) in t.actors.iter().enumerate() {
            for (j, q) in t.actors.iter().enumerate().skip(i + 1) {
                let (mi, mj) = (&a.trace.actors[i], &a.trace.actors[j]);
                let long = (p[0] - q[0]).abs() - 0.5 * (mi.length + mj.length);
                let lat = (p[1] - q[1]).abs() - 0.5 * (mi.width + mj.width);
                if !(long > 0.0 || lat > 0.0) {
                    let k = a.trace.ticks.iter().position(|x| x.t == t.t).unwrap();
                    for back in a.trace.ticks[k.saturating_sub(150)..=k].iter().step_by(10) {
                        eprintln!("{:.2} {:?} {:?}", back.t, back.actors[i], back.actors[j]);
                    }
                    panic!("t={:.2}: {} and {} overlap", t.t, mi.id, mj.id);
                }
            }
        }
    }
    // Somebody changed lanes.
    let first = &a.trace.ticks[0];
    let lane = |y: f64| (y / 3.5).floor() as i64;
    assert!(last_lanes_differ(first, a.trace.ticks.last().unwrap(), lane));
}

fn last_lanes_differ(
    first: &sim_core::trace::TraceTick,
    last: &sim_core::trace::TraceTick,
    lane: impl Fn(f64) -> i64,
) -> bool {
    first.actors.iter().zip(&last.actors).any(|(a, b)| lane(a[1]) != lane(b[1]))
}

#[test]
fn stopped_behind_a_car_that_braked_hard_the_ego_does_not_weave_out_into_the_fast_lanes() {
    // The catalog's dense-traffic lead brake: the ego stops behind the car ahead, in a queue, with
    // reactive traffic at 20-30 m/s in both lanes beside it. Pulling away, each lane beside looks
    // faster; the queue behind hides the cars coming up in them until they are close, so each
    // change it starts is abandoned a second later. It used to swing from one lane to the next
    // (1, 0, 2, 1 within 5 s) until a car at 20 m/s hit it in lane 2.
    let r = common::run_catalog_variant("highway/traffic_lead_brake.yaml", "d5aaf4d32b25b75dabea72f19bbaf7ad");
    assert!(r.metrics.collisions.is_empty(), "{:?}", r.metrics.collisions);
    assert_eq!(r.verdict, Verdict::Passed, "{:?}", r.reason);
}
