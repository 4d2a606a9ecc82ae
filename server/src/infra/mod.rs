//! Infrastructure: everything that touches the outside world on the domain's behalf. The store
//! (SQL only, returning domain types), the worker loop and the scheduler, Prometheus metrics, the
//! clock, the signing key, catalog and configuration files on disk, shutdown signals, and the
//! export of traces over OTLP.
//!
//! Imports `domain`, never `usecases` or a transport (held by `tests/tidy.rs`).

pub mod catalog_files;
pub mod clock;
pub mod config_files;
pub mod metrics;
pub mod scheduler;
pub mod shutdown;
pub mod signing;
pub mod store;
pub mod telemetry;
pub mod worker;
