//! Closed-loop self-checks: the stack drives the kinematic harness world and must behave.

mod harness;

use autonomy_stack::config::StackConfig;
use autonomy_stack::geometry::RoadGeometry;
use autonomy_stack::{
    AreaMap, EgoEstimate, Mission, MissionGoal, Mode, ObjectClass, Reason, RoadMap, Stack, VehicleParams,
};
use harness::{Actor, Sensors, World};

fn car() -> VehicleParams {
    VehicleParams { length: 4.5, width: 1.8, wheelbase: 2.8, max_accel: 3.0, max_decel: 8.0, max_steer: 0.6 }
}

fn road_mission(lanes: u32, lane_width: f64, speed_limit: f64, curvature: f64) -> Mission {
    Mission {
        road: Some(RoadMap { lanes, lane_width, length: 2000.0, curvature, speed_limit, line: Vec::new(), kind: None }),
        area: None,
        goal: MissionGoal::RoadDistance { s: 1900.0 },
        route: Vec::new(),
        start_lane: Some(0),
        set_speed: None,
        zones: Vec::new(),
        vehicle: car(),
        control_period: 0.05,
    }
}

fn ego_at(x: f64, y: f64, speed: f64) -> EgoEstimate {
    EgoEstimate { x, y, speed, ..Default::default() }
}

fn weak() -> StackConfig {
    serde_yaml::from_str(include_str!("../../catalog/stacks/weak.yaml")).unwrap()
}

#[test]
fn follows_its_lane_at_the_speed_limit_factor_on_straight_and_curved_roads() {
    for curvature in [0.0, 0.004] {
        let mission = road_mission(2, 3.5, 15.0, curvature);
        let road = RoadGeometry::new(mission.road.clone().unwrap());
        let config = StackConfig::default();
        let target = 15.0 * config.planning.speed_limit_factor;
        let mut stack = Stack::new(config, mission.clone()).unwrap();
        let mut world = World::new(mission, ego_at(0.0, 1.75, 10.0), Vec::new(), Sensors::default());
        let mut s_hint = 0.0;
        for tick in 0..600 {
            let out = world.step(&mut stack);
            assert_eq!(out.telemetry.mode, Mode::Nominal, "tick {tick}");
            assert!(out.telemetry.events.is_empty(), "tick {tick}: {:?}", out.telemetry.events);
            let (s, d) = road.frame.to_frame(world.ego.x, world.ego.y, s_hint);
            s_hint = s;
            assert!(libm::fabs(d - 1.75) < 0.3, "k={curvature} tick {tick}: d {d}");
        }
        // A curve of radius 250 m at 2.5 m/s² lateral allows 25 m/s: the limit factor binds.
        assert!(libm::fabs(world.ego.speed - target) < 0.15, "k={curvature}: {} vs {target}", world.ego.speed);
    }
}

#[test]
fn holds_the_drivers_set_speed_below_the_limit() {
    let mut mission = road_mission(2, 3.5, 25.0, 0.0);
    mission.set_speed = Some(12.0);
    let mut stack = Stack::new(StackConfig::default(), mission.clone()).unwrap();
    let mut world = World::new(mission.clone(), ego_at(0.0, 1.75, 12.0), Vec::new(), Sensors::default());
    let mut fastest: f64 = 0.0;
    for _ in 0..500 {
        world.step(&mut stack);
        fastest = fastest.max(world.ego.speed);
    }
    assert!(fastest < 12.2, "the ego drove {fastest} m/s with the set speed at 12 m/s");
    assert!(libm::fabs(world.ego.speed - 12.0) < 0.15, "it cruises at the set speed: {}", world.ego.speed);

    mission.set_speed = Some(-1.0);
    let err = Stack::new(StackConfig::default(), mission).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("set_speed"), "{err}");
}

#[test]
fn stops_behind_a_stopped_car_with_at_least_the_minimum_gap() {
    let mission = road_mission(1, 3.5, 15.0, 0.0);
    let config = StackConfig::default();
    let min_gap = config.planning.idm_min_gap;
    let mut stack = Stack::new(config, mission.clone()).unwrap();
    let stopped = Actor::new(150.0, 1.75, 4.5, 1.8, ObjectClass::Car);
    let mut world = World::new(mission, ego_at(0.0, 1.75, 14.0), vec![stopped], Sensors::default());
    let mut fallback = false;
    for _ in 0..800 {
        let out = world.step(&mut stack);
        fallback |= out.telemetry.mode == Mode::Fallback;
    }
    let gap = (150.0 - 2.25) - (world.ego.x + 2.25);
    assert!(!world.collided);
    assert!(world.ego.speed < 0.05, "still moving at {}", world.ego.speed);
    assert!(gap >= min_gap && gap < min_gap + 1.5, "gap {gap}");
    assert!(!fallback, "the planner stopped on its own, without AEB");
}

/// A stopped obstacle appears 20 m ahead of an ego at 15 m/s on a one-lane road.
fn sudden_obstacle(config: StackConfig) -> (World, Vec<autonomy_stack::GuardrailEvent>, bool) {
    let mission = road_mission(1, 3.5, 16.0, 0.0);
    let mut stack = Stack::new(config, mission.clone()).unwrap();
    let mut obstacle = Actor::new(0.0, 1.75, 1.0, 2.0, ObjectClass::Unknown);
    obstacle.appears_at = 2.0;
    // The ego cruises at 15.2 m/s: at t = 2 s its front is near x = 2.25 + 30.4; put the box 20 m ahead.
    obstacle.footprint.x = 30.4 + 2.25 + 20.0 + 0.5;
    let sensors = Sensors { lidar_rays: 360, ..Sensors::default() };
    let mut world = World::new(mission, ego_at(0.0, 1.75, 15.2), vec![obstacle], sensors);
    let mut events = Vec::new();
    let mut fallback = false;
    for _ in 0..200 {
        let out = world.step(&mut stack);
        events.extend(out.telemetry.events);
        fallback |= out.telemetry.mode == Mode::Fallback;
        if world.collided {
            break;
        }
    }
    (world, events, fallback)
}

#[test]
fn aeb_avoids_a_sudden_obstacle_that_the_weak_configuration_hits() {
    let (world, events, fallback) = sudden_obstacle(StackConfig::default());
    assert!(!world.collided, "default stack collided at {:?}", world.ego);
    assert!(world.ego.speed < 0.05);
    assert!(fallback);
    let aeb: Vec<_> = events.iter().filter(|e| e.reason == Reason::AebTtc).collect();
    assert_eq!(aeb.len(), 1, "{events:?}");
    assert!(aeb[0].intervention);

    let (world, events, _) = sudden_obstacle(weak());
    assert!(world.collided, "the weak stack should not manage to stop: {:?}", world.ego);
    assert!(events.iter().all(|e| e.reason != Reason::AebTtc));
}

#[test]
fn goes_around_a_static_obstacle_in_its_lane_and_stays_on_the_road() {
    // (lanes, lane width, obstacle lateral offset, obstacle width): a blocked lane of a two-lane
    // road, and a wide single lane with a box on its right half.
    for (lanes, lane_width, obstacle_d, obstacle_w) in [(2, 3.5, 1.75, 2.0), (1, 5.0, 0.6, 1.0)] {
        let mission = road_mission(lanes, lane_width, 12.0, 0.0);
        let road = RoadGeometry::new(mission.road.clone().unwrap());
        let mut stack = Stack::new(StackConfig::default(), mission.clone()).unwrap();
        let obstacle = Actor::new(120.0, obstacle_d, 1.0, obstacle_w, ObjectClass::Unknown);
        let start_d = 0.5 * lane_width;
        let sensors = Sensors { lidar_rays: 360, ..Sensors::default() };
        let mut world = World::new(mission, ego_at(0.0, start_d, 10.0), vec![obstacle], sensors);
        let half = 0.5 * world.mission.vehicle.width;
        let mut min_clearance = f64::INFINITY;
        for tick in 0..500 {
            let out = world.step(&mut stack);
            assert_ne!(out.telemetry.mode, Mode::Fallback, "lanes {lanes} tick {tick}");
            let (_, d) = road.frame.to_frame(world.ego.x, world.ego.y, world.ego.x);
            assert!(
                d - half > -0.05 && d + half < road.width() + 0.05,
                "lanes {lanes} tick {tick}: off the road at d {d}"
            );
            if libm::fabs(world.ego.x - 120.0) < 0.5 * (4.5 + 1.0) {
                min_clearance = min_clearance.min(libm::fabs(world.ego.y - obstacle_d) - half - 0.5 * obstacle_w);
            }
        }
        assert!(!world.collided, "lanes {lanes}");
        assert!(world.ego.x > 160.0, "lanes {lanes}: stuck at {:?}", world.ego);
        assert!(world.ego.speed > 8.0, "lanes {lanes}: {:?}", world.ego);
        assert!(min_clearance > 0.2, "lanes {lanes}: passed within {min_clearance} m");
    }
}

#[test]
fn a_robot_reaches_its_goal_around_an_unmapped_box() {
    let robot =
        VehicleParams { length: 1.0, width: 0.7, wheelbase: 0.6, max_accel: 1.0, max_decel: 2.0, max_steer: 0.8 };
    let mission = Mission {
        road: None,
        area: Some(AreaMap {
            min_x: 0.0,
            min_y: 0.0,
            max_x: 40.0,
            max_y: 20.0,
            speed_limit: 2.0,
            obstacles: Vec::new(),
        }),
        goal: MissionGoal::Point { x: 35.0, y: 10.0, tolerance: 0.5 },
        route: Vec::new(),
        start_lane: None,
        set_speed: None,
        zones: Vec::new(),
        vehicle: robot,
        control_period: 0.05,
    };
    // A small robot tracks its path with a shorter look-ahead than a car: the default configuration
    // scales the look-ahead floor with the wheelbase (2 x 0.6 m = 1.2 m, raised to the 1.5 m least
    // floor, instead of the car's 4 m).
    let mut stack = Stack::new(StackConfig::default(), mission.clone()).unwrap();
    let obstacle = Actor::new(18.0, 10.0, 3.0, 3.0, ObjectClass::Unknown);
    let sensors = Sensors { detections: false, lidar_rays: 360, lidar_range: 30.0, ..Sensors::default() };
    let mut world = World::new(mission, ego_at(2.0, 10.0, 0.0), vec![obstacle], sensors);
    let mut arrived_at = None;
    for tick in 0..1200 {
        let out = world.step(&mut stack);
        assert_ne!(out.telemetry.mode, Mode::Fallback, "tick {tick}: {:?}", out.telemetry.events);
        if libm::hypot(world.ego.x - 35.0, world.ego.y - 10.0) <= 0.5 && world.ego.speed < 0.05 {
            arrived_at = Some(tick);
            break;
        }
    }
    assert!(!world.collided);
    assert!(arrived_at.is_some(), "did not arrive: {:?}", world.ego);
}

/// The catalog's warehouse robot.
fn amr() -> VehicleParams {
    VehicleParams { length: 1.2, width: 0.8, wheelbase: 0.9, max_accel: 1.0, max_decel: 2.5, max_steer: 1.047 }
}

/// A 2.4 m aisle between two 25 m racks that fill the area from wall to wall, so the only way
/// from one end to the other is down the aisle (y 7.0 to 9.4).
fn aisle_mission() -> Mission {
    let rack = |y: f64| autonomy_stack::OrientedBox { x: 17.5, y, heading: 0.0, length: 25.0, width: 1.2 };
    Mission {
        road: None,
        area: Some(AreaMap {
            min_x: 0.0,
            min_y: 5.8,
            max_x: 40.0,
            max_y: 10.6,
            speed_limit: 2.0,
            obstacles: vec![rack(6.4), rack(10.0)],
        }),
        goal: MissionGoal::Point { x: 36.0, y: 8.2, tolerance: 0.5 },
        route: Vec::new(),
        start_lane: None,
        set_speed: None,
        zones: Vec::new(),
        vehicle: amr(),
        control_period: 0.05,
    }
}

/// Distance between two oriented boxes that do not overlap (attained at a corner of one of them).
fn box_gap(a: &autonomy_stack::OrientedBox, b: &autonomy_stack::OrientedBox) -> f64 {
    use autonomy_stack::geometry::{box_corners, point_box_distance};
    let one = box_corners(a).iter().map(|c| point_box_distance(b, c.0, c.1)).fold(f64::INFINITY, f64::min);
    let other = box_corners(b).iter().map(|c| point_box_distance(a, c.0, c.1)).fold(f64::INFINITY, f64::min);
    one.min(other)
}

#[test]
fn a_robot_passes_a_person_standing_in_an_aisle_with_1_6_m_free_slowly_and_with_half_a_metre() {
    // The person (0.5 m) stands 0.3 m off the lower rack: 1.6 m of the aisle are free beside them,
    // for a 0.8 m robot 0.8 m of clearance to share between the person and the upper rack.
    let mission = aisle_mission();
    let config = StackConfig::default();
    let person = Actor::new(18.0, 7.55, 0.5, 0.5, ObjectClass::Pedestrian);
    let mut stack = Stack::new(config.clone(), mission.clone()).unwrap();
    let mut world = World::new(mission, ego_at(2.0, 8.2, 0.0), vec![person], Sensors::default());
    let (mut closest, mut fastest_alongside) = (f64::INFINITY, 0.0_f64);
    let mut arrived = false;
    for _ in 0..1600 {
        world.step(&mut stack);
        let gap = box_gap(&world.ego_box(), &world.actors[0].footprint);
        closest = closest.min(gap);
        if (world.ego.x - 18.0).abs() < 0.6 + 0.25 {
            fastest_alongside = fastest_alongside.max(world.ego.speed);
        }
        if libm::hypot(world.ego.x - 36.0, world.ego.y - 8.2) <= 0.5 && world.ego.speed < 0.05 {
            arrived = true;
            break;
        }
    }
    assert!(!world.collided);
    assert!(arrived, "never passed the person: {:?}", world.ego);
    assert!(closest >= 0.45, "passed within {closest:.2} m of the person");
    let limit = config.planning.person_passing_speed;
    assert!(fastest_alongside <= limit + 0.1, "passed the person at {fastest_alongside:.2} m/s (limit {limit})");
}

#[test]
fn a_robot_waits_for_a_person_it_cannot_pass_with_half_a_metre() {
    // The person stands in the middle of the 2.4 m aisle: 0.95 m free on either side is not
    // enough for a 0.8 m robot and 0.5 m of clearance. The robot stops short and waits.
    let mission = aisle_mission();
    let person = Actor::new(18.0, 8.2, 0.5, 0.5, ObjectClass::Pedestrian);
    let mut stack = Stack::new(StackConfig::default(), mission.clone()).unwrap();
    let mut world = World::new(mission, ego_at(2.0, 8.2, 0.0), vec![person], Sensors::default());
    let mut closest = f64::INFINITY;
    for _ in 0..800 {
        world.step(&mut stack);
        closest = closest.min(box_gap(&world.ego_box(), &world.actors[0].footprint));
    }
    assert!(!world.collided);
    assert!(world.ego.speed < 0.05 && world.ego.x < 18.0, "still moving or past: {:?}", world.ego);
    assert!(closest >= 1.0, "came within {closest:.2} m of the person");
}

#[test]
fn a_robot_keeps_its_footprint_inside_the_area() {
    // Open floor beyond the rack block's ends is outside the area: the search keeps the robot's
    // berth from the area's edges as from a rack, so it never plans along the boundary.
    let mission = aisle_mission();
    let mut stack = Stack::new(StackConfig::default(), mission.clone()).unwrap();
    let mut world = World::new(mission.clone(), ego_at(2.0, 8.2, 0.0), Vec::new(), Sensors::default());
    let area = mission.area.unwrap();
    for _ in 0..1200 {
        world.step(&mut stack);
        for (x, y) in autonomy_stack::geometry::box_corners(&world.ego_box()) {
            assert!(x >= area.min_x && x <= area.max_x && y >= area.min_y && y <= area.max_y, "({x}, {y})");
        }
    }
}

/// Two aisles of racking (y 7.6 to 10.4 for the robot, the next one above and below) with a 1.5 m
/// gap in both rack rows at x 15.5 to 17: floor beside the robot's aisle that the racks hide from
/// its sensors until it is nearly level with the gap.
fn gapped_aisles_mission() -> Mission {
    let rack = |x: f64, y: f64, length: f64| autonomy_stack::OrientedBox { x, y, heading: 0.0, length, width: 1.2 };
    Mission {
        road: None,
        area: Some(AreaMap {
            min_x: 0.0,
            min_y: 0.0,
            max_x: 40.0,
            max_y: 18.0,
            speed_limit: 2.0,
            obstacles: vec![
                rack(10.25, 7.0, 10.5),
                rack(23.5, 7.0, 13.0),
                rack(10.25, 11.0, 10.5),
                rack(23.5, 11.0, 13.0),
                rack(17.5, 3.0, 25.0),
                rack(17.5, 15.0, 25.0),
            ],
        }),
        goal: MissionGoal::Point { x: 36.0, y: 9.0, tolerance: 0.5 },
        route: Vec::new(),
        start_lane: None,
        set_speed: None,
        zones: Vec::new(),
        vehicle: amr(),
        control_period: 0.05,
    }
}

#[test]
fn a_robot_reaches_a_gap_in_the_racking_at_the_blind_spot_speed_and_cruises_elsewhere() {
    let mission = gapped_aisles_mission();
    let config = StackConfig::default();
    let mut stack = Stack::new(config.clone(), mission.clone()).unwrap();
    let mut world = World::new(mission, ego_at(2.0, 9.0, 0.0), Vec::new(), Sensors::default());
    let (mut at_gap, mut mid_aisle) = (None, 0.0_f64);
    let mut arrived = false;
    for _ in 0..1600 {
        world.step(&mut stack);
        // Its front reaches the gap's near edge: the floor in the gap is still hidden from it.
        if world.ego.x + 0.6 >= 15.5 && at_gap.is_none() {
            at_gap = Some(world.ego.speed);
        }
        if (9.0..12.0).contains(&world.ego.x) {
            mid_aisle = mid_aisle.max(world.ego.speed);
        }
        if libm::hypot(world.ego.x - 36.0, world.ego.y - 9.0) <= 0.5 && world.ego.speed < 0.05 {
            arrived = true;
            break;
        }
    }
    assert!(!world.collided);
    assert!(arrived, "did not arrive: {:?}", world.ego);
    let limit = config.planning.blind_spot_speed;
    let at_gap = at_gap.expect("never reached the gap");
    assert!(at_gap <= limit + 0.05, "reached the gap at {at_gap:.2} m/s (blind-spot speed {limit})");
    assert!(mid_aisle > 1.7, "crawled down the aisle away from any gap: {mid_aisle:.2} m/s");
}

#[test]
fn a_robot_stops_for_a_person_stepping_out_of_a_gap_in_the_racking() {
    // The person comes into view at the gap's mouth (the rack face) walking across the aisle at
    // 1.6 m/s (ISO 13855's approach speed) when the robot's front is 0.6 m short of the gap.
    let mission = gapped_aisles_mission();
    let mut stack = Stack::new(StackConfig::default(), mission.clone()).unwrap();
    let mut world = World::new(mission, ego_at(2.0, 9.0, 0.0), Vec::new(), Sensors::default());
    while world.ego.x + 0.6 < 14.9 {
        world.step(&mut stack);
        assert!(world.tick < 1000, "never reached the gap: {:?}", world.ego);
    }
    let mut person = Actor::new(16.25, 10.4 + 0.25, 0.5, 0.5, ObjectClass::Pedestrian);
    person.vy = -1.6;
    person.appears_at = world.time();
    world.actors.push(person);
    let mut closest = f64::INFINITY;
    // Until the person has crossed the robot's aisle (4 m at 1.6 m/s).
    for _ in 0..50 {
        world.step(&mut stack);
        closest = closest.min(box_gap(&world.ego_box(), &world.actors[0].footprint));
    }
    assert!(!world.collided, "hit the person: {:?}", world.ego);
    assert!(closest >= 0.5, "came within {closest:.2} m of the person");
}

#[test]
fn in_fog_the_ego_drives_on_sight_and_stops_for_a_stalled_car_with_time_to_spare() {
    // One lane at a 25 m/s limit, 35 m of visibility, a stalled car 300 m ahead: the ego enters
    // the fog at 17 m/s. From that speed, once the car comes into view at 35 m, comfortable
    // braking cannot stop in time and AEB would cut the time to collision below a second.
    let mission = road_mission(1, 3.5, 25.0, 0.0);
    let config = StackConfig::default();
    let mut stack = Stack::new(config.clone(), mission.clone()).unwrap();
    let stalled = Actor::new(300.0, 1.75, 4.5, 1.8, ObjectClass::Car);
    let sensors = Sensors { lidar_rays: 360, fog: Some(35.0), ..Sensors::default() };
    let mut world = World::new(mission, ego_at(0.0, 1.75, 17.0), vec![stalled], sensors);
    let (mut speed_when_seen, mut min_ttc) = (None, f64::INFINITY);
    for _ in 0..1200 {
        world.step(&mut stack);
        let gap = 300.0 - 2.25 - (world.ego.x + 2.25);
        if gap < 35.0 && speed_when_seen.is_none() {
            speed_when_seen = Some(world.ego.speed);
        }
        if world.ego.speed > 0.1 {
            min_ttc = min_ttc.min(gap / world.ego.speed);
        }
    }
    assert!(!world.collided, "hit the stalled car: {:?}", world.ego);
    assert!(world.ego.speed < 0.05, "did not stop: {:?}", world.ego);
    let sight = autonomy_stack::planning::trajectory::sight_speed(&config.planning, car().max_decel, 35.0);
    let seen = speed_when_seen.expect("never came within sight of the car");
    assert!(seen <= sight + 0.2, "came into sight of the car at {seen:.1} m/s (drive-on-sight speed {sight:.1})");
    assert!(min_ttc >= 1.5, "time to collision fell to {min_ttc:.2} s");
}

#[test]
fn a_robot_drives_an_aisle_on_a_noisy_pose_without_swinging_towards_the_racks() {
    // Half a metre of white localisation noise in a 2.4 m aisle with 0.8 m of room either side:
    // steering after each raw fix swings the robot from side to side towards the racks.
    let mission = aisle_mission();
    let mut stack = Stack::new(StackConfig::default(), mission.clone()).unwrap();
    let sensors = Sensors { pose_noise: 0.5, ..Sensors::default() };
    let mut world = World::new(mission, ego_at(2.0, 8.2, 0.0), Vec::new(), sensors);
    let (mut swing, mut arrived) = (0.0_f64, false);
    for _ in 0..1600 {
        world.step(&mut stack);
        assert!(!world.collided, "touched a rack: {:?}", world.ego);
        if (7.0..28.0).contains(&world.ego.x) {
            swing = swing.max(libm::fabs(world.ego.y - 8.2));
        }
        if libm::hypot(world.ego.x - 36.0, world.ego.y - 8.2) <= 0.5 && world.ego.speed < 0.05 {
            arrived = true;
            break;
        }
    }
    assert!(arrived, "did not arrive: {:?}", world.ego);
    assert!(swing <= 0.07, "swung {swing:.2} m off the aisle's centre line");
}

#[test]
fn after_overtaking_a_slow_car_the_ego_pulls_back_in_to_let_faster_traffic_pass() {
    // A slow car ahead in the ego's lane and, far behind in the passing lane, a faster car that
    // does not react (as scripted traffic does not): the ego overtakes, then must make way.
    let mission = road_mission(2, 3.5, 13.9, 0.0);
    let road = RoadGeometry::new(mission.road.clone().unwrap());
    let mut stack = Stack::new(StackConfig::default(), mission.clone()).unwrap();
    let mut slow = Actor::new(60.0, 1.75, 4.5, 1.8, ObjectClass::Car);
    slow.vx = 5.0;
    let mut fast = Actor::new(-350.0, 5.25, 4.5, 1.8, ObjectClass::Car);
    fast.vx = 20.0;
    let sensors = Sensors { lidar_rays: 360, ..Sensors::default() };
    let mut world = World::new(mission, ego_at(0.0, 1.75, 12.0), vec![slow, fast], sensors);
    let mut overtook = false;
    for _ in 0..1200 {
        world.step(&mut stack);
        let (s, d) = road.frame.to_frame(world.ego.x, world.ego.y, world.ego.x);
        overtook |= d > 3.5 && s > world.actors[0].footprint.x;
    }
    let (_, d) = road.frame.to_frame(world.ego.x, world.ego.y, world.ego.x);
    assert!(overtook, "never passed the slow car in the left lane");
    assert!(!world.collided, "the faster car ran into the ego");
    assert!(world.actors[1].footprint.x > world.ego.x, "the faster car never got past: {:?}", world.ego);
    assert!(world.ego.x > world.actors[0].footprint.x, "fell back behind the slow car");
    assert!(d < 3.5, "still in the passing lane at d {d}");
}
