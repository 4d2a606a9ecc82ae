//! Multi-object tracking: one linear Kalman filter per track over (x, y, vx, vy) with a constant
//! velocity or constant turn rate (coordinated turn) transition, Mahalanobis gating, globally
//! optimal association ([`crate::assignment`]), and track birth, confirmation and deletion.

use crate::assignment::assign;
use crate::config::{MotionModel, TrackingConfig};
use crate::geometry::wrap_angle;
use crate::interface::{ObjectClass, OrientedBox};
use crate::perception::{Obstacle, ObstacleSource};

type Mat4 = [[f64; 4]; 4];

/// One tracked object.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Stable identity, unique within a run.
    pub id: u64,
    /// State estimate: x, y (metres), vx, vy (m/s).
    pub state: [f64; 4],
    /// State covariance.
    pub covariance: Mat4,
    /// Estimated turn rate, rad/s (used by the constant-turn-rate model and prediction).
    pub turn_rate: f64,
    /// Extent along the heading, metres.
    pub length: f64,
    /// Extent across the heading, metres.
    pub width: f64,
    /// Heading of the box, radians (the velocity direction once moving).
    pub heading: f64,
    /// Class, from the detector when it has one.
    pub class: ObjectClass,
    /// Associated measurements so far.
    pub hits: u32,
    /// Measurement frames since its birth, the birth frame included (M-of-N confirmation counts
    /// its hits over the first `confirm_window` of them).
    pub frames: u32,
    /// Consecutive measurement frames without an association.
    pub misses: u32,
    /// Confirmed (`confirm_hits` hits within its first `confirm_window` frames); only confirmed
    /// tracks are published.
    pub confirmed: bool,
    /// The last measured box. A lidar sees only the near faces, so the shape and heading of a
    /// static object come from here, not the filter; its centre jitters with sensor and
    /// localisation noise (see [`Track::standing_box`]).
    pub footprint: OrientedBox,
    /// Estimated acceleration (x, y), m/s²: a smoothed difference of the filtered velocity over
    /// [`ACCEL_INTERVAL`], so a braking car ahead is known to brake.
    pub accel: [f64; 2],
    /// The time and filtered velocity the last acceleration sample started from.
    pub accel_from: Option<(f64, [f64; 2])>,
}

/// Tracks slower than this are treated as standing still, m/s (velocity noise from a lidar box
/// whose centre moves with the viewpoint stays below it).
pub const STATIC_SPEED: f64 = 0.7;

impl Track {
    /// Whether the track stands still (within velocity noise).
    pub fn is_static(&self) -> bool {
        self.speed() < STATIC_SPEED
    }

    /// Speed over ground, m/s.
    pub fn speed(&self) -> f64 {
        crate::geometry::norm(self.state[2], self.state[3])
    }

    /// Position (x, y).
    pub fn position(&self) -> (f64, f64) {
        (self.state[0], self.state[1])
    }

    /// Velocity (vx, vy).
    pub fn velocity(&self) -> (f64, f64) {
        (self.state[2], self.state[3])
    }

    /// Where a standing track is: the last sighting's shape and heading at the filtered centre
    /// (the raw sighting jumps by up to half a metre from frame to frame, enough to put a car
    /// parked beside the lane into the ego's corridor).
    pub fn standing_box(&self) -> OrientedBox {
        OrientedBox { x: self.state[0], y: self.state[1], ..self.footprint }
    }
}

/// Initial velocity standard deviation of a track born without a velocity measurement, m/s.
const INITIAL_SPEED_SIGMA: f64 = 5.0;
/// Cost used for pairs outside the gate (never accepted).
const FORBIDDEN: f64 = 1e9;
/// Shortest time between two velocities an acceleration sample is taken from, seconds (shorter
/// differences are mostly velocity noise).
pub const ACCEL_INTERVAL: f64 = 0.2;
/// Weight of a new acceleration sample.
const ACCEL_WEIGHT: f64 = 0.4;
/// Velocities closer than this are the same motion, m/s (a detector's velocity is this noisy).
const SAME_MOTION: f64 = 2.0;
/// Velocities closer than this share of the faster speed are the same motion (at most
/// [`SAME_MOTION`], at least [`SAME_MOTION_MIN`]).
const SAME_MOTION_SHARE: f64 = 0.5;
/// Velocities always count as the same motion when closer than this, m/s (four standard
/// deviations of the detector's velocity noise on a standing object, 0.15 m/s).
const SAME_MOTION_MIN: f64 = 0.6;
/// Below this speed a track's heading follows its box, not its velocity, m/s.
const HEADING_FROM_VELOCITY: f64 = 1.0;

/// The multi-object tracker.
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackingConfig,
    tracks: Vec<Track>,
    next_id: u64,
    last_time: Option<f64>,
    costs: Vec<f64>,
    associations: Vec<Option<u64>>,
}

impl Tracker {
    /// An empty tracker.
    pub fn new(config: TrackingConfig) -> Self {
        Self { config, tracks: Vec::new(), next_id: 1, last_time: None, costs: Vec::new(), associations: Vec::new() }
    }

    /// Every live track (tentative and confirmed), ordered by id.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Confirmed tracks, ordered by id.
    pub fn confirmed(&self) -> impl Iterator<Item = &Track> {
        self.tracks.iter().filter(|t| t.confirmed)
    }

    /// For each obstacle of the last update, the id of the track it was associated with or that it
    /// started.
    pub fn associations(&self) -> &[Option<u64>] {
        &self.associations
    }

    /// The track with id `id`.
    pub fn track(&self, id: u64) -> Option<&Track> {
        self.tracks.binary_search_by_key(&id, |t| t.id).ok().map(|i| &self.tracks[i])
    }

    /// Advances every track to `time` and, when `measured` (a sensor frame arrived), associates the
    /// obstacles, updates, spawns and deletes tracks.
    pub fn update(&mut self, time: f64, obstacles: &[Obstacle], measured: bool) {
        let dt = match self.last_time {
            Some(t) if time > t => time - t,
            _ => 0.0,
        };
        if time.is_finite() {
            self.last_time = Some(self.last_time.map_or(time, |t| t.max(time)));
        }
        if dt > 0.0 {
            for t in &mut self.tracks {
                predict(t, dt, &self.config);
            }
        }
        self.associations.clear();
        self.associations.resize(obstacles.len(), None);
        if !measured {
            return;
        }
        let rows = self.tracks.len();
        let cols = obstacles.len();
        self.costs.clear();
        let gate2 = self.config.gate * self.config.gate;
        for t in &self.tracks {
            for o in obstacles {
                let d2 = mahalanobis2(t, o.x, o.y, position_noise2(o, &self.config));
                self.costs.push(if d2 <= gate2 { d2 } else { FORBIDDEN });
            }
        }
        let assignment = assign(&self.costs, rows, cols);
        let mut obstacle_used = vec![false; cols];
        for (ti, a) in assignment.iter().enumerate() {
            let track = &mut self.tracks[ti];
            track.frames = track.frames.saturating_add(1);
            match *a {
                Some(oi) if self.costs[ti * cols + oi] < FORBIDDEN => {
                    obstacle_used[oi] = true;
                    self.associations[oi] = Some(track.id);
                    correct(track, &obstacles[oi], dt, &self.config);
                    sample_accel(track, time);
                }
                _ => {
                    track.misses += 1;
                }
            }
        }
        let (delete, m, n) = (self.config.delete_misses, self.config.confirm_hits, self.config.confirm_window);
        // M of N: a tentative track with more than N - M misses since its birth can no longer be
        // confirmed within its first N frames; a confirmed one goes after `delete_misses` in a row.
        self.tracks.retain(|t| {
            if t.confirmed {
                t.misses < delete
            } else {
                t.frames - t.hits.min(t.frames) <= n.saturating_sub(m) && t.misses < delete
            }
        });
        for (oi, o) in obstacles.iter().enumerate() {
            if obstacle_used[oi] || ![o.x, o.y, o.vx, o.vy].iter().all(|v| v.is_finite()) {
                continue;
            }
            // A detector-only report inside a confirmed track's gate, moving with it, is that object
            // seen a second time this frame (a displaced detection beside the object's lidar
            // cluster), not a new one: it belongs to the track and starts nothing.
            if let Some(id) = self.explaining_track(o, gate2) {
                self.associations[oi] = Some(id);
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            self.associations[oi] = Some(id);
            self.tracks.push(birth(id, o, &self.config));
        }
        self.merge_duplicates();
    }

    /// The confirmed track that explains a detector-only obstacle no track took: within its gate
    /// and, when the detector measured a velocity, moving alike.
    fn explaining_track(&self, o: &Obstacle, gate2: f64) -> Option<u64> {
        if o.source != ObstacleSource::Detector {
            return None;
        }
        let r2 = position_noise2(o, &self.config);
        // Alike relative to how fast they move: at highway speed two metres a second is detector
        // noise, but a pedestrian walking off at 1.4 m/s from a group standing at the kerb is not the
        // group (whose lidar cluster keeps the group's track standing) and must start a track of
        // their own.
        let same_motion = |t: &Track| {
            let dv = crate::geometry::norm(o.vx - t.state[2], o.vy - t.state[3]);
            let pace = crate::geometry::norm(o.vx, o.vy).max(t.speed());
            !o.velocity_known || dv < (SAME_MOTION_SHARE * pace).clamp(SAME_MOTION_MIN, SAME_MOTION)
        };
        self.tracks
            .iter()
            .filter(|t| t.confirmed && same_motion(t))
            .map(|t| (mahalanobis2(t, o.x, o.y, r2), t.id))
            .filter(|&(d2, _)| d2 <= gate2)
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, id)| id)
    }

    /// Two confirmed tracks on top of each other with the same velocity are one object seen twice
    /// (e.g. a fragmented cluster): the younger one goes.
    fn merge_duplicates(&mut self) {
        let n = self.tracks.len();
        let mut dead = vec![false; n];
        for i in 0..n {
            for j in (i + 1)..n {
                let (a, b) = (&self.tracks[i], &self.tracks[j]);
                if dead[i] || dead[j] || !(a.confirmed && b.confirmed) {
                    continue;
                }
                let close =
                    crate::geometry::norm(a.state[0] - b.state[0], a.state[1] - b.state[1]) < 0.5 * a.width.max(1.0);
                let same = crate::geometry::norm(a.state[2] - b.state[2], a.state[3] - b.state[3]) < 1.0;
                if close && same {
                    dead[j] = true;
                }
            }
        }
        let mut k = 0;
        self.tracks.retain(|_| {
            k += 1;
            !dead[k - 1]
        });
    }
}

/// The variance of an obstacle's position: a detector's alone is far less precise than a lidar's.
fn position_noise2(o: &Obstacle, config: &TrackingConfig) -> f64 {
    let sigma = match o.source {
        ObstacleSource::Detector => config.detector_noise,
        ObstacleSource::Lidar | ObstacleSource::Fused => config.measurement_noise,
    };
    sigma * sigma
}

fn birth(id: u64, o: &Obstacle, config: &TrackingConfig) -> Track {
    let r2 = position_noise2(o, config);
    let v2 = if o.velocity_known {
        config.velocity_noise * config.velocity_noise
    } else {
        INITIAL_SPEED_SIGMA * INITIAL_SPEED_SIGMA
    };
    let mut covariance = [[0.0; 4]; 4];
    covariance[0][0] = r2;
    covariance[1][1] = r2;
    covariance[2][2] = v2;
    covariance[3][3] = v2;
    let (vx, vy) = if o.velocity_known { (o.vx, o.vy) } else { (0.0, 0.0) };
    let confirmed = config.confirm_hits <= 1;
    Track {
        id,
        state: [o.x, o.y, vx, vy],
        covariance,
        turn_rate: 0.0,
        length: o.length,
        width: o.width,
        heading: o.heading,
        class: o.class,
        hits: 1,
        frames: 1,
        misses: 0,
        confirmed,
        footprint: o.footprint(),
        accel: [0.0; 2],
        accel_from: None,
    }
}

fn transition(model: MotionModel, turn_rate: f64, dt: f64) -> Mat4 {
    let w = turn_rate;
    if model == MotionModel::ConstantTurnRate && libm::fabs(w) > 1e-4 {
        let (s, c) = (libm::sin(w * dt), libm::cos(w * dt));
        [[1.0, 0.0, s / w, -(1.0 - c) / w], [0.0, 1.0, (1.0 - c) / w, s / w], [0.0, 0.0, c, -s], [0.0, 0.0, s, c]]
    } else {
        [[1.0, 0.0, dt, 0.0], [0.0, 1.0, 0.0, dt], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    }
}

fn predict(t: &mut Track, dt: f64, config: &TrackingConfig) {
    let f = transition(config.motion_model, t.turn_rate, dt);
    let x = t.state;
    for (i, row) in f.iter().enumerate() {
        t.state[i] = row.iter().zip(x.iter()).map(|(a, b)| a * b).sum();
    }
    // P = F P Fᵀ + Q, with Q the discrete white-noise-acceleration model.
    let fp = mul(&f, &t.covariance);
    let mut p = mul_transposed(&fp, &f);
    let q = config.process_noise * config.process_noise;
    let dt2 = dt * dt;
    let (a, b, c) = (0.25 * dt2 * dt2 * q, 0.5 * dt2 * dt * q, dt2 * q);
    for axis in 0..2 {
        p[axis][axis] += a;
        p[axis][axis + 2] += b;
        p[axis + 2][axis] += b;
        p[axis + 2][axis + 2] += c;
    }
    t.covariance = p;
}

fn mahalanobis2(t: &Track, x: f64, y: f64, r2: f64) -> f64 {
    let p = &t.covariance;
    let (s00, s01, s11) = (p[0][0] + r2, p[0][1], p[1][1] + r2);
    let det = s00 * s11 - s01 * s01;
    if det.is_nan() || det <= 0.0 {
        return f64::INFINITY;
    }
    let (dx, dy) = (x - t.state[0], y - t.state[1]);
    (s11 * dx * dx - 2.0 * s01 * dx * dy + s00 * dy * dy) / det
}

// Index loops read like the matrix algebra they implement.
#[allow(clippy::needless_range_loop)]
/// Kalman update with a 2-D measurement of states `k` and `k + 1` (0: position, 2: velocity).
fn update_pair(t: &mut Track, k: usize, zx: f64, zy: f64, r2: f64) {
    let p = t.covariance;
    let (s00, s01, s11) = (p[k][k] + r2, p[k][k + 1], p[k + 1][k + 1] + r2);
    let det = s00 * s11 - s01 * s01;
    if det.is_nan() || det <= 0.0 {
        return;
    }
    let (i00, i01, i11) = (s11 / det, -s01 / det, s00 / det);
    let (nx, ny) = (zx - t.state[k], zy - t.state[k + 1]);
    // K = P Hᵀ S⁻¹ (4x2).
    let mut gain = [[0.0; 2]; 4];
    for (i, g) in gain.iter_mut().enumerate() {
        g[0] = p[i][k] * i00 + p[i][k + 1] * i01;
        g[1] = p[i][k] * i01 + p[i][k + 1] * i11;
    }
    for (i, g) in gain.iter().enumerate() {
        t.state[i] += g[0] * nx + g[1] * ny;
    }
    // P = (I - K H) P, then symmetrised.
    let mut np = p;
    for i in 0..4 {
        for j in 0..4 {
            np[i][j] = p[i][j] - gain[i][0] * p[k][j] - gain[i][1] * p[k + 1][j];
        }
    }
    for i in 0..4 {
        for j in (i + 1)..4 {
            let m = 0.5 * (np[i][j] + np[j][i]);
            np[i][j] = m;
            np[j][i] = m;
        }
    }
    t.covariance = np;
}

fn correct(t: &mut Track, o: &Obstacle, dt: f64, config: &TrackingConfig) {
    let old_heading = libm::atan2(t.state[3], t.state[2]);
    let was_moving = t.speed() > HEADING_FROM_VELOCITY;
    update_pair(t, 0, o.x, o.y, position_noise2(o, config));
    if o.velocity_known {
        update_pair(t, 2, o.vx, o.vy, config.velocity_noise * config.velocity_noise);
    }
    t.hits += 1;
    t.misses = 0;
    if t.hits >= config.confirm_hits {
        t.confirmed = true;
    }
    if o.class != ObjectClass::Unknown {
        t.class = o.class;
    }
    t.length = o.length;
    t.width = o.width;
    t.footprint = o.footprint();
    let moving = t.speed() > HEADING_FROM_VELOCITY;
    if moving {
        let heading = libm::atan2(t.state[3], t.state[2]);
        if was_moving && dt > 0.0 {
            let sample = (wrap_angle(heading - old_heading) / dt).clamp(-1.0, 1.0);
            t.turn_rate = 0.8 * t.turn_rate + 0.2 * sample;
        }
        // A lidar box has no front or back: align it with the direction of motion.
        if o.source == crate::perception::ObstacleSource::Lidar {
            let off = libm::fabs(libm::sin(heading - o.heading));
            if off > core::f64::consts::FRAC_1_SQRT_2 {
                core::mem::swap(&mut t.length, &mut t.width);
            }
        }
        t.heading = heading;
    } else {
        t.turn_rate *= 0.8;
        t.heading = o.heading;
    }
}

/// Updates the acceleration estimate from the filtered velocity, once per [`ACCEL_INTERVAL`].
fn sample_accel(t: &mut Track, time: f64) {
    let v = [t.state[2], t.state[3]];
    match t.accel_from {
        Some((from, v0)) if time - from >= ACCEL_INTERVAL => {
            let dt = time - from;
            for k in 0..2 {
                let sample = (v[k] - v0[k]) / dt;
                if sample.is_finite() {
                    t.accel[k] += ACCEL_WEIGHT * (sample - t.accel[k]);
                }
            }
            t.accel_from = Some((time, v));
        }
        Some((from, _)) if time >= from => {}
        _ => t.accel_from = Some((time, v)),
    }
}

fn mul(a: &Mat4, b: &Mat4) -> Mat4 {
    let mut out = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            out[i][j] = (0..4).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

fn mul_transposed(a: &Mat4, b: &Mat4) -> Mat4 {
    let mut out = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            out[i][j] = (0..4).map(|k| a[i][k] * b[j][k]).sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perception::ObstacleSource;

    /// A deterministic noise source for tests (xorshift, mapped to roughly N(0, 1) by summing).
    pub(crate) struct Noise(u64);

    impl Noise {
        pub(crate) fn gauss(&mut self) -> f64 {
            let mut sum = 0.0;
            for _ in 0..12 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                sum += (self.0 >> 11) as f64 / (1u64 << 53) as f64;
            }
            sum - 6.0
        }
    }

    fn lidar_obstacle(x: f64, y: f64) -> Obstacle {
        Obstacle {
            x,
            y,
            heading: 0.0,
            length: 1.0,
            width: 1.0,
            vx: 0.0,
            vy: 0.0,
            velocity_known: false,
            class: ObjectClass::Unknown,
            confidence: 1.0,
            source: ObstacleSource::Lidar,
        }
    }

    #[test]
    fn velocity_converges_to_the_truth_from_noisy_positions() {
        for model in [MotionModel::ConstantVelocity, MotionModel::ConstantTurnRate] {
            let config = TrackingConfig { motion_model: model, ..Default::default() };
            let mut tracker = Tracker::new(config);
            let mut noise = Noise(0x1234_5678);
            let (vx, vy) = (8.0, -3.0);
            for k in 0..80 {
                let t = k as f64 * 0.05;
                let o = lidar_obstacle(5.0 + vx * t + 0.3 * noise.gauss(), 2.0 + vy * t + 0.3 * noise.gauss());
                tracker.update(t, &[o], true);
            }
            let tracks: Vec<_> = tracker.confirmed().collect();
            assert_eq!(tracks.len(), 1);
            let (ex, ey) = tracks[0].velocity();
            // After 4 s of 0.3 m position noise at 20 Hz the estimate is within 0.5 m/s of the truth.
            assert!(crate::geometry::norm(ex - vx, ey - vy) < 0.5, "{model:?}: ({ex}, {ey})");
        }
    }

    #[test]
    fn a_noisy_detector_between_lidar_fixes_neither_splits_nor_swerves_a_track() {
        // A car driving at 25 m/s in the next lane: the lidar confirms it every 0.1 s, and in between
        // the detector alone reports it with a metre of noise, as a camera does at highway range.
        let mut tracker = Tracker::new(TrackingConfig::default());
        let mut noise = Noise(7);
        let mut worst_lateral = 0.0f64;
        for k in 0..200 {
            let t = k as f64 * 0.05;
            let mut o = lidar_obstacle(30.0 + 25.0 * t, 3.5);
            o.velocity_known = true;
            (o.vx, o.vy) = (25.0 + 0.5 * noise.gauss(), 0.5 * noise.gauss());
            if k % 2 == 0 {
                o.source = ObstacleSource::Fused;
                (o.x, o.y) = (o.x + 0.05 * noise.gauss(), o.y + 0.05 * noise.gauss());
            } else {
                o.source = ObstacleSource::Detector;
                (o.x, o.y) = (o.x + noise.gauss(), o.y + noise.gauss());
            }
            tracker.update(t, &[o], true);
            if k > 20 {
                let track: Vec<_> = tracker.confirmed().collect();
                assert_eq!(track.len(), 1, "at {t} s: {:?}", tracker.tracks());
                assert_eq!(track[0].id, 1, "the car keeps its track");
                worst_lateral = worst_lateral.max(libm::fabs(track[0].state[3]));
            }
        }
        // Well under the 0.5-1 m/s at which a car drifts into the next lane (the detector's velocity
        // itself is 0.5 m/s noisy).
        assert!(worst_lateral < 0.4, "lateral speed up to {worst_lateral} m/s");
    }

    #[test]
    fn a_braking_car_is_known_to_brake() {
        // A car at 14 m/s brakes at 2 m/s² after 1 s; the detector measures its velocity with
        // 0.15 m/s of noise at 20 Hz.
        let mut tracker = Tracker::new(TrackingConfig::default());
        let mut noise = Noise(99);
        let (mut x, mut v) = (20.0, 14.0);
        for k in 0..60 {
            let t = k as f64 * 0.05;
            if t > 1.0 {
                v -= 2.0 * 0.05;
            }
            x += v * 0.05;
            let mut o = lidar_obstacle(x + 0.05 * noise.gauss(), 0.05 * noise.gauss());
            (o.velocity_known, o.source) = (true, ObstacleSource::Fused);
            (o.vx, o.vy) = (v + 0.15 * noise.gauss(), 0.15 * noise.gauss());
            tracker.update(t, &[o], true);
            if k == 19 {
                let a = tracker.confirmed().next().unwrap().accel;
                assert!(libm::fabs(a[0]) < 0.5, "cruising reads as {a:?}");
            }
        }
        let a = tracker.confirmed().next().unwrap().accel;
        assert!(libm::fabs(a[0] + 2.0) < 0.5 && libm::fabs(a[1]) < 0.5, "braking at 2 m/s² reads as {a:?}");
    }

    #[test]
    fn two_crossing_targets_keep_their_identities() {
        let mut tracker = Tracker::new(TrackingConfig::default());
        let mut noise = Noise(42);
        // A moves +x along y = 0; B moves -x along y = 1.5: they pass each other at t = 2 s.
        let mut ids = None;
        for k in 0..80 {
            let t = k as f64 * 0.05;
            let a = lidar_obstacle(-10.0 + 5.0 * t + 0.1 * noise.gauss(), 0.1 * noise.gauss());
            let b = lidar_obstacle(10.0 - 5.0 * t + 0.1 * noise.gauss(), 1.5 + 0.1 * noise.gauss());
            // Alternate the order so first-come association would be tempted to swap them.
            let obs = if k % 2 == 0 { [a, b] } else { [b, a] };
            tracker.update(t, &obs, true);
            if k == 20 {
                let a_id = tracker.confirmed().find(|t| t.state[2] > 0.0).map(|t| t.id);
                let b_id = tracker.confirmed().find(|t| t.state[2] < 0.0).map(|t| t.id);
                ids = Some((a_id, b_id));
            }
        }
        let (a_id, b_id) = ids.unwrap();
        assert!(a_id.is_some() && b_id.is_some() && a_id != b_id);
        let a = tracker.track(a_id.unwrap()).unwrap();
        let b = tracker.track(b_id.unwrap()).unwrap();
        assert!(a.state[0] > 8.0 && libm::fabs(a.state[1]) < 0.5, "{a:?}");
        assert!(b.state[0] < -8.0 && libm::fabs(b.state[1] - 1.5) < 0.5, "{b:?}");
        assert_eq!(tracker.confirmed().count(), 2);
    }

    #[test]
    fn tracks_are_born_confirmed_and_deleted() {
        let config = TrackingConfig::default();
        let mut tracker = Tracker::new(config.clone());
        for k in 0..(config.confirm_hits - 1) {
            tracker.update(k as f64 * 0.05, &[lidar_obstacle(10.0, 0.0)], true);
        }
        assert_eq!(tracker.tracks().len(), 1);
        assert_eq!(tracker.confirmed().count(), 0, "not yet confirmed");
        tracker.update(0.15, &[lidar_obstacle(10.0, 0.0)], true);
        assert_eq!(tracker.confirmed().count(), 1);
        // A single false positive is born tentative and dies without ever being confirmed.
        tracker.update(0.2, &[lidar_obstacle(10.0, 0.0), lidar_obstacle(30.0, 5.0)], true);
        assert_eq!(tracker.tracks().len(), 2);
        // Frames without measurements do not count as misses.
        for k in 0..20 {
            tracker.update(0.2 + k as f64 * 0.001, &[], false);
        }
        assert_eq!(tracker.tracks().len(), 2);
        // Born with one hit, it can miss N - M = 2 of its first 5 frames and still be confirmed; a
        // third miss deletes it.
        let tentative_misses = config.confirm_window - config.confirm_hits + 1;
        for k in 0..config.delete_misses {
            tracker.update(0.25 + k as f64 * 0.05, &[], true);
            if k + 1 == tentative_misses {
                assert_eq!(tracker.tracks().len(), 1, "tentative track deleted first");
            }
        }
        assert!(tracker.tracks().is_empty());
    }

    /// Feeds one standing object at 10 m for each `true` in `seen` (a miss frame for `false`) and
    /// returns, after each frame, (live tracks, confirmed tracks).
    fn confirmation(config: &TrackingConfig, seen: &[bool]) -> Vec<(usize, usize)> {
        let mut tracker = Tracker::new(config.clone());
        seen.iter()
            .enumerate()
            .map(|(k, &hit)| {
                let obs = if hit { vec![lidar_obstacle(10.0, 0.0)] } else { Vec::new() };
                tracker.update(k as f64 * 0.04, &obs, true);
                (tracker.tracks().len(), tracker.confirmed().count())
            })
            .collect()
    }

    #[test]
    fn a_track_is_confirmed_by_three_hits_within_its_first_five_frames() {
        let config = TrackingConfig::default();
        assert_eq!((config.confirm_hits, config.confirm_window), (3, 5));
        // Seen in every frame: confirmed on the third.
        assert_eq!(confirmation(&config, &[true, true, true]), [(1, 0), (1, 0), (1, 1)]);
        // Missed twice, not in a row: still confirmed, on its fifth frame (two misses in a row
        // deleted a tentative track before).
        assert_eq!(confirmation(&config, &[true, false, false, true, true]).last(), Some(&(1, 1)));
        assert_eq!(confirmation(&config, &[true, false, true, false, true]).last(), Some(&(1, 1)));
        // Once confirmed, misses delete it only after `delete_misses` in a row.
        let mut seen = vec![true, true, true];
        seen.extend([false; 4]);
        assert_eq!(confirmation(&config, &seen).last(), Some(&(1, 1)));
        seen.push(false);
        assert_eq!(confirmation(&config, &seen).last(), Some(&(0, 0)));
    }

    #[test]
    fn a_tentative_track_that_can_no_longer_reach_three_of_five_is_deleted() {
        let config = TrackingConfig::default();
        // Two hits and three misses in its first five frames: deleted at the third miss, the moment
        // three of five became impossible, not after a fixed run of misses.
        let frames = confirmation(&config, &[true, false, true, false, false]);
        assert_eq!(frames, [(1, 0), (1, 0), (1, 0), (1, 0), (0, 0)]);
        // One or two spurious frames never confirm.
        assert_eq!(confirmation(&config, &[true, false, false, false]).last(), Some(&(0, 0)));
        assert_eq!(confirmation(&config, &[true, true, false, false, false]).last(), Some(&(0, 0)));
        // 2 of 2 (a stricter window) deletes at the first miss; 1 hit confirms at birth.
        let strict = TrackingConfig { confirm_hits: 2, confirm_window: 2, ..TrackingConfig::default() };
        assert_eq!(confirmation(&strict, &[true, false]), [(1, 0), (0, 0)]);
        let eager = TrackingConfig { confirm_hits: 1, ..TrackingConfig::default() };
        assert_eq!(confirmation(&eager, &[true]), [(1, 1)]);
    }

    #[test]
    fn a_pedestrian_walking_off_from_a_standing_group_starts_a_track_of_their_own() {
        // A group stands at the kerb as one lidar cluster with a confirmed, standing track.
        let mut tracker = Tracker::new(TrackingConfig::default());
        for k in 0..10 {
            tracker.update(k as f64 * 0.04, &[lidar_obstacle(10.0, 0.0)], true);
        }
        assert_eq!(tracker.confirmed().count(), 1);
        // One of them walks off at 1.3 m/s: the camera reports them beside the cluster, within the
        // group's gate, moving. That is not the group seen twice: it is a new object, whose
        // tentative track gathers its hits from here on (at highway speed a 1.3 m/s difference
        // would be detector noise).
        for k in 10..13 {
            let t = k as f64 * 0.04;
            let mut walker = lidar_obstacle(10.3, 0.3 + 1.3 * (t - 0.4));
            walker.source = ObstacleSource::Detector;
            (walker.velocity_known, walker.vx, walker.vy) = (true, 0.0, 1.3);
            tracker.update(t, &[lidar_obstacle(10.0, 0.0), walker], true);
        }
        assert_eq!(tracker.confirmed().count(), 2, "{:?}", tracker.tracks());
        let walker = tracker.confirmed().find(|t| t.id != 1).unwrap();
        assert!(walker.state[3] > 1.0, "{walker:?}");
    }

    #[test]
    fn measured_velocity_confirms_a_moving_object_at_once() {
        let mut tracker = Tracker::new(TrackingConfig::default());
        let mut o = lidar_obstacle(20.0, 0.0);
        o.velocity_known = true;
        o.vx = -4.0;
        tracker.update(0.0, &[o], true);
        o.x -= 0.2;
        tracker.update(0.05, &[o], true);
        let t = &tracker.tracks()[0];
        assert!(libm::fabs(t.state[2] + 4.0) < 0.2, "{t:?}");
        assert_eq!(tracker.associations(), &[Some(t.id)]);
    }
}
