//! Planning: a behaviour layer and a sampled trajectory layer on roads ([`trajectory`],
//! [`behaviour`]), and a grid path search with the same IDM speed planning in open areas
//! ([`path_search`]). Stop lines ([`junction`]) and vehicles crossing the route ([`turn`]) become
//! walls the IDM speed profile brakes for. The output is a [`Plan`]: a path in the world frame plus a longitudinal target.

pub mod behaviour;
pub mod junction;
pub mod path_search;
pub mod trajectory;
pub mod turn;

use crate::config::PlanningConfig;
use crate::geometry::RoadGeometry;
use crate::interface::{EgoEstimate, Mission, MissionGoal, SignalObservation, VehicleParams};
use crate::prediction::Prediction;
use crate::tracking::Track;
use path_search::AreaPlanner;
use trajectory::RoadPlanner;

/// What the planner decided to do, for telemetry and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Cruise in the current lane.
    KeepLane,
    /// Follow a leader with IDM gap control.
    FollowLead {
        /// The leader's track.
        track: u64,
    },
    /// Change into another lane.
    ChangeLane {
        /// The target lane.
        to: u32,
    },
    /// Offset within the road to pass an obstacle.
    Avoid,
    /// Stop behind a stopped obstacle that cannot be passed.
    StopForObstacle {
        /// The obstacle's track.
        track: u64,
    },
    /// Yield to (stop for) an object crossing the ego's path.
    Yield {
        /// The crossing track.
        track: u64,
    },
    /// Stop at the goal or the end of the road.
    StopAtGoal,
    /// Follow the searched path in an open area.
    FollowPath,
    /// No path to the goal: stop.
    NoPath,
    /// The goal is reached: hold still.
    Arrived,
}

/// The planner's output for one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Path to follow, world frame, starting near the ego.
    pub path: Vec<(f64, f64)>,
    /// Feed-forward acceleration, m/s².
    pub accel: f64,
    /// Speed to hold at the next tick, m/s.
    pub speed: f64,
    /// The behaviour chosen.
    pub behaviour: Behaviour,
    /// The target lane, on roads.
    pub target_lane: Option<u32>,
    /// Whether the chosen trajectory is free of predicted conflicts.
    pub collision_free: bool,
}

impl Plan {
    /// A plan that brakes to a stop straight ahead.
    pub fn stop(ego: &EgoEstimate, behaviour: Behaviour, decel: f64) -> Plan {
        let (s, c) = (libm::sin(ego.heading), libm::cos(ego.heading));
        let path = (0..5).map(|k| (ego.x + c * k as f64 * 2.0, ego.y + s * k as f64 * 2.0)).collect();
        Plan { path, accel: -decel, speed: 0.0, behaviour, target_lane: None, collision_free: true }
    }
}

/// Everything a planning cycle reads.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// Planner tunables.
    pub config: &'a PlanningConfig,
    /// The ego vehicle.
    pub vehicle: &'a VehicleParams,
    /// The ego's estimated state.
    pub ego: &'a EgoEstimate,
    /// The mission's goal.
    pub goal: MissionGoal,
    /// Predicted trajectories of confirmed tracks.
    pub predictions: &'a [Prediction],
    /// Every live track (only confirmed ones are used).
    pub tracks: &'a [Track],
    /// Time step of the predictions, seconds.
    pub prediction_step: f64,
    /// Control period, seconds.
    pub period: f64,
    /// Speed cap: the driver's set speed, lowered by the safety monitor's mode (infinite when neither
    /// applies), m/s.
    pub speed_cap: f64,
    /// Tick number.
    pub tick: u64,
    /// How far the sensors can see through the air (fog), metres; infinite when not estimated.
    pub visibility: f64,
    /// Stop lines ahead with the lights' perceived states (ADR 0027).
    pub signals: &'a [SignalObservation],
}

/// The planner: road or open-area, chosen by the mission.
#[derive(Debug, Clone)]
pub struct Planner {
    road: Option<RoadGeometry>,
    road_planner: RoadPlanner,
    area_planner: AreaPlanner,
    ego_s: f64,
}

impl Planner {
    /// A planner for `mission`.
    pub fn new(mission: &Mission) -> Self {
        let road = mission.road.clone().map(RoadGeometry::new);
        Self { road, road_planner: RoadPlanner::default(), area_planner: AreaPlanner::new(mission), ego_s: 0.0 }
    }

    /// The ego's last road coordinate (0 off-road).
    pub fn ego_s(&self) -> f64 {
        self.ego_s
    }

    /// Plans one tick. The plan never asks for more acceleration than the vehicle can give: a
    /// feed-forward above its limit (e.g. the IDM's default 1.5 m/s² on a robot that can do 1.0)
    /// would be clamped by the controller on every tick and would make the speed overshoot.
    /// Braking requests are left as they are: beyond the vehicle's limit they say how urgent a stop
    /// is (and the controller clamps them), which a plan delayed by a reaction time still needs
    /// when its speed target has gone stale.
    pub fn plan(&mut self, input: &PlanInput<'_>) -> Plan {
        let mut plan = self.plan_unbounded(input);
        let bounded = plan.accel.min(input.vehicle.max_accel);
        if bounded != plan.accel {
            plan.speed = (plan.speed + (bounded - plan.accel) * input.period).max(0.0);
            plan.accel = bounded;
        }
        plan
    }

    fn plan_unbounded(&mut self, input: &PlanInput<'_>) -> Plan {
        match &self.road {
            Some(road) => {
                let (s, _) = road.frame.to_frame(input.ego.x, input.ego.y, self.ego_s);
                if s.is_finite() {
                    self.ego_s = s;
                }
                self.road_planner.plan(road, input, self.ego_s)
            }
            None => self.area_planner.plan(input),
        }
    }
}
