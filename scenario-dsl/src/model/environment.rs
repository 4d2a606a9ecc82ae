//! Environment: road friction, visibility and the sensor models the simulator applies.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{num_defaults, Number};

num_defaults! {
    friction = 0.9;
    visibility = 250.0;
    lidar_range = 60.0;
    lidar_rate = 10.0;
    lidar_noise = 0.02;
    zero = 0.0;
    detector_range = 80.0;
    detector_noise = 0.3;
    detector_miss = 0.02;
    detector_falloff = 0.25;
    detector_fp = 0.01;
    detector_latency = 0.1;
    loc_position_noise = 0.05;
    loc_heading_noise = 0.2;
    camera_range = 100.0;
    camera_miss = 0.05;
    camera_latency = 0.2;
}

fn yes() -> bool {
    true
}

fn rays() -> u32 {
    360
}

/// Conditions and sensor models. Every field has a documented default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment<N: Number> {
    /// Tyre-road friction coefficient (dry asphalt 0.9, wet 0.5, snow 0.2, ice 0.1).
    #[serde(default = "friction::<N>")]
    pub friction: N,
    /// Distance beyond which sensors see nothing (fog, darkness), metres.
    #[serde(default = "visibility::<N>")]
    pub visibility: N,
    /// Scanning lidar.
    #[serde(default)]
    pub lidar: Lidar<N>,
    /// Object detector (camera/radar fusion) that reports a list of objects.
    #[serde(default)]
    pub detector: Detector<N>,
    /// Localisation (ego pose estimate) noise.
    #[serde(default)]
    pub localisation: Localisation<N>,
    /// The camera that reads traffic lights' states (ADR 0027).
    #[serde(default)]
    pub signal_camera: SignalCamera<N>,
    /// Daylight (the default), dusk or night: what the camera can see by (the lidar brings its own
    /// light).
    #[serde(default, skip_serializing_if = "Lighting::is_day")]
    pub lighting: Lighting,
    /// How far the ego's headlamps light an unlit object for the camera at night and dusk, metres
    /// (default 60: dipped beam).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headlamp_range: Option<N>,
    /// Rain or snow (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precipitation: Option<Precipitation<N>>,
}

impl<N: Number> Default for Environment<N> {
    fn default() -> Self {
        Self {
            friction: friction(),
            visibility: visibility(),
            lidar: Lidar::default(),
            detector: Detector::default(),
            localisation: Localisation::default(),
            signal_camera: SignalCamera::default(),
            lighting: Lighting::Day,
            headlamp_range: None,
            precipitation: None,
        }
    }
}

/// The light the camera sees by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Lighting {
    /// Daylight: the detector as configured.
    #[default]
    Day,
    /// Twilight: unlit objects are detected within twice the headlamp range.
    Dusk,
    /// Dark, no street lighting: unlit objects (pedestrians, cyclists, obstacles) are detected only
    /// within the headlamp range; vehicles, which carry lamps, as by day.
    Night,
}

/// Default headlamp range, metres: dipped beam.
pub const HEADLAMP_RANGE: f64 = 60.0;

impl Lighting {
    /// True for the default.
    pub fn is_day(&self) -> bool {
        *self == Lighting::Day
    }
}

/// Rain or snow, by its intensity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Precipitation<N: Number> {
    /// Rain or snow.
    pub kind: PrecipitationKind,
    /// Rate, mm/h of water (for snow: its melted water), > 0. Rain: 2.5 light, 10 moderate, 50
    /// heavy; snow: 1 light, 5 heavy.
    pub intensity: N,
}

/// What falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrecipitationKind {
    /// Rain.
    Rain,
    /// Dry snow.
    Snow,
}

/// A 2-D scanning lidar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lidar<N: Number> {
    /// Whether the ego has one.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Rays per scan over 360°.
    #[serde(default = "rays")]
    pub rays: u32,
    /// Maximum range, metres.
    #[serde(default = "lidar_range::<N>")]
    pub range: N,
    /// Scans per second, Hz.
    #[serde(default = "lidar_rate::<N>")]
    pub rate: N,
    /// Standard deviation of range noise, metres.
    #[serde(default = "lidar_noise::<N>")]
    pub range_noise: N,
    /// Probability that a ray returns nothing, 0..1.
    #[serde(default = "zero::<N>")]
    pub dropout: N,
    /// Visibility for this sensor alone, metres (default: the environment's `visibility`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<N>,
}

impl<N: Number> Default for Lidar<N> {
    fn default() -> Self {
        Self {
            enabled: true,
            rays: rays(),
            range: lidar_range(),
            rate: lidar_rate(),
            range_noise: lidar_noise(),
            dropout: zero(),
            visibility: None,
        }
    }
}

/// An object-list detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Detector<N: Number> {
    /// Whether the ego has one.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Maximum detection range, metres.
    #[serde(default = "detector_range::<N>")]
    pub range: N,
    /// Standard deviation of position noise, metres.
    #[serde(default = "detector_noise::<N>")]
    pub position_noise: N,
    /// Probability of missing an object in a frame, 0..1, out to half the detector's reach
    /// (`min(range, visibility)`, at night the headlamps' reach for unlit objects).
    #[serde(default = "detector_miss::<N>")]
    pub miss_rate: N,
    /// How much of the detection probability is lost at the edge of the reach, 0..1 (default
    /// 0.25; 0 gives a flat rate to the last metre and a hard cut). Beyond half the reach the probability of
    /// reporting an object in line of sight falls smoothly (smoothstep) from `1 - miss_rate` to
    /// `(1 - miss_rate)(1 - range_falloff)` at the reach, and is zero beyond it. Realistic values:
    /// detectors evaluated by range lose recall towards the far end of their rated range (the Waymo
    /// Open Dataset paper, Sun et al., CVPR 2020, breaks its baselines' 3D detection down into 0-30,
    /// 30-50 and 50+ m, where vehicle AP beyond 50 m is about half of that within 30 m; KITTI's
    /// easy/moderate/hard split by object height in pixels shows the same loss for small, far
    /// objects): 0.5 for single-frame detection, less for a detector whose rated range is where
    /// its own tracking still holds an object. Fog squeezes the same curve into the visible
    /// distance, as an object's contrast falls with exp(-3.912 d / V) (Koschmieder, 2 % contrast
    /// at the visibility V, as sim-core's `weather` uses). The default, 0.25, is half the
    /// single-frame loss: the stack's M-of-N confirmation and coasting bridge single misses, and
    /// a detector's rated range is where its tracks still hold (ADR 0022).
    #[serde(default = "detector_falloff::<N>")]
    pub range_falloff: N,
    /// Expected false positives per frame.
    #[serde(default = "detector_fp::<N>")]
    pub false_positive_rate: N,
    /// Delay between the world and the report, seconds.
    #[serde(default = "detector_latency::<N>")]
    pub latency: N,
    /// Visibility for this sensor alone, metres (default: the environment's `visibility`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<N>,
}

impl<N: Number> Default for Detector<N> {
    fn default() -> Self {
        Self {
            enabled: true,
            range: detector_range(),
            position_noise: detector_noise(),
            miss_rate: detector_miss(),
            range_falloff: detector_falloff(),
            false_positive_rate: detector_fp(),
            latency: detector_latency(),
            visibility: None,
        }
    }
}

/// Noise on the ego's own pose estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Localisation<N: Number> {
    /// Standard deviation of position noise, metres.
    #[serde(default = "loc_position_noise::<N>")]
    pub position_noise: N,
    /// Standard deviation of heading noise, degrees.
    #[serde(default = "loc_heading_noise::<N>")]
    pub heading_noise: N,
}

impl<N: Number> Default for Localisation<N> {
    fn default() -> Self {
        Self { position_noise: loc_position_noise(), heading_noise: loc_heading_noise() }
    }
}

/// The camera that reads the state of the traffic lights ahead on the ego's road.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalCamera<N: Number> {
    /// Range within which it reads a light, metres (also limited by `visibility`).
    #[serde(default = "camera_range::<N>")]
    pub range: N,
    /// Probability of missing a light in a frame, 0..1.
    #[serde(default = "camera_miss::<N>")]
    pub miss_rate: N,
    /// Delay between the light changing and the report, seconds.
    #[serde(default = "camera_latency::<N>")]
    pub latency: N,
}

impl<N: Number> Default for SignalCamera<N> {
    fn default() -> Self {
        Self { range: camera_range(), miss_rate: camera_miss(), latency: camera_latency() }
    }
}
