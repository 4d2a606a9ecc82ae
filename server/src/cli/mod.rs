//! The `farm` subcommands and their arguments.

mod bench;
mod evidence;
mod http_bench;
mod lint;
mod load_bench;
mod migrate;
mod queue_bench;
mod run;
mod schema;
mod seed_scale;
mod serve;
mod submit;
mod token;
mod variants;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Scenario Farm: scenario-based simulation and regression for autonomy software.
#[derive(Debug, Parser)]
#[command(name = "farm", version = crate::domain::provenance::LONG_VERSION, about)]
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
    /// Measure /healthz latency of a running farm while maximal validations load it.
    HttpBench(http_bench::HttpBenchArgs),
    /// Run a suite idle and with a CPU hog on every core: per-module CPU-time p99 and the gate verdict.
    LoadBench(load_bench::LoadBenchArgs),
    /// Measure the queue's claim+complete throughput and overhead on a scratch database.
    QueueBench(queue_bench::QueueBenchArgs),
    /// Create or upgrade the results database (SQLite or Postgres).
    Migrate(migrate::MigrateArgs),
    /// Serve the HTTP API with the scheduler and embedded workers.
    Serve(serve::ServeArgs),
    /// Run a worker process that claims runs from the database.
    Worker(worker::WorkerArgs),
    /// Manage API tokens.
    Token(token::TokenArgs),
    /// Post a release candidate to a farm and (with --wait) report its gate verdict.
    Submit(submit::SubmitArgs),
    /// Verify a signed evidence pack.
    Evidence(evidence::EvidenceArgs),
    /// Seed many candidates with finished runs and print the p95 of the UI's heaviest reads.
    SeedScale(seed_scale::SeedScaleArgs),
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
        Command::QueueBench(a) => queue_bench::run(a),
        Command::LoadBench(a) => load_bench::run(a),
        Command::HttpBench(a) => http_bench::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Worker(a) => worker::run(a),
        Command::Token(a) => token::run(a),
        Command::Submit(a) => submit::run(a),
        Command::Evidence(a) => evidence::run(a),
        Command::SeedScale(a) => seed_scale::run(a),
    }
}

/// Logs to stderr (text, or JSON lines with `FARM_LOG_FORMAT=json`), filtered by `RUST_LOG`
/// (default `info`, with Postgres' NOTICEs such as
/// "relation already exists, skipping" from idempotent migrations kept out); colour only on a
/// terminal, so a log file holds no escape codes. With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the
/// farm's spans at info and above (whatever `RUST_LOG` says) also go out over OTLP as `service`;
/// keep the returned guard until the process ends: dropping it sends the last spans.
pub(crate) fn init_tracing(service: &'static str) -> anyhow::Result<Option<crate::infra::telemetry::Exporting>> {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx::postgres::notice=warn"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    // FARM_LOG_FORMAT=json: one JSON object per line (span fields such as run_id included), for
    // ELK/OpenSearch.
    let fmt = if std::env::var("FARM_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        fmt.json().with_current_span(true).with_span_list(true).boxed()
    } else {
        fmt.with_ansi(std::io::stderr().is_terminal()).boxed()
    };
    let exporting = crate::infra::telemetry::exporting(service)?;
    // The exported spans are the farm's own (request, candidate, run, result, ...), filtered apart
    // from the log so that RUST_LOG=warn does not cut a trace.
    let otel = exporting.as_ref().map(|e| {
        e.layer().with_filter(tracing_subscriber::filter::Targets::new().with_target("server", tracing::Level::INFO))
    });
    let _ = tracing_subscriber::registry().with(fmt.with_filter(filter)).with(otel).try_init();
    Ok(exporting)
}

/// The gate policy of the scenarios: the nearest `gate.yaml` at or above the first path, else
/// `catalog/gate.yaml` (whose absence the loader then reports).
pub(crate) fn default_gate_path(paths: &[PathBuf]) -> PathBuf {
    nearest(paths, "gate.yaml").unwrap_or_else(|| PathBuf::from("catalog/gate.yaml"))
}

/// The nearest file called `name` at or above the first path (a catalog's policy files).
pub(crate) fn nearest(paths: &[PathBuf], name: &str) -> Option<PathBuf> {
    let first = default_paths(paths).swap_remove(0);
    first.ancestors().map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// The catalog folder to use when a command is given no path.
pub(crate) fn default_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("catalog")]
    } else {
        paths.to_vec()
    }
}

/// The catalog and stack configuration a local run (`farm run`, `farm bench`) works with. A catalog
/// with errors is printed and refused: `Ok(None)`, exit code 2.
pub(crate) fn local_inputs(
    paths: &[PathBuf],
    odd: Option<&std::path::Path>,
    stack_config: Option<&std::path::Path>,
) -> anyhow::Result<Option<(crate::domain::catalog::CatalogIndex, autonomy_stack::StackConfig)>> {
    let catalog = match crate::infra::catalog_files::load_index(&default_paths(paths), odd) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(None);
        }
    };
    let config = match stack_config {
        Some(p) => crate::infra::config_files::load_stack_config(p)?,
        None => autonomy_stack::StackConfig::default(),
    };
    Ok(Some((catalog, config)))
}

/// The options `farm lint` and `farm variants` share: which ODD to check against, and JSON output.
#[derive(Debug, Args)]
pub struct OddAndFormat {
    /// The ODD file (default: the nearest odd.yaml at or above the first path).
    #[arg(long)]
    pub odd: Option<PathBuf>,
    /// Print one JSON document instead of human-readable output.
    #[arg(long)]
    pub json: bool,
}
