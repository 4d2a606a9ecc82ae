//! The ego's vehicle model: a kinematic bicycle with actuator limits, a steering-rate limit and a
//! friction circle, so that low friction really lengthens stopping distance and widens curves.

use autonomy_stack::{ControlCommand, VehicleParams};

/// Standard gravity, m/s².
pub const G: f64 = 9.81;
/// How fast the steering actuator turns, rad/s.
pub const STEER_RATE: f64 = 1.2;
/// Time constant of the drivetrain and brakes: the achieved acceleration follows the command with
/// this first-order lag, seconds (brake pressure takes time to build).
pub const ACCEL_LAG: f64 = 0.1;

/// The ego's true state.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VehicleState {
    /// Rear-axle-centred x, metres (we use the body centre for simplicity).
    pub x: f64,
    /// y, metres.
    pub y: f64,
    /// Heading, radians.
    pub heading: f64,
    /// Forward speed, m/s (never negative: no reversing).
    pub speed: f64,
    /// Front-wheel steering angle, radians.
    pub steer: f64,
    /// Achieved longitudinal acceleration in the last step, m/s².
    pub accel: f64,
    /// Achieved lateral acceleration in the last step, m/s².
    pub lateral_accel: f64,
    /// Yaw rate in the last step, rad/s.
    pub yaw_rate: f64,
}

/// Advances the vehicle by `dt` under `cmd`, within its limits and the tyre grip `friction * G`.
pub fn step(
    state: &VehicleState,
    cmd: &ControlCommand,
    limits: &VehicleParams,
    friction: f64,
    dt: f64,
) -> VehicleState {
    let grip = friction * G;
    // Actuators: steering angle and rate, acceleration range.
    let steer_target = cmd.steer.clamp(-limits.max_steer, limits.max_steer);
    let max_delta = STEER_RATE * dt;
    let steer = state.steer + (steer_target - state.steer).clamp(-max_delta, max_delta);
    let requested = cmd.accel.clamp(-limits.max_decel, limits.max_accel);
    let mut accel = state.accel + (requested - state.accel) * (dt / ACCEL_LAG).min(1.0);
    // Tyres: braking and traction first (ABS), what grip is left goes to cornering.
    accel = accel.clamp(-grip, grip);
    if state.speed <= 0.0 && accel < 0.0 {
        accel = 0.0;
    }
    let mut curvature = libm::tan(steer) / limits.wheelbase;
    let v = state.speed;
    let lateral_grip = libm::sqrt((grip * grip - accel * accel).max(0.0));
    if v * v * curvature.abs() > lateral_grip {
        // Understeer: the car follows the widest curve the tyres can hold.
        curvature = curvature.signum() * lateral_grip / (v * v);
    }
    let mut speed = v + accel * dt;
    if speed < 0.0 {
        // Stopped within the step: the achieved deceleration is what it took to stop.
        accel = -v / dt;
        speed = 0.0;
    }
    let mean_speed = 0.5 * (v + speed);
    let yaw_rate = mean_speed * curvature;
    let mid_heading = state.heading + 0.5 * yaw_rate * dt;
    VehicleState {
        x: state.x + mean_speed * libm::cos(mid_heading) * dt,
        y: state.y + mean_speed * libm::sin(mid_heading) * dt,
        heading: state.heading + yaw_rate * dt,
        speed,
        steer,
        accel,
        lateral_accel: mean_speed * yaw_rate,
        yaw_rate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn car() -> VehicleParams {
        VehicleParams { length: 4.6, width: 1.9, wheelbase: 2.8, max_accel: 3.0, max_decel: 8.0, max_steer: 0.6 }
    }

    fn stopping_distance(friction: f64) -> f64 {
        let mut s = VehicleState { speed: 25.0, ..Default::default() };
        let brake = ControlCommand { accel: -8.0, steer: 0.0 };
        while s.speed > 0.0 {
            s = step(&s, &brake, &car(), friction, 0.02);
        }
        s.x
    }

    #[test]
    fn low_friction_lengthens_the_stopping_distance() {
        let dry = stopping_distance(0.9);
        let icy = stopping_distance(0.2);
        // v²/2a: 25²/(2*8) = 39 m on dry road (limited by the brakes), 25²/(2*1.962) = 159 m on ice,
        // plus about v * ACCEL_LAG = 2.5 m while the brakes build up.
        assert!((39.0..42.5).contains(&dry), "dry {dry}");
        assert!((159.0..162.5).contains(&icy), "icy {icy}");
    }

    #[test]
    fn cornering_never_exceeds_the_grip() {
        let mut s = VehicleState { speed: 20.0, ..Default::default() };
        let turn = ControlCommand { accel: 0.0, steer: 0.6 };
        for _ in 0..200 {
            s = step(&s, &turn, &car(), 0.3, 0.02);
            assert!(s.lateral_accel.abs() <= 0.3 * G + 1e-9);
        }
        assert!(s.steer <= car().max_steer);
    }
}
