//! Turns across oncoming traffic and crossing paths on a map (ADR 0029): in Euro NCAP's CCFtap the
//! default stack gives way to the oncoming car, waiting with its whole footprint outside that car's
//! lane, and turns after it has passed; in CCCscp it lets the crossing car pass. Both end without a
//! collision and without emergency braking.

use std::path::Path;

use autonomy_stack::{FrozenClock, StackConfig};
use scenario_dsl::{Catalog, MapSource, SourceFile, Variant};
use sim_core::{run_variant, Verdict};

/// The variant of `catalog/protocols/FILE` with these parameter values, its map attached.
fn protocol_variant(file: &str, params: &[(&str, f64)]) -> Variant {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalog/protocols").join(file);
    let text = std::fs::read_to_string(&path).expect("the catalog file");
    let mut catalog = Catalog::load(&[SourceFile { name: path.display().to_string(), text }], None);
    assert!(!catalog.has_errors(), "{:?}", catalog.diagnostics);
    let s = &mut catalog.scenarios[0];
    let map = path.parent().expect("a folder").join(s.map_file().expect("a map"));
    let text = std::fs::read_to_string(&map).expect("the map");
    s.attach_map(MapSource { file: map.display().to_string(), text: text.into() });
    s.variants()
        .iter()
        .find(|v| params.iter().all(|(name, value)| v.params.get(*name) == Some(value)))
        .unwrap_or_else(|| panic!("no variant with {params:?}"))
        .clone()
}

/// The ego's footprint corners for a trace tick's ego state (x, y, heading), a car 4.6 x 2.0 m.
fn corners(ego: &[f64; 6]) -> [(f64, f64); 4] {
    let (hl, hw) = (2.3, 1.0);
    let (s, c) = (libm::sin(ego[2]), libm::cos(ego[2]));
    [(hl, hw), (hl, -hw), (-hl, hw), (-hl, -hw)].map(|(l, w)| (ego[0] + c * l - s * w, ego[1] + s * l + c * w))
}

/// Checks that no corner of the ego enters the oncoming car's lane (3.5 m wide around the path the
/// car drives) until the car has passed the ego; returns whether the ego stood (below 0.1 m/s)
/// meanwhile and when the car had passed.
fn outside_the_oncoming_lane_until_it_passed(r: &sim_core::RunResult) -> (bool, f64) {
    let path: Vec<(f64, f64)> = r.trace.ticks.iter().map(|t| (t.actors[0][0], t.actors[0][1])).collect();
    let mut stood = false;
    for t in &r.trace.ticks {
        let car = t.actors[0];
        let (ux, uy) = (libm::cos(car[2]), libm::sin(car[2]));
        let ego = corners(&t.ego);
        // Passed: every corner of the ego is behind the car's rear.
        if ego.iter().all(|&(x, y)| (x - car[0]) * ux + (y - car[1]) * uy < -2.3) {
            return (stood, t.t);
        }
        for (x, y) in ego {
            let off = path.iter().map(|&(px, py)| libm::hypot(x - px, y - py)).fold(f64::INFINITY, f64::min);
            assert!(off >= 1.75, "at {:.2} s a corner of the ego is {off:.2} m from the oncoming car's path", t.t);
        }
        stood |= t.ego[3] < 0.1;
    }
    panic!("the oncoming car never passed the ego");
}

#[test]
fn in_ccftap_the_stack_waits_outside_the_oncoming_lane_and_turns_after_the_car() {
    // 10 km/h turning, the oncoming car at 45 km/h: both would reach the crossing together; the
    // ego comes to a stop at its waiting point.
    let v = protocol_variant("ncap_ccftap.yaml", &[("vut_kmh", 10.0), ("gvt_kmh", 45.0)]);
    let r = run_variant(&v, &StackConfig::default(), &mut FrozenClock);
    assert_eq!(r.verdict, Verdict::Passed, "{:?}", r.reason);
    assert!(r.metrics.collisions.is_empty());
    assert_eq!(r.metrics.fallback_engagements, 0, "giving way is planned, not an emergency stop");
    let (stood, passed_at) = outside_the_oncoming_lane_until_it_passed(&r);
    assert!(stood, "the ego stood and waited before the car passed at {passed_at:.2} s");
    // And then it turned and reached its goal.
    let goal = r.metrics.time_to_goal.expect("reached its goal");
    assert!(goal > passed_at, "{goal} vs {passed_at}");
}

#[test]
fn in_every_ccftap_test_the_ego_keeps_out_of_the_oncoming_lane_until_the_car_has_passed() {
    // Faster turns slow down early enough for the car to pass before the waiting point (a rolling
    // give-way); none of them enters the lane in front of the car.
    for vut in [10.0, 15.0, 20.0] {
        for gvt in [30.0, 45.0, 60.0] {
            let v = protocol_variant("ncap_ccftap.yaml", &[("vut_kmh", vut), ("gvt_kmh", gvt)]);
            let r = run_variant(&v, &StackConfig::default(), &mut FrozenClock);
            assert_eq!(r.verdict, Verdict::Passed, "{vut}/{gvt}: {:?}", r.reason);
            outside_the_oncoming_lane_until_it_passed(&r);
        }
    }
}

#[test]
fn in_cccscp_the_stack_gives_way_to_the_crossing_car_without_emergency_braking() {
    let v = protocol_variant("ncap_cccscp.yaml", &[("vut_kmh", 50.0), ("gvt_kmh", 60.0)]);
    let r = run_variant(&v, &StackConfig::default(), &mut FrozenClock);
    assert_eq!(r.verdict, Verdict::Passed, "{:?}", r.reason);
    assert_eq!(r.metrics.fallback_engagements, 0);
    assert!(r.metrics.max_decel <= 5.0, "{}", r.metrics.max_decel);
    let closest = r.metrics.min_distance.as_ref().expect("a distance").value;
    assert!(closest > 2.0, "the ego came within {closest:.2} m of the crossing car");
}
