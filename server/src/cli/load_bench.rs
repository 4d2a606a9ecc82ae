//! `farm load-bench`: one candidate's runs simulated twice, on an idle machine and with a CPU hog
//! spinning on every core, to show that the latency the gate judges (the thread's CPU time) and the
//! gate's verdict do not depend on the machine's load, while wall time does. Also prints what
//! reading the clocks costs per tick. Reported, never asserted.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use autonomy_stack::Clock;

use crate::domain::catalog::Suite;
use crate::domain::gate::Gate;
use crate::domain::report::RunRecord;
use crate::domain::stats::CandidateStats;
use crate::infra::clock::MonotonicClock;
use crate::usecases::local;

/// Arguments of `farm load-bench`.
#[derive(Debug, Args)]
pub struct LoadBenchArgs {
    /// Scenario files or folders (default: catalog/).
    pub paths: Vec<PathBuf>,
    /// Only scenarios with this tag; repeatable, any matches (default: every scenario).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Stack configuration override.
    #[arg(long)]
    pub stack_config: Option<PathBuf>,
    /// The gate policy (default: gate.yaml in the first path's folder, else catalog/gate.yaml).
    #[arg(long)]
    pub gate: Option<PathBuf>,
    /// Parallel simulations (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Busy-looping threads while loaded (default: one per core).
    #[arg(long)]
    pub hogs: Option<usize>,
}

pub(super) fn run(args: LoadBenchArgs) -> anyhow::Result<ExitCode> {
    let Some((catalog, config)) = super::local_inputs(&args.paths, None, args.stack_config.as_deref())? else {
        return Ok(ExitCode::from(2));
    };
    let gate_path = args.gate.clone().unwrap_or_else(|| super::default_gate_path(&args.paths));
    let policy = match crate::infra::config_files::load_gate_policy(&gate_path, &catalog.tags()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let suite = Suite { tags: args.tags.clone(), scenarios: Vec::new() };
    let selected = match catalog.select_variants(&suite, None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = args.jobs.unwrap_or(cores).max(1);
    let hogs = args.hogs.unwrap_or(cores);
    eprintln!("{} variants on {jobs} threads: idle, with {hogs} busy threads, and idle again", selected.len());

    // Three passes over the same variants: idle, loaded, and idle again, which shows how far the
    // measure moves between two identical conditions (the machine's own noise: another tenant of
    // the host, interrupts). They alternate in small batches (idle, loaded, idle again, then idle
    // again, loaded, idle, ...) so that a slow drift of the machine falls on all three alike.
    let batch = (jobs * 4).max(1);
    let mut records: [Vec<RunRecord>; 3] = Default::default();
    let mut walls = [0.0f64; 3];
    for (i, chunk) in selected.chunks(batch).enumerate() {
        let order = if i % 2 == 0 { [IDLE, LOADED, IDLE_AGAIN] } else { [IDLE_AGAIN, LOADED, IDLE] };
        for pass in order {
            let hog = (pass == LOADED).then(|| Hog::start(hogs));
            let started = Instant::now();
            let results = local::simulate_all(chunk, &config, jobs, &|_| {})?;
            walls[pass] += started.elapsed().as_secs_f64();
            drop(hog);
            records[pass].extend(results.into_iter().map(|(r, _)| r));
        }
    }
    let conditions: Vec<Condition> = ["idle", "loaded", "idle again"]
        .into_iter()
        .enumerate()
        .map(|(pass, name)| {
            let judged = local::judge(&local::runs_of(&selected, &records[pass]), &policy, None);
            Condition { name, wall: walls[pass], stats: judged.stats, gate: judged.gate }
        })
        .collect();
    let [idle, loaded, again] = &conditions[..] else { unreachable!("three passes were run") };

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "per-module p99 of every tick (pooled over the runs), µs (CPU: the thread's CPU time, judged; wall: reported)"
    )?;
    writeln!(
        out,
        "ratio: loaded / idle; paired: median over variants of the same ratio per run; noise: idle again / idle"
    )?;
    writeln!(
        out,
        "{:<11} {:>9} {:>9} {:>7} {:>7} {:>7}   {:>9} {:>9} {:>8}",
        "module", "cpu idle", "cpu load", "ratio", "paired", "noise", "wall idle", "wall load", "ratio"
    )?;
    // A module's CPU span includes about one read of the thread's CPU clock (a system call, ~0.4 µs
    // here), whose own cost moves by a tenth of a microsecond under load: a ratio says something
    // only for modules ten times longer than that. Shorter ones are shown with their change in µs.
    let (per_pair, per_preemption_read, n) = clock_cost();
    let resolved = 10.0 * per_pair / 1000.0;
    let mut worst_cpu_ratio: f64 = 1.0;
    let mut worst_small_change: f64 = 0.0;
    for (module, i) in &idle.stats.latency {
        let Some(l) = loaded.stats.latency.get(module) else { continue };
        let a = again.stats.latency.get(module).map_or(f64::NAN, |a| a.p99);
        let wall = |c: &Condition| c.stats.wall_latency.get(module).map_or(f64::NAN, |w| w.p99);
        let cpu_ratio = l.p99 / i.p99;
        if i.p99 >= resolved {
            worst_cpu_ratio = worst_cpu_ratio.max(cpu_ratio.max(1.0 / cpu_ratio));
        } else {
            worst_small_change = worst_small_change.max((l.p99 - i.p99).abs());
        }
        writeln!(
            out,
            "{module:<11} {:>9.1} {:>9.1} {:>7.3} {:>7.3} {:>7.3}   {:>9.1} {:>9.1} {:>8.3}",
            i.p99,
            l.p99,
            cpu_ratio,
            paired_ratio(&records[IDLE], &records[LOADED], module),
            a / i.p99,
            wall(idle),
            wall(loaded),
            wall(loaded) / wall(idle)
        )?;
    }
    for (c, records) in conditions.iter().zip(&records) {
        let ticks: u64 = records.iter().filter_map(|r| r.latency.get("planning")).map(|l| l.count).sum();
        let preempted: u64 = records.iter().filter_map(|r| r.cpu_latency.get("planning")).map(|l| l.preempted).sum();
        writeln!(
            out,
            "{:<10} {preempted} of {ticks} ticks preempted by the OS ({:.1} %): wall time only; the CPU times of \
             the others are weighted by the inverse of their chance of escaping",
            c.name,
            100.0 * preempted as f64 / ticks.max(1) as f64
        )?;
    }
    for c in &conditions {
        writeln!(
            out,
            "{:<10} gate {} · pass rate {:.2} % · deadline-miss rate {:.4} % · {:.1} s wall",
            c.name,
            c.gate.verdict.as_str(),
            c.stats.pass_rate * 100.0,
            c.stats.deadline_miss_rate * 100.0,
            c.wall
        )?;
        for r in &c.gate.reasons {
            writeln!(out, "          - {r}")?;
        }
    }
    let same = idle.gate.verdict == loaded.gate.verdict && again.gate.verdict == idle.gate.verdict;
    writeln!(
        out,
        "largest CPU p99 ratio of the modules of {resolved:.1} µs or more (ten wall+CPU clock reads): {:.3}; \
         the shorter ones moved by {worst_small_change:.2} µs at most; the gate verdict is {}",
        worst_cpu_ratio,
        if same { "the same" } else { "DIFFERENT" }
    )?;
    writeln!(
        out,
        "measuring costs {:.0} ns per tick ({per_pair:.1} ns per wall+CPU clock pair, 7 pairs a tick, and \
         {per_preemption_read:.1} ns to read the preemption count once; each timed over {n} reads)",
        per_pair * 7.0 + per_preemption_read
    )?;
    Ok(if same { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The passes, as indices into the per-pass records.
const IDLE: usize = 0;
const LOADED: usize = 1;
const IDLE_AGAIN: usize = 2;

struct Condition {
    name: &'static str,
    wall: f64,
    stats: CandidateStats,
    gate: Gate,
}

/// The median over variants of one variant's loaded CPU p99 over its idle CPU p99 for `module`
/// (variants whose idle p99 is under 1 µs, below the clock's useful resolution, left out).
fn paired_ratio(idle: &[RunRecord], loaded: &[RunRecord], module: &str) -> f64 {
    let mut ratios: Vec<f64> = idle
        .iter()
        .zip(loaded)
        .filter_map(|(i, l)| {
            let (i, l) = (i.cpu_latency.get(module)?.p99, l.cpu_latency.get(module)?.p99);
            (i >= 1.0).then(|| l / i)
        })
        .collect();
    if ratios.is_empty() {
        return f64::NAN;
    }
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

/// Threads that spin until dropped.
struct Hog {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Hog {
    fn start(n: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut x: u64 = 1;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..10_000 {
                            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                        }
                    }
                })
            })
            .collect();
        Self { stop, threads }
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Nanoseconds one wall+CPU clock pair costs as the stack reads them, one read of the preemption
/// count, and how many of each were timed.
fn clock_cost() -> (f64, f64, u64) {
    let mut clock = MonotonicClock::default();
    let n: u64 = 1_000_000;
    let mut sink = 0u64;
    let started = Instant::now();
    for _ in 0..n {
        sink = sink.wrapping_add(clock.now_ns()).wrapping_add(clock.thread_cpu_ns());
    }
    let pair = started.elapsed().as_nanos() as f64 / n as f64;
    let started = Instant::now();
    for _ in 0..n {
        sink = sink.wrapping_add(clock.preemptions());
    }
    let preemption = started.elapsed().as_nanos() as f64 / n as f64;
    std::hint::black_box(sink);
    (pair, preemption, n)
}
