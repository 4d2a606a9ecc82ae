//! The static world: a road with lanes, an OpenDRIVE map with the ego's route through it, and/or an
//! open area with static obstacles.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{num_defaults, Number, Signal};

num_defaults! {
    lane_width = 3.5;
    zero = 0.0;
    obstacle_height = 1.5;
}

/// The static world. At least one of `road`, `map` and `area` is required; `road` and `map` exclude
/// each other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct World<N: Number> {
    /// A straight or constant-curvature road starting at the origin, heading +x.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub road: Option<Road<N>>,
    /// An open area for mobile robots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<Area<N>>,
    /// A road network from an OpenDRIVE file and the ego's route through it. The route's lane is the
    /// ego's road: lane 0 of a one-lane road whose `s` runs along the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<Map<N>>,
    /// Traffic lights, stop signs and yield signs with their stop lines (ADR 0027).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<Signal<N>>,
    /// Parts of the world with their own speed limit (a loading dock, a pedestrian aisle, a
    /// school section), handed to the stack as map information.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<SpeedZone<N>>,
}

/// A part of the world with its own speed limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeedZone<N: Number> {
    /// Name, for reports.
    pub id: String,
    /// An axis-aligned rectangle (or give `road`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<Bounds<N>>,
    /// A section of the road, every lane (or give `area`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub road: Option<Section<N>>,
    /// Speed limit inside it, m/s.
    pub speed_limit: N,
}

/// A part of the world once its form is known.
#[derive(Debug, Clone, PartialEq)]
pub enum Place<N: Number> {
    /// An axis-aligned rectangle.
    Area(Bounds<N>),
    /// A section of the road.
    Road(Section<N>),
}

impl<N: Number> SpeedZone<N> {
    /// Where the zone is; `None` unless exactly one of `area` and `road` is given.
    pub fn place(&self) -> Option<Place<N>> {
        place_of(&self.area, &self.road)
    }
}

/// Exactly one of a rectangle and a road section.
pub fn place_of<N: Number>(area: &Option<Bounds<N>>, road: &Option<Section<N>>) -> Option<Place<N>> {
    match (area, road) {
        (Some(a), None) => Some(Place::Area(a.clone())),
        (None, Some(r)) => Some(Place::Road(r.clone())),
        _ => None,
    }
}

/// A section of the road, `from` to `to` metres along it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Section<N: Number> {
    /// Start, metres along the road.
    pub from: N,
    /// End, metres along the road.
    pub to: N,
}

impl<N: Number> World<N> {
    /// Whether the world has lanes the ego drives along: a road, or a map's route.
    pub fn has_lanes(&self) -> bool {
        self.road.is_some() || self.map.is_some()
    }
}

/// A road network read from an OpenDRIVE (`.xodr`) file, and the ego's route through it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Map<N: Number> {
    /// The `.xodr` file, relative to the folder of the scenario file (e.g. `../maps/town.xodr`).
    pub file: String,
    /// The ego's route: where it starts, any places it must pass, and its goal (two or more). The
    /// route follows the lane graph through junctions, in each lane's direction of travel.
    pub route: Vec<MapPoint<N>>,
    /// Speed limit, m/s.
    pub speed_limit: N,
    /// What kind of road the route runs on, handed to the stack as map information (default: the
    /// stack judges by the speed limit, a street up to 15 m/s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RoadKind>,
}

/// What kind of road it is, as a map says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoadKind {
    /// A street in town: people may step out from behind parked cars.
    Street,
    /// A road outside town.
    Rural,
    /// A motorway: no pedestrians, separated carriageways.
    Motorway,
}

impl RoadKind {
    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            RoadKind::Street => "street",
            RoadKind::Rural => "rural",
            RoadKind::Motorway => "motorway",
        }
    }
}

/// A place on a map: a lane position (`road`, `lane`, `s`, optionally `offset`) or a point
/// (`x`, `y`, snapped to the nearest driving lane). Never both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MapPoint<N: Number> {
    /// The OpenDRIVE road id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub road: Option<String>,
    /// The OpenDRIVE lane id: negative right of the road's reference line, positive left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane: Option<i32>,
    /// Distance along the road's reference line, metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s: Option<N>,
    /// Offset from the lane centre, metres (positive toward the road's left).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<N>,
    /// x, metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<N>,
    /// y, metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<N>,
}

/// A map place once its form is known.
#[derive(Debug, Clone, PartialEq)]
pub enum MapPlace<N: Number> {
    /// On lane `lane` of road `road`, `s` along the road, `offset` from the lane centre.
    Lane {
        /// Road id.
        road: String,
        /// Lane id.
        lane: i32,
        /// Along the road.
        s: N,
        /// From the lane centre.
        offset: N,
    },
    /// At a point.
    Point {
        /// x.
        x: N,
        /// y.
        y: N,
    },
}

impl<N: Number> MapPoint<N> {
    /// Which form this place takes; `None` when it is neither or both (validation reports it).
    pub fn place(&self) -> Option<MapPlace<N>> {
        let lane_form = self.road.is_some() || self.lane.is_some() || self.s.is_some() || self.offset.is_some();
        let point_form = self.x.is_some() || self.y.is_some();
        match (lane_form, point_form) {
            (true, false) => Some(MapPlace::Lane {
                road: self.road.clone()?,
                lane: self.lane?,
                s: self.s.clone()?,
                offset: self.offset.clone().unwrap_or_else(|| N::from(0.0)),
            }),
            (false, true) => Some(MapPlace::Point { x: self.x.clone()?, y: self.y.clone()? }),
            _ => None,
        }
    }
}

impl std::fmt::Display for MapPoint<f64> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.place() {
            Some(MapPlace::Lane { road, lane, s, offset }) => {
                write!(f, "road {road} lane {lane} s {s}")?;
                if offset != 0.0 {
                    write!(f, " offset {offset}")?;
                }
                Ok(())
            }
            Some(MapPlace::Point { x, y }) => write!(f, "({x}, {y})"),
            None => write!(f, "an incomplete place"),
        }
    }
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
    /// What kind of road this is, handed to the stack as map information (default: the stack
    /// judges by the speed limit, a street up to 15 m/s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RoadKind>,
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
