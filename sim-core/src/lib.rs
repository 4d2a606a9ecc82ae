//! One deterministic closed-loop run of a scenario variant: a rapier3d world built from the variant,
//! scripted actors, seeded sensors, the autonomy stack in the loop, criteria that observe every tick,
//! and a digest over every tick's state. No I/O, no async, no wall clock: the caller injects a clock
//! that is used only to measure latency.

pub mod actors;
pub mod footprint;
pub mod latency;
pub mod map;
pub mod oracle;
pub mod physics;
pub mod rng;
pub mod road;
pub mod run;
pub mod sensors;
pub mod signals;
pub mod test_driver;
pub mod trace;
pub mod traffic;
pub mod vehicle;
pub mod weather;

pub use run::{mission_for, run_variant, run_with, Driver, RunResult, TickSplit, Verdict};
pub use trace::Trace;
