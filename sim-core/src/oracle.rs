//! Oracles: observers that see every tick, accumulate the run's metrics, and at the end judge each
//! criterion with its measured value ("min TTC 0.62 s < 1.0 s at t=7.42 s with actor cutter").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use scenario_dsl::model::{place_of, Bounds, Criterion, Criticality, ImpactMeasure, Place, Scoring, SpeedZone};

use crate::actors::ActorState;
use crate::footprint::{self, Footprint};
use crate::road::RoadFrame;
use crate::signals::SignalBreach;

/// How far ahead TTC looks, seconds; beyond it the TTC counts as infinite.
pub const TTC_HORIZON: f64 = 10.0;
/// Below this speed the ego counts as standing still for jerk, m/s.
pub const MOVING: f64 = 0.5;
/// How long the ego may straddle lanes (a lane change) before `stay_in_lane` fails, seconds.
pub const LANE_CHANGE_ALLOWANCE: f64 = 4.0;

/// An extreme value with when and with whom it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extreme {
    /// The value.
    pub value: f64,
    /// Simulated time, seconds.
    pub time: f64,
    /// The actor involved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// One collision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collision {
    /// What the ego hit: an actor id, or `obstacle#i`.
    pub with: String,
    /// Simulated time, seconds.
    pub time: f64,
    /// Relative speed at impact, m/s.
    pub relative_speed: f64,
    /// The ego's own speed at impact, m/s (0 in results stored before it was measured).
    #[serde(default)]
    pub ego_speed: f64,
    /// Closing speed along the contact's normal (the face of the ego that was hit), m/s.
    #[serde(default)]
    pub along_contact: f64,
}

impl Collision {
    /// The impact speed by `measure`.
    pub fn speed(&self, measure: ImpactMeasure) -> f64 {
        match measure {
            ImpactMeasure::Ego => self.ego_speed,
            ImpactMeasure::Relative => self.relative_speed,
            ImpactMeasure::AlongContact => self.along_contact,
        }
    }
}

/// The normal of the ego's face that `other` touches: the ego's heading (front or back) or its side,
/// whichever face `other`'s centre lies furthest beyond.
pub fn contact_normal(ego: &Footprint, other: &Footprint) -> (f64, f64) {
    let (c, s) = (libm::cos(ego.heading), libm::sin(ego.heading));
    let (dx, dy) = (other.x - ego.x, other.y - ego.y);
    let (lx, ly) = (dx * c + dy * s, -dx * s + dy * c);
    let beyond_front = libm::fabs(lx) - 0.5 * ego.length;
    let beyond_side = libm::fabs(ly) - 0.5 * ego.width;
    if beyond_front >= beyond_side {
        let k = if lx >= 0.0 { 1.0 } else { -1.0 };
        (k * c, k * s)
    } else {
        let k = if ly >= 0.0 { 1.0 } else { -1.0 };
        (-k * s, k * c)
    }
}

/// The points a run earned under a scenario's `scoring`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Points earned.
    pub points: f64,
    /// Points available.
    pub max: f64,
    /// How they were earned: `avoided`, the impact and its band, or why none.
    pub outcome: String,
}

/// The score of a run that ended with `collision` (the first), or none.
pub fn score(scoring: &Scoring<f64>, collision: Option<&Collision>) -> Score {
    let max = scoring.points;
    match collision {
        None => Score { points: max, max, outcome: "avoided".into() },
        Some(k) => {
            let v = k.speed(scoring.measure);
            let what = format!("impact with {} at {v:.2} m/s ({})", k.with, scoring.measure.as_str());
            match scoring.bands.iter().find(|b| v < b.below) {
                Some(b) => Score {
                    points: max * b.fraction,
                    max,
                    outcome: format!("{what}: below {} m/s, {:.0} %", b.below, b.fraction * 100.0),
                },
                None => Score { points: 0.0, max, outcome: format!("{what}: no points") },
            }
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    /// Collisions, in order.
    pub collisions: Vec<Collision>,
    /// Smallest TTC to any actor.
    pub min_ttc: Option<Extreme>,
    /// Smallest footprint distance to any actor.
    pub min_distance: Option<Extreme>,
    /// Smallest footprint distance per actor kind.
    pub min_distance_by_kind: BTreeMap<String, Extreme>,
    /// Largest braking deceleration, m/s².
    pub max_decel: f64,
    /// Largest absolute jerk, m/s³.
    pub max_jerk: f64,
    /// Largest absolute lateral acceleration, m/s².
    pub max_lateral_accel: f64,
    /// Largest speed over the limit, m/s (0 if never over).
    pub max_overspeed: f64,
    /// Longest continuous time straddling lanes, seconds.
    pub max_lane_straddle: f64,
    /// Largest excursion of the footprint outside the drivable area, metres.
    pub max_offroad: f64,
    /// When the goal was reached.
    pub time_to_goal: Option<f64>,
    /// Fraction of the way to the goal covered, 0..1.
    pub progress: f64,
    /// Guardrail activations by reason code.
    pub guardrail_activations: BTreeMap<String, u32>,
    /// Fallback engagements (interventions).
    pub fallback_engagements: u32,
    /// Planner deadline misses.
    pub deadline_misses: u32,
    /// The ego's highest speed before the first collision (or over the run), m/s.
    #[serde(default)]
    pub peak_speed: f64,
    /// The ego's speed reduction from that peak to the first collision (or to its lowest speed
    /// after the peak when there was none), m/s.
    #[serde(default)]
    pub speed_reduction: f64,
    /// Red lights run, stop lines overrun and failures to yield, in order (ADR 0027).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signal_breaches: Vec<SignalBreach>,
    /// How many times the ego's centre moved into another lane (or off the road), for
    /// `no_lane_change`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lane_changes: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The outcome of one criterion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionOutcome {
    /// Criterion name, e.g. `min_ttc`.
    pub criterion: String,
    /// Severity from the scenario.
    pub severity: Criticality,
    /// Whether it held.
    pub passed: bool,
    /// The measured value, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The threshold it was judged against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// A sentence a person can read.
    pub message: String,
    /// When the measured value was reached, seconds: the collision, the minimum TTC or distance,
    /// the peak deceleration, jerk, lateral acceleration, overspeed or excursion, the end of the
    /// longest lane straddle, the arrival (absent when nothing happened at a moment, and in
    /// results stored before this field existed). A replay's "jump to failure" goes here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<f64>,
}

/// The drivable area the ego must stay in.
#[derive(Debug, Clone)]
pub enum Drivable {
    /// The road's surface.
    Road(RoadFrame),
    /// An open area's bounds.
    Area(f64, f64, f64, f64),
}

impl Drivable {
    /// From a road, or else an area's bounds.
    pub fn new(road: Option<RoadFrame>, area: Option<&Bounds<f64>>) -> Option<Self> {
        match (road, area) {
            (Some(r), _) => Some(Drivable::Road(r)),
            (None, Some(b)) => Some(Drivable::Area(b.min_x, b.min_y, b.max_x, b.max_y)),
            _ => None,
        }
    }
}

/// What one tick measured, for the trace's plots.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TickMeasures {
    /// Smallest TTC to any actor, seconds.
    pub ttc: Option<f64>,
    /// Smallest footprint distance to any actor, metres.
    pub distance: Option<f64>,
}

/// Observes every tick.
#[derive(Debug)]
pub struct Observer {
    metrics: Metrics,
    last_accel: Option<(f64, f64)>,
    straddle_since: Option<f64>,
    lane_tolerance: f64,
    drivable: Option<Drivable>,
    speed_limit: f64,
    peaks: Peaks,
    collision_allowed: bool,
    low_after_peak: f64,
    /// The lane of the ego's centre at the first tick and at the last one (`None` off the road).
    lanes: Option<(Option<u32>, Option<u32>)>,
    /// The first move out of the start lane: when, from which lane to which.
    first_lane_change: Option<(f64, Option<u32>, Option<u32>)>,
    /// The world's speed zones: id, place, limit.
    zones: Vec<(String, Place<f64>, f64)>,
    /// The tick with the largest speed over a zone's limit while in it.
    zone_peak: Option<ZonePeak>,
    /// The ego at the last tick: centre, `s` on the road, speed.
    last: Option<LastPose>,
}

/// The largest speed over a zone's limit inside it.
#[derive(Debug, Clone)]
struct ZonePeak {
    zone: String,
    speed: f64,
    limit: f64,
    time: f64,
}

/// Where the ego was at the last tick.
#[derive(Debug, Clone, Copy)]
struct LastPose {
    x: f64,
    y: f64,
    s: Option<f64>,
    speed: f64,
}

/// When each maximum metric reached its value (derived data for the criteria's `decided_at`).
#[derive(Debug, Clone, Copy, Default)]
struct Peaks {
    decel: Option<f64>,
    jerk: Option<f64>,
    lateral_accel: Option<f64>,
    overspeed: Option<f64>,
    lane_straddle: Option<f64>,
    offroad: Option<f64>,
}

/// Records `time` as the moment of `value` when it exceeds the maximum so far.
fn peak(max: &mut f64, at: &mut Option<f64>, value: f64, time: f64) {
    if value > *max {
        *max = value;
        *at = Some(time);
    }
}

/// What the observer sees in one tick.
pub struct Tick<'a> {
    /// Simulated time at the end of the tick.
    pub time: f64,
    /// Tick length.
    pub dt: f64,
    /// The ego's footprint.
    pub ego: Footprint,
    /// The ego's world velocity.
    pub ego_velocity: (f64, f64),
    /// The ego's speed.
    pub speed: f64,
    /// Achieved longitudinal acceleration.
    pub accel: f64,
    /// Achieved lateral acceleration.
    pub lateral_accel: f64,
    /// The actors.
    pub actors: &'a [ActorState],
}

impl Observer {
    /// An observer for a run on `drivable` with `speed_limit`; `lane_tolerance` from `stay_in_lane`.
    pub fn new(drivable: Option<Drivable>, speed_limit: f64, lane_tolerance: f64) -> Self {
        Self {
            metrics: Metrics::default(),
            last_accel: None,
            straddle_since: None,
            lane_tolerance,
            drivable,
            speed_limit,
            peaks: Peaks::default(),
            collision_allowed: false,
            low_after_peak: 0.0,
            lanes: None,
            first_lane_change: None,
            zones: Vec::new(),
            zone_peak: None,
            last: None,
        }
    }

    /// Contact may be unavoidable in this variant (`expected.avoid` is 0): a collision alone does
    /// not fail `no_collision`.
    pub fn allow_collision(&mut self) {
        self.collision_allowed = true;
    }

    /// Watches the world's speed zones for `zone_speed`.
    pub fn watch_zones(&mut self, zones: &[SpeedZone<f64>]) {
        self.zones = zones.iter().filter_map(|z| Some((z.id.clone(), z.place()?, z.speed_limit))).collect();
    }

    /// Whether a collision is acceptable in this variant.
    pub fn collision_allowed(&self) -> bool {
        self.collision_allowed
    }

    /// Records one tick; returns this tick's smallest TTC and footprint distance to any actor (for
    /// the trace's plots).
    pub fn observe(&mut self, t: &Tick<'_>) -> TickMeasures {
        let mut now = TickMeasures::default();
        if self.metrics.collisions.is_empty() {
            if t.speed > self.metrics.peak_speed {
                self.metrics.peak_speed = t.speed;
                self.low_after_peak = t.speed;
            }
            self.low_after_peak = self.low_after_peak.min(t.speed);
            self.metrics.speed_reduction = self.metrics.peak_speed - self.low_after_peak;
        }
        let m = &mut self.metrics;
        let p = &mut self.peaks;
        peak(&mut m.max_decel, &mut p.decel, -t.accel, t.time);
        // Jerk while moving: coming to rest ends the deceleration at once, which no passenger feels
        // as a jerk and every real car does.
        if let Some((prev, prev_speed)) = self.last_accel {
            if prev_speed > MOVING && t.speed > MOVING {
                peak(&mut m.max_jerk, &mut p.jerk, (t.accel - prev).abs() / t.dt, t.time);
            }
        }
        self.last_accel = Some((t.accel, t.speed));
        peak(&mut m.max_lateral_accel, &mut p.lateral_accel, t.lateral_accel.abs(), t.time);
        peak(&mut m.max_overspeed, &mut p.overspeed, t.speed - self.speed_limit, t.time);
        for a in t.actors {
            let fp = a.footprint();
            if let Some(ttc) = footprint::time_to_collision(&t.ego, t.ego_velocity, &fp, a.velocity, TTC_HORIZON) {
                now.ttc = Some(now.ttc.map_or(ttc, |v: f64| v.min(ttc)));
                if m.min_ttc.as_ref().is_none_or(|e| ttc < e.value) {
                    m.min_ttc = Some(Extreme { value: ttc, time: t.time, actor: Some(a.id.clone()) });
                }
            }
            // The distance only feeds three minimums: an actor that cannot lower any of them is
            // not measured (with fifty actors on a highway, most of the criteria's time).
            let kind = a.kind.as_str();
            let by_kind = m.min_distance_by_kind.get(kind).map(|e| e.value);
            let floor = footprint::distance_lower_bound(&t.ego, &fp);
            let lowers = |current: Option<f64>| current.is_none_or(|v| floor < v);
            if !(lowers(now.distance) || lowers(m.min_distance.as_ref().map(|e| e.value)) || lowers(by_kind)) {
                continue;
            }
            let dist = footprint::distance(&t.ego, &fp);
            now.distance = Some(now.distance.map_or(dist, |v: f64| v.min(dist)));
            if m.min_distance.as_ref().is_none_or(|e| dist < e.value) {
                m.min_distance = Some(Extreme { value: dist, time: t.time, actor: Some(a.id.clone()) });
            }
            if by_kind.is_none_or(|v| dist < v) {
                m.min_distance_by_kind
                    .insert(kind.to_owned(), Extreme { value: dist, time: t.time, actor: Some(a.id.clone()) });
            }
        }
        let road = match &self.drivable {
            Some(Drivable::Road(r)) => Some(r),
            _ => None,
        };
        let ego_s = road.map(|r| r.to_road(t.ego.x, t.ego.y).0);
        self.last = Some(LastPose { x: t.ego.x, y: t.ego.y, s: ego_s, speed: t.speed });
        for (id, place, limit) in &self.zones {
            let inside = match place {
                Place::Area(b) => {
                    let rect = Footprint {
                        x: 0.5 * (b.min_x + b.max_x),
                        y: 0.5 * (b.min_y + b.max_y),
                        heading: 0.0,
                        length: b.max_x - b.min_x,
                        width: b.max_y - b.min_y,
                    };
                    footprint::distance(&t.ego, &rect) == 0.0
                }
                Place::Road(sec) => {
                    ego_s.is_some_and(|s| s + 0.5 * t.ego.length >= sec.from && s - 0.5 * t.ego.length <= sec.to)
                }
            };
            if inside && self.zone_peak.as_ref().is_none_or(|p| t.speed - limit > p.speed - p.limit) {
                self.zone_peak = Some(ZonePeak { zone: id.clone(), speed: t.speed, limit: *limit, time: t.time });
            }
        }
        let corners = t.ego.corners();
        match &self.drivable {
            Some(Drivable::Road(r)) => {
                let ds: Vec<f64> = corners.iter().map(|(x, y)| r.to_road(*x, *y).1).collect();
                let lo = ds.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = ds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                peak(&mut m.max_offroad, &mut p.offroad, (-lo).max(hi - r.width()), t.time);
                let (_, centre) = r.to_road(t.ego.x, t.ego.y);
                let lane = r.lane_at(centre);
                let (start, last) = *self.lanes.get_or_insert((lane, lane));
                if lane != last {
                    m.lane_changes += 1;
                    if self.first_lane_change.is_none() {
                        self.first_lane_change = Some((t.time, start, lane));
                    }
                }
                self.lanes = Some((start, lane));
                let within = r.lane_at(centre).is_some_and(|lane| {
                    let (l0, l1) = (f64::from(lane) * r.lane_width, f64::from(lane + 1) * r.lane_width);
                    lo >= l0 - self.lane_tolerance && hi <= l1 + self.lane_tolerance
                });
                if within {
                    self.straddle_since = None;
                } else {
                    let since = *self.straddle_since.get_or_insert(t.time - t.dt);
                    peak(&mut m.max_lane_straddle, &mut p.lane_straddle, t.time - since, t.time);
                }
            }
            Some(Drivable::Area(x0, y0, x1, y1)) => {
                for (x, y) in corners {
                    peak(&mut m.max_offroad, &mut p.offroad, (*x0 - x).max(x - *x1).max(*y0 - y).max(y - *y1), t.time);
                }
            }
            None => {}
        }
        now
    }

    /// Records a collision.
    pub fn collide(&mut self, c: Collision) {
        if self.metrics.collisions.is_empty() {
            self.metrics.speed_reduction = (self.metrics.peak_speed - c.ego_speed).max(0.0);
        }
        self.metrics.collisions.push(c);
    }

    /// Records goal progress; `reached` at time `time`.
    pub fn progress(&mut self, fraction: f64, reached: Option<f64>) {
        self.metrics.progress = self.metrics.progress.max(fraction.clamp(0.0, 1.0));
        if self.metrics.time_to_goal.is_none() {
            self.metrics.time_to_goal = reached;
        }
    }

    /// Mutable access for the stack's telemetry counters.
    pub fn metrics_mut(&mut self) -> &mut Metrics {
        &mut self.metrics
    }

    /// The metrics so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Judges every criterion against the metrics.
    pub fn judge(&self, criteria: &[Criterion<f64>]) -> Vec<CriterionOutcome> {
        criteria
            .iter()
            .map(|c| {
                let mut o = match c {
                    Criterion::NoLaneChange { .. } => self.judge_lane_changes(c),
                    Criterion::ZoneSpeed { tolerance, .. } => self.judge_zone_speed(c, *tolerance),
                    Criterion::StopWithin { area, road, .. } => self.judge_stop(c, place_of(area, road)),
                    _ => judge_one(&self.metrics, c, self.collision_allowed),
                };
                o.decided_at = self.decided_at(c);
                o
            })
            .collect()
    }

    /// `zone_speed`: the largest speed over a zone's limit while in it.
    fn judge_zone_speed(&self, c: &Criterion<f64>, tolerance: f64) -> CriterionOutcome {
        match &self.zone_peak {
            None => outcome(c, true, None, Some(tolerance), "the ego never entered a speed zone".into()),
            Some(p) => {
                let over = p.speed - p.limit;
                let passed = over <= tolerance;
                let rel = if passed { "<=" } else { ">" };
                let mut o = outcome(
                    c,
                    passed,
                    Some(over),
                    Some(tolerance),
                    format!(
                        "largest speed over a zone's limit {} m/s {rel} {tolerance} m/s: {:.2} m/s in zone `{}` (limit {} m/s) at t={:.2} s",
                        measured(over, tolerance),
                        p.speed,
                        p.zone,
                        p.limit,
                        p.time
                    ),
                );
                o.decided_at = Some(p.time);
                o
            }
        }
    }

    /// `stop_within`: where the ego stands at the end of the run.
    fn judge_stop(&self, c: &Criterion<f64>, place: Option<Place<f64>>) -> CriterionOutcome {
        let (Some(last), Some(place)) = (self.last, place) else {
            return outcome(c, false, None, Some(0.0), "the ego was never observed".into());
        };
        let (outside, what) = match &place {
            Place::Area(b) => {
                let dx = (b.min_x - last.x).max(last.x - b.max_x).max(0.0);
                let dy = (b.min_y - last.y).max(last.y - b.max_y).max(0.0);
                (libm::hypot(dx, dy), format!("at ({:.2}, {:.2})", last.x, last.y))
            }
            Place::Road(sec) => {
                let s = last.s.unwrap_or(f64::NAN);
                ((sec.from - s).max(s - sec.to).max(0.0), format!("at s={s:.2} m"))
            }
        };
        let standing = last.speed < crate::actors::STOPPED;
        let passed = standing && outside == 0.0;
        let message = match (standing, outside == 0.0) {
            (false, _) => format!("the ego had not stopped when the run ended: {:.2} m/s {what}", last.speed),
            (true, true) => format!("the ego stopped inside the place {what}"),
            (true, false) => format!("the ego stopped {outside:.2} m outside the place {what}"),
        };
        outcome(c, passed, Some(outside), Some(0.0), message)
    }

    /// `no_lane_change`: the count of lane changes, and the first one in words.
    fn judge_lane_changes(&self, c: &Criterion<f64>) -> CriterionOutcome {
        let n = self.metrics.lane_changes;
        let lane = |l: Option<u32>| l.map_or("off the road".to_owned(), |l| format!("lane {l}"));
        match self.first_lane_change {
            None => outcome(c, true, Some(0.0), Some(0.0), "the ego kept its lane".into()),
            Some((t, from, to)) => outcome(
                c,
                false,
                Some(f64::from(n)),
                Some(0.0),
                format!(
                    "the ego's centre moved from {} into {} at t={t:.2} s ({n} lane change{})",
                    lane(from),
                    lane(to),
                    if n == 1 { "" } else { "s" }
                ),
            ),
        }
    }

    /// When a criterion's measured value was reached.
    fn decided_at(&self, c: &Criterion<f64>) -> Option<f64> {
        let (m, p) = (&self.metrics, &self.peaks);
        match c {
            Criterion::NoCollision { .. } => m.collisions.first().map(|k| k.time),
            Criterion::MinTtc { .. } => m.min_ttc.as_ref().map(|e| e.time),
            Criterion::MinDistance { to, .. } => match to {
                Some(kind) => m.min_distance_by_kind.get(kind.as_str()).map(|e| e.time),
                None => m.min_distance.as_ref().map(|e| e.time),
            },
            Criterion::ReachGoal { .. } => m.time_to_goal,
            Criterion::MaxDecel { .. } => p.decel,
            Criterion::MaxJerk { .. } => p.jerk,
            Criterion::MaxLateralAccel { .. } => p.lateral_accel,
            Criterion::StayInLane { .. } => p.lane_straddle,
            Criterion::StayInDrivableArea { .. } => p.offroad,
            Criterion::NoLaneChange { .. } => self.first_lane_change.map(|(t, _, _)| t),
            Criterion::ZoneSpeed { .. } => self.zone_peak.as_ref().map(|p| p.time),
            Criterion::StopWithin { .. } => None,
            Criterion::SpeedLimit { .. } => p.overspeed,
            Criterion::ImpactSpeed { .. } | Criterion::SpeedReduction { .. } => m.collisions.first().map(|k| k.time),
            Criterion::NoRedLightViolation { .. }
            | Criterion::NoStopLineOverrun { .. }
            | Criterion::NoFailureToYield { .. } => {
                let kind = breach_kind(c);
                m.signal_breaches.iter().find(|b| b.kind == kind).map(|b| b.time)
            }
        }
    }
}

fn with(e: &Extreme) -> String {
    match &e.actor {
        Some(a) => format!(" at t={:.2} s with actor {a}", e.time),
        None => format!(" at t={:.2} s", e.time),
    }
}

fn outcome(
    c: &Criterion<f64>,
    passed: bool,
    value: Option<f64>,
    threshold: Option<f64>,
    message: String,
) -> CriterionOutcome {
    CriterionOutcome {
        criterion: c.name().to_owned(),
        severity: c.severity(),
        passed,
        value,
        threshold,
        message,
        decided_at: None,
    }
}

/// A measured value with two decimals, or as many more (up to six) as it takes not to read as its
/// limit when it differs from it: "min TTC 0.7996 s < 0.8 s", never "0.80 s < 0.8 s".
fn measured(value: f64, limit: f64) -> String {
    let mut text = format!("{value:.2}");
    for digits in 3..=6 {
        if value == limit || text.parse::<f64>().is_ok_and(|shown| shown != limit) {
            break;
        }
        text = format!("{value:.digits$}");
    }
    text
}

fn at_most(c: &Criterion<f64>, what: &str, unit: &str, value: f64, threshold: f64) -> CriterionOutcome {
    let passed = value <= threshold;
    let rel = if passed { "<=" } else { ">" };
    let shown = measured(value, threshold);
    outcome(c, passed, Some(value), Some(threshold), format!("{what} {shown} {unit} {rel} {threshold} {unit}"))
}

fn at_least(c: &Criterion<f64>, what: &str, unit: &str, e: &Extreme, threshold: f64) -> CriterionOutcome {
    let passed = e.value >= threshold;
    let rel = if passed { ">=" } else { "<" };
    outcome(
        c,
        passed,
        Some(e.value),
        Some(threshold),
        format!("{what} {} {unit} {rel} {threshold} {unit}{}", measured(e.value, threshold), with(e)),
    )
}

/// The kind of [`SignalBreach`] a signal criterion counts.
fn breach_kind(c: &Criterion<f64>) -> &'static str {
    match c {
        Criterion::NoStopLineOverrun { .. } => "stop_line_overrun",
        Criterion::NoFailureToYield { .. } => "failure_to_yield",
        _ => "red_light",
    }
}

fn judge_breaches(m: &Metrics, c: &Criterion<f64>) -> CriterionOutcome {
    let kind = breach_kind(c);
    let found: Vec<&SignalBreach> = m.signal_breaches.iter().filter(|b| b.kind == kind).collect();
    let count = Some(found.len() as f64);
    let Some(b) = found.first() else {
        let what = match c {
            Criterion::NoStopLineOverrun { .. } => "every stop line crossed after a standstill before it",
            Criterion::NoFailureToYield { .. } => "no junction entered in front of a vehicle with priority",
            _ => "no red light run",
        };
        return outcome(c, true, count, None, what.into());
    };
    let message = match c {
        Criterion::NoStopLineOverrun { max_distance, .. } => format!(
            "crossed the stop line of `{}` at t={:.2} s at {:.2} m/s without standing within {max_distance} m before it",
            b.signal, b.time, b.speed
        ),
        Criterion::NoFailureToYield { within, .. } => format!(
            "entered the junction at `{}` at t={:.2} s while {} would reach it {:.1} s later (< {within} s)",
            b.signal,
            b.time,
            b.actor.as_deref().unwrap_or("a vehicle"),
            b.reach.unwrap_or(0.0)
        ),
        _ => format!("crossed the stop line of `{}` on red at t={:.2} s at {:.2} m/s", b.signal, b.time, b.speed),
    };
    outcome(c, false, count, None, message)
}

fn judge_one(m: &Metrics, c: &Criterion<f64>, collision_allowed: bool) -> CriterionOutcome {
    match c {
        Criterion::NoRedLightViolation { .. }
        | Criterion::NoStopLineOverrun { .. }
        | Criterion::NoFailureToYield { .. } => judge_breaches(m, c),
        Criterion::NoCollision { .. } => match m.collisions.first() {
            None => outcome(c, true, Some(0.0), None, "no collision".into()),
            Some(k) if collision_allowed => outcome(
                c,
                true,
                Some(m.collisions.len() as f64),
                None,
                format!(
                    "collision with {} at t={:.2} s at {:.2} m/s relative speed, acceptable in this variant (expected.avoid is 0)",
                    k.with, k.time, k.relative_speed
                ),
            ),
            Some(k) => outcome(
                c,
                false,
                Some(m.collisions.len() as f64),
                None,
                format!("collision with {} at t={:.2} s at {:.2} m/s relative speed", k.with, k.time, k.relative_speed),
            ),
        },
        Criterion::MinTtc { threshold, .. } => match &m.min_ttc {
            None => outcome(c, true, None, Some(*threshold), "never on a collision course".into()),
            Some(e) => at_least(c, "min TTC", "s", e, *threshold),
        },
        Criterion::MinDistance { to, threshold, .. } => {
            let e = match to {
                Some(kind) => m.min_distance_by_kind.get(kind.as_str()),
                None => m.min_distance.as_ref(),
            };
            let what = to.map_or("any actor".to_owned(), |k| format!("a {}", k.as_str()));
            match e {
                None => outcome(c, true, None, Some(*threshold), format!("no {what} in the scene")),
                Some(e) => at_least(c, &format!("min distance to {what}"), "m", e, *threshold),
            }
        }
        Criterion::ReachGoal { within, .. } => match m.time_to_goal {
            Some(t) if t <= *within => outcome(c, true, Some(t), Some(*within), format!("goal reached at t={t:.2} s")),
            Some(t) => {
                outcome(c, false, Some(t), Some(*within), format!("goal reached at t={t:.2} s, later than {within} s"))
            }
            None => outcome(
                c,
                false,
                None,
                Some(*within),
                format!("goal not reached ({:.0} % of the way)", m.progress * 100.0),
            ),
        },
        Criterion::MaxDecel { threshold, .. } => at_most(c, "max deceleration", "m/s²", m.max_decel, *threshold),
        Criterion::MaxJerk { threshold, .. } => at_most(c, "max jerk", "m/s³", m.max_jerk, *threshold),
        Criterion::MaxLateralAccel { threshold, .. } => {
            at_most(c, "max lateral acceleration", "m/s²", m.max_lateral_accel, *threshold)
        }
        Criterion::StayInLane { .. } => {
            at_most(c, "longest lane straddle", "s", m.max_lane_straddle, LANE_CHANGE_ALLOWANCE)
        }
        Criterion::NoLaneChange { .. } => outcome(
            c,
            m.lane_changes == 0,
            Some(f64::from(m.lane_changes)),
            Some(0.0),
            format!("{} lane changes", m.lane_changes),
        ),
        // Judged by the observer, which keeps what they need.
        Criterion::ZoneSpeed { .. } | Criterion::StopWithin { .. } => outcome(c, false, None, None, String::new()),
        Criterion::StayInDrivableArea { .. } => {
            at_most(c, "largest excursion off the drivable area", "m", m.max_offroad.max(0.0), 0.0)
        }
        Criterion::SpeedLimit { tolerance, .. } => {
            at_most(c, "largest speed over the limit", "m/s", m.max_overspeed.max(0.0), *tolerance)
        }
        Criterion::ImpactSpeed { max, measure, .. } => match m.collisions.first() {
            None => outcome(c, true, Some(0.0), Some(*max), "no impact".into()),
            Some(k) => {
                let v = k.speed(*measure);
                let passed = v <= *max;
                let rel = if passed { "<=" } else { ">" };
                outcome(
                    c,
                    passed,
                    Some(v),
                    Some(*max),
                    format!(
                        "impact speed ({}) {v:.2} m/s {rel} {max} m/s, with {} at t={:.2} s",
                        measure.as_str(),
                        k.with,
                        k.time
                    ),
                )
            }
        },
        Criterion::SpeedReduction { min, .. } => {
            let v = m.speed_reduction;
            let passed = v >= *min;
            let rel = if passed { ">=" } else { "<" };
            let to = if m.collisions.is_empty() { "its lowest speed after it" } else { "impact" };
            outcome(
                c,
                passed,
                Some(v),
                Some(*min),
                format!("speed reduced by {v:.2} m/s {rel} {min} m/s (from {:.2} m/s to {to})", m.peak_speed),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::measured;

    #[test]
    fn a_measured_value_never_reads_as_the_limit_it_broke() {
        assert_eq!(measured(0.97, 1.0), "0.97");
        assert_eq!(measured(0.7996, 0.8), "0.7996");
        assert_eq!(measured(3.0049, 3.0), "3.005");
        // Equal to the limit: two decimals, as always.
        assert_eq!(measured(0.8, 0.8), "0.80");
    }
}
