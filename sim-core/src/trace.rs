//! The trace: every tick's ego and actor states, commands, modes and events, plus the world's
//! geometry and the per-tick measures a replay plots (TTC, distance to the nearest object). The
//! digest covers the tick's *state* only (see [`Digester`]); the world and the measures are derived
//! data kept beside it, so adding them never changes a digest. It is kept in a compact, versioned
//! binary form (traces stored before the version header still read) and exported as JSON for replay.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use autonomy_stack::{Mode, Reason};

/// The binary format this build writes. Version 3 added the map's lanes to the world; versions 2
/// (no map) and 1 (no header: a bare postcard `Trace` without world geometry or per-tick measures)
/// are still read; a newer version is refused with a clear error.
pub const TRACE_FORMAT: u32 = 3;

/// The header of a versioned binary trace, followed by one version byte. A version-1 trace starts
/// with the varint length of its 32-character variant key, never with these bytes.
const MAGIC: &[u8; 7] = b"SFTRACE";

/// One actor's identity in a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceActor {
    /// Id.
    pub id: String,
    /// Kind (snake_case).
    pub kind: String,
    /// Length, metres.
    pub length: f64,
    /// Width, metres.
    pub width: f64,
}

/// A road: the reference line starts at the origin heading +x and is the right edge of lane 0;
/// lanes are numbered leftwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRoad {
    /// Number of lanes.
    pub lanes: u32,
    /// Lane width, metres.
    pub lane_width: f64,
    /// Length along the reference line, metres.
    pub length: f64,
    /// Curvature, 1/metres (0 for a straight road; positive bends left).
    pub curvature: f64,
    /// Speed limit, m/s.
    pub speed_limit: f64,
}

/// A static obstacle's box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceObstacle {
    /// Its name in collisions (`obstacle#i`).
    pub id: String,
    /// Centre x, metres.
    pub x: f64,
    /// Centre y, metres.
    pub y: f64,
    /// Heading, radians.
    pub heading: f64,
    /// Length, metres.
    pub length: f64,
    /// Width, metres.
    pub width: f64,
}

/// An open area: its bounds and static obstacles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceArea {
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
    /// Static obstacles.
    pub obstacles: Vec<TraceObstacle>,
}

/// One lane of a map: its centre line and width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceLane {
    /// Centre line, (x, y) metres.
    pub centre: Vec<[f64; 2]>,
    /// Width, metres.
    pub width: f64,
    /// Whether vehicles drive on it (else a sidewalk, shoulder, border, ...).
    pub driving: bool,
}

/// A road network from a map file: every lane, and the ego's route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceMap {
    /// The map file.
    pub file: String,
    /// Every lane.
    pub lanes: Vec<TraceLane>,
    /// The ego's route (the centre of its lane), (x, y) metres.
    pub route: Vec<[f64; 2]>,
}

/// The world the run took place in (a struct of options rather than an enum: the binary form is not
/// self-describing, so it cannot carry internally tagged enums).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceWorld {
    /// The road, if the world has one.
    pub road: Option<TraceRoad>,
    /// The open area, if the world has one.
    pub area: Option<TraceArea>,
    /// The map, if the world is on one (then `road` is absent).
    #[serde(default)]
    pub map: Option<TraceMap>,
}

/// What each array of a tick holds, in order: makes the JSON export self-describing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceColumns {
    /// Names of `TraceTick::ego`'s entries.
    pub ego: Vec<String>,
    /// Names of `TraceTick::command`'s entries.
    pub command: Vec<String>,
    /// Names of each `TraceTick::actors` entry's values.
    pub actor: Vec<String>,
}

impl Default for TraceColumns {
    fn default() -> Self {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect();
        Self {
            ego: names(&["x_m", "y_m", "heading_rad", "speed_mps", "accel_mps2", "steer_rad"]),
            command: names(&["accel_mps2", "steer_rad"]),
            actor: names(&["x_m", "y_m", "heading_rad", "speed_mps"]),
        }
    }
}

/// One tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceTick {
    /// Simulated time at the end of the tick, seconds.
    pub t: f64,
    /// Ego x, y, heading, speed, accel, steer.
    pub ego: [f64; 6],
    /// Commanded accel and steer.
    pub command: [f64; 2],
    /// The stack's mode.
    pub mode: Mode,
    /// Guardrail activations this tick. (No `skip_serializing_if`: the binary form is not
    /// self-describing, so every field is always written.)
    pub events: Vec<Reason>,
    /// Each actor's x, y, heading, speed.
    pub actors: Vec<[f64; 4]>,
    /// Smallest time to collision with any actor this tick, seconds (none: no collision course
    /// within the horizon). Derived, not digested.
    #[serde(default)]
    pub ttc: Option<f64>,
    /// Footprint distance to the nearest actor or static obstacle, metres. Derived, not digested.
    #[serde(default)]
    pub nearest: Option<f64>,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The format version ([`TRACE_FORMAT`] for traces this build writes; 1 for older ones).
    #[serde(default = "format_v1")]
    pub format: u32,
    /// The variant's key.
    pub variant: String,
    /// Tick length, seconds.
    pub dt: f64,
    /// Ego length and width.
    pub ego_size: [f64; 2],
    /// The actors, in index order.
    pub actors: Vec<TraceActor>,
    /// The world's geometry (empty in version-1 traces).
    #[serde(default)]
    pub world: TraceWorld,
    /// What the tick arrays hold.
    #[serde(default)]
    pub columns: TraceColumns,
    /// Every tick.
    pub ticks: Vec<TraceTick>,
}

fn format_v1() -> u32 {
    1
}

impl Default for Trace {
    fn default() -> Self {
        Self {
            format: TRACE_FORMAT,
            variant: String::new(),
            dt: 0.0,
            ego_size: [0.0; 2],
            actors: Vec::new(),
            world: TraceWorld::default(),
            columns: TraceColumns::default(),
            ticks: Vec::new(),
        }
    }
}

/// The binary layout of version 2 (no map): read only, to convert.
#[derive(Deserialize)]
struct TraceV2 {
    format: u32,
    variant: String,
    dt: f64,
    ego_size: [f64; 2],
    actors: Vec<TraceActor>,
    world: TraceWorldV2,
    columns: TraceColumns,
    ticks: Vec<TraceTick>,
}

#[derive(Deserialize)]
struct TraceWorldV2 {
    road: Option<TraceRoad>,
    area: Option<TraceArea>,
}

impl From<TraceV2> for Trace {
    fn from(v: TraceV2) -> Self {
        Trace {
            format: v.format,
            variant: v.variant,
            dt: v.dt,
            ego_size: v.ego_size,
            actors: v.actors,
            world: TraceWorld { road: v.world.road, area: v.world.area, map: None },
            columns: v.columns,
            ticks: v.ticks,
        }
    }
}

/// The binary layout of version 1 (before the header): read only, to convert.
#[derive(Deserialize)]
struct TraceV1 {
    variant: String,
    dt: f64,
    ego_size: [f64; 2],
    actors: Vec<TraceActor>,
    ticks: Vec<TickV1>,
}

#[derive(Deserialize)]
struct TickV1 {
    t: f64,
    ego: [f64; 6],
    command: [f64; 2],
    mode: Mode,
    events: Vec<Reason>,
    actors: Vec<[f64; 4]>,
}

impl From<TraceV1> for Trace {
    fn from(v: TraceV1) -> Self {
        Trace {
            format: 1,
            variant: v.variant,
            dt: v.dt,
            ego_size: v.ego_size,
            actors: v.actors,
            world: TraceWorld::default(),
            columns: TraceColumns::default(),
            ticks: v
                .ticks
                .into_iter()
                .map(|t| TraceTick {
                    t: t.t,
                    ego: t.ego,
                    command: t.command,
                    mode: t.mode,
                    events: t.events,
                    actors: t.actors,
                    ttc: None,
                    nearest: None,
                })
                .collect(),
        }
    }
}

/// Errors reading a binary trace.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The bytes are not a trace of a known version.
    #[error("not a trace: {0}")]
    Corrupt(String),
    /// Written by a newer farm.
    #[error("trace format v{0} is newer than this farm reads (v{TRACE_FORMAT}); upgrade the farm")]
    Newer(u8),
}

impl Trace {
    /// Compact binary form: the header, the format version, then postcard.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(TRACE_FORMAT as u8);
        postcard::to_extend(self, out).unwrap_or_default()
    }

    /// Reads the binary form of this version, of version 2, or of version 1 (stored before the header
    /// existed).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TraceError> {
        let corrupt = |e: postcard::Error| TraceError::Corrupt(e.to_string());
        match bytes.strip_prefix(MAGIC.as_slice()) {
            Some([3, body @ ..]) => postcard::from_bytes(body).map_err(corrupt),
            Some([2, body @ ..]) => postcard::from_bytes::<TraceV2>(body).map(Trace::from).map_err(corrupt),
            Some([v, ..]) if u32::from(*v) > TRACE_FORMAT => Err(TraceError::Newer(*v)),
            Some(_) => Err(TraceError::Corrupt("unknown trace format version".into())),
            None => postcard::from_bytes::<TraceV1>(bytes).map(Trace::from).map_err(corrupt),
        }
    }
}

fn mode_code(m: Mode) -> u8 {
    match m {
        Mode::Nominal => 0,
        Mode::Degraded => 1,
        Mode::Fallback => 2,
    }
}

/// SHA-256 over every tick's state, fed field by field in a fixed little-endian layout. The derived
/// per-tick measures (`ttc`, `nearest`) and the trace's world geometry are deliberately left out:
/// they are computed from the state, and the golden digests must not move when they are added to.
pub struct Digester(Sha256);

impl Default for Digester {
    fn default() -> Self {
        let mut h = Sha256::new();
        h.update(b"scenario-farm/trace/v1\n");
        Self(h)
    }
}

impl Digester {
    /// Adds one tick.
    pub fn tick(&mut self, t: &TraceTick) {
        let h = &mut self.0;
        h.update(t.t.to_bits().to_le_bytes());
        for v in t.ego.iter().chain(&t.command) {
            h.update(v.to_bits().to_le_bytes());
        }
        h.update([mode_code(t.mode), t.events.len() as u8]);
        for e in &t.events {
            h.update(format!("{e:?}").as_bytes());
        }
        h.update((t.actors.len() as u32).to_le_bytes());
        for a in &t.actors {
            for v in a {
                h.update(v.to_bits().to_le_bytes());
            }
        }
    }

    /// Adds the traffic lights' states of one tick. Called only in runs with signals, so the
    /// digests of runs without any are unchanged (ADR 0027).
    pub fn signals(&mut self, states: &[Option<scenario_dsl::model::LightState>]) {
        use scenario_dsl::model::LightState;
        let codes: Vec<u8> = states
            .iter()
            .map(|s| match s {
                None => 0,
                Some(LightState::Red) => 1,
                Some(LightState::Amber) => 2,
                Some(LightState::Green) => 3,
            })
            .collect();
        self.0.update((codes.len() as u32).to_le_bytes());
        self.0.update(&codes);
    }

    /// The hex digest.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One tick as version 1 wrote it: t, ego, command, mode, events, actors.
    type TickV1Written = (f64, [f64; 6], [f64; 2], Mode, Vec<Reason>, Vec<[f64; 4]>);

    /// The layout version-1 traces were written in (a bare postcard `Trace`).
    #[derive(Serialize)]
    struct WrittenV1 {
        variant: String,
        dt: f64,
        ego_size: [f64; 2],
        actors: Vec<TraceActor>,
        ticks: Vec<TickV1Written>,
    }

    #[test]
    fn traces_stored_before_the_version_header_still_read() {
        let old = WrittenV1 {
            variant: "0123456789abcdef0123456789abcdef".into(),
            dt: 0.02,
            ego_size: [4.5, 1.8],
            actors: vec![TraceActor { id: "lead".into(), kind: "car".into(), length: 4.5, width: 1.8 }],
            ticks: vec![(
                0.02,
                [1.0, 2.0, 0.1, 10.0, 0.5, 0.0],
                [0.5, 0.0],
                Mode::Nominal,
                vec![],
                vec![[30.0, 2.0, 0.0, 8.0]],
            )],
        };
        let bytes = postcard::to_allocvec(&old).unwrap();
        let read = Trace::from_bytes(&bytes).unwrap();
        assert_eq!(read.format, 1);
        assert_eq!(read.world, TraceWorld::default());
        assert_eq!(read.ticks[0].ego, [1.0, 2.0, 0.1, 10.0, 0.5, 0.0]);
        assert_eq!(read.ticks[0].ttc, None);
        assert_eq!(read.actors[0].id, "lead");
    }

    #[test]
    fn a_newer_format_is_refused_naming_the_versions() {
        let mut bytes = Trace::default().to_bytes();
        assert_eq!(Trace::from_bytes(&bytes).unwrap(), Trace::default());
        bytes[MAGIC.len()] = 9;
        let e = Trace::from_bytes(&bytes).unwrap_err().to_string();
        assert!(e.contains("v9") && e.contains("v3"), "{e}");
    }

    #[test]
    fn version_2_traces_without_a_map_still_read() {
        // Version 2's layout: the world held a road and an area only.
        #[derive(Serialize)]
        struct WrittenV2 {
            format: u32,
            variant: String,
            dt: f64,
            ego_size: [f64; 2],
            actors: Vec<TraceActor>,
            world: (Option<TraceRoad>, Option<TraceArea>),
            columns: TraceColumns,
            ticks: Vec<TraceTick>,
        }
        let road = TraceRoad { lanes: 2, lane_width: 3.5, length: 500.0, curvature: 0.0, speed_limit: 30.0 };
        let old = WrittenV2 {
            format: 2,
            variant: "k".into(),
            dt: 0.02,
            ego_size: [4.6, 1.9],
            actors: vec![],
            world: (Some(road.clone()), None),
            columns: TraceColumns::default(),
            ticks: vec![],
        };
        let mut bytes = MAGIC.to_vec();
        bytes.push(2);
        bytes.extend(postcard::to_allocvec(&old).unwrap());
        let read = Trace::from_bytes(&bytes).unwrap();
        assert_eq!(read.format, 2);
        assert_eq!(read.world, TraceWorld { road: Some(road), area: None, map: None });
        // And this version keeps a map through the binary form.
        let map = TraceMap {
            file: "m.xodr".into(),
            lanes: vec![TraceLane { centre: vec![[0.0, 0.0], [10.0, 0.0]], width: 3.5, driving: true }],
            route: vec![[0.0, 0.0]],
        };
        let t = Trace { world: TraceWorld { map: Some(map.clone()), ..TraceWorld::default() }, ..Trace::default() };
        assert_eq!(Trace::from_bytes(&t.to_bytes()).unwrap().world.map, Some(map));
    }

    #[test]
    fn the_digest_ignores_the_derived_measures() {
        let tick = TraceTick {
            t: 0.02,
            ego: [0.0; 6],
            command: [0.0; 2],
            mode: Mode::Nominal,
            events: vec![],
            actors: vec![[1.0, 2.0, 0.0, 3.0]],
            ttc: None,
            nearest: None,
        };
        let mut a = Digester::default();
        a.tick(&tick);
        let mut b = Digester::default();
        b.tick(&TraceTick { ttc: Some(1.5), nearest: Some(2.0), ..tick });
        assert_eq!(a.finish(), b.finish());
    }
}
