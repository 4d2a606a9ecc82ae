//! The benchmark scene shared by `benches/stack_tick.rs` and `examples/tick_latency.rs`: a
//! three-lane road with 20 moving cars around the ego, seen by the detector and a 360-ray lidar.

use autonomy_stack::geometry::ray_box_distance;
use autonomy_stack::{
    Detection, EgoEstimate, FrozenClock, LidarScan, Mission, MissionGoal, ObjectClass, OrientedBox, RoadMap,
    SensorFrame, Stack, StackConfig, VehicleParams,
};
use core::f64::consts::PI;

/// Objects in the scene.
pub const OBJECTS: usize = 20;
/// Lidar rays per scan.
pub const RAYS: usize = 360;
const PERIOD: f64 = 0.05;

/// The mission of the scene.
pub fn mission() -> Mission {
    Mission {
        road: Some(RoadMap {
            lanes: 3,
            lane_width: 3.5,
            length: 5000.0,
            curvature: 0.0,
            speed_limit: 20.0,
            line: Vec::new(),
            kind: None,
        }),
        area: None,
        goal: MissionGoal::RoadDistance { s: 4900.0 },
        route: Vec::new(),
        start_lane: Some(0),
        set_speed: None,
        zones: Vec::new(),
        vehicle: VehicleParams {
            length: 4.5,
            width: 1.8,
            wheelbase: 2.8,
            max_accel: 3.0,
            max_decel: 8.0,
            max_steer: 0.6,
        },
        control_period: PERIOD,
    }
}

/// The world at tick `k` (everyone drives at constant speed; the ego at 15 m/s in lane 0).
pub fn frame(k: u64) -> SensorFrame {
    let t = k as f64 * PERIOD;
    let ego = EgoEstimate { x: 15.0 * t, y: 1.75, heading: 0.0, speed: 15.0, ..Default::default() };
    let cars: Vec<(OrientedBox, f64)> = (0..OBJECTS)
        .map(|i| {
            let lane = (i % 3) as f64;
            let speed = 12.0 + (i % 5) as f64;
            let x0 = -45.0 + 9.0 * i as f64 + if i % 3 == 0 { 4.5 } else { 0.0 };
            let b = OrientedBox { x: x0 + speed * t, y: 1.75 + 3.5 * lane, heading: 0.0, length: 4.5, width: 1.8 };
            (b, speed)
        })
        .collect();
    let detections = cars
        .iter()
        .map(|(b, v)| Detection {
            class: ObjectClass::Car,
            x: b.x,
            y: b.y,
            vx: *v,
            vy: 0.0,
            heading: 0.0,
            length: b.length,
            width: b.width,
            confidence: 0.9,
        })
        .collect();
    let inc = 2.0 * PI / RAYS as f64;
    let ranges = (0..RAYS)
        .map(|i| {
            let a = -PI + inc * i as f64;
            cars.iter()
                .filter_map(|(b, _)| ray_box_distance(b, ego.x, ego.y, a))
                .filter(|r| *r > 0.0 && *r < 60.0)
                .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))))
        })
        .collect();
    SensorFrame {
        tick: k,
        time: t,
        ego,
        lidar: Some(LidarScan { angle_min: -PI, angle_increment: inc, max_range: 60.0, ranges }),
        detections: Some(detections),
        detections_age: 0.0,
        visibility: None,
        signals: Vec::new(),
    }
}

/// A stack warmed up on `warmup` frames (so every object is a confirmed track) and the next frame.
pub fn warmed(warmup: u64) -> (Stack, SensorFrame) {
    let mut stack = Stack::new(StackConfig::default(), mission()).expect("the scene's configuration is valid");
    for k in 0..warmup {
        stack.step(&frame(k), &mut FrozenClock);
    }
    (stack, frame(warmup))
}
