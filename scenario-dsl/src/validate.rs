//! Semantic checks on a concrete scenario: lanes that exist, actors that exist, thresholds with the
//! right sign, values in range. Findings carry the path of the offending node; the caller turns the
//! path into a line and column through the YAML tree.

use std::collections::BTreeMap;

use crate::diagnostic::{did_you_mean, Code};
use crate::model::*;
use crate::yaml::PathSeg;

/// One semantic problem, located by its path in the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Path from the root to the offending node.
    pub path: Vec<PathSeg>,
    /// Stable code.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

/// The longest road the simulator builds, metres.
pub const MAX_ROAD_LENGTH: f64 = 5000.0;
/// The heaviest rain the precipitation model is stated for, mm/h (a cloudburst).
pub const MAX_RAIN: f64 = 150.0;
/// The heaviest snowfall the precipitation model is stated for, mm/h of water.
pub const MAX_SNOW: f64 = 20.0;
/// The longest run the simulator accepts, simulated seconds.
pub const MAX_DURATION: f64 = 600.0;
/// Ids of the vehicles a `traffic` block places: `traffic-0`, `traffic-1`, ...
pub const TRAFFIC_ID_PREFIX: &str = "traffic-";
/// The longest look-ahead `no_failure_to_yield` takes, seconds.
pub const MAX_YIELD_WINDOW: f64 = 30.0;
/// The most vehicles a `traffic` block may place.
pub const MAX_TRAFFIC_VEHICLES: f64 = 1000.0;

struct Checker {
    path: Vec<PathSeg>,
    findings: Vec<Finding>,
    /// The ids of `world.signals`, for `signal` triggers.
    signal_ids: Vec<String>,
}

impl Checker {
    fn push(&mut self, key: &[&str], code: Code, message: String, help: Option<String>) {
        let mut path = self.path.clone();
        path.extend(key.iter().map(|k| PathSeg::Key((*k).to_owned())));
        self.findings.push(Finding { path, code, message, help });
    }

    fn within<R>(&mut self, seg: PathSeg, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(seg);
        let r = f(self);
        self.path.pop();
        r
    }

    fn key<R>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.within(PathSeg::Key(key.to_owned()), f)
    }

    fn positive(&mut self, key: &str, v: f64, what: &str) {
        if v <= 0.0 {
            self.push(
                &[key],
                Code::WrongSign,
                format!("`{key}` ({what}) must be greater than 0, found {v}"),
                Some(if v < 0.0 {
                    format!("write the magnitude: `{key}: {}`", -v)
                } else {
                    format!("{what} of 0 cannot be met or measured; give a positive value")
                }),
            );
        }
    }

    fn non_negative(&mut self, key: &str, v: f64, what: &str) {
        if v < 0.0 {
            self.push(
                &[key],
                Code::WrongSign,
                format!("`{key}` ({what}) cannot be negative, found {v}"),
                Some(format!("write the magnitude: `{key}: {}`", -v)),
            );
        }
    }

    fn range(&mut self, key: &str, v: f64, lo: f64, hi: f64, what: &str) {
        if !(lo..=hi).contains(&v) {
            self.push(
                &[key],
                Code::OutOfRange,
                format!("`{key}` ({what}) must be within {lo}..={hi}, found {v}"),
                None,
            );
        }
    }

    fn probability(&mut self, key: &str, v: f64) {
        self.range(key, v, 0.0, 1.0, "a probability");
    }
}

/// Checks a concrete scenario; returns every finding, in document order.
pub fn check(s: &Scenario<f64>) -> Vec<Finding> {
    let mut c = Checker {
        path: Vec::new(),
        findings: Vec::new(),
        signal_ids: s.world.signals.iter().map(|g| g.id.clone()).collect(),
    };
    check_metadata(&mut c, &s.metadata);
    c.key("world", |c| check_world(c, &s.world));
    c.key("world", |c| c.key("signals", |c| check_signals(c, &s.world)));
    c.key("world", |c| check_zones(c, &s.world));
    // On a map the ego's road is its route: one lane, as long as the route (known once the map is
    // loaded, which sim-core checks).
    let route_world;
    let world = match (&s.world.road, &s.world.map) {
        (None, Some(m)) => {
            route_world = World {
                road: Some(Road {
                    lanes: 1,
                    lane_width: 3.5,
                    length: f64::MAX,
                    curvature: 0.0,
                    speed_limit: m.speed_limit,
                    kind: m.kind,
                }),
                ..s.world.clone()
            };
            &route_world
        }
        _ => &s.world,
    };
    let road = world.road.as_ref();
    c.key("ego", |c| check_ego(c, &s.ego, world));
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    c.key("actors", |c| {
        for (i, a) in s.actors.iter().enumerate() {
            c.within(PathSeg::Index(i), |c| {
                if a.id == "ego" {
                    c.push(
                        &["id"],
                        Code::InvalidValue,
                        "`ego` is reserved for the vehicle under test".into(),
                        Some("choose another id".into()),
                    );
                } else if a.id.starts_with(TRAFFIC_ID_PREFIX) {
                    c.push(
                        &["id"],
                        Code::InvalidValue,
                        format!("ids starting with `{TRAFFIC_ID_PREFIX}` are reserved for the vehicles of a `traffic` block"),
                        Some("choose another id".into()),
                    );
                } else if let Some(first) = ids.insert(&a.id, i) {
                    ids.insert(&a.id, first);
                    c.push(
                        &["id"],
                        Code::DuplicateActorId,
                        format!("actor id `{}` is used twice", a.id),
                        Some(format!("actor #{} already has this id; ids must be unique in a scenario", first + 1)),
                    );
                }
            });
        }
        for (i, a) in s.actors.iter().enumerate() {
            c.within(PathSeg::Index(i), |c| check_actor(c, a, world, &ids, ego_line(&s.ego, world)));
        }
    });
    if let Some(t) = &s.traffic {
        c.key("traffic", |c| check_traffic(c, t, &s.world));
    }
    c.key("ego", |c| c.key("driver", |c| check_driver(c, &s.ego.driver, &ids)));
    if let Some(t) = &s.end_when {
        c.key("end_when", |c| check_end_when(c, t, &ids));
    }
    if let Some(sc) = &s.scoring {
        c.key("scoring", |c| {
            c.non_negative("points", sc.points, "points");
            c.key("bands", |c| {
                for (i, b) in sc.bands.iter().enumerate() {
                    c.within(PathSeg::Index(i), |c| {
                        c.positive("below", b.below, "a speed");
                        c.probability("fraction", b.fraction);
                    });
                }
            });
        });
    }
    c.key("intended_contacts", |c| {
        for (i, k) in s.intended_contacts.iter().enumerate() {
            c.within(PathSeg::Index(i), |c| check_intended_contact(c, k, &ids));
        }
    });
    c.key("environment", |c| check_environment(c, &s.environment));
    c.key("criteria", |c| {
        if s.criteria.is_empty() {
            c.push(
                &[],
                Code::InvalidValue,
                "a scenario needs at least one criterion".into(),
                Some("start with `- no_collision: {}`".into()),
            );
        }
        for (i, cr) in s.criteria.iter().enumerate() {
            c.within(PathSeg::Index(i), |c| c.key(cr.name(), |c| check_criterion(c, cr, road.is_some(), &s.world)));
        }
    });
    if !(s.duration > 0.0 && s.duration <= MAX_DURATION) {
        c.push(
            &["duration"],
            Code::OutOfRange,
            format!("`duration` must be within (0, {MAX_DURATION}] seconds, found {}", s.duration),
            None,
        );
    }
    c.findings
}

fn check_metadata(c: &mut Checker, m: &Metadata) {
    let valid_id = !m.id.is_empty()
        && m.id.len() <= 96
        && m.id.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
        && m.id.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-'));
    if !valid_id {
        c.push(
            &["metadata", "id"],
            Code::InvalidValue,
            format!("scenario id `{}` is not a valid id", m.id),
            Some("use lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit, e.g. `highway.cut_in`".into()),
        );
    }
    for (i, t) in m.tags.iter().enumerate() {
        if t.is_empty()
            || !t.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '_' | '-'))
        {
            c.key("metadata", |c| {
                c.key("tags", |c| {
                    c.within(PathSeg::Index(i), |c| {
                        c.push(
                            &[],
                            Code::InvalidValue,
                            format!("tag `{t}` is not a valid tag"),
                            Some("use lowercase letters, digits, `_` and `-`".into()),
                        )
                    })
                })
            });
        }
    }
}

fn check_world(c: &mut Checker, w: &World<f64>) {
    if w.road.is_none() && w.area.is_none() && w.map.is_none() {
        c.push(
            &[],
            Code::NoWorld,
            "the world has neither a `road`, a `map` nor an `area`".into(),
            Some("add `road:` for driving scenarios, `map:` for a road network or `area:` for robots".into()),
        );
    }
    if let Some(m) = &w.map {
        c.key("map", |c| {
            if w.road.is_some() {
                c.push(
                    &[],
                    Code::InvalidValue,
                    "a world has a `road` or a `map`, not both".into(),
                    Some("on a map the ego's road is its route; remove `road:`".into()),
                );
            }
            if !m.file.ends_with(".xodr") {
                c.push(
                    &["file"],
                    Code::InvalidValue,
                    format!("`{}` is not an OpenDRIVE file", m.file),
                    Some("give the path of a `.xodr` file, relative to this scenario's folder".into()),
                );
            }
            c.positive("speed_limit", m.speed_limit, "a speed");
            if m.route.len() < 2 {
                c.push(
                    &["route"],
                    Code::InvalidValue,
                    format!("a route needs a start and a goal, found {} place(s)", m.route.len()),
                    Some("e.g. `route: [{ road: \"1\", lane: -1, s: 5 }, { road: \"3\", lane: -1, s: 40 }]`".into()),
                );
            }
            c.key("route", |c| {
                for (i, p) in m.route.iter().enumerate() {
                    c.within(PathSeg::Index(i), |c| check_map_point(c, p));
                }
            });
        });
    }
    if let Some(r) = &w.road {
        c.key("road", |c| {
            if !(1..=8).contains(&r.lanes) {
                c.push(&["lanes"], Code::OutOfRange, format!("`lanes` must be within 1..=8, found {}", r.lanes), None);
            }
            c.positive("lane_width", r.lane_width, "a width");
            c.positive("length", r.length, "a length");
            if r.length > MAX_ROAD_LENGTH {
                c.push(
                    &["length"],
                    Code::OutOfRange,
                    format!("`length` must be at most {MAX_ROAD_LENGTH} m, found {}", r.length),
                    None,
                );
            }
            c.positive("speed_limit", r.speed_limit, "a speed");
            let width = f64::from(r.lanes) * r.lane_width;
            if r.curvature.abs() * width >= 0.5 {
                c.push(
                    &["curvature"],
                    Code::OutOfRange,
                    format!("curvature {} bends tighter than the road is wide ({width} m)", r.curvature),
                    Some(format!(
                        "the radius 1/|curvature| must exceed twice the road width; use |curvature| < {}",
                        0.5 / width
                    )),
                );
            }
        });
    }
    if let Some(a) = &w.area {
        c.key("area", |c| {
            check_bounds(c, "bounds", &a.bounds);
            c.positive("speed_limit", a.speed_limit, "a speed");
            c.key("obstacles", |c| {
                for (i, o) in a.obstacles.iter().enumerate() {
                    c.within(PathSeg::Index(i), |c| {
                        c.positive("length", o.length, "a length");
                        c.positive("width", o.width, "a width");
                        c.positive("height", o.height, "a height");
                        if !inside(&a.bounds, o.x, o.y) {
                            c.push(
                                &["x"],
                                Code::OutOfRange,
                                format!("obstacle centre ({}, {}) lies outside the area bounds", o.x, o.y),
                                None,
                            );
                        }
                    })
                }
            });
        });
    }
}

/// Exactly one of `area` and `road`, each well formed; a road section needs lanes.
fn check_place(c: &mut Checker, area: &Option<Bounds<f64>>, road: &Option<Section<f64>>, world: &World<f64>) {
    match place_of(area, road) {
        None => c.push(
            &[],
            Code::InvalidValue,
            format!(
                "give exactly one of `area` (a rectangle) and `road` (a section `{{ from, to }}`), found {}",
                if area.is_some() { "both" } else { "neither" }
            ),
            None,
        ),
        Some(Place::Area(b)) => check_bounds(c, "area", &b),
        Some(Place::Road(r)) => c.key("road", |c| {
            if !world.has_lanes() {
                c.push(
                    &[],
                    Code::InvalidValue,
                    "a road section needs a world with a `road` or a `map`".into(),
                    Some("use `area: { min_x, min_y, max_x, max_y }` in an open area".into()),
                );
            }
            if r.from >= r.to || r.from < 0.0 {
                c.push(
                    &["to"],
                    Code::BadRange,
                    format!("a road section runs from `from` (>= 0) to a larger `to`, found {} to {}", r.from, r.to),
                    None,
                );
            }
            if let Some(road) = world.road.as_ref().filter(|rd| r.to > rd.length) {
                c.push(
                    &["to"],
                    Code::OffRoad,
                    format!("the section ends at {} m on a road that is {} m long", r.to, road.length),
                    None,
                );
            }
        }),
    }
}

fn check_zones(c: &mut Checker, w: &World<f64>) {
    c.key("zones", |c| {
        let mut seen = BTreeMap::new();
        for (i, z) in w.zones.iter().enumerate() {
            c.within(PathSeg::Index(i), |c| {
                if seen.insert(z.id.as_str(), i).is_some() {
                    c.push(&["id"], Code::InvalidValue, format!("zone id `{}` is used twice", z.id), None);
                }
                check_place(c, &z.area, &z.road, w);
                c.positive("speed_limit", z.speed_limit, "a speed");
            });
        }
    });
}

fn check_bounds(c: &mut Checker, key: &str, b: &Bounds<f64>) {
    c.key(key, |c| {
        if b.min_x >= b.max_x {
            c.push(
                &["max_x"],
                Code::BadRange,
                format!("`max_x` ({}) must be greater than `min_x` ({})", b.max_x, b.min_x),
                None,
            );
        }
        if b.min_y >= b.max_y {
            c.push(
                &["max_y"],
                Code::BadRange,
                format!("`max_y` ({}) must be greater than `min_y` ({})", b.max_y, b.min_y),
                None,
            );
        }
    });
}

fn inside(b: &Bounds<f64>, x: f64, y: f64) -> bool {
    (b.min_x..=b.max_x).contains(&x) && (b.min_y..=b.max_y).contains(&y)
}

fn check_lane(c: &mut Checker, key: &str, lane: u32, world: &World<f64>) {
    match &world.road {
        None => c.push(
            &[key],
            Code::OffRoad,
            "a lane is given but the world has no road".into(),
            Some("use `x`, `y` and `heading` in an open area".into()),
        ),
        Some(r) if lane >= r.lanes => c.push(
            &[key],
            Code::LaneOutOfRange,
            format!("lane {lane} does not exist: the road has {} lane{}", r.lanes, if r.lanes == 1 { "" } else { "s" }),
            Some(format!("lanes are numbered from 0 (rightmost) to {}", r.lanes.saturating_sub(1))),
        ),
        Some(_) => {}
    }
}

fn check_map_point(c: &mut Checker, p: &MapPoint<f64>) {
    match p.place() {
        None => c.push(
            &[],
            Code::InvalidValue,
            "a map place is either a lane position (`road`, `lane` and `s`) or a point (`x` and `y`), not both or neither"
                .into(),
            Some("e.g. `{ road: \"1\", lane: -1, s: 20 }` or `{ x: 12.5, y: -3 }`".into()),
        ),
        Some(MapPlace::Lane { lane, s, .. }) => {
            if lane == 0 {
                c.push(
                    &["lane"],
                    Code::LaneOutOfRange,
                    "lane 0 is OpenDRIVE's centre lane, which has no width".into(),
                    Some("lanes right of the reference line are -1, -2, ...; left of it 1, 2, ...".into()),
                );
            }
            c.non_negative("s", s, "a distance");
        }
        Some(MapPlace::Point { .. }) => {}
    }
}

fn check_start(c: &mut Checker, st: &Start<f64>, world: &World<f64>) {
    if let Some(p) = &st.map {
        c.key("start", |c| {
            if st.lane.is_some() || st.s.is_some() || st.offset.is_some() || st.x.is_some() || st.y.is_some() {
                c.push(
                    &["map"],
                    Code::InvalidValue,
                    "a start on the map takes no `lane`, `s`, `offset`, `x` or `y` beside `map`".into(),
                    None,
                );
            }
            if world.map.is_none() {
                c.push(
                    &["map"],
                    Code::InvalidValue,
                    "a start on the map needs a world with a `map`".into(),
                    Some("use `lane` and `s`, or `x` and `y`".into()),
                );
            }
            c.key("map", |c| check_map_point(c, p));
        });
        return;
    }
    c.key("start", |c| match st.pose() {
        None => c.push(
            &[],
            Code::InvalidValue,
            "a start is either on a lane (`lane` and `s`) or in the plane (`x` and `y`), not both or neither".into(),
            Some("e.g. `start: { lane: 1, s: 20 }` or `start: { x: 2, y: 3, heading: 90 }`".into()),
        ),
        Some(StartPose::Lane { lane, s, offset }) => {
            check_lane(c, "lane", lane, world);
            if let Some(r) = &world.road {
                if !(0.0..=r.length).contains(&s) {
                    c.push(
                        &["s"],
                        Code::OffRoad,
                        format!("`s` = {s} is off the road, which runs from 0 to {} m", r.length),
                        None,
                    );
                }
                let d = (f64::from(lane) + 0.5) * r.lane_width + offset;
                if st.offset.is_some() {
                    check_beside_road(c, "offset", d, r);
                }
            }
        }
        Some(StartPose::Pose { x, y, .. }) => {
            if let Some(a) = &world.area {
                if world.road.is_none() && !inside(&a.bounds, x, y) {
                    c.push(&["x"], Code::OffRoad, format!("start ({x}, {y}) lies outside the area bounds"), None);
                }
            }
        }
    });
}

/// How far beyond the road's edge a start may lie (a pavement, a verge, a lay-by), metres: at
/// least this, or a lane width on roads with wider lanes.
pub const MAX_VERGE: f64 = 10.0;

/// Checks that a start `d` metres left of the road's right edge lies on the road or beside it.
fn check_beside_road(c: &mut Checker, key: &str, d: f64, r: &Road<f64>) {
    let verge = MAX_VERGE.max(r.lane_width);
    let width = f64::from(r.lanes) * r.lane_width;
    let beyond = if d < 0.0 { -d } else { d - width };
    // On a bend, nothing can stand at or past the centre of the curve.
    let past_centre = r.curvature != 0.0 && d * r.curvature >= 0.9;
    if beyond > verge || past_centre {
        c.push(
            &[key],
            Code::OffRoad,
            format!(
                "the start lies {beyond:.2} m beyond the road's {} edge; a start may be at most {verge} m beside the road",
                if d < 0.0 { "right" } else { "left" }
            ),
            Some("the road runs from 0 (its right edge) to its width across; a start beside it stands on the pavement or verge".into()),
        );
    }
}

/// The ego's centre line at its start, for an actor's `overlap`: metres left of the road's right
/// edge, and the ego's width.
#[derive(Debug, Clone, Copy)]
struct EgoLine {
    d: f64,
    width: f64,
}

fn ego_line(e: &Ego<f64>, world: &World<f64>) -> Option<EgoLine> {
    let r = world.road.as_ref()?;
    match e.start.pose()? {
        StartPose::Lane { lane, offset, .. } => {
            Some(EgoLine { d: (f64::from(lane) + 0.5) * r.lane_width + offset, width: e.model.width })
        }
        StartPose::Pose { .. } => None,
    }
}

fn check_overlap(c: &mut Checker, a: &Actor<f64>, world: &World<f64>, ego: Option<EgoLine>) {
    let Some(overlap) = a.start.overlap else { return };
    c.key("start", |c| {
        if a.start.offset.is_some() {
            c.push(
                &["overlap"],
                Code::InvalidValue,
                "a start takes `offset` or `overlap`, not both".into(),
                Some(
                    "`overlap` places the actor relative to the ego's centre line, `offset` relative to its lane's"
                        .into(),
                ),
            );
            return;
        }
        match (ego, &world.road) {
            (Some(e), Some(r)) => check_beside_road(c, "overlap", e.d + overlap * e.width, r),
            _ => c.push(
                &["overlap"],
                Code::InvalidValue,
                "`overlap` is measured from the ego's centre line, but the ego does not start on a lane".into(),
                Some("start the ego with `start: { lane, s }`, or give the actor an `offset`".into()),
            ),
        }
    });
}

fn check_ego(c: &mut Checker, e: &Ego<f64>, world: &World<f64>) {
    c.key("model", |c| {
        let m = &e.model;
        c.positive("length", m.length, "a length");
        c.positive("width", m.width, "a width");
        c.positive("wheelbase", m.wheelbase, "a length");
        c.positive("max_accel", m.max_accel, "an acceleration");
        c.positive("max_decel", m.max_decel, "a deceleration");
        c.range("max_steer", m.max_steer, 1.0, 80.0, "an angle in degrees");
    });
    if e.start.map.is_some() {
        c.push(
            &["start", "map"],
            Code::InvalidValue,
            "the ego starts on its route, not at a map place".into(),
            Some("on a map give `start: { lane: 0, s: ... }`, metres along `world.map.route`".into()),
        );
    } else {
        check_start(c, &e.start, world);
    }
    if e.start.overlap.is_some() {
        c.push(
            &["start", "overlap"],
            Code::InvalidValue,
            "`overlap` places an actor relative to the ego; the ego itself takes `offset`".into(),
            None,
        );
    }
    c.non_negative("speed", e.speed, "a speed");
    if let Some(v) = e.set_speed {
        c.positive("set_speed", v, "a speed");
    }
    c.key("goal", |c| match &e.goal {
        Goal::Distance(d) => {
            c.positive("distance", *d, "a distance");
            if let (Some(r), Some(StartPose::Lane { s, .. })) = (&world.road, e.start.pose()) {
                if s + d > r.length {
                    c.push(
                        &["distance"],
                        Code::OffRoad,
                        format!("the goal lies {} m along a road that is {} m long", s + d, r.length),
                        Some("shorten the goal distance or lengthen the road".into()),
                    );
                }
            }
        }
        Goal::Position { tolerance, .. } => c.key("position", |c| c.positive("tolerance", *tolerance, "a radius")),
        Goal::Region { min_x, min_y, max_x, max_y } => {
            check_bounds(c, "region", &Bounds { min_x: *min_x, min_y: *min_y, max_x: *max_x, max_y: *max_y })
        }
    });
}

fn check_actor(c: &mut Checker, a: &Actor<f64>, world: &World<f64>, ids: &BTreeMap<&str, usize>, ego: Option<EgoLine>) {
    check_start(c, &a.start, world);
    check_overlap(c, a, world, ego);
    c.non_negative("speed", a.speed, "a speed");
    if let Some(size) = &a.size {
        c.key("size", |c| {
            for (key, v, what) in [
                ("length", size.length, "a length"),
                ("width", size.width, "a width"),
                ("height", size.height, "a height"),
            ] {
                if let Some(v) = v {
                    c.positive(key, v, what);
                }
            }
        });
    }
    if a.parked {
        if !a.kind.is_vehicle() {
            c.push(
                &["parked"],
                Code::InvalidValue,
                format!("only a vehicle can be parked, found `{}`", a.kind.as_str()),
                Some("park a `car`, `truck`, `forklift` or `robot`; other things stand still without `parked`".into()),
            );
        }
        if a.speed != 0.0 {
            c.push(
                &["speed"],
                Code::InvalidValue,
                format!("a parked vehicle stands still, found speed {}", a.speed),
                Some("remove `speed`, or `parked: true` for a vehicle that moves".into()),
            );
        }
        if !a.behaviour.is_empty() || a.drive.is_some() {
            let key = if a.drive.is_some() { "drive" } else { "behaviour" };
            c.push(
                &[key],
                Code::InvalidValue,
                format!("a parked vehicle stands where it starts; it takes no `{key}`"),
                Some("remove `parked: true` for a vehicle that moves".into()),
            );
        }
    }
    if let Some(d) = &a.drive {
        c.key("drive", |c| check_drive(c, d, false));
        if !a.behaviour.is_empty() {
            c.push(
                &["behaviour"],
                Code::InvalidValue,
                format!("`{}` has both a `drive` and a scripted `behaviour`; an actor is one or the other", a.id),
                Some("remove `behaviour` for a reactive actor, or `drive` for a scripted one".into()),
            );
        }
        if !matches!(a.kind, ActorKind::Car | ActorKind::Truck) {
            c.push(
                &["kind"],
                Code::InvalidValue,
                format!(
                    "only a `car` or a `truck` can `drive` like traffic, found `{}`",
                    format!("{:?}", a.kind).to_lowercase()
                ),
                Some("script other road users with `behaviour`".into()),
            );
        }
        if world.road.is_none() || !matches!(a.start.pose(), Some(StartPose::Lane { .. })) {
            c.push(
                &["drive"],
                Code::ManoeuvreNeedsLane,
                format!("`{}` drives along the road's lanes, so it needs a road and a start on a lane", a.id),
                Some("place the actor with `start: { lane, s }` on a `road`".into()),
            );
        }
    }
    // An obstacle may move (a test piece towed across the path); it cannot drive like traffic
    // (only cars and trucks can, checked above).
    // Lane manoeuvres move an actor in the road frame; one placed by x/y, or one that has left
    // its lane along waypoints, has none, and the manoeuvre would silently do nothing.
    let mut on_lane = matches!(a.start.pose(), Some(StartPose::Lane { .. })) && world.road.is_some();
    c.key("behaviour", |c| {
        for (i, step) in a.behaviour.iter().enumerate() {
            c.within(PathSeg::Index(i), |c| {
                if let Some(t) = &step.when {
                    c.key("when", |c| check_trigger(c, t, ids));
                    let crossing = matches!(step.action, Manoeuvre::CrossRoad { .. });
                    if impact_point_without_speed(t) && !crossing {
                        c.push(
                            &["when"],
                            Code::InvalidValue,
                            format!(
                                "`impact_point` needs a `speed` here: the step does `{}`, not `cross_road`",
                                step.action.name()
                            ),
                            Some(
                                "give the speed at which the actor will cross: `impact_point: { at: 0.5, speed: 1.4 }`"
                                    .into(),
                            ),
                        );
                    }
                    if has_impact_point(t) && !world.has_lanes() {
                        c.push(
                            &["when"],
                            Code::ManoeuvreNeedsLane,
                            "`impact_point` times a crossing of the ego's lane, but the world has no road".into(),
                            None,
                        );
                    }
                }
                c.key("do", |c| check_manoeuvre(c, &step.action, world));
                let lane_only = match &step.action {
                    Manoeuvre::ChangeLane { .. } => Some("change_lane"),
                    Manoeuvre::CrossRoad { .. } => Some("cross_road"),
                    _ => None,
                };
                if let (Some(name), false, true) = (lane_only, on_lane, world.road.is_some()) {
                    let why = if i > 0
                        && a.behaviour[..i].iter().any(|s| {
                            matches!(s.action, Manoeuvre::FollowWaypoints { .. } | Manoeuvre::FollowRoute { .. })
                        }) {
                        "it has left the road frame along `follow_waypoints`"
                    } else {
                        "it is placed by `x`/`y`"
                    };
                    c.push(
                        &["do", name],
                        Code::ManoeuvreNeedsLane,
                        format!(
                            "`{name}` moves an actor relative to the road's lanes, but `{}` has no lane: {why}",
                            a.id
                        ),
                        Some(
                            "place the actor with `start: { lane, s, offset }`, or move it with `follow_waypoints`"
                                .into(),
                        ),
                    );
                }
                if matches!(step.action, Manoeuvre::FollowWaypoints { .. } | Manoeuvre::FollowRoute { .. }) {
                    on_lane = false;
                }
            });
        }
    });
}

fn check_drive(c: &mut Checker, d: &Drive<f64>, in_traffic: bool) {
    if let Some(v) = d.desired_speed {
        if in_traffic {
            c.push(
                &["desired_speed"],
                Code::InvalidValue,
                "a `traffic` block draws each vehicle's desired speed from its own `desired_speed`".into(),
                Some("move it to `traffic.desired_speed`, e.g. `{ mean: 30, std: 3 }`".into()),
            );
        } else {
            c.positive("desired_speed", v, "a speed");
        }
    }
    c.positive("time_headway", d.time_headway, "a time");
    c.non_negative("min_gap", d.min_gap, "a distance");
    c.positive("max_accel", d.max_accel, "an acceleration");
    c.positive("comfort_decel", d.comfort_decel, "a deceleration");
    c.range("exponent", d.exponent, 1.0, 10.0, "the acceleration exponent");
    c.positive("max_decel", d.max_decel, "a deceleration");
    if d.max_decel < d.comfort_decel {
        c.push(
            &["max_decel"],
            Code::BadRange,
            format!("`max_decel` ({}) is below `comfort_decel` ({})", d.max_decel, d.comfort_decel),
            Some("the hardest braking must be at least the comfortable one".into()),
        );
    }
    c.key("lane_change", |c| {
        let l = &d.lane_change;
        c.range("politeness", l.politeness, 0.0, 1.0, "a weight");
        c.non_negative("threshold", l.threshold, "an acceleration");
        c.positive("safe_decel", l.safe_decel, "a deceleration");
        c.positive("duration", l.duration, "a duration");
        c.non_negative("cooldown", l.cooldown, "a duration");
        if !l.keep_right.is_finite() {
            c.push(&["keep_right"], Code::InvalidValue, "`keep_right` must be a finite number".into(), None);
        }
    });
}

fn check_traffic(c: &mut Checker, t: &Traffic<f64>, world: &World<f64>) {
    let Some(road) = &world.road else {
        c.push(
            &[],
            Code::OffRoad,
            "`traffic` fills a road's lanes, but the world has no road".into(),
            Some("add `world.road`, or list the actors by hand".into()),
        );
        return;
    };
    c.positive("density", t.density, "vehicles per km per lane");
    c.key("lanes", |c| {
        for (i, lane) in t.lanes.iter().enumerate() {
            if t.lanes[..i].contains(lane) {
                c.within(PathSeg::Index(i), |c| {
                    c.push(
                        &[],
                        Code::InvalidValue,
                        format!("lane {lane} is listed twice"),
                        Some("each lane is filled once; raise `density` for more vehicles".into()),
                    )
                });
            }
            if *lane >= road.lanes {
                c.within(PathSeg::Index(i), |c| {
                    c.push(
                        &[],
                        Code::LaneOutOfRange,
                        format!("lane {lane} does not exist: the road has {} lanes", road.lanes),
                        Some(format!("lanes are numbered from 0 (rightmost) to {}", road.lanes.saturating_sub(1))),
                    )
                });
            }
        }
    });
    let to = t.to.unwrap_or(road.length);
    if !(0.0..=road.length).contains(&t.from) {
        c.push(
            &["from"],
            Code::OffRoad,
            format!("`from` = {} is off the road, which runs from 0 to {} m", t.from, road.length),
            None,
        );
    }
    if !(0.0..=road.length).contains(&to) {
        c.push(
            &["to"],
            Code::OffRoad,
            format!("`to` = {to} is off the road, which runs from 0 to {} m", road.length),
            None,
        );
    } else if to <= t.from {
        c.push(&["to"], Code::BadRange, format!("`to` ({to}) must be greater than `from` ({})", t.from), None);
    }
    let lanes = if t.lanes.is_empty() { road.lanes as usize } else { t.lanes.len() };
    let count = t.density * (to - t.from).max(0.0) / 1000.0 * lanes as f64;
    if count > MAX_TRAFFIC_VEHICLES {
        c.push(
            &["density"],
            Code::OutOfRange,
            format!("this block would place about {count:.0} vehicles; at most {MAX_TRAFFIC_VEHICLES} are allowed"),
            Some("lower `density` or fill a shorter stretch with `from`/`to`".into()),
        );
    }
    let longest = if t.truck_share > 0.0 { ActorKind::Truck } else { ActorKind::Car }.default_size().0;
    let fits = 1000.0 / (longest + t.drive.min_gap.max(0.0));
    if t.density > fits {
        c.push(
            &["density"],
            Code::OutOfRange,
            format!(
                "{} vehicles per km per lane do not fit: at most {fits:.0} do, bumper to bumper at `min_gap`",
                t.density
            ),
            Some("lower `density`".into()),
        );
    }
    c.key("desired_speed", |c| {
        let d = &t.desired_speed;
        match (d.mean, d.min, d.max) {
            (Some(mean), _, _) => {
                c.positive("mean", mean, "a speed");
                if let Some(std) = d.std {
                    c.non_negative("std", std, "a standard deviation");
                }
            }
            (None, Some(_), Some(_)) => {
                if d.std.is_some() {
                    c.push(
                        &["std"],
                        Code::InvalidValue,
                        "`std` needs a `mean`; `min` and `max` alone give a uniform distribution".into(),
                        None,
                    );
                }
            }
            _ => c.push(
                &[],
                Code::InvalidValue,
                "`desired_speed` needs a `mean` (normal) or both `min` and `max` (uniform)".into(),
                Some("e.g. `desired_speed: { mean: 30, std: 3 }` or `{ min: 25, max: 35 }`".into()),
            ),
        }
        if let Some(min) = d.min {
            c.non_negative("min", min, "a speed");
        }
        if let Some(max) = d.max {
            c.positive("max", max, "a speed");
        }
        if let (Some(lo), Some(hi)) = (d.min, d.max) {
            if lo > hi {
                c.push(&["max"], Code::BadRange, format!("`max` ({hi}) must not be below `min` ({lo})"), None);
            }
        }
    });
    c.probability("truck_share", t.truck_share);
    c.non_negative("clear_gap", t.clear_gap, "a distance");
    c.key("drive", |c| check_drive(c, &t.drive, true));
}

fn check_manoeuvre(c: &mut Checker, m: &Manoeuvre<f64>, world: &World<f64>) {
    match m {
        Manoeuvre::KeepLane { speed, accel } => c.key("keep_lane", |c| {
            c.non_negative("speed", *speed, "a speed");
            c.positive("accel", *accel, "an acceleration");
        }),
        Manoeuvre::FollowWaypoints { points, speed, .. } => c.key("follow_waypoints", |c| {
            if points.is_empty() {
                c.push(
                    &["points"],
                    Code::InvalidValue,
                    "`points` is empty".into(),
                    Some("give at least one waypoint".into()),
                );
            }
            c.positive("speed", *speed, "a speed");
        }),
        Manoeuvre::FollowRoute { to, speed } => c.key("follow_route", |c| {
            if world.map.is_none() {
                c.push(
                    &[],
                    Code::InvalidValue,
                    "`follow_route` needs a world with a `map`".into(),
                    Some("use `follow_waypoints` without a map".into()),
                );
            }
            c.key("to", |c| check_map_point(c, to));
            c.positive("speed", *speed, "a speed");
        }),
        Manoeuvre::ChangeLane { to, duration, lateral_speed } => c.key("change_lane", |c| {
            check_lane(c, "to", *to, world);
            c.positive("duration", *duration, "a duration");
            if let Some(v) = lateral_speed {
                c.positive("lateral_speed", *v, "a speed");
            }
        }),
        Manoeuvre::Brake { to_speed, decel, jerk } => c.key("brake", |c| {
            c.non_negative("to_speed", *to_speed, "a speed");
            c.positive("decel", *decel, "a deceleration");
            if let Some(j) = jerk {
                c.positive("jerk", *j, "a jerk");
            }
        }),
        Manoeuvre::Stop { decel } => c.key("stop", |c| c.positive("decel", *decel, "a deceleration")),
        Manoeuvre::CrossRoad { speed, accel, .. } => c.key("cross_road", |c| {
            if let Some(a) = accel {
                c.positive("accel", *a, "an acceleration");
            }
            if !world.has_lanes() {
                c.push(
                    &[],
                    Code::OffRoad,
                    "`cross_road` needs a road".into(),
                    Some("use `follow_waypoints` in an open area".into()),
                );
            }
            c.positive("speed", *speed, "a speed");
        }),
        Manoeuvre::StartMoving { speed, accel } => c.key("start_moving", |c| {
            c.positive("speed", *speed, "a speed");
            c.positive("accel", *accel, "an acceleration");
        }),
        Manoeuvre::Wait { duration } => c.key("wait", |c| c.positive("duration", *duration, "a duration")),
        Manoeuvre::RunRedLight {} => {
            if world.signals.is_empty() {
                c.push(
                    &["run_red_light"],
                    Code::InvalidValue,
                    "`run_red_light` needs signals to run: the world has no `signals`".into(),
                    Some("declare the traffic light under `world.signals`".into()),
                );
            }
        }
    }
}

fn check_compare(c: &mut Checker, key: &str, cmp: &Compare<f64>, what: &str, strictly_positive: bool) {
    c.key(key, |c| {
        let (k, v) = match cmp {
            Compare::Below(v) => ("below", *v),
            Compare::Above(v) => ("above", *v),
        };
        if strictly_positive && k == "below" {
            c.positive(k, v, what);
        } else {
            c.non_negative(k, v, what);
        }
    });
}

fn check_actor_id(c: &mut Checker, key: &str, actor: &str, ids: &BTreeMap<&str, usize>) {
    if actor == "ego" || ids.contains_key(actor) {
        return;
    }
    let names = ids.keys().copied().chain(std::iter::once("ego"));
    let help = match did_you_mean(actor, names) {
        Some(m) => format!("did you mean `{m}`?"),
        None => format!(
            "known actors: {}",
            ids.keys().map(|k| format!("`{k}`")).chain(std::iter::once("`ego`".into())).collect::<Vec<_>>().join(", ")
        ),
    };
    c.push(&[key], Code::UnknownActor, format!("trigger refers to unknown actor `{actor}`"), Some(help));
}

fn check_trigger(c: &mut Checker, t: &Trigger<f64>, ids: &BTreeMap<&str, usize>) {
    match t {
        Trigger::Time { after } => c.key("time", |c| c.non_negative("after", *after, "a time")),
        Trigger::GapToEgo(cmp) => check_compare(c, "gap_to_ego", cmp, "a gap", false),
        Trigger::DistanceToEgo(cmp) => check_compare(c, "distance_to_ego", cmp, "a distance", true),
        Trigger::EgoSpeed(cmp) => check_compare(c, "ego_speed", cmp, "a speed", true),
        Trigger::Ttc(cmp) => check_compare(c, "ttc", cmp, "a time-to-collision", true),
        Trigger::ActorReached { actor, s, position, radius } => c.key("actor_reached", |c| {
            check_actor_id(c, "actor", actor, ids);
            if s.is_some() == position.is_some() {
                c.push(&[], Code::InvalidValue, "`actor_reached` needs exactly one of `s` and `position`".into(), None);
            }
            c.positive("radius", *radius, "a radius");
        }),
        Trigger::EgoStopped { duration } => {
            c.key("ego_stopped", |c| c.non_negative("duration", *duration, "a duration"))
        }
        Trigger::Between { a, b, distance, gap, ttc } => c.key("between", |c| {
            check_actor_id(c, "a", a, ids);
            check_actor_id(c, "b", b, ids);
            if a == b {
                c.push(
                    &["b"],
                    Code::InvalidValue,
                    format!("`between` needs two different actors, found `{a}` twice"),
                    None,
                );
            }
            let given = [distance.is_some(), gap.is_some(), ttc.is_some()].iter().filter(|x| **x).count();
            if given != 1 {
                c.push(
                    &[],
                    Code::InvalidValue,
                    format!("`between` needs exactly one of `distance`, `gap` and `ttc`, found {given}"),
                    Some("write two triggers under `all:` to combine measures".into()),
                );
            }
            if let Some(cmp) = distance {
                check_compare(c, "distance", cmp, "a distance", true);
            }
            if let Some(cmp) = gap {
                check_compare(c, "gap", cmp, "a gap", false);
            }
            if let Some(cmp) = ttc {
                check_compare(c, "ttc", cmp, "a time-to-collision", true);
            }
        }),
        Trigger::Signal { id, .. } => c.key("signal", |c| {
            if !c.signal_ids.iter().any(|k| k == id) {
                let help = match did_you_mean(id, c.signal_ids.iter().map(String::as_str)) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None if c.signal_ids.is_empty() => "the world declares no `signals`".into(),
                    None => format!(
                        "known signals: {}",
                        c.signal_ids.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    ),
                };
                c.push(&["id"], Code::UnknownSignal, format!("trigger refers to unknown signal `{id}`"), Some(help));
            }
        }),
        Trigger::ImpactPoint { at, speed, accel } => c.key("impact_point", |c| {
            c.range("at", *at, 0.0, 1.0, "a fraction of the ego's width");
            if let Some(v) = speed {
                c.positive("speed", *v, "a speed");
            }
            if let Some(a) = accel {
                c.positive("accel", *a, "an acceleration");
            }
        }),
        Trigger::All(ts) | Trigger::Any(ts) => c.key(t.name(), |c| {
            if ts.is_empty() {
                c.push(&[], Code::InvalidValue, format!("`{}` needs at least one trigger", t.name()), None);
            }
            for (i, inner) in ts.iter().enumerate() {
                c.within(PathSeg::Index(i), |c| check_trigger(c, inner, ids));
            }
        }),
        Trigger::Not(inner) => c.key("not", |c| check_trigger(c, inner, ids)),
    }
}

fn has_impact_point(t: &Trigger<f64>) -> bool {
    match t {
        Trigger::ImpactPoint { .. } => true,
        Trigger::All(ts) | Trigger::Any(ts) => ts.iter().any(has_impact_point),
        Trigger::Not(t) => has_impact_point(t),
        _ => false,
    }
}

fn impact_point_without_speed(t: &Trigger<f64>) -> bool {
    match t {
        Trigger::ImpactPoint { speed, .. } => speed.is_none(),
        Trigger::All(ts) | Trigger::Any(ts) => ts.iter().any(impact_point_without_speed),
        Trigger::Not(t) => impact_point_without_speed(t),
        _ => false,
    }
}

/// `end_when` has no actor of its own: measures relative to "this actor" cannot apply.
fn check_end_when(c: &mut Checker, t: &Trigger<f64>, ids: &BTreeMap<&str, usize>) {
    check_trigger(c, t, ids);
    if t.needs_actor() {
        c.push(
            &[],
            Code::InvalidValue,
            "`end_when` belongs to no actor, so `gap_to_ego`, `distance_to_ego` and `ttc` have nothing to measure"
                .into(),
            Some("write `between: { a: ego, b: <actor>, distance: ... }`".into()),
        );
    }
}

fn check_driver(c: &mut Checker, d: &TestDriver<f64>, ids: &BTreeMap<&str, usize>) {
    match d {
        TestDriver::Stack => {}
        TestDriver::HoldSpeed { speed } => c.key("hold_speed", |c| {
            if let Some(v) = speed {
                c.positive("speed", *v, "a speed");
            }
        }),
        TestDriver::HoldHeadway { actor, time_gap, speed, gain } => c.key("hold_headway", |c| {
            if actor == "ego" || !ids.contains_key(actor.as_str()) {
                c.push(
                    &["actor"],
                    Code::UnknownActor,
                    format!("the test driver follows unknown actor `{actor}`"),
                    did_you_mean(actor, ids.keys().copied()).map(|m| format!("did you mean `{m}`?")),
                );
            }
            c.positive("time_gap", *time_gap, "a time gap");
            c.positive("gain", *gain, "a gain");
            if let Some(v) = speed {
                c.positive("speed", *v, "a speed");
            }
        }),
    }
}

fn check_intended_contact(c: &mut Checker, k: &IntendedContact, ids: &BTreeMap<&str, usize>) {
    match k.actors.as_slice() {
        [a, b] if a == b => c.push(
            &["actors"],
            Code::InvalidValue,
            format!("an intended contact is between two different actors, found `{a}` twice"),
            None,
        ),
        [_, _] => {
            c.key("actors", |c| {
                for (i, id) in k.actors.iter().enumerate() {
                    if id == "ego" {
                        c.push(
                            &[],
                            Code::InvalidValue,
                            "the ego's contacts are judged by the criteria, not declared".into(),
                            Some("use `expected: { avoid: 0 }` where contact with the ego is acceptable".into()),
                        );
                    } else if !ids.contains_key(id.as_str()) && !id.starts_with(TRAFFIC_ID_PREFIX) {
                        c.within(PathSeg::Index(i), |c| {
                            c.push(
                                &[],
                                Code::UnknownActor,
                                format!("an intended contact names unknown actor `{id}`"),
                                did_you_mean(id, ids.keys().copied()).map(|m| format!("did you mean `{m}`?")),
                            )
                        });
                    }
                }
            });
        }
        other => c.push(
            &["actors"],
            Code::InvalidValue,
            format!("an intended contact names two actors, found {}", other.len()),
            Some("write one entry per pair: `- { actors: [a, b], reason: ... }`".into()),
        ),
    }
    if k.reason.trim().is_empty() {
        c.push(
            &["reason"],
            Code::InvalidValue,
            "an intended contact needs a reason".into(),
            Some("say why the actors touch, e.g. `the crash the ego must stop for`".into()),
        );
    }
}

fn check_environment(c: &mut Checker, e: &Environment<f64>) {
    c.range("friction", e.friction, 0.05, 1.5, "a friction coefficient");
    c.positive("visibility", e.visibility, "a distance");
    if let Some(h) = e.headlamp_range {
        c.positive("headlamp_range", h, "a distance");
        if e.lighting == Lighting::Day {
            c.push(
                &["headlamp_range"],
                Code::InvalidValue,
                "`headlamp_range` matters only at `lighting: dusk` or `night`; by day it changes nothing".into(),
                Some("add `lighting: night`, or remove `headlamp_range`".into()),
            );
        }
    }
    if let Some(p) = &e.precipitation {
        c.key("precipitation", |c| {
            let (most, what) = match p.kind {
                PrecipitationKind::Rain => (MAX_RAIN, "a rain rate in mm/h"),
                PrecipitationKind::Snow => (MAX_SNOW, "a snowfall rate in mm/h of water"),
            };
            if p.intensity <= 0.0 || p.intensity > most {
                c.push(
                    &["intensity"],
                    Code::OutOfRange,
                    format!("`intensity` ({what}) must be within (0, {most}], found {}", p.intensity),
                    Some("remove `precipitation` for a dry day".into()),
                );
            }
        });
    }
    for (key, v) in [("lidar", e.lidar.visibility), ("detector", e.detector.visibility)] {
        if let Some(v) = v {
            c.key(key, |c| c.positive("visibility", v, "a distance"));
        }
    }
    c.key("lidar", |c| {
        let l = &e.lidar;
        if !(1..=4096).contains(&l.rays) {
            c.push(&["rays"], Code::OutOfRange, format!("`rays` must be within 1..=4096, found {}", l.rays), None);
        }
        c.positive("range", l.range, "a range");
        c.range("rate", l.rate, 0.5, 100.0, "a rate in Hz");
        c.non_negative("range_noise", l.range_noise, "a standard deviation");
        c.probability("dropout", l.dropout);
    });
    c.key("detector", |c| {
        let d = &e.detector;
        c.positive("range", d.range, "a range");
        c.non_negative("position_noise", d.position_noise, "a standard deviation");
        c.probability("miss_rate", d.miss_rate);
        c.probability("range_falloff", d.range_falloff);
        c.range("false_positive_rate", d.false_positive_rate, 0.0, 20.0, "false positives per frame");
        c.range("latency", d.latency, 0.0, 2.0, "seconds");
    });
    c.key("signal_camera", |c| {
        let k = &e.signal_camera;
        c.positive("range", k.range, "a range");
        c.probability("miss_rate", k.miss_rate);
        c.range("latency", k.latency, 0.0, 2.0, "seconds");
    });
    c.key("localisation", |c| {
        c.non_negative("position_noise", e.localisation.position_noise, "a standard deviation");
        c.non_negative("heading_noise", e.localisation.heading_noise, "a standard deviation");
    });
}

fn check_criterion(c: &mut Checker, cr: &Criterion<f64>, has_road: bool, world: &World<f64>) {
    match cr {
        Criterion::ZoneSpeed { tolerance, .. } => {
            c.non_negative("tolerance", *tolerance, "a speed");
            if world.zones.is_empty() {
                c.push(
                    &[],
                    Code::InvalidValue,
                    "`zone_speed` judges the speed inside `world.zones`, but the world has none".into(),
                    Some("add `zones: [{ id, area: {...} | road: { from, to }, speed_limit }]` under `world`".into()),
                );
            }
        }
        Criterion::StopWithin { area, road, .. } => check_place(c, area, road, world),
        Criterion::NoCollision { .. } | Criterion::StayInDrivableArea { .. } => {}
        Criterion::MinTtc { threshold, .. } => c.positive("threshold", *threshold, "a time-to-collision"),
        Criterion::MinDistance { threshold, .. } => c.positive("threshold", *threshold, "a distance"),
        Criterion::ReachGoal { within, .. } => c.positive("within", *within, "a time"),
        Criterion::MaxDecel { threshold, .. } => c.positive("threshold", *threshold, "a deceleration"),
        Criterion::MaxJerk { threshold, .. } => c.positive("threshold", *threshold, "a jerk"),
        Criterion::MaxLateralAccel { threshold, .. } => c.positive("threshold", *threshold, "an acceleration"),
        Criterion::NoLaneChange { .. } => {
            if !has_road {
                c.push(
                    &[],
                    Code::InvalidValue,
                    "`no_lane_change` needs a road".into(),
                    Some("use `stay_in_drivable_area` in an open area".into()),
                );
            }
        }
        Criterion::StayInLane { tolerance, .. } => {
            c.non_negative("tolerance", *tolerance, "a distance");
            if !has_road {
                c.push(
                    &[],
                    Code::InvalidValue,
                    "`stay_in_lane` needs a road".into(),
                    Some("use `stay_in_drivable_area` in an open area".into()),
                );
            }
        }
        Criterion::SpeedLimit { tolerance, .. } => c.non_negative("tolerance", *tolerance, "a speed"),
        Criterion::ImpactSpeed { max, .. } => c.non_negative("max", *max, "a speed"),
        Criterion::SpeedReduction { min, .. } => c.non_negative("min", *min, "a speed"),
        Criterion::NoRedLightViolation { .. } => {}
        Criterion::NoStopLineOverrun { max_distance, .. } => c.positive("max_distance", *max_distance, "a distance"),
        Criterion::NoFailureToYield { within, .. } => {
            c.positive("within", *within, "a time");
            if *within > MAX_YIELD_WINDOW {
                c.push(
                    &["within"],
                    Code::OutOfRange,
                    format!("`within` must be at most {MAX_YIELD_WINDOW} s, found {within}"),
                    Some("the window is how soon a vehicle with priority would reach the junction: a few seconds (default 3)".into()),
                );
            }
        }
    }
}

fn check_signals(c: &mut Checker, w: &World<f64>) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, g) in w.signals.iter().enumerate() {
        c.within(PathSeg::Index(i), |c| {
            let valid_id = !g.id.is_empty()
                && g.id.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.'));
            if !valid_id {
                c.push(
                    &["id"],
                    Code::InvalidValue,
                    format!("signal id `{}` is not a valid id", g.id),
                    Some("use letters, digits, `_`, `-` and `.`".into()),
                );
            } else if let Some(first) = seen.insert(&g.id, i) {
                seen.insert(&g.id, first);
                c.push(
                    &["id"],
                    Code::DuplicateSignalId,
                    format!("signal id `{}` is used twice", g.id),
                    Some(format!("signal #{} already has this id; ids must be unique among the signals", first + 1)),
                );
            }
            c.key("at", |c| match (&g.at.s, &g.at.map) {
                (Some(s), None) => {
                    c.non_negative("s", *s, "a distance");
                    if let Some(r) = &w.road {
                        if *s > r.length {
                            c.push(
                                &["s"],
                                Code::OffRoad,
                                format!("`s` = {s} is off the road, which runs from 0 to {} m", r.length),
                                None,
                            );
                        }
                    } else if w.map.is_none() {
                        c.push(
                            &["s"],
                            Code::OffRoad,
                            "a stop line at `s` needs a road or a map route to measure along".into(),
                            Some("add `world.road` or `world.map`".into()),
                        );
                    }
                }
                (None, Some(p)) => {
                    if w.map.is_none() {
                        c.push(
                            &["map"],
                            Code::InvalidValue,
                            "a stop line at a map place needs a world with a `map`".into(),
                            Some("give `at: { s: ... }`, metres along the ego's road".into()),
                        );
                    }
                    if !matches!(p.place(), Some(MapPlace::Lane { .. })) {
                        c.push(
                            &["map"],
                            Code::InvalidValue,
                            "a stop line is placed on a lane: give `road`, `lane` and `s`".into(),
                            Some("e.g. `at: { map: { road: \"3\", lane: -1, s: 95 } }`".into()),
                        );
                    }
                    c.key("map", |c| check_map_point(c, p));
                }
                _ => c.push(
                    &[],
                    Code::InvalidValue,
                    "a stop line is at `s` along the ego's road or at a `map` lane place, exactly one of them".into(),
                    Some("e.g. `at: { s: 60 }` or `at: { map: { road: \"3\", lane: -1, s: 95 } }`".into()),
                ),
            });
            c.positive("width", g.width, "a width");
            c.non_negative("conflict_zone", g.conflict_zone, "a distance");
            match g.kind {
                SignalKind::TrafficLight => {
                    if g.phases.is_empty() {
                        c.push(
                            &["phases"],
                            Code::MissingField,
                            format!("traffic light `{}` has no `phases`", g.id),
                            Some("e.g. `phases: [{ state: red, duration: 8 }, { state: green, duration: 20 }, { state: amber, duration: 3 }]`".into()),
                        );
                    }
                    c.non_negative("offset", g.offset, "a time");
                    c.key("phases", |c| {
                        for (k, p) in g.phases.iter().enumerate() {
                            c.within(PathSeg::Index(k), |c| c.positive("duration", p.duration, "a duration"));
                        }
                    });
                }
                SignalKind::Stop | SignalKind::Yield => {
                    if !g.phases.is_empty() {
                        c.push(
                            &["phases"],
                            Code::InvalidValue,
                            format!("a {} sign shows no lights; `phases` belong to a `traffic_light`", g.kind.as_str()),
                            Some("remove `phases`, or set `kind: traffic_light`".into()),
                        );
                    }
                }
            }
        });
    }
}
