//! Plane geometry shared by every module: angles, oriented boxes, ray casting and the road-aligned
//! (s, d) frame of a reference line with constant curvature (straight or circular arc).
//!
//! All transcendental functions go through `libm` so results are bit-identical across targets.

use crate::interface::{OrientedBox, RoadMap};
use core::f64::consts::PI;

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

/// The road seen as lanes in its (s, d) frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoadGeometry {
    /// The road map.
    pub map: RoadMap,
    /// Its reference-line frame.
    pub frame: ArcFrame,
}

impl RoadGeometry {
    /// Geometry of a road map.
    pub fn new(map: RoadMap) -> Self {
        Self { map, frame: ArcFrame::of_road(&map) }
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
        RoadGeometry::new(RoadMap { lanes: 3, lane_width: 3.5, length: 500.0, curvature, speed_limit: 20.0 })
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
