//! Prediction: the future trajectory of every confirmed track over a horizon. Vehicles driving
//! along a road follow their lane (along-road speed kept, lateral offset relaxing to the lane
//! centre); everything else moves at constant velocity or constant turn rate.

use crate::config::{MotionModel, PredictionConfig};
use crate::geometry::{wrap_angle, RoadGeometry};
use crate::interface::ObjectClass;
use crate::tracking::Track;

/// One predicted pose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictedPoint {
    /// Time from now, seconds.
    pub t: f64,
    /// x, metres.
    pub x: f64,
    /// y, metres.
    pub y: f64,
    /// Heading, radians.
    pub heading: f64,
}

/// How a trajectory was predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionModel {
    /// Standing still.
    Static,
    /// Straight line at constant velocity.
    ConstantVelocity,
    /// Circular arc at constant speed and turn rate.
    ConstantTurnRate,
    /// Along the road in its lane.
    LaneFollowing,
}

/// The predicted future of one track.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The track's id.
    pub track_id: u64,
    /// Its class.
    pub class: ObjectClass,
    /// Extent along the heading, metres.
    pub length: f64,
    /// Extent across the heading, metres.
    pub width: f64,
    /// Current velocity x, m/s.
    pub vx: f64,
    /// Current velocity y, m/s.
    pub vy: f64,
    /// The model used.
    pub model: PredictionModel,
    /// Poses at t = 0, step, 2·step, ... up to the horizon.
    pub points: Vec<PredictedPoint>,
}

/// Time constant with which a lane-following vehicle settles on its lane centre, seconds.
const LANE_SETTLE: f64 = 1.5;
/// A lateral speed above this is read as a lane change in progress, m/s.
const LANE_CHANGE_SPEED: f64 = 0.5;
/// Slowest speed at which a vehicle is assumed to follow its lane, m/s.
const LANE_FOLLOW_MIN_SPEED: f64 = 1.0;
/// How long a place where pedestrians crossed the road is remembered after the last one left the
/// carriageway, seconds.
const CROSSING_MEMORY: f64 = 4.0;
/// How far along the road from such a place a waiting pedestrian counts as waiting there, metres.
const CROSSING_SPAN: f64 = 4.0;
/// How far from the carriageway's edge a standing pedestrian counts as waiting at the kerb, metres.
const KERB_REACH: f64 = 2.5;
/// Walking speed at which a waiting pedestrian is predicted to step out, m/s.
const STEP_OUT_SPEED: f64 = 1.4;

/// The prediction module.
#[derive(Debug, Clone)]
pub struct Predictor {
    config: PredictionConfig,
    model: MotionModel,
    predictions: Vec<Prediction>,
    /// Where pedestrians were last seen on the carriageway: (s, time).
    crossings: Vec<(f64, f64)>,
    /// Pedestrian tracks that have been on the carriageway (they crossed, or are crossing).
    crossed: Vec<u64>,
}

impl Predictor {
    /// A predictor; `model` is the tracker's motion model.
    pub fn new(config: PredictionConfig, model: MotionModel) -> Self {
        Self { config, model, predictions: Vec::new(), crossings: Vec::new(), crossed: Vec::new() }
    }

    /// Predictions of the last call.
    pub fn predictions(&self) -> &[Prediction] {
        &self.predictions
    }

    /// Number of predicted points per trajectory (including t = 0).
    pub fn points_per_track(&self) -> usize {
        libm::floor(self.config.horizon / self.config.step + 1e-9) as usize + 1
    }

    /// Predicts every track in `tracks` at `time` (seconds). `s_hint` is near the tracks' road
    /// coordinate (the ego's).
    ///
    /// A pedestrian standing at the kerb where others have just crossed is predicted to step out
    /// and cross as well (people follow a group across; the straggler is the classic victim), until
    /// [`CROSSING_MEMORY`] after the last of them left the carriageway. Pedestrians who have crossed
    /// themselves, and anyone waiting where nobody crossed, are predicted to stay.
    pub fn predict<'a>(
        &mut self,
        tracks: impl Iterator<Item = &'a Track>,
        road: Option<&RoadGeometry>,
        s_hint: f64,
        time: f64,
    ) -> &[Prediction] {
        let n = self.points_per_track();
        let step = self.config.step;
        self.crossings.retain(|c| time - c.1 <= CROSSING_MEMORY);
        let mut used = 0;
        for track in tracks {
            let waiting = match road.filter(|_| track.class == ObjectClass::Pedestrian) {
                Some(r) => self.crossing_at(track, r, s_hint, time),
                None => None,
            };
            if used == self.predictions.len() {
                self.predictions.push(Prediction {
                    track_id: 0,
                    class: ObjectClass::Unknown,
                    length: 0.0,
                    width: 0.0,
                    vx: 0.0,
                    vy: 0.0,
                    model: PredictionModel::ConstantVelocity,
                    points: Vec::with_capacity(n),
                });
            }
            let p = &mut self.predictions[used];
            used += 1;
            p.track_id = track.id;
            p.class = track.class;
            p.length = track.length;
            p.width = track.width;
            (p.vx, p.vy) = track.velocity();
            p.points.clear();
            if let (Some(dir), true) = (waiting, track.is_static()) {
                let f = track.standing_box();
                (p.vx, p.vy) = (STEP_OUT_SPEED * libm::cos(dir), STEP_OUT_SPEED * libm::sin(dir));
                p.model = PredictionModel::ConstantVelocity;
                p.points.extend((0..n).map(|k| {
                    let t = k as f64 * step;
                    PredictedPoint { t, x: f.x + p.vx * t, y: f.y + p.vy * t, heading: dir }
                }));
                continue;
            }
            if track.is_static() {
                // Standing still: where it stands, for the whole horizon.
                let f = track.standing_box();
                p.length = f.length;
                p.width = f.width;
                (p.vx, p.vy) = (0.0, 0.0);
                p.model = PredictionModel::Static;
                p.points.extend((0..n).map(|k| PredictedPoint {
                    t: k as f64 * step,
                    x: f.x,
                    y: f.y,
                    heading: f.heading,
                }));
                continue;
            }
            let lane = if self.config.lane_following { road.filter(|_| is_vehicle(track.class)) } else { None };
            p.model = match lane.and_then(|r| lane_following(track, r, s_hint, n, step, &mut p.points)) {
                Some(()) => PredictionModel::LaneFollowing,
                None => {
                    p.points.clear();
                    kinematic(track, self.model, n, step, &mut p.points)
                }
            };
        }
        self.predictions.truncate(used);
        // Forget tracks that are gone.
        let live = &self.predictions;
        self.crossed.retain(|id| live.iter().any(|p| p.track_id == *id));
        &self.predictions
    }
}

impl Predictor {
    /// Records a pedestrian on the carriageway; for one standing at the kerb near where others
    /// have just crossed, the heading in which they would step out.
    fn crossing_at(&mut self, track: &Track, road: &RoadGeometry, s_hint: f64, time: f64) -> Option<f64> {
        let (x, y) = track.position();
        let (s, d) = road.frame.to_frame(x, y, s_hint);
        if road.on_road(d) {
            if !self.crossed.contains(&track.id) {
                self.crossed.push(track.id);
            }
            match self.crossings.iter_mut().find(|c| libm::fabs(c.0 - s) <= CROSSING_SPAN) {
                Some(c) => *c = (s, time),
                None => self.crossings.push((s, time)),
            }
            return None;
        }
        let kerb = if d < 0.0 { -d } else { d - road.width() };
        if kerb > KERB_REACH
            || self.crossed.contains(&track.id)
            || !self.crossings.iter().any(|c| libm::fabs(c.0 - s) <= CROSSING_SPAN)
        {
            return None;
        }
        // Towards the road: +d from below its right edge, -d from beyond its left.
        let across = road.frame.heading_at(s) + core::f64::consts::FRAC_PI_2;
        Some(if d < 0.0 { across } else { wrap_angle(across + core::f64::consts::PI) })
    }
}

fn is_vehicle(class: ObjectClass) -> bool {
    matches!(class, ObjectClass::Car | ObjectClass::Truck | ObjectClass::Cyclist)
}

fn kinematic(track: &Track, model: MotionModel, n: usize, step: f64, out: &mut Vec<PredictedPoint>) -> PredictionModel {
    let [x, y, vx, vy] = track.state;
    let w = track.turn_rate;
    let turning = model == MotionModel::ConstantTurnRate && libm::fabs(w) > 0.02 && track.speed() > 0.5;
    let heading0 = if track.speed() > 0.5 { libm::atan2(vy, vx) } else { track.heading };
    for k in 0..n {
        let t = k as f64 * step;
        let point = if turning {
            let (s, c) = (libm::sin(w * t), libm::cos(w * t));
            PredictedPoint {
                t,
                x: x + (vx * s - vy * (1.0 - c)) / w,
                y: y + (vx * (1.0 - c) + vy * s) / w,
                heading: wrap_angle(heading0 + w * t),
            }
        } else {
            PredictedPoint { t, x: x + vx * t, y: y + vy * t, heading: heading0 }
        };
        out.push(point);
    }
    if turning {
        PredictionModel::ConstantTurnRate
    } else {
        PredictionModel::ConstantVelocity
    }
}

/// Lane-following prediction, or `None` when the track is not a vehicle driving along the road.
fn lane_following(
    track: &Track,
    road: &RoadGeometry,
    s_hint: f64,
    n: usize,
    step: f64,
    out: &mut Vec<PredictedPoint>,
) -> Option<()> {
    let [x, y, vx, vy] = track.state;
    let (s0, d0) = road.frame.to_frame(x, y, s_hint);
    if !road.on_road(d0) || track.speed() < LANE_FOLLOW_MIN_SPEED {
        return None;
    }
    let (vs, vd) = road.frame.velocity_to_frame(s0, vx, vy);
    // Driving along the road (either direction), not across it.
    if libm::fabs(vs) < 2.0 * libm::fabs(vd) {
        return None;
    }
    let lead = if libm::fabs(vd) > LANE_CHANGE_SPEED { d0 + vd * LANE_SETTLE } else { d0 };
    let target = road.lane_centre(road.lane_of(lead));
    let back = if vs < 0.0 { core::f64::consts::PI } else { 0.0 };
    for k in 0..n {
        let t = k as f64 * step;
        let s = s0 + vs * t;
        let d = target + (d0 - target) * libm::exp(-t / LANE_SETTLE);
        let (px, py, h) = road.frame.to_world(s, d);
        out.push(PredictedPoint { t, x: px, y: py, heading: wrap_angle(h + back) });
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface::{OrientedBox, RoadMap};

    fn track(class: ObjectClass, state: [f64; 4], turn_rate: f64) -> Track {
        Track {
            id: 7,
            state,
            covariance: [[0.0; 4]; 4],
            turn_rate,
            length: 4.5,
            width: 1.8,
            heading: 0.0,
            class,
            hits: 5,
            frames: 5,
            misses: 0,
            confirmed: true,
            footprint: OrientedBox { x: state[0], y: state[1], heading: 0.0, length: 4.5, width: 1.8 },
            accel: [0.0; 2],
            accel_from: None,
        }
    }

    #[test]
    fn constant_velocity_is_a_straight_line() {
        let mut p = Predictor::new(PredictionConfig::default(), MotionModel::ConstantVelocity);
        let t = track(ObjectClass::Pedestrian, [0.0, 0.0, 1.0, 1.5], 0.0);
        let out = p.predict(std::iter::once(&t), None, 0.0, 0.0);
        assert_eq!(out[0].points.len(), 21);
        let last = out[0].points[20];
        assert!(libm::fabs(last.t - 4.0) < 1e-9 && libm::fabs(last.x - 4.0) < 1e-9 && libm::fabs(last.y - 6.0) < 1e-9);
        assert_eq!(out[0].model, PredictionModel::ConstantVelocity);
    }

    #[test]
    fn constant_turn_rate_keeps_speed_on_a_circle() {
        let mut p = Predictor::new(PredictionConfig::default(), MotionModel::ConstantTurnRate);
        // 5 m/s turning at 0.25 rad/s: a circle of radius 20 centred at (0, 20).
        let t = track(ObjectClass::Car, [0.0, 0.0, 5.0, 0.0], 0.25);
        let out = p.predict(std::iter::once(&t), None, 0.0, 0.0);
        assert_eq!(out[0].model, PredictionModel::ConstantTurnRate);
        for pt in &out[0].points {
            assert!(libm::fabs(crate::geometry::norm(pt.x, pt.y - 20.0) - 20.0) < 1e-9, "{pt:?}");
        }
    }

    #[test]
    fn vehicles_on_a_curved_road_follow_their_lane() {
        let road = RoadGeometry::new(RoadMap {
            lanes: 2,
            lane_width: 3.5,
            length: 300.0,
            curvature: 0.01,
            speed_limit: 20.0,
            line: Vec::new(),
            kind: None,
        });
        let mut p = Predictor::new(PredictionConfig::default(), MotionModel::ConstantVelocity);
        // In lane 1 slightly off-centre, driving along the road at 10 m/s.
        let (x, y, h) = road.frame.to_world(50.0, 5.0);
        let t = track(ObjectClass::Car, [x, y, 10.0 * libm::cos(h), 10.0 * libm::sin(h)], 0.0);
        let out = p.predict(std::iter::once(&t), Some(&road), 50.0, 0.0);
        assert_eq!(out[0].model, PredictionModel::LaneFollowing);
        let last = out[0].points.last().unwrap();
        let (s, d) = road.frame.to_frame(last.x, last.y, 90.0);
        assert!(libm::fabs(s - 90.0) < 1e-6, "{s}");
        assert!(libm::fabs(d - road.lane_centre(1)) < 0.2, "{d}");
        // A pedestrian crossing the same road is predicted straight across it instead.
        let ped = track(ObjectClass::Pedestrian, [x, y, -1.4 * libm::sin(h), 1.4 * libm::cos(h)], 0.0);
        let out = p.predict(std::iter::once(&ped), Some(&road), 50.0, 0.0);
        assert_eq!(out[0].model, PredictionModel::ConstantVelocity);
    }
    #[test]
    fn a_pedestrian_waiting_at_the_kerb_where_others_just_crossed_is_predicted_to_step_out() {
        let road = RoadGeometry::new(RoadMap {
            lanes: 2,
            lane_width: 3.25,
            length: 300.0,
            curvature: 0.0,
            speed_limit: 14.0,
            line: Vec::new(),
            kind: None,
        });
        let mut p = Predictor::new(PredictionConfig::default(), MotionModel::ConstantVelocity);
        let standing = |id: u64, s: f64, d: f64| {
            let (x, y, _) = road.frame.to_world(s, d);
            Track { id, ..track(ObjectClass::Pedestrian, [x, y, 0.0, 0.0], 0.0) }
        };
        let (cx, cy, _) = road.frame.to_world(150.0, 3.0);
        let crosser = Track { id: 1, ..track(ObjectClass::Pedestrian, [cx, cy, 0.0, 1.4], 0.0) };
        // 1.2 m beyond the right kerb, 0.6 m along from where the group crosses.
        let waiting = standing(2, 149.4, -1.2);
        // Nobody has crossed yet: a person at the kerb is predicted to stay there.
        let out = p.predict([&waiting].into_iter(), Some(&road), 140.0, 0.0);
        assert_eq!(out[0].model, PredictionModel::Static);
        // Someone crosses at s = 150: the one waiting beside them is predicted across the road.
        let out = p.predict([&crosser, &waiting].into_iter(), Some(&road), 140.0, 1.0);
        assert_eq!(out[1].model, PredictionModel::ConstantVelocity);
        let last = out[1].points.last().unwrap();
        let (_, d) = road.frame.to_frame(last.x, last.y, 150.0);
        assert!(d > 3.0, "not predicted onto the road: d = {d}");
        // Still so 3.5 s after the last crosser left; no longer 4.5 s after.
        let out = p.predict([&waiting].into_iter(), Some(&road), 140.0, 4.5);
        assert_eq!(out[0].model, PredictionModel::ConstantVelocity);
        let out = p.predict([&waiting].into_iter(), Some(&road), 140.0, 5.5);
        assert_eq!(out[0].model, PredictionModel::Static);
        // A pedestrian 3 m beyond the kerb, or one who has crossed, is not waiting to cross.
        let far = standing(3, 150.0, -3.5);
        let (fx, fy, _) = road.frame.to_world(150.5, 7.5);
        let across = Track { id: 1, ..track(ObjectClass::Pedestrian, [fx, fy, 0.0, 0.0], 0.0) };
        let out = p.predict([&crosser, &far, &across].into_iter(), Some(&road), 140.0, 6.0);
        assert_eq!(out[1].model, PredictionModel::Static);
        assert_eq!(out[2].model, PredictionModel::Static);
    }
}
