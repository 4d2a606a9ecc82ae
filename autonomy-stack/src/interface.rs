//! The stack's interface with the simulator: what it is told once per run ([`Mission`]), what it
//! sees each control tick ([`SensorFrame`]) and what it answers ([`StackOutput`]).
//!
//! Frames: the world frame is x east, y north, metres; headings are radians counter-clockwise from
//! +x. Lidar angles are relative to the ego's heading. Time is simulated seconds.

use serde::{Deserialize, Serialize};

/// The road as the stack's map knows it: parallel lanes along a reference line. Lane 0 is the
/// rightmost; the reference line is its right edge. The line either starts at the origin heading +x
/// and bends with constant curvature (`line` empty), or is the sampled polyline `line` (a route
/// through a map's junctions), with `length` its last point's `s` and `curvature` unused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoadMap {
    /// Number of lanes.
    pub lanes: u32,
    /// Lane width, metres.
    pub lane_width: f64,
    /// Length of the reference line, metres.
    pub length: f64,
    /// Curvature, 1/metres (positive turns left).
    pub curvature: f64,
    /// Speed limit, m/s.
    pub speed_limit: f64,
    /// The reference line as samples, in order of increasing `s` (empty: the constant-curvature line).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line: Vec<LinePoint>,
    /// What kind of road the map says this is; `None` when it does not say, and the stack judges
    /// by the speed limit (a street up to 15 m/s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RoadKind>,
}

/// What kind of road a map says a road is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoadKind {
    /// A street in town, where people may step out from behind parked cars.
    Street,
    /// A road outside town.
    Rural,
    /// A motorway.
    Motorway,
}

/// One sample of a polyline reference line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinePoint {
    /// x, metres.
    pub x: f64,
    /// y, metres.
    pub y: f64,
    /// Heading of the line here, radians.
    pub heading: f64,
    /// Distance along the line from its first sample, metres.
    pub s: f64,
}

/// An oriented box in the world frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OrientedBox {
    /// Centre x, metres.
    pub x: f64,
    /// Centre y, metres.
    pub y: f64,
    /// Heading, radians.
    pub heading: f64,
    /// Extent along the heading, metres.
    pub length: f64,
    /// Extent across the heading, metres.
    pub width: f64,
}

/// An open area for mobile robots: bounds and the static obstacles the map knows about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaMap {
    /// Smallest x, metres.
    pub min_x: f64,
    /// Smallest y, metres.
    pub min_y: f64,
    /// Largest x, metres.
    pub max_x: f64,
    /// Largest y, metres.
    pub max_y: f64,
    /// Speed limit, m/s.
    pub speed_limit: f64,
    /// Mapped static obstacles (racks, walls). Unmapped ones only show up in the sensors.
    pub obstacles: Vec<OrientedBox>,
}

/// A part of the world with its own speed limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpeedZone {
    /// Where it is.
    pub region: ZoneRegion,
    /// Speed limit inside it, m/s.
    pub speed_limit: f64,
}

/// Where a speed zone is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ZoneRegion {
    /// A section of the road, from `from_s` to `to_s` along its reference line, every lane.
    Road {
        /// Start, metres along the road.
        from_s: f64,
        /// End, metres along the road.
        to_s: f64,
    },
    /// An axis-aligned rectangle in the world frame.
    Rect {
        /// Smallest x.
        min_x: f64,
        /// Smallest y.
        min_y: f64,
        /// Largest x.
        max_x: f64,
        /// Largest y.
        max_y: f64,
    },
}

/// Where the ego must go.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MissionGoal {
    /// Reach road coordinate `s` (metres along the reference line).
    RoadDistance {
        /// Target s, metres.
        s: f64,
    },
    /// Reach a point within a tolerance.
    Point {
        /// x, metres.
        x: f64,
        /// y, metres.
        y: f64,
        /// Arrival radius, metres.
        tolerance: f64,
    },
    /// Enter a rectangle.
    Region {
        /// Smallest x.
        min_x: f64,
        /// Smallest y.
        min_y: f64,
        /// Largest x.
        max_x: f64,
        /// Largest y.
        max_y: f64,
    },
}

/// The ego's dimensions and actuator limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VehicleParams {
    /// Length, metres.
    pub length: f64,
    /// Width, metres.
    pub width: f64,
    /// Wheelbase, metres.
    pub wheelbase: f64,
    /// Maximum acceleration, m/s².
    pub max_accel: f64,
    /// Maximum braking deceleration (positive), m/s².
    pub max_decel: f64,
    /// Maximum steering angle, radians.
    pub max_steer: f64,
}

/// What the stack is told once, before the first tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mission {
    /// The road, if the scenario has one.
    pub road: Option<RoadMap>,
    /// The open area, if the scenario has one.
    pub area: Option<AreaMap>,
    /// Where to go.
    pub goal: MissionGoal,
    /// Optional route waypoints (world frame), in order.
    pub route: Vec<(f64, f64)>,
    /// The lane the ego starts in, when on a road.
    pub start_lane: Option<u32>,
    /// The driver's set speed (cruise control), m/s, if the scenario fixes one: the stack never plans
    /// faster than it (nor faster than the speed limit allows).
    #[serde(default)]
    pub set_speed: Option<f64>,
    /// Parts of the world with their own speed limit (a loading dock, a school section), which
    /// the stack never plans to be faster in, slowing before it enters them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<SpeedZone>,
    /// The ego vehicle.
    pub vehicle: VehicleParams,
    /// Control period, seconds (the simulator calls [`crate::interface`]'s step once per period).
    pub control_period: f64,
}

/// The ego's state as localisation estimates it (noisy).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct EgoEstimate {
    /// x, metres.
    pub x: f64,
    /// y, metres.
    pub y: f64,
    /// Heading, radians.
    pub heading: f64,
    /// Forward speed, m/s.
    pub speed: f64,
    /// Longitudinal acceleration, m/s².
    pub accel: f64,
    /// Yaw rate, rad/s.
    pub yaw_rate: f64,
}

/// One lidar scan: `ranges[i]` is the return of the ray at `angle_min + i * angle_increment`
/// (relative to the ego's heading); `None` means no return (nothing in range, or dropout).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LidarScan {
    /// Angle of the first ray relative to the ego's heading, radians.
    pub angle_min: f64,
    /// Angle between consecutive rays, radians.
    pub angle_increment: f64,
    /// Maximum range, metres.
    pub max_range: f64,
    /// Ranges, metres.
    pub ranges: Vec<Option<f64>>,
}

/// Object classes the detector reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectClass {
    /// Car.
    Car,
    /// Truck or bus.
    Truck,
    /// Cyclist.
    Cyclist,
    /// Pedestrian.
    Pedestrian,
    /// Robot or forklift.
    Robot,
    /// Anything static or unclassified.
    Unknown,
}

/// One object from the detector, in the world frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Class.
    pub class: ObjectClass,
    /// Centre x, metres.
    pub x: f64,
    /// Centre y, metres.
    pub y: f64,
    /// Velocity x, m/s.
    pub vx: f64,
    /// Velocity y, m/s.
    pub vy: f64,
    /// Heading, radians.
    pub heading: f64,
    /// Length, metres.
    pub length: f64,
    /// Width, metres.
    pub width: f64,
    /// Confidence 0..1.
    pub confidence: f64,
}

/// Everything the stack sees in one control tick.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SensorFrame {
    /// Control tick number, from 0.
    pub tick: u64,
    /// Simulated time, seconds.
    pub time: f64,
    /// Localisation's estimate of the ego.
    pub ego: EgoEstimate,
    /// The newest lidar scan, when one completed this tick.
    pub lidar: Option<LidarScan>,
    /// The detector's object list, when one arrived this tick (already delayed by its latency).
    pub detections: Option<Vec<Detection>>,
    /// How long before this frame the detector captured its list, seconds (its latency: a camera's
    /// processing time); 0 without a list. The stack moves each detection on by its measured
    /// velocity over this time, so it lines up with the lidar's scan of the same object.
    #[serde(default)]
    pub detections_age: f64,
    /// Visibility through the air (fog, heavy rain, smoke) as the vehicle's sensors estimate it,
    /// metres; `None` when not estimated. The planner keeps a speed from which it can stop within
    /// it. A value that is not finite and positive is implausible input.
    #[serde(default)]
    pub visibility: Option<f64>,
    /// Stop lines ahead along the road, from the map (traffic lights, stop and yield signs), each
    /// with the light's state as the signal camera last reported it this frame (ADR 0027). Empty
    /// where the map has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<SignalObservation>,
}

/// What controls a stop line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopLineKind {
    /// A traffic light.
    TrafficLight,
    /// A stop sign: stand still before the line, then give way.
    Stop,
    /// A yield sign: give way to crossing traffic.
    Yield,
}

/// A traffic light's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LightState {
    /// Stop.
    Red,
    /// Stop if it can be done comfortably.
    Amber,
    /// Go.
    Green,
}

/// One stop line ahead of the ego on its road: map data (where, what kind, how deep the junction
/// is) and, for a traffic light, what the signal camera saw.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignalObservation {
    /// Stable id of the line within the run.
    pub id: u32,
    /// Light, stop sign or yield sign.
    pub kind: StopLineKind,
    /// The line's position along the road's reference line, metres.
    pub s: f64,
    /// How far beyond the line the junction's conflict zone reaches, metres.
    pub zone: f64,
    /// The light's state as the camera saw it (after its latency); `None` for a sign, out of the
    /// camera's range, or when the camera missed it this frame.
    #[serde(default)]
    pub state: Option<LightState>,
}

/// A test driver's request for one control tick (the robot driver of a test protocol that holds a
/// speed or a headway, and a path). It replaces the planner's acceleration (and, when given, its
/// steering); the stack's safety monitor still acts on top, only ever braking harder.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct DriverRequest {
    /// Longitudinal acceleration, m/s² (negative brakes).
    pub accel: f64,
    /// Front-wheel steering angle, radians, when the driver also steers.
    pub steer: Option<f64>,
}

/// The actuation request: the simulator's vehicle model applies its own limits on top.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ControlCommand {
    /// Longitudinal acceleration, m/s² (negative brakes).
    pub accel: f64,
    /// Front-wheel steering angle, radians (positive turns left).
    pub steer: f64,
}

/// The stack's operating mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Everything healthy.
    #[default]
    Nominal,
    /// Inputs unhealthy or outside the operating domain: speed capped.
    Degraded,
    /// The safety monitor has taken over (emergency brake or minimal-risk stop).
    Fallback,
}

/// Why a guardrail acted. Reason codes are stable: reports count activations by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Time-to-collision fell below the AEB threshold: emergency braking.
    AebTtc,
    /// Predicted conflict along the planned path: early braking.
    PredictiveBrake,
    /// Too many lidar rays returned nothing.
    LidarDropout,
    /// The detector went silent.
    DetectorSilence,
    /// A NaN or physically implausible input.
    ImplausibleInput,
    /// Localisation jumped.
    LocalisationJump,
    /// The number of tracks changed implausibly.
    TrackCountAnomaly,
    /// Above the speed limit.
    SpeedLimit,
    /// Friction estimate too low for the planned speed.
    LowFriction,
    /// Outside the geofence (road or area bounds).
    Geofence,
    /// A command outside the envelope was clamped.
    EnvelopeClamp,
    /// Controlled stop after persistent degradation.
    MinimalRiskManoeuvre,
}

/// One guardrail activation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardrailEvent {
    /// Why.
    pub reason: Reason,
    /// True when this activation engaged a fallback (counts as an intervention).
    pub intervention: bool,
}

/// The stack's modules, for latency accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    /// Lidar clustering and fusion.
    Perception,
    /// Multi-object tracking.
    Tracking,
    /// Trajectory prediction.
    Prediction,
    /// Behaviour and trajectory planning.
    Planning,
    /// Path and speed control.
    Control,
    /// Runtime safety monitor.
    Safety,
}

impl Module {
    /// Every module, in pipeline order.
    pub const ALL: [Module; 6] =
        [Module::Perception, Module::Tracking, Module::Prediction, Module::Planning, Module::Control, Module::Safety];
}

/// Per-module compute time in one tick, nanoseconds, as measured by the injected [`Clock`]: the
/// thread's CPU time (what budgets and deadline misses are judged on: it does not grow when other
/// processes compete for the core) and the wall time beside it (what a reader of the logs feels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModuleTimings {
    /// Wall nanoseconds per module, indexed like [`Module::ALL`].
    pub nanos: [u64; 6],
    /// Thread CPU nanoseconds per module, indexed like [`Module::ALL`].
    #[serde(default)]
    pub cpu_nanos: [u64; 6],
    /// How many times the OS preempted the stack's thread (involuntary context switches) since the
    /// previous tick's measurement ended, in this tick or in the simulation between the two
    /// (0 with a clock that cannot tell); see [`ModuleTimings::preempted`].
    #[serde(default)]
    pub preemptions: u32,
    /// The thread's CPU nanoseconds over that same stretch, from the end of the previous tick's
    /// measurement to the end of this one's (this tick alone for the first): how long the tick was
    /// exposed to preemption. A long tick is preempted more often than a short one, so leaving the
    /// preempted ticks out would bias the judged times low; this is what corrects it (see
    /// `sim_core::latency::Latencies`).
    #[serde(default)]
    pub exposed_cpu_nanos: u64,
}

impl ModuleTimings {
    /// The OS preempted the thread over this tick's stretch: its CPU times carry the switch and the
    /// caches it left cold, a cost of the machine's load rather than of the modules, so they are
    /// counted apart instead of judged. Always false with a clock that cannot tell.
    pub fn preempted(&self) -> bool {
        self.preemptions > 0
    }

    /// Wall time spent in `module`.
    pub fn get(&self, module: Module) -> u64 {
        self.nanos[module as usize]
    }

    /// CPU time the thread spent in `module`.
    pub fn cpu(&self, module: Module) -> u64 {
        self.cpu_nanos[module as usize]
    }
}

/// What the stack reports about one tick besides the command.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Telemetry {
    /// Operating mode after this tick.
    pub mode: Mode,
    /// Guardrail activations this tick.
    pub events: Vec<GuardrailEvent>,
    /// Measured compute time per module. Reported only: never used in a decision.
    pub timings: ModuleTimings,
    /// The planner's CPU time overran its compute budget this tick (counted, never acted on).
    pub deadline_miss: bool,
    /// Confirmed tracks after this tick.
    pub tracks: u32,
}

/// The stack's answer for one tick.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StackOutput {
    /// What to actuate.
    pub command: ControlCommand,
    /// What happened inside.
    pub telemetry: Telemetry,
}

/// A monotonic clock the caller injects so the stack can *measure* module latency without reading
/// the wall clock itself. Tests inject a fake; the simulator injects a real one.
pub trait Clock {
    /// Wall nanoseconds since an arbitrary origin; never decreases.
    fn now_ns(&mut self) -> u64;
    /// CPU nanoseconds the calling thread has consumed since an arbitrary origin; never decreases.
    /// Unlike wall time it does not count the time the thread waited for a core, so a budget judged
    /// on it gives the same answer on an idle and on a loaded machine.
    fn thread_cpu_ns(&mut self) -> u64;
    /// How many times the OS has preempted the calling thread (involuntary context switches) since
    /// an arbitrary origin; never decreases. A clock that cannot tell returns 0 for ever, and no
    /// tick is then counted as preempted.
    fn preemptions(&mut self) -> u64 {
        0
    }
}

/// A clock that never moves: latency reads as zero. For tests and replays.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrozenClock;

impl Clock for FrozenClock {
    fn now_ns(&mut self) -> u64 {
        0
    }

    fn thread_cpu_ns(&mut self) -> u64 {
        0
    }
}
