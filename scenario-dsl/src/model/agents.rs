//! The ego vehicle and the actors: start states, goals, manoeuvres and their triggers, or a
//! driver model (`drive`, see [`super::traffic`]) for actors that react to traffic.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{num_defaults, Drive, LightState, MapPoint, Number, Point};

num_defaults! {
    zero = 0.0;
    car_length = 4.6;
    car_width = 1.9;
    wheelbase = 2.8;
    max_accel = 3.0;
    max_decel = 8.0;
    max_steer = 35.0;
    goal_tolerance = 2.0;
    keep_accel = 2.0;
    lane_change_duration = 3.0;
    stop_decel = 4.0;
    walk_speed = 1.4;
    start_accel = 1.5;
    stopped_for = 1.0;
    headway_gain = 0.6;
}

/// The vehicle under test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ego<N: Number> {
    /// Dimensions and limits (defaults: a mid-size car).
    #[serde(default)]
    pub model: VehicleModel<N>,
    /// Initial pose.
    pub start: Start<N>,
    /// Initial speed, m/s.
    #[serde(default = "zero::<N>")]
    pub speed: N,
    /// The set speed the driver chose (cruise control), m/s: the stack never plans faster. A scenario
    /// whose triggers assume the ego keeps its test speed sets it to that speed; without it the stack
    /// chooses its own cruise speed under the speed limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_speed: Option<N>,
    /// Where the ego must get to.
    pub goal: Goal<N>,
    /// Optional route as waypoints (open areas); on a road the route is the ego's lane.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<Point<N>>,
    /// Who drives the ego's speed: the stack (default), or a test driver that holds a speed or a
    /// headway while the stack steers and its safety layer (AEB, predictive braking) may still
    /// brake harder, as protocols that test emergency braking require.
    #[serde(default, skip_serializing_if = "TestDriver::is_stack")]
    pub driver: TestDriver<N>,
}

/// Who controls the ego's speed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TestDriver<N: Number> {
    /// The stack plans and controls the speed (the default).
    #[default]
    Stack,
    /// A robot driver holds `speed` (default: the ego's start speed); only the stack's safety layer
    /// may brake (Euro NCAP AEB tests: "AEB only").
    HoldSpeed {
        /// Speed held, m/s (default: the start speed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speed: Option<N>,
    },
    /// A robot driver follows `actor` at `time_gap` seconds, never faster than `speed`; only the
    /// stack's safety layer may brake harder (UN R157 lead-vehicle tests).
    HoldHeadway {
        /// The actor followed.
        actor: String,
        /// Time gap, seconds, bumper to bumper.
        time_gap: N,
        /// Speed cap, m/s (default: the start speed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speed: Option<N>,
        /// How firmly the gap is held, 1/s (default 0.6).
        #[serde(default = "headway_gain::<N>")]
        gain: N,
    },
}

impl<N: Number> TestDriver<N> {
    /// True for the default, where the stack drives.
    pub fn is_stack(&self) -> bool {
        matches!(self, TestDriver::Stack)
    }
}

/// Dimensions and actuator limits of a vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VehicleModel<N: Number> {
    /// Length, metres.
    #[serde(default = "car_length::<N>")]
    pub length: N,
    /// Width, metres.
    #[serde(default = "car_width::<N>")]
    pub width: N,
    /// Wheelbase, metres.
    #[serde(default = "wheelbase::<N>")]
    pub wheelbase: N,
    /// Maximum acceleration, m/s².
    #[serde(default = "max_accel::<N>")]
    pub max_accel: N,
    /// Maximum braking deceleration (positive), m/s².
    #[serde(default = "max_decel::<N>")]
    pub max_decel: N,
    /// Maximum steering angle, degrees.
    #[serde(default = "max_steer::<N>")]
    pub max_steer: N,
}

impl<N: Number> Default for VehicleModel<N> {
    fn default() -> Self {
        Self {
            length: car_length(),
            width: car_width(),
            wheelbase: wheelbase(),
            max_accel: max_accel(),
            max_decel: max_decel(),
            max_steer: max_steer(),
        }
    }
}

/// An initial pose: either on a lane (`lane` and `s`, optionally `offset`) or in the plane
/// (`x`, `y`, `heading`). Never both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Start<N: Number> {
    /// Lane index (0 = rightmost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<u32>,
    /// Distance along the road, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<N>,
    /// Lateral offset from the lane centre, metres (positive is left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<N>,
    /// x, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<N>,
    /// y, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<N>,
    /// Heading, degrees counter-clockwise from +x (with `x`/`y`; on a lane it follows the lane).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<N>,
    /// A place on the world's map (an actor only): a lane position, heading along the lane's travel
    /// direction, or a point. Alone, never with the other fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<MapPoint<N>>,
    /// An actor only, with `lane` and `s` instead of `offset`: its centre's lateral offset from the
    /// ego's centre line at the start, as a fraction of the ego's width (positive is left):
    /// `overlap: -0.5` puts it half the ego's width to the right of the ego's centre line, whatever
    /// the ego's width and lane, as a protocol's overlap is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<N>,
}

/// A start pose once its form is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StartPose<N: Number> {
    /// On lane `lane`, `s` metres along, `offset` metres left of the centre.
    Lane {
        /// Lane index.
        lane: u32,
        /// Distance along the road.
        s: N,
        /// Offset from the lane centre.
        offset: N,
    },
    /// At `x`, `y` with `heading` degrees.
    Pose {
        /// x.
        x: N,
        /// y.
        y: N,
        /// Heading, degrees.
        heading: N,
    },
}

impl<N: Number> Start<N> {
    /// Which form this start takes; `None` when it is neither or both (validation reports it).
    pub fn pose(&self) -> Option<StartPose<N>> {
        let lane_form = self.lane.is_some() || self.s.is_some() || self.offset.is_some() || self.overlap.is_some();
        let plane_form = self.x.is_some() || self.y.is_some() || self.heading.is_some();
        match (lane_form, plane_form) {
            (true, false) => Some(StartPose::Lane {
                lane: self.lane?,
                s: self.s.clone()?,
                offset: self.offset.clone().unwrap_or_else(|| N::from(0.0)),
            }),
            (false, true) => Some(StartPose::Pose {
                x: self.x.clone()?,
                y: self.y.clone()?,
                heading: self.heading.clone().unwrap_or_else(|| N::from(0.0)),
            }),
            _ => None,
        }
    }
}

/// Where the ego must get to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Goal<N: Number> {
    /// Travel this many metres along the road from the start.
    Distance(N),
    /// Reach a point within a tolerance.
    Position {
        /// x, metres.
        x: N,
        /// y, metres.
        y: N,
        /// Radius that counts as arrived, metres.
        #[serde(default = "goal_tolerance::<N>")]
        tolerance: N,
    },
    /// Enter an axis-aligned region.
    Region {
        /// Smallest x.
        min_x: N,
        /// Smallest y.
        min_y: N,
        /// Largest x.
        max_x: N,
        /// Largest y.
        max_y: N,
    },
}

/// An actor: scripted by `behaviour`, or reactive when it has a `drive`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Actor<N: Number> {
    /// Unique id within the scenario, used by triggers and reports.
    pub id: String,
    /// What it is: sets its default size and how sensors classify it.
    pub kind: ActorKind,
    /// Initial pose.
    pub start: Start<N>,
    /// Initial speed, m/s.
    #[serde(default = "zero::<N>")]
    pub speed: N,
    /// Size override, metres (defaults depend on `kind`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Size<N>>,
    /// Manoeuvres in order; each starts when the previous one is done and its trigger (if any) fires.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub behaviour: Vec<Step<N>>,
    /// Drive like traffic instead of following a script: keep a safe distance to whatever is ahead
    /// in the lane (the ego included) and change lanes when it pays (`drive: {}` for the defaults).
    /// Not with `behaviour`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive: Option<Drive<N>>,
    /// A parked (static) vehicle: a `car`, `truck`, `forklift` or `robot` that stands where it
    /// starts for the whole run, with no speed, behaviour or `drive` (lint holds it to that).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub parked: bool,
}

/// Kinds of actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// Passenger car.
    Car,
    /// Truck or bus.
    Truck,
    /// Cyclist.
    Cyclist,
    /// Pedestrian.
    Pedestrian,
    /// Another mobile robot.
    Robot,
    /// Forklift.
    Forklift,
    /// A static obstacle on the road (debris, a lost load, a cone).
    Obstacle,
}

impl ActorKind {
    /// Default height, metres (lidar sees what rises above its scan plane).
    pub fn default_height(self) -> f64 {
        match self {
            ActorKind::Car => 1.5,
            ActorKind::Truck => 3.5,
            ActorKind::Cyclist => 1.7,
            ActorKind::Pedestrian => 1.8,
            ActorKind::Robot => 1.0,
            ActorKind::Forklift => 2.2,
            ActorKind::Obstacle => 0.7,
        }
    }

    /// Whether it is a vehicle that can be parked.
    pub fn is_vehicle(self) -> bool {
        matches!(self, ActorKind::Car | ActorKind::Truck | ActorKind::Forklift | ActorKind::Robot)
    }

    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Car => "car",
            ActorKind::Truck => "truck",
            ActorKind::Cyclist => "cyclist",
            ActorKind::Pedestrian => "pedestrian",
            ActorKind::Robot => "robot",
            ActorKind::Forklift => "forklift",
            ActorKind::Obstacle => "obstacle",
        }
    }

    /// Default (length, width), metres.
    pub fn default_size(self) -> (f64, f64) {
        match self {
            ActorKind::Car => (4.6, 1.9),
            ActorKind::Truck => (12.0, 2.5),
            ActorKind::Cyclist => (1.8, 0.6),
            ActorKind::Pedestrian => (0.5, 0.5),
            ActorKind::Robot => (1.2, 0.8),
            ActorKind::Forklift => (2.8, 1.2),
            ActorKind::Obstacle => (0.8, 0.8),
        }
    }
}

/// Length, width and height, metres; each defaults to the kind's (e.g. `size: { height: 1.15 }`
/// for a child).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Size<N: Number> {
    /// Length, metres (default: the kind's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<N>,
    /// Width, metres (default: the kind's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<N>,
    /// Height, metres (default: the kind's, e.g. 1.8 for a pedestrian, 0.7 for an obstacle). The
    /// lidar's scan plane is 0.5 m up: a lower object gives it no return; the camera aims at 60 %
    /// of the height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<N>,
}

/// One step of an actor's behaviour: a manoeuvre, optionally gated by a trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step<N: Number> {
    /// Start this step only once the trigger fires (after the previous step is done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Trigger<N>>,
    /// The manoeuvre.
    #[serde(rename = "do")]
    pub action: Manoeuvre<N>,
    /// A step with a trigger is a scripted event the scenario needs: a run in which it never fired
    /// ends `inconclusive`. `optional: true` lets it not happen.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// What an actor does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Manoeuvre<N: Number> {
    /// Follow the current lane, converging to `speed`.
    KeepLane {
        /// Target speed, m/s.
        speed: N,
        /// Acceleration used to reach it, m/s².
        #[serde(default = "keep_accel::<N>")]
        accel: N,
    },
    /// Drive through waypoints at a speed, then stop at the last one.
    FollowWaypoints {
        /// Waypoints, in order.
        points: Vec<Point<N>>,
        /// Speed, m/s.
        speed: N,
        /// The points are offsets from where the actor starts (x east, y north, metres), not
        /// places in the world: `{ x: 0, y: 4 }` is 4 m north of its start, wherever that is.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        relative: bool,
    },
    /// On a map: drive from where the actor is along the lane graph to `to` (through junctions, in
    /// each lane's direction of travel) at a speed, then stop there.
    FollowRoute {
        /// The destination.
        to: MapPoint<N>,
        /// Speed, m/s.
        speed: N,
    },
    /// Move to lane `to` over `duration` seconds, or at a mean `lateral_speed`.
    ChangeLane {
        /// Target lane index.
        to: u32,
        /// Seconds the lateral move takes.
        #[serde(default = "lane_change_duration::<N>")]
        duration: N,
        /// Mean lateral speed, m/s (protocols give cut-ins this way); when given, it sets the
        /// duration from the lateral distance and `duration` is not used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lateral_speed: Option<N>,
    },
    /// Brake to a speed at a deceleration.
    Brake {
        /// Target speed, m/s.
        #[serde(default = "zero::<N>")]
        to_speed: N,
        /// Deceleration (positive), m/s².
        decel: N,
        /// Jerk limit, m/s³: the deceleration builds up at this rate (default: at once).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jerk: Option<N>,
    },
    /// Come to a stop and stay.
    Stop {
        /// Deceleration (positive), m/s².
        #[serde(default = "stop_decel::<N>")]
        decel: N,
    },
    /// Walk or ride across the road, perpendicular to it.
    CrossRoad {
        /// Speed, m/s.
        #[serde(default = "walk_speed::<N>")]
        speed: N,
        /// Acceleration from standing to `speed`, m/s² (default: at full speed at once).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        accel: Option<N>,
        /// Which way: towards the left edge or the right edge of the road.
        #[serde(default)]
        direction: CrossDirection,
    },
    /// Accelerate from standstill (or current speed) to a speed.
    StartMoving {
        /// Target speed, m/s.
        speed: N,
        /// Acceleration, m/s².
        #[serde(default = "start_accel::<N>")]
        accel: N,
    },
    /// Hold the current motion for a while.
    Wait {
        /// Seconds.
        duration: N,
    },
    /// From now on ignore traffic lights and signs (drive through a red light); done at once.
    RunRedLight {},
}

/// Direction of a road crossing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrossDirection {
    /// Towards the left edge (increasing lane index).
    #[default]
    Left,
    /// Towards the right edge.
    Right,
}

/// A condition that starts a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger<N: Number> {
    /// Simulation time has reached `after` seconds.
    Time {
        /// Seconds since the start.
        after: N,
    },
    /// Signed longitudinal gap along the road, bumper to bumper, metres: positive while this actor
    /// is ahead of the ego, negative while it is behind (so `above: 10` waits until it leads by 10 m).
    GapToEgo(Compare<N>),
    /// Straight-line distance between this actor's and the ego's centres, metres.
    DistanceToEgo(Compare<N>),
    /// The ego's speed, m/s.
    EgoSpeed(Compare<N>),
    /// Time-to-collision between the ego and this actor under constant velocities, seconds
    /// (infinite while they are not closing).
    Ttc(Compare<N>),
    /// Another actor (or `ego`) has reached a position.
    ActorReached {
        /// Actor id, or `ego`.
        actor: String,
        /// Distance along the road, metres.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        s: Option<N>,
        /// A point to reach, with `radius`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<Point<N>>,
        /// Radius around `position`, metres.
        #[serde(default = "goal_tolerance::<N>")]
        radius: N,
    },
    /// The ego has been standing (below 0.1 m/s) for `duration` seconds.
    EgoStopped {
        /// Seconds standing.
        #[serde(default = "stopped_for::<N>")]
        duration: N,
    },
    /// A measure between two actors (either may be `ego`): exactly one of `distance` (centres),
    /// `gap` (signed, bumper to bumper along the road, positive while `a` leads `b`) or `ttc`.
    Between {
        /// First actor id, or `ego`.
        a: String,
        /// Second actor id, or `ego`.
        b: String,
        /// Straight-line distance between the centres, metres.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        distance: Option<Compare<N>>,
        /// Signed longitudinal gap, bumper to bumper, metres.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gap: Option<Compare<N>>,
        /// Time-to-collision under constant velocities, seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttc: Option<Compare<N>>,
    },
    /// A traffic light shows a state.
    Signal {
        /// The signal's id (in `world.signals`).
        id: String,
        /// The state it shows.
        state: LightState,
    },
    /// Impact-point timing: holds once this actor, crossing from where it stands at `speed`
    /// (from standing at `accel`, if given), would reach the point `at` of the ego's width
    /// (0 its right side, 0.5 its centre line, 1 its left side) no later than the ego's front, at
    /// the ego's current speed, reaches the actor. Start a `cross_road` with it and the two meet
    /// there. `speed` and `accel` default to the step's `cross_road`.
    ImpactPoint {
        /// Fraction of the ego's width from its right side, 0..1.
        at: N,
        /// The actor's crossing speed, m/s (default: the step's `cross_road` speed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speed: Option<N>,
        /// Its acceleration from standing, m/s² (default: the step's `cross_road` acceleration,
        /// else at full speed at once).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        accel: Option<N>,
    },
    /// Every one of these holds.
    All(Vec<Trigger<N>>),
    /// At least one of these holds.
    Any(Vec<Trigger<N>>),
    /// This does not hold.
    Not(Box<Trigger<N>>),
}

impl<N: Number> Trigger<N> {
    /// The trigger's name as written in files.
    pub fn name(&self) -> &'static str {
        match self {
            Trigger::Time { .. } => "time",
            Trigger::GapToEgo(_) => "gap_to_ego",
            Trigger::DistanceToEgo(_) => "distance_to_ego",
            Trigger::EgoSpeed(_) => "ego_speed",
            Trigger::Ttc(_) => "ttc",
            Trigger::ActorReached { .. } => "actor_reached",
            Trigger::EgoStopped { .. } => "ego_stopped",
            Trigger::Between { .. } => "between",
            Trigger::Signal { .. } => "signal",
            Trigger::ImpactPoint { .. } => "impact_point",
            Trigger::All(_) => "all",
            Trigger::Any(_) => "any",
            Trigger::Not(_) => "not",
        }
    }

    /// Whether it measures something relative to the actor whose step it starts (and so cannot
    /// stand on its own, as in `end_when`).
    pub fn needs_actor(&self) -> bool {
        match self {
            Trigger::GapToEgo(_) | Trigger::DistanceToEgo(_) | Trigger::Ttc(_) | Trigger::ImpactPoint { .. } => true,
            Trigger::All(ts) | Trigger::Any(ts) => ts.iter().any(Trigger::needs_actor),
            Trigger::Not(t) => t.needs_actor(),
            _ => false,
        }
    }
}

impl<N: Number> Manoeuvre<N> {
    /// The manoeuvre's name as written in files.
    pub fn name(&self) -> &'static str {
        match self {
            Manoeuvre::KeepLane { .. } => "keep_lane",
            Manoeuvre::FollowWaypoints { .. } => "follow_waypoints",
            Manoeuvre::FollowRoute { .. } => "follow_route",
            Manoeuvre::ChangeLane { .. } => "change_lane",
            Manoeuvre::Brake { .. } => "brake",
            Manoeuvre::Stop { .. } => "stop",
            Manoeuvre::CrossRoad { .. } => "cross_road",
            Manoeuvre::StartMoving { .. } => "start_moving",
            Manoeuvre::Wait { .. } => "wait",
            Manoeuvre::RunRedLight {} => "run_red_light",
        }
    }
}

/// A one-sided comparison: `{ below: 15 }` or `{ above: 10 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Compare<N: Number> {
    /// Fires when the value drops below this.
    Below(N),
    /// Fires when the value rises above this.
    Above(N),
}
