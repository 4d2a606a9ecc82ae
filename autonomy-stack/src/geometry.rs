//! Plane geometry shared by every module: angles, oriented boxes, ray casting and the road-aligned
//! (s, d) frame of a reference line: constant curvature (straight or circular arc, [`ArcFrame`]) or a
//! sampled polyline such as a route through a map's junctions ([`Polyline`]).
//!
//! All transcendental functions go through `libm` so results are bit-identical across targets.

use crate::interface::{LinePoint, OrientedBox, RoadMap};
use core::f64::consts::PI;
use std::sync::Arc;

/// Wraps an angle into [-π, π).
pub fn wrap_angle(a: f64) -> f64 {
    let two_pi = 2.0 * PI;
    let w = a - two_pi * libm::floor((a + PI) / two_pi);
    if w >= PI {
        w - two_pi
    } else {
        w
    }
}

/// Length of the vector (x, y). `sqrt` is correctly rounded (IEEE 754), so this is as portable as
/// libm's `hypot` and several times cheaper; the stack's magnitudes never approach overflow.
pub fn norm(x: f64, y: f64) -> f64 {
    (x * x + y * y).sqrt()
}

/// Euclidean distance between two points.
pub fn distance(ax: f64, ay: f64, bx: f64, by: f64) -> f64 {
    norm(bx - ax, by - ay)
}

/// Half the extent of a box (length along `heading`) projected on the direction `dir`.
pub fn projected_half_extent(length: f64, width: f64, heading: f64, dir: f64) -> f64 {
    let rel = heading - dir;
    0.5 * (libm::fabs(libm::cos(rel)) * length + libm::fabs(libm::sin(rel)) * width)
}

/// A point expressed in a box's own frame (x along the heading).
fn box_local(b: &OrientedBox, x: f64, y: f64) -> (f64, f64) {
    let (s, c) = (libm::sin(b.heading), libm::cos(b.heading));
    let (dx, dy) = (x - b.x, y - b.y);
    (c * dx + s * dy, -s * dx + c * dy)
}

/// Distance from a point to an oriented box (0 inside).
pub fn point_box_distance(b: &OrientedBox, x: f64, y: f64) -> f64 {
    let (lx, ly) = box_local(b, x, y);
    let ex = (libm::fabs(lx) - 0.5 * b.length).max(0.0);
    let ey = (libm::fabs(ly) - 0.5 * b.width).max(0.0);
    norm(ex, ey)
}

/// The four corners of an oriented box, counter-clockwise.
pub fn box_corners(b: &OrientedBox) -> [(f64, f64); 4] {
    let (s, c) = (libm::sin(b.heading), libm::cos(b.heading));
    let (hl, hw) = (0.5 * b.length, 0.5 * b.width);
    let corner = |u: f64, v: f64| (b.x + c * u - s * v, b.y + s * u + c * v);
    [corner(hl, hw), corner(-hl, hw), corner(-hl, -hw), corner(hl, -hw)]
}

/// Whether two oriented boxes overlap (separating-axis test).
pub fn boxes_overlap(a: &OrientedBox, b: &OrientedBox) -> bool {
    let ca = box_corners(a);
    let cb = box_corners(b);
    for heading in [a.heading, a.heading + 0.5 * PI, b.heading, b.heading + 0.5 * PI] {
        let (ux, uy) = (libm::cos(heading), libm::sin(heading));
        let project = |cs: &[(f64, f64); 4]| {
            cs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(x, y)| {
                let p = x * ux + y * uy;
                (lo.min(p), hi.max(p))
            })
        };
        let (alo, ahi) = project(&ca);
        let (blo, bhi) = project(&cb);
        if ahi < blo || bhi < alo {
            return false;
        }
    }
    true
}

/// Distance along a ray from (ox, oy) with direction `angle` to the first hit on the box, if any
/// (slab method in the box frame). A ray starting inside the box returns 0.
pub fn ray_box_distance(b: &OrientedBox, ox: f64, oy: f64, angle: f64) -> Option<f64> {
    let (lx, ly) = box_local(b, ox, oy);
    let rel = angle - b.heading;
    let (dx, dy) = (libm::cos(rel), libm::sin(rel));
    let (hl, hw) = (0.5 * b.length, 0.5 * b.width);
    let mut t_min = f64::NEG_INFINITY;
    let mut t_max = f64::INFINITY;
    for (o, d, h) in [(lx, dx, hl), (ly, dy, hw)] {
        if libm::fabs(d) < 1e-12 {
            if libm::fabs(o) > h {
                return None;
            }
        } else {
            let t1 = (-h - o) / d;
            let t2 = (h - o) / d;
            t_min = t_min.max(t1.min(t2));
            t_max = t_max.min(t1.max(t2));
        }
    }
    if t_max < t_min.max(0.0) {
        None
    } else {
        Some(t_min.max(0.0))
    }
}

/// A curvilinear frame along a reference line that starts at an origin pose and bends with
/// constant curvature: `s` is the arc length along the line, `d` the signed offset to its left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArcFrame {
    /// Origin x, metres.
    pub x: f64,
    /// Origin y, metres.
    pub y: f64,
    /// Heading at the origin, radians.
    pub heading: f64,
    /// Curvature, 1/m (positive turns left, 0 is straight).
    pub curvature: f64,
}

/// Below this curvature the line is treated as straight (radius above 10,000 km).
const STRAIGHT: f64 = 1e-7;

impl ArcFrame {
    /// The frame of a road map: origin (0, 0) heading +x with the road's curvature.
    pub fn of_road(road: &RoadMap) -> Self {
        Self { x: 0.0, y: 0.0, heading: 0.0, curvature: road.curvature }
    }

    /// Heading of the reference line at `s`.
    pub fn heading_at(&self, s: f64) -> f64 {
        wrap_angle(self.heading + self.curvature * s)
    }

    /// World position and line heading of the frame point (s, d).
    pub fn to_world(&self, s: f64, d: f64) -> (f64, f64, f64) {
        let (sh, ch) = (libm::sin(self.heading), libm::cos(self.heading));
        if libm::fabs(self.curvature) < STRAIGHT {
            return (self.x + ch * s - sh * d, self.y + sh * s + ch * d, self.heading);
        }
        let k = self.curvature;
        let th = self.heading + k * s;
        let (st, ct) = (libm::sin(th), libm::cos(th));
        // Centre of the circle, then the point on the reference line, then the lateral offset.
        let cx = self.x - sh / k;
        let cy = self.y + ch / k;
        let rx = cx + st / k;
        let ry = cy - ct / k;
        (rx - st * d, ry + ct * d, wrap_angle(th))
    }

    /// Frame coordinates (s, d) of a world point. On an arc, `s` is chosen as the wrap nearest to
    /// `s_hint` (the circle is ambiguous by whole turns).
    pub fn to_frame(&self, x: f64, y: f64, s_hint: f64) -> (f64, f64) {
        let (sh, ch) = (libm::sin(self.heading), libm::cos(self.heading));
        let (dx, dy) = (x - self.x, y - self.y);
        if libm::fabs(self.curvature) < STRAIGHT {
            return (ch * dx + sh * dy, -sh * dx + ch * dy);
        }
        let k = self.curvature;
        let cx = self.x - sh / k;
        let cy = self.y + ch / k;
        // a: centre -> origin; r: centre -> point.
        let (ax, ay) = (self.x - cx, self.y - cy);
        let (rx, ry) = (x - cx, y - cy);
        let phi = libm::atan2(ax * ry - ay * rx, ax * rx + ay * ry);
        let turn = 2.0 * PI / libm::fabs(k);
        let mut s = phi / k;
        s += turn * libm::round((s_hint - s) / turn);
        let radius = 1.0 / libm::fabs(k);
        let d = k.signum() * (radius - norm(rx, ry));
        (s, d)
    }

    /// Velocity (vx, vy) in the world expressed along and across the line at `s`.
    pub fn velocity_to_frame(&self, s: f64, vx: f64, vy: f64) -> (f64, f64) {
        let th = self.heading + self.curvature * s;
        let (st, ct) = (libm::sin(th), libm::cos(th));
        (ct * vx + st * vy, -st * vx + ct * vy)
    }
}

/// A reference line sampled as a polyline: positions are linear between samples and the heading
/// turns linearly from one sample's to the next, so a point at lateral offset `d` moves continuously
/// with `s`. Before the first and past the last sample the line runs straight on.
#[derive(Debug, Clone, PartialEq)]
pub struct Polyline {
    points: Vec<LinePoint>,
    /// Runs of [`BLOCK`] segments, each with a circle holding all its samples: a point farther
    /// from the circle than the best foot so far skips the whole run.
    blocks: Vec<Block>,
}

/// Segments per [`Block`].
const BLOCK: usize = 16;

/// A circle around the samples of segments `first..first + BLOCK` (fewer at the end).
#[derive(Debug, Clone, PartialEq)]
struct Block {
    first: usize,
    x: f64,
    y: f64,
    radius: f64,
}

/// Half-width of the window of `s` around the hint that [`Polyline::to_frame`] searches first, metres.
const PROJECT_BEHIND: f64 = 60.0;
/// How far ahead of the hint the first search looks, metres.
const PROJECT_AHEAD: f64 = 200.0;
/// A point farther than this from the line within the window is searched for over the whole line.
const PROJECT_FAR: f64 = 15.0;

impl Polyline {
    /// A polyline from samples in order of strictly increasing `s`; `None` with fewer than two samples
    /// or when `s` does not increase or a value is not finite.
    pub fn new(points: Vec<LinePoint>) -> Option<Self> {
        let finite =
            points.iter().all(|p| p.x.is_finite() && p.y.is_finite() && p.heading.is_finite() && p.s.is_finite());
        let increasing = points.windows(2).all(|w| w[1].s > w[0].s);
        if points.len() < 2 || !finite || !increasing {
            return None;
        }
        let segments = points.len() - 1;
        let blocks = (0..segments)
            .step_by(BLOCK)
            .map(|first| {
                let samples = &points[first..=(first + BLOCK).min(segments)];
                let (a, b) = (&samples[0], &samples[samples.len() - 1]);
                let (x, y) = (0.5 * (a.x + b.x), 0.5 * (a.y + b.y));
                let radius = samples.iter().map(|p| norm(p.x - x, p.y - y)).fold(0.0, f64::max);
                // A hair more, so that rounding never puts a sample outside its circle.
                Block { first, x, y, radius: radius * (1.0 + 1e-9) + 1e-9 }
            })
            .collect();
        Some(Self { points, blocks })
    }

    /// The samples.
    pub fn points(&self) -> &[LinePoint] {
        &self.points
    }

    /// Length of the line (its last sample's `s` less its first's).
    pub fn length(&self) -> f64 {
        self.points[self.points.len() - 1].s - self.points[0].s
    }

    /// The segment whose span holds `s` (the first or last one beyond the ends).
    fn segment(&self, s: f64) -> usize {
        let last = self.points.len() - 2;
        match self.points.binary_search_by(|p| p.s.total_cmp(&s)) {
            Ok(i) => i.min(last),
            Err(0) => 0,
            Err(i) => (i - 1).min(last),
        }
    }

    /// Fraction `t` of segment `i` at `s` (outside [0, 1] beyond the line's ends only).
    fn fraction(&self, i: usize, s: f64) -> f64 {
        let (a, b) = (&self.points[i], &self.points[i + 1]);
        let t = (s - a.s) / (b.s - a.s);
        let last = self.points.len() - 2;
        match (i == 0, i == last) {
            (true, true) => t,
            (true, false) => t.min(1.0),
            (false, true) => t.max(0.0),
            (false, false) => t.clamp(0.0, 1.0),
        }
    }

    /// Heading on segment `i` at fraction `t` (held beyond the ends).
    fn heading_on(&self, i: usize, t: f64) -> f64 {
        let (a, b) = (&self.points[i], &self.points[i + 1]);
        a.heading + wrap_angle(b.heading - a.heading) * t.clamp(0.0, 1.0)
    }

    /// Position on the line on segment `i` at fraction `t`.
    fn base_on(&self, i: usize, t: f64) -> (f64, f64) {
        let (a, b) = (&self.points[i], &self.points[i + 1]);
        (a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t)
    }

    /// Heading of the line at `s`, radians.
    pub fn heading_at(&self, s: f64) -> f64 {
        let i = self.segment(s);
        wrap_angle(self.heading_on(i, self.fraction(i, s)))
    }

    /// Curvature of the line at `s` (the heading's rate of turn on its segment), 1/m.
    pub fn curvature_at(&self, s: f64) -> f64 {
        let i = self.segment(s);
        let (a, b) = (&self.points[i], &self.points[i + 1]);
        wrap_angle(b.heading - a.heading) / (b.s - a.s)
    }

    /// World position and line heading of the frame point (s, d).
    pub fn to_world(&self, s: f64, d: f64) -> (f64, f64, f64) {
        let i = self.segment(s);
        let t = self.fraction(i, s);
        let (bx, by) = self.base_on(i, t);
        let h = self.heading_on(i, t);
        (bx - libm::sin(h) * d, by + libm::cos(h) * d, wrap_angle(h))
    }

    /// Squared distance from a world point to the chord of segment `i` (between its two samples).
    fn chord_distance2(&self, i: usize, x: f64, y: f64) -> f64 {
        let (a, b) = (&self.points[i], &self.points[i + 1]);
        let (ex, ey) = (b.x - a.x, b.y - a.y);
        let t = (((x - a.x) * ex + (y - a.y) * ey) / (ex * ex + ey * ey).max(1e-12)).clamp(0.0, 1.0);
        let (dx, dy) = (x - a.x - ex * t, y - a.y - ey * t);
        dx * dx + dy * dy
    }

    /// The foot of a world point on segment `i`: (s, d, squared distance to the foot). Four fixed
    /// Newton steps put the foot where the interpolated normal passes through the point, so
    /// [`Self::to_world`] gives the point back.
    fn project_on(&self, i: usize, x: f64, y: f64) -> (f64, f64, f64) {
        let (a, b) = (&self.points[i], &self.points[i + 1]);
        let (ex, ey) = (b.x - a.x, b.y - a.y);
        let chord2 = (ex * ex + ey * ey).max(1e-12);
        let last = self.points.len() - 2;
        let clamp = |t: f64| match (i == 0, i == last) {
            (true, true) => t,
            (true, false) => t.min(1.0),
            (false, true) => t.max(0.0),
            (false, false) => t.clamp(0.0, 1.0),
        };
        let dh = wrap_angle(b.heading - a.heading);
        let mut t = clamp(((x - a.x) * ex + (y - a.y) * ey) / chord2);
        for _ in 0..4 {
            let h = self.heading_on(i, t);
            let (c, sn) = (libm::cos(h), libm::sin(h));
            let (bx, by) = self.base_on(i, t);
            let along = (x - bx) * c + (y - by) * sn;
            let d = -sn * (x - bx) + c * (y - by);
            // d(along)/dt is -(e·T) + d·dh: the normal turns with the heading.
            let rate = (ex * c + ey * sn - d * dh).max(1e-6);
            t = clamp(t + along / rate);
        }
        let (bx, by) = self.base_on(i, t);
        let h = self.heading_on(i, t);
        let (c, sn) = (libm::cos(h), libm::sin(h));
        let d = -sn * (x - bx) + c * (y - by);
        let along = c * (x - bx) + sn * (y - by);
        let s = a.s + (b.s - a.s) * t;
        // A foot clamped to the segment's end leaves the point off its normal: it counts as farther,
        // so the segment whose normal passes through the point wins.
        (s, d, d * d + 100.0 * along * along)
    }

    /// The nearest foot over segments `range`; ties keep the first. A segment whose chord is
    /// farther from the point than the best foot so far is skipped without its Newton steps: its
    /// foot lies on the chord (an inner segment clamps `t` to [0, 1]) and the foot's measure,
    /// d² + 100 along², is at least the squared distance to it, so it could not win. A run of
    /// segments whose circle is that far is skipped whole, and the nearest run is searched first
    /// so that the first foot is already close. The first and last segments run straight on past
    /// their ends and are always projected. Which foot wins does not depend on the order: the
    /// smallest measure, and among equal measures the lowest segment.
    fn nearest_in(&self, range: core::ops::Range<usize>, x: f64, y: f64) -> Option<(f64, f64, f64)> {
        if range.is_empty() {
            return None;
        }
        let last = self.points.len() - 2;
        // Squared distance from the point to a block's circle (0 inside it).
        let gap2 = |b: &Block| {
            let g = (norm(x - b.x, y - b.y) - b.radius).max(0.0);
            g * g
        };
        let blocks = &self.blocks[range.start / BLOCK..=(range.end - 1) / BLOCK];
        let nearest_block = blocks
            .iter()
            .map(gap2)
            .enumerate()
            .fold((0, f64::INFINITY), |m, (k, g)| if g < m.1 { (k, g) } else { m })
            .0;
        let order = core::iter::once(&blocks[nearest_block])
            .chain(blocks.iter().enumerate().filter(|(k, _)| *k != nearest_block).map(|(_, b)| b));
        let span = |b: &Block| b.first.max(range.start)..(b.first + BLOCK).min(range.end);
        // The first foot: on the nearest run's segment whose chord is nearest.
        let seed = span(&blocks[nearest_block])
            .map(|i| (i, self.chord_distance2(i, x, y)))
            .fold(None, |m: Option<(usize, f64)>, c| if m.is_none_or(|m| c.1 < m.1) { Some(c) } else { m })
            .map_or(range.start, |(i, _)| i);
        let slack = |b: f64| b * (1.0 + 1e-9) + 1e-9;
        let mut best = Some((seed, self.project_on(seed, x, y)));
        for block in order {
            let ends = block.first == 0 || block.first + BLOCK > last;
            if let Some((_, b)) = best.filter(|_| !ends) {
                if gap2(block) > slack(b.2) {
                    continue;
                }
            }
            for i in span(block).filter(|&i| i != seed) {
                if let Some((_, b)) = best.filter(|_| i != 0 && i != last) {
                    // A hair of slack keeps rounding from skipping a segment that would have won.
                    if self.chord_distance2(i, x, y) > slack(b.2) {
                        continue;
                    }
                }
                let foot = self.project_on(i, x, y);
                if best.is_none_or(|(j, b)| foot.2 < b.2 || (foot.2 == b.2 && i < j)) {
                    best = Some((i, foot));
                }
            }
        }
        best.map(|(_, foot)| foot)
    }

    /// Frame coordinates (s, d) of a world point: its nearest foot on the segments within a window
    /// around `s_hint` (60 m behind to 200 m ahead), or on the whole line when the point is farther
    /// than 15 m from that window. Deterministic: a fixed search order, ties keep the first.
    pub fn to_frame(&self, x: f64, y: f64, s_hint: f64) -> (f64, f64) {
        let lo = self.segment(s_hint - PROJECT_BEHIND);
        let hi = self.segment(s_hint + PROJECT_AHEAD) + 1;
        let near = self.nearest_in(lo..hi, x, y);
        let whole = 0..self.points.len() - 1;
        let found = match near {
            Some(f) if f.2 <= PROJECT_FAR * PROJECT_FAR => Some(f),
            // The window already was the whole line (a short route): searching it again would find
            // the same foot.
            _ if (lo..hi) == whole => near,
            _ => self.nearest_in(whole, x, y),
        };
        found.map_or((s_hint, 0.0), |(s, d, _)| (s, d))
    }

    /// Frame coordinates (s, d) of a world point's nearest foot on the whole line (no hint).
    pub fn to_frame_nearest(&self, x: f64, y: f64) -> (f64, f64) {
        self.nearest_in(0..self.points.len() - 1, x, y).map_or((0.0, 0.0), |(s, d, _)| (s, d))
    }

    /// The highest speed at `s0` from which the line ahead (up to `reach` metres) can be driven with
    /// at most `lateral_accel` in its curves, braking at `decel` before them.
    pub fn curve_speed_cap(&self, s0: f64, reach: f64, lateral_accel: f64, decel: f64) -> f64 {
        let i0 = self.segment(s0);
        let mut cap = f64::INFINITY;
        for i in i0..self.points.len() - 1 {
            let (a, b) = (&self.points[i], &self.points[i + 1]);
            if a.s > s0 + reach {
                break;
            }
            let k = libm::fabs(wrap_angle(b.heading - a.heading) / (b.s - a.s));
            if k < 1e-6 {
                continue;
            }
            let ahead = (a.s - s0).max(0.0);
            cap = cap.min(libm::sqrt(lateral_accel / k + 2.0 * decel * ahead));
        }
        cap
    }
}

/// The reference line of a road's (s, d) frame.
#[derive(Debug, Clone, PartialEq)]
pub enum LineFrame {
    /// Constant curvature from an origin pose (the single-road shorthand).
    Arc(ArcFrame),
    /// A sampled polyline (a route on a map), shared.
    Polyline(Arc<Polyline>),
}

impl LineFrame {
    /// Heading of the reference line at `s`.
    pub fn heading_at(&self, s: f64) -> f64 {
        match self {
            Self::Arc(f) => f.heading_at(s),
            Self::Polyline(p) => p.heading_at(s),
        }
    }

    /// World position and line heading of the frame point (s, d).
    pub fn to_world(&self, s: f64, d: f64) -> (f64, f64, f64) {
        match self {
            Self::Arc(f) => f.to_world(s, d),
            Self::Polyline(p) => p.to_world(s, d),
        }
    }

    /// Frame coordinates (s, d) of a world point, continuous near `s_hint`.
    pub fn to_frame(&self, x: f64, y: f64, s_hint: f64) -> (f64, f64) {
        match self {
            Self::Arc(f) => f.to_frame(x, y, s_hint),
            Self::Polyline(p) => p.to_frame(x, y, s_hint),
        }
    }

    /// Velocity (vx, vy) in the world expressed along and across the line at `s`.
    pub fn velocity_to_frame(&self, s: f64, vx: f64, vy: f64) -> (f64, f64) {
        match self {
            Self::Arc(f) => f.velocity_to_frame(s, vx, vy),
            Self::Polyline(p) => {
                let th = p.heading_at(s);
                let (st, ct) = (libm::sin(th), libm::cos(th));
                (ct * vx + st * vy, -st * vx + ct * vy)
            }
        }
    }
}

/// The road seen as lanes in its (s, d) frame.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadGeometry {
    /// The road map.
    pub map: RoadMap,
    /// Its reference-line frame.
    pub frame: LineFrame,
}

impl RoadGeometry {
    /// Geometry of a road map: its polyline when it has one (a line that is not a valid polyline
    /// falls back to the arc; the mission check rejects it first), else its arc.
    pub fn new(map: RoadMap) -> Self {
        let frame = match Polyline::new(map.line.clone()) {
            Some(p) if !map.line.is_empty() => LineFrame::Polyline(Arc::new(p)),
            _ => LineFrame::Arc(ArcFrame::of_road(&map)),
        };
        Self { map, frame }
    }

    /// Total width of the road, metres.
    pub fn width(&self) -> f64 {
        f64::from(self.map.lanes) * self.map.lane_width
    }

    /// Lateral offset of the centre of lane `lane`.
    pub fn lane_centre(&self, lane: u32) -> f64 {
        (f64::from(lane) + 0.5) * self.map.lane_width
    }

    /// The lane containing lateral offset `d`, clamped to the road's lanes.
    pub fn lane_of(&self, d: f64) -> u32 {
        let raw = libm::floor(d / self.map.lane_width);
        if raw.is_nan() || raw < 0.0 {
            0
        } else {
            (raw as u32).min(self.map.lanes.saturating_sub(1))
        }
    }

    /// Whether lateral offset `d` lies on the road.
    pub fn on_road(&self, d: f64) -> bool {
        d >= 0.0 && d <= self.width()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn road(curvature: f64) -> RoadGeometry {
        RoadGeometry::new(RoadMap {
            lanes: 3,
            lane_width: 3.5,
            length: 500.0,
            curvature,
            speed_limit: 20.0,
            line: Vec::new(),
            kind: None,
        })
    }

    /// An L-shaped polyline: 50 m east, a quarter turn left of radius 10 m, 50 m north, sampled
    /// every metre.
    fn l_shape() -> Polyline {
        let mut pts = Vec::new();
        let mut s = 0.0;
        let mut push = |x: f64, y: f64, heading: f64, pts: &mut Vec<LinePoint>| {
            if let Some(p) = pts.last() {
                let p: &LinePoint = p;
                s += norm(x - p.x, y - p.y);
            }
            pts.push(LinePoint { x, y, heading, s });
        };
        for i in 0..50 {
            push(f64::from(i), 0.0, 0.0, &mut pts);
        }
        for k in 0..=16 {
            let a = 0.5 * PI * f64::from(k) / 16.0;
            push(50.0 + 10.0 * libm::sin(a), 10.0 - 10.0 * libm::cos(a), a, &mut pts);
        }
        for i in 1..=50 {
            push(60.0, 10.0 + f64::from(i), 0.5 * PI, &mut pts);
        }
        Polyline::new(pts).expect("valid polyline")
    }

    #[test]
    fn polyline_frame_round_trips_and_is_continuous_through_a_turn() {
        let p = l_shape();
        for s in [0.0, 10.3, 49.5, 55.0, 57.0, 64.0, 70.0, 100.0, 115.0] {
            for d in [-1.75, 0.0, 1.75, 5.25] {
                let (x, y, _) = p.to_world(s, d);
                let (s2, d2) = p.to_frame(x, y, s);
                assert!(libm::fabs(s2 - s) < 1e-3 && libm::fabs(d2 - d) < 1e-3, "({s},{d}) -> ({s2},{d2})");
            }
        }
        // Walking along the lane centre 1.75 m left of the line, (s, d) moves in small steps only.
        let mut prev = p.to_frame(0.0, 1.75, 0.0);
        let mut x: f64 = 0.0;
        while x < 58.25 {
            x += 0.25;
            let (s, d) = p.to_frame(x.min(58.25), 1.75, prev.0);
            assert!(
                libm::fabs(s - prev.0) < 0.6 && libm::fabs(d - prev.1) < 0.3,
                "jump at x={x}: {prev:?} -> ({s},{d})"
            );
            prev = (s, d);
        }
        // After the turn the line heads north; the left of it is west.
        let (x, y, h) = p.to_world(p.length() - 1.0, 2.0);
        assert!(libm::fabs(x - 58.0) < 1e-9 && libm::fabs(h - 0.5 * PI) < 1e-9 && y > 50.0, "({x},{y},{h})");
        assert!(libm::fabs(p.curvature_at(57.0) - 0.1) < 0.01, "{}", p.curvature_at(57.0));
        // A car may take the 10 m turn at about sqrt(1.5 / 0.1) m/s, more from farther away.
        let at_turn = p.curve_speed_cap(50.0, 100.0, 1.5, 2.0);
        let before = p.curve_speed_cap(0.0, 100.0, 1.5, 2.0);
        assert!(at_turn < 4.1 && before > 10.0 && before < 15.0, "{at_turn} {before}");
    }

    #[test]
    fn the_pruned_nearest_foot_is_bit_for_bit_the_one_every_segment_would_give() {
        let p = l_shape();
        let brute = |x: f64, y: f64| {
            let mut best: Option<(f64, f64, f64)> = None;
            for i in 0..p.points().len() - 1 {
                let foot = p.project_on(i, x, y);
                if best.is_none_or(|b| foot.2 < b.2) {
                    best = Some(foot);
                }
            }
            best
        };
        // A grid over and around the L, inside and outside the turn, near and far, plus points
        // straight above a sample, whose feet on the two segments meeting there tie.
        let mut checked = 0;
        for xi in -20..=100 {
            for yi in -30..=80 {
                let (x, y) = (f64::from(xi) * 0.83, f64::from(yi) * 0.91);
                let fast = p.nearest_in(0..p.points().len() - 1, x, y);
                let slow = brute(x, y);
                assert_eq!(
                    fast.map(|f| (f.0.to_bits(), f.1.to_bits())),
                    slow.map(|f| (f.0.to_bits(), f.1.to_bits())),
                    "({x},{y})"
                );
                checked += 1;
            }
        }
        for k in 1..50 {
            let (x, y) = (f64::from(k), 3.0);
            assert_eq!(p.nearest_in(0..p.points().len() - 1, x, y), brute(x, y), "({x},{y})");
        }
        assert!(checked > 10_000);
    }

    #[test]
    fn road_geometry_takes_the_polyline_when_the_map_has_one() {
        let line = l_shape().points().to_vec();
        let g = RoadGeometry::new(RoadMap {
            lanes: 1,
            lane_width: 3.5,
            length: 116.0,
            curvature: 0.0,
            speed_limit: 10.0,
            line,
            kind: None,
        });
        assert!(matches!(g.frame, LineFrame::Polyline(_)));
        assert!(matches!(road(0.01).frame, LineFrame::Arc(_)));
        assert!(Polyline::new(vec![LinePoint { x: 0.0, y: 0.0, heading: 0.0, s: 0.0 }]).is_none());
    }

    #[test]
    fn wrap_angle_lands_in_range() {
        for a in [-10.0, -PI, -0.1, 0.0, 3.0, PI, 7.0, 100.0] {
            let w = wrap_angle(a);
            assert!((-PI..PI).contains(&w), "{a} -> {w}");
            assert!(libm::fabs(libm::sin(w) - libm::sin(a)) < 1e-9);
            assert!(libm::fabs(libm::cos(w) - libm::cos(a)) < 1e-9);
        }
    }

    #[test]
    fn frame_round_trips_on_straight_and_curved_roads() {
        for k in [0.0, 0.01, -0.02, 0.005] {
            let r = road(k);
            for &(s, d) in &[(0.0, 0.0), (10.0, 1.75), (120.0, 8.75), (250.0, -1.0), (400.0, 5.25)] {
                let (x, y, _) = r.frame.to_world(s, d);
                let (s2, d2) = r.frame.to_frame(x, y, s);
                assert!(libm::fabs(s2 - s) < 1e-6 && libm::fabs(d2 - d) < 1e-6, "k={k} ({s},{d}) -> ({s2},{d2})");
            }
        }
    }

    #[test]
    fn lane_centres_follow_the_arc() {
        // Radius 100 m turning left: after a quarter circle the reference line points +y, at (100, 100);
        // lane 0's centre (d = 1.75) is 1.75 m closer to the centre of the circle at (0, 100).
        let r = road(0.01);
        let quarter = 0.5 * PI * 100.0;
        let (x, y, h) = r.frame.to_world(quarter, r.lane_centre(0));
        assert!(libm::fabs(x - 98.25) < 1e-9 && libm::fabs(y - 100.0) < 1e-9, "({x}, {y})");
        assert!(libm::fabs(h - 0.5 * PI) < 1e-9);
        assert_eq!(r.lane_of(1.75), 0);
        assert_eq!(r.lane_of(9.0), 2);
        assert_eq!(r.lane_of(-3.0), 0);
        assert_eq!(r.lane_of(20.0), 2);
    }

    #[test]
    fn rays_hit_boxes_at_the_right_range() {
        let b = OrientedBox { x: 10.0, y: 0.0, heading: 0.3, length: 4.0, width: 2.0 };
        let hit = ray_box_distance(&b, 0.0, 0.0, 0.0).unwrap();
        assert!(hit > 7.5 && hit < 9.0, "{hit}");
        assert!(ray_box_distance(&b, 0.0, 0.0, PI).is_none());
        assert!(ray_box_distance(&b, 0.0, 0.0, 0.5).is_none());
        let h = ray_box_distance(&b, 0.0, 0.0, 0.0).unwrap();
        assert!(point_box_distance(&b, h, 0.0) < 1e-9);
    }

    #[test]
    fn separating_axis_detects_overlap_and_gaps() {
        let a = OrientedBox { x: 0.0, y: 0.0, heading: 0.0, length: 4.0, width: 2.0 };
        let mut b = OrientedBox { x: 3.9, y: 0.0, heading: 0.0, length: 4.0, width: 2.0 };
        assert!(boxes_overlap(&a, &b));
        b.x = 4.1;
        assert!(!boxes_overlap(&a, &b));
        b = OrientedBox { x: 3.0, y: 2.0, heading: 0.785, length: 2.0, width: 1.0 };
        assert!(!boxes_overlap(&a, &b));
    }
}
