//! Environment: visibility per sensor, lighting and precipitation, as the sensors report them.
//! Left out, each changes nothing (the golden digests hold that).

mod common;

use autonomy_stack::{ObjectClass, SensorFrame};

const SCENE: &str = r#"
version: 1
metadata: { id: test.env, title: t, description: d, owner: qa, domain: urban, severity: critical }
world:
  road: { lanes: 2, length: 300, speed_limit: 14 }
ego:
  start: { lane: 0, s: 10 }
  goal: { distance: 200 }
actors:
  - id: walker
    kind: pedestrian
    start: { lane: 0, s: 80 }
  - id: car
    kind: car
    start: { lane: 1, s: 84 }
environment:
  detector: { miss_rate: 0, false_positive_rate: 0, position_noise: 0 DETECTOR }
  lidar: { range_noise: 0 LIDAR }
EXTRA
criteria:
  - no_collision: {}
duration: 1
"#;

fn frames(detector: &str, extra: &str) -> Vec<SensorFrame> {
    frames_with(detector, "", extra)
}

fn frames_with(detector: &str, lidar: &str, extra: &str) -> Vec<SensorFrame> {
    common::frames(&SCENE.replace(" DETECTOR", detector).replace(" LIDAR", lidar).replace("EXTRA", extra))
}

/// Lists that reported the walker, and lists that reported the car.
fn reported(fs: &[SensorFrame]) -> (usize, usize) {
    let lists: Vec<&Vec<_>> = fs.iter().filter_map(|f| f.detections.as_ref()).collect();
    let walker = lists.iter().filter(|l| l.iter().any(|d| d.class == ObjectClass::Pedestrian)).count();
    let car = lists.iter().filter(|l| l.iter().any(|d| d.class == ObjectClass::Car)).count();
    (walker, car)
}

#[test]
fn at_night_the_camera_sees_an_unlit_pedestrian_only_within_the_headlamps_and_the_lidar_is_unchanged() {
    // The walker stands 70 m ahead: past dipped beams (60 m), within the detector's 80 m.
    let day = frames("", "");
    let explicit_day = frames("", "  lighting: day");
    let night = frames("", "  lighting: night");
    let dusk = frames("", "  lighting: dusk");
    let high_beam = frames("", "  lighting: night\n  headlamp_range: 100");
    let lists = day.iter().filter(|f| f.detections.is_some()).count();
    assert!(lists >= 20, "{lists}");
    assert_eq!(reported(&day), (lists, lists));
    assert_eq!(explicit_day, day, "`lighting: day` is the default");
    assert_eq!(reported(&night), (0, lists), "the car has lamps; the walker is dark");
    assert_eq!(reported(&dusk), (lists, lists));
    assert_eq!(reported(&high_beam), (lists, lists));
    let scans = |fs: &[SensorFrame]| fs.iter().filter_map(|f| f.lidar.clone()).collect::<Vec<_>>();
    assert_eq!(scans(&night), scans(&day), "the lidar brings its own light");
}

#[test]
fn rain_and_snow_shorten_the_lidar_and_the_visibility_the_stack_is_told() {
    let first = |fs: &[SensorFrame]| (fs[0].lidar.as_ref().unwrap().max_range, fs[0].visibility.unwrap());
    assert_eq!(first(&frames("", "")), (60.0, 250.0));
    let (lidar, vis) = first(&frames("", "  precipitation: { kind: rain, intensity: 25 }"));
    assert!((lidar - 53.51).abs() < 0.01 && vis == 250.0, "rain 25 mm/h: lidar {lidar} m, visibility {vis} m");
    // 5 mm/h of snow leaves the camera 334 m, more than the air's 250 m here.
    let (lidar, vis) = first(&frames("", "  precipitation: { kind: snow, intensity: 5 }"));
    assert!((lidar - 38.25).abs() < 0.01 && vis == 250.0, "snow 5 mm/h: lidar {lidar} m, visibility {vis} m");
    let (lidar, vis) = first(&frames("", "  precipitation: { kind: snow, intensity: 10 }"));
    assert!((lidar - 26.58).abs() < 0.01, "snow 10 mm/h: lidar {lidar} m");
    assert!((vis - 128.17).abs() < 0.01, "snow 10 mm/h: visibility {vis} m");
}

#[test]
fn each_sensor_can_have_its_own_visibility() {
    // A detector that sees 50 m (a dirty lens) misses the walker at 70 m; the lidar still has 60 m.
    let fs = frames(", visibility: 50", "");
    assert_eq!(reported(&fs).0, 0);
    assert_eq!(fs[0].lidar.as_ref().unwrap().max_range, 60.0);
    assert_eq!(fs[0].visibility, Some(250.0), "the stack is told the air's visibility");
    let fs = frames_with("", ", visibility: 20", "");
    assert_eq!(fs[0].lidar.as_ref().unwrap().max_range, 20.0);
}
