//! Crossing paths on a route (ADR 0029): gap acceptance against vehicles whose straight-line path
//! crosses the ego's route ahead, such as an oncoming car while the ego turns left across its lane,
//! or a car crossing a junction. Such a vehicle is never a leader (its speed along the route is
//! meaningless, and negative when it comes towards the ego): it is a conflict in time. The ego
//! either clears the conflict zone, with a margin, before the vehicle arrives there, or lets it
//! pass first, or it waits with its whole footprint outside the vehicle's lane (a wall at the
//! waiting point, which the IDM speed profile brakes for like any standing leader).
//!
//! The conflict zone is found geometrically: the ego's footprint is slid along its route in
//! [`SAMPLE_STEP`] steps; where the route's lane centre crosses the vehicle's path, the run of
//! footprints around the crossing that overlap the band the vehicle sweeps (its width plus
//! [`BAND_MARGIN`] on each side, along its velocity) is the zone. The waiting point is
//! [`WAIT_STANDOFF`] before the zone's first footprint. The vehicle's arrival and exit times are
//! its along-path distances to the zone at its current speed; the ego's are those of a start at
//! its current speed, accelerating at the comfortable rate to its desired speed.

use crate::geometry::{wrap_angle, LineFrame};
use crate::interface::ObjectClass;
use crate::prediction::Prediction;

/// Spacing of the ego footprints slid along the route, metres.
pub const SAMPLE_STEP: f64 = 0.5;
/// Number of footprints slid along the route: 45 m ahead of the ego.
const SAMPLES: usize = 91;
/// Lateral margin of a crossing vehicle's band beyond its sides, metres.
pub const BAND_MARGIN: f64 = 0.5;
/// How far along the route before its first footprint in the zone the ego waits, metres: a car's
/// side is about 0.8 m inside the edge of a 3.5 m lane, and a turning ego's corner comes towards
/// that lane at a shallow angle, so a few metres keep a waiting ego out of the vehicle's lane.
pub const WAIT_STANDOFF: f64 = 3.0;
/// Time margin between the ego leaving the conflict zone and the vehicle arriving there (or the
/// vehicle leaving and the ego arriving), seconds.
pub const GAP_MARGIN: f64 = 1.5;
/// Vehicles slower than this are not crossing anything, m/s.
const MOVING: f64 = 1.0;
/// A vehicle whose heading is within this of the route's at its position travels with the ego
/// (followed, not given way to), radians.
const ALONG: f64 = 0.5;
/// How many planning horizons ahead a vehicle's arrival still counts: beyond that it is not
/// considered (a planner that looks less far ahead accepts shorter gaps).
pub const HORIZONS: f64 = 2.0;
/// Share of the vehicle's maximum deceleration the ego may use to stop at a waiting point; needing
/// more, it is committed and goes on (stopping would leave it standing in the vehicle's path).
const STOP_SHARE: f64 = 0.8;
/// Gap between the ego's front and the waiting point's wall, metres.
pub const WAIT_GAP: f64 = 0.5;
/// Slowest speed assumed for the ego's passage through a conflict zone, m/s.
const MIN_PASS_SPEED: f64 = 2.0;

/// The ego as the crossing check sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TurnEgo {
    /// Along-route position of its centre, metres.
    pub s: f64,
    /// Lateral offset of its lane's centre, metres.
    pub d: f64,
    /// Speed, m/s.
    pub speed: f64,
    /// Half length, metres.
    pub half_length: f64,
    /// Half width, metres.
    pub half_width: f64,
    /// Speed it would drive through the zone at, m/s.
    pub go_speed: f64,
    /// Comfortable acceleration, m/s².
    pub accel: f64,
    /// Maximum deceleration, m/s².
    pub max_decel: f64,
}

/// One vehicle's conflict with the ego's route ahead.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conflict {
    /// The vehicle's track.
    pub track: u64,
    /// Route position of the ego's centre at its first footprint in the zone, metres.
    pub s_in: f64,
    /// Route position of the ego's centre at its last footprint in the zone, metres.
    pub s_out: f64,
    /// When the vehicle's footprint arrives in the zone, seconds from now.
    pub t_in: f64,
    /// When it has left it, seconds from now.
    pub t_out: f64,
}

/// What the ego should do about one conflict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// The gap is acceptable (the ego clears the zone before the vehicle, or the vehicle before the
    /// ego), or the ego is committed: no wall.
    Go,
    /// Wait with the front at `front` (the waiting point), metres along the route.
    Wait {
        /// The waiting point for the ego's front.
        front: f64,
    },
}

/// Time for the ego to cover `distance` metres from `v0`, accelerating at `a` up to `v_max`.
pub fn travel_time(distance: f64, v0: f64, a: f64, v_max: f64) -> f64 {
    if distance <= 0.0 {
        return 0.0;
    }
    let v_max = v_max.max(MIN_PASS_SPEED).max(v0);
    let a = a.max(0.1);
    let ramp = (v_max * v_max - v0 * v0) / (2.0 * a);
    if distance <= ramp {
        (libm::sqrt(v0 * v0 + 2.0 * a * distance) - v0) / a
    } else {
        (v_max - v0) / a + (distance - ramp) / v_max
    }
}

/// Whether a vehicle is one whose path may cross the route: a car, truck or cyclist that moves and
/// does not travel in the route's direction where it is.
pub fn crossing_candidate(frame: &LineFrame, p: &Prediction, s_hint: f64) -> bool {
    if !matches!(p.class, ObjectClass::Car | ObjectClass::Truck | ObjectClass::Cyclist) {
        return false;
    }
    let Some(first) = p.points.first() else { return false };
    if libm::hypot(p.vx, p.vy) < MOVING {
        return false;
    }
    let (s, _) = frame.to_frame(first.x, first.y, s_hint);
    libm::fabs(wrap_angle(libm::atan2(p.vy, p.vx) - frame.heading_at(s))) >= ALONG
}

/// The conflict zone of `p`'s straight-line path with the ego's route ahead, if the route's lane
/// centre crosses that path ahead (and the vehicle has not passed there yet) within `window`
/// seconds, at an angle rather than head-on.
///
/// The zone is the run of footprints around the crossing that overlap the vehicle's band, and only
/// that run: far from the vehicle its straight-line path drifts off its lane (3° is 2.6 m after 50
/// m), and an oncoming lane beside the ego's approach would otherwise seem to overlap it there.
pub fn conflict(frame: &LineFrame, ego: &TurnEgo, p: &Prediction, window: f64) -> Option<Conflict> {
    let first = p.points.first()?;
    let speed = libm::hypot(p.vx, p.vy);
    if speed < MOVING {
        return None;
    }
    let (ux, uy) = (p.vx / speed, p.vy / speed);
    let band = 0.5 * p.width + BAND_MARGIN;
    let half = 0.5 * p.length;
    let (hl, hw) = (ego.half_length, ego.half_width);
    // Per sample: whether the footprint overlaps the band, the vehicle's times there, and the side
    // of its path the lane centre is on.
    let mut samples = [Sample::default(); SAMPLES];
    let mut crossing = None;
    for k in 0..SAMPLES {
        let s = ego.s + k as f64 * SAMPLE_STEP;
        let (cx, cy, heading) = frame.to_world(s, ego.d);
        let (sh, ch) = (libm::sin(heading), libm::cos(heading));
        let (mut lat_lo, mut lat_hi, mut a_lo, mut a_hi) =
            (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for (l, w) in [(hl, hw), (hl, -hw), (-hl, hw), (-hl, -hw)] {
            let (x, y) = (cx + ch * l - sh * w, cy + sh * l + ch * w);
            let (rx, ry) = (x - first.x, y - first.y);
            let along = rx * ux + ry * uy;
            let lat = ux * ry - uy * rx;
            lat_lo = lat_lo.min(lat);
            lat_hi = lat_hi.max(lat);
            a_lo = a_lo.min(along);
            a_hi = a_hi.max(along);
        }
        // Along its path the vehicle's footprint covers this footprint between these times.
        let (t_in, t_out) = (((a_lo - half) / speed).max(0.0), (a_hi + half) / speed);
        let centre_lat = ux * (cy - first.y) - uy * (cx - first.x);
        let overlaps = lat_lo <= band && lat_hi >= -band && t_out > 0.0;
        samples[k] = Sample { s, overlaps, t_in, t_out, centre_lat };
        if crossing.is_none() && k > 0 && overlaps && (centre_lat > 0.0) != (samples[k - 1].centre_lat > 0.0) {
            crossing = Some((k, heading));
        }
    }
    let (k, heading) = crossing?;
    // Head-on (the path runs along the route against it where they meet: a car on the wrong side,
    // or an oncoming car on a bend whose straight-line extrapolation cuts the inside) is not a
    // crossing: the leader logic and the safety layer deal with it.
    if libm::fabs(wrap_angle(libm::atan2(uy, ux) - heading)) >= core::f64::consts::PI - ALONG {
        return None;
    }
    let lo = (0..=k).rev().take_while(|&i| samples[i].overlaps).last().unwrap_or(k);
    let hi = (k..SAMPLES).take_while(|&i| samples[i].overlaps).last().unwrap_or(k);
    let run = &samples[lo..=hi];
    let t_in = run.iter().map(|x| x.t_in).fold(f64::INFINITY, f64::min);
    let t_out = run.iter().map(|x| x.t_out).fold(0.0, f64::max);
    (t_in <= window).then_some(Conflict { track: p.track_id, s_in: samples[lo].s, s_out: samples[hi].s, t_in, t_out })
}

/// One footprint of the ego slid along its route.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    s: f64,
    overlaps: bool,
    t_in: f64,
    t_out: f64,
    centre_lat: f64,
}

/// Whether the ego may go given `z`, and where it waits otherwise.
pub fn decide(ego: &TurnEgo, z: &Conflict) -> Decision {
    if z.s_in <= ego.s {
        return Decision::Go; // already in the zone: clear it
    }
    let (entry, ego_front) = (z.s_in + ego.half_length, ego.s + ego.half_length);
    let room = entry - WAIT_GAP - ego_front;
    let needed = match (ego.speed, room) {
        (v, _) if v <= 0.0 => 0.0,
        (v, r) if r > 0.0 => v * v / (2.0 * r),
        _ => f64::INFINITY,
    };
    if needed > STOP_SHARE * ego.max_decel {
        return Decision::Go; // too late to stop outside the vehicle's path: committed
    }
    let enter = travel_time(z.s_in - ego.s, ego.speed, ego.accel, ego.go_speed);
    let clear = travel_time(z.s_out - ego.s, ego.speed, ego.accel, ego.go_speed);
    if clear + GAP_MARGIN <= z.t_in || z.t_out + GAP_MARGIN <= enter {
        Decision::Go
    } else {
        // At the waiting point, or where it is when it has already passed that point.
        Decision::Wait { front: (entry - WAIT_STANDOFF).max(ego_front + WAIT_GAP).min(entry) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{LineFrame, Polyline};
    use crate::interface::LinePoint;
    use crate::prediction::{PredictedPoint, PredictionModel};
    use std::sync::Arc;

    /// A route south along x = 0 for 60 m, then a left turn of radius 10 m to the east: the frame's
    /// line is the lane's right edge, so the lane centre is at d = 1.75.
    fn left_turn() -> LineFrame {
        let mut pts = Vec::new();
        let mut s = 0.0;
        for i in 0..=60 {
            pts.push(LinePoint { x: 0.0, y: 60.0 - f64::from(i), heading: -core::f64::consts::FRAC_PI_2, s });
            s += 1.0;
        }
        let r = 10.0;
        let n = 16;
        for i in 1..=n {
            let a = f64::from(i) / f64::from(n) * core::f64::consts::FRAC_PI_2;
            let heading = -core::f64::consts::FRAC_PI_2 + a;
            let (x, y) = (r - r * libm::cos(a), -r * libm::sin(a));
            let prev: &LinePoint = pts.last().unwrap_or_else(|| unreachable!());
            s += libm::hypot(x - prev.x, y - prev.y);
            pts.push(LinePoint { x, y, heading, s });
        }
        for i in 1..=40 {
            s += 1.0;
            pts.push(LinePoint { x: r + f64::from(i), y: -r, heading: 0.0, s });
        }
        LineFrame::Polyline(Arc::new(Polyline::new(pts).unwrap_or_else(|| unreachable!())))
    }

    /// An oncoming car in the lane to the ego's left (the frame's line is at x = 0, the ego's lane
    /// centre at x = 1.75 while it drives south, the oncoming lane's at x = 5.25) driving north at
    /// `speed` from `y`.
    fn oncoming(y: f64, speed: f64) -> Prediction {
        Prediction {
            track_id: 9,
            class: ObjectClass::Car,
            length: 4.6,
            width: 1.9,
            vx: 0.0,
            vy: speed,
            model: PredictionModel::ConstantVelocity,
            points: vec![PredictedPoint { t: 0.0, x: 5.25, y, heading: core::f64::consts::FRAC_PI_2 }],
        }
    }

    fn ego(s: f64, speed: f64) -> TurnEgo {
        TurnEgo { s, d: 1.75, speed, half_length: 2.3, half_width: 1.0, go_speed: 5.0, accel: 1.5, max_decel: 8.0 }
    }

    #[test]
    fn an_oncoming_car_crossing_the_turn_is_a_conflict_zone_beyond_the_turns_start() {
        let frame = left_turn();
        let p = oncoming(-60.0, 12.5);
        assert!(crossing_candidate(&frame, &p, 40.0), "oncoming is not travelling with the route");
        let z = conflict(&frame, &ego(40.0, 5.0), &p, 10.0).expect("its path crosses the turn");
        // The ego's footprint stays out of the band until it has turned into it: inside the turn.
        assert!(z.s_in > 58.0 && z.s_in < 66.0, "{z:?}");
        assert!(z.s_out > z.s_in && z.s_out < 80.0, "{z:?}");
        // 60 m away at 12.5 m/s: it arrives in under 5 s and is gone a second later.
        assert!(z.t_in > 3.0 && z.t_in < 5.0 && z.t_out > z.t_in, "{z:?}");
        // Far beyond the window: not yet a conflict.
        assert!(conflict(&frame, &ego(40.0, 5.0), &oncoming(-200.0, 12.5), 10.0).is_none());
        // Past the ego's route: none.
        assert!(conflict(&frame, &ego(40.0, 5.0), &oncoming(5.0, 12.5), 10.0).is_none());
        // Head-on along the ego's own lane (a car on the wrong side, or a bend's tangent): not a
        // crossing, the leader logic and the safety layer deal with it.
        let mut wrong_side = oncoming(-60.0, 12.5);
        wrong_side.points[0].x = 1.75;
        wrong_side.points[0].y = 0.0;
        assert!(conflict(&frame, &ego(0.0, 5.0), &wrong_side, 10.0).is_none());
    }

    #[test]
    fn the_ego_waits_outside_the_oncoming_lane_when_the_gap_is_short_and_goes_when_it_is_long() {
        let frame = left_turn();
        // 10 m before the turn at 5 m/s, the car 2.3 s from the zone: neither clears it first.
        let e = ego(50.0, 5.0);
        let z = conflict(&frame, &e, &oncoming(-40.0, 12.5), 10.0).expect("conflict");
        match decide(&e, &z) {
            Decision::Wait { front } => {
                // The waiting point: the front's corner still outside the band of the oncoming lane.
                assert!((front - (z.s_in + e.half_length - WAIT_STANDOFF)).abs() < 1e-9);
            }
            Decision::Go => panic!("a 3 s gap across a turn is not acceptable: {z:?}"),
        }
        // The same car 100 m further away at 8 m/s: the ego clears the zone in time.
        let far = conflict(&frame, &e, &oncoming(-140.0, 8.0), 30.0).expect("conflict");
        assert_eq!(decide(&e, &far), Decision::Go, "{far:?}");
        // Further back, the ego arrives after the car has gone: it need not stop either.
        let back = ego(40.0, 5.0);
        let gone = conflict(&frame, &back, &oncoming(-40.0, 12.5), 10.0).expect("conflict");
        assert_eq!(decide(&back, &gone), Decision::Go, "{gone:?}");
        // Already committed (too close to stop outside the lane): go.
        let late = ego(z.s_in - 2.4, 8.0);
        let zl = conflict(&frame, &late, &oncoming(-40.0, 12.5), 10.0).expect("conflict");
        assert_eq!(decide(&late, &zl), Decision::Go);
    }

    #[test]
    fn travel_time_accelerates_to_the_go_speed() {
        // From standstill at 1.5 m/s² to 5 m/s: 3.33 s and 8.33 m, then 5 m/s.
        assert!((travel_time(8.0 + 1.0 / 3.0, 0.0, 1.5, 5.0) - 10.0 / 3.0).abs() < 1e-9);
        assert!((travel_time(18.0 + 1.0 / 3.0, 0.0, 1.5, 5.0) - (10.0 / 3.0 + 2.0)).abs() < 1e-9);
        assert_eq!(travel_time(-1.0, 3.0, 1.5, 5.0), 0.0);
    }
}
