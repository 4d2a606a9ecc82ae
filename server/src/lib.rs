//! Scenario Farm's server crate: the `farm` command line and, later, the HTTP service, store,
//! scheduler and workers. Only this crate does I/O.

pub mod cli;
pub mod clock;
pub mod junit;
pub mod report;
pub mod sources;
pub mod stack_config;
pub mod store;
