//! Reactive traffic: the driver model an actor drives by (`drive:`, the Intelligent Driver Model
//! for speed and MOBIL for lane changes) and the `traffic:` block that fills lanes with such
//! vehicles by density and a speed distribution, seeded by the variant.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{num_defaults, Number};

num_defaults! {
    time_headway = 1.5;
    min_gap = 2.0;
    idm_max_accel = 1.5;
    comfort_decel = 2.0;
    idm_exponent = 4.0;
    idm_max_decel = 9.0;
    politeness = 0.3;
    change_threshold = 0.2;
    safe_decel = 4.0;
    keep_right = 0.2;
    change_duration = 4.0;
    change_cooldown = 3.0;
    zero = 0.0;
    clear_gap = 20.0;
}

fn yes() -> bool {
    true
}

/// Which car-following model an actor drives by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriveModel {
    /// The Intelligent Driver Model (Treiber, Hennecke and Helbing 2000) with MOBIL lane changes
    /// (Kesting, Treiber and Helbing 2007).
    #[default]
    Idm,
}

/// How a reactive actor drives: it follows the nearest vehicle ahead in its lane (the ego
/// included) by the Intelligent Driver Model and changes lanes by MOBIL. Defaults are a calm
/// highway driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Drive<N: Number> {
    /// The car-following model (only `idm` today).
    #[serde(default)]
    pub model: DriveModel,
    /// Speed it drives at on a free road, m/s (default: the road's speed limit). In a `traffic`
    /// block the block's `desired_speed` distribution sets it instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_speed: Option<N>,
    /// Safe time headway to the vehicle ahead, seconds.
    #[serde(default = "time_headway::<N>")]
    pub time_headway: N,
    /// Bumper-to-bumper gap kept when standing, metres.
    #[serde(default = "min_gap::<N>")]
    pub min_gap: N,
    /// Maximum acceleration, m/s².
    #[serde(default = "idm_max_accel::<N>")]
    pub max_accel: N,
    /// Comfortable deceleration (positive), m/s².
    #[serde(default = "comfort_decel::<N>")]
    pub comfort_decel: N,
    /// Acceleration exponent (how sharply it stops accelerating near its desired speed).
    #[serde(default = "idm_exponent::<N>")]
    pub exponent: N,
    /// The hardest it can brake (positive), m/s²; the road's friction may limit it further.
    #[serde(default = "idm_max_decel::<N>")]
    pub max_decel: N,
    /// Lane changes by MOBIL.
    #[serde(default)]
    pub lane_change: LaneChange<N>,
}

impl<N: Number> Default for Drive<N> {
    fn default() -> Self {
        Self {
            model: DriveModel::Idm,
            desired_speed: None,
            time_headway: time_headway(),
            min_gap: min_gap(),
            max_accel: idm_max_accel(),
            comfort_decel: comfort_decel(),
            exponent: idm_exponent(),
            max_decel: idm_max_decel(),
            lane_change: LaneChange::default(),
        }
    }
}

/// MOBIL lane changes: change when the own gain in acceleration plus `politeness` times the
/// gain of the followers exceeds `threshold`, and only if the new follower need not brake harder
/// than `safe_decel`. The lateral move takes `duration` seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LaneChange<N: Number> {
    /// Whether it changes lanes at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Weight of the other drivers' gains and losses (0 selfish, 1 altruistic).
    #[serde(default = "politeness::<N>")]
    pub politeness: N,
    /// Net gain in acceleration a change must bring, m/s².
    #[serde(default = "change_threshold::<N>")]
    pub threshold: N,
    /// The new follower must not have to brake harder than this (positive), m/s².
    #[serde(default = "safe_decel::<N>")]
    pub safe_decel: N,
    /// Keep-right bias, m/s²: added to the incentive to move right and taken from the incentive
    /// to move left (0 for symmetric rules).
    #[serde(default = "keep_right::<N>")]
    pub keep_right: N,
    /// Seconds the lateral move takes.
    #[serde(default = "change_duration::<N>")]
    pub duration: N,
    /// Seconds after a change before it considers the next.
    #[serde(default = "change_cooldown::<N>")]
    pub cooldown: N,
}

impl<N: Number> Default for LaneChange<N> {
    fn default() -> Self {
        Self {
            enabled: true,
            politeness: politeness(),
            threshold: change_threshold(),
            safe_decel: safe_decel(),
            keep_right: keep_right(),
            duration: change_duration(),
            cooldown: change_cooldown(),
        }
    }
}

/// A population of reactive vehicles placed on the road at the start by density. The vehicles
/// are named `traffic-0`, `traffic-1`, ... in lane order, then along the road; their placement,
/// desired speeds and kinds come from the variant's seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Traffic<N: Number> {
    /// Vehicles per kilometre per lane.
    pub density: N,
    /// Lanes to fill (default: every lane).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lanes: Vec<u32>,
    /// Where the filled stretch starts along the road, metres (default: 0).
    #[serde(default = "zero::<N>")]
    pub from: N,
    /// Where it ends, metres (default: the road's end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<N>,
    /// Desired speeds of the vehicles.
    pub desired_speed: SpeedDistribution<N>,
    /// Share of trucks (0..=1); the rest are cars.
    #[serde(default = "zero::<N>")]
    pub truck_share: N,
    /// Bumper-to-bumper gap kept clear ahead of and behind the ego (and around listed actors) at
    /// the start, metres; never less than what the driver model needs at the ego's speed.
    #[serde(default = "clear_gap::<N>")]
    pub clear_gap: N,
    /// How they drive (`desired_speed` comes from the distribution above).
    #[serde(default)]
    pub drive: Drive<N>,
}

/// A distribution of speeds, m/s: normal (`mean`, `std`, optionally cut at `min`/`max`) or,
/// without `mean`, uniform between `min` and `max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeedDistribution<N: Number> {
    /// Mean, m/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<N>,
    /// Standard deviation, m/s (with `mean`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<N>,
    /// Lowest speed, m/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<N>,
    /// Highest speed, m/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<N>,
}
