//! The test driver: a robot driver that holds a speed or a headway, as test protocols drive the
//! vehicle under test, so that what is measured is the stack's safety layer (AEB, predictive
//! braking), not its planner. The stack still steers, and its safety monitor may only brake harder
//! than the driver asks. On a road the driver also steers: it keeps the lateral position the ego
//! started at (a protocol's path-following robot), so the planner cannot swerve or change lanes
//! around the target. Once the safety layer has braked, the driver takes its foot off the
//! accelerator (as a protocol's robot does when the system intervenes): the car coasts down at
//! [`COAST_DECEL`] and is never driven faster again.

use autonomy_stack::DriverRequest;
use scenario_dsl::model::TestDriver;

use crate::road::RoadFrame;
use crate::vehicle::VehicleState;

/// Deceleration of a car coasting with the accelerator released (rolling resistance and engine
/// drag), m/s².
pub const COAST_DECEL: f64 = 0.5;

/// Braking a headway-holding driver uses at most, m/s²: harder braking is the safety layer's job.
pub const DRIVER_MAX_BRAKE: f64 = 2.0;
/// How much harder than the driver's request the stack must brake to count as an intervention, m/s².
const INTERVENTION: f64 = 0.5;

/// A test driver during one run.
#[derive(Debug, Clone)]
pub struct TestDriverState {
    spec: TestDriver<f64>,
    target: f64,
    max_accel: f64,
    released: bool,
    last: Option<f64>,
}

impl TestDriverState {
    /// The driver a scenario asks for; `None` when the stack drives.
    pub fn new(spec: &TestDriver<f64>, start_speed: f64, max_accel: f64) -> Option<Self> {
        let target = match spec {
            TestDriver::Stack => return None,
            TestDriver::HoldSpeed { speed } | TestDriver::HoldHeadway { speed, .. } => speed.unwrap_or(start_speed),
        };
        Some(Self { spec: spec.clone(), target, max_accel, released: false, last: None })
    }

    /// The actor a headway driver follows.
    pub fn leader(&self) -> Option<&str> {
        match &self.spec {
            TestDriver::HoldHeadway { actor, .. } => Some(actor),
            _ => None,
        }
    }

    /// This tick's request at `speed`, given the leader's gap and speed along the ego's heading.
    pub fn request(&mut self, speed: f64, lead: Option<(f64, f64)>, steer: Option<f64>) -> DriverRequest {
        let hold = (2.0 * (self.target - speed)).clamp(-DRIVER_MAX_BRAKE, self.max_accel);
        let accel = match (&self.spec, lead) {
            (TestDriver::HoldHeadway { time_gap, gain, .. }, Some((gap, lead_speed))) => {
                let desired = time_gap * speed;
                let follow = gain * gain * (gap - desired) + 2.0 * gain * (lead_speed - speed);
                follow.min(hold).clamp(-DRIVER_MAX_BRAKE, self.max_accel)
            }
            _ => hold,
        };
        let accel = if self.released { accel.min(-COAST_DECEL) } else { accel };
        self.last = Some(accel);
        DriverRequest { accel, steer }
    }

    /// What the stack commanded after the driver's request: braking clearly harder means the safety
    /// layer intervened.
    pub fn observe(&mut self, commanded: f64) {
        if self.last.is_some_and(|asked| commanded < asked - INTERVENTION) {
            self.released = true;
        }
    }
}

/// The steering angle that keeps the ego on the road line `d` (pure pursuit to a point ahead on it),
/// radians, within `max_steer`.
pub fn hold_line(ego: &VehicleState, road: &RoadFrame, d: f64, wheelbase: f64, max_steer: f64) -> f64 {
    let lookahead = (1.2 * ego.speed).max(6.0);
    let (s, _) = road.to_road(ego.x, ego.y);
    let (tx, ty, _) = road.to_world(s + lookahead, d);
    let alpha = libm::atan2(ty - ego.y, tx - ego.x) - ego.heading;
    let alpha = libm::atan2(libm::sin(alpha), libm::cos(alpha));
    let dist = libm::hypot(tx - ego.x, ty - ego.y).max(1e-6);
    libm::atan(2.0 * wheelbase * libm::sin(alpha) / dist).clamp(-max_steer, max_steer)
}
