//! Helpers shared by the simulator's integration tests: a variant from scenario text, the frames
//! a driver that stands still is shown, and a run of one variant of a catalog file.

#![allow(dead_code)]

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use autonomy_stack::{Clock, ControlCommand, FrozenClock, SensorFrame, StackConfig, StackOutput};
use scenario_dsl::Variant;
use sim_core::{run_with, Driver};

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

/// A driver that brakes gently to a stand and keeps every frame it was shown.
pub struct Recorder(pub Rc<RefCell<Vec<SensorFrame>>>);

impl Recorder {
    /// A recorder whose frames nobody reads.
    pub fn discarding() -> Self {
        Self(Rc::new(RefCell::new(Vec::new())))
    }
}

impl Driver for Recorder {
    fn step(&mut self, frame: &SensorFrame, _: &mut dyn Clock) -> StackOutput {
        self.0.borrow_mut().push(frame.clone());
        StackOutput { command: ControlCommand { accel: -1.0, steer: 0.0 }, ..Default::default() }
    }
}

/// Every frame a [`Recorder`] is shown over the first variant of the scenario `text`.
pub fn frames(text: &str) -> Vec<SensorFrame> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let keep = Rc::clone(&seen);
    run_with(&variant(text), &mut FrozenClock, &mut |_| Ok(Box::new(Recorder(Rc::clone(&keep))) as Box<dyn Driver>));
    let out = seen.borrow().clone();
    out
}
