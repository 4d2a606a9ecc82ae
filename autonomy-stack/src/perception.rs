//! Perception: lidar returns to obstacles (clustering in scan order, PCA box fitting) fused with the
//! object detector's list. Copes with noise (non-finite or out-of-range returns are dropped), dropout
//! (clusters bridge missing rays) and false positives (small clusters and unsupported low-confidence
//! detections are discarded).

use crate::config::PerceptionConfig;
use crate::geometry::{point_box_distance, RoadGeometry};
use crate::interface::{AreaMap, Detection, EgoEstimate, LidarScan, ObjectClass, OrientedBox, SignalObservation};
use core::f64::consts::PI;

/// Where an obstacle came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ObstacleSource {
    /// A lidar cluster with no matching detection.
    Lidar,
    /// A detection with no lidar support.
    Detector,
    /// A detection confirmed by a lidar cluster.
    Fused,
}

/// One perceived obstacle in the world frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Obstacle {
    /// Centre x, metres.
    pub x: f64,
    /// Centre y, metres.
    pub y: f64,
    /// Heading of the box, radians.
    pub heading: f64,
    /// Extent along the heading, metres.
    pub length: f64,
    /// Extent across the heading, metres.
    pub width: f64,
    /// Velocity x, m/s (0 when unknown).
    pub vx: f64,
    /// Velocity y, m/s (0 when unknown).
    pub vy: f64,
    /// Whether the velocity was measured (detector) rather than unknown (lidar only).
    pub velocity_known: bool,
    /// Class (lidar-only obstacles are `Unknown`).
    pub class: ObjectClass,
    /// Confidence 0..1.
    pub confidence: f64,
    /// Origin of the obstacle.
    pub source: ObstacleSource,
}

impl Obstacle {
    /// The obstacle's footprint.
    pub fn footprint(&self) -> OrientedBox {
        OrientedBox { x: self.x, y: self.y, heading: self.heading, length: self.length, width: self.width }
    }
}

/// Smallest side of a fitted box, metres (a cluster seen edge-on has no depth).
const MIN_EXTENT: f64 = 0.3;
/// Shallowest angle between a ray and a surface at which the surface still forms one cluster, rad.
const BREAKPOINT_INCIDENCE: f64 = 0.15;
/// Rays between exact evaluations of the ray direction.
const RAY_ANCHOR: usize = 32;
/// Lidar returns closer than this to a mapped obstacle belong to it, metres.
const MAP_TOLERANCE: f64 = 0.3;
/// Rays that may be missing inside one cluster (dropout bridging).
const MAX_RAY_GAP: usize = 3;

/// How far before a stop line (and beyond its conflict zone) the crossing roads are watched, metres.
const JUNCTION_ROI_BEFORE: f64 = 10.0;
/// How far to either side of the road a junction's crossing roads are watched, metres.
const JUNCTION_ROI_SIDE: f64 = 45.0;
/// A junction's crossing roads are watched once its stop line is this close ahead of the ego, metres.
const JUNCTION_ROI_AHEAD: f64 = 70.0;

/// On a road network (a map route) everything within this distance of the ego is watched, metres:
/// vehicles on the other arms of a junction cross the route, and an oncoming car crosses a left
/// turn, long before they are near the route's own lane (ADR 0029). The detector's default range.
const NETWORK_ROI_RADIUS: f64 = 80.0;

/// The region of interest obstacles must lie in.
#[derive(Debug, Clone, Copy)]
pub enum Roi<'a> {
    /// Anything goes.
    Everywhere,
    /// Within `margin` of the road (lateral offset).
    Road(&'a RoadGeometry, f64, f64),
    /// As `Road`, and near each of these stop lines also the crossing roads' traffic: a junction
    /// is where vehicles come from the side (ADR 0027).
    RoadWithJunctions(&'a RoadGeometry, f64, f64, &'a [SignalObservation]),
    /// A route through a road network: as `RoadWithJunctions`, and everything within
    /// [`NETWORK_ROI_RADIUS`] of the ego at (x, y).
    RoadNetwork(&'a RoadGeometry, f64, f64, &'a [SignalObservation], (f64, f64)),
    /// Within `margin` of the area's bounds.
    Area(&'a AreaMap, f64),
}

impl Roi<'_> {
    fn contains(&self, x: f64, y: f64) -> bool {
        match *self {
            Roi::Everywhere => true,
            Roi::Road(road, margin, s_hint) => {
                let (_, d) = road.frame.to_frame(x, y, s_hint);
                d >= -margin && d <= road.width() + margin
            }
            Roi::RoadWithJunctions(road, margin, s_hint, lines) => {
                let (s, d) = road.frame.to_frame(x, y, s_hint);
                (d >= -margin && d <= road.width() + margin)
                    || lines.iter().any(|l| {
                        l.s - s_hint <= JUNCTION_ROI_AHEAD
                            && s >= l.s - JUNCTION_ROI_BEFORE
                            && s <= l.s + l.zone + JUNCTION_ROI_BEFORE
                            && libm::fabs(d) <= JUNCTION_ROI_SIDE
                    })
            }
            Roi::RoadNetwork(road, margin, s_hint, lines, (ex, ey)) => {
                libm::hypot(x - ex, y - ey) <= NETWORK_ROI_RADIUS
                    || Roi::RoadWithJunctions(road, margin, s_hint, lines).contains(x, y)
            }
            Roi::Area(area, m) => {
                x >= area.min_x - m && x <= area.max_x + m && y >= area.min_y - m && y <= area.max_y + m
            }
        }
    }
}

/// The perception module. Holds scratch buffers so a tick allocates nothing in steady state.
#[derive(Debug, Clone)]
pub struct Perception {
    config: PerceptionConfig,
    points: Vec<(f64, f64, usize)>,
    seam: Vec<(f64, f64, usize)>,
    clusters: Vec<(usize, usize)>,
    lidar_boxes: Vec<Obstacle>,
    pairs: Vec<(f64, usize, usize)>,
    used: Vec<bool>,
    obstacles: Vec<Obstacle>,
}

impl Perception {
    /// A perception module with the given tunables.
    pub fn new(config: PerceptionConfig) -> Self {
        Self {
            config,
            points: Vec::new(),
            seam: Vec::new(),
            clusters: Vec::new(),
            lidar_boxes: Vec::new(),
            pairs: Vec::new(),
            used: Vec::new(),
            obstacles: Vec::new(),
        }
    }

    /// The obstacles of the last [`Perception::process`] call.
    pub fn obstacles(&self) -> &[Obstacle] {
        &self.obstacles
    }

    /// Turns one tick's sensor data into obstacles. `lidar` is interpreted from the ego pose `ego`.
    pub fn process(
        &mut self,
        ego: &EgoEstimate,
        lidar: Option<&LidarScan>,
        detections: Option<&[Detection]>,
        roi: Roi<'_>,
    ) -> &[Obstacle] {
        self.obstacles.clear();
        self.lidar_boxes.clear();
        if let Some(scan) = lidar {
            let map = match roi {
                Roi::Area(area, _) => &area.obstacles[..],
                _ => &[],
            };
            self.cluster(ego, scan, map);
        }
        let use_detections = self.config.fuse_detections || lidar.is_none();
        let dets = if use_detections { detections.unwrap_or(&[]) } else { &[] };
        self.fuse(ego, dets);
        self.obstacles.retain(|o| roi.contains(o.x, o.y));
        &self.obstacles
    }

    fn cluster(&mut self, ego: &EgoEstimate, scan: &LidarScan, map: &[OrientedBox]) {
        self.points.clear();
        self.clusters.clear();
        if !(scan.angle_min.is_finite() && scan.angle_increment.is_finite() && scan.max_range.is_finite()) {
            return;
        }
        // Ray directions by rotation recurrence, re-anchored on exact values every few rays: a
        // fraction of the cost of a sine and cosine per ray, and just as deterministic.
        let (step_s, step_c) = (libm::sin(scan.angle_increment), libm::cos(scan.angle_increment));
        let (mut ds, mut dc) = (0.0, 1.0);
        for (i, r) in scan.ranges.iter().enumerate() {
            if i % RAY_ANCHOR == 0 {
                let a = ego.heading + scan.angle_min + scan.angle_increment * i as f64;
                (ds, dc) = (libm::sin(a), libm::cos(a));
            } else {
                (ds, dc) = (ds * step_c + dc * step_s, dc * step_c - ds * step_s);
            }
            let Some(r) = *r else { continue };
            if !(r.is_finite() && r > 0.05 && r < scan.max_range * 0.999) {
                continue;
            }
            let (x, y) = (ego.x + r * dc, ego.y + r * ds);
            // Returns from mapped static structure (racks, walls) are the map, not obstacles: a
            // person standing next to a rack must not merge with it into one box across the aisle.
            if map.iter().any(|b| crate::geometry::point_box_distance(b, x, y) < MAP_TOLERANCE) {
                continue;
            }
            self.points.push((x, y, i));
        }
        // Adaptive breakpoint: far or grazing surfaces space their returns wider than near ones, so
        // the gate grows with range (a surface seen at down to BREAKPOINT_INCIDENCE stays whole).
        let stretch = libm::sin(libm::fabs(scan.angle_increment))
            / libm::sin((BREAKPOINT_INCIDENCE - libm::fabs(scan.angle_increment)).max(1e-3));
        let gate = self.config.cluster_distance;
        let (ox, oy) = (ego.x, ego.y);
        let mut start = 0;
        for k in 1..=self.points.len() {
            let split = k == self.points.len() || {
                let (px, py, pi) = self.points[k - 1];
                let (qx, qy, qi) = self.points[k];
                let range = crate::geometry::norm(px - ox, py - oy);
                let rays = (qi - pi) as f64;
                qi - pi > MAX_RAY_GAP + 1 || crate::geometry::norm(qx - px, qy - py) > gate.max(range * stretch * rays)
            };
            if split {
                self.clusters.push((start, k));
                start = k;
            }
        }
        // A full revolution: the last cluster may continue into the first across the scan's seam.
        let full_turn = libm::fabs(scan.angle_increment) * scan.ranges.len() as f64 >= 2.0 * PI - 1e-6;
        let mut merge_seam = false;
        if full_turn && self.clusters.len() > 1 {
            let (fs, _) = self.clusters[0];
            let (_, le) = self.clusters[self.clusters.len() - 1];
            let (fx, fy, fi) = self.points[fs];
            let (lx, ly, li) = self.points[le - 1];
            let ray_gap = fi + scan.ranges.len() - li;
            merge_seam = ray_gap <= MAX_RAY_GAP + 1 && crate::geometry::norm(fx - lx, fy - ly) <= gate;
        }
        let min_points = (self.config.min_cluster_points as usize).max(1);
        let mut coarse_trig = [(0.0, 1.0); FIT_COARSE];
        for (k, t) in coarse_trig.iter_mut().enumerate() {
            let h = k as f64 * 0.5 * PI / FIT_COARSE as f64;
            *t = (libm::sin(h), libm::cos(h));
        }
        let last = self.clusters.len().saturating_sub(1);
        for (k, &(a, b)) in self.clusters.iter().enumerate() {
            if merge_seam && k == 0 {
                continue;
            }
            let fitted = if merge_seam && k == last {
                let (fa, fb) = self.clusters[0];
                self.seam.clear();
                self.seam.extend_from_slice(&self.points[a..b]);
                self.seam.extend_from_slice(&self.points[fa..fb]);
                (self.seam.len() >= min_points).then(|| fit_box(&self.seam, &coarse_trig)).flatten()
            } else {
                (b - a >= min_points).then(|| fit_box(&self.points[a..b], &coarse_trig)).flatten()
            };
            if let Some(o) = fitted {
                self.lidar_boxes.push(o);
            }
        }
    }

    fn fuse(&mut self, ego: &EgoEstimate, detections: &[Detection]) {
        self.pairs.clear();
        let gate = self.config.fusion_gate;
        for (di, d) in detections.iter().enumerate() {
            if !detection_plausible(d) {
                continue;
            }
            let fp = OrientedBox { x: d.x, y: d.y, heading: d.heading, length: d.length, width: d.width };
            let reach = 0.5 * crate::geometry::norm(d.length, d.width) + gate;
            for (li, l) in self.lidar_boxes.iter().enumerate() {
                if libm::fabs(l.x - d.x) > reach || libm::fabs(l.y - d.y) > reach {
                    continue;
                }
                let dist = point_box_distance(&fp, l.x, l.y);
                if dist <= gate {
                    self.pairs.push((dist, di, li));
                }
            }
        }
        // Greedy nearest-first matching; ties broken by index so the result is deterministic.
        self.pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        self.used.clear();
        self.used.resize(detections.len() + self.lidar_boxes.len(), false);
        let nd = detections.len();
        for &(_, di, li) in &self.pairs {
            if self.used[di] || self.used[nd + li] {
                continue;
            }
            self.used[di] = true;
            self.used[nd + li] = true;
            let d = &detections[di];
            let mut o = from_detection(d, d.confidence.max(0.9), ObstacleSource::Fused);
            anchor_to_lidar(&mut o, &self.lidar_boxes[li], ego);
            self.obstacles.push(o);
        }
        for (di, d) in detections.iter().enumerate() {
            if self.used[di] || !detection_plausible(d) || d.confidence < self.config.min_confidence {
                continue;
            }
            self.obstacles.push(from_detection(d, d.confidence, ObstacleSource::Detector));
        }
        for (li, l) in self.lidar_boxes.iter().enumerate() {
            if !self.used[nd + li] {
                self.obstacles.push(*l);
            }
        }
    }
}

/// An obstacle as the detector reports it (its box, at least `MIN_EXTENT` wide and long).
fn from_detection(d: &Detection, confidence: f64, source: ObstacleSource) -> Obstacle {
    Obstacle {
        x: d.x,
        y: d.y,
        heading: d.heading,
        length: d.length.max(MIN_EXTENT),
        width: d.width.max(MIN_EXTENT),
        vx: d.vx,
        vy: d.vy,
        velocity_known: true,
        class: d.class,
        confidence,
        source,
    }
}

/// A lidar side no shorter than this share of the detection's side saw the whole side.
const WHOLE_SIDE: f64 = 0.7;

/// Places a fused detection's box where the lidar saw the object: the detector knows the class,
/// velocity and full size, but its position can be off by a metre (a camera's depth), while the
/// lidar measures the surfaces it sees to centimetres. Along each of the box's axes, a side the
/// lidar saw whole fixes the centre; otherwise the face toward the ego (the one the lidar saw) does,
/// and the rest of the detected size extends away from the ego.
fn anchor_to_lidar(o: &mut Obstacle, lidar: &Obstacle, ego: &EgoEstimate) {
    let (s, c) = (libm::sin(o.heading), libm::cos(o.heading));
    let to_frame = |x: f64, y: f64| (c * (x - o.x) + s * (y - o.y), -s * (x - o.x) + c * (y - o.y));
    let (ls, lc) = (libm::sin(lidar.heading), libm::cos(lidar.heading));
    let (hl, hw) = (0.5 * lidar.length, 0.5 * lidar.width);
    let mut span = [(f64::INFINITY, f64::NEG_INFINITY); 2];
    for (a, b) in [(hl, hw), (hl, -hw), (-hl, hw), (-hl, -hw)] {
        let (u, v) = to_frame(lidar.x + lc * a - ls * b, lidar.y + ls * a + lc * b);
        span[0] = (span[0].0.min(u), span[0].1.max(u));
        span[1] = (span[1].0.min(v), span[1].1.max(v));
    }
    let (eu, ev) = to_frame(ego.x, ego.y);
    let mut centre = [0.0; 2];
    for (axis, (side, ego_at)) in [(o.length, eu), (o.width, ev)].into_iter().enumerate() {
        let (lo, hi) = span[axis];
        let mid = 0.5 * (lo + hi);
        // A face seen edge-on was padded to the smallest extent on both sides of it.
        let (near_lo, near_hi) = if hi - lo <= MIN_EXTENT + 1e-6 { (mid, mid) } else { (lo, hi) };
        centre[axis] = if hi - lo >= WHOLE_SIDE * side {
            mid
        } else if ego_at < mid {
            near_lo + 0.5 * side
        } else {
            near_hi - 0.5 * side
        };
    }
    let (x, y) = (o.x + c * centre[0] - s * centre[1], o.y + s * centre[0] + c * centre[1]);
    if x.is_finite() && y.is_finite() {
        (o.x, o.y) = (x, y);
    }
}

fn detection_plausible(d: &Detection) -> bool {
    [d.x, d.y, d.vx, d.vy, d.heading, d.length, d.width, d.confidence].iter().all(|v| v.is_finite())
        && d.length >= 0.0
        && d.width >= 0.0
        && d.length < 50.0
        && d.width < 50.0
        && crate::geometry::norm(d.vx, d.vy) < 100.0
}

/// Orientations tried by the coarse search of the box fit (over a quarter turn).
const FIT_COARSE: usize = 12;
/// Refinement steps on either side of the best coarse orientation.
const FIT_FINE: usize = 3;

/// Fits an oriented box to a cluster's points: a coarse-to-fine search of orientations for the
/// rectangle the points hug best, which recovers the sides of the L-shape a lidar sees of a box.
fn fit_box(points: &[(f64, f64, usize)], coarse_trig: &[(f64, f64); FIT_COARSE]) -> Option<Obstacle> {
    let coarse = 0.5 * PI / FIT_COARSE as f64;
    // The coarse orientations' sines and cosines come from a table shared by every cluster.
    let trig = |heading: f64| {
        let k = libm::round(heading / coarse);
        if k >= 0.0 && (k as usize) < FIT_COARSE && heading == k * coarse {
            coarse_trig[k as usize]
        } else {
            (libm::sin(heading), libm::cos(heading))
        }
    };
    let n = points.len() as f64;
    if n < 1.0 {
        return None;
    }
    let (mx, my) = points.iter().fold((0.0, 0.0), |(ax, ay), p| (ax + p.0, ay + p.1));
    let (mx, my) = (mx / n, my / n);
    let extents = |heading: f64| {
        let (s, c) = trig(heading);
        let mut e = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for p in points {
            let (dx, dy) = (p.0 - mx, p.1 - my);
            let u = c * dx + s * dy;
            let v = -s * dx + c * dy;
            e = (e.0.min(u), e.1.max(u), e.2.min(v), e.3.max(v));
        }
        (e, s, c)
    };
    // Closeness criterion (L-shape fitting): the rectangle whose sides the points hug best. Unlike
    // the minimum area it is not fooled by a symmetric L, whose 45° box has the same area.
    let closeness = |heading: f64| {
        let (e, s, c) = extents(heading);
        -points
            .iter()
            .map(|p| {
                let (dx, dy) = (p.0 - mx, p.1 - my);
                let u = c * dx + s * dy;
                let v = -s * dx + c * dy;
                let d = (e.1 - u).min(u - e.0).min((e.3 - v).min(v - e.2));
                1.0 / d.max(0.05)
            })
            .sum::<f64>()
    };
    let mut best = (f64::INFINITY, 0.0);
    for k in 0..FIT_COARSE {
        let h = k as f64 * coarse;
        let a = closeness(h);
        if a < best.0 {
            best = (a, h);
        }
    }
    let fine = coarse / (FIT_FINE + 1) as f64;
    let centre = best.1;
    for k in 1..=FIT_FINE {
        for h in [centre - k as f64 * fine, centre + k as f64 * fine] {
            let a = closeness(h);
            if a < best.0 {
                best = (a, h);
            }
        }
    }
    let mut heading = best.1;
    let ((mut umin, mut umax, mut vmin, mut vmax), _, _) = extents(heading);
    if umax - umin < vmax - vmin {
        // Make the heading run along the longer side.
        heading += 0.5 * PI;
        ((umin, umax, vmin, vmax), _, _) = extents(heading);
    }
    let (s, c) = trig(heading);
    let (uc, vc) = (0.5 * (umin + umax), 0.5 * (vmin + vmax));
    Some(Obstacle {
        x: mx + c * uc - s * vc,
        y: my + s * uc + c * vc,
        heading: crate::geometry::wrap_angle(heading),
        length: (umax - umin).max(MIN_EXTENT),
        width: (vmax - vmin).max(MIN_EXTENT),
        vx: 0.0,
        vy: 0.0,
        velocity_known: false,
        class: ObjectClass::Unknown,
        confidence: (n / 10.0).min(1.0),
        source: ObstacleSource::Lidar,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::ray_box_distance;

    fn scan_of(boxes: &[OrientedBox], rays: usize, drop_every: Option<usize>) -> LidarScan {
        let inc = 2.0 * PI / rays as f64;
        let ranges = (0..rays)
            .map(|i| {
                if drop_every.is_some_and(|k| i % k == 0) {
                    return None;
                }
                let a = -PI + inc * i as f64;
                boxes
                    .iter()
                    .filter_map(|b| ray_box_distance(b, 0.0, 0.0, a))
                    .fold(None, |best: Option<f64>, r| Some(best.map_or(r, |b| b.min(r))))
                    .filter(|&r| r < 60.0)
            })
            .collect();
        LidarScan { angle_min: -PI, angle_increment: inc, max_range: 60.0, ranges }
    }

    fn car(x: f64, y: f64) -> OrientedBox {
        OrientedBox { x, y, heading: 0.0, length: 4.5, width: 1.8 }
    }

    #[test]
    fn two_boxes_become_two_clusters_near_their_faces() {
        let scan = scan_of(&[car(15.0, 0.0), car(10.0, 8.0)], 720, None);
        let mut p = Perception::new(PerceptionConfig::default());
        let obs = p.process(&EgoEstimate::default(), Some(&scan), None, Roi::Everywhere).to_vec();
        assert_eq!(obs.len(), 2, "{obs:?}");
        for o in &obs {
            let truth = if o.y > 4.0 { car(10.0, 8.0) } else { car(15.0, 0.0) };
            // The lidar sees the near faces only: the fitted centre lies within half a car of the truth.
            assert!(point_box_distance(&truth, o.x, o.y) < 0.2, "{o:?}");
            assert!(crate::geometry::norm(o.x - truth.x, o.y - truth.y) < 2.5, "{o:?}");
            assert_eq!(o.class, ObjectClass::Unknown);
        }
    }

    #[test]
    fn a_box_seen_at_a_corner_is_fitted_along_its_sides() {
        let truth = OrientedBox { x: 10.0, y: 6.0, heading: 0.4, length: 4.5, width: 1.8 };
        let scan = scan_of(&[truth], 1440, None);
        let mut p = Perception::new(PerceptionConfig::default());
        let obs = p.process(&EgoEstimate::default(), Some(&scan), None, Roi::Everywhere);
        assert_eq!(obs.len(), 1);
        let o = obs[0];
        // Two faces are visible (the long one at a grazing angle, so partly): the fit recovers the
        // heading (mod π) within 3 degrees, most of the length, and lies inside the true box.
        let err = crate::geometry::wrap_angle(2.0 * (o.heading - truth.heading)) / 2.0;
        assert!(libm::fabs(err) < 3f64.to_radians(), "{o:?}");
        assert!(o.length > 3.0 && o.length < truth.length + 0.1, "{o:?}");
        assert!(libm::fabs(o.width - truth.width) < 0.1, "{o:?}");
        assert!(point_box_distance(&truth, o.x, o.y) == 0.0, "{o:?}");
    }

    #[test]
    fn dropout_and_noise_do_not_split_or_invent_obstacles() {
        let mut scan = scan_of(&[car(12.0, 0.0)], 720, Some(3));
        scan.ranges[5] = Some(f64::NAN);
        scan.ranges[6] = Some(-1.0);
        scan.ranges[7] = Some(f64::INFINITY);
        let mut p = Perception::new(PerceptionConfig::default());
        let obs = p.process(&EgoEstimate::default(), Some(&scan), None, Roi::Everywhere);
        assert_eq!(obs.len(), 1, "{obs:?}");
    }

    #[test]
    fn a_box_straddling_the_scan_seam_is_one_obstacle() {
        // Directly behind the ego: the rays at -π and +π - inc both hit it.
        let scan = scan_of(&[car(-10.0, 0.0)], 360, None);
        let mut p = Perception::new(PerceptionConfig::default());
        let obs = p.process(&EgoEstimate::default(), Some(&scan), None, Roi::Everywhere);
        assert_eq!(obs.len(), 1, "{obs:?}");
        assert!(libm::fabs(obs[0].y) < 1.0 && obs[0].x < -7.0, "{:?}", obs[0]);
    }

    fn detection(x: f64, y: f64, confidence: f64) -> Detection {
        Detection { class: ObjectClass::Car, x, y, vx: 3.0, vy: 0.0, heading: 0.0, length: 4.5, width: 1.8, confidence }
    }

    #[test]
    fn detections_fuse_with_clusters_and_weak_ghosts_are_dropped() {
        let scan = scan_of(&[car(15.0, 0.0)], 720, None);
        let dets = [detection(15.1, 0.1, 0.6), detection(30.0, -5.0, 0.2), detection(40.0, 5.0, 0.8)];
        let mut p = Perception::new(PerceptionConfig::default());
        let obs = p.process(&EgoEstimate::default(), Some(&scan), Some(&dets), Roi::Everywhere);
        assert_eq!(obs.len(), 2, "{obs:?}");
        assert_eq!(obs[0].source, ObstacleSource::Fused);
        assert_eq!(obs[0].class, ObjectClass::Car);
        assert!(obs[0].velocity_known && obs[0].vx == 3.0);
        assert_eq!(obs[1].source, ObstacleSource::Detector);
        assert_eq!(obs[1].x, 40.0);
    }

    #[test]
    fn a_displaced_detection_is_placed_where_the_lidar_saw_the_object() {
        // A car 20 m ahead and one beside the lane 12 m ahead, each detected a metre off in both
        // directions (a camera's depth error): fused, each box sits on its true place.
        let ahead = car(20.0, 0.0);
        let beside = OrientedBox { x: 12.0, y: 3.5, heading: 0.0, length: 4.5, width: 1.8 };
        let scan = scan_of(&[ahead, beside], 1440, None);
        let dets = [detection(19.0, 0.9, 0.9), detection(13.0, 2.6, 0.9)];
        let mut p = Perception::new(PerceptionConfig::default());
        let obs = p.process(&EgoEstimate::default(), Some(&scan), Some(&dets), Roi::Everywhere).to_vec();
        assert_eq!(obs.len(), 2, "{obs:?}");
        for o in &obs {
            let truth = if o.y > 2.0 { beside } else { ahead };
            assert_eq!(o.source, ObstacleSource::Fused);
            assert!(crate::geometry::norm(o.x - truth.x, o.y - truth.y) < 0.15, "{o:?} vs {truth:?}");
            assert_eq!((o.length, o.width), (4.5, 1.8), "the detector's size is kept");
        }
    }

    #[test]
    fn fusion_off_uses_the_lidar_alone() {
        let scan = scan_of(&[car(15.0, 0.0)], 720, None);
        let dets = [detection(15.1, 0.1, 0.9), detection(40.0, 5.0, 0.9)];
        let mut p = Perception::new(PerceptionConfig { fuse_detections: false, ..Default::default() });
        let obs = p.process(&EgoEstimate::default(), Some(&scan), Some(&dets), Roi::Everywhere);
        assert_eq!(obs.len(), 1);
        assert_eq!(obs[0].source, ObstacleSource::Lidar);
    }
}
