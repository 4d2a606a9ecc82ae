//! Road geometry: conversion between the world frame and the road frame (s along the reference
//! line, d to its left). The reference line is the right edge of lane 0: for the single-road
//! shorthand it starts at the origin heading +x, straight or of constant curvature; on a map it is
//! a polyline along the ego's route (the same [`Polyline`] the stack is handed as its map).

use std::sync::Arc;

use autonomy_stack::geometry::Polyline;
use scenario_dsl::model::Road;

/// A road's geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadFrame {
    /// Number of lanes.
    pub lanes: u32,
    /// Lane width, metres.
    pub lane_width: f64,
    /// Length, metres.
    pub length: f64,
    /// Curvature, 1/metres.
    pub curvature: f64,
    /// Speed limit, m/s.
    pub speed_limit: f64,
    /// The polyline reference line of a map route (`None`: the arc of `curvature`).
    pub line: Option<Arc<Polyline>>,
}

impl RoadFrame {
    /// The frame of a scenario's road.
    pub fn new(r: &Road<f64>) -> Self {
        Self {
            lanes: r.lanes,
            lane_width: r.lane_width,
            length: r.length,
            curvature: r.curvature,
            speed_limit: r.speed_limit,
            line: None,
        }
    }

    /// The frame of a polyline reference line (a route on a map).
    pub fn polyline(line: Polyline, lanes: u32, lane_width: f64, speed_limit: f64) -> Self {
        Self { lanes, lane_width, length: line.length(), curvature: 0.0, speed_limit, line: Some(Arc::new(line)) }
    }

    /// Lateral offset of lane `lane`'s centre.
    pub fn lane_centre(&self, lane: u32) -> f64 {
        (f64::from(lane) + 0.5) * self.lane_width
    }

    /// Total width of the road.
    pub fn width(&self) -> f64 {
        f64::from(self.lanes) * self.lane_width
    }

    /// The lane containing lateral offset `d`, if on the road.
    pub fn lane_at(&self, d: f64) -> Option<u32> {
        if d < 0.0 || d >= self.width() {
            return None;
        }
        Some((d / self.lane_width) as u32)
    }

    /// World pose (x, y, heading) of road point (s, d).
    pub fn to_world(&self, s: f64, d: f64) -> (f64, f64, f64) {
        if let Some(line) = &self.line {
            return line.to_world(s, d);
        }
        if self.curvature == 0.0 {
            return (s, d, 0.0);
        }
        let r = 1.0 / self.curvature;
        let theta = s * self.curvature;
        let x = (r - d) * libm::sin(theta);
        let y = r - (r - d) * libm::cos(theta);
        (x, y, theta)
    }

    /// Road coordinates (s, d) of world point (x, y).
    pub fn to_road(&self, x: f64, y: f64) -> (f64, f64) {
        if let Some(line) = &self.line {
            return line.to_frame_nearest(x, y);
        }
        if self.curvature == 0.0 {
            return (x, y);
        }
        let r = 1.0 / self.curvature;
        let sign = r.signum();
        let theta = libm::atan2(x * sign, (r - y) * sign);
        let d = r - sign * libm::hypot(x, r - y);
        (theta * r, d)
    }

    /// Heading of the road at `s`, radians.
    pub fn heading_at(&self, s: f64) -> f64 {
        if let Some(line) = &self.line {
            return line.heading_at(s);
        }
        s * self.curvature
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn road(curvature: f64) -> RoadFrame {
        RoadFrame { lanes: 3, lane_width: 3.5, length: 500.0, curvature, speed_limit: 30.0, line: None }
    }

    #[test]
    fn road_and_world_frames_round_trip_on_curves_both_ways() {
        for k in [0.0, 0.004, -0.004] {
            let r = road(k);
            for (s, d) in [(0.0, 0.0), (120.0, 1.75), (300.0, 8.0), (450.0, -1.0)] {
                let (x, y, _) = r.to_world(s, d);
                let (s2, d2) = r.to_road(x, y);
                assert!((s - s2).abs() < 1e-9 && (d - d2).abs() < 1e-9, "k={k} ({s},{d}) -> ({s2},{d2})");
            }
        }
        // A left-curving road: d to the left of the reference line is inside the curve.
        let (x, y, h) = road(0.01).to_world(std::f64::consts::FRAC_PI_2 * 100.0, 0.0);
        assert!(
            (x - 100.0).abs() < 1e-9 && (y - 100.0).abs() < 1e-9 && (h - std::f64::consts::FRAC_PI_2).abs() < 1e-12
        );
    }

    #[test]
    fn lanes_are_numbered_from_the_right() {
        let r = road(0.0);
        assert_eq!(r.lane_at(0.1), Some(0));
        assert_eq!(r.lane_at(r.lane_centre(2)), Some(2));
        assert_eq!(r.lane_at(-0.1), None);
        assert_eq!(r.lane_at(10.5), None);
    }
}
