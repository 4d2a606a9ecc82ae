//! Traffic signals and signs (`world.signals`): where each stop line is (on the ego's road, or at a
//! map lane position), what controls it (a traffic light's phase program, a stop sign or a yield
//! sign), and how far the junction's conflict zone reaches beyond the line. See ADR 0027.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{num_defaults, MapPoint, Number};

num_defaults! {
    zero = 0.0;
    line_width = 3.5;
    conflict_zone = 15.0;
}

fn yes() -> bool {
    true
}

/// What controls a stop line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A traffic light running its `phases`.
    #[default]
    TrafficLight,
    /// A stop sign: come to a standstill before the line, then give way.
    Stop,
    /// A yield (give way) sign: give way to crossing traffic, stopping only when needed.
    Yield,
}

impl SignalKind {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::TrafficLight => "traffic_light",
            SignalKind::Stop => "stop",
            SignalKind::Yield => "yield",
        }
    }
}

/// The state of a traffic light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LightState {
    /// Stop at the line.
    Red,
    /// Stop if that can be done comfortably, else go.
    Amber,
    /// Go.
    Green,
}

impl LightState {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            LightState::Red => "red",
            LightState::Amber => "amber",
            LightState::Green => "green",
        }
    }
}

/// One phase of a traffic light's program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phase<N: Number> {
    /// What the light shows.
    pub state: LightState,
    /// How long, seconds (> 0).
    pub duration: N,
}

/// Where a stop line is: `s` metres along the ego's road (on a map: along its route), or at a map
/// lane position (`map`), across the lane, facing that lane's direction of travel. Exactly one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopLinePlace<N: Number> {
    /// Metres along the ego's road (or route), across every lane of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<N>,
    /// A lane position on the world's map (`road`, `lane`, `s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<MapPoint<N>>,
}

/// A traffic light, stop sign or yield sign with its stop line. Vehicles approaching the line in
/// its direction of travel obey it (scripted and reactive actors too, until a `run_red_light`
/// step); the ego's stack perceives lights through its signal camera and knows signs from its map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signal<N: Number> {
    /// Unique id among the signals, used by `signal` triggers and reports.
    pub id: String,
    /// A traffic light (default), a stop sign or a yield sign.
    #[serde(default)]
    pub kind: SignalKind,
    /// Where the stop line is.
    pub at: StopLinePlace<N>,
    /// Width of the stop line across the road, metres (a line placed by `s` spans the whole road).
    #[serde(default = "line_width::<N>")]
    pub width: N,
    /// The traffic light's program, in order (a light only): e.g. `[{ state: red, duration: 8 },
    /// { state: green, duration: 20 }, { state: amber, duration: 3 }]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase<N>>,
    /// Seconds into the program at t = 0 (a light only).
    #[serde(default = "zero::<N>")]
    pub offset: N,
    /// Whether the program repeats (default); otherwise the last phase holds.
    #[serde(default = "yes")]
    pub repeat: bool,
    /// How far beyond the line the junction's conflict zone reaches, metres: the stretch a vehicle
    /// entering from this line must clear (`no_failure_to_yield`).
    #[serde(default = "conflict_zone::<N>")]
    pub conflict_zone: N,
}
