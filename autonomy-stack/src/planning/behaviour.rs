//! The behaviour layer of the road planner: IDM gap control, the lane each lane's traffic lets the
//! ego drive at, gap acceptance for lane changes and the lane-change state machine.

use crate::config::PlanningConfig;

/// Exponent of the IDM free-road term.
/// Smallest gap the IDM divides by, metres (keeps the interaction term finite).
const MIN_GAP: f64 = 0.1;
/// Leaders slower than this are standing obstacles, m/s.
const STOPPED: f64 = 0.5;
/// Largest gain of the free-road term below the desired speed, 1/s: a speed deficit closes with a
/// time constant of at least 0.2 s, four actuator lags. The IDM's own slope 4a / v_des is gentler
/// above about 1.2 m/s with the default 1.5 m/s², so only low targets are affected.
const FREE_ROAD_GAIN: f64 = 5.0;
/// Extra gap the kinematic stopping term aims for beyond s0, metres.
const STOP_SLACK: f64 = 0.25;

/// A longitudinal constraint on the ego, in a 1-D coordinate along its path: a leader's rear (or a
/// virtual wall) at `rear + speed·t` that the ego's front must stay `min_gap` behind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraint {
    /// Position of the leader's rear at t = 0, metres along the path.
    pub rear: f64,
    /// Leader speed along the path, m/s (0 for walls and stopped obstacles).
    pub speed: f64,
    /// Standstill gap to keep, metres.
    pub min_gap: f64,
    /// Which track imposes it (`None` for goal and road-end walls).
    pub track: Option<u64>,
    /// Whether it is a yield to a crossing object rather than a leader in the path.
    pub crossing: bool,
}

/// Intelligent Driver Model acceleration for speed `v` with desired speed `v_des`, optionally
/// behind a leader `gap` metres ahead driving at `v_lead` with standstill gap `s0`.
pub fn idm_accel(config: &PlanningConfig, v: f64, v_des: f64, leader: Option<(f64, f64, f64)>) -> f64 {
    let a = config.idm_accel;
    let b = config.idm_decel;
    let ratio = v.max(0.0) / v_des.max(0.1);
    // ratio^4 by multiplication: exact IEEE operations, the same bits on every target.
    let r2 = ratio * ratio;
    // Above the desired speed (a lowered limit, a degraded-mode cap) the free-road term would ask for
    // an arbitrarily hard stop; slowing down to a new limit is comfortable braking, never emergency.
    let mut acc = (a * (1.0 - r2 * r2)).max(-b);
    // Near the desired speed the free-road term's slope is 4a / v_des: 0.24 /s at 25 m/s but 21 /s
    // at 0.285 m/s, a loop gain no actuator lag and jerk limit can follow (the speed overshoots a
    // low target and cycles around it). Accelerating, it never asks for more than FREE_ROAD_GAIN
    // times the speed deficit. (Braking to a lowered target, say before a corner, stays prompt.)
    acc = acc.min(FREE_ROAD_GAIN * (v_des - v.max(0.0)).max(0.0));
    if let Some((gap, v_lead, s0)) = leader {
        let dv = v - v_lead;
        let s_star = s0 + (v * config.idm_headway + v * dv / (2.0 * libm::sqrt(a * b))).max(0.0);
        let s = gap.max(MIN_GAP);
        acc -= a * (s_star / s) * (s_star / s);
        if v_lead < STOPPED {
            // The IDM can undershoot s0 when it approaches a standing obstacle fast; the kinematic
            // stopping deceleration guarantees the standstill gap.
            let room = gap - s0 - STOP_SLACK;
            if room <= 0.0 {
                // Close enough: come to a firm stop and do not creep forward.
                acc = acc.min(if v > 0.0 { -b } else { 0.0 });
            }
            let needed = v.max(0.0) * v.max(0.0) / (2.0 * room.max(0.05));
            if needed > 0.5 * b {
                acc = acc.min(-needed);
            }
        }
    }
    acc
}

/// The most restrictive IDM acceleration over all constraints, for the ego front at `front`.
pub fn constrained_accel(config: &PlanningConfig, v: f64, v_des: f64, front: f64, t: f64, cs: &[Constraint]) -> f64 {
    let mut acc = idm_accel(config, v, v_des, None);
    for c in cs {
        let gap = c.rear + c.speed * t - front;
        acc = acc.min(idm_accel(config, v, v_des, Some((gap, c.speed, c.min_gap))));
    }
    acc
}

/// One object as the behaviour layer sees it at t = 0 in the road frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LaneObject {
    /// Along-road position of its centre, metres.
    pub s: f64,
    /// Lateral offset of its centre, metres.
    pub d: f64,
    /// Half its extent along the road, metres.
    pub half_length: f64,
    /// Half its extent across the road, metres.
    pub half_width: f64,
    /// Along-road speed, m/s.
    pub speed: f64,
}

/// The ego as the behaviour layer sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LaneEgo {
    /// Along-road position, metres.
    pub s: f64,
    /// Speed, m/s.
    pub speed: f64,
    /// Half length, metres.
    pub half_length: f64,
}

/// Whether an object overlaps the lateral span [lo, hi].
pub fn overlaps(o: &LaneObject, lo: f64, hi: f64) -> bool {
    o.d + o.half_width > lo && o.d - o.half_width < hi
}

/// Gap acceptance: the gap ahead must be at least half `lane_change_min_gap` plus one second of
/// closing speed, the gap behind half of it plus two seconds of the follower's closing speed.
pub fn gap_acceptable(config: &PlanningConfig, ego: &LaneEgo, objects: &[LaneObject], lo: f64, hi: f64) -> bool {
    let half = 0.5 * config.lane_change_min_gap;
    objects.iter().filter(|o| overlaps(o, lo, hi)).all(|o| {
        let ds = o.s - ego.s;
        let clear = libm::fabs(ds) - ego.half_length - o.half_length;
        if ds >= 0.0 {
            clear >= half + (ego.speed - o.speed).max(0.0)
        } else {
            clear >= half + 2.0 * (o.speed - ego.speed).max(0.0)
        }
    })
}

/// The speed traffic lets the ego drive at in the lateral span [lo, hi], looking `reach` metres
/// ahead: the slowest leader's along-road speed, or `v_des` on a free lane.
pub fn lane_speed(ego: &LaneEgo, objects: &[LaneObject], lo: f64, hi: f64, reach: f64, v_des: f64) -> f64 {
    objects
        .iter()
        .filter(|o| overlaps(o, lo, hi) && o.s > ego.s && o.s - ego.s < reach)
        .fold(v_des, |v, o| v.min(o.speed.max(0.0)))
}

/// Where the ego is, for [`LaneChoice::target`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Situation {
    /// Number of lanes.
    pub lanes: u32,
    /// The lane the ego is in.
    pub current: u32,
    /// Its desired speed, m/s.
    pub v_des: f64,
    /// Whether it should pull back in after an overtake: it must stop ahead, or faster traffic
    /// comes up behind it.
    pub pull_in: bool,
    /// Simulated time, seconds (the frame's tick times the period).
    pub time: f64,
    /// What blocks the current lane is a standing object lying left of the lane's centre (towards
    /// higher lane numbers): it is passed on its open side, the right (the keep-left tie-break is
    /// for overtaking traffic).
    pub obstacle_left: bool,
}

/// The lane-change state machine.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LaneChoice {
    /// The lane being changed into, while a change is in progress.
    pub changing_to: Option<u32>,
    /// The lane the ego left to overtake, to return to once past.
    pub return_to: Option<u32>,
    /// When the last lane change was abandoned (its gap closed), seconds, and the lane the ego
    /// went back to.
    pub aborted: Option<(f64, u32)>,
}

/// Speed advantage a lane must offer before the ego changes into it, m/s.
const LANE_CHANGE_GAIN: f64 = 2.0;
/// How much slower than the ego's desired speed the lane it overtook from may let it drive and
/// still count as free to return to, m/s.
const KEEP_RIGHT_TOLERANCE: f64 = 0.5;
/// How long after abandoning a lane change the ego keeps its lane before it tries another, s. An
/// abandoned change means traffic it had not seen (or misjudged) came up: trying the next lane at
/// once weaves across the road in front of that traffic, and each try spends seconds with the ego
/// half in another lane. Drivers settle back first; three seconds is about one change's duration.
const RETRY_AFTER_ABORT: f64 = 3.0;

impl LaneChoice {
    /// Picks the target lane given the ego's current lane. `speed_of(lane)` and `gap_ok(lane)`
    /// evaluate the traffic in a lane.
    pub fn target(
        &mut self,
        config: &PlanningConfig,
        at: Situation,
        settled_in: impl Fn(u32) -> bool,
        speed_of: impl Fn(u32) -> f64,
        gap_ok: impl Fn(u32) -> bool,
    ) -> u32 {
        let Situation { lanes, current, v_des, pull_in, time, obstacle_left } = at;
        if let Some(to) = self.changing_to {
            if !config.lane_change_enabled || (current != to && !gap_ok(to)) {
                // Abort: the gap closed (or lane changes were switched off).
                self.changing_to = None;
                self.aborted = Some((time, current));
                return current;
            }
            if current == to && settled_in(to) {
                self.changing_to = None;
            }
            return to;
        }
        if !config.lane_change_enabled {
            return current;
        }
        if let Some((_, lane)) = self.aborted.filter(|(at, _)| time - at < RETRY_AFTER_ABORT) {
            // Settling back into the lane it went back to (which it may still straddle).
            return lane;
        }
        let here = speed_of(current);
        let mut best = (current, here + LANE_CHANGE_GAIN);
        // Left first, so that a tie prefers overtaking on the left; right first past a standing
        // object that lies left of the lane's centre, so that the ego does not cut across it.
        let (left, right) = (current.checked_add(1).filter(|&l| l < lanes), current.checked_sub(1));
        let order = if obstacle_left { [right, left] } else { [left, right] };
        for lane in order.into_iter().flatten() {
            let v = speed_of(lane);
            if v > best.1 && gap_ok(lane) {
                best = (lane, v);
            }
        }
        if best.0 != current {
            self.changing_to = Some(best.0);
            if best.0 > current {
                // Overtaking on the left: come back here once past.
                self.return_to.get_or_insert(current);
            }
            return best.0;
        }
        // Back after an overtake, when staying would be in the way (`pull_in`: the ego must stop
        // ahead, or faster traffic comes up behind it): it returns to the lane it left for the
        // overtake once that lane is free and its gap acceptable. Slowing or stopping in the
        // passing lane stops it where traffic behind expects to pass. A lane with slower traffic
        // in reach is not free: the ego stays rather than pull in behind it. (Only after the
        // ego's own overtakes: a lane it was placed in, it keeps; and with nobody to make way
        // for, it does not weave back in front of the vehicles it passed, which may be catching
        // up in their own lane.)
        if let Some(back) = self.return_to {
            if back >= current {
                self.return_to = None;
            } else if pull_in && speed_of(current - 1) >= v_des - KEEP_RIGHT_TOLERANCE && gap_ok(current - 1) {
                self.changing_to = Some(current - 1);
                if current - 1 == back {
                    self.return_to = None;
                }
                return current - 1;
            }
        }
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idm_stops_behind_a_stopped_lead_with_at_least_the_minimum_gap() {
        let config = PlanningConfig::default();
        let max_decel = 8.0;
        for v0 in [5.0, 15.0, 25.0] {
            let (mut s, mut v) = (0.0, v0);
            // A stopped lead whose rear is 150 m ahead of the ego's front.
            let lead =
                Constraint { rear: 150.0, speed: 0.0, min_gap: config.idm_min_gap, track: None, crossing: false };
            let mut min_gap = f64::INFINITY;
            for _ in 0..2000 {
                let a = constrained_accel(&config, v, 25.0, s, 0.0, &[lead]).clamp(-max_decel, config.idm_accel);
                let v_next = (v + a * 0.05).max(0.0);
                s += 0.5 * (v + v_next) * 0.05;
                v = v_next;
                min_gap = min_gap.min(150.0 - s);
            }
            assert!(v < 0.05, "v0 {v0}: still moving at {v}");
            assert!(min_gap >= config.idm_min_gap, "v0 {v0}: gap {min_gap}");
            assert!(min_gap < config.idm_min_gap + 1.0, "v0 {v0}: stopped too early, gap {min_gap}");
        }
    }

    #[test]
    fn idm_follows_a_moving_lead_at_the_headway() {
        let config = PlanningConfig::default();
        let (mut s, mut v, mut lead) = (0.0, 20.0, 60.0);
        for _ in 0..4000 {
            lead += 15.0 * 0.05;
            let c = Constraint { rear: lead, speed: 15.0, min_gap: config.idm_min_gap, track: None, crossing: false };
            let a = constrained_accel(&config, v, 25.0, s, 0.0, &[c]);
            v = (v + a * 0.05).max(0.0);
            s += v * 0.05;
        }
        let gap = lead - s;
        // Equilibrium gap: s0 + v T, slightly more from the free-road term.
        let expected = config.idm_min_gap + 15.0 * config.idm_headway;
        assert!((v - 15.0).abs() < 0.1, "{v}");
        assert!(gap > expected && gap < expected * 1.5, "gap {gap} vs {expected}");
    }

    fn at(lanes: u32, current: u32, pull_in: bool) -> Situation {
        Situation { lanes, current, v_des: 20.0, pull_in, time: 0.0, obstacle_left: false }
    }

    fn obj(s: f64, d: f64, speed: f64) -> LaneObject {
        LaneObject { s, d, half_length: 2.25, half_width: 0.9, speed }
    }

    #[test]
    fn the_free_road_term_has_a_bounded_gain_below_a_low_target() {
        let config = PlanningConfig::default();
        // 0.285 m/s: the plain IDM would ask 1.5 (1 - 0.24) = 1.14 m/s² at 0.2 m/s.
        let up = idm_accel(&config, 0.2, 0.285, None);
        assert!((up - FREE_ROAD_GAIN * 0.085).abs() < 1e-9, "{up}");
        // At highway speed the IDM's own slope is the gentler one: unchanged.
        let plain = config.idm_accel * (1.0 - libm::pow(20.0 / 25.0, 4.0));
        assert!((idm_accel(&config, 20.0, 25.0, None) - plain).abs() < 1e-9);
    }

    #[test]
    fn gap_acceptance_rejects_a_car_alongside_and_a_fast_follower() {
        let config = PlanningConfig::default();
        let ego = LaneEgo { s: 100.0, speed: 15.0, half_length: 2.25 };
        let (lo, hi) = (3.5, 7.0);
        assert!(gap_acceptable(&config, &ego, &[obj(140.0, 5.25, 15.0), obj(60.0, 5.25, 15.0)], lo, hi));
        assert!(!gap_acceptable(&config, &ego, &[obj(101.0, 5.25, 15.0)], lo, hi), "alongside");
        assert!(!gap_acceptable(&config, &ego, &[obj(75.0, 5.25, 25.0)], lo, hi), "fast follower");
        assert!(gap_acceptable(&config, &ego, &[obj(101.0, 1.75, 15.0)], lo, hi), "other lane");
    }

    #[test]
    fn lane_choice_overtakes_a_slow_leader_only_through_an_acceptable_gap() {
        let config = PlanningConfig::default();
        let speeds = |lane: u32| if lane == 0 { 5.0 } else { 20.0 };
        let mut choice = LaneChoice::default();
        assert_eq!(choice.target(&config, at(2, 0, true), |_| false, speeds, |_| false), 0);
        assert_eq!(choice.target(&config, at(2, 0, true), |_| false, speeds, |_| true), 1);
        assert_eq!(choice.changing_to, Some(1));
        // Once in the lane and settled, the change completes.
        assert_eq!(choice.target(&config, at(2, 1, true), |_| true, speeds, |_| true), 1);
        assert_eq!(choice.changing_to, None);
        let off = PlanningConfig { lane_change_enabled: false, ..PlanningConfig::default() };
        assert_eq!(LaneChoice::default().target(&off, at(2, 0, true), |_| false, speeds, |_| true), 0);
    }

    #[test]
    fn a_blocked_lane_is_left_for_the_side_its_standing_object_leaves_open() {
        let config = PlanningConfig::default();
        let speeds = |lane: u32| if lane == 1 { 0.0 } else { 20.0 };
        let side = |obstacle_left| Situation { obstacle_left, ..at(3, 1, false) };
        // Both neighbours free: the left, as for overtaking, unless the object lies left of centre.
        assert_eq!(LaneChoice::default().target(&config, side(false), |_| false, speeds, |_| true), 2);
        let mut choice = LaneChoice::default();
        assert_eq!(choice.target(&config, side(true), |_| false, speeds, |_| true), 0);
        // Passing on the right is no overtake to return from.
        assert_eq!((choice.changing_to, choice.return_to), (Some(0), None));
        // Only a tie-break: a right lane without an acceptable gap leaves the left.
        let gap = |lane: u32| lane != 0;
        assert_eq!(LaneChoice::default().target(&config, side(true), |_| false, speeds, gap), 2);
    }

    #[test]
    fn after_an_overtake_the_ego_pulls_in_to_make_way_once_the_lane_is_free_and_its_gap_acceptable() {
        let config = PlanningConfig::default();
        let slow_right = |lane: u32| if lane == 0 { 5.0 } else { 20.0 };
        let free = |_: u32| 20.0;
        let mut choice = LaneChoice::default();
        assert_eq!(choice.target(&config, at(2, 0, true), |_| false, slow_right, |_| true), 1);
        assert_eq!(choice.target(&config, at(2, 1, true), |_| true, slow_right, |_| true), 1);
        assert_eq!(choice.return_to, Some(0));
        // Still beside the slow vehicle: stay.
        assert_eq!(choice.target(&config, at(2, 1, true), |_| false, slow_right, |_| true), 1);
        // Past it, but it is still too close behind: stay.
        assert_eq!(choice.target(&config, at(2, 1, true), |_| false, free, |_| false), 1);
        // Past it with room: back to the right, and the overtake is over.
        assert_eq!(choice.target(&config, at(2, 1, true), |_| false, free, |_| true), 0);
        assert_eq!(choice.changing_to, Some(0));
        assert_eq!(choice.return_to, None);
        // With nobody to make way for it stays out of the way of the vehicle it passed.
        let mut open_road = LaneChoice { return_to: Some(0), ..LaneChoice::default() };
        assert_eq!(open_road.target(&config, at(2, 1, false), |_| false, free, |_| true), 1);
        // A lane the ego was placed in, it keeps.
        assert_eq!(LaneChoice::default().target(&config, at(2, 1, true), |_| false, free, |_| true), 1);
    }

    #[test]
    fn after_abandoning_a_lane_change_the_ego_keeps_its_lane_for_a_while_before_trying_another() {
        let config = PlanningConfig::default();
        // Both neighbours look faster than the ego's lane.
        let slow_middle = |lane: u32| if lane == 1 { 2.0 } else { 20.0 };
        let when = |t: f64| Situation { time: t, ..at(3, 1, false) };
        let mut choice = LaneChoice::default();
        assert_eq!(choice.target(&config, when(10.0), |_| false, slow_middle, |_| true), 2);
        // A car comes up in lane 2: the change is abandoned.
        assert_eq!(choice.target(&config, when(10.5), |_| false, slow_middle, |l| l != 2), 1);
        // Lane 0 looks as good, but the ego does not swing across at once.
        assert_eq!(choice.target(&config, when(11.0), |_| false, slow_middle, |l| l != 2), 1);
        assert_eq!(choice.target(&config, when(13.4), |_| false, slow_middle, |l| l != 2), 1);
        // Once settled, it may try again.
        assert_eq!(choice.target(&config, when(13.5), |_| false, slow_middle, |l| l != 2), 0);
    }
}
