//! Maps: an OpenDRIVE road network (read from the text the caller hands over, with the `xodr` crate)
//! turned once, at the start of a run, into plain f64 data: the ego's route through the lane graph
//! as the polyline reference line of its road (the stack's `RoadMap`), places given by road, lane
//! and s or by x/y, actors' routes as waypoints along lane centres, and the lanes to draw. xodr
//! works in f32; every number is widened to f64 here and nothing downstream sees xodr again, so a
//! run stays deterministic whatever the crate does internally (its lookups are by key, and a route
//! is found once). The network itself is kept ([`RoadNetworkMap::network`]), signals included, for
//! what comes later (traffic lights, right of way).

use autonomy_stack::geometry::{wrap_angle, Polyline};
use autonomy_stack::LinePoint;
use scenario_dsl::model::{Actor, Manoeuvre, Map, MapPlace, MapPoint, Point, Start};
use scenario_dsl::{RouteJunction, Variant};
use xodr::{Direction, LaneId, LanePosition, RoadNetwork};

use crate::road::RoadFrame;

/// Why a map cannot be used. Every message names the map file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MapError {
    /// The scenario names a map whose text the caller did not hand over.
    #[error("map {file} was not loaded (the caller reads map files and attaches them to the variant)")]
    NotLoaded {
        /// The map file.
        file: String,
    },
    /// The file is not well-formed XML or not a usable OpenDRIVE network.
    #[error("map {file} cannot be read: {message}")]
    Import {
        /// The map file.
        file: String,
        /// What the importer said.
        message: String,
    },
    /// No road has this id.
    #[error("map {file} has no road `{road}` (its roads: {known})")]
    UnknownRoad {
        /// The map file.
        file: String,
        /// The id asked for.
        road: String,
        /// Some of the ids it has.
        known: String,
    },
    /// The road has no such lane at this `s`.
    #[error("map {file}: road {road} has no lane {lane} at s = {s} m (lanes there: {known})")]
    UnknownLane {
        /// The map file.
        file: String,
        /// The road.
        road: String,
        /// The lane asked for.
        lane: i32,
        /// Where.
        s: f64,
        /// The lanes it has at that `s` (or its length when `s` is off the road).
        known: String,
    },
    /// The place is given in neither or both forms (validation reports this first).
    #[error("map {file}: {place} is not a complete place")]
    Incomplete {
        /// The map file.
        file: String,
        /// The place as written.
        place: String,
    },
    /// No driving lane is near the point.
    #[error("map {file}: no lane near ({x}, {y})")]
    OffMap {
        /// The map file.
        file: String,
        /// x.
        x: f64,
        /// y.
        y: f64,
    },
    /// The lane graph has no way from one place to the other in the lanes' directions of travel.
    #[error("map {file}: {to} cannot be reached from {from} along the lanes' directions of travel")]
    Unreachable {
        /// The map file.
        file: String,
        /// Where the route starts.
        from: String,
        /// Where it should go.
        to: String,
    },
}

/// A pose in the world: x, y, heading (radians).
pub type Pose = (f64, f64, f64);

/// One lane as drawn: its centre line and width (every lane of the network, driving or not).
#[derive(Debug, Clone, PartialEq)]
pub struct DrawnLane {
    /// Centre line, (x, y) metres.
    pub centre: Vec<(f64, f64)>,
    /// Width, metres.
    pub width: f64,
    /// Whether vehicles drive on it.
    pub driving: bool,
}

/// An OpenDRIVE road network loaded from a file's text.
#[derive(Debug, Clone)]
pub struct RoadNetworkMap {
    file: String,
    net: RoadNetwork,
}

/// Spacing of the ego's reference line after resampling, metres.
const LINE_STEP: f64 = 1.0;

impl RoadNetworkMap {
    /// Reads a network from the text of `file`.
    pub fn load(file: &str, text: &str) -> Result<Self, MapError> {
        let net =
            xodr::load_str(text).map_err(|e| MapError::Import { file: file.to_owned(), message: e.to_string() })?;
        if net.driving_lanes().next().is_none() {
            return Err(MapError::Import { file: file.to_owned(), message: "it has no driving lane".into() });
        }
        Ok(Self { file: file.to_owned(), net })
    }

    /// The file it came from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The network as xodr built it (lanes, lane graph, signals, objects).
    pub fn network(&self) -> &RoadNetwork {
        &self.net
    }

    /// The baked lane of road `road`, lane `lane` whose section holds `s`.
    fn lane_at(&self, road: &str, lane: i32, s: f64) -> Result<LaneId, MapError> {
        let Some(r) = self.net.road_by_od_id(road) else {
            let mut ids: Vec<&str> = self.net.roads().iter().map(|r| r.od_id()).collect();
            ids.sort_unstable();
            ids.dedup();
            let shown = ids.iter().take(12).copied().collect::<Vec<_>>().join(", ");
            let more = if ids.len() > 12 { format!(" and {} more", ids.len() - 12) } else { String::new() };
            return Err(MapError::UnknownRoad { file: self.file.clone(), road: road.to_owned(), known: shown + &more });
        };
        let rid = r.id();
        let mut here: Vec<i32> = Vec::new();
        for l in self.net.lanes() {
            let Some(at) = self.net.road_lane(l.id) else { continue };
            if at.road != rid {
                continue;
            }
            if self.net.lane_point(LanePosition { lane: l.id, s, offset: 0.0 }).is_none() {
                continue;
            }
            if at.od_id == lane {
                return Ok(l.id);
            }
            here.push(at.od_id);
        }
        here.sort_unstable();
        here.dedup();
        let known = if here.is_empty() {
            format!("none; the road is {:.1} m long", r.length())
        } else {
            here.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
        };
        Err(MapError::UnknownLane { file: self.file.clone(), road: road.to_owned(), lane, s, known })
    }

    /// The pose of a map place: on a lane, heading in its direction of travel; at a point, heading
    /// along the nearest lane's travel.
    pub fn place(&self, p: &MapPoint<f64>) -> Result<Pose, MapError> {
        match p.place() {
            Some(MapPlace::Lane { road, lane, s, offset }) => {
                let id = self.lane_at(&road, lane, s)?;
                let at = |s: f64| self.net.lane_point(LanePosition { lane: id, s, offset });
                let here = at(s).ok_or_else(|| MapError::UnknownLane {
                    file: self.file.clone(),
                    road: road.clone(),
                    lane,
                    s,
                    known: String::new(),
                })?;
                // The road's +s direction from a point half a metre on (or back, at a section's end).
                let (a, b) = match at(s + 0.5) {
                    Some(next) => (here, next),
                    None => (at(s - 0.5).unwrap_or(here), here),
                };
                let mut heading = libm::atan2(f64::from(b.y) - f64::from(a.y), f64::from(b.x) - f64::from(a.x));
                if self.net.lane(id).is_some_and(|l| l.direction == Direction::Backward) {
                    heading = wrap_angle(heading + core::f64::consts::PI);
                }
                Ok((f64::from(here.x), f64::from(here.y), heading))
            }
            Some(MapPlace::Point { x, y }) => {
                let (id, proj) = self
                    .net
                    .nearest_lane(xodr::Point::new(x as f32, y as f32, 0.0))
                    .ok_or(MapError::OffMap { file: self.file.clone(), x, y })?;
                let lane = self.net.lane(id).ok_or(MapError::OffMap { file: self.file.clone(), x, y })?;
                let t = lane.center.pose_at(proj.s).heading;
                let mut heading = libm::atan2(f64::from(t.y), f64::from(t.x));
                if lane.direction == Direction::Backward {
                    heading = wrap_angle(heading + core::f64::consts::PI);
                }
                Ok((x, y, heading))
            }
            None => Err(MapError::Incomplete { file: self.file.clone(), place: p.to_string() }),
        }
    }

    /// Points along lane centres from `from` to `to` through the lane graph (about 2 m apart, in the
    /// lanes' directions of travel).
    fn route_between(
        &self,
        from: (f64, f64),
        to: (f64, f64),
        names: (&str, &str),
    ) -> Result<Vec<(f64, f64)>, MapError> {
        let p = |(x, y): (f64, f64)| xodr::Point::new(x as f32, y as f32, 0.0);
        let pts = self.net.route(p(from), p(to)).filter(|pts| pts.len() >= 2).ok_or_else(|| MapError::Unreachable {
            file: self.file.clone(),
            from: names.0.to_owned(),
            to: names.1.to_owned(),
        })?;
        Ok(pts.iter().map(|q| (f64::from(q.x), f64::from(q.y))).collect())
    }

    /// Points along lane centres through the places in order.
    pub fn route(&self, places: &[MapPoint<f64>]) -> Result<Vec<(f64, f64)>, MapError> {
        let mut out: Vec<(f64, f64)> = Vec::new();
        for pair in places.windows(2) {
            let (a, b) = (self.place(&pair[0])?, self.place(&pair[1])?);
            let leg = self.route_between((a.0, a.1), (b.0, b.1), (&pair[0].to_string(), &pair[1].to_string()))?;
            for q in leg {
                if out.last().is_none_or(|l| libm::hypot(q.0 - l.0, q.1 - l.1) > 1e-3) {
                    out.push(q);
                }
            }
        }
        Ok(out)
    }

    /// The junctions the ego's route through `places` passes, in route order, each with its legs
    /// ([`RoadNetworkMap::junction_legs`]). A junction is passed where a stretch of the route (the
    /// middle of two consecutive route points, so never a road's end) lies on a road inside it.
    /// Overlapping connecting roads may hide which one the route drives, but they belong to the
    /// same junction. A junction passed twice is listed twice.
    pub fn route_junctions(&self, places: &[MapPoint<f64>]) -> Result<Vec<RouteJunction>, MapError> {
        let route = self.route(places)?;
        let mut passed: Vec<&str> = Vec::new();
        let mut last: Option<&str> = None;
        for w in route.windows(2) {
            let mid = xodr::Point::new((0.5 * (w[0].0 + w[1].0)) as f32, (0.5 * (w[0].1 + w[1].1)) as f32, 0.0);
            let here = self
                .net
                .nearest_lane(mid)
                .and_then(|(lane, _)| self.net.road_lane(lane))
                .and_then(|at| self.net.road(at.road))
                .and_then(|road| road.junction());
            if let Some(j) = here.filter(|&j| last != Some(j)) {
                passed.push(j);
            }
            last = here;
        }
        Ok(passed.into_iter().map(|id| RouteJunction { id: id.to_owned(), legs: self.junction_legs(id) }).collect())
    }

    /// How many roads meet in the junction with `<junction id>` `id`: the distinct roads outside it
    /// that a driving lane of one of its connecting roads leads from or to (a one-way exit is a leg
    /// too).
    pub fn junction_legs(&self, id: &str) -> usize {
        let road_of = |lane| self.net.road_lane(lane).and_then(|at| self.net.road(at.road));
        let mut legs = std::collections::BTreeSet::new();
        for lane in self.net.lanes().iter().filter(|l| l.kind.is_drivable()) {
            if road_of(lane.id).and_then(|r| r.junction()) != Some(id) {
                continue;
            }
            for road in lane.successors.iter().chain(&lane.predecessors).filter_map(|&n| road_of(n)) {
                if road.junction() != Some(id) {
                    legs.insert(road.od_id());
                }
            }
        }
        legs.len()
    }

    /// The width of the lane nearest a point, metres.
    fn lane_width_near(&self, (x, y): (f64, f64)) -> f64 {
        self.net
            .nearest_lane(xodr::Point::new(x as f32, y as f32, 0.0))
            .and_then(|(id, _)| self.net.lane(id))
            .map_or(3.5, |l| f64::from(l.width))
    }

    /// Every lane, for drawing.
    pub fn drawn_lanes(&self) -> Vec<DrawnLane> {
        self.net
            .lanes()
            .iter()
            .map(|l| DrawnLane {
                centre: l.center.points().iter().map(|p| (f64::from(p.x), f64::from(p.y))).collect(),
                width: f64::from(l.width),
                driving: l.kind.is_drivable(),
            })
            .collect()
    }
}

/// A polyline reference line through `pts`, resampled every [`LINE_STEP`] metres, moved `shift`
/// metres to the right (the right edge of a lane whose centre `pts` follow). `None` for a route
/// shorter than two samples.
pub fn reference_line(pts: &[(f64, f64)], shift: f64) -> Option<Polyline> {
    // Arc length along the route, then samples at equal steps.
    let mut s_at = Vec::with_capacity(pts.len());
    let mut s = 0.0;
    for (i, p) in pts.iter().enumerate() {
        if i > 0 {
            s += libm::hypot(p.0 - pts[i - 1].0, p.1 - pts[i - 1].1);
        }
        s_at.push(s);
    }
    let total = s;
    if pts.len() < 2 || total < 2.0 * LINE_STEP {
        return None;
    }
    let n = libm::ceil(total / LINE_STEP) as usize;
    let mut samples = Vec::with_capacity(n + 1);
    let mut j = 0;
    for k in 0..=n {
        let s = total * k as f64 / n as f64;
        while j + 2 < pts.len() && s_at[j + 1] < s {
            j += 1;
        }
        let span = (s_at[j + 1] - s_at[j]).max(1e-12);
        let t = ((s - s_at[j]) / span).clamp(0.0, 1.0);
        samples.push((pts[j].0 + (pts[j + 1].0 - pts[j].0) * t, pts[j].1 + (pts[j + 1].1 - pts[j].1) * t));
    }
    // Headings by central differences over two steps, so a kink where two lanes join turns smoothly.
    let heading = |i: usize| {
        let a = samples[i.saturating_sub(2)];
        let b = samples[(i + 2).min(samples.len() - 1)];
        libm::atan2(b.1 - a.1, b.0 - a.0)
    };
    let mut line: Vec<LinePoint> = Vec::with_capacity(samples.len());
    for (i, &(x, y)) in samples.iter().enumerate() {
        let h = heading(i);
        let (px, py) = (x + libm::sin(h) * shift, y - libm::cos(h) * shift);
        let s = line.last().map_or(0.0, |l: &LinePoint| l.s + libm::hypot(px - l.x, py - l.y).max(1e-6));
        line.push(LinePoint { x: px, y: py, heading: h, s });
    }
    // Unwrap headings so consecutive samples differ by less than half a turn.
    for i in 1..line.len() {
        let prev = line[i - 1].heading;
        line[i].heading = prev + wrap_angle(line[i].heading - prev);
    }
    Polyline::new(line)
}

/// A scenario's world on a map, ready to run: the ego's road along its route, the actors with their
/// map places and routes lowered to poses and waypoints, and the lanes to draw.
#[derive(Debug, Clone)]
pub struct MapWorld {
    /// The map.
    pub map: RoadNetworkMap,
    /// The ego's road: one lane along the route.
    pub road: RoadFrame,
    /// The actors, with `start.map` turned into x/y/heading and `follow_route` into
    /// `follow_waypoints`.
    pub actors: Vec<Actor<f64>>,
}

/// Builds the map world of a variant, `Ok(None)` when its world has no map.
pub fn build(variant: &Variant) -> Result<Option<MapWorld>, MapError> {
    let Some(spec) = &variant.scenario.world.map else { return Ok(None) };
    let source = variant.map_source.as_ref().ok_or_else(|| MapError::NotLoaded { file: spec.file.clone() })?;
    let map = RoadNetworkMap::load(&source.file, &source.text)?;
    build_on(map, spec, &variant.scenario.actors).map(Some)
}

/// The world of a map scenario on its map, already loaded (the same map as [`build`] would read):
/// the ego's route as a one-lane road, and every actor placed and routed on the map.
pub fn build_on(map: RoadNetworkMap, spec: &Map<f64>, actors: &[Actor<f64>]) -> Result<MapWorld, MapError> {
    let route = map.route(&spec.route)?;
    let width = map.lane_width_near(route[0]);
    let line = reference_line(&route, 0.5 * width).ok_or_else(|| MapError::Unreachable {
        file: map.file.clone(),
        from: spec.route.first().map_or_else(String::new, ToString::to_string),
        to: format!(
            "{} (the route is shorter than 2 m)",
            spec.route.last().map_or_else(String::new, ToString::to_string)
        ),
    })?;
    let road = RoadFrame::polyline(line, 1, width, spec.speed_limit);
    let actors = actors.iter().map(|a| lower_actor(&map, a)).collect::<Result<Vec<_>, _>>()?;
    Ok(MapWorld { map, road, actors })
}

/// An actor with its map start as a pose and its routes as waypoints from where it starts.
fn lower_actor(map: &RoadNetworkMap, a: &Actor<f64>) -> Result<Actor<f64>, MapError> {
    let mut out = a.clone();
    let start = match &a.start.map {
        Some(p) => {
            let (x, y, h) = map.place(p)?;
            let mut st: Start<f64> = a.start.clone();
            st.map = None;
            (st.lane, st.s, st.offset) = (None, None, None);
            (st.x, st.y, st.heading) = (Some(x), Some(y), Some(h.to_degrees()));
            out.start = st;
            Some((p.clone(), (x, y)))
        }
        None => None,
    };
    for step in &mut out.behaviour {
        if let Manoeuvre::FollowRoute { to, speed } = &step.action {
            let from = match &start {
                Some((p, _)) => p.clone(),
                None => {
                    let (x, y) = (a.start.x.unwrap_or(0.0), a.start.y.unwrap_or(0.0));
                    MapPoint { road: None, lane: None, s: None, offset: None, x: Some(x), y: Some(y) }
                }
            };
            let points = map.route(&[from, to.clone()])?;
            step.action = Manoeuvre::FollowWaypoints {
                points: points.into_iter().map(|(x, y)| Point { x, y }).collect(),
                speed: *speed,
                relative: false,
            };
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_line_follows_a_quarter_turn_shifted_to_the_right_edge() {
        // A left quarter turn of radius 20 m around (0, 20), from (0, 0) heading +x.
        let pts: Vec<(f64, f64)> = (0..=40)
            .map(|k| {
                let a = 0.5 * core::f64::consts::PI * f64::from(k) / 40.0;
                (20.0 * libm::sin(a), 20.0 - 20.0 * libm::cos(a))
            })
            .collect();
        let line = reference_line(&pts, 1.75).expect("long enough");
        // The right edge of a lane turning left lies on the outer radius.
        for p in line.points() {
            let r = libm::hypot(p.x, p.y - 20.0);
            assert!((r - 21.75).abs() < 0.05, "r = {r} at s = {}", p.s);
        }
        let first = line.points()[0];
        assert!(first.heading.abs() < 0.1 && (first.y + 1.75).abs() < 0.1, "{first:?}");
        assert!(reference_line(&[(0.0, 0.0), (1.0, 0.0)], 1.0).is_none());
    }
}
