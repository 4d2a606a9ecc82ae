//! Sensors: a lidar that ray-casts through rapier's query pipeline (occlusion emerges from the
//! geometry), an object detector with noise, misses that may grow towards the edge of its reach, false
//! positives and latency, and noisy localisation. Each draws from its own seeded stream.

use std::collections::VecDeque;

use autonomy_stack::{Detection, EgoEstimate, LidarScan, ObjectClass, SignalObservation, StopLineKind};
use scenario_dsl::model::{ActorKind, Environment, Lighting, HEADLAMP_RANGE};

use crate::actors::ActorState;
use crate::physics::{Owner, Physics};
use crate::rng::Stream;
use crate::signals::Signals;
use crate::vehicle::VehicleState;
use crate::weather;

/// Height of the lidar's scan plane, metres.
pub const LIDAR_HEIGHT: f64 = 0.5;
/// Height of the detector's camera, metres.
pub const CAMERA_HEIGHT: f64 = 1.2;
/// Standard deviation of the speed estimate, m/s.
const SPEED_NOISE: f64 = 0.05;

fn class_of(kind: ActorKind) -> ObjectClass {
    match kind {
        ActorKind::Car => ObjectClass::Car,
        ActorKind::Truck => ObjectClass::Truck,
        ActorKind::Cyclist => ObjectClass::Cyclist,
        ActorKind::Pedestrian => ObjectClass::Pedestrian,
        ActorKind::Robot | ActorKind::Forklift => ObjectClass::Robot,
        ActorKind::Obstacle => ObjectClass::Unknown,
    }
}

/// The probability that the detector reports an object in line of sight `dist` metres away when it
/// reaches `reach` metres: `1 - miss_rate` out to half the reach, then falling smoothly
/// (smoothstep, no step in the rate or its slope) to `(1 - miss_rate)(1 - range_falloff)` at the
/// reach, and zero beyond it (ADR 0022).
pub fn detection_probability(miss_rate: f64, range_falloff: f64, dist: f64, reach: f64) -> f64 {
    if dist.is_nan() || dist > reach {
        return 0.0;
    }
    let near = 1.0 - miss_rate.clamp(0.0, 1.0);
    let half = 0.5 * reach;
    if dist <= half {
        return near;
    }
    let u = ((dist - half) / half).clamp(0.0, 1.0);
    near * (1.0 - range_falloff.clamp(0.0, 1.0) * u * u * (3.0 - 2.0 * u))
}

/// All sensors of the ego.
pub struct Sensors {
    env: Environment<f64>,
    lidar_every: u64,
    lidar_rng: Stream,
    detector_rng: Stream,
    localisation_rng: Stream,
    camera_rng: Stream,
    camera_latency_ticks: u64,
    latency_ticks: u64,
    dt: f64,
    /// Object lists in flight: (the tick they arrive, the tick they were captured, the list).
    pending: VecDeque<(u64, u64, Vec<Detection>)>,
}

/// Whether an actor carries lamps the camera sees it by in the dark.
fn lit(kind: ActorKind) -> bool {
    matches!(kind, ActorKind::Car | ActorKind::Truck | ActorKind::Forklift | ActorKind::Robot)
}

impl Sensors {
    /// The visibility the sensors work in, metres (as a vehicle's visibility estimate reports it):
    /// the air's, shortened by rain or snow.
    pub fn visibility(&self) -> f64 {
        match &self.env.precipitation {
            None => self.env.visibility,
            Some(p) => self.env.visibility.min(weather::camera_visibility(p)),
        }
    }

    /// The lidar's range in this weather, metres.
    fn lidar_range(&self) -> f64 {
        let l = &self.env.lidar;
        let range = match &self.env.precipitation {
            None => l.range,
            Some(p) => weather::lidar_range(l.range, p),
        };
        range.min(l.visibility.unwrap_or(self.env.visibility))
    }

    /// How far the detector reaches for an object of `kind`, metres: its range, the visibility it
    /// has, and in the dark the headlamps' reach for objects without lamps.
    fn detector_reach(&self, kind: Option<ActorKind>) -> f64 {
        let d = &self.env.detector;
        let mut reach = d.range.min(d.visibility.unwrap_or(self.env.visibility));
        if let Some(p) = &self.env.precipitation {
            reach = reach.min(weather::camera_visibility(p));
        }
        let headlamps = self.env.headlamp_range.unwrap_or(HEADLAMP_RANGE);
        match (self.env.lighting, kind) {
            (Lighting::Night, Some(k)) if !lit(k) => reach.min(headlamps),
            (Lighting::Dusk, Some(k)) if !lit(k) => reach.min(2.0 * headlamps),
            _ => reach,
        }
    }

    /// Sensors for a run with `seed`, sampled at the simulator's tick `dt`.
    pub fn new(env: &Environment<f64>, seed: u64, dt: f64) -> Self {
        Self {
            env: env.clone(),
            lidar_every: ((1.0 / (env.lidar.rate * dt)).round() as u64).max(1),
            lidar_rng: Stream::new(seed, "lidar"),
            detector_rng: Stream::new(seed, "detector"),
            localisation_rng: Stream::new(seed, "localisation"),
            camera_rng: Stream::new(seed, "signal_camera"),
            camera_latency_ticks: (env.signal_camera.latency / dt).round() as u64,
            latency_ticks: (env.detector.latency / dt).round() as u64,
            dt,
            pending: VecDeque::new(),
        }
    }

    /// A lidar scan, on the ticks where one completes.
    pub fn lidar(&mut self, tick: u64, physics: &Physics, ego: &VehicleState) -> Option<LidarScan> {
        let l = &self.env.lidar;
        if !l.enabled || !tick.is_multiple_of(self.lidar_every) {
            return None;
        }
        let max_range = self.lidar_range();
        let increment = std::f64::consts::TAU / f64::from(l.rays);
        let angle_min = -std::f64::consts::PI;
        let ranges = (0..l.rays)
            .map(|i| {
                let a = angle_min + f64::from(i) * increment;
                let hit = physics.cast_ray(ego.x, ego.y, LIDAR_HEIGHT, ego.heading + a, max_range);
                // Draw both numbers for every ray so that one ray's outcome never shifts another's noise.
                let dropped = self.lidar_rng.chance(l.dropout);
                let noise = self.lidar_rng.gaussian(l.range_noise);
                match hit {
                    Some((_, r)) if !dropped => Some((r + noise).clamp(0.0, max_range)),
                    _ => None,
                }
            })
            .collect();
        Some(LidarScan { angle_min, angle_increment: increment, max_range, ranges })
    }

    /// The detector's object list released this tick and how long ago it was captured (its
    /// `latency`), if any.
    pub fn detector(
        &mut self,
        tick: u64,
        physics: &Physics,
        ego: &VehicleState,
        actors: &[ActorState],
    ) -> Option<(Vec<Detection>, f64)> {
        let d = self.env.detector.clone();
        if !d.enabled {
            return None;
        }
        let reach = self.detector_reach(None);
        let reaches: Vec<f64> = actors.iter().map(|a| self.detector_reach(Some(a.kind))).collect();
        let rng = &mut self.detector_rng;
        let mut seen = Vec::new();
        for (i, a) in actors.iter().enumerate() {
            let reach = reaches[i];
            let (dx, dy) = (a.x - ego.x, a.y - ego.y);
            let dist = libm::hypot(dx, dy);
            // One draw per actor and frame whatever the outcome, so that one actor's distance never
            // shifts another's noise.
            // Missed when the draw falls below the miss probability: out to half the reach the same
            // draws miss as with a flat `miss_rate`.
            let missed = rng.unit() < 1.0 - detection_probability(d.miss_rate, d.range_falloff, dist, reach);
            let noise = (rng.gaussian(d.position_noise), rng.gaussian(d.position_noise));
            let vnoise = (rng.gaussian(0.5 * d.position_noise), rng.gaussian(0.5 * d.position_noise));
            if missed || dist < 1e-6 {
                continue;
            }
            // Line of sight from the camera to the object's upper body.
            let target_z = (0.6 * a.height).min(CAMERA_HEIGHT);
            let dz = target_z - CAMERA_HEIGHT;
            let len = libm::sqrt(dist * dist + dz * dz);
            let visible = match physics.cast(ego.x, ego.y, CAMERA_HEIGHT, (dx / len, dy / len, dz / len), len) {
                Some((Owner::Actor(j), _)) => j == i,
                Some(_) => false,
                None => true,
            };
            if visible {
                seen.push(Detection {
                    class: class_of(a.kind),
                    x: a.x + noise.0,
                    y: a.y + noise.1,
                    vx: a.velocity.0 + vnoise.0,
                    vy: a.velocity.1 + vnoise.1,
                    heading: a.heading,
                    length: a.length,
                    width: a.width,
                    confidence: 0.9,
                });
            }
        }
        for _ in 0..rng.poisson(d.false_positive_rate) {
            let r = rng.unit() * reach;
            let bearing = ego.heading + (rng.unit() - 0.5) * std::f64::consts::PI;
            seen.push(Detection {
                class: ObjectClass::Unknown,
                x: ego.x + r * libm::cos(bearing),
                y: ego.y + r * libm::sin(bearing),
                vx: 0.0,
                vy: 0.0,
                heading: 0.0,
                length: 0.5,
                width: 0.5,
                confidence: 0.3,
            });
        }
        self.pending.push_back((tick + self.latency_ticks, tick, seen));
        let mut released = None;
        while self.pending.front().is_some_and(|(at, _, _)| *at <= tick) {
            released = self.pending.pop_front().map(|(_, captured, list)| (list, (tick - captured) as f64 * self.dt));
        }
        released
    }

    /// The stop lines ahead on the ego's road (map data) with the state of each light as the signal
    /// camera reads it: the state `latency` ago, within its range and the visibility, missed with
    /// its miss rate (one draw per light per frame, so one light never shifts another's draws).
    pub fn signal_camera(&mut self, tick: u64, signals: &Signals, ego_front: f64) -> Vec<SignalObservation> {
        let cam = &self.env.signal_camera;
        let reach = cam.range.min(self.env.visibility);
        let captured = tick.saturating_sub(self.camera_latency_ticks);
        crate::signals::lines_ahead(signals, ego_front)
            .into_iter()
            .map(|(i, mut o)| {
                if o.kind == StopLineKind::TrafficLight {
                    let missed = self.camera_rng.chance(cam.miss_rate);
                    let dist = o.s - ego_front;
                    if !missed && dist <= reach {
                        o.state = signals.list[i].state(captured).map(crate::signals::observed);
                    }
                }
                o
            })
            .collect()
    }

    /// Localisation's estimate of the ego.
    pub fn localise(&mut self, ego: &VehicleState) -> EgoEstimate {
        let l = &self.env.localisation;
        let rng = &mut self.localisation_rng;
        EgoEstimate {
            x: ego.x + rng.gaussian(l.position_noise),
            y: ego.y + rng.gaussian(l.position_noise),
            heading: ego.heading + rng.gaussian(l.heading_noise.to_radians()),
            speed: (ego.speed + rng.gaussian(SPEED_NOISE)).max(0.0),
            accel: ego.accel,
            yaw_rate: ego.yaw_rate,
        }
    }
}
