//! The pure domain: what a run, a candidate, a suite, a gate, a comparison, coverage and an evidence
//! pack *are*, and the computations over them. No I/O, no async, no SQL, no HTTP: every function here
//! takes values and returns values, so each is tested without a database or a server.
//!
//! Layering (held by `tests/tidy.rs`): `domain` imports nothing else of this crate; `infra` imports
//! `domain`; `usecases` import both; the transports (`api`, `cli`) sit on top.

pub mod candidate;
pub mod catalog;
pub mod compare;
pub mod config_diff;
pub mod coverage;
pub mod evidence;
pub mod gate;
pub mod ids;
pub mod junit;
pub mod known_failures;
pub mod mcap;
pub mod provenance;
pub mod report;
pub mod run;
pub mod significance;
pub mod stack_config;
pub mod stats;
pub mod variant;
