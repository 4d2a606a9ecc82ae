//! The run loop: one variant in, one verdict with evidence out. Each tick: actors and triggers,
//! sensors and the stack (on control ticks), the ego's vehicle model, rapier (collisions), then the
//! oracles and the digest. A panic in the stack, a diverging state or a run past its duration ends
//! the run as `error` or `timeout` with the reason; it never takes the process down.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::Serialize;

use autonomy_stack::{
    AreaMap, Clock, ControlCommand, DriverRequest, Mission, MissionGoal, Mode, OrientedBox, RoadMap, SensorFrame,
    Stack, StackConfig, StackOutput, VehicleParams, ZoneRegion,
};
use scenario_dsl::model::{Actor, Criterion, Goal, Place, RoadKind, StartPose};
use scenario_dsl::Variant;

use crate::actors::{self, ActorState, EgoView, ScriptedEvent};
use crate::footprint::Footprint;
use crate::latency::{Latencies, LatencySummary};
use crate::map;
use crate::oracle::{self, Collision, CriterionOutcome, Drivable, Metrics, Observer, Score, Tick};
use crate::physics::{BoxPose, BoxSize, Owner, Physics};
use crate::road::RoadFrame;
use crate::sensors::Sensors;
use crate::signals::{EgoAtLines, SignalChange, SignalWatch, Signals, SignalsNow};
use crate::test_driver::{self, TestDriverState};
use crate::trace::{
    Digester, Trace, TraceActor, TraceArea, TraceLane, TraceMap, TraceObstacle, TraceRoad, TraceTick, TraceWorld,
};
use crate::traffic::{self, Occupant};
use crate::vehicle::{self, VehicleState};

/// Physics tick, seconds.
pub const DT: f64 = 0.02;
/// The stack runs every this many ticks (25 Hz).
pub const CONTROL_EVERY: u64 = 2;
/// Speeds above this mean the simulation diverged, m/s.
pub const RUNAWAY_SPEED: f64 = 120.0;
/// Height of the ego's collision box, metres.
pub const EGO_HEIGHT: f64 = 1.5;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every criterion held and the goal was reached.
    Passed,
    /// A criterion failed: the stack under test misbehaved.
    Failed,
    /// The simulation could not be completed (panic, divergence, invalid input).
    Error,
    /// The duration ran out before the goal was reached, with no criterion failed.
    Timeout,
    /// The scenario did not happen as written: a required scripted event (a trigger) never fired,
    /// so the run says nothing about the stack. Never a pass.
    Inconclusive,
}

impl Verdict {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Error => "error",
            Verdict::Timeout => "timeout",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// Wall-clock nanoseconds spent in each part of the tick loop, summed over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TickSplit {
    /// Actors (scripted and reactive traffic).
    pub actors_ns: u64,
    /// The vehicle model and rapier.
    pub physics_ns: u64,
    /// Lidar, detector, localisation.
    pub sensors_ns: u64,
    /// The autonomy stack.
    pub stack_ns: u64,
    /// Oracles and the digest.
    pub criteria_ns: u64,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one sentence (the first failed criterion, the error, or the timeout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Each criterion's outcome.
    pub criteria: Vec<CriterionOutcome>,
    /// Every scripted event (a step with a trigger) and when it fired.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<ScriptedEvent>,
    /// Every traffic light's changes of state (runs with signals only; ADR 0027).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<SignalChange>,
    /// Points earned under the scenario's `scoring` (none without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    /// What was measured.
    pub metrics: Metrics,
    /// Per-module wall-time percentiles, microseconds: reported, never judged.
    pub latency: BTreeMap<String, LatencySummary>,
    /// Per-module thread-CPU-time percentiles, microseconds: what budgets and the gate judge,
    /// estimated from the ticks the OS did not preempt, weighted against the bias of leaving the
    /// others out (`preempted` says how many; see [`crate::latency::Latencies`]).
    pub cpu_latency: BTreeMap<String, LatencySummary>,
    /// Simulated seconds.
    pub sim_s: f64,
    /// Ticks simulated.
    pub ticks: u64,
    /// SHA-256 over every tick's state.
    pub digest: String,
    /// Where the wall time went.
    pub split: TickSplit,
    /// The full trace.
    #[serde(skip)]
    pub trace: Trace,
}

fn mission(v: &Variant, road: Option<&RoadFrame>) -> (Mission, VehicleState) {
    let s = &v.scenario;
    let m = &s.ego.model;
    let vehicle = VehicleParams {
        length: m.length,
        width: m.width,
        wheelbase: m.wheelbase,
        max_accel: m.max_accel,
        max_decel: m.max_decel,
        max_steer: m.max_steer.to_radians(),
    };
    let (start, start_lane, start_s) = match (s.ego.start.pose(), road) {
        (Some(StartPose::Lane { lane, s: along, offset }), Some(r)) => {
            let (x, y, h) = r.to_world(along, r.lane_centre(lane) + offset);
            (VehicleState { x, y, heading: h, speed: s.ego.speed, ..Default::default() }, Some(lane), along)
        }
        (Some(StartPose::Pose { x, y, heading }), _) => {
            let along = road.map_or(0.0, |r| r.to_road(x, y).0);
            (
                VehicleState { x, y, heading: heading.to_radians(), speed: s.ego.speed, ..Default::default() },
                None,
                along,
            )
        }
        _ => (VehicleState { speed: s.ego.speed, ..Default::default() }, None, 0.0),
    };
    let goal = match &s.ego.goal {
        Goal::Distance(d) => MissionGoal::RoadDistance { s: start_s + d },
        Goal::Position { x, y, tolerance } => MissionGoal::Point { x: *x, y: *y, tolerance: *tolerance },
        Goal::Region { min_x, min_y, max_x, max_y } => {
            MissionGoal::Region { min_x: *min_x, min_y: *min_y, max_x: *max_x, max_y: *max_y }
        }
    };
    let area = s.world.area.as_ref().map(|a| AreaMap {
        min_x: a.bounds.min_x,
        min_y: a.bounds.min_y,
        max_x: a.bounds.max_x,
        max_y: a.bounds.max_y,
        speed_limit: a.speed_limit,
        obstacles: a
            .obstacles
            .iter()
            .map(|o| OrientedBox { x: o.x, y: o.y, heading: o.heading.to_radians(), length: o.length, width: o.width })
            .collect(),
    });
    // The road's kind, when the file declares it (a road's or a map's), is map information.
    let kind = s.world.road.as_ref().and_then(|r| r.kind).or_else(|| s.world.map.as_ref().and_then(|m| m.kind));
    let mission = Mission {
        road: road.map(|r| RoadMap {
            lanes: r.lanes,
            lane_width: r.lane_width,
            length: r.length,
            curvature: r.curvature,
            speed_limit: r.speed_limit,
            line: r.line.as_ref().map_or_else(Vec::new, |l| l.points().to_vec()),
            kind: kind.map(road_kind),
        }),
        area,
        goal,
        route: s.ego.route.iter().map(|p| (p.x, p.y)).collect(),
        start_lane,
        set_speed: s.ego.set_speed,
        zones: s.world.zones.iter().filter_map(|z| speed_zone(z, road)).collect(),
        vehicle,
        control_period: DT * CONTROL_EVERY as f64,
    };
    (mission, start)
}

/// A speed zone as the stack's map knows it (a road section needs the road).
fn speed_zone(z: &scenario_dsl::model::SpeedZone<f64>, road: Option<&RoadFrame>) -> Option<autonomy_stack::SpeedZone> {
    let region = match z.place()? {
        Place::Area(b) => ZoneRegion::Rect { min_x: b.min_x, min_y: b.min_y, max_x: b.max_x, max_y: b.max_y },
        Place::Road(sec) => {
            road?;
            ZoneRegion::Road { from_s: sec.from, to_s: sec.to }
        }
    };
    Some(autonomy_stack::SpeedZone { region, speed_limit: z.speed_limit })
}

fn road_kind(k: RoadKind) -> autonomy_stack::RoadKind {
    match k {
        RoadKind::Street => autonomy_stack::RoadKind::Street,
        RoadKind::Rural => autonomy_stack::RoadKind::Rural,
        RoadKind::Motorway => autonomy_stack::RoadKind::Motorway,
    }
}

/// Actors whose start gives an `overlap` placed on their lane: the offset that puts their centre
/// `overlap` ego widths left of the ego's centre line at its start.
fn resolve_overlaps(
    actors: &[Actor<f64>],
    road: Option<&RoadFrame>,
    ego: &VehicleState,
    width: f64,
) -> Vec<Actor<f64>> {
    actors
        .iter()
        .map(|a| {
            let (Some(overlap), Some(lane), Some(r)) = (a.start.overlap, a.start.lane, road) else { return a.clone() };
            let ego_d = r.to_road(ego.x, ego.y).1;
            let mut a = a.clone();
            a.start.offset = Some(ego_d + overlap * width - r.lane_centre(lane));
            a.start.overlap = None;
            a
        })
        .collect()
}

/// How far along the goal the ego is (0..1) and whether it has arrived.
fn goal_progress(
    goal: &MissionGoal,
    start: &VehicleState,
    ego: &VehicleState,
    road: Option<&RoadFrame>,
) -> (f64, bool) {
    match *goal {
        MissionGoal::RoadDistance { s } => {
            let (s0, s1) = match road {
                Some(r) => (r.to_road(start.x, start.y).0, r.to_road(ego.x, ego.y).0),
                None => (start.x, ego.x),
            };
            ((s1 - s0) / (s - s0).max(1e-9), s1 >= s)
        }
        MissionGoal::Point { x, y, tolerance } => {
            let d0 = libm::hypot(x - start.x, y - start.y).max(1e-9);
            let d = libm::hypot(x - ego.x, y - ego.y);
            (1.0 - d / d0, d <= tolerance)
        }
        MissionGoal::Region { min_x, min_y, max_x, max_y } => {
            let inside = (min_x..=max_x).contains(&ego.x) && (min_y..=max_y).contains(&ego.y);
            let cx = ego.x.clamp(min_x, max_x);
            let cy = ego.y.clamp(min_y, max_y);
            let d0 =
                libm::hypot(start.x.clamp(min_x, max_x) - start.x, start.y.clamp(min_y, max_y) - start.y).max(1e-9);
            (1.0 - libm::hypot(cx - ego.x, cy - ego.y) / d0, inside)
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn finite(v: &VehicleState) -> bool {
    [v.x, v.y, v.heading, v.speed, v.accel, v.steer].iter().all(|x| x.is_finite())
}

/// The system under test as the run loop drives it. [`Stack`] is the real one; tests substitute
/// misbehaving ones to prove that a panic or a NaN ends only that run.
pub trait Driver {
    /// One control tick.
    fn step(&mut self, frame: &SensorFrame, clock: &mut dyn Clock) -> StackOutput;

    /// One control tick with a test driver's longitudinal request (see [`DriverRequest`]).
    fn step_driven(
        &mut self,
        frame: &SensorFrame,
        driver: Option<DriverRequest>,
        clock: &mut dyn Clock,
    ) -> StackOutput {
        let _ = driver;
        self.step(frame, clock)
    }
}

impl Driver for Stack {
    fn step(&mut self, frame: &SensorFrame, clock: &mut dyn Clock) -> StackOutput {
        Stack::step(self, frame, clock)
    }

    fn step_driven(
        &mut self,
        frame: &SensorFrame,
        driver: Option<DriverRequest>,
        clock: &mut dyn Clock,
    ) -> StackOutput {
        Stack::step_driven(self, frame, driver, clock)
    }
}

/// Runs one variant with a stack configuration. `clock` only measures latency and the tick split.
pub fn run_variant(variant: &Variant, config: &StackConfig, clock: &mut dyn Clock) -> RunResult {
    run_with(variant, clock, &mut |mission| {
        Stack::new(config.clone(), mission.clone()).map(|s| Box::new(s) as Box<dyn Driver>).map_err(|e| e.to_string())
    })
}

/// The stack's mission for a variant: what `run_variant` hands to the stack before the first tick.
pub fn mission_for(variant: &Variant) -> Mission {
    let road = match map::build(variant) {
        Ok(Some(w)) => Some(w.road),
        _ => variant.scenario.world.road.as_ref().map(RoadFrame::new),
    };
    mission(variant, road.as_ref()).0
}

/// Builds the driver for a mission (an error becomes an `error` run).
pub type MakeDriver<'a> = dyn FnMut(&Mission) -> Result<Box<dyn Driver>, String> + 'a;

/// Runs one variant with the driver `make` builds from the mission (an error becomes an `error` run).
pub fn run_with(variant: &Variant, clock: &mut dyn Clock, make: &mut MakeDriver<'_>) -> RunResult {
    let s = &variant.scenario;
    // A map world: the ego's road along its route, the actors' map places and routes lowered. A map
    // that cannot be used makes the run an `error` naming the file.
    let (map_world, map_error) = match map::build(variant) {
        Ok(w) => (w, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let road = match &map_world {
        Some(w) => Some(w.road.clone()),
        None => s.world.road.as_ref().map(RoadFrame::new),
    };
    // Traffic lights and signs, placed on the road or map (a place that cannot be used is an error).
    let (signals, signal_error) = match Signals::build(&s.world, road.as_ref(), map_world.as_ref(), DT) {
        Ok(g) => (g, None),
        Err(e) => (Signals::default(), Some(e.to_string())),
    };
    let (stop_zone, yield_within) = s.criteria.iter().fold((5.0, 3.0), |acc, c| match c {
        Criterion::NoStopLineOverrun { max_distance, .. } => (*max_distance, acc.1),
        Criterion::NoFailureToYield { within, .. } => (acc.0, *within),
        _ => acc,
    });
    let mut watch = SignalWatch::new(stop_zone, yield_within);
    let (mission, start) = mission(variant, road.as_ref());
    let scenario_actors = resolve_overlaps(
        map_world.as_ref().map_or(&s.actors, |w| &w.actors),
        road.as_ref(),
        &start,
        mission.vehicle.width,
    );
    let friction = s.environment.friction;
    let speed_limit =
        road.as_ref().map_or_else(|| s.world.area.as_ref().map_or(f64::INFINITY, |a| a.speed_limit), |r| r.speed_limit);
    let lane_tolerance = s
        .criteria
        .iter()
        .find_map(|c| match c {
            Criterion::StayInLane { tolerance, .. } => Some(*tolerance),
            _ => None,
        })
        .unwrap_or(0.0);
    let mut observer = Observer::new(
        Drivable::new(road.clone(), s.world.area.as_ref().map(|a| &a.bounds)),
        speed_limit,
        lane_tolerance,
    );
    if s.expected.as_ref().is_some_and(|e| e.avoid == 0.0) {
        observer.allow_collision();
    }
    observer.watch_zones(&s.world.zones);
    let listed =
        scenario_actors.iter().cloned().chain(populate_traffic(s, road.as_ref(), &mission, &start, variant.seed));

    let all_actors: Vec<Actor<f64>> = listed.collect();
    let mut actors: Vec<ActorState> = all_actors.iter().map(|a| ActorState::new(a, road.as_ref())).collect();
    traffic::limit_braking(&mut actors, friction);
    let ego_size = BoxSize { length: mission.vehicle.length, width: mission.vehicle.width, height: EGO_HEIGHT };
    let obstacles: Vec<(BoxPose, BoxSize)> = s
        .world
        .area
        .iter()
        .flat_map(|a| &a.obstacles)
        .map(|o| {
            (
                BoxPose { x: o.x, y: o.y, heading: o.heading.to_radians() },
                BoxSize { length: o.length, width: o.width, height: o.height },
            )
        })
        .collect();
    let box_of = |a: &ActorState| {
        (BoxPose { x: a.x, y: a.y, heading: a.heading }, BoxSize { length: a.length, width: a.width, height: a.height })
    };
    let mut physics = Physics::new(
        DT,
        (BoxPose { x: start.x, y: start.y, heading: start.heading }, ego_size),
        &actors.iter().map(box_of).collect::<Vec<_>>(),
        &obstacles,
    );
    let mut sensors = Sensors::new(&s.environment, variant.seed, DT);
    let mut trace = Trace {
        variant: variant.key.to_string(),
        dt: DT,
        ego_size: [ego_size.length, ego_size.width],
        actors: all_actors
            .iter()
            .zip(&actors)
            .map(|(a, st)| TraceActor {
                id: a.id.clone(),
                kind: format!("{:?}", a.kind).to_lowercase(),
                length: st.length,
                width: st.width,
            })
            .collect(),
        world: trace_world(road.as_ref(), s.world.area.as_ref(), map_world.as_ref()),
        ticks: Vec::new(),
        ..Trace::default()
    };
    let obstacle_prints: Vec<Footprint> = obstacles
        .iter()
        .map(|(p, b)| Footprint { x: p.x, y: p.y, heading: p.heading, length: b.length, width: b.width })
        .collect();
    let mut digest = Digester::default();
    let mut latencies = Latencies::default();
    let mut split = TickSplit::default();
    let max_ticks = (s.duration / DT).ceil() as u64;

    let finish = |verdict: Verdict,
                  reason: Option<String>,
                  observer: &Observer,
                  ticks: u64,
                  digest: Digester,
                  trace: Trace,
                  latencies: &Latencies,
                  split: TickSplit| {
        let criteria = if verdict == Verdict::Error { Vec::new() } else { observer.judge(&s.criteria) };
        let score = s.scoring.as_ref().map(|sc| Score { points: 0.0, max: sc.points, outcome: "error".into() });
        let mut r = assemble(verdict, reason, criteria, Vec::new(), observer, ticks, digest, trace, latencies, split);
        r.score = score;
        r
    };

    if let Some(e) = map_error.or(signal_error) {
        return finish(Verdict::Error, Some(e), &observer, 0, digest, trace, &latencies, split);
    }
    let mut stack = match make(&mission) {
        Ok(st) => st,
        Err(e) => return finish(Verdict::Error, Some(e), &observer, 0, digest, trace, &latencies, split),
    };
    let mut ego = start;
    let mut command = ControlCommand::default();
    let mut output = StackOutput::default();
    let mut last_mode = Mode::Nominal;
    let mut test_driver = TestDriverState::new(&s.ego.driver, s.ego.speed, mission.vehicle.max_accel);
    // The line a path-following test driver holds: where the ego starts across the road.
    let start_d = road.as_ref().map_or(0.0, |r| r.to_road(start.x, start.y).1);
    let mut stopped_for = 0.0;
    let mut actor_contact: Option<ActorContact> = None;

    let ego_half_length = 0.5 * ego_size.length;
    for tick in 0..max_ticks {
        let time = tick as f64 * DT;
        // The lights' states during this tick: a function of the tick count alone.
        let light_states = signals.now(tick);
        let lights = SignalsNow { signals: &signals, states: &light_states };
        let ego_fp =
            Footprint { x: ego.x, y: ego.y, heading: ego.heading, length: ego_size.length, width: ego_size.width };
        let ego_velocity = (ego.speed * libm::cos(ego.heading), ego.speed * libm::sin(ego.heading));

        let ego_view = EgoView {
            footprint: ego_fp,
            velocity: ego_velocity,
            speed: ego.speed,
            s: road.as_ref().map(|r| r.to_road(ego.x, ego.y).0),
            stopped_for,
        };
        let t0 = clock.now_ns();
        let mut events = Vec::new();
        if tick % CONTROL_EVERY == 0 {
            let lidar = sensors.lidar(tick, &physics, &ego);
            let (detections, detections_age) = sensors.detector(tick, &physics, &ego, &actors).unzip();
            let frame = SensorFrame {
                tick: tick / CONTROL_EVERY,
                time,
                ego: sensors.localise(&ego),
                lidar,
                detections,
                detections_age: detections_age.unwrap_or(0.0),
                visibility: Some(sensors.visibility()),
                signals: match (&ego_view.s, signals.is_empty()) {
                    (Some(s), false) => sensors.signal_camera(tick, &signals, s + ego_half_length),
                    _ => Vec::new(),
                },
            };
            let t1 = clock.now_ns();
            split.sensors_ns += t1.saturating_sub(t0);
            // The test driver reads the truth, as a robot driver on a proving ground does.
            let request = test_driver.as_mut().map(|d| {
                let lead = d.leader().and_then(|id| actors::lead_of(id, &ego_view, &actors, road.as_ref()));
                let v = &mission.vehicle;
                let steer = road.as_ref().map(|r| test_driver::hold_line(&ego, r, start_d, v.wheelbase, v.max_steer));
                d.request(ego.speed, lead, steer)
            });
            match catch_unwind(AssertUnwindSafe(|| stack.step_driven(&frame, request, clock))) {
                Ok(out) => output = out,
                Err(p) => {
                    let reason = format!("the stack panicked at t={time:.2} s: {}", panic_message(p.as_ref()));
                    return finish(Verdict::Error, Some(reason), &observer, tick, digest, trace, &latencies, split);
                }
            }
            split.stack_ns += clock.now_ns().saturating_sub(t1);
            command = output.command;
            if let Some(d) = test_driver.as_mut() {
                d.observe(command.accel);
            }
            if !(command.accel.is_finite() && command.steer.is_finite()) {
                let reason = format!("the stack commanded a non-finite value at t={time:.2} s: {command:?}");
                return finish(Verdict::Error, Some(reason), &observer, tick, digest, trace, &latencies, split);
            }
            let tel = &output.telemetry;
            latencies.record(&tel.timings);
            let m = observer.metrics_mut();
            for e in &tel.events {
                *m.guardrail_activations.entry(format!("{:?}", e.reason)).or_default() += 1;
            }
            if tel.mode == Mode::Fallback && last_mode != Mode::Fallback {
                m.fallback_engagements += 1;
            }
            m.deadline_misses += u32::from(tel.deadline_miss);
            last_mode = tel.mode;
            events = tel.events.iter().map(|e| e.reason).collect();
        }

        let t2 = clock.now_ns();
        actors::step_all(&mut actors, time, DT, &ego_view, road.as_ref(), lights);
        let t2b = clock.now_ns();
        split.actors_ns += t2b.saturating_sub(t2);
        ego = vehicle::step(&ego, &command, &mission.vehicle, friction, DT);
        if !finite(&ego) || ego.speed > RUNAWAY_SPEED || actors.iter().any(|a| !(a.x.is_finite() && a.y.is_finite())) {
            let reason = format!("the simulation diverged at t={:.2} s (ego speed {:.1} m/s)", time + DT, ego.speed);
            return finish(Verdict::Error, Some(reason), &observer, tick, digest, trace, &latencies, split);
        }
        let contacts = physics.step(
            BoxPose { x: ego.x, y: ego.y, heading: ego.heading },
            &actors.iter().map(|a| box_of(a).0).collect::<Vec<_>>(),
        );
        let t3 = clock.now_ns();
        split.physics_ns += t3.saturating_sub(t2b);

        let now = time + DT;
        let ego_velocity = (ego.speed * libm::cos(ego.heading), ego.speed * libm::sin(ego.heading));
        for (a, b) in &contacts {
            let other = match (a, b) {
                (Owner::Ego, o) | (o, Owner::Ego) => *o,
                (Owner::Actor(i), Owner::Actor(j)) => {
                    // Actors that touch each other make the scenario invalid unless it says the
                    // contact is intended; the run goes on, so its trace stays what it was.
                    let (p, q) = (&actors[*i].id, &actors[*j].id);
                    if actor_contact.is_none() && !s.intended_contacts.iter().any(|k| k.covers(p, q)) {
                        actor_contact = Some(ActorContact { a: p.clone(), b: q.clone(), time: now });
                    }
                    continue;
                }
                _ => continue,
            };
            let (with, v, print) = match other {
                Owner::Actor(i) => (actors[i].id.clone(), actors[i].velocity, actors[i].footprint()),
                Owner::Obstacle(i) => (format!("obstacle#{i}"), (0.0, 0.0), obstacle_prints[i]),
                Owner::Ego => continue,
            };
            let (rx, ry) = (ego_velocity.0 - v.0, ego_velocity.1 - v.1);
            let relative_speed = libm::hypot(rx, ry);
            let ego_print =
                Footprint { x: ego.x, y: ego.y, heading: ego.heading, length: ego_size.length, width: ego_size.width };
            let (nx, ny) = oracle::contact_normal(&ego_print, &print);
            let along_contact = libm::fabs(rx * nx + ry * ny);
            observer.collide(Collision { with, time: now, relative_speed, ego_speed: ego.speed, along_contact });
        }
        let ego_fp =
            Footprint { x: ego.x, y: ego.y, heading: ego.heading, length: ego_size.length, width: ego_size.width };
        let measures = observer.observe(&Tick {
            time: now,
            dt: DT,
            ego: ego_fp,
            ego_velocity,
            speed: ego.speed,
            accel: ego.accel,
            lateral_accel: ego.lateral_accel,
            actors: &actors,
        });
        let nearest = obstacle_prints
            .iter()
            .map(|o| crate::footprint::distance(&ego_fp, o))
            .fold(measures.distance, |m, d| Some(m.map_or(d, |v: f64| v.min(d))));
        let (progress, arrived) = goal_progress(&mission.goal, &start, &ego, road.as_ref());
        observer.progress(progress, arrived.then_some(now));
        let record = TraceTick {
            t: now,
            ego: [ego.x, ego.y, ego.heading, ego.speed, ego.accel, ego.steer],
            command: [command.accel, command.steer],
            mode: output.telemetry.mode,
            events,
            actors: actors.iter().map(|a| [a.x, a.y, a.heading, libm::hypot(a.velocity.0, a.velocity.1)]).collect(),
            ttc: measures.ttc,
            nearest,
        };
        digest.tick(&record);
        trace.ticks.push(record);
        if let (false, Some(r)) = (signals.is_empty(), road.as_ref()) {
            digest.signals(&light_states);
            let (ego_s, ego_d) = r.to_road(ego.x, ego.y);
            let at = EgoAtLines { time: now, front: ego_s + ego_half_length, d: ego_d, speed: ego.speed };
            watch.observe(&signals, &light_states, at, &actors, r);
            observer.metrics_mut().signal_breaches.append(&mut watch.breaches);
        }
        split.criteria_ns += clock.now_ns().saturating_sub(t3);

        stopped_for = if ego.speed < actors::STOPPED { stopped_for + DT } else { 0.0 };
        // The scenario's own end: evaluated on the end-of-tick state, like arrival.
        let ended = s.end_when.as_ref().is_some_and(|t| {
            let view = EgoView {
                footprint: ego_fp,
                velocity: ego_velocity,
                speed: ego.speed,
                s: road.as_ref().map(|r| r.to_road(ego.x, ego.y).0),
                stopped_for,
            };
            actors::holds(t, None, now, &view, &actors, road.as_ref(), lights)
        });

        // A crash, arrival or the scenario's end condition ends the run.
        if !contacts.is_empty() && !observer.metrics().collisions.is_empty() || arrived || ended {
            let end = End { ticks: tick + 1, arrived, ended };
            let mut r = conclude(observer, &s.criteria, &actors, end, digest, trace, &latencies, split);
            r.signals = watch.changes;
            return scored(s, invalid_if_actors_touched(r, actor_contact));
        }
    }
    let end = End { ticks: max_ticks, arrived: false, ended: false };
    let mut r = conclude(observer, &s.criteria, &actors, end, digest, trace, &latencies, split);
    r.signals = watch.changes;
    scored(s, invalid_if_actors_touched(r, actor_contact))
}

/// The first contact between two actors that the scenario did not declare intended.
#[derive(Debug, Clone)]
struct ActorContact {
    a: String,
    b: String,
    time: f64,
}

/// A run in which two actors touched without the scenario saying so is an invalid scenario, not a
/// verdict on the stack: `error`, naming them (the criteria are still judged and reported).
fn invalid_if_actors_touched(mut r: RunResult, contact: Option<ActorContact>) -> RunResult {
    if let Some(k) = contact {
        r.verdict = Verdict::Error;
        r.reason = Some(format!(
            "actors `{}` and `{}` collided with each other at t={:.2} s: the scenario is invalid (fix their motion, or \
             declare the contact under `intended_contacts` with a reason)",
            k.a, k.b, k.time
        ));
    }
    r
}

/// The vehicles of the scenario's `traffic` block, kept clear of the ego and the listed actors.
fn populate_traffic(
    s: &scenario_dsl::Scenario<f64>,
    road: Option<&RoadFrame>,
    mission: &Mission,
    ego: &VehicleState,
    seed: u64,
) -> Vec<Actor<f64>> {
    let (Some(t), Some(r)) = (&s.traffic, road) else { return Vec::new() };
    let actors = resolve_overlaps(&s.actors, road, ego, mission.vehicle.width);
    let (ego_s, ego_d) = r.to_road(ego.x, ego.y);
    let ego =
        Occupant { s: ego_s, d: ego_d, length: mission.vehicle.length, width: mission.vehicle.width, speed: ego.speed };
    let listed = actors.iter().map(|a| {
        let st = ActorState::new(a, road);
        let (s, d) = st.road_position().unwrap_or_else(|| r.to_road(st.x, st.y));
        Occupant { s, d, length: st.length, width: st.width, speed: st.speed() }
    });
    let occupants: Vec<Occupant> = std::iter::once(ego).chain(listed).collect();
    traffic::populate(t, r, &occupants, seed)
}

/// The run's points under the scenario's `scoring`: an inconclusive or erroneous run earns none.
fn scored(s: &scenario_dsl::Scenario<f64>, mut r: RunResult) -> RunResult {
    r.score = s.scoring.as_ref().map(|sc| match r.verdict {
        Verdict::Inconclusive | Verdict::Error => {
            Score { points: 0.0, max: sc.points, outcome: r.verdict.as_str().to_owned() }
        }
        _ => oracle::score(sc, r.metrics.collisions.first()),
    });
    r
}

/// How the loop ended.
#[derive(Debug, Clone, Copy)]
struct End {
    ticks: u64,
    arrived: bool,
    ended: bool,
}

/// The world's geometry as the trace records it.
fn trace_world(
    road: Option<&RoadFrame>,
    area: Option<&scenario_dsl::model::Area<f64>>,
    map: Option<&map::MapWorld>,
) -> TraceWorld {
    // On a map the lanes are drawn from the map, and the ego's road is its route.
    let map = map.map(|w| TraceMap {
        file: w.map.file().to_owned(),
        lanes: w
            .map
            .drawn_lanes()
            .into_iter()
            .map(|l| TraceLane {
                centre: l.centre.iter().map(|&(x, y)| [x, y]).collect(),
                width: l.width,
                driving: l.driving,
            })
            .collect(),
        route: w.road.line.as_ref().map_or_else(Vec::new, |line| {
            line.points()
                .iter()
                .map(|p| {
                    let (x, y, _) = line.to_world(p.s, w.road.lane_centre(0));
                    [x, y]
                })
                .collect()
        }),
    });
    let road = if map.is_some() { None } else { road };
    TraceWorld {
        map,
        road: road.map(|r| TraceRoad {
            lanes: r.lanes,
            lane_width: r.lane_width,
            length: r.length,
            curvature: r.curvature,
            speed_limit: r.speed_limit,
        }),
        area: area.map(|a| TraceArea {
            min_x: a.bounds.min_x,
            min_y: a.bounds.min_y,
            max_x: a.bounds.max_x,
            max_y: a.bounds.max_y,
            speed_limit: a.speed_limit,
            obstacles: a
                .obstacles
                .iter()
                .enumerate()
                .map(|(i, o)| TraceObstacle {
                    id: format!("obstacle#{i}"),
                    x: o.x,
                    y: o.y,
                    heading: o.heading.to_radians(),
                    length: o.length,
                    width: o.width,
                })
                .collect(),
        }),
    }
}

#[allow(clippy::too_many_arguments)]
fn conclude(
    observer: Observer,
    criteria: &[Criterion<f64>],
    actors: &[ActorState],
    end: End,
    digest: Digester,
    trace: Trace,
    latencies: &Latencies,
    split: TickSplit,
) -> RunResult {
    let End { ticks, arrived, ended } = end;
    let outcomes = observer.judge(criteria);
    let failed = outcomes.iter().find(|o| !o.passed);
    let events: Vec<ScriptedEvent> = actors.iter().flat_map(ActorState::scripted_events).collect();
    let missing: Vec<String> = events
        .iter()
        .filter(|e| e.time.is_none() && !e.optional)
        .map(|e| format!("`{}` step {} ({})", e.actor, e.step + 1, e.what))
        .collect();
    let (verdict, reason) = match failed {
        Some(f) => (Verdict::Failed, Some(format!("{}: {}", f.criterion, f.message))),
        // A collision is the stack's, whatever the script did; a scenario that did not happen is
        // not evidence either way (ADR 0015).
        None if !missing.is_empty() && observer.metrics().collisions.is_empty() => (
            Verdict::Inconclusive,
            Some(format!(
                "the scenario did not happen: {} never fired by t={:.2} s",
                missing.join(", "),
                ticks as f64 * DT
            )),
        ),
        None if !(arrived || ended) && observer.metrics().collisions.is_empty() => (
            Verdict::Timeout,
            Some(format!(
                "the goal was not reached within {:.1} s ({:.0} % of the way)",
                ticks as f64 * DT,
                observer.metrics().progress * 100.0
            )),
        ),
        // A collision is never a pass, whether or not the scenario lists `no_collision` (ADR 0006),
        // unless the variant declares contact acceptable (`expected.avoid: 0`, ADR 0016).
        None => match observer.metrics().collisions.first().filter(|_| !observer.collision_allowed()) {
            Some(c) => (
                Verdict::Failed,
                Some(format!(
                    "collision with {} at t={:.2} s, {:.1} m/s relative (a collision always fails a run)",
                    c.with, c.time, c.relative_speed
                )),
            ),
            None => (Verdict::Passed, None),
        },
    };
    assemble(verdict, reason, outcomes, events, &observer, ticks, digest, trace, latencies, split)
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    verdict: Verdict,
    reason: Option<String>,
    criteria: Vec<CriterionOutcome>,
    events: Vec<ScriptedEvent>,
    observer: &Observer,
    ticks: u64,
    digest: Digester,
    trace: Trace,
    latencies: &Latencies,
    split: TickSplit,
) -> RunResult {
    RunResult {
        verdict,
        reason,
        criteria,
        events,
        signals: Vec::new(),
        score: None,
        metrics: observer.metrics().clone(),
        latency: latencies.summary(),
        cpu_latency: latencies.cpu_summary(),
        sim_s: ticks as f64 * DT,
        ticks,
        digest: digest.finish(),
        split,
        trace,
    }
}
