//! Traffic signals during a run (ADR 0027): each signal's stop line in the world, its state at a
//! tick (a pure function of the tick count and its program, never of a clock), the speed a vehicle
//! that obeys it may still drive at, and the watch that judges the ego at each line (red-light
//! violations, stop-line overruns, failures to yield).

use autonomy_stack::{LightState as SeenState, SignalObservation, StopLineKind};
use scenario_dsl::model::{ActorKind, LightState, MapPlace, SignalKind, World};
use serde::{Deserialize, Serialize};

use crate::actors::ActorState;
use crate::footprint::Footprint;
use crate::map::MapWorld;
use crate::road::RoadFrame;

/// A line placed on a map lane controls the ego's route when it lies this close to the route's
/// lane centre, metres.
const ON_ROUTE: f64 = 1.0;
/// ... and runs within this angle of the route's heading, radians.
const ALIGNED: f64 = 0.6;
/// A vehicle obeys a line only when heading within this angle of the line's direction, radians.
const FACING: f64 = 1.0;
/// Actors brake for a line with this deceleration, m/s².
const ACTOR_BRAKE: f64 = 2.5;
/// Amber: an actor stops when that takes no more than this deceleration, m/s².
const ACTOR_AMBER_DECEL: f64 = 3.0;
/// Actors stop this far before the line, metres.
const ACTOR_LINE_GAP: f64 = 1.0;
/// Actors look for lines this far ahead, metres.
const ACTOR_LOOKAHEAD: f64 = 80.0;
/// The signal camera and the stack's map report lines this far ahead, metres (map data; the
/// light's state only within the camera's range).
pub const MAP_HORIZON: f64 = 150.0;
/// Below this speed a vehicle stands, m/s.
pub const STANDING: f64 = 0.1;
/// Step of the constant-velocity prediction that decides a failure to yield, seconds.
const YIELD_STEP: f64 = 0.1;

/// A stop line in the world: a segment across the road through (`x`, `y`), for traffic heading
/// `heading`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopLine {
    /// Centre x, metres.
    pub x: f64,
    /// Centre y, metres.
    pub y: f64,
    /// Direction of the traffic it stops, radians.
    pub heading: f64,
    /// Half its length across the road, metres.
    pub half_width: f64,
    /// Its position along the ego's road, when it controls the ego's road (or route).
    pub route_s: Option<f64>,
}

/// One signal during a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSignal {
    /// Id from the scenario.
    pub id: String,
    /// Light, stop or yield.
    pub kind: SignalKind,
    /// (state, ticks) in program order.
    program: Vec<(LightState, u64)>,
    cycle: u64,
    offset: u64,
    repeat: bool,
    /// The stop line.
    pub line: StopLine,
    /// Depth of the conflict zone beyond the line, metres.
    pub zone: f64,
}

impl RunSignal {
    /// The light's state at `tick` (`None` for a sign).
    pub fn state(&self, tick: u64) -> Option<LightState> {
        if self.kind != SignalKind::TrafficLight || self.cycle == 0 {
            return None;
        }
        let k = tick.saturating_add(self.offset);
        let mut k = if self.repeat { k % self.cycle } else { k.min(self.cycle - 1) };
        for (state, ticks) in &self.program {
            if k < *ticks {
                return Some(*state);
            }
            k -= ticks;
        }
        self.program.last().map(|p| p.0)
    }

    /// Distance from the front of a body (centre `x`, `y`, `heading`, half length) to the line,
    /// when the body heads through it (negative once its front is past); `None` when the line does
    /// not face it or it passes beside it.
    pub fn front_distance(&self, x: f64, y: f64, heading: f64, half_length: f64) -> Option<f64> {
        let l = &self.line;
        if libm::fabs(wrap(heading - l.heading)) > FACING {
            return None;
        }
        let (c, s) = (libm::cos(l.heading), libm::sin(l.heading));
        let (dx, dy) = (l.x - x, l.y - y);
        let lateral = -dx * s + dy * c;
        if libm::fabs(lateral) > l.half_width + 0.5 {
            return None;
        }
        Some(dx * c + dy * s - half_length)
    }
}

fn wrap(a: f64) -> f64 {
    let tau = std::f64::consts::TAU;
    let mut a = libm::fmod(a + std::f64::consts::PI, tau);
    if a < 0.0 {
        a += tau;
    }
    a - std::f64::consts::PI
}

/// Every signal of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    /// In scenario order.
    pub list: Vec<RunSignal>,
}

/// Why a signal could not be placed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignalError {
    /// The place is not on the map.
    #[error("signal `{id}`: {message}")]
    Place {
        /// The signal.
        id: String,
        /// Why.
        message: String,
    },
}

impl Signals {
    /// The signals of a world, placed on its road or map; ticks of `dt` seconds.
    pub fn build(
        world: &World<f64>,
        road: Option<&RoadFrame>,
        map: Option<&MapWorld>,
        dt: f64,
    ) -> Result<Self, SignalError> {
        let mut list = Vec::with_capacity(world.signals.len());
        for g in &world.signals {
            let err = |message: String| SignalError::Place { id: g.id.clone(), message };
            let line = match (&g.at.s, &g.at.map, road) {
                (Some(s), _, Some(r)) => {
                    let (x, y, heading) = r.to_world(*s, 0.5 * r.width());
                    StopLine { x, y, heading, half_width: 0.5 * r.width().max(g.width), route_s: Some(*s) }
                }
                (None, Some(p), _) => {
                    let w = map.ok_or_else(|| err("a stop line on a map place needs a map".into()))?;
                    if !matches!(p.place(), Some(MapPlace::Lane { .. })) {
                        return Err(err("a stop line is placed on a lane".into()));
                    }
                    let (x, y, heading) = w.map.place(p).map_err(|e| err(e.to_string()))?;
                    let route_s = road.and_then(|r| {
                        let (s, d) = r.to_road(x, y);
                        let on = libm::fabs(d - r.lane_centre(0)) < ON_ROUTE
                            && libm::fabs(wrap(heading - r.heading_at(s))) < ALIGNED
                            && (0.0..=r.length).contains(&s);
                        on.then_some(s)
                    });
                    StopLine { x, y, heading, half_width: 0.5 * g.width, route_s }
                }
                _ => return Err(err("a stop line at `s` needs a road".into())),
            };
            let program: Vec<(LightState, u64)> =
                g.phases.iter().map(|p| (p.state, (libm::round(p.duration / dt) as u64).max(1))).collect();
            let cycle = program.iter().map(|p| p.1).sum();
            list.push(RunSignal {
                id: g.id.clone(),
                kind: g.kind,
                program,
                cycle,
                offset: libm::round(g.offset / dt) as u64,
                repeat: g.repeat,
                line,
                zone: g.conflict_zone,
            });
        }
        Ok(Self { list })
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every signal's state at `tick`.
    pub fn now(&self, tick: u64) -> Vec<Option<LightState>> {
        self.list.iter().map(|g| g.state(tick)).collect()
    }

    /// Index of the signal `id`.
    pub fn index(&self, id: &str) -> Option<usize> {
        self.list.iter().position(|g| g.id == id)
    }

    /// The speed an actor that obeys the signals may drive at now (`None`: no line limits it),
    /// and the stop sign it stands at (to remember that it stopped there).
    pub fn actor_cap(&self, states: &[Option<LightState>], a: &ActorState, stopped_at: &[usize]) -> ActorCap {
        let mut out = ActorCap::default();
        if !matches!(a.kind, ActorKind::Car | ActorKind::Truck | ActorKind::Cyclist) {
            return out;
        }
        let speed = libm::hypot(a.velocity.0, a.velocity.1).max(a.speed());
        for (i, g) in self.list.iter().enumerate() {
            let Some(dist) = g.front_distance(a.x, a.y, a.heading, 0.5 * a.length) else { continue };
            if !(-0.5..=ACTOR_LOOKAHEAD).contains(&dist) {
                continue;
            }
            let room = (dist - ACTOR_LINE_GAP).max(0.0);
            let stop = match (g.kind, states.get(i).copied().flatten()) {
                (SignalKind::TrafficLight, Some(LightState::Red)) => dist > 0.0,
                (SignalKind::TrafficLight, Some(LightState::Amber)) => {
                    dist > 0.0 && speed * speed <= 2.0 * ACTOR_AMBER_DECEL * room
                }
                (SignalKind::Stop, _) if !stopped_at.contains(&i) => {
                    if speed < STANDING && dist <= 3.0 {
                        out.stood_at = Some(i);
                        false
                    } else {
                        dist > 0.0
                    }
                }
                _ => false,
            };
            if stop {
                let cap = libm::sqrt(2.0 * ACTOR_BRAKE * room);
                out.cap = Some(out.cap.map_or(cap, |c: f64| c.min(cap)));
            }
        }
        out
    }

    /// The lines on the ego's road that ask road traffic to stop now (red, amber, or a stop
    /// sign), by `s`; for reactive actors, which treat them as a standing leader.
    pub fn road_stops(&self, states: &[Option<LightState>]) -> Vec<RoadStop> {
        self.list
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                let s = g.line.route_s?;
                match (g.kind, states.get(i).copied().flatten()) {
                    (SignalKind::TrafficLight, Some(LightState::Red)) => Some(RoadStop { s, amber: false }),
                    (SignalKind::TrafficLight, Some(LightState::Amber)) => Some(RoadStop { s, amber: true }),
                    _ => None,
                }
            })
            .collect()
    }
}

/// The signals and their states during one tick, as actors and triggers see them.
#[derive(Debug, Clone, Copy)]
pub struct SignalsNow<'a> {
    /// The signals.
    pub signals: &'a Signals,
    /// Their states this tick.
    pub states: &'a [Option<LightState>],
}

/// A run without signals.
static NO_SIGNALS: Signals = Signals { list: Vec::new() };

impl SignalsNow<'static> {
    /// No signals at all (a world without `signals`).
    pub fn none() -> Self {
        SignalsNow { signals: &NO_SIGNALS, states: &[] }
    }
}

impl SignalsNow<'_> {
    /// The state of signal `id` (`None`: a sign, or no such signal).
    pub fn state_of(&self, id: &str) -> Option<LightState> {
        self.signals.index(id).and_then(|i| self.states.get(i).copied().flatten())
    }
}

/// A line on the ego's road that asks road traffic to stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoadStop {
    /// Along the road, metres.
    pub s: f64,
    /// Amber: stop only when that is comfortable.
    pub amber: bool,
}

/// What the signals ask of one actor this tick.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ActorCap {
    /// The highest speed it may drive at.
    pub cap: Option<f64>,
    /// The stop sign it stands at now.
    pub stood_at: Option<usize>,
}

fn seen(s: LightState) -> SeenState {
    match s {
        LightState::Red => SeenState::Red,
        LightState::Amber => SeenState::Amber,
        LightState::Green => SeenState::Green,
    }
}

fn kind_seen(k: SignalKind) -> StopLineKind {
    match k {
        SignalKind::TrafficLight => StopLineKind::TrafficLight,
        SignalKind::Stop => StopLineKind::Stop,
        SignalKind::Yield => StopLineKind::Yield,
    }
}

/// The stop lines on the ego's road within [`MAP_HORIZON`] ahead of (or just behind) its front,
/// as the stack's map knows them; `state` is filled by the signal camera.
pub fn lines_ahead(signals: &Signals, ego_front: f64) -> Vec<(usize, SignalObservation)> {
    signals
        .list
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let s = g.line.route_s?;
            (s - ego_front > -g.zone && s - ego_front <= MAP_HORIZON).then_some((
                i,
                SignalObservation { id: i as u32, kind: kind_seen(g.kind), s, zone: g.zone, state: None },
            ))
        })
        .collect()
}

/// The state a camera reports for a light.
pub fn observed(state: LightState) -> SeenState {
    seen(state)
}

/// One breach of a signal by the ego.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalBreach {
    /// `red_light`, `stop_line_overrun` or `failure_to_yield`.
    pub kind: String,
    /// The signal's id.
    pub signal: String,
    /// When the ego's front crossed the line, seconds.
    pub time: f64,
    /// The ego's speed then, m/s.
    pub speed: f64,
    /// The vehicle with priority (a failure to yield).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// When it would have reached the conflict zone, seconds after the crossing (a failure to
    /// yield).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<f64>,
}

/// A light changing state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalChange {
    /// Simulated time, seconds.
    pub time: f64,
    /// The signal's id.
    pub signal: String,
    /// The new state.
    pub state: LightState,
}

/// Watches the ego at every line of its road.
#[derive(Debug, Clone, Default)]
pub struct SignalWatch {
    /// Where the ego's front was last tick, along its road.
    last_front: Option<f64>,
    /// Per signal: whether the ego stood before the line (stop signs).
    stood: Vec<bool>,
    /// How far before a stop sign's line a standstill counts, metres.
    pub stop_zone: f64,
    /// The failure-to-yield window, seconds.
    pub yield_within: f64,
    /// What went wrong.
    pub breaches: Vec<SignalBreach>,
    /// Every light's changes.
    pub changes: Vec<SignalChange>,
    last_states: Vec<Option<LightState>>,
}

/// The ego at the end of a tick.
#[derive(Debug, Clone, Copy)]
pub struct EgoAtLines {
    /// Time, seconds.
    pub time: f64,
    /// Along-road position of its front, metres.
    pub front: f64,
    /// Lateral offset of its centre, metres.
    pub d: f64,
    /// Speed, m/s.
    pub speed: f64,
}

impl SignalWatch {
    /// A watch with the criteria's parameters.
    pub fn new(stop_zone: f64, yield_within: f64) -> Self {
        Self { stop_zone, yield_within, ..Self::default() }
    }

    /// Records one tick.
    pub fn observe(
        &mut self,
        signals: &Signals,
        states: &[Option<LightState>],
        ego: EgoAtLines,
        actors: &[ActorState],
        road: &RoadFrame,
    ) {
        if self.last_states.len() != states.len() {
            self.last_states = vec![None; states.len()];
            self.stood = vec![false; states.len()];
        }
        for (i, (st, last)) in states.iter().zip(self.last_states.iter_mut()).enumerate() {
            if let Some(s) = st {
                if *last != Some(*s) {
                    self.changes.push(SignalChange { time: ego.time, signal: signals.list[i].id.clone(), state: *s });
                }
            }
            *last = *st;
        }
        let prev = self.last_front.replace(ego.front);
        for (i, g) in signals.list.iter().enumerate() {
            let Some(line) = g.line.route_s else { continue };
            let before = line - ego.front;
            if ego.speed < STANDING && (0.0..=self.stop_zone).contains(&before) {
                self.stood[i] = true;
            }
            let crossed = prev.is_some_and(|p| p < line) && ego.front >= line;
            if !crossed {
                continue;
            }
            let breach = |kind: &str| SignalBreach {
                kind: kind.to_owned(),
                signal: g.id.clone(),
                time: ego.time,
                speed: ego.speed,
                actor: None,
                reach: None,
            };
            match g.kind {
                SignalKind::TrafficLight => {
                    if states.get(i).copied().flatten() == Some(LightState::Red) {
                        self.breaches.push(breach("red_light"));
                    }
                }
                SignalKind::Stop | SignalKind::Yield => {
                    if g.kind == SignalKind::Stop && !self.stood[i] {
                        self.breaches.push(breach("stop_line_overrun"));
                    }
                    if let Some((actor, reach)) = priority_arrival(g, line, ego.d, actors, road, self.yield_within) {
                        self.breaches.push(SignalBreach {
                            actor: Some(actor),
                            reach: Some(reach),
                            ..breach("failure_to_yield")
                        });
                    }
                }
            }
        }
    }
}

/// The first vehicle with priority that would reach the conflict zone (the ego's lane from `line`
/// to `line + zone`) within `within` seconds at its current velocity, and when. Vehicles in the
/// ego's direction of travel (leaders and followers in its lane) have no priority over it.
fn priority_arrival(
    g: &RunSignal,
    line: f64,
    ego_d: f64,
    actors: &[ActorState],
    road: &RoadFrame,
    within: f64,
) -> Option<(String, f64)> {
    let lane = road.lane_at(ego_d).unwrap_or(0);
    let (lo, hi) = (f64::from(lane) * road.lane_width, f64::from(lane + 1) * road.lane_width);
    // Validation bounds `within` (30 s); the clamp keeps a bad variant from spinning here.
    let steps = libm::ceil(within.clamp(0.0, 30.0) / YIELD_STEP) as u32;
    let mut best: Option<(String, f64)> = None;
    for a in actors {
        if !matches!(a.kind, ActorKind::Car | ActorKind::Truck | ActorKind::Cyclist) {
            continue;
        }
        let speed = libm::hypot(a.velocity.0, a.velocity.1);
        if speed < 0.5 {
            continue;
        }
        let (s_now, _) = road.to_road(a.x, a.y);
        let heading = libm::atan2(a.velocity.1, a.velocity.0);
        if libm::fabs(wrap(heading - road.heading_at(s_now))) < 0.5 {
            continue;
        }
        for k in 0..=steps {
            let t = f64::from(k) * YIELD_STEP;
            let f = Footprint { x: a.x + a.velocity.0 * t, y: a.y + a.velocity.1 * t, ..a.footprint() };
            let inside = f.corners().iter().any(|(x, y)| {
                let (s, d) = road.to_road(*x, *y);
                (line..=line + g.zone).contains(&s) && (lo..=hi).contains(&d)
            });
            if inside {
                if best.as_ref().is_none_or(|b| t < b.1) {
                    best = Some((a.id.clone(), t));
                }
                break;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use scenario_dsl::model::{Phase, Road, Signal, StopLinePlace};

    fn world(phases: Vec<(LightState, f64)>, offset: f64, repeat: bool) -> World<f64> {
        World {
            road: Some(Road {
                lanes: 1,
                lane_width: 3.5,
                length: 200.0,
                curvature: 0.0,
                speed_limit: 15.0,
                kind: None,
            }),
            area: None,
            map: None,
            zones: Vec::new(),
            signals: vec![Signal {
                id: "main".into(),
                kind: SignalKind::TrafficLight,
                at: StopLinePlace { s: Some(60.0), map: None },
                width: 3.5,
                phases: phases.into_iter().map(|(state, duration)| Phase { state, duration }).collect(),
                offset,
                repeat,
                conflict_zone: 15.0,
            }],
        }
    }

    #[test]
    fn a_light_runs_its_program_by_tick_count_with_offset_and_repeat() {
        use LightState::*;
        let w = world(vec![(Red, 2.0), (Green, 3.0), (Amber, 1.0)], 1.0, true);
        let r = RoadFrame::new(w.road.as_ref().expect("road"));
        let g = Signals::build(&w, Some(&r), None, 0.02).expect("placed");
        let at = |t: f64| g.list[0].state(libm::round(t / 0.02) as u64);
        // Offset 1 s: red for one more second, green 1..4, amber 4..5, red again from 5.
        assert_eq!(
            [at(0.0), at(0.98), at(1.0), at(3.98), at(4.0), at(5.0), at(7.0)],
            [Some(Red), Some(Red), Some(Green), Some(Green), Some(Amber), Some(Red), Some(Green)]
        );
        let once = world(vec![(Red, 2.0), (Green, 3.0)], 0.0, false);
        let g = Signals::build(&once, Some(&r), None, 0.02).expect("placed");
        assert_eq!(g.list[0].state(10_000), Some(Green), "without repeat the last phase holds");
    }

    #[test]
    fn a_line_faces_traffic_in_its_direction_only() {
        let w = world(vec![(LightState::Red, 1.0)], 0.0, true);
        let r = RoadFrame::new(w.road.as_ref().expect("road"));
        let g = &Signals::build(&w, Some(&r), None, 0.02).expect("placed").list[0];
        // A car centred at x = 40 in the lane heading +x: its front is 60 - 42.3 = 17.7 m short.
        let d = g.front_distance(40.0, 1.75, 0.0, 2.3).expect("faces it");
        assert!((d - 17.7).abs() < 1e-9, "{d}");
        assert_eq!(g.front_distance(40.0, 1.75, std::f64::consts::PI, 2.3), None, "oncoming");
        assert_eq!(g.front_distance(40.0, 12.0, 0.0, 2.3), None, "beside the line");
    }
}
