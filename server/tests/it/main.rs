//! The server's integration tests, one binary (ADR 0018): each file here is a module that was once a
//! test binary of its own. Every binary links the whole server with its dependencies, so twenty of
//! them cost minutes of CI on two cores; as modules of one they are compiled and linked once, and
//! libtest runs them side by side (the ones that wait on processes overlap with the ones that
//! compute). A new test file goes here as `mod NAME;` (with `use crate::common;` in place of
//! `mod common;`, or nothing where only `on_both_databases!` uses it); `tidy::server_integration_tests_are_modules_of_one_binary` holds it.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;
#[path = "../ui_support/mod.rs"]
mod ui_support;

mod api;
mod browser;
mod cli;
mod deploy;
mod determinism;
mod discrimination;
mod evidence;
mod farm_processes;
mod gate;
mod manifests_run;
mod mcap;
mod otlp;
mod outage;
mod prometheus;
mod run_cli;
mod schemathesis;
mod service_cli;
mod store;
mod three_stacks;
mod tidy;
mod ui_pages;
mod worker;
