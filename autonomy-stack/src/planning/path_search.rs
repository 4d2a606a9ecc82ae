//! The open-area planner for mobile robots: A* on an occupancy grid built from the mapped obstacles
//! and the static tracks (inflated by the robot's half width and a margin), string-pulled into a
//! few straight segments, then driven with the same IDM speed planning as on roads.

use super::behaviour::{constrained_accel, Constraint};
use super::{Behaviour, Plan, PlanInput};
use crate::geometry::{point_box_distance, wrap_angle};
use crate::interface::{Mission, MissionGoal, ObjectClass, OrientedBox};
use crate::tracking::Track;
use core::cmp::Reverse;
use core::f64::consts::{FRAC_PI_2, SQRT_2};
use std::collections::BinaryHeap;

/// Speed limit when the mission has no area map, m/s.
const DEFAULT_SPEED_LIMIT: f64 = 5.0;
/// Margin around the mission's points when there is no area map, metres.
const FREE_MARGIN: f64 = 30.0;
/// A roomier path is preferred unless longer than this multiple of the tightest path (plus slack).
const DETOUR_FACTOR: f64 = 1.5;
/// How far beyond the goal its virtual wall stands, metres.
const GOAL_WALL_BEYOND: f64 = 0.2;
/// Deceleration of the arrival profile at the goal, m/s².
const ARRIVAL_DECEL: f64 = 0.6;
/// Share of `max_lateral_accel` a robot may use rounding a corner (it carries loads, and noisy
/// localisation adds steering corrections on top of the planned arc).
const AREA_LATERAL_SHARE: f64 = 0.5;
/// Look-ahead time of the controller's path tracking, seconds.
const LOOKAHEAD_TIME: f64 = 0.8;
/// The lateral-acceleration cap never asks for less than this speed, m/s.
const MIN_CORNER_SPEED: f64 = 0.3;
/// Slowest approach speed before the goal is reached, m/s.
const ARRIVAL_CREEP: f64 = 0.1;
/// Gain of the arrival speed tracking, 1/s.
const ARRIVAL_GAIN: f64 = 1.5;
/// Berth of the tightest search beyond the robot's half width, metres.
const TIGHT_BERTH: f64 = 0.05;
/// Radius around the goal within which only the tightest inflation applies, metres.
const GOAL_ZONE: f64 = 2.5;
/// Metres by which a new path must be shorter to replace a still-free one.
const PATH_STICK: f64 = 0.3;
/// Heading difference between the first legs of two paths that makes them different ways, radians.
const PATH_FLIP: f64 = 1.0;
/// Largest extra cost factor of a cell with no clearance in a search with a soft clearance.
const SOFT_WEIGHT: f64 = 2.0;
/// Metres of detour always accepted for a roomier path.
const DETOUR_SLACK: f64 = 0.5;
/// An object moving against the path faster than this is oncoming, m/s.
const ONCOMING_SPEED: f64 = 0.2;
/// Free distance left between the ego's front and the near end of an oncoming object's corridor, so
/// the ego can still step aside, metres.
const ONCOMING_GAP: f64 = 2.0;
/// Extra half width of an oncoming object's corridor (the clearance kept when passing it), metres.
const ONCOMING_CLEARANCE: f64 = 0.2;
/// Metres of extra path accepted to step aside for an oncoming object.
const ONCOMING_DETOUR: f64 = 1.0;
/// Lateral clearance beyond both half widths at which the path passes an oncoming object without
/// stopping for it, metres.
const ONCOMING_PASS: f64 = 0.1;

/// Metres of extra path accepted to pass a standing person with `person_clearance`: stepping
/// aside within the aisle, never a detour around the rack block (people move on; the robot waits).
const PERSON_DETOUR: f64 = 3.0;
/// Extra clearance planned around a person beyond `person_clearance`, for the grid's cells (a
/// free cell's centre is outside the inflation, a point in it up to half a diagonal closer), metres.
const PERSON_GRID_SLACK: f64 = 0.15;
/// A person closer than this to the robot's side (edge to edge) is passed at the passing speed, metres.
const PERSON_SLOW_ZONE: f64 = 1.0;
/// Deceleration of the approach to a person, m/s².
const APPROACH_DECEL: f64 = 1.0;
/// How far beyond the robot's side hidden floor counts as a blind spot, metres: what a person
/// walking at 1.6 m/s (ISO 13855's approach speed) covers in a little over a second.
const BLIND_REACH: f64 = 2.0;
/// Delay from a person stepping into view to the robot braking (detection latency, track
/// confirmation, one planning cycle), seconds.
const BLIND_REACTION: f64 = 0.3;
/// Share of the robot's maximum deceleration counted on when stopping short of a blind spot.
const BLIND_BRAKING_SHARE: f64 = 0.8;
/// Hardest braking a blind spot asks for, m/s²: the slow-down is planned from afar at
/// [`APPROACH_DECEL`], and a spot that comes into range late is not worth an emergency stop.
const BLIND_DECEL: f64 = 1.5;
/// Gain with which the robot's speed follows a blind spot's slow-down profile, 1/s.
const BLIND_GAIN: f64 = 2.0;
/// Rate at which a blind spot's braking is eased in and out, m/s³ (the controller allows up to
/// `control.jerk_limit`; comfort criteria ask for less).
const BLIND_JERK: f64 = 3.0;
/// A turn of the path, radians, within [`BLIND_TURN_ZONE`] metres of which blind spots are not
/// looked for.
const BLIND_TURN: f64 = 0.5;
const BLIND_TURN_ZONE: f64 = 1.5;

/// Whether a confirmed track is a person.
fn is_person(t: &Track) -> bool {
    t.confirmed && t.class == ObjectClass::Pedestrian
}

/// Length of a polyline, metres.
fn path_length(path: &[(f64, f64)]) -> f64 {
    path.windows(2).map(|w| crate::geometry::norm(w[1].0 - w[0].0, w[1].1 - w[0].1)).sum()
}
/// Largest number of grid cells (the resolution coarsens beyond it).
const MAX_CELLS: f64 = 160_000.0;
/// Distance at which an intermediate route waypoint counts as passed, metres.
const WAYPOINT_REACHED: f64 = 2.0;

/// An occupancy grid over a rectangle.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    min_x: f64,
    min_y: f64,
    res: f64,
    nx: usize,
    ny: usize,
    blocked: Vec<bool>,
    /// Distance from each cell centre to the nearest rasterised box (within `soft` of it), metres.
    clear: Vec<f64>,
    /// Clearance below which a free cell costs extra in the search (0: no preference), metres.
    soft: f64,
}

impl Grid {
    /// An empty grid covering [min_x, max_x] x [min_y, max_y] with cells of `res` metres.
    pub fn new(min_x: f64, min_y: f64, max_x: f64, max_y: f64, res: f64) -> Self {
        let res = res.max(libm::sqrt((max_x - min_x) * (max_y - min_y) / MAX_CELLS));
        let nx = (libm::ceil((max_x - min_x) / res) as usize).max(1);
        let ny = (libm::ceil((max_y - min_y) / res) as usize).max(1);
        Self {
            min_x,
            min_y,
            res,
            nx,
            ny,
            blocked: vec![false; nx * ny],
            clear: vec![f64::INFINITY; nx * ny],
            soft: 0.0,
        }
    }

    /// Makes the search prefer cells at least `soft` metres from every box rasterised afterwards,
    /// and keeps string pulling from cutting closer to them than the searched cells went.
    pub fn with_soft_clearance(mut self, soft: f64) -> Self {
        self.soft = soft;
        self
    }

    /// Extra cost factor of entering cell `i` (0 when clear by `soft`, up to `SOFT_WEIGHT`).
    fn penalty(&self, i: usize) -> f64 {
        if self.soft <= 0.0 {
            return 0.0;
        }
        SOFT_WEIGHT * (self.soft - self.clear[i]).max(0.0) / self.soft
    }

    /// The cell containing (x, y), clamped into the grid.
    pub fn cell(&self, x: f64, y: f64) -> usize {
        let cx = libm::floor((x - self.min_x) / self.res).clamp(0.0, (self.nx - 1) as f64) as usize;
        let cy = libm::floor((y - self.min_y) / self.res).clamp(0.0, (self.ny - 1) as f64) as usize;
        cy * self.nx + cx
    }

    /// Centre of cell `i`.
    pub fn centre(&self, i: usize) -> (f64, f64) {
        let (cx, cy) = (i % self.nx, i / self.nx);
        (self.min_x + (cx as f64 + 0.5) * self.res, self.min_y + (cy as f64 + 0.5) * self.res)
    }

    /// Marks every cell whose centre lies within `inflate` of the box.
    pub fn rasterise(&mut self, b: &OrientedBox, inflate: f64) {
        self.rasterise_near(b, inflate, None);
    }

    /// Like [`Grid::rasterise`], but within `zone.1` metres of the point `zone.0` only `zone.2` of
    /// inflation applies (the final approach into a tight bay).
    pub fn rasterise_near(&mut self, b: &OrientedBox, inflate: f64, zone: Option<((f64, f64), f64, f64)>) {
        // The box's axis-aligned extent plus the reach: a 25 m rack along x covers a 26 x 2.4 m
        // patch, not the 26 x 26 m square around its half diagonal.
        let reach = inflate.max(self.soft);
        let rx = crate::geometry::projected_half_extent(b.length, b.width, b.heading, 0.0) + reach;
        let ry = crate::geometry::projected_half_extent(b.length, b.width, b.heading, FRAC_PI_2) + reach;
        let lo = self.cell(b.x - rx, b.y - ry);
        let hi = self.cell(b.x + rx, b.y + ry);
        for cy in (lo / self.nx)..=(hi / self.nx) {
            for cx in (lo % self.nx)..=(hi % self.nx) {
                let i = cy * self.nx + cx;
                let (x, y) = self.centre(i);
                let near = zone.is_some_and(|((zx, zy), radius, _)| crate::geometry::norm(x - zx, y - zy) < radius);
                let inflate = match zone {
                    Some((_, _, tight)) if near => tight,
                    _ => inflate,
                };
                let d = point_box_distance(b, x, y);
                self.clear[i] = self.clear[i].min(d);
                if d <= inflate {
                    self.blocked[i] = true;
                }
            }
        }
    }

    /// Whether cell `i` is blocked.
    pub fn is_blocked(&self, i: usize) -> bool {
        self.blocked[i]
    }

    /// Whether the straight segment between two points crosses only free cells (ignoring the part
    /// within `skip` metres of `a`, where the robot already is).
    pub fn segment_free(&self, a: (f64, f64), b: (f64, f64), skip: f64) -> bool {
        let len = crate::geometry::norm(b.0 - a.0, b.1 - a.1);
        let n = libm::ceil(len / (0.5 * self.res)) as usize;
        (0..=n).all(|k| {
            let u = if n == 0 { 0.0 } else { k as f64 / n as f64 };
            u * len < skip || !self.blocked[self.cell(a.0 + (b.0 - a.0) * u, a.1 + (b.1 - a.1) * u)]
        })
    }

    /// The free cell nearest to cell `i` (itself when free), searching outwards ring by ring.
    fn nearest_free(&self, i: usize) -> Option<usize> {
        let (cx, cy) = ((i % self.nx) as i64, (i / self.nx) as i64);
        let max_ring = self.nx.max(self.ny) as i64;
        for ring in 0..max_ring {
            let mut best: Option<(i64, usize)> = None;
            for dy in -ring..=ring {
                for dx in -ring..=ring {
                    if dx.abs() != ring && dy.abs() != ring {
                        continue;
                    }
                    let (x, y) = (cx + dx, cy + dy);
                    if x < 0 || y < 0 || x >= self.nx as i64 || y >= self.ny as i64 {
                        continue;
                    }
                    let j = y as usize * self.nx + x as usize;
                    let d = dx * dx + dy * dy;
                    if !self.blocked[j] && best.is_none_or(|(bd, _)| d < bd) {
                        best = Some((d, j));
                    }
                }
            }
            if let Some((_, j)) = best {
                return Some(j);
            }
        }
        None
    }

    /// A* from `start` to `goal` (8-connected, no corner cutting); returns the cells in order.
    pub fn search(&self, start: (f64, f64), goal: (f64, f64)) -> Option<Vec<(f64, f64)>> {
        let s = self.cell(start.0, start.1);
        let g = self.nearest_free(self.cell(goal.0, goal.1))?;
        let n = self.nx * self.ny;
        let mut cost = vec![f64::INFINITY; n];
        let mut parent = vec![usize::MAX; n];
        let mut closed = vec![false; n];
        let mut heap = BinaryHeap::new();
        let (gx, gy) = ((g % self.nx) as f64, (g / self.nx) as f64);
        let heuristic = |i: usize| {
            let dx = libm::fabs((i % self.nx) as f64 - gx);
            let dy = libm::fabs((i / self.nx) as f64 - gy);
            dx.max(dy) + (SQRT_2 - 1.0) * dx.min(dy)
        };
        cost[s] = 0.0;
        heap.push(Reverse((heuristic(s).to_bits(), s)));
        while let Some(Reverse((_, i))) = heap.pop() {
            if closed[i] {
                continue;
            }
            closed[i] = true;
            if i == g {
                break;
            }
            let (cx, cy) = ((i % self.nx) as i64, (i / self.nx) as i64);
            for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)] {
                let (x, y) = (cx + dx, cy + dy);
                if x < 0 || y < 0 || x >= self.nx as i64 || y >= self.ny as i64 {
                    continue;
                }
                let j = y as usize * self.nx + x as usize;
                // The start may sit inside an inflated obstacle: let the robot leave it.
                let start_zone = i == s;
                if closed[j] || (self.blocked[j] && !(start_zone && self.blocked[s])) {
                    continue;
                }
                let diagonal = dx != 0 && dy != 0;
                if diagonal
                    && (self.blocked[cy as usize * self.nx + x as usize]
                        || self.blocked[y as usize * self.nx + cx as usize])
                    && !start_zone
                {
                    continue;
                }
                let step = if diagonal { SQRT_2 } else { 1.0 };
                let c = cost[i] + step * (1.0 + self.penalty(j));
                if c < cost[j] {
                    cost[j] = c;
                    parent[j] = i;
                    heap.push(Reverse(((c + heuristic(j)).to_bits(), j)));
                }
            }
        }
        if !closed[g] {
            return None;
        }
        let mut cells = vec![g];
        let mut i = g;
        while i != s {
            i = parent[i];
            cells.push(i);
        }
        cells.reverse();
        let mut points: Vec<(f64, f64)> = cells.iter().map(|&c| self.centre(c)).collect();
        points[0] = start;
        if g == self.cell(goal.0, goal.1) {
            if let Some(last) = points.last_mut() {
                *last = goal;
            }
        }
        Some(self.string_pull(&points))
    }

    /// Whether the straight segment between two points keeps at least `clear` metres from every box
    /// (up to one cell), ignoring the part within `skip` metres of `a`.
    fn segment_keeps(&self, a: (f64, f64), b: (f64, f64), skip: f64, clear: f64) -> bool {
        let len = crate::geometry::norm(b.0 - a.0, b.1 - a.1);
        let n = libm::ceil(len / (0.5 * self.res)) as usize;
        (0..=n).all(|k| {
            let u = if n == 0 { 0.0 } else { k as f64 / n as f64 };
            u * len < skip || self.clear[self.cell(a.0 + (b.0 - a.0) * u, a.1 + (b.1 - a.1) * u)] >= clear - self.res
        })
    }

    /// Keeps only the points needed for straight free segments between them (with a soft clearance,
    /// segments that stay as far from the boxes as the points they replace).
    fn string_pull(&self, points: &[(f64, f64)]) -> Vec<(f64, f64)> {
        let clear: Vec<f64> = points.iter().map(|p| self.clear[self.cell(p.0, p.1)].min(self.soft)).collect();
        let mut out = vec![points[0]];
        let mut anchor = 0;
        while anchor + 1 < points.len() {
            let mut next = anchor + 1;
            let skip = if anchor == 0 { 1.0 } else { 0.0 };
            for j in (anchor + 2..points.len()).rev() {
                let keeps = self.soft <= 0.0 || {
                    let least = clear[anchor + 1..j].iter().copied().fold(f64::INFINITY, f64::min);
                    self.segment_keeps(points[anchor], points[j], skip, least)
                };
                if keeps && self.segment_free(points[anchor], points[j], skip) {
                    next = j;
                    break;
                }
            }
            out.push(points[next]);
            anchor = next;
        }
        out
    }
}

/// The final goal of an open-area mission.
#[derive(Debug, Clone, Copy, PartialEq)]
enum AreaGoal {
    Point { x: f64, y: f64, tolerance: f64 },
    Region { min_x: f64, min_y: f64, max_x: f64, max_y: f64 },
}

impl AreaGoal {
    fn target(&self) -> (f64, f64) {
        match *self {
            AreaGoal::Point { x, y, .. } => (x, y),
            AreaGoal::Region { min_x, min_y, max_x, max_y } => (0.5 * (min_x + max_x), 0.5 * (min_y + max_y)),
        }
    }

    fn reached(&self, x: f64, y: f64) -> bool {
        match *self {
            AreaGoal::Point { x: gx, y: gy, tolerance } => crate::geometry::norm(x - gx, y - gy) <= tolerance,
            AreaGoal::Region { min_x, min_y, max_x, max_y } => x >= min_x && x <= max_x && y >= min_y && y <= max_y,
        }
    }
}

/// The open-area planner's state across ticks.
#[derive(Debug, Clone)]
pub struct AreaPlanner {
    bounds: Option<(f64, f64, f64, f64)>,
    map_obstacles: Vec<OrientedBox>,
    speed_limit: f64,
    route: Vec<(f64, f64)>,
    goal: AreaGoal,
    waypoint: usize,
    path: Vec<(f64, f64)>,
    last_search: Option<u64>,
    statics: Vec<OrientedBox>,
    /// Standing people, each enlarged by the clearance to keep from them.
    people: Vec<OrientedBox>,
    constraints: Vec<Constraint>,
    /// The mapped obstacles and the area's walls rasterised once per inflation and goal; every
    /// search starts from a copy and adds only what the sensors found.
    layers: Vec<MapLayer>,
    /// The mapped racks and walls at their true size (no inflation): what hides floor from the
    /// sensors. Built on first use.
    occluders: Option<Grid>,
    /// The point on the path beside the nearest blind spot found, held until the robot has passed
    /// it (so the slow-down does not flicker as the sampled spot moves by a cell).
    blind_spot: Option<(f64, f64)>,
    /// The acceleration a blind spot's slow-down commanded last tick, while it is in control.
    blind_braking: Option<f64>,
    /// The acceleration planned last tick, m/s².
    last_accel: f64,
}

/// A grid holding only what the map knows, for one inflation and one goal zone.
#[derive(Debug, Clone)]
struct MapLayer {
    inflation: f64,
    goal: (f64, f64),
    grid: Grid,
}

/// Thickness of the virtual walls just outside an area's bounds, metres.
const WALL_THICKNESS: f64 = 1.0;

/// The area's bounds as four walls just outside it: the robot's footprint must stay inside the
/// drivable area, so the search keeps the same berth from its edges as from a rack.
fn area_walls(min_x: f64, min_y: f64, max_x: f64, max_y: f64) -> [OrientedBox; 4] {
    let (w, cx, cy) = (WALL_THICKNESS, 0.5 * (min_x + max_x), 0.5 * (min_y + max_y));
    let (len_x, len_y) = (max_x - min_x + 2.0 * w, max_y - min_y + 2.0 * w);
    [
        OrientedBox { x: cx, y: min_y - 0.5 * w, heading: 0.0, length: len_x, width: w },
        OrientedBox { x: cx, y: max_y + 0.5 * w, heading: 0.0, length: len_x, width: w },
        OrientedBox { x: min_x - 0.5 * w, y: cy, heading: 0.0, length: w, width: len_y },
        OrientedBox { x: max_x + 0.5 * w, y: cy, heading: 0.0, length: w, width: len_y },
    ]
}

impl AreaPlanner {
    /// A planner for `mission` (its area, route and goal).
    pub fn new(mission: &Mission) -> Self {
        let goal = match mission.goal {
            MissionGoal::Point { x, y, tolerance } => AreaGoal::Point { x, y, tolerance },
            MissionGoal::Region { min_x, min_y, max_x, max_y } => AreaGoal::Region { min_x, min_y, max_x, max_y },
            MissionGoal::RoadDistance { s } => AreaGoal::Point { x: s, y: 0.0, tolerance: 1.0 },
        };
        let mut route = mission.route.clone();
        route.push(goal.target());
        Self {
            bounds: mission.area.as_ref().map(|a| (a.min_x, a.min_y, a.max_x, a.max_y)),
            map_obstacles: mission.area.as_ref().map_or_else(Vec::new, |a| {
                let mut boxes = a.obstacles.clone();
                boxes.extend(area_walls(a.min_x, a.min_y, a.max_x, a.max_y));
                boxes
            }),
            speed_limit: mission.area.as_ref().map_or(DEFAULT_SPEED_LIMIT, |a| a.speed_limit),
            route,
            goal,
            waypoint: 0,
            path: Vec::new(),
            last_search: None,
            statics: Vec::new(),
            people: Vec::new(),
            constraints: Vec::new(),
            layers: Vec::new(),
            occluders: None,
            blind_spot: None,
            blind_braking: None,
            last_accel: 0.0,
        }
    }

    /// The current searched path (world frame).
    pub fn path(&self) -> &[(f64, f64)] {
        &self.path
    }

    /// Plans one tick in the open area.
    pub fn plan(&mut self, input: &PlanInput<'_>) -> Plan {
        let cfg = input.config;
        let ego = input.ego;
        let (ex, ey) = (ego.x, ego.y);
        let hw = 0.5 * input.vehicle.width;
        let hl = 0.5 * input.vehicle.length;
        if self.goal.reached(ex, ey) {
            return Plan::stop(ego, Behaviour::Arrived, cfg.idm_decel);
        }
        let last = self.route.len() - 1;
        while self.waypoint < last {
            let (wx, wy) = self.route[self.waypoint];
            if crate::geometry::norm(wx - ex, wy - ey) > WAYPOINT_REACHED {
                break;
            }
            self.waypoint += 1;
            self.path.clear();
        }
        let target = self.route[self.waypoint];
        let final_leg = self.waypoint == last;

        self.statics.clear();
        self.statics
            .extend(input.tracks.iter().filter(|t| t.confirmed && t.is_static() && !is_person(t)).map(|t| t.footprint));
        // A standing person is not an obstacle to squeeze past at the tightest berth: the path
        // keeps `person_clearance` from them, or the robot waits (see the constraints below).
        let grow = 2.0 * (cfg.person_clearance + PERSON_GRID_SLACK - TIGHT_BERTH).max(0.0);
        self.people.clear();
        self.people.extend(input.tracks.iter().filter(|t| is_person(t) && t.is_static()).map(|t| OrientedBox {
            length: t.footprint.length + grow,
            width: t.footprint.width + grow,
            ..t.standing_box()
        }));
        let corridors = self.oncoming_corridors(input, ex, ey, hl);
        self.statics.extend(corridors.iter().copied());
        let due = self.last_search.is_none_or(|t| input.tick >= t + u64::from(cfg.replan_ticks));
        let blocked = self.path_blocked(ex, ey, hw + 0.5 * cfg.lateral_margin);
        if self.path.is_empty() || due || blocked {
            // A still-free path is kept unless the new one is clearly shorter: between two ways of
            // about the same length (above or below a rack block) the search flips with the
            // robot's position and the robot wavered at the aisle entry into the rack end.
            // Only among the mapped obstacles: around a person or pallet the best way changes for real.
            let tracked = self.statics.len() - corridors.len() + self.people.len();
            let keep = !blocked && tracked == 0 && !self.path_blocked(ex, ey, hw + 2.0 * cfg.lateral_margin);
            let previous = if keep { self.path.clone() } else { Vec::new() };
            let aside_count = corridors.len() + self.people.len();
            let people = core::mem::take(&mut self.people);
            self.statics.extend(people.iter().copied());
            self.search(input, (ex, ey), target);
            if aside_count > 0 {
                // Step aside for an oncoming object or a standing person only when that keeps to
                // the way the robot would take anyway; else plan as if they were not there and
                // yield (stop short of them).
                let aside = core::mem::take(&mut self.path);
                self.statics.truncate(self.statics.len() - aside_count);
                self.search(input, (ex, ey), target);
                let direct = path_length(&self.path);
                let allowed = if people.is_empty() { ONCOMING_DETOUR } else { PERSON_DETOUR };
                let same_end = match (aside.last(), self.path.last()) {
                    (Some(a), Some(b)) => crate::geometry::norm(a.0 - b.0, a.1 - b.1) < cfg.grid_resolution,
                    _ => false,
                };
                if aside.len() >= 2 && same_end && path_length(&aside) <= direct + allowed {
                    self.path = aside;
                }
                self.statics.extend(corridors.iter().copied());
            }
            self.people = people;
            if previous.len() >= 2 && self.path.len() >= 2 {
                let seg = closest_segment(&previous, ex, ey);
                let (nx, ny) = previous[seg + 1];
                let rest = crate::geometry::norm(nx - ex, ny - ey) + path_length(&previous[seg + 1..]);
                let flip = libm::fabs(wrap_angle(first_heading(&previous, ex, ey) - first_heading(&self.path, ex, ey)));
                if flip > PATH_FLIP && rest <= path_length(&self.path) + PATH_STICK {
                    self.path = previous;
                }
            }
        }
        if self.path.len() < 2 {
            return Plan::stop(ego, Behaviour::NoPath, cfg.idm_decel);
        }

        // The part of the path ahead of the robot, starting at the robot.
        let seg = closest_segment(&self.path, ex, ey);
        let mut ahead = Vec::with_capacity(self.path.len() - seg + 1);
        ahead.push((ex, ey));
        ahead.extend_from_slice(&self.path[seg + 1..]);

        let v = ego.speed.max(0.0);
        let mut v_des = (self.speed_limit * cfg.speed_limit_factor).min(input.speed_cap).max(0.0);
        // Slow for corners ahead and for a heading far from the path's.
        let b = 0.5 * cfg.idm_decel;
        let a_lat = AREA_LATERAL_SHARE * cfg.max_lateral_accel;
        let lookahead = crate::control::lookahead_floor(input.vehicle.wheelbase);
        let mut along = 0.0;
        for i in 1..ahead.len() {
            along += crate::geometry::norm(ahead[i].0 - ahead[i - 1].0, ahead[i].1 - ahead[i - 1].1);
            if i + 1 < ahead.len() {
                let h1 = libm::atan2(ahead[i].1 - ahead[i - 1].1, ahead[i].0 - ahead[i - 1].0);
                let h2 = libm::atan2(ahead[i + 1].1 - ahead[i].1, ahead[i + 1].0 - ahead[i].0);
                let turn = libm::fabs(wrap_angle(h2 - h1)).min(FRAC_PI_2);
                // Pure pursuit rounds a corner over about one look-ahead: keep the lateral
                // acceleration of that arc within a comfortable share of the limit.
                let curvature = turn / lookahead.max(0.1);
                let v_lateral = libm::sqrt(a_lat / curvature.max(1e-6));
                let v_corner = (v_des * (1.0 - 0.85 * turn / FRAC_PI_2)).min(v_lateral);
                v_des = v_des.min(libm::sqrt(v_corner * v_corner + 2.0 * b * along));
            }
        }
        let path_length = along;
        // The arc the controller is about to steer onto (pure pursuit's, towards the point one
        // look-ahead along the path): slow down so that its lateral acceleration stays comfortable,
        // whether the curvature comes from a corner or from a localisation error being corrected.
        let reach = (LOOKAHEAD_TIME * v).max(lookahead);
        if let Some((tx, ty)) = crate::control::lookahead_point(&ahead, ex, ey, reach) {
            let dist = crate::geometry::norm(tx - ex, ty - ey).max(1e-3);
            let alpha = wrap_angle(libm::atan2(ty - ey, tx - ex) - ego.heading);
            let curvature = libm::fabs(2.0 * libm::sin(alpha) / dist);
            v_des = v_des.min(libm::sqrt(a_lat / curvature.max(1e-6)).max(MIN_CORNER_SPEED));
        }
        let first = ahead[1];
        let heading_error = libm::fabs(wrap_angle(libm::atan2(first.1 - ey, first.0 - ex) - ego.heading));
        v_des = v_des.min(self.speed_limit * cfg.speed_limit_factor * libm::cos(heading_error.min(1.35)).max(0.2));
        v_des = v_des.min(self.people_speed(input, &ahead, hw, hl));
        let v_blind = self.blind_spot_speed(input, &ahead, v_des, hw, hl);

        self.constraints.clear();
        if final_leg {
            // The wall sits a little beyond the goal: the IDM's firm-stop slack then ends on it.
            self.constraints.push(Constraint {
                rear: path_length + hl + GOAL_WALL_BEYOND,
                speed: 0.0,
                min_gap: 0.0,
                track: None,
                crossing: false,
            });
        }
        let mut arriving = false;
        if final_leg {
            // Arrive on a gentle kinematic profile, creeping the last centimetres so the robot
            // stops on the goal rather than a stand-off short of it.
            let b_stop = ARRIVAL_DECEL.min(0.5 * cfg.idm_decel);
            let v_arrive = libm::sqrt(2.0 * b_stop * path_length).max(ARRIVAL_CREEP.min(v_des));
            arriving = v_arrive < v_des;
            v_des = v_des.min(v_arrive);
        }
        for t in input.tracks.iter().filter(|t| t.confirmed && (!t.is_static() || is_person(t))) {
            let (tx, ty) = t.position();
            if let Some((s, lateral, heading)) = project(&ahead, tx, ty) {
                let (vx, vy) = t.velocity();
                let half = crate::geometry::projected_half_extent(t.length, t.width, t.heading, heading + FRAC_PI_2);
                let along_speed = vx * libm::cos(heading) + vy * libm::sin(heading);
                // An oncoming object the path already steps aside from is passed, not stopped for;
                // a person only with their clearance, standing or walking.
                let oncoming = along_speed < -ONCOMING_SPEED;
                let clear = if is_person(t) {
                    cfg.person_clearance.max(cfg.lateral_margin)
                } else if oncoming {
                    ONCOMING_PASS
                } else {
                    cfg.lateral_margin
                };
                if s > 0.0 && lateral < hw + half + clear {
                    let half_len = crate::geometry::projected_half_extent(t.length, t.width, t.heading, heading);
                    self.constraints.push(Constraint {
                        rear: s - half_len,
                        speed: along_speed.max(0.0),
                        min_gap: cfg.stop_distance,
                        track: Some(t.id),
                        crossing: false,
                    });
                }
            }
        }
        let mut accel = constrained_accel(cfg, v, v_des, hl, 0.0, &self.constraints);
        // A blind spot asks for an unhurried slow-down, never for hard braking (nothing is there
        // yet): its speed is tracked gently and eased in and out at a comfortable jerk.
        let slowing = if v_blind > cfg.blind_spot_speed { APPROACH_DECEL } else { 0.0 };
        let blind = Some((BLIND_GAIN * (v_blind - v) - slowing).max(-BLIND_DECEL)).filter(|a| *a < accel);
        if blind.is_some() || self.blind_braking.is_some() {
            let previous = self.blind_braking.unwrap_or(self.last_accel);
            let step = BLIND_JERK * input.period;
            let eased = blind.unwrap_or(accel).clamp(previous - step, previous + step);
            self.blind_braking = (eased < accel).then_some(eased);
            accel = accel.min(eased);
        }
        if arriving {
            // Track the arrival profile (the free-road IDM term alone brakes late for it).
            accel = accel.min(ARRIVAL_GAIN * (v_des - v)).max(-cfg.idm_decel);
        }
        if final_leg && path_length < GOAL_ZONE && self.constraints.len() == 1 {
            // The final approach with nothing moving near: arriving is always gentle.
            accel = accel.max(-ARRIVAL_DECEL.max(0.35 * cfg.idm_decel));
        }
        // What the vehicle can do (a firm stop's IDM term may ask for far more).
        self.last_accel = accel.clamp(-input.vehicle.max_decel, input.vehicle.max_accel);
        Plan {
            path: ahead,
            accel,
            speed: (v + accel * input.period).max(0.0),
            behaviour: Behaviour::FollowPath,
            target_lane: None,
            collision_free: true,
        }
    }

    /// The stretch of floor each oncoming object ahead will sweep before it meets the ego (from its
    /// rear to a little short of the ego's front), widened by a passing clearance: blocked in the
    /// search so that the path steps aside to give it room.
    fn oncoming_corridors(&self, input: &PlanInput<'_>, ex: f64, ey: f64, hl: f64) -> Vec<OrientedBox> {
        let mut out = Vec::new();
        if self.path.len() < 2 {
            return out;
        }
        let seg = closest_segment(&self.path, ex, ey);
        let mut ahead = Vec::with_capacity(self.path.len() - seg + 1);
        ahead.push((ex, ey));
        ahead.extend_from_slice(&self.path[seg + 1..]);
        for t in input.tracks.iter().filter(|t| t.confirmed && !t.is_static()) {
            let (tx, ty) = t.position();
            let Some((s, _, heading)) = project(&ahead, tx, ty) else { continue };
            let (vx, vy) = t.velocity();
            let along_speed = vx * libm::cos(heading) + vy * libm::sin(heading);
            let speed = t.speed();
            if s <= 0.0 || along_speed > -ONCOMING_SPEED || along_speed > -0.7 * speed {
                continue;
            }
            let berth = if is_person(t) {
                input.config.person_clearance + PERSON_GRID_SLACK - TIGHT_BERTH
            } else {
                ONCOMING_CLEARANCE
            };
            // It comes down the path: its measured heading is too noisy to extrapolate far.
            let dir = heading + core::f64::consts::PI;
            let (c, sn) = (libm::cos(dir), libm::sin(dir));
            let half_len = crate::geometry::projected_half_extent(t.length, t.width, t.heading, dir);
            let half_wid = crate::geometry::projected_half_extent(t.length, t.width, t.heading, dir + FRAC_PI_2);
            // From the object's rear to `front` ahead of its centre, short of where the ego is.
            let to_ego = (ex - tx) * c + (ey - ty) * sn;
            let front = (to_ego.min(s) - hl - ONCOMING_GAP).max(half_len);
            let length = front + half_len;
            let mid = 0.5 * (front - half_len);
            out.push(OrientedBox {
                x: tx + c * mid,
                y: ty + sn * mid,
                heading: dir,
                length,
                width: 2.0 * (half_wid + berth),
            });
        }
        out
    }

    /// The speed at which the robot may approach and pass the people near its path: the passing
    /// speed alongside anyone within [`PERSON_SLOW_ZONE`] of its side, approached at a speed from
    /// which it slows to that by the time its front is level with them.
    fn people_speed(&self, input: &PlanInput<'_>, ahead: &[(f64, f64)], hw: f64, hl: f64) -> f64 {
        let ego = input.ego;
        let (c, sn) = (libm::cos(ego.heading), libm::sin(ego.heading));
        let mut cap = f64::INFINITY;
        for t in input.tracks.iter().filter(|t| is_person(t)) {
            let (tx, ty) = t.position();
            let Some((s, lateral, heading)) = project(ahead, tx, ty) else { continue };
            let half_len = crate::geometry::projected_half_extent(t.length, t.width, t.heading, heading);
            let half_wid = crate::geometry::projected_half_extent(t.length, t.width, t.heading, heading + FRAC_PI_2);
            // Passed once the person's far edge is behind the robot's rear.
            if (tx - ego.x) * c + (ty - ego.y) * sn + half_len + hl < 0.0 {
                continue;
            }
            if lateral - hw - half_wid >= PERSON_SLOW_ZONE {
                continue;
            }
            let gap = (s - half_len - hl).max(0.0);
            let v_pass = input.config.person_passing_speed;
            cap = cap.min(libm::sqrt(v_pass * v_pass + 2.0 * APPROACH_DECEL * gap));
        }
        cap
    }

    /// The speed from which the robot could stop short of the nearest blind spot ahead (hidden
    /// floor within [`BLIND_REACH`] of its side, behind a mapped rack or wall), keeping a person's
    /// clearance, but never below `blind_spot_speed` (with which it passes the spot itself).
    fn blind_spot_speed(&mut self, input: &PlanInput<'_>, ahead: &[(f64, f64)], v_des: f64, hw: f64, hl: f64) -> f64 {
        let cfg = input.config;
        let v_blind = cfg.blind_spot_speed;
        if v_des <= v_blind || self.map_obstacles.is_empty() {
            return f64::INFINITY;
        }
        let Some((min_x, min_y, max_x, max_y)) = self.bounds else { return f64::INFINITY };
        let res = cfg.grid_resolution;
        let occluders = self.occluders.get_or_insert_with(|| {
            let mut grid = Grid::new(min_x, min_y, max_x, max_y, res);
            for b in &self.map_obstacles {
                grid.rasterise(b, 0.0);
            }
            grid
        });
        let decel = BLIND_BRAKING_SHARE * input.vehicle.max_decel;
        let clearance = cfg.person_clearance;
        // Beyond this the spot cannot lower the speed below v_des.
        let horizon = hl + clearance + v_des * v_des / (2.0 * APPROACH_DECEL);
        let sensor = (input.ego.x, input.ego.y);
        let step = occluders.res;
        let inside = |x: f64, y: f64| x > min_x && x < max_x && y > min_y && y < max_y;
        let mut along = 0.0;
        let mut nearest = None;
        'path: for (k, w) in ahead.windows(2).enumerate() {
            let len = crate::geometry::norm(w[1].0 - w[0].0, w[1].1 - w[0].1);
            if len < 1e-9 {
                continue;
            }
            // Not where the path turns: rounding a rack end, the robot is slowed by the corner
            // and sees into the new aisle as it turns.
            let h = libm::atan2(w[1].1 - w[0].1, w[1].0 - w[0].0);
            let turns = ahead
                .get(k + 2)
                .is_some_and(|n| libm::fabs(wrap_angle(libm::atan2(n.1 - w[1].1, n.0 - w[1].0) - h)) > BLIND_TURN);
            let end = if turns { len - BLIND_TURN_ZONE } else { len };
            let (c, sn) = ((w[1].0 - w[0].0) / len, (w[1].1 - w[0].1) / len);
            let mut u = 0.0;
            while u <= end {
                let s = along + u;
                if s > horizon {
                    break 'path;
                }
                let (px, py) = (w[0].0 + c * u, w[0].1 + sn * u);
                for side in [-1.0, 1.0] {
                    let mut lateral = hw + step;
                    while lateral <= hw + BLIND_REACH {
                        let (qx, qy) = (px - side * sn * lateral, py + side * c * lateral);
                        if !inside(qx, qy) || occluders.is_blocked(occluders.cell(qx, qy)) {
                            break;
                        }
                        if !occluders.segment_free(sensor, (qx, qy), 0.0) {
                            nearest = Some((s, (px, py)));
                            break 'path;
                        }
                        lateral += step;
                    }
                }
                u += step;
            }
            along += len;
        }
        let (c, sn) = (libm::cos(input.ego.heading), libm::sin(input.ego.heading));
        let held = self.blind_spot.and_then(|(bx, by)| {
            let passed = (bx - sensor.0) * c + (by - sensor.1) * sn < -hl;
            let (s, lateral, _) = project(ahead, bx, by)?;
            (!passed && lateral < BLIND_REACH).then_some((s, (bx, by)))
        });
        let nearest = match (nearest, held) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        self.blind_spot = nearest.map(|n| n.1);
        let Some((s, _)) = nearest else { return f64::INFINITY };
        // Stop within the room left in front of the robot: v t + v^2 / 2a = room.
        let room = (s - hl - clearance).max(0.0);
        let (a, t) = (decel, BLIND_REACTION);
        let v_stop = a * (libm::sqrt(t * t + 2.0 * room / a) - t);
        // Slowing down on an unhurried profile that stays below it.
        let v_gentle = libm::sqrt(v_blind * v_blind + 2.0 * APPROACH_DECEL * room);
        v_stop.min(v_gentle).max(v_blind)
    }

    fn search(&mut self, input: &PlanInput<'_>, start: (f64, f64), goal: (f64, f64)) {
        self.last_search = Some(input.tick);
        let (min_x, min_y, max_x, max_y) = *self.bounds.get_or_insert_with(|| {
            let xs = self.route.iter().map(|p| p.0).chain([start.0]);
            let ys = self.route.iter().map(|p| p.1).chain([start.1]);
            let (lo_x, hi_x) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
            let (lo_y, hi_y) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
            (lo_x - FREE_MARGIN, lo_y - FREE_MARGIN, hi_x + FREE_MARGIN, hi_y + FREE_MARGIN)
        });
        let hw = 0.5 * input.vehicle.width;
        let margin = input.config.lateral_margin;
        // Prefer a comfortable berth; accept a tighter one when that is the only way through, or
        // when the comfortable way is a long detour (around a rack instead of past a person in the
        // aisle).
        let mut tight: Option<Vec<(f64, f64)>> = None;
        let tightest = hw + TIGHT_BERTH;
        for inflation in [tightest, hw + 2.0 * margin, hw + margin] {
            // Near the goal only the tightest berth applies, so a bay between rails stays open.
            let zone = Some((goal, GOAL_ZONE, tightest));
            let layer = match self.layers.iter().position(|l| l.inflation == inflation && l.goal == goal) {
                Some(i) => i,
                None => {
                    let mut grid = Grid::new(min_x, min_y, max_x, max_y, input.config.grid_resolution);
                    if inflation == tightest {
                        // The tight berth is for passing through gaps: centred in them, entered
                        // straight.
                        grid = grid.with_soft_clearance(hw + 2.0 * margin);
                    }
                    for b in &self.map_obstacles {
                        grid.rasterise_near(b, inflation, zone);
                    }
                    // One goal at a time: layers of a passed waypoint are not needed again.
                    self.layers.retain(|l| l.goal == goal);
                    self.layers.push(MapLayer { inflation, goal, grid });
                    self.layers.len() - 1
                }
            };
            let mut grid = self.layers[layer].grid.clone();
            for b in &self.statics {
                grid.rasterise_near(b, inflation, zone);
            }
            let Some(path) = grid.search(start, goal) else {
                if tight.is_none() {
                    // Not even the tightest berth leads through.
                    self.path.clear();
                    return;
                }
                continue;
            };
            match &tight {
                None => tight = Some(path),
                Some(t) => {
                    // Only a path that still ends where the tight one does (a roomier grid may
                    // have blocked the goal itself, e.g. a charging bay between rails).
                    let same_end = match (path.last(), t.last()) {
                        (Some(a), Some(b)) => {
                            crate::geometry::norm(a.0 - b.0, a.1 - b.1) < input.config.grid_resolution
                        }
                        _ => false,
                    };
                    if same_end && path_length(&path) <= DETOUR_FACTOR * path_length(t) + DETOUR_SLACK {
                        self.path = path;
                        return;
                    }
                }
            }
        }
        self.path = tight.unwrap_or_default();
    }

    fn path_blocked(&self, ex: f64, ey: f64, clearance: f64) -> bool {
        if self.path.len() < 2 || self.statics.is_empty() {
            return false;
        }
        let seg = closest_segment(&self.path, ex, ey);
        let mut checked = 0.0;
        let mut a = (ex, ey);
        for &b in &self.path[seg + 1..] {
            let len = crate::geometry::norm(b.0 - a.0, b.1 - a.1);
            let n = libm::ceil(len / 0.25) as usize;
            for k in 1..=n {
                let u = k as f64 / n as f64;
                let (x, y) = (a.0 + (b.0 - a.0) * u, a.1 + (b.1 - a.1) * u);
                if self.statics.iter().any(|o| point_box_distance(o, x, y) < clearance) {
                    return true;
                }
            }
            checked += len;
            if checked > 20.0 {
                break;
            }
            a = b;
        }
        false
    }
}

/// Heading from (x, y) to the point 2 m along the path from its closest segment.
fn first_heading(path: &[(f64, f64)], x: f64, y: f64) -> f64 {
    let seg = closest_segment(path, x, y);
    let mut ahead = vec![(x, y)];
    ahead.extend_from_slice(&path[seg + 1..]);
    let (tx, ty) = crate::control::lookahead_point(&ahead, x, y, 2.0).unwrap_or(ahead[ahead.len() - 1]);
    libm::atan2(ty - y, tx - x)
}

/// Index of the path segment closest to (x, y).
fn closest_segment(path: &[(f64, f64)], x: f64, y: f64) -> usize {
    let mut best = (f64::INFINITY, 0);
    for i in 0..path.len().saturating_sub(1) {
        let d = segment_distance(path[i], path[i + 1], x, y).0;
        if d < best.0 {
            best = (d, i);
        }
    }
    best.1
}

/// Distance from (x, y) to segment a-b and the fraction along it of the closest point.
fn segment_distance(a: (f64, f64), b: (f64, f64), x: f64, y: f64) -> (f64, f64) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let u = if len2 > 0.0 { (((x - a.0) * dx + (y - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    (crate::geometry::norm(a.0 + dx * u - x, a.1 + dy * u - y), u)
}

/// Projects a point on a polyline: (distance along it, lateral distance, segment heading).
fn project(path: &[(f64, f64)], x: f64, y: f64) -> Option<(f64, f64, f64)> {
    let mut along = 0.0;
    let mut best: Option<(f64, f64, f64)> = None;
    for w in path.windows(2) {
        let len = crate::geometry::norm(w[1].0 - w[0].0, w[1].1 - w[0].1);
        let (d, u) = segment_distance(w[0], w[1], x, y);
        if best.is_none_or(|b| d < b.1) {
            best = Some((along + u * len, d, libm::atan2(w[1].1 - w[0].1, w[1].0 - w[0].0)));
        }
        along += len;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_goes_around_a_wall_and_keeps_clear_of_it() {
        let mut grid = Grid::new(0.0, 0.0, 30.0, 20.0, 0.25);
        let wall = OrientedBox { x: 15.0, y: 8.0, heading: 0.0, length: 1.0, width: 16.0 };
        grid.rasterise(&wall, 0.8);
        let path = grid.search((5.0, 5.0), (25.0, 5.0)).unwrap();
        assert_eq!(path.first(), Some(&(5.0, 5.0)));
        assert_eq!(path.last(), Some(&(25.0, 5.0)));
        assert!(path.len() <= 6, "string pulling leaves a few corners: {path:?}");
        // Every segment keeps the inflation clearance (up to one cell of discretisation).
        for w in path.windows(2) {
            for k in 0..=100 {
                let u = k as f64 / 100.0;
                let (x, y) = (w[0].0 + (w[1].0 - w[0].0) * u, w[0].1 + (w[1].1 - w[0].1) * u);
                assert!(point_box_distance(&wall, x, y) > 0.8 - 0.25, "({x}, {y})");
            }
        }
        // It passes above the wall's top end at y = 16.
        assert!(path.iter().any(|p| p.1 > 16.0));
    }

    #[test]
    fn an_enclosed_goal_has_no_path() {
        let mut grid = Grid::new(0.0, 0.0, 20.0, 20.0, 0.5);
        for (x, y, l, w) in
            [(10.0, 5.0, 10.0, 1.0), (10.0, 15.0, 10.0, 1.0), (5.0, 10.0, 1.0, 10.0), (15.0, 10.0, 1.0, 10.0)]
        {
            grid.rasterise(&OrientedBox { x, y, heading: 0.0, length: l, width: w }, 0.3);
        }
        assert!(grid.search((1.0, 1.0), (10.0, 10.0)).is_none(), "the goal is walled in");
        let mut closed = grid.clone();
        closed.rasterise(&OrientedBox { x: 10.0, y: 10.0, heading: 0.0, length: 9.0, width: 9.0 }, 0.0);
        // The goal is now inside a solid block: the nearest free cell is outside, reachable.
        let p = closed.search((1.0, 1.0), (10.0, 10.0)).unwrap();
        let end = p.last().unwrap();
        assert!(crate::geometry::norm(end.0 - 10.0, end.1 - 10.0) > 4.0);
        assert!(!closed.is_blocked(closed.cell(end.0, end.1)));
    }
}
