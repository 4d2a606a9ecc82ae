//! The autonomy stack under test: perception, tracking, prediction, planning, control and a runtime
//! safety monitor. Pure data in, commands out: it knows nothing of rapier, YAML or the database, does
//! no I/O, and never reads a clock of its own (the caller injects one to *measure* latency only).
//!
//! The contract with the simulator lives in [`interface`] (one [`SensorFrame`] in per control tick,
//! one [`StackOutput`] out) and [`config`] (the [`StackConfig`] a release candidate carries).

pub mod assignment;
pub mod config;
pub mod control;
pub mod geometry;
pub mod interface;
pub mod perception;
pub mod planning;
pub mod prediction;
pub mod safety;
pub mod stack;
pub mod tracking;
pub mod zones;

pub use config::{ConfigError, StackConfig};
pub use interface::*;
pub use stack::{Stack, StackError, TickDebug};
