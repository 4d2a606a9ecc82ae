//! Actors: their state, scripted manoeuvres and the triggers that start them, and (through
//! [`crate::traffic`]) reactive actors that drive by a driver model. Every actor reads the same
//! start-of-tick snapshot, so the order in which actors update never matters.

use scenario_dsl::model::{Actor, ActorKind, Compare, CrossDirection, Manoeuvre, StartPose, Step, Trigger};

use crate::footprint::{self, Footprint};
use crate::road::RoadFrame;
use crate::signals::SignalsNow;
use crate::traffic::{self, DriveState};

/// Deceleration with which a scripted actor slows to the speed a stop line allows, m/s².
const LINE_BRAKE: f64 = 6.0;
/// Acceleration with which a scripted actor that waited at a line drives off again, m/s².
const LINE_PULL_AWAY: f64 = 2.0;

/// Default height of an actor's collision box, metres (lidar sees what rises above its mount).
pub fn height_of(kind: ActorKind) -> f64 {
    kind.default_height()
}

/// Where an actor lives: on the road (s, d) or free in the plane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Frame {
    Road { s: f64, d: f64, v_long: f64, v_lat: f64 },
    Plane,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Active {
    started: f64,
    from_d: f64,
    waypoint: usize,
}

/// The ego as actors and triggers see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EgoView {
    /// Footprint.
    pub footprint: Footprint,
    /// World velocity.
    pub velocity: (f64, f64),
    /// Speed.
    pub speed: f64,
    /// Road coordinate, when there is a road.
    pub s: Option<f64>,
    /// How long the ego has been standing (below [`STOPPED`]), seconds.
    pub stopped_for: f64,
}

/// Below this speed the ego counts as standing for `ego_stopped`, m/s.
pub const STOPPED: f64 = 0.1;

/// One actor during a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorState {
    /// Id from the scenario.
    pub id: String,
    /// Kind.
    pub kind: ActorKind,
    /// Footprint length.
    pub length: f64,
    /// Footprint width.
    pub width: f64,
    /// Box height.
    pub height: f64,
    /// Centre x.
    pub x: f64,
    /// Centre y.
    pub y: f64,
    /// Heading, radians.
    pub heading: f64,
    /// World velocity, m/s.
    pub velocity: (f64, f64),
    /// Commanded speed along its motion, m/s.
    pub(crate) speed: f64,
    pub(crate) frame: Frame,
    /// The driver of a reactive actor (`drive` in the scenario); scripted actors have none.
    pub(crate) drive: Option<DriveState>,
    behaviour: Vec<Step<f64>>,
    step: usize,
    active: Option<Active>,
    /// When each triggered step fired: (step index, simulated time).
    fired: Vec<(usize, f64)>,
    /// After a `run_red_light` step: signals no longer stop it.
    ignores_signals: bool,
    /// The stop signs it has stood at (indices into the run's signals).
    stopped_at: Vec<usize>,
    /// Whether a stop line held it below its manoeuvre's speed.
    held: bool,
    /// The speed a stop line took a road-frame actor down from, to resume once released.
    resume_speed: Option<f64>,
}

/// One scripted event: a step with a trigger, and when it fired.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScriptedEvent {
    /// The actor.
    pub actor: String,
    /// The step's index in the actor's behaviour (0-based).
    pub step: usize,
    /// What the step does, e.g. `cross_road`, and when: `cross_road when ttc`.
    pub what: String,
    /// When the trigger fired, simulated seconds; absent when it never did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
    /// Whether the scenario lets it not happen.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

impl ActorState {
    /// The actor at its start.
    pub fn new(a: &Actor<f64>, road: Option<&RoadFrame>) -> Self {
        let (default_length, default_width) = a.kind.default_size();
        let size = a.size.as_ref();
        let length = size.and_then(|s| s.length).unwrap_or(default_length);
        let width = size.and_then(|s| s.width).unwrap_or(default_width);
        let height = size.and_then(|s| s.height).unwrap_or_else(|| height_of(a.kind));
        let (frame, x, y, heading) = match (a.start.pose(), road) {
            (Some(StartPose::Lane { lane, s, offset }), Some(r)) => {
                let d = r.lane_centre(lane) + offset;
                let (x, y, h) = r.to_world(s, d);
                (Frame::Road { s, d, v_long: a.speed, v_lat: 0.0 }, x, y, h)
            }
            (Some(StartPose::Pose { x, y, heading }), _) => (Frame::Plane, x, y, heading.to_radians()),
            // Validation guarantees one of the above; an unplaced actor stays at the origin.
            _ => (Frame::Plane, 0.0, 0.0, 0.0),
        };
        // Waypoints relative to the start become places in the world, once, here.
        let mut behaviour = a.behaviour.clone();
        for step in &mut behaviour {
            let crossing = match step.action {
                Manoeuvre::CrossRoad { speed, accel, .. } => Some((speed, accel)),
                _ => None,
            };
            if let Some(t) = step.when.as_mut() {
                fill_impact_point(t, crossing);
            }
            if let Manoeuvre::FollowWaypoints { points, relative, .. } = &mut step.action {
                if *relative {
                    for p in points.iter_mut() {
                        p.x += x;
                        p.y += y;
                    }
                    *relative = false;
                }
            }
        }
        let mut state = Self {
            id: a.id.clone(),
            kind: a.kind,
            length,
            width,
            height,
            x,
            y,
            heading,
            velocity: (0.0, 0.0),
            speed: a.speed,
            frame,
            drive: a.drive.as_ref().map(|d| DriveState::new(d, road.map_or(a.speed, |r| r.speed_limit))),
            behaviour,
            step: 0,
            active: None,
            fired: Vec::new(),
            ignores_signals: false,
            stopped_at: Vec::new(),
            held: false,
            resume_speed: None,
        };
        state.velocity = state.world_velocity(road);
        state
    }

    /// The footprint.
    pub fn footprint(&self) -> Footprint {
        Footprint { x: self.x, y: self.y, heading: self.heading, length: self.length, width: self.width }
    }

    /// Road coordinate s, when on the road.
    pub fn s(&self, road: Option<&RoadFrame>) -> Option<f64> {
        match self.frame {
            Frame::Road { s, .. } => Some(s),
            Frame::Plane => road.map(|r| r.to_road(self.x, self.y).0),
        }
    }

    /// Every step with a trigger, with the time it fired (if it did).
    pub fn scripted_events(&self) -> Vec<ScriptedEvent> {
        self.behaviour
            .iter()
            .enumerate()
            .filter_map(|(i, st)| {
                let when = st.when.as_ref()?;
                Some(ScriptedEvent {
                    actor: self.id.clone(),
                    step: i,
                    what: format!("{} when {}", st.action.name(), when.name()),
                    time: self.fired.iter().find(|(k, _)| *k == i).map(|(_, t)| *t),
                    optional: st.optional,
                })
            })
            .collect()
    }

    /// The driver of a reactive actor.
    pub fn drive(&self) -> Option<&DriveState> {
        self.drive.as_ref()
    }

    /// Road coordinates (s, d), when on the road frame.
    pub fn road_position(&self) -> Option<(f64, f64)> {
        match self.frame {
            Frame::Road { s, d, .. } => Some((s, d)),
            Frame::Plane => None,
        }
    }

    /// Speed along its motion, m/s.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    fn world_velocity(&self, road: Option<&RoadFrame>) -> (f64, f64) {
        match (self.frame, road) {
            (Frame::Road { s, v_long, v_lat, .. }, Some(r)) => {
                let h = r.heading_at(s);
                let (sn, cs) = (libm::sin(h), libm::cos(h));
                (v_long * cs - v_lat * sn, v_long * sn + v_lat * cs)
            }
            _ => (self.speed * libm::cos(self.heading), self.speed * libm::sin(self.heading)),
        }
    }
}

fn compare(cmp: &Compare<f64>, value: f64) -> bool {
    match cmp {
        Compare::Below(v) => value < *v,
        Compare::Above(v) => value > *v,
    }
}

/// A body a trigger can measure: the ego or an actor.
struct Body {
    footprint: Footprint,
    velocity: (f64, f64),
    s: Option<f64>,
}

fn body(who: &str, ego: &EgoView, all: &[ActorState], road: Option<&RoadFrame>) -> Option<Body> {
    if who == "ego" {
        return Some(Body { footprint: ego.footprint, velocity: ego.velocity, s: ego.s });
    }
    let a = all.iter().find(|a| a.id == who)?;
    Some(Body { footprint: a.footprint(), velocity: a.velocity, s: a.s(road) })
}

/// Signed gap, bumper to bumper, positive while `a` leads `b` (along the road, or else along `b`'s
/// heading).
fn gap(a: &Body, b: &Body) -> f64 {
    let half = 0.5 * (a.footprint.length + b.footprint.length);
    let ahead = match (a.s, b.s) {
        (Some(sa), Some(sb)) => sa - sb,
        _ => {
            let (c, s) = (libm::cos(b.footprint.heading), libm::sin(b.footprint.heading));
            (a.footprint.x - b.footprint.x) * c + (a.footprint.y - b.footprint.y) * s
        }
    };
    ahead - half
}

/// Whether `trigger` holds now for `actor` (`None` for conditions that belong to no actor, such as
/// `end_when`; measures relative to "this actor" never hold then).
pub fn holds(
    trigger: &Trigger<f64>,
    actor: Option<&ActorState>,
    time: f64,
    ego: &EgoView,
    all: &[ActorState],
    road: Option<&RoadFrame>,
    signals: SignalsNow<'_>,
) -> bool {
    let ego_body = || Body { footprint: ego.footprint, velocity: ego.velocity, s: ego.s };
    let this = || actor.map(|a| Body { footprint: a.footprint(), velocity: a.velocity, s: a.s(road) });
    match trigger {
        Trigger::Time { after } => time >= *after,
        Trigger::GapToEgo(cmp) => this().is_some_and(|a| compare(cmp, gap(&a, &ego_body()))),
        Trigger::DistanceToEgo(cmp) => this().is_some_and(|a| {
            compare(cmp, libm::hypot(a.footprint.x - ego.footprint.x, a.footprint.y - ego.footprint.y))
        }),
        Trigger::EgoSpeed(cmp) => compare(cmp, ego.speed),
        Trigger::Ttc(cmp) => this().is_some_and(|a| {
            let ttc = footprint::time_to_collision(&ego.footprint, ego.velocity, &a.footprint, a.velocity, 30.0);
            compare(cmp, ttc.unwrap_or(f64::INFINITY))
        }),
        Trigger::ActorReached { actor: who, s, position, radius } => {
            let Some(b) = body(who, ego, all, road) else { return false };
            match (s, position) {
                (Some(s), _) => b.s.is_some_and(|ts| ts >= *s),
                (None, Some(p)) => libm::hypot(b.footprint.x - p.x, b.footprint.y - p.y) <= *radius,
                (None, None) => false,
            }
        }
        Trigger::EgoStopped { duration } => ego.speed < STOPPED && ego.stopped_for >= *duration - 1e-9,
        Trigger::Between { a, b, distance, gap: g, ttc } => {
            let (Some(a), Some(b)) = (body(a, ego, all, road), body(b, ego, all, road)) else { return false };
            if let Some(cmp) = distance {
                compare(cmp, libm::hypot(a.footprint.x - b.footprint.x, a.footprint.y - b.footprint.y))
            } else if let Some(cmp) = g {
                compare(cmp, gap(&a, &b))
            } else if let Some(cmp) = ttc {
                let t = footprint::time_to_collision(&a.footprint, a.velocity, &b.footprint, b.velocity, 30.0);
                compare(cmp, t.unwrap_or(f64::INFINITY))
            } else {
                false
            }
        }
        Trigger::Signal { id, state } => signals.state_of(id) == Some(*state),
        Trigger::ImpactPoint { at, speed, accel } => {
            let (Some(a), Some(r), Some(ego_s), Some(speed)) = (actor, road, ego.s, *speed) else { return false };
            impact_point_due(a, ego, ego_s, r, *at, speed, *accel)
        }
        Trigger::All(ts) => ts.iter().all(|t| holds(t, actor, time, ego, all, road, signals)),
        Trigger::Any(ts) => ts.iter().any(|t| holds(t, actor, time, ego, all, road, signals)),
        Trigger::Not(t) => !holds(t, actor, time, ego, all, road, signals),
    }
}

/// Whether an actor crossing at `speed` (from standing at `accel`) reaches the point `at` of the
/// ego's width no later than the ego's front reaches the actor at its current speed.
fn impact_point_due(
    a: &ActorState,
    ego: &EgoView,
    ego_s: f64,
    r: &RoadFrame,
    at: f64,
    speed: f64,
    accel: Option<f64>,
) -> bool {
    if ego.speed < STOPPED || speed <= 0.0 {
        return false;
    }
    let (a_s, a_d) = a.road_position().unwrap_or_else(|| r.to_road(a.x, a.y));
    let ego_d = r.to_road(ego.footprint.x, ego.footprint.y).1;
    let point = ego_d - 0.5 * ego.footprint.width + at * ego.footprint.width;
    let lateral = libm::fabs(point - a_d);
    let t_actor = match accel {
        // Accelerating from standing to `speed`, then at it.
        Some(acc) if acc > 0.0 => {
            let ramp = speed * speed / (2.0 * acc);
            if lateral <= ramp {
                libm::sqrt(2.0 * lateral / acc)
            } else {
                speed / acc + (lateral - ramp) / speed
            }
        }
        _ => lateral / speed,
    };
    // The actor's extent along the road, from its heading relative to the road's.
    let dh = a.heading - r.heading_at(a_s);
    let half = 0.5 * (libm::fabs(libm::cos(dh)) * a.length + libm::fabs(libm::sin(dh)) * a.width);
    let gap = a_s - half - (ego_s + 0.5 * ego.footprint.length);
    gap > 0.0 && gap / ego.speed <= t_actor
}

/// Fills an `impact_point` trigger's missing speed and acceleration from the `cross_road` its step
/// starts.
fn fill_impact_point(t: &mut Trigger<f64>, crossing: Option<(f64, Option<f64>)>) {
    match t {
        Trigger::ImpactPoint { speed, accel, .. } => {
            if let (None, Some((v, a))) = (*speed, crossing) {
                *speed = Some(v);
                if accel.is_none() {
                    *accel = a;
                }
            }
        }
        Trigger::All(ts) | Trigger::Any(ts) => ts.iter_mut().for_each(|t| fill_impact_point(t, crossing)),
        Trigger::Not(t) => fill_impact_point(t, crossing),
        _ => {}
    }
}

/// Advances every actor by `dt`: triggers and reactive drivers read the state at the start of the
/// tick.
pub fn step_all(
    actors: &mut [ActorState],
    time: f64,
    dt: f64,
    ego: &EgoView,
    road: Option<&RoadFrame>,
    signals: SignalsNow<'_>,
) {
    let stops = signals.signals.road_stops(signals.states);
    let plan = traffic::plan(actors, ego, road, time, &stops);
    let starts: Vec<bool> = actors
        .iter()
        .map(|a| {
            a.active.is_none()
                && a.behaviour.get(a.step).is_some_and(|st| {
                    st.when.as_ref().is_none_or(|t| holds(t, Some(a), time, ego, actors, road, signals))
                })
        })
        .collect();
    // What the signals ask of each scripted actor, from the start-of-tick state.
    let caps: Vec<_> = actors
        .iter()
        .map(|a| {
            (!signals.signals.is_empty() && !a.ignores_signals && a.drive.is_none())
                .then(|| signals.signals.actor_cap(signals.states, a, &a.stopped_at))
        })
        .collect();
    for ((a, start), cap) in actors.iter_mut().zip(starts).zip(caps) {
        if a.drive.is_some() {
            continue;
        }
        if let Some(i) = cap.and_then(|c| c.stood_at) {
            a.stopped_at.push(i);
        }
        let cap = cap.and_then(|c| c.cap);
        if start {
            let from_d = match a.frame {
                Frame::Road { d, .. } => d,
                Frame::Plane => 0.0,
            };
            a.active = Some(Active { started: time, from_d, waypoint: 0 });
            if a.behaviour.get(a.step).is_some_and(|st| st.when.is_some()) {
                a.fired.push((a.step, time));
            }
        }
        advance(a, time, dt, road, cap);
    }
    if let (Some(plan), Some(r)) = (plan, road) {
        traffic::apply(actors, &plan, time, dt, r);
    }
}

fn approach(v: f64, target: f64, rate: f64, dt: f64) -> f64 {
    if v < target {
        (v + rate * dt).min(target)
    } else {
        (v - rate * dt).max(target)
    }
}

/// The speed of a scripted actor under a stop line's `cap`: it brakes down to the cap, and once
/// released pulls away to `wanted` (without a line it keeps its old behaviour exactly).
fn line_speed(a: &mut ActorState, wanted: f64, cap: Option<f64>, dt: f64) -> f64 {
    match cap {
        Some(c) if c < wanted => {
            a.held = true;
            if a.speed > c {
                (a.speed - LINE_BRAKE * dt).max(c)
            } else {
                (a.speed + LINE_PULL_AWAY * dt).min(c)
            }
        }
        _ if a.held => {
            let v = (a.speed + LINE_PULL_AWAY * dt).min(wanted);
            a.held = v < wanted;
            v
        }
        _ => wanted,
    }
}

fn advance(a: &mut ActorState, time: f64, dt: f64, road: Option<&RoadFrame>, cap: Option<f64>) {
    let manoeuvre = a.active.and_then(|_| a.behaviour.get(a.step).map(|s| s.action.clone()));
    let mut done = false;
    let mut lateral: Option<f64> = None; // target d this tick, for lane changes and crossings
    if let (Some(m), Some(act)) = (manoeuvre, a.active) {
        let elapsed = time + dt - act.started;
        match m {
            Manoeuvre::KeepLane { speed, accel } => {
                a.speed = approach(a.speed, speed, accel, dt);
                done = a.speed == speed;
            }
            Manoeuvre::ChangeLane { to, duration, lateral_speed } => {
                if let Some(r) = road {
                    let target = r.lane_centre(to);
                    // A mean lateral speed sets the duration from the distance to go.
                    let duration = lateral_speed.map_or(duration, |v| (libm::fabs(target - act.from_d) / v).max(dt));
                    let p = (elapsed / duration).min(1.0);
                    lateral =
                        Some(act.from_d + (target - act.from_d) * 0.5 * (1.0 - libm::cos(std::f64::consts::PI * p)));
                    done = p >= 1.0;
                } else {
                    done = true;
                }
            }
            Manoeuvre::Brake { to_speed, decel, jerk } => {
                // With a jerk limit the deceleration builds up from zero.
                let decel = jerk.map_or(decel, |j| decel.min(j * elapsed));
                a.speed = approach(a.speed, to_speed.min(a.speed), decel, dt);
                done = a.speed <= to_speed;
            }
            Manoeuvre::Stop { decel } => {
                a.speed = approach(a.speed, 0.0, decel, dt);
                done = a.speed == 0.0;
            }
            Manoeuvre::StartMoving { speed, accel } => {
                a.speed = approach(a.speed, speed, accel, dt);
                done = a.speed == speed;
            }
            Manoeuvre::Wait { duration } => done = elapsed >= duration,
            Manoeuvre::RunRedLight {} => {
                a.ignores_signals = true;
                done = true;
            }
            // `map::build` lowers a route to `follow_waypoints` before the run starts.
            Manoeuvre::FollowRoute { .. } => done = true,
            Manoeuvre::CrossRoad { speed, direction, accel } => {
                if let (Some(r), Frame::Road { d, v_lat, .. }) = (road, a.frame) {
                    let sign = if direction == CrossDirection::Left { 1.0 } else { -1.0 };
                    // With an acceleration the walker starts from standing.
                    let speed = accel.map_or(speed, |acc| (libm::fabs(v_lat) + acc * dt).min(speed));
                    let next = d + sign * speed * dt;
                    let beyond = if sign > 0.0 { next > r.width() + 1.0 } else { next < -1.0 };
                    lateral = Some(next);
                    a.speed = 0.0;
                    if beyond {
                        done = true;
                        lateral = Some(d);
                    }
                } else {
                    done = true;
                }
            }
            Manoeuvre::FollowWaypoints { points, speed, .. } => {
                to_plane(a, road);
                let mut i = act.waypoint;
                let speed = line_speed(a, speed, cap, dt);
                let mut travel = speed * dt;
                a.speed = speed;
                while let Some(p) = points.get(i) {
                    let dist = libm::hypot(p.x - a.x, p.y - a.y);
                    if dist <= travel {
                        a.x = p.x;
                        a.y = p.y;
                        travel -= dist;
                        i += 1;
                        continue;
                    }
                    a.heading = libm::atan2(p.y - a.y, p.x - a.x);
                    a.x += travel * libm::cos(a.heading);
                    a.y += travel * libm::sin(a.heading);
                    break;
                }
                if let Some(act) = a.active.as_mut() {
                    act.waypoint = i;
                }
                if i >= points.len() {
                    a.speed = 0.0;
                    done = true;
                }
                a.velocity = a.world_velocity(road);
                finish(a, done);
                return;
            }
        }
    }
    match (cap, a.resume_speed) {
        (Some(c), _) if a.speed > c => {
            a.resume_speed.get_or_insert(a.speed);
            a.speed = (a.speed - LINE_BRAKE * dt).max(c);
        }
        (Some(_), _) => {}
        // Released: back to the speed it had (a manoeuvre that changes speed takes over anyway).
        (None, Some(v)) => {
            a.speed = (a.speed + LINE_PULL_AWAY * dt).min(v);
            if a.speed >= v {
                a.resume_speed = None;
            }
        }
        (None, None) => {}
    }
    move_actor(a, dt, road, lateral);
    finish(a, done);
}

fn finish(a: &mut ActorState, done: bool) {
    if done {
        a.active = None;
        a.step += 1;
    }
}

fn to_plane(a: &mut ActorState, road: Option<&RoadFrame>) {
    if let Frame::Road { .. } = a.frame {
        a.velocity = a.world_velocity(road);
        a.frame = Frame::Plane;
    }
}

fn move_actor(a: &mut ActorState, dt: f64, road: Option<&RoadFrame>, lateral: Option<f64>) {
    match (a.frame, road) {
        (Frame::Road { s, d, .. }, Some(r)) => {
            let crossing = lateral.is_some() && a.speed == 0.0;
            let v_long = a.speed;
            let s2 = s + v_long * dt;
            let d2 = lateral.unwrap_or(d);
            let v_lat = (d2 - d) / dt;
            a.frame = Frame::Road { s: s2, d: d2, v_long, v_lat };
            let (x, y, h) = r.to_world(s2, d2);
            a.x = x;
            a.y = y;
            a.heading = if crossing {
                h + if v_lat >= 0.0 { std::f64::consts::FRAC_PI_2 } else { -std::f64::consts::FRAC_PI_2 }
            } else if v_long > 0.0 {
                h + libm::atan2(v_lat, v_long)
            } else {
                a.heading
            };
        }
        _ => {
            a.x += a.speed * libm::cos(a.heading) * dt;
            a.y += a.speed * libm::sin(a.heading) * dt;
        }
    }
    a.velocity = a.world_velocity(road);
}

/// The signed gap from the ego to actor `id` (bumper to bumper, positive while it leads) and the
/// actor's speed along the ego's heading; `None` when there is no such actor.
pub fn lead_of(id: &str, ego: &EgoView, all: &[ActorState], road: Option<&RoadFrame>) -> Option<(f64, f64)> {
    let lead = body(id, ego, all, road)?;
    let ego_body = Body { footprint: ego.footprint, velocity: ego.velocity, s: ego.s };
    let (c, s) = (libm::cos(ego.footprint.heading), libm::sin(ego.footprint.heading));
    Some((gap(&lead, &ego_body), lead.velocity.0 * c + lead.velocity.1 * s))
}
