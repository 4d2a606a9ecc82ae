//! Scenario Farm's server crate: the `farm` binary's library. Four layers, each a folder:
//!
//! - `domain`: what runs, candidates, suites, gates, comparisons, coverage and evidence are, and the
//!   pure computations over them (no I/O);
//! - `infra`: the store (SQL), workers, the scheduler, metrics, clocks, files and keys;
//! - `usecases`: what the farm does for its users, combining the two;
//! - transports: `api` (HTTP), `ui` (the web UI's HTML pages, served beside the API) and `cli` (the
//!   `farm` command line), which extract input, call a use case and map the result.
//!
//! Lower layers never import higher ones; `tests/tidy.rs` holds the rule per folder.

pub mod api;
pub mod cli;
pub mod domain;
pub mod infra;
pub mod ui;
pub mod usecases;
