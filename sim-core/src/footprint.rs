//! Oriented footprints (2-D boxes) and the geometry the oracles need: time-to-collision under
//! constant velocity by the separating-axis theorem, and the distance between two footprints.
//! All in f64 with IEEE basic operations and libm, so results are identical everywhere.

/// An oriented rectangle in the plane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Footprint {
    /// Centre x, metres.
    pub x: f64,
    /// Centre y, metres.
    pub y: f64,
    /// Heading, radians.
    pub heading: f64,
    /// Extent along the heading, metres.
    pub length: f64,
    /// Extent across the heading, metres.
    pub width: f64,
}

impl Footprint {
    /// The four corners, counter-clockwise from front-left.
    pub fn corners(&self) -> [(f64, f64); 4] {
        let (s, c) = (libm::sin(self.heading), libm::cos(self.heading));
        let (hl, hw) = (0.5 * self.length, 0.5 * self.width);
        let at = |a: f64, b: f64| (self.x + a * c - b * s, self.y + a * s + b * c);
        [at(hl, hw), at(-hl, hw), at(-hl, -hw), at(hl, -hw)]
    }

    fn axes(&self) -> [(f64, f64); 2] {
        let (s, c) = (libm::sin(self.heading), libm::cos(self.heading));
        [(c, s), (-s, c)]
    }
}

fn project(corners: &[(f64, f64); 4], axis: (f64, f64)) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for &(x, y) in corners {
        let p = x * axis.0 + y * axis.1;
        lo = lo.min(p);
        hi = hi.max(p);
    }
    (lo, hi)
}

/// Seconds until `a` and `b` first touch if each keeps its velocity (`va`, `vb`), looking at most
/// `horizon` seconds ahead. `Some(0.0)` when they already overlap; `None` when they never meet.
pub fn time_to_collision(a: &Footprint, va: (f64, f64), b: &Footprint, vb: (f64, f64), horizon: f64) -> Option<f64> {
    let (ca, cb) = (a.corners(), b.corners());
    // Relative motion of b as seen from a.
    let rel = (vb.0 - va.0, vb.1 - va.1);
    let mut enter: f64 = 0.0;
    let mut exit = horizon;
    for axis in a.axes().into_iter().chain(b.axes()) {
        let (alo, ahi) = project(&ca, axis);
        let (blo, bhi) = project(&cb, axis);
        let v = rel.0 * axis.0 + rel.1 * axis.1;
        if v == 0.0 {
            if bhi < alo || blo > ahi {
                return None;
            }
            continue;
        }
        // Times at which b's interval starts and stops overlapping a's along this axis.
        let t0 = (alo - bhi) / v;
        let t1 = (ahi - blo) / v;
        let (t0, t1) = if t0 < t1 { (t0, t1) } else { (t1, t0) };
        enter = enter.max(t0);
        exit = exit.min(t1);
        if enter > exit {
            return None;
        }
    }
    Some(enter)
}

fn segment_point_distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 { 0.0 } else { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) };
    libm::hypot(p.0 - (a.0 + t * dx), p.1 - (a.1 + t * dy))
}

/// A lower bound on [`distance`], cheap: the centres' distance less both half-diagonals (every
/// point of a footprint lies within its half-diagonal of its centre), less a micrometre for
/// rounding, so `distance(a, b) >= distance_lower_bound(a, b)` holds for the computed values too.
pub fn distance_lower_bound(a: &Footprint, b: &Footprint) -> f64 {
    let reach = 0.5 * (libm::hypot(a.length, a.width) + libm::hypot(b.length, b.width));
    libm::hypot(a.x - b.x, a.y - b.y) - reach - 1e-6
}

/// Smallest distance between the two footprints; 0 when they overlap.
pub fn distance(a: &Footprint, b: &Footprint) -> f64 {
    if time_to_collision(a, (0.0, 0.0), b, (0.0, 0.0), 0.0) == Some(0.0) {
        return 0.0;
    }
    let (ca, cb) = (a.corners(), b.corners());
    let mut best = f64::INFINITY;
    for (poly, other) in [(&ca, &cb), (&cb, &ca)] {
        for &p in poly.iter() {
            for i in 0..4 {
                best = best.min(segment_point_distance(p, other[i], other[(i + 1) % 4]));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn car(x: f64, y: f64, heading: f64) -> Footprint {
        Footprint { x, y, heading, length: 4.0, width: 2.0 }
    }

    #[test]
    fn the_lower_bound_never_exceeds_the_distance() {
        for i in 0..2000 {
            let f = f64::from(i);
            let a = Footprint { x: 0.0, y: 0.0, heading: 0.37 * f, length: 4.5, width: 1.8 };
            let b = Footprint {
                x: libm::sin(0.11 * f) * (0.5 + 0.02 * f),
                y: libm::cos(0.13 * f) * (0.5 + 0.02 * f),
                heading: 0.71 * f,
                length: 0.5 + 0.003 * f,
                width: 0.5 + 0.001 * f,
            };
            let (d, lb) = (distance(&a, &b), distance_lower_bound(&a, &b));
            assert!(lb <= d, "{a:?} {b:?}: {lb} > {d}");
        }
        // Tight when the corners face each other along the line between the centres.
        let a = Footprint { x: 0.0, y: 0.0, heading: 0.0, length: 4.0, width: 2.0 };
        let diag = libm::atan2(1.0, 2.0);
        let far = 10.0 + libm::hypot(2.0, 1.0) * 2.0;
        let b = Footprint { x: far * libm::cos(diag), y: far * libm::sin(diag), heading: 0.0, length: 4.0, width: 2.0 };
        assert!((distance(&a, &b) - distance_lower_bound(&a, &b)).abs() < 1e-5);
    }

    #[test]
    fn head_on_ttc_uses_the_footprints_not_the_centres() {
        // Centres 30 m apart, bumpers 26 m apart, closing at 10 m/s: 2.6 s, not 3.0 s.
        let t = time_to_collision(&car(0.0, 0.0, 0.0), (10.0, 0.0), &car(30.0, 0.0, 0.0), (0.0, 0.0), 10.0);
        assert!((t.unwrap() - 2.6).abs() < 1e-12);
    }

    #[test]
    fn parallel_lanes_never_collide_and_diverging_cars_have_no_ttc() {
        assert_eq!(time_to_collision(&car(0.0, 0.0, 0.0), (20.0, 0.0), &car(10.0, 3.5, 0.0), (5.0, 0.0), 10.0), None);
        assert_eq!(time_to_collision(&car(0.0, 0.0, 0.0), (5.0, 0.0), &car(10.0, 0.0, 0.0), (8.0, 0.0), 10.0), None);
    }

    #[test]
    fn a_crossing_pedestrian_is_hit_only_if_it_arrives_in_time() {
        let ped = |y: f64| Footprint { x: 20.0, y, heading: 0.0, length: 0.5, width: 0.5 };
        // The car covers the pedestrian's x (19.75..20.25) from t = 1.775 s to 2.225 s; the pedestrian's
        // edge reaches the car's side (y = -1) at t = (4.5 - 0.25 - 1) / 1.5 = 2.1667 s, inside that window.
        let t = time_to_collision(&car(0.0, 0.0, 0.0), (10.0, 0.0), &ped(-4.5), (0.0, 1.5), 10.0).unwrap();
        assert!((t - 3.25 / 1.5).abs() < 1e-12, "{t}");
        // Starting farther away, it arrives after the car has passed.
        assert_eq!(time_to_collision(&car(0.0, 0.0, 0.0), (10.0, 0.0), &ped(-8.0), (0.0, 1.5), 10.0), None);
    }

    #[test]
    fn distance_is_between_the_nearest_edges() {
        assert!((distance(&car(0.0, 0.0, 0.0), &car(10.0, 0.0, 0.0)) - 6.0).abs() < 1e-12);
        assert_eq!(distance(&car(0.0, 0.0, 0.0), &car(3.0, 1.0, 0.3)), 0.0);
        let rotated = car(0.0, 5.0, std::f64::consts::FRAC_PI_2);
        assert!((distance(&car(0.0, 0.0, 0.0), &rotated) - 2.0).abs() < 1e-9);
    }
}
