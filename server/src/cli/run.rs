//! `farm run`: a local regression run. Expands the selected variants, simulates them in parallel on
//! a rayon pool, prints a summary by scenario and tag, writes JUnit XML, a JSON report and the
//! traces of failing runs, and exits 0 only if every run passed.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use scenario_dsl::VariantKey;
use sim_core::Verdict;

use crate::domain::catalog::Suite;
use crate::domain::known_failures::{Expectation, KnownFailures};
use crate::domain::report::{self, RunRecord};
use crate::usecases::local;

/// Arguments of `farm run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or folders (default: catalog/).
    pub paths: Vec<PathBuf>,
    /// Only scenarios with this tag (domain and severity count as tags); repeatable, any matches.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Only this scenario id; repeatable.
    #[arg(long = "scenario")]
    pub scenarios: Vec<String>,
    /// Only this variant (reproduces one run bit for bit).
    #[arg(long)]
    pub variant: Option<String>,
    /// Stack configuration override (YAML or JSON; missing keys keep their defaults).
    #[arg(long)]
    pub stack_config: Option<PathBuf>,
    /// Parallel simulations (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Write the JSON report here (one object per variant).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the trace of every run that did not pass here (by default KEY.trace binary and KEY.json).
    #[arg(long)]
    pub trace_dir: Option<PathBuf>,
    /// Formats of the traces in --trace-dir, repeatable or comma-separated: binary (KEY.trace), json
    /// (KEY.json, for replay), mcap (KEY.mcap, for Foxglove). Default: binary and json.
    #[arg(long = "trace-format", value_enum, value_delimiter = ',', requires = "trace_dir")]
    pub trace_formats: Vec<TraceFormat>,
    /// The ODD file (default: the nearest odd.yaml at or above the first path).
    #[arg(long)]
    pub odd: Option<PathBuf>,
    /// Failures accepted for now, each with a reason and an owner (default: the nearest
    /// known_failures.yaml at or above the first path). They are reported apart and do not fail
    /// the run; one that passes is reported so it can be removed.
    #[arg(long)]
    pub known_failures: Option<PathBuf>,
    /// Count every failure, ignoring the known-failures file.
    #[arg(long, conflicts_with = "known_failures")]
    pub strict: bool,
    /// The gate policy to judge the run by (default: the nearest gate.yaml at or above the first
    /// path). The verdict is printed; the exit code stays the runs' own.
    #[arg(long)]
    pub gate: Option<PathBuf>,
    /// A JSON report of an earlier `farm run` (`--json`) to compare with, as the farm compares a
    /// candidate with its baseline: flips, McNemar's p, and the gate's regression rules.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
}

/// A file format for the traces `--trace-dir` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    /// `KEY.json`: the trace as JSON (the replay's input).
    Json,
    /// `KEY.trace`: the compact binary form the store keeps.
    Binary,
    /// `KEY.mcap`: MCAP with Foxglove's schemas, with the run's events and verdict.
    Mcap,
}

pub(super) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let Some((catalog, config)) = super::local_inputs(&args.paths, args.odd.as_deref(), args.stack_config.as_deref())?
    else {
        return Ok(ExitCode::from(2));
    };
    let key = match &args.variant {
        Some(k) => Some(VariantKey::parse(k).with_context(|| format!("`{k}` is not a variant key (32 hex digits)"))?),
        None => None,
    };
    let known_path = match (&args.known_failures, args.strict) {
        (_, true) => None,
        (Some(p), false) => Some(p.clone()),
        (None, false) => super::nearest(&args.paths, "known_failures.yaml"),
    };
    let known = match &known_path {
        Some(path) => {
            // A file that declares the whole catalog's failures names scenarios a run of a few
            // files did not load: its ids are checked only when its own catalog was loaded.
            let ids: std::collections::BTreeSet<String> =
                catalog.catalog().scenarios.iter().map(|s| s.id().to_owned()).collect();
            let checked = covers(&args.paths, path);
            if !checked {
                eprintln!("{}: scenario ids not checked (this run loads only part of its catalog)", path.display());
            }
            match crate::infra::config_files::load_known_failures(path, checked.then_some(&ids)) {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
        None => KnownFailures::default(),
    };
    let suite = Suite { tags: args.tags.clone(), scenarios: args.scenarios.clone() };
    let selected = match catalog.select_variants(&suite, key.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    eprintln!(
        "running {} variants of {} scenarios on {jobs} threads",
        selected.len(),
        catalog.catalog().scenarios.len()
    );

    let progress = Progress::new(selected.len());
    let started = Instant::now();
    let results = local::simulate_all(&selected, &config, jobs, &|r| progress.tick(r))?;
    progress.finish();
    let wall = started.elapsed().as_secs_f64();
    let records: Vec<RunRecord> = results.iter().map(|(r, _)| r.clone()).collect();

    if let Some(dir) = &args.trace_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let formats = match args.trace_formats.as_slice() {
            [] => &[TraceFormat::Binary, TraceFormat::Json][..],
            chosen => chosen,
        };
        for (r, trace) in results.iter().filter(|(r, _)| r.verdict != Verdict::Passed) {
            for format in formats {
                let (path, bytes) = match format {
                    TraceFormat::Binary => (dir.join(format!("{}.trace", r.key)), trace.to_bytes()),
                    TraceFormat::Json => (dir.join(format!("{}.json", r.key)), serde_json::to_vec(trace)?),
                    TraceFormat::Mcap => (
                        dir.join(format!("{}.mcap", r.key)),
                        crate::domain::mcap::encode(trace, Some(r))
                            .with_context(|| format!("cannot export the trace of {} as MCAP", r.key))?,
                    ),
                };
                std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&records)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, crate::domain::junit::render("scenario-farm", &records))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let sim: f64 = records.iter().map(|r| r.sim_s).sum();
    let mut out = std::io::stdout().lock();
    write!(out, "{}", report::summary(&records))?;
    writeln!(
        out,
        "simulated {sim:.0} s in {wall:.1} s wall on {jobs} threads ({:.0}x real time per thread)",
        sim / wall / jobs as f64
    )?;
    let baseline = match &args.baseline {
        Some(path) => Some((path.display().to_string(), baseline_runs(path)?)),
        None => None,
    };
    let gate_path = args.gate.clone().or_else(|| super::nearest(&args.paths, "gate.yaml"));
    match &gate_path {
        Some(path) => {
            // Likewise the tags a policy names are checked only against the whole catalog.
            let policy = if covers(&args.paths, path) {
                crate::infra::config_files::load_gate_policy(path, &catalog.tags())?
            } else {
                crate::infra::config_files::parse_gate_policy(path)?
            };
            let runs = local::runs_of(&selected, &records);
            let judged = local::judge(&runs, &policy, baseline.as_ref().map(|(n, b)| (n.as_str(), &b[..])));
            if let Some(c) = &judged.comparison {
                writeln!(
                    out,
                    "\nagainst {}: {} paired, {} regressions, {} fixes, McNemar p = {:.4}{}",
                    c.baseline_name,
                    c.paired,
                    c.overall.regressions,
                    c.overall.fixes,
                    c.overall.p_value,
                    if c.overall.significant_regression { " (significant regression)" } else { "" }
                )?;
                for f in c.regressions.iter().take(10) {
                    writeln!(
                        out,
                        "  regression {} {}: {}",
                        f.scenario,
                        f.variant_key,
                        f.reason.as_deref().unwrap_or("")
                    )?;
                }
            }
            writeln!(out, "gate ({}): {}", path.display(), judged.gate.verdict.as_str())?;
            for r in &judged.gate.reasons {
                writeln!(out, "  - {r}")?;
            }
        }
        None => writeln!(out, "no gate.yaml at or above the scenarios: the gate was not evaluated")?,
    }
    let unexpected = expectations(&mut out, &records, &known, known_path.as_deref())?;
    Ok(if unexpected == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Whether the scenario paths load the whole catalog a policy file belongs to (its folder).
fn covers(paths: &[PathBuf], policy_file: &std::path::Path) -> bool {
    let Some(folder) = policy_file.parent().and_then(|f| f.canonicalize().ok()) else { return false };
    super::default_paths(paths).iter().any(|p| p.canonicalize().is_ok_and(|p| folder.starts_with(p)))
}

/// The runs of an earlier `farm run --json` report, as a baseline.
fn baseline_runs(path: &std::path::Path) -> anyhow::Result<Vec<crate::domain::run::Run>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read the baseline report {}", path.display()))?;
    let records: Vec<RunRecord> = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a `farm run --json` report", path.display()))?;
    let candidate = crate::domain::ids::CandidateId::random();
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let key = VariantKey::parse(&r.key)
                .with_context(|| format!("{}: `{}` is not a variant key", path.display(), r.key))?;
            Ok(crate::domain::run::Run::local(candidate.clone(), i as i64, key, r))
        })
        .collect()
}

/// Prints the known failures apart, and those that now pass; returns how many runs failed without
/// being declared (what decides the exit code).
fn expectations(
    out: &mut impl Write,
    records: &[RunRecord],
    known: &KnownFailures,
    path: Option<&std::path::Path>,
) -> anyhow::Result<usize> {
    let by = |e: Expectation| records.iter().filter(move |r| known.classify(r) == e);
    let accepted: Vec<&RunRecord> = by(Expectation::KnownFailure).collect();
    let now_passing: Vec<&RunRecord> = by(Expectation::NowPassing).collect();
    let unexpected = by(Expectation::Failed).count();
    let file = path.map_or_else(|| "the known-failures file".to_owned(), |p| p.display().to_string());
    if !accepted.is_empty() {
        writeln!(out, "\n{} known failure(s), accepted in {file} (not counted against this run):", accepted.len())?;
        for k in &known.known_failures {
            let n = accepted.iter().filter(|r| known.covering(r) == Some(k)).count();
            if n > 0 {
                writeln!(out, "  {n:>4}  {}: {} (owner: {})", k.scenario, k.reason, k.owner)?;
            }
        }
    }
    if !now_passing.is_empty() {
        writeln!(out, "\n{} run(s) declared as known failures now pass; remove them from {file}:", now_passing.len())?;
        for r in now_passing.iter().take(20) {
            writeln!(out, "  {} #{} {}", r.scenario, r.index, r.key)?;
        }
    }
    writeln!(
        out,
        "{unexpected} unexpected failure(s), {} known, {} known now passing",
        accepted.len(),
        now_passing.len()
    )?;
    Ok(unexpected)
}

/// A progress bar on a terminal, plain lines every 10 % otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    done: AtomicUsize,
    total: usize,
}

impl Progress {
    fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} [{elapsed_precise}<{eta}]")
            {
                b.set_style(style);
            }
            b
        });
        Self { bar, done: AtomicUsize::new(0), total }
    }

    fn tick(&self, r: &RunRecord) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(b) => {
                b.inc(1);
                if r.verdict != Verdict::Passed {
                    b.set_message(format!("last non-pass: {} {}", r.scenario, r.verdict.as_str()));
                }
            }
            None => {
                let step = (self.total / 10).max(1);
                if done.is_multiple_of(step) || done == self.total {
                    eprintln!("{done}/{} runs done", self.total);
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
