//! Path tracking where the clearance is a hand's width: the catalog's tightest doorway and the
//! detour round a blocked aisle, the two variants where the robot used to touch a wall or a rack
//! end (pure pursuit cut the corners before the gap with a 2.5-wheelbase look-ahead). Run with the
//! simulator's physics, localisation noise and all.

use std::path::Path;

use autonomy_stack::{FrozenClock, StackConfig};
use sim_core::{run_variant, Verdict};

fn run_catalog_variant(file: &str, key: &str) -> sim_core::RunResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalog").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = scenario_dsl::parse(&path.display().to_string(), &text);
    assert!(parsed.diagnostics.iter().all(|d| !d.is_error()), "{:?}", parsed.diagnostics);
    let scenario = parsed.scenario.unwrap();
    let variant = scenario.variants().iter().find(|v| v.key.to_string() == key).unwrap_or_else(|| panic!("{key}"));
    run_variant(variant, &StackConfig::default(), &mut FrozenClock)
}

#[test]
fn a_robot_threads_a_1_3_m_door_it_approaches_at_an_angle_without_touching_the_frame() {
    // Door 1.3 m wide at y 11, 3 m above the line from start to goal, with a pallet on the way.
    let r = run_catalog_variant("warehouse/narrow_passage.yaml", "05b83c2a44bafff86c2e826616abdb71");
    assert_eq!(r.verdict, Verdict::Passed, "{:?}", r.reason);
}

#[test]
fn a_robot_detouring_round_a_blocked_aisle_rounds_the_rack_end_without_touching_it() {
    let r = run_catalog_variant("warehouse/aisle_pallets.yaml", "e7ade5d71190bbb43573798828b33f83");
    assert_eq!(r.verdict, Verdict::Passed, "{:?}", r.reason);
}
