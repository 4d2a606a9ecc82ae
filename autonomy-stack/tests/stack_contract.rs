//! Stack-level contract tests: determinism, configuration handling, latency accounting, and the
//! safety monitor's AEB threshold and degraded-mode behaviour on synthetic frames.

mod harness;

use autonomy_stack::config::StackConfig;
use autonomy_stack::{
    Clock, Detection, EgoEstimate, FrozenClock, LidarScan, Mission, MissionGoal, Mode, ObjectClass, Reason, RoadMap,
    SensorFrame, Stack, StackError, StackOutput, VehicleParams,
};
use harness::{Actor, Sensors, World};

fn mission(lanes: u32) -> Mission {
    Mission {
        road: Some(RoadMap {
            lanes,
            lane_width: 3.5,
            length: 2000.0,
            curvature: 0.0,
            speed_limit: 16.0,
            line: Vec::new(),
            kind: None,
        }),
        area: None,
        goal: MissionGoal::RoadDistance { s: 1900.0 },
        route: Vec::new(),
        start_lane: Some(0),
        set_speed: None,
        zones: Vec::new(),
        vehicle: VehicleParams {
            length: 4.5,
            width: 1.8,
            wheelbase: 2.8,
            max_accel: 3.0,
            max_decel: 8.0,
            max_steer: 0.6,
        },
        control_period: 0.05,
    }
}

/// Runs a busy closed loop (traffic, a crossing pedestrian, lidar and detections) and returns
/// every output.
fn busy_run(config: StackConfig, clock: &mut dyn Clock) -> Vec<StackOutput> {
    let m = mission(2);
    let mut stack = Stack::new(config, m.clone()).unwrap();
    let mut lead = Actor::new(60.0, 1.75, 4.5, 1.8, ObjectClass::Car);
    lead.vx = 8.0;
    let mut ped = Actor::new(90.0, -3.0, 0.5, 0.5, ObjectClass::Pedestrian);
    ped.vy = 1.2;
    let mut other = Actor::new(20.0, 5.25, 4.5, 1.8, ObjectClass::Car);
    other.vx = 13.0;
    let sensors = Sensors { lidar_rays: 360, ..Sensors::default() };
    let ego = EgoEstimate { x: 0.0, y: 1.75, speed: 12.0, ..Default::default() };
    let mut world = World::new(m, ego, vec![lead, ped, other], sensors);
    (0..300)
        .map(|_| {
            let frame = world.frame();
            let out = stack.step(&frame, clock);
            world.advance(out.command);
            out
        })
        .collect()
}

/// A clock on which every module appears to take 3 ms of CPU and 7 ms of wall time (a loaded machine).
#[derive(Default)]
struct SlowClock {
    wall: u64,
    cpu: u64,
}

impl Clock for SlowClock {
    fn now_ns(&mut self) -> u64 {
        self.wall += 7_000_000;
        self.wall
    }

    fn thread_cpu_ns(&mut self) -> u64 {
        self.cpu += 3_000_000;
        self.cpu
    }
}

#[test]
fn the_same_inputs_give_bit_identical_outputs_whatever_the_clock() {
    let a = busy_run(StackConfig::default(), &mut FrozenClock);
    let b = busy_run(StackConfig::default(), &mut FrozenClock);
    assert_eq!(a, b);
    let c = busy_run(StackConfig::default(), &mut SlowClock::default());
    for (x, y) in a.iter().zip(&c) {
        assert_eq!(x.command.accel.to_bits(), y.command.accel.to_bits());
        assert_eq!(x.command.steer.to_bits(), y.command.steer.to_bits());
        assert_eq!(x.telemetry.mode, y.telemetry.mode);
        assert_eq!(x.telemetry.events, y.telemetry.events);
        assert!(!x.telemetry.deadline_miss);
        // The measured time is reported, and an overrun is counted, but nothing else changes.
        assert!(y.telemetry.deadline_miss);
        assert_eq!(y.telemetry.timings.nanos, [7_000_000; 6]);
        assert_eq!(y.telemetry.timings.cpu_nanos, [3_000_000; 6]);
    }
    // Exposed to preemption: the first tick from its own start (six 3 ms spans), every later one
    // from the end of the previous tick's measurement (seven reads of the CPU clock later).
    let exposed: Vec<u64> = c.iter().map(|o| o.telemetry.timings.exposed_cpu_nanos).collect();
    assert_eq!(exposed[0], 18_000_000);
    assert!(exposed[1..].iter().all(|&e| e == 21_000_000), "{exposed:?}");
    assert!(a.iter().any(|o| o.telemetry.tracks >= 2), "the run exercised the tracker");
}

/// A clock whose thread the OS preempts just before every fifth read of its preemption count.
#[derive(Default)]
struct PreemptedClock {
    reads: u64,
}

impl Clock for PreemptedClock {
    fn now_ns(&mut self) -> u64 {
        0
    }

    fn thread_cpu_ns(&mut self) -> u64 {
        0
    }

    fn preemptions(&mut self) -> u64 {
        self.reads += 1;
        self.reads / 5
    }
}

#[test]
fn a_tick_the_os_preempted_is_flagged_and_nothing_else_changes() {
    let calm = busy_run(StackConfig::default(), &mut FrozenClock);
    let preempted = busy_run(StackConfig::default(), &mut PreemptedClock::default());
    // The first tick reads the count at its start and end (reads 1 and 2); tick i ends with read
    // i + 2, so the count has moved during ticks 3, 8, 13, ...
    let flagged: Vec<usize> =
        preempted.iter().enumerate().filter(|(_, o)| o.telemetry.timings.preempted()).map(|(i, _)| i).collect();
    assert_eq!(flagged, (0..300).filter(|i| (i + 2) % 5 == 0).collect::<Vec<_>>());
    // Each flagged tick saw exactly one switch: the count, not just the flag, reaches the latencies.
    assert!(preempted.iter().all(|o| o.telemetry.timings.preemptions == u32::from(o.telemetry.timings.preempted())));
    assert!(calm.iter().all(|o| !o.telemetry.timings.preempted()), "a clock that cannot tell flags nothing");
    for (a, b) in calm.iter().zip(&preempted) {
        assert_eq!(a.command, b.command);
    }
}

#[test]
fn an_invalid_configuration_or_mission_is_rejected_naming_the_key() {
    let mut config = StackConfig::default();
    config.safety.aeb_ttc = 0.0;
    config.planning.samples = 0;
    match Stack::new(config, mission(1)) {
        Err(StackError::InvalidConfig(errors)) => {
            let keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
            assert_eq!(keys, ["planning.samples", "safety.aeb_ttc"]);
        }
        other => panic!("{other:?}"),
    }
    let mut m = mission(1);
    m.vehicle.max_decel = f64::NAN;
    let err = Stack::new(StackConfig::default(), m).unwrap_err();
    assert!(err.to_string().contains("vehicle.max_decel"), "{err}");
}

#[test]
fn the_catalog_stack_configurations_parse_validate_and_differ() {
    let default: StackConfig = serde_yaml::from_str(include_str!("../../catalog/stacks/default.yaml")).unwrap();
    let weak: StackConfig = serde_yaml::from_str(include_str!("../../catalog/stacks/weak.yaml")).unwrap();
    assert!(default.validate().is_empty(), "{:?}", default.validate());
    assert!(weak.validate().is_empty(), "{:?}", weak.validate());
    assert_eq!(default, StackConfig::default(), "default.yaml restates the defaults");
    assert!(!weak.safety.aeb_enabled && !weak.safety.predictive_braking);
    assert!(weak.planning.reaction_time > 0.0 && weak.planning.horizon < default.planning.horizon);
    assert!(Stack::new(weak, mission(1)).is_ok());
}

fn frame(tick: u64, ego_x: f64, speed: f64, obstacle_x: f64) -> SensorFrame {
    SensorFrame {
        tick,
        time: tick as f64 * 0.05,
        ego: EgoEstimate { x: ego_x, y: 1.75, speed, ..Default::default() },
        lidar: None,
        detections: Some(vec![Detection {
            class: ObjectClass::Car,
            x: obstacle_x,
            y: 1.75,
            vx: 0.0,
            vy: 0.0,
            heading: 0.0,
            length: 4.5,
            width: 1.8,
            confidence: 0.9,
        }]),
        detections_age: 0.0,
        visibility: None,
        signals: Vec::new(),
    }
}

/// The ego is driven open-loop at 10 m/s towards a stopped car; returns, per tick, the true TTC and
/// whether AEB fired.
fn approach(config: StackConfig) -> Vec<(f64, bool, f64)> {
    let mut stack = Stack::new(config, mission(1)).unwrap();
    (0..110)
        .map(|k| {
            let ego_x = 10.0 * 0.05 * k as f64;
            let out = stack.step(&frame(k, ego_x, 10.0, 60.0), &mut FrozenClock);
            let ttc = ((60.0 - 2.25) - (ego_x + 2.25)) / 10.0;
            (ttc, out.telemetry.events.iter().any(|e| e.reason == Reason::AebTtc), out.command.accel)
        })
        .collect()
}

#[test]
fn aeb_fires_at_its_ttc_threshold_and_not_before() {
    let config = StackConfig::default();
    let threshold = config.safety.aeb_ttc;
    let run = approach(config);
    let fired: Vec<_> = run.iter().enumerate().filter(|(_, r)| r.1).map(|(k, _)| k).collect();
    assert_eq!(fired.len(), 1, "fires once: {fired:?}");
    let k = fired[0];
    assert!(run[k].0 < threshold, "fired at TTC {}", run[k].0);
    assert!(run[k - 1].0 >= threshold, "late: previous tick had TTC {}", run[k - 1].0);
    assert_eq!(run[k].2, -8.0, "full braking");

    let mut off = StackConfig::default();
    off.safety.aeb_enabled = false;
    off.safety.predictive_braking = false;
    let run = approach(off);
    assert!(run.iter().all(|r| !r.1));
}

fn scan(ranges: usize, dropped: impl Fn(usize) -> bool) -> LidarScan {
    // A wall 10 m to the left seen by every ray pointing left.
    let inc = 2.0 * core::f64::consts::PI / ranges as f64;
    let angle_min = -core::f64::consts::PI;
    let ranges = (0..ranges)
        .map(|i| {
            let a = angle_min + inc * i as f64;
            let s = libm::sin(a);
            (s > 0.2 && !dropped(i)).then(|| 10.0 / s).filter(|r| *r < 60.0)
        })
        .collect();
    LidarScan { angle_min, angle_increment: inc, max_range: 60.0, ranges }
}

fn dropout_run(config: StackConfig, bad: std::ops::Range<u64>, ticks: u64) -> Vec<StackOutput> {
    dropout_run_with(config, bad, ticks, 3)
}

/// `lost` of every 5 rays return nothing during `bad`.
fn dropout_run_with(config: StackConfig, bad: std::ops::Range<u64>, ticks: u64, lost: usize) -> Vec<StackOutput> {
    lidar_run(config, ticks, |k| scan(360, |i| bad.contains(&k) && i % 5 < lost))
}

/// The stack on a one-lane road at 10 m/s, fed `scan_at(tick)`; the ego's speed follows the
/// commanded acceleration (so the friction estimate stays healthy).
fn lidar_run(config: StackConfig, ticks: u64, scan_at: impl Fn(u64) -> LidarScan) -> Vec<StackOutput> {
    let mut m = mission(1);
    m.road = Some(RoadMap {
        lanes: 1,
        lane_width: 3.5,
        length: 2000.0,
        curvature: 0.0,
        speed_limit: 16.0,
        line: Vec::new(),
        kind: None,
    });
    let mut stack = Stack::new(config, m).unwrap();
    let (mut x, mut speed) = (0.0, 10.0);
    (0..ticks)
        .map(|k| {
            let f = SensorFrame {
                tick: k,
                time: k as f64 * 0.05,
                ego: EgoEstimate { x, y: 1.75, speed, ..Default::default() },
                lidar: Some(scan_at(k)),
                detections: Some(Vec::new()),
                detections_age: 0.0,
                visibility: None,
                signals: Vec::new(),
            };
            let out = stack.step(&f, &mut FrozenClock);
            let next = (speed + out.command.accel * 0.05).max(0.0);
            x += 0.5 * (speed + next) * 0.05;
            speed = next;
            out
        })
        .collect()
}

#[test]
fn degraded_mode_engages_under_dropout_and_releases_after_recovery() {
    let config = StackConfig::default();
    let recovery_ticks = (config.safety.recovery_time / 0.05) as usize;
    let run = dropout_run(config, 40..100, 200);
    assert!(run[..40].iter().all(|o| o.telemetry.mode == Mode::Nominal));
    // 60% of the rays drop: degraded within a few scans, for the whole episode.
    let first = run.iter().position(|o| o.telemetry.mode == Mode::Degraded).unwrap();
    assert!((40..45).contains(&first), "engaged at {first}");
    assert!(run[45..100].iter().all(|o| o.telemetry.mode == Mode::Degraded));
    let events: Vec<_> = run.iter().flat_map(|o| o.telemetry.events.iter()).collect();
    assert_eq!(events.iter().filter(|e| e.reason == Reason::LidarDropout).count(), 1, "{events:?}");
    assert!(events.iter().all(|e| !e.intervention));
    // Released once input has been healthy for recovery_time (the pooled window clears first).
    let released = 100 + run[100..].iter().position(|o| o.telemetry.mode == Mode::Nominal).unwrap();
    assert!(released >= 100 + recovery_ticks && released <= 100 + recovery_ticks + 8, "released at {released}");
    assert!(run[released..].iter().all(|o| o.telemetry.mode == Mode::Nominal));
    // While degraded the speed cap holds: the command brakes until the ego is down to it.
    assert!(run[45..55].iter().all(|o| o.command.accel < 0.0));
}

/// A 720-ray scan of the rear faces of three cars queued side by side ahead, one per lane (3.5 m
/// apart), staggered 52, 57 and 62 m ahead: a stopped queue's tail seen from the middle lane.
fn queue_abreast() -> LidarScan {
    let inc = std::f64::consts::TAU / 720.0;
    let angle_min = -std::f64::consts::PI;
    let cars = [(52.0, -3.5), (57.0, 0.0), (62.0, 3.5)];
    let ranges = (0..720)
        .map(|i| {
            let a = angle_min + inc * i as f64;
            let (c, s) = (libm::cos(a), libm::sin(a));
            cars.iter()
                .filter(|_| c > 0.0)
                .map(|(d, y)| (d / c, d * s / c - y))
                .filter(|(_, lateral)| lateral.abs() <= 0.9)
                .map(|(r, _)| r)
                .reduce(f64::min)
        })
        .collect();
    LidarScan { angle_min, angle_increment: inc, max_range: 100.0, ranges }
}

#[test]
fn the_gaps_between_cars_queued_side_by_side_are_not_lidar_dropout() {
    // Between the cars, 2-3 rays see nothing and the ranges on either side differ by 5 m: within
    // a tenth of the range, which the dropout estimate used to take for holes in one surface
    // (4 of 9 rays, above the 30 % threshold: degraded mode, 5 m/s, in every queue).
    let scan = queue_abreast();
    let returns = scan.ranges.iter().filter(|r| r.is_some()).count();
    assert!((9..=12).contains(&returns), "{returns} returns");
    for (k, out) in lidar_run(StackConfig::default(), 40, |_| scan.clone()).iter().enumerate() {
        assert!(
            !out.telemetry.events.iter().any(|e| e.reason == Reason::LidarDropout),
            "tick {k}: {:?}",
            out.telemetry.events
        );
        assert_eq!(out.telemetry.mode, Mode::Nominal, "tick {k}");
    }
}

#[test]
fn persistent_degradation_ends_in_a_minimal_risk_stop() {
    let mut config = StackConfig::default();
    config.safety.mrm_after = 2.0;
    // Partial dropout with the detector still reporting: degraded (slow), but no stop.
    let run = dropout_run(config.clone(), 20..400, 200);
    assert!(run[30..].iter().all(|o| o.telemetry.mode == Mode::Degraded));
    assert!(!run.iter().any(|o| o.telemetry.events.iter().any(|e| e.reason == Reason::MinimalRiskManoeuvre)));
    // The lidar lost altogether: the stop begins mrm_after later.
    let run = dropout_run_with(config.clone(), 20..400, 200, 5);
    let mrm =
        run.iter().position(|o| o.telemetry.events.iter().any(|e| e.reason == Reason::MinimalRiskManoeuvre)).unwrap();
    // Degraded from about tick 21; the stop begins mrm_after (40 ticks) later.
    assert!((60..66).contains(&mrm), "MRM at {mrm}");
    assert!(run[mrm].telemetry.events.iter().any(|e| e.reason == Reason::MinimalRiskManoeuvre && e.intervention));
    assert!(run[mrm..].iter().all(|o| o.telemetry.mode == Mode::Fallback));
    // The controlled stop builds up at the comfort jerk limit, then holds at least mrm_decel.
    let ramp = libm::ceil(config.safety.mrm_decel / (config.control.jerk_limit * 0.05)) as usize + 1;
    assert!(run[mrm..].iter().all(|o| o.command.accel < 0.0));
    assert!(run[mrm + ramp..].iter().all(|o| o.command.accel <= -config.safety.mrm_decel));
}

#[test]
fn a_corrupt_detection_age_or_visibility_is_a_fault_not_a_silent_zero() {
    for (age, visibility) in [(f64::NAN, None), (-0.1, None), (0.1, Some(f64::INFINITY)), (0.1, Some(0.0))] {
        let mut stack = Stack::new(StackConfig::default(), mission(1)).unwrap();
        let run: Vec<StackOutput> = (0..5)
            .map(|k| {
                let f = SensorFrame { detections_age: age, visibility, ..frame(k, k as f64 * 0.6, 12.0, 200.0) };
                stack.step(&f, &mut FrozenClock)
            })
            .collect();
        assert!(
            run.iter().any(|o| o.telemetry.events.iter().any(|e| e.reason == Reason::ImplausibleInput)),
            "age {age}, visibility {visibility:?}: no implausible-input fault"
        );
        assert_eq!(run[4].telemetry.mode, Mode::Degraded, "age {age}, visibility {visibility:?}");
    }
    // Sound values raise nothing.
    let mut stack = Stack::new(StackConfig::default(), mission(1)).unwrap();
    for k in 0..5 {
        let f = SensorFrame { detections_age: 0.1, visibility: Some(250.0), ..frame(k, k as f64 * 0.6, 12.0, 200.0) };
        let out = stack.step(&f, &mut FrozenClock);
        assert!(
            out.telemetry.events.iter().all(|e| e.reason != Reason::ImplausibleInput),
            "{:?}",
            out.telemetry.events
        );
    }
}
