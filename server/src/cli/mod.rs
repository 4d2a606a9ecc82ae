//! The `farm` subcommands and their arguments.

mod bench;
mod lint;
mod migrate;
mod run;
mod schema;
mod variants;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Scenario Farm: scenario-based simulation and regression for autonomy software.
#[derive(Debug, Parser)]
#[command(name = "farm", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check scenario files: syntax, types, references, sweeps, ODD coverage.
    Lint(lint::LintArgs),
    /// List the variants a scenario (or folder) expands to.
    Variants(variants::VariantsArgs),
    /// Print the JSON Schema of the scenario language (or of odd.yaml).
    Schema(schema::SchemaArgs),
    /// Simulate variants locally and report: summary, JUnit XML, JSON, traces of failures.
    Run(run::RunArgs),
    /// Measure simulation speed over the catalog (one core) and where the time goes.
    Bench(bench::BenchArgs),
    /// Create or upgrade the results database (SQLite or Postgres).
    Migrate(migrate::MigrateArgs),
}

/// Runs a parsed command line; the exit code says whether the job succeeded.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Lint(a) => lint::run(a),
        Command::Variants(a) => variants::run(a),
        Command::Schema(a) => schema::run(a),
        Command::Run(a) => run::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Migrate(a) => migrate::run(a),
    }
}

/// Loads a catalog from paths on disk: read errors and language diagnostics together.
pub(crate) fn load_catalog(
    paths: &[PathBuf],
    odd: Option<&std::path::Path>,
) -> (scenario_dsl::Catalog, Vec<scenario_dsl::SourceFile>) {
    let sources = crate::sources::read_sources(paths, odd);
    let mut catalog = scenario_dsl::Catalog::load(&sources.scenarios, sources.odd.as_ref());
    catalog.diagnostics.extend(sources.diagnostics);
    catalog.diagnostics.sort();
    let mut texts = sources.scenarios;
    texts.extend(sources.odd);
    (catalog, texts)
}
