//! A run as an MCAP file that Foxglove (or any MCAP tool) opens: the ego and the actors as boxes
//! (`foxglove.SceneUpdate`), the ego's pose (`foxglove.FrameTransform`, world -> ego), mode changes,
//! guardrail events, collisions and the verdict (`foxglove.Log`), and numeric topics for plots.
//! Messages are JSON; their JSON Schemas (Foxglove's, from `@foxglove/schemas`, in `mcap_schemas/`)
//! travel inside the file. Pure: every timestamp is simulated time, so the same trace and record give
//! the same bytes.

use std::collections::BTreeMap;
use std::io::Cursor;

use ::mcap::records::{MessageHeader, Metadata};
use serde::Serialize;

use scenario_dsl::model::ActorKind;
use sim_core::footprint::{self, Footprint};
use sim_core::oracle::TTC_HORIZON;
use sim_core::trace::TraceTick;
use sim_core::{Trace, Verdict};

use super::report::RunRecord;

/// The topics a run's MCAP file carries.
pub mod topic {
    /// `foxglove.SceneUpdate`: the ego and every actor as an oriented box, once per tick.
    pub const SCENE: &str = "/scene";
    /// `foxglove.FrameTransform`: world -> ego, once per tick.
    pub const TF: &str = "/tf";
    /// `foxglove.Log`: mode changes, guardrail events, collisions, failed criteria, the verdict.
    pub const LOG: &str = "/log";
    /// Ego speed, m/s.
    pub const SPEED: &str = "/ego/speed";
    /// Ego longitudinal acceleration achieved, m/s².
    pub const ACCEL: &str = "/ego/accel";
    /// Ego steering angle achieved, rad.
    pub const STEER: &str = "/ego/steer";
    /// The stack's mode: 0 nominal, 1 degraded, 2 fallback.
    pub const MODE: &str = "/ego/mode";
    /// Commanded acceleration, m/s².
    pub const COMMAND_ACCEL: &str = "/command/accel";
    /// Commanded steering angle, rad.
    pub const COMMAND_STEER: &str = "/command/steer";
    /// Time to collision with the nearest actor under constant velocities (as the oracle measures
    /// it), s; only on ticks where some actor is on a collision course within the horizon.
    pub const TTC: &str = "/ego/ttc";
    /// Footprint distance to the nearest actor, m; only when there are actors.
    pub const DISTANCE: &str = "/ego/distance";

    /// The numeric topics, in the order their channels are declared.
    pub const SCALARS: [&str; 8] = [SPEED, ACCEL, STEER, MODE, COMMAND_ACCEL, COMMAND_STEER, TTC, DISTANCE];
}

/// Name of the schema of the numeric topics (a JSON object with `timestamp` and `value`).
pub const SCALAR_SCHEMA_NAME: &str = "scenario_farm.Scalar";

const SCENE_UPDATE_SCHEMA: &str = include_str!("mcap_schemas/foxglove.SceneUpdate.json");
const FRAME_TRANSFORM_SCHEMA: &str = include_str!("mcap_schemas/foxglove.FrameTransform.json");
const LOG_SCHEMA: &str = include_str!("mcap_schemas/foxglove.Log.json");
const SCALAR_SCHEMA: &str = include_str!("mcap_schemas/scenario_farm.Scalar.json");

/// The MCAP header's library field: the farm, without its version or git commit, so the bytes of a
/// run's file change only when the export does (a test pins them).
const LIBRARY: &str = "scenario-farm";

/// The frame every box is placed in; the ego's frame hangs under it.
const WORLD: &str = "world";
const EGO: &str = "ego";

/// Why a run could not be written as MCAP. The file is written to memory with a fixed set of
/// channels, so only a bug in the encoder or the `mcap` crate can cause it.
#[derive(Debug, thiserror::Error)]
pub enum McapError {
    /// The MCAP writer refused a record.
    #[error("cannot write the MCAP file: {0}")]
    Write(#[from] ::mcap::McapError),
    /// A message did not encode as JSON.
    #[error("cannot encode a message as JSON: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The run as MCAP bytes: `trace` tick by tick, and from `record` (the run's result, when known) its
/// collisions, failed criteria and verdict as log lines, and its identity as MCAP metadata.
pub fn encode(trace: &Trace, record: Option<&RunRecord>) -> Result<Vec<u8>, McapError> {
    let messages = messages(trace, record)?;
    let options = ::mcap::WriteOptions::new().library(LIBRARY).profile("");
    let mut writer = options.create(Cursor::new(Vec::new()))?;
    let scene_schema = writer.add_schema("foxglove.SceneUpdate", "jsonschema", SCENE_UPDATE_SCHEMA.as_bytes())?;
    let tf_schema = writer.add_schema("foxglove.FrameTransform", "jsonschema", FRAME_TRANSFORM_SCHEMA.as_bytes())?;
    let log_schema = writer.add_schema("foxglove.Log", "jsonschema", LOG_SCHEMA.as_bytes())?;
    let scalar_schema = writer.add_schema(SCALAR_SCHEMA_NAME, "jsonschema", SCALAR_SCHEMA.as_bytes())?;
    let no_metadata = BTreeMap::new();
    let mut channels: BTreeMap<&str, (u16, u32)> = BTreeMap::new();
    for (schema, topic) in [(scene_schema, topic::SCENE), (tf_schema, topic::TF), (log_schema, topic::LOG)]
        .into_iter()
        .chain(topic::SCALARS.map(|t| (scalar_schema, t)))
    {
        channels.insert(topic, (writer.add_channel(schema, topic, "json", &no_metadata)?, 0));
    }
    for m in &messages {
        // Every topic written is one declared above.
        let Some((channel_id, sequence)) = channels.get_mut(m.topic) else { continue };
        let header =
            MessageHeader { channel_id: *channel_id, sequence: *sequence, log_time: m.time, publish_time: m.time };
        *sequence += 1;
        writer.write_to_known_channel(&header, &m.data)?;
    }
    writer.write_metadata(&Metadata { name: "scenario_farm.run".into(), metadata: run_metadata(trace, record) })?;
    writer.finish()?;
    Ok(writer.into_inner().into_inner())
}

/// One message before it is written.
struct Pending {
    time: u64,
    topic: &'static str,
    data: Vec<u8>,
}

/// Every message of the file in log-time order (ties keep the order they were made in: per tick the
/// scene, the transform, the numbers, then the log lines).
fn messages(trace: &Trace, record: Option<&RunRecord>) -> Result<Vec<Pending>, McapError> {
    let mut out = Vec::new();
    let mut push = |time: u64, topic: &'static str, data: Vec<u8>| out.push(Pending { time, topic, data });
    let ego_size = [finite(trace.ego_size[0]), finite(trace.ego_size[1])];
    let mut last_mode = None;
    for tick in &trace.ticks {
        let time = nanos(tick.t);
        let stamp = Time::of(time);
        push(time, topic::SCENE, serde_json::to_vec(&scene(trace, tick, stamp, ego_size))?);
        push(time, topic::TF, serde_json::to_vec(&transform(tick, stamp))?);
        let mode = mode_number(tick);
        let mut scalars = vec![
            (topic::SPEED, tick.ego[3]),
            (topic::ACCEL, tick.ego[4]),
            (topic::STEER, tick.ego[5]),
            (topic::MODE, mode),
            (topic::COMMAND_ACCEL, tick.command[0]),
            (topic::COMMAND_STEER, tick.command[1]),
        ];
        let (ttc, distance) = nearest(trace, tick, ego_size);
        scalars.extend(ttc.map(|v| (topic::TTC, v)));
        scalars.extend(distance.map(|v| (topic::DISTANCE, v)));
        for (topic, value) in scalars {
            // A diverged run may hold NaN; JSON has no NaN and a plot has nothing to draw there.
            if value.is_finite() {
                push(time, topic, serde_json::to_vec(&Scalar { timestamp: stamp, value })?);
            }
        }
        if last_mode != Some(tick.mode) {
            let name = snake(&tick.mode);
            let (level, text) = match last_mode {
                None => (Level::Info, format!("mode {name} at start")),
                Some(before) => (mode_level(tick), format!("mode {} -> {name}", snake(&before))),
            };
            push(time, topic::LOG, log(stamp, level, "stack", text)?);
            last_mode = Some(tick.mode);
        }
        // One line per activation, counted as the run's `guardrail_activations` counts them.
        for event in &tick.events {
            push(time, topic::LOG, log(stamp, Level::Warning, "stack", format!("guardrail {}", snake(event)))?);
        }
    }
    let end = trace.ticks.last().map_or(0, |t| nanos(t.t));
    if let Some(record) = record {
        for c in &record.metrics.collisions {
            let time = nanos(c.time);
            let text = format!("collision with {} at {:.2} m/s relative speed", c.with, c.relative_speed);
            push(time, topic::LOG, log(Time::of(time), Level::Error, "sim", text)?);
        }
        // A criterion's outcome does not carry the moment it was decided: its failure is logged at
        // the end of the run (collisions above carry their own time).
        for c in record.criteria.iter().filter(|c| !c.passed) {
            let text = format!("criterion {} ({}) failed: {}", c.criterion, c.severity.as_str(), c.message);
            push(end, topic::LOG, log(Time::of(end), Level::Error, "oracle", text)?);
        }
        let level = match record.verdict {
            Verdict::Passed => Level::Info,
            Verdict::Timeout | Verdict::Inconclusive => Level::Warning,
            Verdict::Failed | Verdict::Error => Level::Error,
        };
        let text = match &record.reason {
            Some(reason) => format!("verdict {}: {reason}", record.verdict.as_str()),
            None => format!("verdict {}", record.verdict.as_str()),
        };
        push(end, topic::LOG, log(Time::of(end), level, "farm", text)?);
    }
    out.sort_by_key(|m| m.time);
    Ok(out)
}

/// The run's identity for tools that list a file's metadata.
fn run_metadata(trace: &Trace, record: Option<&RunRecord>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::from([
        ("variant".to_owned(), trace.variant.clone()),
        ("dt".to_owned(), trace.dt.to_string()),
        ("ticks".to_owned(), trace.ticks.len().to_string()),
    ]);
    if let Some(r) = record {
        m.insert("scenario".into(), r.scenario.clone());
        m.insert("seed".into(), r.seed.to_string());
        m.insert("verdict".into(), r.verdict.as_str().into());
        m.insert("digest".into(), r.digest.clone());
        for (name, value) in &r.params {
            m.insert(format!("param.{name}"), value.to_string());
        }
        if let Some(reason) = &r.reason {
            m.insert("reason".into(), reason.clone());
        }
    }
    m
}

/// Simulated seconds as nanoseconds, rounded (an exact IEEE operation); negative or NaN as 0.
fn nanos(seconds: f64) -> u64 {
    (seconds * 1e9).round() as u64
}

/// NaN and infinities as 0: a pose or a size in JSON must be a number.
fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// A serde enum's snake_case name (`aeb_ttc`, `fallback`).
fn snake<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".into(),
    }
}

fn mode_number(tick: &TraceTick) -> f64 {
    match tick.mode {
        autonomy_stack::Mode::Nominal => 0.0,
        autonomy_stack::Mode::Degraded => 1.0,
        autonomy_stack::Mode::Fallback => 2.0,
    }
}

fn mode_level(tick: &TraceTick) -> Level {
    match tick.mode {
        autonomy_stack::Mode::Nominal => Level::Info,
        autonomy_stack::Mode::Degraded | autonomy_stack::Mode::Fallback => Level::Warning,
    }
}

/// TTC to the nearest actor on a collision course, and the distance to the nearest actor, the way
/// the oracle measures them (constant velocities along each heading, footprints by SAT).
fn nearest(trace: &Trace, tick: &TraceTick, ego_size: [f64; 2]) -> (Option<f64>, Option<f64>) {
    let [x, y, heading, speed, ..] = tick.ego;
    let ego = Footprint { x, y, heading, length: ego_size[0], width: ego_size[1] };
    let ego_velocity = velocity(heading, speed);
    let mut ttc: Option<f64> = None;
    let mut distance: Option<f64> = None;
    for (state, actor) in tick.actors.iter().zip(&trace.actors) {
        let [x, y, heading, speed] = *state;
        let fp = Footprint { x, y, heading, length: actor.length, width: actor.width };
        if let Some(t) = footprint::time_to_collision(&ego, ego_velocity, &fp, velocity(heading, speed), TTC_HORIZON) {
            ttc = Some(ttc.map_or(t, |best| best.min(t)));
        }
        let d = footprint::distance(&ego, &fp);
        distance = Some(distance.map_or(d, |best| best.min(d)));
    }
    (ttc, distance)
}

fn velocity(heading: f64, speed: f64) -> (f64, f64) {
    (speed * libm::cos(heading), speed * libm::sin(heading))
}

/// Box height by actor kind, as the simulator builds its collision boxes; 1.5 m for a kind it
/// does not know.
fn height_of(kind: &str) -> f64 {
    serde_json::from_value::<ActorKind>(serde_json::Value::String(kind.to_owned()))
        .map_or(sim_core::run::EGO_HEIGHT, sim_core::actors::height_of)
}

/// RGBA by kind: the ego blue, vulnerable road users warm, machines grey-green, obstacles brown.
fn colour_of(kind: &str) -> Color {
    let (r, g, b) = match kind {
        "ego" => (0.12, 0.47, 0.95),
        "car" => (0.62, 0.62, 0.66),
        "truck" => (0.45, 0.45, 0.52),
        "pedestrian" => (1.0, 0.55, 0.1),
        "cyclist" => (0.95, 0.8, 0.1),
        "robot" => (0.3, 0.7, 0.5),
        "forklift" => (0.85, 0.65, 0.2),
        "obstacle" => (0.55, 0.35, 0.2),
        _ => (0.8, 0.8, 0.8),
    };
    Color { r, g, b, a: 0.9 }
}

fn scene(trace: &Trace, tick: &TraceTick, stamp: Time, ego_size: [f64; 2]) -> SceneUpdate {
    let [x, y, heading, speed, ..] = tick.ego;
    let mut entities = vec![entity(
        stamp,
        Body { id: EGO, kind: EGO, pose: [x, y, heading], size: [ego_size[0], ego_size[1], sim_core::run::EGO_HEIGHT] },
        vec![
            KeyValuePair { key: "kind".into(), value: EGO.into() },
            KeyValuePair { key: "speed".into(), value: format!("{:.3}", speed) },
            KeyValuePair { key: "mode".into(), value: snake(&tick.mode) },
        ],
    )];
    for (state, actor) in tick.actors.iter().zip(&trace.actors) {
        let [x, y, heading, speed] = *state;
        let size = [finite(actor.length), finite(actor.width), height_of(&actor.kind)];
        entities.push(entity(
            stamp,
            Body { id: &actor.id, kind: &actor.kind, pose: [x, y, heading], size },
            vec![
                KeyValuePair { key: "kind".into(), value: actor.kind.clone() },
                KeyValuePair { key: "speed".into(), value: format!("{:.3}", speed) },
            ],
        ));
    }
    SceneUpdate { deletions: [], entities }
}

/// What a box needs: its id, kind, pose in the plane (x, y, heading) and size (l, w, h).
struct Body<'a> {
    id: &'a str,
    kind: &'a str,
    pose: [f64; 3],
    size: [f64; 3],
}

fn entity(timestamp: Time, body: Body<'_>, metadata: Vec<KeyValuePair>) -> SceneEntity {
    let [x, y, heading] = body.pose.map(finite);
    let [length, width, height] = body.size;
    let orientation = yaw(heading);
    SceneEntity {
        timestamp,
        frame_id: WORLD.into(),
        id: body.id.to_owned(),
        lifetime: Duration { sec: 0, nsec: 0 },
        frame_locked: false,
        metadata,
        arrows: [],
        cubes: vec![CubePrimitive {
            pose: Pose { position: Vector3 { x, y, z: 0.5 * height }, orientation },
            size: Vector3 { x: length, y: width, z: height },
            color: colour_of(body.kind),
        }],
        spheres: [],
        cylinders: [],
        lines: [],
        triangles: [],
        texts: vec![TextPrimitive {
            pose: Pose { position: Vector3 { x, y, z: height + 0.5 }, orientation: yaw(0.0) },
            billboard: true,
            font_size: 14.0,
            scale_invariant: true,
            color: Color { r: 1.0, g: 1.0, b: 1.0, a: 1.0 },
            text: body.id.to_owned(),
        }],
        models: [],
    }
}

fn transform(tick: &TraceTick, timestamp: Time) -> FrameTransform {
    let [x, y, heading] = [tick.ego[0], tick.ego[1], tick.ego[2]].map(finite);
    FrameTransform {
        timestamp,
        parent_frame_id: WORLD.into(),
        child_frame_id: EGO.into(),
        translation: Vector3 { x, y, z: 0.0 },
        rotation: yaw(heading),
    }
}

/// A rotation by `heading` about the vertical axis.
fn yaw(heading: f64) -> Quaternion {
    Quaternion { x: 0.0, y: 0.0, z: libm::sin(0.5 * heading), w: libm::cos(0.5 * heading) }
}

fn log(timestamp: Time, level: Level, name: &str, message: String) -> Result<Vec<u8>, McapError> {
    let line = Log { timestamp, level: level as u8, message, name: name.to_owned(), file: String::new(), line: 0 };
    Ok(serde_json::to_vec(&line)?)
}

// Wire types: Foxglove's schemas, field for field (every field they require is always written).

#[derive(Debug, Clone, Copy, Serialize)]
struct Time {
    sec: u64,
    nsec: u64,
}

impl Time {
    fn of(nanos: u64) -> Self {
        Self { sec: nanos / 1_000_000_000, nsec: nanos % 1_000_000_000 }
    }
}

#[derive(Serialize)]
struct Duration {
    sec: i64,
    nsec: u64,
}

#[derive(Serialize)]
struct Vector3 {
    x: f64,
    y: f64,
    z: f64,
}

#[derive(Serialize)]
struct Quaternion {
    x: f64,
    y: f64,
    z: f64,
    w: f64,
}

#[derive(Serialize)]
struct Pose {
    position: Vector3,
    orientation: Quaternion,
}

#[derive(Serialize)]
struct Color {
    r: f64,
    g: f64,
    b: f64,
    a: f64,
}

#[derive(Serialize)]
struct KeyValuePair {
    key: String,
    value: String,
}

#[derive(Serialize)]
struct CubePrimitive {
    pose: Pose,
    size: Vector3,
    color: Color,
}

#[derive(Serialize)]
struct TextPrimitive {
    pose: Pose,
    billboard: bool,
    font_size: f64,
    scale_invariant: bool,
    color: Color,
    text: String,
}

/// The primitives this export never draws (arrows, spheres, ...): always `[]`.
type Unused = [u8; 0];

#[derive(Serialize)]
struct SceneEntity {
    timestamp: Time,
    frame_id: String,
    id: String,
    lifetime: Duration,
    frame_locked: bool,
    metadata: Vec<KeyValuePair>,
    arrows: Unused,
    cubes: Vec<CubePrimitive>,
    spheres: Unused,
    cylinders: Unused,
    lines: Unused,
    triangles: Unused,
    texts: Vec<TextPrimitive>,
    models: Unused,
}

#[derive(Serialize)]
struct SceneUpdate {
    deletions: Unused,
    entities: Vec<SceneEntity>,
}

#[derive(Serialize)]
struct FrameTransform {
    timestamp: Time,
    parent_frame_id: String,
    child_frame_id: String,
    translation: Vector3,
    rotation: Quaternion,
}

/// `foxglove.LogLevel`.
#[derive(Debug, Clone, Copy)]
enum Level {
    Info = 2,
    Warning = 3,
    Error = 4,
}

#[derive(Serialize)]
struct Log {
    timestamp: Time,
    level: u8,
    message: String,
    name: String,
    file: String,
    line: u32,
}

#[derive(Serialize)]
struct Scalar {
    timestamp: Time,
    value: f64,
}
