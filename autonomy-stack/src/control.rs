//! Control: lateral path tracking (pure pursuit or Stanley) and longitudinal speed control, with the
//! vehicle's actuator limits and the configured jerk and steering-rate limits. Non-finite inputs
//! hold the previous command, so the output is always inside the limits.

use crate::config::{ControlConfig, LateralController};
use crate::geometry::wrap_angle;
use crate::interface::{ControlCommand, EgoEstimate, VehicleParams};
use crate::planning::Plan;

/// The look-ahead floor never exceeds this many wheelbases (see [`lookahead_floor`]). At 2.5
/// (2.25 m for the catalog's 0.9 m-wheelbase robot) pure pursuit cut the corner before a 1.3 m
/// door and round a rack end far enough to touch them; at 2 it is back on the path before the gap.
const LOOKAHEAD_WHEELBASES: f64 = 2.0;
/// Nor falls below this, metres: shorter, a small robot's steering follows every corner of its
/// path so eagerly that the AEB's constant-curvature corridor swings into the box it is rounding.
const LEAST_LOOKAHEAD_FLOOR: f64 = 1.5;

/// The shortest look-ahead with which pure pursuit tracks a path for a vehicle of this wheelbase
/// (a car's configured `min_lookahead` may be shorter still), metres. The open-area planner slows
/// for corners with it.
pub fn lookahead_floor(wheelbase: f64) -> f64 {
    (LOOKAHEAD_WHEELBASES * wheelbase).max(LEAST_LOOKAHEAD_FLOOR)
}
/// Beyond this angle off the heading (radians) the target is behind the robot.
const BEHIND: f64 = 5.0 * core::f64::consts::FRAC_PI_6;
/// Beyond this angle off the heading (radians) the target is nearly dead astern.
const ASTERN: f64 = 0.9 * core::f64::consts::PI;
/// A steering angle beyond this (radians) has chosen its side.
const ASTERN_STEER: f64 = 0.05;

/// What the controller produced in one tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlOutput {
    /// The limited command.
    pub command: ControlCommand,
    /// What the control law asked for before any limit.
    pub requested: ControlCommand,
}

/// The controller.
#[derive(Debug, Clone)]
pub struct Controller {
    config: ControlConfig,
    vehicle: VehicleParams,
    period: f64,
    previous: ControlCommand,
}

impl Controller {
    /// A controller for a vehicle stepped every `period` seconds.
    pub fn new(config: ControlConfig, vehicle: VehicleParams, period: f64) -> Self {
        Self { config, vehicle, period, previous: ControlCommand::default() }
    }

    /// The last command issued.
    pub fn previous(&self) -> ControlCommand {
        self.previous
    }

    /// Tells the controller what was finally actuated (after the safety monitor), so its rate
    /// limits start from there.
    pub fn actuated(&mut self, command: ControlCommand) {
        if command.accel.is_finite() && command.steer.is_finite() {
            self.previous = command;
        }
    }

    /// One control step towards `plan` from the estimated state `ego`.
    pub fn step(&mut self, ego: &EgoEstimate, plan: &Plan) -> ControlOutput {
        let v = ego.speed;
        let requested_accel = plan.accel + self.config.speed_gain * (plan.speed - v);
        let requested_steer = match self.config.lateral {
            LateralController::PurePursuit => self.pure_pursuit(ego, &plan.path),
            LateralController::Stanley => self.stanley(ego, &plan.path),
        };
        let requested = ControlCommand { accel: requested_accel, steer: requested_steer };
        let command = self.limit(requested);
        self.previous = command;
        ControlOutput { command, requested }
    }

    /// Applies actuator limits (range), then the jerk and steering-rate limits relative to the
    /// previous command. Non-finite requests hold the previous value.
    pub fn limit(&self, requested: ControlCommand) -> ControlCommand {
        let v = &self.vehicle;
        let prev = self.previous;
        let accel = if requested.accel.is_finite() { requested.accel } else { prev.accel };
        let steer = if requested.steer.is_finite() { requested.steer } else { prev.steer };
        let accel = accel.clamp(-v.max_decel, v.max_accel);
        let steer = steer.clamp(-v.max_steer, v.max_steer);
        let da = self.config.jerk_limit * self.period;
        let ds = self.config.steer_rate_limit.to_radians() * self.period;
        ControlCommand {
            accel: accel.clamp(prev.accel - da, prev.accel + da).clamp(-v.max_decel, v.max_accel),
            steer: steer.clamp(prev.steer - ds, prev.steer + ds).clamp(-v.max_steer, v.max_steer),
        }
    }

    /// Pure-pursuit look-ahead: speed-proportional, at least `min_lookahead`, but that floor scales
    /// with the vehicle: a 4 m floor suits a car and makes a 0.9 m-wheelbase robot cut corners into
    /// racking, so it is bounded by [`lookahead_floor`].
    fn lookahead(&self, v: f64) -> f64 {
        let floor = self.config.min_lookahead.min(lookahead_floor(self.vehicle.wheelbase));
        (self.config.lookahead_time * v.max(0.0)).max(floor)
    }

    fn pure_pursuit(&self, ego: &EgoEstimate, path: &[(f64, f64)]) -> f64 {
        let Some((tx, ty)) = lookahead_point(path, ego.x, ego.y, self.lookahead(ego.speed)) else {
            return 0.0;
        };
        let dist = crate::geometry::norm(tx - ego.x, ty - ego.y).max(1e-3);
        let alpha = wrap_angle(libm::atan2(ty - ego.y, tx - ego.x) - ego.heading);
        // With the target behind, pure pursuit's arc (2 sin α / d) flattens towards zero as α
        // nears ±π: a robot starting with its back to its path drove off nearly straight, out of
        // the area. With the target more than 150° off it steers the arc of ±90° (the tightest
        // pure pursuit asks for at that look-ahead), on the side it already steers to while the
        // target is nearly dead astern, where the sign of α flips with the noise. (From 90° on,
        // the robot rounding a rack end after a replan turned into the rack's corner.)
        let reach = if libm::fabs(alpha) > BEHIND {
            if libm::fabs(alpha) > ASTERN && libm::fabs(self.previous.steer) > ASTERN_STEER {
                self.previous.steer.signum()
            } else {
                alpha.signum()
            }
        } else {
            libm::sin(alpha)
        };
        libm::atan2(2.0 * self.vehicle.wheelbase * reach, dist)
    }

    fn stanley(&self, ego: &EgoEstimate, path: &[(f64, f64)]) -> f64 {
        // Reference at the front axle (the ego's position is its centre).
        let (s, c) = (libm::sin(ego.heading), libm::cos(ego.heading));
        let fx = ego.x + 0.5 * self.vehicle.wheelbase * c;
        let fy = ego.y + 0.5 * self.vehicle.wheelbase * s;
        let Some((a, b, _)) = nearest_segment(path, fx, fy) else {
            return 0.0;
        };
        let path_heading = libm::atan2(b.1 - a.1, b.0 - a.0);
        let (ps, pc) = (libm::sin(path_heading), libm::cos(path_heading));
        // Positive when the front axle is left of the path.
        let cross = pc * (fy - a.1) - ps * (fx - a.0);
        let heading_error = wrap_angle(path_heading - ego.heading);
        heading_error - libm::atan2(self.config.stanley_gain * cross, ego.speed.max(0.0) + 1.0)
    }
}

/// A path segment's end points and a point's distance to it.
type SegmentHit = ((f64, f64), (f64, f64), f64);

fn nearest_segment(path: &[(f64, f64)], x: f64, y: f64) -> Option<SegmentHit> {
    let mut best: Option<SegmentHit> = None;
    for w in path.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        if len2 <= 0.0 {
            continue;
        }
        let u = (((x - a.0) * dx + (y - a.1) * dy) / len2).clamp(0.0, 1.0);
        let d = crate::geometry::norm(a.0 + dx * u - x, a.1 + dy * u - y);
        if best.is_none_or(|b| d < b.2) {
            best = Some((a, b, d));
        }
    }
    best
}

/// The point `dist` metres ahead along the path from the projection of (x, y) on it, extended
/// along the last segment when the path is too short.
pub fn lookahead_point(path: &[(f64, f64)], x: f64, y: f64, dist: f64) -> Option<(f64, f64)> {
    if path.len() < 2 {
        return None;
    }
    let mut best = (f64::INFINITY, 0, 0.0);
    for i in 0..path.len() - 1 {
        let (a, b) = (path[i], path[i + 1]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let u = if len2 > 0.0 { (((x - a.0) * dx + (y - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
        let d = crate::geometry::norm(a.0 + dx * u - x, a.1 + dy * u - y);
        if d < best.0 {
            best = (d, i, u);
        }
    }
    let (_, mut i, u) = best;
    let (a, b) = (path[i], path[i + 1]);
    let mut p = (a.0 + (b.0 - a.0) * u, a.1 + (b.1 - a.1) * u);
    let mut left = dist;
    loop {
        let b = path[i + 1];
        let seg = crate::geometry::norm(b.0 - p.0, b.1 - p.1);
        if seg >= left || i + 2 >= path.len() {
            let (a, b) = (path[i], path[i + 1]);
            let len = crate::geometry::norm(b.0 - a.0, b.1 - a.1).max(1e-9);
            let (ux, uy) = ((b.0 - a.0) / len, (b.1 - a.1) / len);
            return Some((p.0 + ux * left, p.1 + uy * left));
        }
        left -= seg;
        p = b;
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planning::Behaviour;
    use proptest::prelude::*;

    fn vehicle() -> VehicleParams {
        VehicleParams { length: 4.5, width: 1.8, wheelbase: 2.7, max_accel: 3.0, max_decel: 8.0, max_steer: 0.5 }
    }

    fn straight_plan(y: f64) -> Plan {
        Plan {
            path: (0..60).map(|k| (k as f64 * 2.0 - 10.0, y)).collect(),
            accel: 0.0,
            speed: 10.0,
            behaviour: Behaviour::KeepLane,
            target_lane: None,
            collision_free: true,
        }
    }

    #[test]
    fn pure_pursuit_turns_round_for_a_path_behind_it_on_one_side() {
        // A robot facing away from its path (the docking start): the plain arc 2 sin α / d would
        // steer 0.1 rad and drive it on, away from the path.
        let robot =
            VehicleParams { length: 1.2, width: 0.8, wheelbase: 0.9, max_accel: 1.0, max_decel: 2.5, max_steer: 1.047 };
        let config = ControlConfig::default();
        let mut c = Controller::new(config, robot, 0.05);
        let plan = Plan { path: vec![(3.0, 3.2), (18.0, 3.2)], speed: 0.3, ..straight_plan(0.0) };
        let mut ego = EgoEstimate { x: 3.0, y: 3.0, heading: core::f64::consts::PI, speed: 0.3, ..Default::default() };
        let mut min_x = ego.x;
        let mut sides = Vec::new();
        for _ in 0..1000 {
            let out = c.step(&ego, &plan);
            sides.push(out.command.steer.signum());
            ego.heading += ego.speed * libm::tan(out.command.steer) / robot.wheelbase * 0.05;
            ego.x += ego.speed * libm::cos(ego.heading) * 0.05;
            ego.y += ego.speed * libm::sin(ego.heading) * 0.05;
            min_x = min_x.min(ego.x);
        }
        // Turned round within 2.5 m (the docking hall's start is 3 m from its wall) and got going
        // along the path east. (Between 90° and 150° off, plain pure pursuit still swings wide: the
        // loop reaches 5 m beside the path; steering harder there turned robots into rack ends.)
        assert!(min_x > 3.0 - 2.5, "drove {:.2} m away first", 3.0 - min_x);
        assert!(ego.x > 5.0, "{ego:?}");
        // One turn, no flip-flopping between sides while the target was astern.
        let flips = sides.windows(2).take(40).filter(|w| w[0] != w[1]).count();
        assert!(flips <= 1, "{flips} side changes");
    }

    #[test]
    fn both_lateral_controllers_converge_on_a_straight_path() {
        for lateral in [LateralController::PurePursuit, LateralController::Stanley] {
            let config = ControlConfig { lateral, ..Default::default() };
            let mut c = Controller::new(config, vehicle(), 0.05);
            let mut ego = EgoEstimate { x: 0.0, y: -1.5, heading: 0.0, speed: 10.0, ..Default::default() };
            let plan = straight_plan(0.0);
            for _ in 0..200 {
                let out = c.step(&ego, &plan);
                ego.heading += ego.speed * libm::tan(out.command.steer) / 2.7 * 0.05;
                ego.x += ego.speed * libm::cos(ego.heading) * 0.05;
                ego.y += ego.speed * libm::sin(ego.heading) * 0.05;
            }
            assert!(libm::fabs(ego.y) < 0.05 && libm::fabs(ego.heading) < 0.01, "{lateral:?}: {ego:?}");
        }
    }

    #[test]
    fn speed_loop_tracks_the_planned_speed() {
        let mut c = Controller::new(ControlConfig::default(), vehicle(), 0.05);
        let mut ego = EgoEstimate { speed: 4.0, ..Default::default() };
        let plan = straight_plan(0.0);
        for _ in 0..400 {
            let out = c.step(&ego, &plan);
            ego.speed += out.command.accel * 0.05;
        }
        assert!(libm::fabs(ego.speed - 10.0) < 0.05, "{}", ego.speed);
    }

    proptest! {
        #[test]
        fn outputs_never_exceed_the_limits(
            steps in proptest::collection::vec((-1e3f64..1e3, -1e3f64..1e3, -50f64..50.0, -10f64..10.0, -100f64..100.0, 0u8..8), 1..40),
            stanley in proptest::bool::ANY,
        ) {
            let lateral = if stanley { LateralController::Stanley } else { LateralController::PurePursuit };
            let config = ControlConfig { lateral, ..Default::default() };
            let v = vehicle();
            let mut c = Controller::new(config.clone(), v, 0.05);
            let mut prev = ControlCommand::default();
            for (x, y, speed, heading, accel, poison) in steps {
                let mut ego = EgoEstimate { x, y, heading, speed, ..Default::default() };
                let mut plan = straight_plan(y * 0.3);
                plan.accel = accel;
                match poison {
                    0 => ego.x = f64::NAN,
                    1 => plan.accel = f64::INFINITY,
                    2 => plan.path.clear(),
                    3 => ego.speed = f64::NAN,
                    _ => {}
                }
                let out = c.step(&ego, &plan).command;
                prop_assert!(out.accel >= -v.max_decel && out.accel <= v.max_accel, "{out:?}");
                prop_assert!(out.steer.abs() <= v.max_steer, "{out:?}");
                prop_assert!((out.accel - prev.accel).abs() <= config.jerk_limit * 0.05 + 1e-9);
                prop_assert!((out.steer - prev.steer).abs() <= config.steer_rate_limit.to_radians() * 0.05 + 1e-9);
                prev = out;
            }
        }
    }
}
