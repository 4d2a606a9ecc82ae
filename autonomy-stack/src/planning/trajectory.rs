//! The trajectory layer of the road planner: lateral candidates sampled across the road in its
//! (s, d) frame, each with its own IDM speed profile, scored against the predicted occupancy of
//! every track (collision), progress, comfort and centring; the cheapest one becomes the plan.

use super::behaviour::{
    constrained_accel, gap_acceptable, lane_speed, overlaps, Constraint, LaneChoice, LaneEgo, LaneObject, Situation,
};
use super::junction::{Junctions, LineEgo, GAP_WINDOW};
use super::turn::{self, Decision, TurnEgo};
use super::{Behaviour, Plan, PlanInput};
use crate::config::PlanningConfig;
use crate::geometry::{projected_half_extent, wrap_angle, LineFrame, RoadGeometry};
use crate::interface::{MissionGoal, ObjectClass, RoadKind};

/// One object's predicted occupancy in the road frame, with its points flattened.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RoadObject {
    id: u64,
    class: ObjectClass,
    now: LaneObject,
    /// Index of its first point in the flattened point arrays.
    first: usize,
    /// Number of its points.
    count: usize,
    /// Smallest and largest lateral offset over its points.
    d_range: (f64, f64),
}

/// A vehicle behind in the ego's lane faster than the ego by this much is one to make way for,
/// m/s.
const MAKE_WAY_DV: f64 = 1.0;
/// Longitudinal collision margin, metres.
const LONGITUDINAL_MARGIN: f64 = 0.3;
/// Objects this far behind the ego are ignored, metres.
const BEHIND: f64 = 60.0;
/// Speed above which an object is a moving road user (followed, not yielded to), m/s.
const MOVING: f64 = 2.0;
/// Speed assumed for the ego when judging whether it clears a crossing object's path, m/s.
const CROSSING_EGO_SPEED: f64 = 3.0;
/// Safety buffer around the ego's passage through a crossing object's path, seconds.
const CROSSING_BUFFER: f64 = 1.0;
/// Extra buffer for the object the ego yielded to last cycle, seconds. A walker's velocity
/// estimate from a noisy, patchy detector swings by half a metre per second between cycles, and
/// with it the predicted time it reaches the ego's path: without this hysteresis the yield
/// flickered on and off, and the ego, braking only in the "on" cycles at the comfort jerk, came
/// to a stop on the walking line instead of before it.
const YIELD_HYSTERESIS: f64 = 1.0;

/// Time step of the extrapolation that checks a junction's conflict zone, seconds.
const JUNCTION_STEP: f64 = 0.2;

/// Speed difference at which the ego passes a slower vehicle in a neighbouring lane, m/s.
const PASSING_DV: f64 = 2.0;
/// Time-to-collision kept on a neighbour ahead while closing in on it, in IDM time headways (the
/// caution of the following loop applies to whoever may become the leader).
const PASSING_HEADWAYS: f64 = 2.0;
/// Deceleration with which the ego could stop short of a vehicle waiting beside the road, m/s².
const SIDE_DECEL: f64 = 3.0;
/// Speed at which the ego passes a vehicle waiting beside the road, m/s.
const SIDE_CREEP: f64 = 5.0;
/// Speed at which the ego passes a vehicle parked in the neighbouring lane of a street, m/s.
const OCCLUSION_SPEED: f64 = 8.0;
/// Roads with a speed limit up to this are streets where people may step out, m/s, unless the map
/// says what kind of road it is.
const STREET_LIMIT: f64 = 15.0;
/// Gain with which the speed is brought down to the passing speed, 1/s.
const PASSING_GAIN: f64 = 1.5;
/// Relative deceleration with which the ego could fall back behind a neighbour that moves over, m/s².
const PASSING_DECEL: f64 = 1.0;

/// How far the ego may be off an ongoing manoeuvre's profile and still continue it, metres.
const ONGOING_TOLERANCE: f64 = 0.2;
/// Peak lateral acceleration of a unit quintic shift over a unit time.
const QUINTIC_PEAK: f64 = 5.77;
/// Share of `max_lateral_accel` a lateral manoeuvre may use at its peak (the controller's tracking
/// error and the road's own curvature add to the planned profile).
const COMFORT_SHARE: f64 = 0.8;
/// Share of `max_lateral_accel` an evasive manoeuvre (when no comfortable one avoids a conflict) may
/// use at its peak.
const EVASIVE_SHARE: f64 = 1.0;
/// Share of `max_lateral_accel` a lateral manoeuvre may always use, however tight the curve.
const COMFORT_FLOOR: f64 = 0.3;
/// Share of `max_lateral_accel` steady cornering may use (the speed cap on curves).
const CURVE_SHARE: f64 = 0.8;
/// How far ahead a polyline route's curves cap the speed, metres.
const CURVE_PREVIEW: f64 = 120.0;
/// Deceleration planned ahead of a route's curve, m/s².
const CURVE_BRAKE: f64 = 1.5;
/// Largest heading relative to the road a new lateral profile starts with, radians.
const MAX_SLOPE: f64 = 0.3;
/// Relative headings up to this (as a slope) do not shape a new lateral profile.
const SLOPE_DEAD_BAND: f64 = 0.02;
/// Smaller lateral shifts are lane-keeping corrections, re-planned from the ego every tick, metres.
const MANOEUVRE_MIN_SHIFT: f64 = 0.5;

/// Delay from an object coming into view to braking for it, seconds: the detector's latency, a
/// track's confirmation and a planning cycle, and missed frames in fog (with 20 % detector misses
/// and lidar dropout a stalled car was confirmed 0.6 s after it came within the visibility).
const SIGHT_REACTION: f64 = 0.7;
/// Share of the vehicle's maximum deceleration counted on to stop for what comes out of the fog:
/// firm braking (about 0.5 g for a car), short of the full stop that AEB keeps in reserve.
const SIGHT_BRAKING_SHARE: f64 = 0.5;

/// The speed from which the ego stops within what it can see ("drive on sight"): reacting after
/// [`SIGHT_REACTION`], braking at [`SIGHT_BRAKING_SHARE`] of `max_decel`, and stopping
/// `idm_min_gap` short of the edge of visibility. In clear air (250 m) this is above any road's
/// limit; for a car in 35 m of fog it is about 13 m/s.
pub fn sight_speed(cfg: &PlanningConfig, max_decel: f64, visibility: f64) -> f64 {
    if !visibility.is_finite() {
        return f64::INFINITY;
    }
    let room = (visibility - cfg.idm_min_gap).max(0.0);
    let (a, t) = (SIGHT_BRAKING_SHARE * max_decel, SIGHT_REACTION);
    a * (libm::sqrt(t * t + 2.0 * room / a) - t)
}

/// The gap the ego keeps at a standstill behind an object of `class`: the stop distance before a
/// person or an unknown object, the following gap behind a vehicle.
fn standstill_gap(cfg: &PlanningConfig, class: ObjectClass) -> f64 {
    match class {
        ObjectClass::Pedestrian | ObjectClass::Unknown => cfg.stop_distance,
        _ => cfg.idm_min_gap,
    }
}

/// The road planner's state across ticks.
#[derive(Debug, Clone, Default)]
pub struct RoadPlanner {
    lane_choice: LaneChoice,
    previous_end: Option<f64>,
    /// The lateral manoeuvre being executed, anchored where it began: re-planning it from the
    /// ego's current offset every tick would restart the blend with zero lateral speed, so a swerve
    /// or lane change would recede ahead of the ego and never complete in time.
    manoeuvre: Option<Lateral>,
    objects: Vec<RoadObject>,
    point_s: Vec<f64>,
    point_d: Vec<f64>,
    lane_objects: Vec<LaneObject>,
    ends: Vec<f64>,
    constraints: Vec<Constraint>,
    junctions: Junctions,
    /// Tracks whose paths cross the route ahead this tick: gap acceptance decides about them
    /// ([`turn`]), never the leader or crossing-object logic of [`RoadPlanner::score`].
    crossing: Vec<u64>,
    /// The vehicle the ego is waiting for and its waiting point: while it waits for the same
    /// vehicle the point only moves back (its estimate of the vehicle's path firms up as it nears;
    /// creeping forward after each noisy estimate would bring the ego towards its lane).
    waiting: Option<(u64, f64)>,
    /// The crossing object the ego yielded to last cycle.
    yielding_to: Option<u64>,
}

/// A candidate's lateral profile: from `d0` at `s0`, leaving with slope `slope` (dd/ds, the ego's
/// heading relative to the road), to `d1` over `length` metres (quintic blend, no curvature at
/// either end). Starting from the ego's own heading keeps a re-planned manoeuvre continuous: a
/// profile that starts parallel to the road would ask for a steering step.
#[derive(Debug, Clone, Copy)]
struct Lateral {
    s0: f64,
    d0: f64,
    slope: f64,
    d1: f64,
    length: f64,
}

impl Lateral {
    fn at(&self, s: f64) -> f64 {
        let u = ((s - self.s0) / self.length).clamp(0.0, 1.0);
        let u2 = u * u;
        let blend = u2 * u * (10.0 + u * (-15.0 + 6.0 * u));
        // The quintic with unit start slope and every other end condition zero.
        let lean = u * (1.0 + u2 * (-6.0 + u * (8.0 - 3.0 * u)));
        self.d0 + (self.d1 - self.d0) * blend + self.slope * self.length * lean
    }
}

/// What scoring a candidate produced.
#[derive(Debug, Clone, Copy)]
struct Scored {
    cost: f64,
    accel: f64,
    end: f64,
    collision_free: bool,
    binding: Option<Constraint>,
}

impl RoadPlanner {
    /// Plans one tick on the road.
    pub fn plan(&mut self, road: &RoadGeometry, input: &PlanInput<'_>, ego_s: f64) -> Plan {
        let cfg = input.config;
        let ego = input.ego;
        let (s0, d0) = road.frame.to_frame(ego.x, ego.y, ego_s);
        let v0 = ego.speed.max(0.0);
        // The heading relative to the road, when it is more than localisation noise (the profile
        // is re-planned every tick: a noisy start slope makes it wander).
        let slope0 = libm::tan(wrap_angle(ego.heading - road.frame.heading_at(s0)).clamp(-MAX_SLOPE, MAX_SLOPE));
        let slope0 = if libm::fabs(slope0) > SLOPE_DEAD_BAND { slope0 } else { 0.0 };
        let hl = 0.5 * input.vehicle.length;
        let hw = 0.5 * input.vehicle.width;
        let lw = road.map.lane_width;
        let kappa = match &road.frame {
            LineFrame::Arc(_) => libm::fabs(road.map.curvature),
            LineFrame::Polyline(line) => libm::fabs(line.curvature_at(s0)),
        };
        let curve_cap = match &road.frame {
            LineFrame::Arc(_) => {
                if kappa > 1e-6 {
                    // Steady cornering uses only a share of the limit: tracking corrections and lane
                    // changes ride on top of it.
                    libm::sqrt(CURVE_SHARE * cfg.max_lateral_accel / kappa)
                } else {
                    f64::INFINITY
                }
            }
            // A route's curves come and go: slow for each one ahead in time, braking gently.
            LineFrame::Polyline(line) => {
                line.curve_speed_cap(s0, CURVE_PREVIEW, CURVE_SHARE * cfg.max_lateral_accel, CURVE_BRAKE)
            }
        };
        let v_des = (road.map.speed_limit * cfg.speed_limit_factor)
            .min(curve_cap)
            .min(input.speed_cap)
            .min(sight_speed(cfg, input.vehicle.max_decel, input.visibility))
            .max(0.0);
        let reach = v0.max(v_des) * cfg.horizon + cfg.idm_min_gap + 10.0;
        let step = input.prediction_step;
        let steps = libm::floor(cfg.horizon / step + 1e-9) as usize;
        self.collect_objects(road, input, s0, reach);
        // The map says what kind of road this is; a map that does not say leaves it to the limit.
        let street = match road.map.kind {
            Some(kind) => kind == RoadKind::Street,
            None => road.map.speed_limit <= STREET_LIMIT,
        };
        let passing = self.passing_cap(cfg, s0, d0, hl, lw, street);
        let v_des = v_des.min(passing);

        // Behaviour: which lane to be in.
        let goal_wall = goal_wall(road, input, s0, hl);
        let line_wall = self.line_wall(road, input, s0, d0, hl, v0);
        let turn_wall = self.turn_wall(
            road,
            input,
            TurnEgo {
                s: s0,
                d: road.lane_centre(road.lane_of(d0)),
                speed: v0,
                half_length: hl,
                half_width: hw,
                go_speed: v_des,
                accel: cfg.idm_accel.min(input.vehicle.max_accel),
                max_decel: input.vehicle.max_decel,
            },
        );
        let current = road.lane_of(d0);
        let lane_ego = LaneEgo { s: s0, speed: v0, half_length: hl };
        let span = |lane: u32| (f64::from(lane) * lw, f64::from(lane + 1) * lw);
        let objs = &self.lane_objects;
        // Pull in after an overtake before stopping ahead, or to let faster traffic behind pass.
        let stop_ahead = goal_wall.is_some_and(|w| w.rear - s0 < reach);
        let (lo_here, hi_here) = span(current);
        let overtaken_from_behind =
            objs.iter().any(|o| overlaps(o, lo_here, hi_here) && o.s < s0 && o.speed > v0 + MAKE_WAY_DV);
        // Whether the nearest standing object ahead in the ego's lane lies left of the lane's
        // centre by more than a tenth of a lane.
        let centre_here = road.lane_centre(current);
        let obstacle_left = objs
            .iter()
            .filter(|o| overlaps(o, lo_here, hi_here) && o.s > s0 && o.s - s0 < reach && o.speed < MOVING)
            .min_by(|a, b| a.s.total_cmp(&b.s))
            .is_some_and(|o| o.d - centre_here > 0.1 * lw);
        let target = self.lane_choice.target(
            cfg,
            Situation {
                lanes: road.map.lanes,
                current,
                v_des,
                pull_in: stop_ahead || overtaken_from_behind,
                time: input.tick as f64 * input.period,
                obstacle_left,
            },
            |lane| libm::fabs(d0 - road.lane_centre(lane)) < 0.3,
            |lane| {
                let (lo, hi) = span(lane);
                lane_speed(&lane_ego, objs, lo, hi, reach, v_des)
            },
            |lane| {
                let (lo, hi) = span(lane);
                gap_acceptable(cfg, &lane_ego, objs, lo, hi)
            },
        );
        let d_target = road.lane_centre(target);

        // Candidates: samples across the allowed span, plus every lane centre and the last choice.
        let (lo, hi) = if cfg.lane_change_enabled {
            (hw + 0.2, road.width() - hw - 0.2)
        } else {
            let (a, b) = span(current);
            (a + hw + 0.1, b - hw - 0.1)
        };
        let (lo, hi) = if lo > hi { (d_target, d_target) } else { (lo, hi) };
        self.ends.clear();
        let n = cfg.samples.max(1) as usize;
        for i in 0..n {
            let u = if n == 1 { 0.5 } else { i as f64 / (n - 1) as f64 };
            self.ends.push(lo + (hi - lo) * u);
        }
        for lane in 0..road.map.lanes {
            let c = road.lane_centre(lane);
            if c >= lo - 1e-9 && c <= hi + 1e-9 {
                self.ends.push(c);
            }
        }
        if let Some(prev) = self.previous_end.filter(|p| *p >= lo && *p <= hi) {
            self.ends.push(prev);
        }

        // A quintic shift by D over T seconds peaks at 5.77 D / T² of lateral acceleration: take at
        // least `lateral_time`, and long enough to stay within a comfortable share of the limit.
        let lateral_length = |shift: f64, share: f64| {
            // What cornering leaves of the share, but never less than a floor.
            let comfortable =
                (share * cfg.max_lateral_accel - v0 * v0 * kappa).max(COMFORT_FLOOR * cfg.max_lateral_accel);
            let t = cfg.lateral_time.max(libm::sqrt(QUINTIC_PEAK * libm::fabs(shift) / comfortable));
            (v0 * t).max(8.0)
        };
        // The manoeuvre in progress, while the ego is still on it.
        let ongoing = self
            .manoeuvre
            .filter(|m| libm::fabs(m.d1 - m.d0) > MANOEUVRE_MIN_SHIFT)
            .filter(|m| s0 >= m.s0 && s0 < m.s0 + m.length && libm::fabs(m.at(s0) - d0) < ONGOING_TOLERANCE);
        let lateral_for = |end: f64, share: f64| match ongoing {
            Some(m) if libm::fabs(m.d1 - end) < 1e-9 => m,
            _ => Lateral { s0, d0, slope: slope0, d1: end, length: lateral_length(end - d0, share) },
        };
        // Comfortable manoeuvres first; only when none of them is free of conflicts, evasive ones.
        let mut best: Option<(Scored, Lateral)> = None;
        for share in [COMFORT_SHARE, EVASIVE_SHARE] {
            if best.is_some_and(|b| b.0.collision_free) {
                break;
            }
            for i in 0..self.ends.len() {
                let end = self.ends[i];
                let lateral = lateral_for(end, share);
                let scored = self.score(
                    cfg,
                    road,
                    &lateral,
                    Ctx {
                        s0,
                        v0,
                        hl,
                        hw,
                        v_des,
                        reach,
                        step,
                        steps,
                        d_target,
                        current,
                        goal_wall,
                        line_wall,
                        turn_wall,
                    },
                );
                if best.is_none_or(|b| scored.cost < b.0.cost) {
                    best = Some((scored, lateral));
                }
            }
        }
        let Some((best, lateral)) = best else {
            self.manoeuvre = None;
            return Plan::stop(ego, Behaviour::KeepLane, cfg.idm_decel);
        };
        self.previous_end = Some(best.end);
        self.manoeuvre = Some(lateral);
        self.yielding_to = best.binding.filter(|c| c.crossing).and_then(|c| c.track);
        let path_length = (v0 * 4.0 + 10.0).max(25.0);
        let ds = (path_length / 40.0).max(1.0);
        let mut path = Vec::with_capacity(42);
        let mut s = s0 - 1.0;
        while s <= s0 + path_length {
            let (x, y, _) = road.frame.to_world(s, lateral.at(s));
            path.push((x, y));
            s += ds;
        }
        let behaviour = match best.binding {
            Some(c) if c.crossing => Behaviour::Yield { track: c.track.unwrap_or(0) },
            Some(c) if c.track.is_some() && c.speed < 0.5 && best.accel < 0.0 => {
                Behaviour::StopForObstacle { track: c.track.unwrap_or(0) }
            }
            Some(c) if c.track.is_some() => Behaviour::FollowLead { track: c.track.unwrap_or(0) },
            Some(_) if best.accel < 0.0 => Behaviour::StopAtGoal,
            _ if target != current => Behaviour::ChangeLane { to: target },
            _ if libm::fabs(best.end - d_target) > 0.25 => Behaviour::Avoid,
            _ => Behaviour::KeepLane,
        };
        // Above the passing speed the free-road term of the IDM slows down too gently to hold it.
        let accel = best.accel.min((PASSING_GAIN * (passing - v0)).max(-cfg.idm_decel).min(cfg.idm_accel));
        let accel = accel.min(self.evasion_brake(cfg, &lane_ego, d0, hw, v_des, reach));
        Plan {
            path,
            accel,
            speed: (v0 + accel * input.period).max(0.0),
            behaviour,
            target_lane: Some(target),
            collision_free: best.collision_free,
        }
    }

    /// Braking while steering round a standing object the ego could not stop for comfortably: as
    /// long as the ego still overlaps it sideways, it brakes for it as it would in its lane, up to
    /// the comfortable deceleration. The other lane is free only as far as the sensors have seen
    /// (a jam's tail fills one lane after another as each comes into range), and an evasion may
    /// have to be given up: every metre per second shed while the way round is not yet certain is
    /// closing speed it will not have if it must stop after all. Objects it clears sideways, or
    /// can stop for gently, change nothing.
    fn evasion_brake(&self, cfg: &PlanningConfig, ego: &LaneEgo, d0: f64, hw: f64, v_des: f64, reach: f64) -> f64 {
        let LaneEgo { s: s0, speed: v0, half_length: hl } = *ego;
        let mut accel = f64::INFINITY;
        for o in &self.objects {
            let ahead = o.now.s - o.now.half_length - (s0 + hl);
            if o.now.speed > MOVING
                || ahead <= 0.0
                || ahead > reach
                || libm::fabs(o.now.d - d0) >= hw + o.now.half_width
            {
                continue;
            }
            let keep = standstill_gap(cfg, o.class);
            let a = super::behaviour::idm_accel(cfg, v0, v_des, Some((ahead, o.now.speed.max(0.0), keep)));
            if a < -cfg.idm_decel {
                accel = accel.min(-cfg.idm_decel);
            }
        }
        accel
    }

    /// The speed at which the ego may close in on slower vehicles driving in a neighbouring lane
    /// ahead: any of them may move over into the ego's lane, and the ego must then be able to fall
    /// back behind it with comfortable braking. Passing itself goes on at a modest speed difference.
    fn passing_cap(&self, cfg: &PlanningConfig, s0: f64, d0: f64, hl: f64, lw: f64, street: bool) -> f64 {
        let mut cap = f64::INFINITY;
        if !cfg.anticipate_cut_ins {
            return cap;
        }
        for o in &self.objects {
            let lateral = libm::fabs(o.now.d - d0);
            let vehicle = matches!(o.class, ObjectClass::Car | ObjectClass::Truck);
            let gap = o.now.s - o.now.half_length - (s0 + hl);
            // A vehicle standing across the road beside the ego's lane (waiting at a side street)
            // may pull out in front of it: approach slowly enough to stop short of its path.
            let across = o.now.half_width > o.now.half_length + 0.5;
            let standing = libm::fabs(o.now.speed) <= MOVING;
            if vehicle && across && standing && lateral > 0.5 * lw && gap > 0.0 {
                cap = cap.min(SIDE_CREEP.max(libm::sqrt(2.0 * SIDE_DECEL * gap)));
                continue;
            }
            // A vehicle parked in the neighbouring lane on a street where people walk hides whoever
            // may step out from behind it: pass it at a speed that leaves time to stop.
            if vehicle && standing && street && lateral > 0.5 * lw && lateral < 1.5 * lw && gap > -(2.0 * hl) {
                cap = cap.min(OCCLUSION_SPEED.max(libm::sqrt(2.0 * SIDE_DECEL * gap.max(0.0))));
                continue;
            }
            if !vehicle || o.now.speed <= MOVING || lateral < 0.5 * lw || lateral > 1.5 * lw {
                continue;
            }
            if gap < -(2.0 * hl) {
                continue; // Already passed.
            }
            let gap = gap.max(0.0);
            let ttc = PASSING_HEADWAYS * cfg.idm_headway;
            let allowed = PASSING_DV.max(libm::sqrt(2.0 * PASSING_DECEL * gap).min(gap / ttc));
            cap = cap.min(o.now.speed + allowed);
        }
        cap
    }

    /// The wall at the nearest stop line the ego must stop at (a red light, a stop sign it has not
    /// stood at, a junction it must give way at), from this frame's stop lines and the predicted
    /// traffic (ADR 0027).
    fn line_wall(
        &mut self,
        road: &RoadGeometry,
        input: &PlanInput<'_>,
        s0: f64,
        d0: f64,
        hl: f64,
        v0: f64,
    ) -> Option<Constraint> {
        if input.signals.is_empty() {
            return None;
        }
        let cfg = input.config;
        let lw = road.map.lane_width;
        let centre = road.lane_centre(road.lane_of(d0));
        let window = GAP_WINDOW.min(cfg.horizon);
        // A vehicle with priority: one whose constant-velocity extrapolation (not the lane-following
        // prediction, which would bend a crossing car onto the ego's own lane) moves through the
        // conflict zone of the ego's lane within the window. Traffic in the ego's own direction is
        // followed, not given way to.
        let predictions = input.predictions;
        let frame = &road.frame;
        let conflict = |line_s: f64, zone: f64| {
            // A circle round the zone in the world frame: every point of the zone lies within half
            // its length (along the line, so also in a straight line) of its middle, plus the lateral
            // clearance. Only extrapolated points inside it are projected on the reference line
            // (projection is the expensive part).
            let (cx, cy, _) = frame.to_world(line_s + 0.5 * (zone - 2.0), centre);
            let radius = 0.5 * (zone + 2.0);
            predictions.iter().any(|p| {
                let Some(first) = p.points.first() else { return false };
                if libm::hypot(p.vx, p.vy) < 1.0 {
                    return false;
                }
                let half = 0.5 * libm::hypot(p.length, p.width);
                let clearance = 0.5 * lw + half + cfg.lateral_margin;
                let reach = radius + half + clearance;
                let near = |t: f64| libm::hypot(first.x + p.vx * t - cx, first.y + p.vy * t - cy) <= reach;
                let steps = libm::ceil(window / JUNCTION_STEP) as u32;
                if !(0..=steps).any(|k| near(f64::from(k) * JUNCTION_STEP)) {
                    return false;
                }
                let (s_now, _) = frame.to_frame(first.x, first.y, s0);
                let along = libm::fabs(wrap_angle(libm::atan2(p.vy, p.vx) - frame.heading_at(s_now))) < 0.5;
                if along {
                    return false;
                }
                let mut hint = s_now;
                (0..=steps).any(|k| {
                    let t = f64::from(k) * JUNCTION_STEP;
                    if !near(t) {
                        return false;
                    }
                    let (ps, pd) = frame.to_frame(first.x + p.vx * t, first.y + p.vy * t, hint);
                    hint = ps;
                    ps + half >= line_s - 2.0 && ps - half <= line_s + zone && libm::fabs(pd - centre) < clearance
                })
            })
        };
        let ego =
            LineEgo { front: s0 + hl, speed: v0, comfort_decel: cfg.idm_decel, max_decel: input.vehicle.max_decel };
        self.junctions.wall(input.signals, ego, conflict)
    }

    /// The wall at the nearest waiting point before a vehicle whose path crosses the route ahead,
    /// when the gap to it is not acceptable (ADR 0029). On map routes only: the single-road
    /// shorthand has no junctions, and its crossing objects keep the corridor check of
    /// [`RoadPlanner::score`]. Records every such vehicle in `self.crossing`.
    fn turn_wall(&mut self, road: &RoadGeometry, input: &PlanInput<'_>, ego: TurnEgo) -> Option<Constraint> {
        self.crossing.clear();
        if !matches!(road.frame, LineFrame::Polyline(_)) {
            return None;
        }
        let window = turn::HORIZONS * input.config.horizon;
        let mut wall: Option<Constraint> = None;
        for p in input.predictions {
            if !turn::crossing_candidate(&road.frame, p, ego.s) {
                continue;
            }
            let Some(zone) = turn::conflict(&road.frame, &ego, p, window) else { continue };
            self.crossing.push(p.track_id);
            if let Decision::Wait { front } = turn::decide(&ego, &zone) {
                let front = match self.waiting {
                    Some((track, before)) if track == p.track_id => front.min(before),
                    _ => front,
                };
                if wall.is_none_or(|w| front < w.rear) {
                    wall = Some(Constraint {
                        rear: front,
                        speed: 0.0,
                        min_gap: turn::WAIT_GAP,
                        track: Some(p.track_id),
                        crossing: true,
                    });
                }
            }
        }
        self.waiting = wall.and_then(|w| Some((w.track?, w.rear)));
        wall
    }

    fn collect_objects(&mut self, road: &RoadGeometry, input: &PlanInput<'_>, s0: f64, reach: f64) {
        self.objects.clear();
        self.point_s.clear();
        self.point_d.clear();
        self.lane_objects.clear();
        for p in input.predictions {
            let Some(first) = p.points.first() else { continue };
            let (s, d) = road.frame.to_frame(first.x, first.y, s0);
            if s - s0 > reach + 30.0 || s0 - s > BEHIND {
                continue;
            }
            let road_heading = road.frame.heading_at(s);
            let (speed, _) = road.frame.velocity_to_frame(s, p.vx, p.vy);
            let now = LaneObject {
                s,
                d,
                half_length: projected_half_extent(p.length, p.width, first.heading, road_heading),
                half_width: projected_half_extent(
                    p.length,
                    p.width,
                    first.heading,
                    road_heading + 0.5 * core::f64::consts::PI,
                ),
                speed,
            };
            let index = self.point_s.len();
            let mut hint = s;
            let mut d_range = (f64::INFINITY, f64::NEG_INFINITY);
            for pt in &p.points {
                let (ps, pd) = road.frame.to_frame(pt.x, pt.y, hint);
                hint = ps;
                self.point_s.push(ps);
                self.point_d.push(pd);
                d_range = (d_range.0.min(pd), d_range.1.max(pd));
            }
            let count = p.points.len();
            self.objects.push(RoadObject { id: p.track_id, class: p.class, now, first: index, count, d_range });
            self.lane_objects.push(now);
        }
    }

    fn score(&mut self, cfg: &PlanningConfig, road: &RoadGeometry, lat: &Lateral, ctx: Ctx) -> Scored {
        let Ctx { s0, v0, hl, hw, v_des, reach, step, steps, d_target, current, goal_wall, line_wall, turn_wall } = ctx;
        let lw = road.map.lane_width;
        let margin = cfg.lateral_margin;
        // Lanes the candidate ends in other than the current and target ones need an acceptable gap.
        let (end_lo, end_hi) = (road.lane_of(lat.d1 - hw + 0.05), road.lane_of(lat.d1 + hw - 0.05));
        let target = road.lane_of(d_target);
        let ego = LaneEgo { s: s0, speed: v0, half_length: hl };
        for lane in end_lo..=end_hi {
            if lane != current && (lane != target || target == current) {
                let lo = f64::from(lane) * lw;
                if !cfg.lane_change_enabled || !gap_acceptable(cfg, &ego, &self.lane_objects, lo, lo + lw) {
                    return Scored {
                        cost: f64::INFINITY,
                        accel: 0.0,
                        end: lat.d1,
                        collision_free: false,
                        binding: None,
                    };
                }
            }
        }

        // Longitudinal constraints along this candidate.
        self.constraints.clear();
        if let Some(wall) = goal_wall {
            self.constraints.push(wall);
        }
        if let Some(wall) = line_wall {
            self.constraints.push(wall);
        }
        if let Some(wall) = turn_wall {
            self.constraints.push(wall);
        }
        let (lat_lo, lat_hi) = (lat.d0.min(lat.d1), lat.d0.max(lat.d1));
        // Objects whose predicted offsets never come near the candidate's lateral span.
        let apart = |o: &RoadObject| {
            let clearance = hw + o.now.half_width + margin;
            o.d_range.1 + clearance < lat_lo || o.d_range.0 - clearance > lat_hi
        };
        for o in &self.objects {
            if apart(o) || self.crossing.contains(&o.id) {
                continue;
            }
            let clearance = hw + o.now.half_width + margin;
            let ahead = o.now.s > s0 && o.now.s - s0 < reach;
            let keep = standstill_gap(cfg, o.class);
            if ahead && libm::fabs(o.now.d - lat.at(o.now.s)) < clearance {
                self.constraints.push(Constraint {
                    rear: o.now.s - o.now.half_length,
                    speed: o.now.speed.max(0.0),
                    min_gap: keep,
                    track: Some(o.id),
                    crossing: false,
                });
                continue;
            }
            // Will it enter the corridor ahead within the horizon, while the ego passes?
            let mut conflict: Option<(f64, f64, f64)> = None; // (first t, last t, smallest s)
            for k in 1..o.count {
                let (ps, pd) = (self.point_s[o.first + k], self.point_d[o.first + k]);
                if ps > s0 + hl && ps - s0 < reach && libm::fabs(pd - lat.at(ps)) < clearance {
                    let t = k as f64 * step;
                    conflict = Some(match conflict {
                        None => (t, t, ps),
                        Some((a, _, m)) => (a, t, m.min(ps)),
                    });
                }
            }
            let Some((t_in, t_out, s_conf)) = conflict else { continue };
            if o.now.speed > MOVING && o.class != ObjectClass::Pedestrian {
                // A road user merging into the corridor: follow it.
                if o.now.s > s0 {
                    self.constraints.push(Constraint {
                        rear: o.now.s - o.now.half_length,
                        speed: o.now.speed,
                        min_gap: keep,
                        track: Some(o.id),
                        crossing: false,
                    });
                }
                continue;
            }
            let v_pass = v0.max(CROSSING_EGO_SPEED);
            let t_arrive = (s_conf - o.now.half_length - s0 - hl) / v_pass;
            let t_clear = (s_conf + o.now.half_length - s0 + hl) / v_pass;
            let buffer =
                if self.yielding_to == Some(o.id) { CROSSING_BUFFER + YIELD_HYSTERESIS } else { CROSSING_BUFFER };
            if t_in <= t_clear + buffer && t_out >= t_arrive - buffer {
                self.constraints.push(Constraint {
                    rear: s_conf - o.now.half_length,
                    speed: 0.0,
                    min_gap: cfg.stop_distance,
                    track: Some(o.id),
                    crossing: true,
                });
            }
        }

        // Speed profile (IDM against the constraints) and time-aligned collision check.
        let dt = 0.5 * step;
        let (mut s, mut v) = (s0, v0);
        let accel0 = constrained_accel(cfg, v0, v_des, s0 + hl, 0.0, &self.constraints);
        let mut collision_at = None;
        for k in 0..=steps {
            let t = k as f64 * step;
            if collision_at.is_none() {
                let de = lat.at(s);
                for o in &self.objects {
                    if k >= o.count || apart(o) {
                        continue;
                    }
                    let behind = o.now.s + o.now.half_length < s0 - hl;
                    if behind && road.lane_of(de) == current {
                        continue; // Whoever follows in the ego's lane is responsible for the gap.
                    }
                    let (ps, pd) = (self.point_s[o.first + k], self.point_d[o.first + k]);
                    if libm::fabs(ps - s) < hl + o.now.half_length + LONGITUDINAL_MARGIN
                        && libm::fabs(pd - de) < hw + o.now.half_width + 0.5 * margin
                    {
                        collision_at = Some(t);
                        break;
                    }
                }
            }
            for h in 0..2 {
                let th = t + h as f64 * dt;
                let a = constrained_accel(cfg, v, v_des, s + hl, th, &self.constraints).max(-20.0).min(cfg.idm_accel);
                let vn = (v + a * dt).max(0.0);
                s += 0.5 * (v + vn) * dt;
                v = vn;
            }
        }
        let horizon = steps as f64 * step;
        let ideal = (v_des * horizon).max(1.0);
        let progress = ((s - s0) / ideal).clamp(0.0, 1.5);
        let mut cost = 4.0 * (1.0 - progress);
        cost += 1.5 * libm::fabs(lat.d1 - d_target) / lw;
        cost += 0.5 * libm::fabs(lat.d1 - lat.d0) / lw;
        if let Some(prev) = self.previous_end {
            cost += 0.5 * (libm::fabs(lat.d1 - prev) / lw).min(1.0);
        }
        if let Some(t) = collision_at {
            cost += 1000.0 + 100.0 * (horizon - t);
        }
        // The binding constraint: the one that alone explains the commanded acceleration.
        let binding = self
            .constraints
            .iter()
            .copied()
            .map(|c| (constrained_accel(cfg, v0, v_des, s0 + hl, 0.0, &[c]), c))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .filter(|(a, _)| *a < constrained_accel(cfg, v0, v_des, s0 + hl, 0.0, &[]) - 0.05)
            .map(|(_, c)| c);
        Scored { cost, accel: accel0, end: lat.d1, collision_free: collision_at.is_none(), binding }
    }
}

#[derive(Debug, Clone, Copy)]
struct Ctx {
    s0: f64,
    v0: f64,
    hl: f64,
    hw: f64,
    v_des: f64,
    reach: f64,
    step: f64,
    steps: usize,
    d_target: f64,
    current: u32,
    goal_wall: Option<Constraint>,
    line_wall: Option<Constraint>,
    turn_wall: Option<Constraint>,
}

/// The virtual wall that stops the ego at its goal (or at the end of the road).
fn goal_wall(road: &RoadGeometry, input: &PlanInput<'_>, s0: f64, hl: f64) -> Option<Constraint> {
    let goal_s = match input.goal {
        // Drive through the goal at cruise speed, then stop beyond it with comfortable braking (a
        // distance goal on a road is a point to pass, not a place to park).
        MissionGoal::RoadDistance { s } => {
            let cruise = input.config.speed_limit_factor * road.map.speed_limit;
            Some(s + hl.max(5.0) + cruise * cruise / (2.0 * input.config.idm_decel))
        }
        MissionGoal::Point { x, y, .. } => Some(road.frame.to_frame(x, y, s0).0 + hl),
        MissionGoal::Region { min_x, min_y, max_x, max_y } => {
            Some(road.frame.to_frame(0.5 * (min_x + max_x), 0.5 * (min_y + max_y), s0).0 + hl)
        }
    };
    let end = road.map.length;
    let (rear, min_gap) = match goal_s {
        Some(g) if g < end => (g, 0.0),
        _ => (end, 2.0),
    };
    Some(Constraint { rear, speed: 0.0, min_gap, track: None, crossing: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PlanningConfig;
    use crate::interface::{EgoEstimate, LinePoint, RoadMap, VehicleParams};
    use crate::prediction::{PredictedPoint, Prediction, PredictionModel};

    /// A one-lane map route: 60 m south along x = 0, then a left turn of radius 10 m to the east
    /// (the line is the lane's right edge, the lane centre 1.75 m to its left).
    fn left_turn_route() -> RoadGeometry {
        let mut line = Vec::new();
        let mut s = 0.0;
        for i in 0..=60 {
            line.push(LinePoint { x: 0.0, y: 60.0 - f64::from(i), heading: -core::f64::consts::FRAC_PI_2, s });
            s += 1.0;
        }
        let mut prev = (0.0, 0.0);
        for i in 1..=16 {
            let a = f64::from(i) / 16.0 * core::f64::consts::FRAC_PI_2;
            let (x, y) = (10.0 - 10.0 * libm::cos(a), -10.0 * libm::sin(a));
            s += libm::hypot(x - prev.0, y - prev.1);
            prev = (x, y);
            line.push(LinePoint { x, y, heading: a - core::f64::consts::FRAC_PI_2, s });
        }
        for i in 1..=60 {
            s += 1.0;
            line.push(LinePoint { x: 10.0 + f64::from(i), y: -10.0, heading: 0.0, s });
        }
        RoadGeometry::new(RoadMap {
            lanes: 1,
            lane_width: 3.5,
            length: s,
            curvature: 0.0,
            speed_limit: 11.1,
            line,
            kind: None,
        })
    }

    /// An oncoming car in the lane left of the ego's (centre x = 5.25) driving north from `y`.
    fn oncoming_car(y: f64, speed: f64) -> Prediction {
        let points = (0..=20)
            .map(|k| {
                let t = f64::from(k) * 0.2;
                PredictedPoint { t, x: 5.25, y: y + speed * t, heading: core::f64::consts::FRAC_PI_2 }
            })
            .collect();
        Prediction {
            track_id: 9,
            class: ObjectClass::Car,
            length: 4.6,
            width: 1.9,
            vx: 0.0,
            vy: speed,
            model: PredictionModel::ConstantVelocity,
            points,
        }
    }

    fn plan_turn(planner: &mut RoadPlanner, road: &RoadGeometry, ego_y: f64, speed: f64, car: &Prediction) -> Plan {
        let ego =
            EgoEstimate { x: 1.75, y: ego_y, heading: -core::f64::consts::FRAC_PI_2, speed, ..Default::default() };
        plan_once(planner, road, ego, 140.0, car, 60.0 - ego_y)
    }

    /// One planning cycle of a 4.6 m car at `ego`, `ego_s` along `road`, going `goal_s` along it,
    /// with one predicted object.
    fn plan_once(
        planner: &mut RoadPlanner,
        road: &RoadGeometry,
        ego: EgoEstimate,
        goal_s: f64,
        object: &Prediction,
        ego_s: f64,
    ) -> Plan {
        let cfg = PlanningConfig::default();
        let vehicle =
            VehicleParams { length: 4.6, width: 2.0, wheelbase: 2.8, max_accel: 3.0, max_decel: 8.0, max_steer: 0.6 };
        let input = PlanInput {
            config: &cfg,
            vehicle: &vehicle,
            ego: &ego,
            goal: MissionGoal::RoadDistance { s: goal_s },
            predictions: core::slice::from_ref(object),
            tracks: &[],
            prediction_step: 0.2,
            period: 0.04,
            speed_cap: f64::INFINITY,
            tick: 0,
            visibility: f64::INFINITY,
            signals: &[],
        };
        planner.plan(road, &input, ego_s)
    }

    #[test]
    fn an_oncoming_car_crossing_the_turn_is_yielded_to_at_a_waiting_point_never_followed_as_a_leader() {
        let road = left_turn_route();
        let mut planner = RoadPlanner::default();
        // The ego 15 m before the turn at 5 m/s; the car 35 m beyond the junction at 12.5 m/s: both
        // would be in the turn within 3-4 s.
        let car = oncoming_car(-35.0, 12.5);
        let plan = plan_turn(&mut planner, &road, 15.0, 5.0, &car);
        assert_eq!(plan.behaviour, Behaviour::Yield { track: 9 });
        // Gap acceptance decides about it: the only constraint it imposes is a standing wall
        // before the turn, never a leader (its speed along the route is negative, -12.5 m/s where
        // it comes towards the ego).
        let from_car: Vec<_> = planner.constraints.iter().filter(|c| c.track == Some(9)).collect();
        assert_eq!(from_car.len(), 1, "{from_car:?}");
        assert!(from_car[0].crossing && from_car[0].speed == 0.0, "{from_car:?}");
        assert!(from_car[0].rear > 60.0 && from_car[0].rear < 68.0, "waiting point {:?}", from_car[0]);
        assert!(planner.constraints.iter().all(|c| c.speed >= 0.0), "{:?}", planner.constraints);

        // Once it has passed the junction (alongside the ego's approach, going away), nothing holds
        // the ego back.
        let gone = oncoming_car(20.0, 12.5);
        let mut planner = RoadPlanner::default();
        let free = plan_turn(&mut planner, &road, 15.0, 5.0, &gone);
        assert!(!matches!(free.behaviour, Behaviour::Yield { .. } | Behaviour::FollowLead { .. }), "{free:?}");
        assert!(plan.accel < free.accel - 0.3, "yielding {} vs free {}", plan.accel, free.accel);
        assert!(planner.constraints.iter().all(|c| c.track != Some(9)), "{:?}", planner.constraints);
    }

    /// The lane the planner heads for, at 26 m/s in the middle of three 3.5 m lanes on a straight
    /// road, with a 1.2 m box lying 60 m ahead `offset` metres left of the lane's centre.
    fn lane_to_pass_debris(offset: f64) -> Option<u32> {
        pass_box(offset, 160.0, 26.0).target_lane
    }

    /// One plan for an ego at x = 100 in the middle lane of a straight three-lane road driving at
    /// `speed`, with a 1.2 m box lying at `x` `offset` metres left of the lane's centre.
    fn pass_box(offset: f64, x: f64, speed: f64) -> Plan {
        let road = RoadGeometry::new(RoadMap {
            lanes: 3,
            lane_width: 3.5,
            length: 900.0,
            curvature: 0.0,
            speed_limit: 33.0,
            line: Vec::new(),
            kind: None,
        });
        let debris = Prediction {
            track_id: 4,
            class: ObjectClass::Unknown,
            length: 1.2,
            width: 1.2,
            vx: 0.0,
            vy: 0.0,
            model: PredictionModel::ConstantVelocity,
            points: (0..=20)
                .map(|k| PredictedPoint { t: f64::from(k) * 0.2, x, y: 5.25 + offset, heading: 0.0 })
                .collect(),
        };
        let ego = EgoEstimate { x: 100.0, y: 5.25, speed, ..Default::default() };
        plan_once(&mut RoadPlanner::default(), &road, ego, 700.0, &debris, 100.0)
    }

    #[test]
    fn the_ego_brakes_while_it_steers_round_a_standing_object_it_could_not_stop_for_gently() {
        let comfort = PlanningConfig::default().idm_decel;
        // 60 m ahead at 26 m/s a stop would take about 6.5 m/s²: it steers round and brakes
        // at the comfortable deceleration while the way round is not yet certain.
        let near = pass_box(0.0, 160.0, 26.0);
        assert_eq!(near.target_lane, Some(2));
        assert!(near.accel <= -comfort + 1e-9, "{}", near.accel);
        // 150 m ahead a gentle stop would still do: no braking for it yet.
        let far = pass_box(0.0, 250.0, 26.0);
        assert!(far.accel > -0.5, "{}", far.accel);
        // At a walking pace the same box 60 m ahead asks for nothing.
        assert!(pass_box(0.0, 160.0, 8.0).accel > -0.5);
    }

    /// A pedestrian at x = 120 walking towards the road at 1.4 m/s from y = `y0`, predicted over
    /// 5 s.
    fn crossing_walker(y0: f64) -> Prediction {
        Prediction {
            track_id: 7,
            class: ObjectClass::Pedestrian,
            length: 0.5,
            width: 0.5,
            vx: 0.0,
            vy: 1.4,
            model: PredictionModel::ConstantVelocity,
            points: (0..=25)
                .map(|k| {
                    let t = f64::from(k) * 0.2;
                    PredictedPoint { t, x: 120.0, y: y0 + 1.4 * t, heading: core::f64::consts::FRAC_PI_2 }
                })
                .collect(),
        }
    }

    #[test]
    fn a_yield_to_a_crossing_walker_holds_while_the_estimate_of_their_pace_wavers() {
        let road = RoadGeometry::new(RoadMap {
            lanes: 1,
            lane_width: 3.5,
            length: 900.0,
            curvature: 0.0,
            speed_limit: 13.9,
            line: Vec::new(),
            kind: None,
        });
        let ego = EgoEstimate { x: 100.0, y: 1.75, speed: 8.0, ..Default::default() };
        // At 8 m/s the ego is past the walking line 2.8 s from now; this walker comes within
        // 1.75 m of its centre line (half its width, half theirs and the lateral margin) 4.3 s
        // from now: outside the 1 s buffer, inside the buffer plus the hysteresis.
        let walker = crossing_walker(-6.0);
        let fresh = plan_once(&mut RoadPlanner::default(), &road, ego, 700.0, &walker, 100.0);
        assert!(!matches!(fresh.behaviour, Behaviour::Yield { .. }), "{:?}", fresh.behaviour);
        let mut yielding = RoadPlanner { yielding_to: Some(7), ..RoadPlanner::default() };
        let held = plan_once(&mut yielding, &road, ego, 700.0, &walker, 100.0);
        assert_eq!(held.behaviour, Behaviour::Yield { track: 7 });
        assert_eq!(yielding.yielding_to, Some(7));
        // Once yielding, a walker who would need far longer than that is let go again.
        let slow = plan_once(&mut yielding, &road, ego, 700.0, &crossing_walker(-10.0), 100.0);
        assert!(!matches!(slow.behaviour, Behaviour::Yield { .. }), "{:?}", slow.behaviour);
        assert_eq!(yielding.yielding_to, None);
    }

    #[test]
    fn a_standing_object_off_the_lane_centre_is_passed_on_its_open_side() {
        // Left of the centre: pass on the right (lane 0), not across its front to the left.
        assert_eq!(lane_to_pass_debris(1.2), Some(0));
        assert_eq!(lane_to_pass_debris(0.6), Some(0));
        // Right of the centre, or centred: the usual overtaking side, the left.
        assert_eq!(lane_to_pass_debris(-1.2), Some(2));
        assert_eq!(lane_to_pass_debris(0.0), Some(2));
    }

    fn neighbour(s: f64, d: f64, speed: f64, class: ObjectClass) -> RoadObject {
        let now = LaneObject { s, d, half_length: 2.3, half_width: 0.95, speed };
        RoadObject { id: 1, class, now, first: 0, count: 0, d_range: (d, d) }
    }

    #[test]
    fn the_ego_closes_in_on_a_slower_neighbour_only_as_fast_as_it_could_fall_back_behind_it() {
        let cfg = PlanningConfig::default();
        let mut planner = RoadPlanner::default();
        // The ego in lane 0 (centre 1.75) with its front at s = 2.3; lanes 3.5 m wide.
        let cap = |planner: &RoadPlanner| planner.passing_cap(&cfg, 0.0, 1.75, 2.3, 3.5, false);
        // Far ahead in the next lane: closing fast is fine.
        planner.objects = vec![neighbour(200.0, 5.25, 20.0, ObjectClass::Car)];
        assert!(cap(&planner) > 35.0, "{}", cap(&planner));
        // 10 m ahead: a TTC of two headways (3 s), well within the relative-braking bound.
        planner.objects = vec![neighbour(14.6, 5.25, 20.0, ObjectClass::Truck)];
        assert!((cap(&planner) - (20.0 + 10.0 / 3.0)).abs() < 1e-9, "{}", cap(&planner));
        // Alongside: passes at the passing speed difference.
        planner.objects = vec![neighbour(0.0, 5.25, 20.0, ObjectClass::Car)];
        assert_eq!(cap(&planner), 20.0 + PASSING_DV);
        // Its own lane (the IDM's business), two lanes away, standing, a cyclist, or passed: no cap.
        for o in [
            neighbour(14.6, 1.75, 20.0, ObjectClass::Car),
            neighbour(14.6, 8.75, 20.0, ObjectClass::Car),
            neighbour(14.6, 5.25, 0.0, ObjectClass::Car),
            neighbour(14.6, 5.25, 5.0, ObjectClass::Cyclist),
            neighbour(-10.0, 5.25, 20.0, ObjectClass::Car),
        ] {
            planner.objects = vec![o];
            assert_eq!(cap(&planner), f64::INFINITY, "{o:?}");
        }
        // On a street, a car parked in the next lane is passed at the occlusion speed.
        planner.objects = vec![neighbour(2.0, 5.25, 0.0, ObjectClass::Car)];
        assert_eq!(planner.passing_cap(&cfg, 0.0, 1.75, 2.3, 3.5, true), OCCLUSION_SPEED);
        assert_eq!(planner.passing_cap(&cfg, 0.0, 1.75, 2.3, 3.5, false), f64::INFINITY);
        // Switched off, nothing is anticipated.
        planner.objects = vec![neighbour(14.6, 5.25, 20.0, ObjectClass::Truck)];
        let off = PlanningConfig { anticipate_cut_ins: false, ..PlanningConfig::default() };
        assert_eq!(planner.passing_cap(&off, 0.0, 1.75, 2.3, 3.5, false), f64::INFINITY);
    }
}
