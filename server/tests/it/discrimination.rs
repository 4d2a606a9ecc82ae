//! The catalog tells a good stack from a weak one: named variants that the default configuration
//! passes and `catalog/stacks/weak.yaml` (no AEB, no predictive braking, shorter horizon, slower
//! reaction) fails for the right reason — a collision or a TTC breach, entering a junction in front
//! of a car with priority, or braking hard and late to give way.

use std::path::PathBuf;

use autonomy_stack::{FrozenClock, StackConfig};
use sim_core::Verdict;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (scenario id, variant index) pairs; the reasons are what a safety engineer expects to see.
const DISCRIMINATING: &[(&str, usize)] = &[
    ("highway.cut_in.slow_merger", 12),                 // hits the cutter at 8.6 m/s
    ("highway.traffic_jam.approach", 0),                // rear-ends the tail of the jam at 11 m/s
    ("highway.truck.lane_change_into_ego", 4),          // hit by the truck changing lanes
    ("highway.dense_traffic.lead_brake", 0),            // rear-ends the car ahead, boxed in by traffic
    ("urban.pedestrian.child_runout", 1),               // hits the child
    ("urban.pedestrian.crossing", 0),                   // hits the crossing pedestrian
    ("urban.crossing_vehicle.side_street", 2),          // hits the crossing car
    ("urban.bus.pull_out", 6),                          // hits the bus pulling out
    ("urban.pedestrian.occluded_by_parked_vehicle", 0), // hits the pedestrian
    ("urban.stop_and_go.queue", 20),                    // rear-ends the lead in the queue
    ("warehouse.forklift.crossing_main_aisle", 0),      // hits the forklift
    // (`junctions.fabriksgatan.crossing_straight_path` #2 left this list with ADR 0029: the planner
    // of both stacks now sees the crossing car 80 m off and gives way to it.)
    ("junctions.fabriksgatan.red_light_runner", 2), // hits the car running its red light
    ("protocol.ncap.aeb_vru.cpta_farside_like", 2), // hits the adult crossing just after its left turn
                                                    // (`degraded.combo.fog_wet_stalled_vehicle` #31 left the list when the lane choice began to
                                                    // pass a standing object on its open side: the weak stack now passes all 60 variants too.)
];

/// Junction variants the weak stack fails on right of way (ADR 0027), with the criterion it fails.
const RIGHT_OF_WAY: &[(&str, usize, &str)] = &[
    // its 2.5 s planning horizon accepts the gap in front of the crossing car
    ("junctions.fabriksgatan.stop_sign", 0, "no_failure_to_yield: entered the junction at `north_stop`"),
    ("junctions.fabriksgatan.stop_sign", 3, "no_failure_to_yield: entered the junction at `north_stop`"),
    // after standing at its line it pulls out in front of the car that stopped first (ADR 0029)
    ("junctions.fabriksgatan.all_way_stop", 0, "no_failure_to_yield: entered the junction at `north_stop`"),
];

/// Euro NCAP junction protocols the weak stack fails by braking harder than 5 m/s² to give way
/// (ADR 0029): its plan is 0.6 s stale and its IDM keeps a 0.8 s headway, so it brakes for the
/// waiting point late; the default stack yields with at most about 4.4 m/s².
const HARD_BRAKING: &[(&str, usize, &str)] = &[
    ("protocol.ncap.aeb_c2c.ccftap", 0, "max_decel: max deceleration"), // 10 km/h turn, 30 km/h oncoming
    ("protocol.ncap.aeb_c2c.ccftap", 7, "max_decel: max deceleration"), // 15 km/h turn, 60 km/h oncoming
    ("protocol.ncap.aeb_c2c.cccscp", 21, "max_decel: max deceleration"), // 30 km/h, crossing at 60 km/h
];

#[test]
fn the_weak_stack_fails_named_scenarios_for_the_right_reason() {
    // The farm's loader: it also reads the maps of scenarios on a map.
    let catalog = server::infra::catalog_files::load(&[root().join("catalog")], None).catalog;
    assert!(!catalog.has_errors(), "{:?}", catalog.diagnostics);
    let weak = server::infra::config_files::load_stack_config(&root().join("catalog/stacks/weak.yaml")).unwrap();
    let default = server::infra::config_files::load_stack_config(&root().join("catalog/stacks/default.yaml")).unwrap();
    assert_eq!(default, StackConfig::default(), "default.yaml restates the defaults");
    assert!(DISCRIMINATING.len() >= 5);
    let expected = DISCRIMINATING
        .iter()
        .map(|(id, index)| (*id, *index, None))
        .chain(RIGHT_OF_WAY.iter().chain(HARD_BRAKING).map(|(id, index, reason)| (*id, *index, Some(*reason))));
    for (id, index, why) in expected {
        let s = catalog.scenarios.iter().find(|s| s.id() == id).unwrap_or_else(|| panic!("no scenario {id}"));
        let v = &s.variants()[index];
        let good = sim_core::run_variant(v, &default, &mut FrozenClock);
        assert_eq!(good.verdict, Verdict::Passed, "{id}#{index} with the default stack: {:?}", good.reason);
        let bad = sim_core::run_variant(v, &weak, &mut FrozenClock);
        assert_eq!(bad.verdict, Verdict::Failed, "{id}#{index} with the weak stack");
        let reason = bad.reason.unwrap_or_default();
        let right = match why {
            Some(prefix) => reason.starts_with(prefix),
            None => reason.starts_with("no_collision: collision with") || reason.starts_with("min_ttc: min TTC"),
        };
        assert!(right, "{id}#{index}: {reason}");
    }
}
