//! Helpers shared by the simulator's integration tests: a variant from scenario text, and a run of
//! one variant of a catalog file.

#![allow(dead_code)]

use std::path::Path;

use autonomy_stack::{FrozenClock, StackConfig};
use scenario_dsl::Variant;

/// The first variant of the scenario `text` (which must lint clean).
pub fn variant(text: &str) -> Variant {
    let parsed = scenario_dsl::parse("t.yaml", text);
    assert!(parsed.diagnostics.iter().all(|d| !d.is_error()), "{:#?}", parsed.diagnostics);
    parsed.scenario.unwrap().variants()[0].clone()
}

/// Runs the variant `key` (32 hex digits) of `catalog/FILE` with the default stack.
pub fn run_catalog_variant(file: &str, key: &str) -> sim_core::RunResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalog").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = scenario_dsl::parse(&path.display().to_string(), &text);
    assert!(parsed.diagnostics.iter().all(|d| !d.is_error()), "{:?}", parsed.diagnostics);
    let scenario = parsed.scenario.unwrap();
    let variant = scenario.variants().iter().find(|v| v.key.to_string() == key).unwrap_or_else(|| panic!("{key}"));
    sim_core::run_variant(variant, &StackConfig::default(), &mut FrozenClock)
}
