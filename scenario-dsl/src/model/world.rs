//! The static world: a road with lanes, and/or an open area with static obstacles.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{num_defaults, Number};

num_defaults! {
    lane_width = 3.5;
    zero = 0.0;
    obstacle_height = 1.5;
}

/// The static world. At least one of `road` and `area` is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct World<N: Number> {
    /// A straight or constant-curvature road starting at the origin, heading +x.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub road: Option<Road<N>>,
    /// An open area for mobile robots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<Area<N>>,
}

/// A road of parallel lanes. Lane 0 is the rightmost; the reference line is its right edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Road<N: Number> {
    /// Number of lanes (1..=8).
    pub lanes: u32,
    /// Width of each lane, metres.
    #[serde(default = "lane_width::<N>")]
    pub lane_width: N,
    /// Length along the reference line, metres.
    pub length: N,
    /// Constant curvature, 1/metres (positive turns left); 0 for straight.
    #[serde(default = "zero::<N>")]
    pub curvature: N,
    /// Speed limit, m/s.
    pub speed_limit: N,
}

/// A rectangular open area with static obstacles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Area<N: Number> {
    /// Drivable bounds.
    pub bounds: Bounds<N>,
    /// Static obstacles inside the bounds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub obstacles: Vec<Obstacle<N>>,
    /// Speed limit, m/s.
    pub speed_limit: N,
}

/// An axis-aligned rectangle, metres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bounds<N: Number> {
    /// Smallest x.
    pub min_x: N,
    /// Smallest y.
    pub min_y: N,
    /// Largest x.
    pub max_x: N,
    /// Largest y.
    pub max_y: N,
}

/// A static obstacle: an oriented box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Obstacle<N: Number> {
    /// What it is (affects nothing but reports and looks).
    pub kind: ObstacleKind,
    /// Centre x, metres.
    pub x: N,
    /// Centre y, metres.
    pub y: N,
    /// Extent along its heading, metres.
    pub length: N,
    /// Extent across its heading, metres.
    pub width: N,
    /// Height, metres (lidar sees over obstacles lower than its mount).
    #[serde(default = "obstacle_height::<N>")]
    pub height: N,
    /// Heading, degrees counter-clockwise from +x.
    #[serde(default = "zero::<N>")]
    pub heading: N,
}

/// Kinds of static obstacle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObstacleKind {
    /// A generic box.
    Box,
    /// A wall.
    Wall,
    /// A shelving rack.
    Shelving,
    /// A pallet.
    Pallet,
    /// A pillar or column.
    Pillar,
}
