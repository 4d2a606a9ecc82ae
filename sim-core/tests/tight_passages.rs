//! Path tracking where the clearance is a hand's width: the catalog's tightest doorway and the
//! detour round a blocked aisle, the two variants where the robot used to touch a wall or a rack
//! end (pure pursuit cut the corners before the gap with a 2.5-wheelbase look-ahead). Run with the
//! simulator's physics, localisation noise and all.

mod common;

use common::run_catalog_variant;
use sim_core::Verdict;

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
