//! A tiny kinematic world for closed-loop tests: a bicycle-model ego driven by the stack's
//! commands, boxes that appear and move at constant velocity, perfect detections and an optional
//! ray-cast lidar.

#![allow(dead_code)]

use autonomy_stack::geometry::{boxes_overlap, ray_box_distance};
use autonomy_stack::{
    ControlCommand, Detection, EgoEstimate, FrozenClock, LidarScan, Mission, ObjectClass, OrientedBox, SensorFrame,
    Stack, StackOutput,
};

/// One scripted actor.
#[derive(Debug, Clone)]
pub struct Actor {
    pub footprint: OrientedBox,
    pub vx: f64,
    pub vy: f64,
    pub class: ObjectClass,
    /// It exists (is seen and can be hit) from this time on.
    pub appears_at: f64,
}

impl Actor {
    pub fn new(x: f64, y: f64, length: f64, width: f64, class: ObjectClass) -> Self {
        Actor { footprint: OrientedBox { x, y, heading: 0.0, length, width }, vx: 0.0, vy: 0.0, class, appears_at: 0.0 }
    }
}

/// Sensor options.
#[derive(Debug, Clone, Copy)]
pub struct Sensors {
    pub detections: bool,
    pub lidar_rays: usize,
    pub lidar_range: f64,
    pub detection_range: f64,
    /// Visibility in fog, metres: both sensors see no farther, and the frame reports it.
    pub fog: Option<f64>,
    /// Localisation noise: the reported position is off by up to this much in x and y, uniform
    /// and white (a fixed pseudo-random sequence), metres.
    pub pose_noise: f64,
}

impl Default for Sensors {
    fn default() -> Self {
        Sensors {
            detections: true,
            lidar_rays: 0,
            lidar_range: 60.0,
            detection_range: 80.0,
            fog: None,
            pose_noise: 0.0,
        }
    }
}

pub struct World {
    pub mission: Mission,
    pub ego: EgoEstimate,
    pub actors: Vec<Actor>,
    pub sensors: Sensors,
    pub tick: u64,
    pub collided: bool,
}

impl World {
    pub fn new(mission: Mission, ego: EgoEstimate, actors: Vec<Actor>, sensors: Sensors) -> Self {
        World { mission, ego, actors, sensors, tick: 0, collided: false }
    }

    pub fn time(&self) -> f64 {
        self.tick as f64 * self.mission.control_period
    }

    pub fn ego_box(&self) -> OrientedBox {
        let v = &self.mission.vehicle;
        OrientedBox { x: self.ego.x, y: self.ego.y, heading: self.ego.heading, length: v.length, width: v.width }
    }

    fn visible(&self) -> impl Iterator<Item = &Actor> {
        let t = self.time();
        self.actors.iter().filter(move |a| a.appears_at <= t + 1e-9)
    }

    pub fn frame(&self) -> SensorFrame {
        let (ex, ey) = (self.ego.x, self.ego.y);
        let fog = self.sensors.fog.unwrap_or(f64::INFINITY);
        let (detection_range, lidar_range) = (self.sensors.detection_range.min(fog), self.sensors.lidar_range.min(fog));
        let detections = self.sensors.detections.then(|| {
            self.visible()
                .filter(|a| libm::hypot(a.footprint.x - ex, a.footprint.y - ey) < detection_range)
                .map(|a| Detection {
                    class: a.class,
                    x: a.footprint.x,
                    y: a.footprint.y,
                    vx: a.vx,
                    vy: a.vy,
                    heading: a.footprint.heading,
                    length: a.footprint.length,
                    width: a.footprint.width,
                    confidence: 0.9,
                })
                .collect()
        });
        let lidar = (self.sensors.lidar_rays > 0).then(|| {
            let n = self.sensors.lidar_rays;
            let inc = 2.0 * core::f64::consts::PI / n as f64;
            let angle_min = -core::f64::consts::PI;
            let ranges = (0..n)
                .map(|i| {
                    let a = self.ego.heading + angle_min + inc * i as f64;
                    self.visible()
                        .filter_map(|o| ray_box_distance(&o.footprint, ex, ey, a))
                        .filter(|r| *r > 0.0 && *r < lidar_range)
                        .fold(None, |best: Option<f64>, r| Some(best.map_or(r, |b| b.min(r))))
                })
                .collect();
            LidarScan { angle_min, angle_increment: inc, max_range: lidar_range, ranges }
        });
        let mut ego = self.ego;
        if self.sensors.pose_noise > 0.0 {
            // A fixed sequence per tick (splitmix64), uniform in [-1, 1).
            let unit = |k: u64| {
                let mut z = k.wrapping_add(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (z ^ (z >> 31)) as f64 / u64::MAX as f64 * 2.0 - 1.0
            };
            ego.x += self.sensors.pose_noise * unit(2 * self.tick);
            ego.y += self.sensors.pose_noise * unit(2 * self.tick + 1);
        }
        SensorFrame {
            tick: self.tick,
            time: self.time(),
            ego,
            lidar,
            detections,
            detections_age: 0.0,
            visibility: self.sensors.fog,
            signals: Vec::new(),
        }
    }

    /// Applies a command for one period (kinematic bicycle, centre-referenced).
    pub fn advance(&mut self, cmd: ControlCommand) {
        let v = &self.mission.vehicle;
        let dt = self.mission.control_period;
        let a = cmd.accel.clamp(-v.max_decel, v.max_accel);
        let steer = cmd.steer.clamp(-v.max_steer, v.max_steer);
        let speed = (self.ego.speed + a * dt).max(0.0);
        let mean = 0.5 * (self.ego.speed + speed);
        let yaw_rate = mean * libm::tan(steer) / v.wheelbase;
        self.ego.heading += yaw_rate * dt;
        self.ego.x += mean * libm::cos(self.ego.heading) * dt;
        self.ego.y += mean * libm::sin(self.ego.heading) * dt;
        self.ego.accel = (speed - self.ego.speed) / dt;
        self.ego.speed = speed;
        self.ego.yaw_rate = yaw_rate;
        self.tick += 1;
        let t = self.time();
        for a in &mut self.actors {
            if a.appears_at <= t {
                a.footprint.x += a.vx * dt;
                a.footprint.y += a.vy * dt;
            }
        }
        let ego = self.ego_box();
        if self.visible().any(|a| boxes_overlap(&ego, &a.footprint)) {
            self.collided = true;
        }
    }

    /// One closed-loop tick.
    pub fn step(&mut self, stack: &mut Stack) -> StackOutput {
        let frame = self.frame();
        let out = stack.step(&frame, &mut FrozenClock);
        self.advance(out.command);
        out
    }
}
