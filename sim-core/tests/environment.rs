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
  detector: { miss_rate: 0, range_falloff: 0, false_positive_rate: 0, position_noise: 0 DETECTOR }
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

/// A car standing `DIST` metres ahead of a standing ego for 40 s (1000 detector frames).
const RANGE: &str = r#"
version: 1
metadata: { id: test.range, title: t, description: d, owner: qa, domain: highway, severity: critical }
world:
  road: { lanes: 1, length: 300, speed_limit: 14 }
ego:
  start: { lane: 0, s: 10 }
  goal: { distance: 250 }
actors:
  - id: car
    kind: car
    start: { lane: 0, s: DIST }
environment:
  visibility: VIS
  detector: { false_positive_rate: 0 FALLOFF }
criteria:
  - no_collision: {}
duration: 40
"#;

/// The share of the detector's lists that report the car at `dist` metres (centre to centre).
fn detection_rate(dist: f64, visibility: f64, falloff: &str) -> (f64, usize) {
    let text = RANGE
        .replace("DIST", &(10.0 + dist).to_string())
        .replace("VIS", &visibility.to_string())
        .replace(" FALLOFF", falloff);
    let frames = common::frames(&text);
    let lists: Vec<_> = frames.iter().filter_map(|f| f.detections.as_ref()).collect();
    let hits = lists.iter().filter(|l| l.iter().any(|d| d.class == ObjectClass::Car)).count();
    (hits as f64 / lists.len() as f64, lists.len())
}

#[test]
fn the_detection_rate_falls_from_half_the_reach_to_the_reach_and_is_zero_beyond() {
    // An 80 m detector, miss rate 0.02, range_falloff 0.5. Expected (1 - 0.02) out to 40 m, then a
    // smoothstep down to 0.98 x 0.5 = 0.49 at 80 m. Binomial noise over ~1000 frames is at most
    // 0.016; the tolerance is 0.04.
    let half = ", range_falloff: 0.5";
    for (dist, expected) in [(10.0, 0.98), (30.0, 0.98), (50.0, 0.903), (70.0, 0.567), (79.0, 0.492), (85.0, 0.0)] {
        let (rate, frames) = detection_rate(dist, 250.0, half);
        assert!(frames >= 950, "{frames} lists");
        assert!((rate - expected).abs() < 0.04, "{dist} m: measured {rate:.3}, expected {expected:.3}");
    }
    // In 40 m of fog the same curve is squeezed into the visible distance.
    for (dist, expected) in [(10.0, 0.98), (30.0, 0.735), (38.0, 0.504), (45.0, 0.0)] {
        let (rate, _) = detection_rate(dist, 40.0, half);
        assert!((rate - expected).abs() < 0.04, "fog 40 m, {dist} m: measured {rate:.3}, expected {expected:.3}");
    }
    // The default (0.25) loses a quarter at the reach: 0.735 at 79 m. 0 is the flat rate to the
    // last metre; 1 fades to nothing at the reach.
    let (default, _) = detection_rate(79.0, 250.0, "");
    assert!((default - 0.735).abs() < 0.04, "default at 79 m: {default:.3}");
    let (flat, _) = detection_rate(79.0, 250.0, ", range_falloff: 0");
    assert!((flat - 0.98).abs() < 0.03, "flat at 79 m: {flat:.3}");
    let (fade, _) = detection_rate(79.0, 250.0, ", range_falloff: 1");
    assert!(fade < 0.05, "full falloff at 79 m: {fade:.3}");
}

#[test]
fn the_detection_curve_is_the_documented_smoothstep() {
    use sim_core::sensors::detection_probability as p;
    assert_eq!(p(0.02, 0.5, 10.0, 80.0), 0.98);
    assert_eq!(p(0.02, 0.5, 40.0, 80.0), 0.98);
    assert!((p(0.02, 0.5, 60.0, 80.0) - 0.98 * 0.75).abs() < 1e-12, "halfway down the smoothstep");
    assert!((p(0.02, 0.5, 80.0, 80.0) - 0.49).abs() < 1e-12);
    assert_eq!(p(0.02, 0.5, 80.01, 80.0), 0.0);
    assert_eq!(p(0.02, 0.0, 79.9, 80.0), 0.98);
    assert_eq!(p(0.02, 0.5, f64::NAN, 80.0), 0.0);
}
