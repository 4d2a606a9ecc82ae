//! Scenario Farm's server crate: the `farm` command line, the HTTP API, the results store, the
//! scheduler and the workers. Only this crate does I/O.

pub mod api;
pub mod catalog_index;
pub mod cli;
pub mod clock;
pub mod compare;
pub mod coverage;
pub mod evidence;
pub mod gate;
pub mod junit;
pub mod metrics;
pub mod report;
pub mod scheduler;
pub mod significance;
pub mod sources;
pub mod stack_config;
pub mod stats;
pub mod store;
pub mod worker;
