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
    eprintln!("{} variants on {jobs} threads, idle, then with {hogs} busy threads", selected.len());

    let mut conditions = Vec::new();
    for loaded in [false, true] {
        let hog = loaded.then(|| Hog::start(hogs));
        let started = Instant::now();
        let results = local::simulate_all(&selected, &config, jobs, &|_| {})?;
        let wall = started.elapsed().as_secs_f64();
        drop(hog);
        let records: Vec<_> = results.into_iter().map(|(r, _)| r).collect();
        let judged = local::judge(&local::runs_of(&selected, &records), &policy, None);
        conditions.push(Condition {
            name: if loaded { "loaded" } else { "idle" },
            wall,
            stats: judged.stats,
            gate: judged.gate,
        });
    }
    let [idle, loaded] = &conditions[..] else { unreachable!("two conditions were run") };

    let mut out = std::io::stdout().lock();
    writeln!(out, "per-module p99 over the runs' p99s, µs (CPU: the thread's CPU time, judged; wall: reported)")?;
    writeln!(
        out,
        "{:<11} {:>10} {:>10} {:>8}   {:>10} {:>10} {:>8}",
        "module", "cpu idle", "cpu load", "ratio", "wall idle", "wall load", "ratio"
    )?;
    let mut worst_cpu_ratio: f64 = 1.0;
    for (module, i) in &idle.stats.latency {
        let Some(l) = loaded.stats.latency.get(module) else { continue };
        let wall = |c: &Condition| c.stats.wall_latency.get(module).map_or(f64::NAN, |w| w.p99);
        let cpu_ratio = l.p99 / i.p99;
        if i.p99 >= 1.0 {
            // Sub-microsecond modules are below the clock's useful resolution; shown, not ranked.
            worst_cpu_ratio = worst_cpu_ratio.max(cpu_ratio.max(1.0 / cpu_ratio));
        }
        writeln!(
            out,
            "{module:<11} {:>10.1} {:>10.1} {:>8.3}   {:>10.1} {:>10.1} {:>8.3}",
            i.p99,
            l.p99,
            cpu_ratio,
            wall(idle),
            wall(loaded),
            wall(loaded) / wall(idle)
        )?;
    }
    for c in &conditions {
        writeln!(
            out,
            "{:<7} gate {} · pass rate {:.2} % · deadline-miss rate {:.4} % · {:.1} s wall",
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
    let same = idle.gate.verdict == loaded.gate.verdict;
    writeln!(
        out,
        "largest CPU p99 ratio (modules of 1 µs or more): {:.3}; the gate verdict is {}",
        worst_cpu_ratio,
        if same { "the same" } else { "DIFFERENT" }
    )?;
    let (per_read, ticks) = clock_cost();
    writeln!(
        out,
        "measuring costs {:.0} ns per tick ({per_read:.1} ns per wall+CPU clock pair, 7 pairs a tick; measured over {ticks} pairs)",
        per_read * 7.0
    )?;
    Ok(if same { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

struct Condition {
    name: &'static str,
    wall: f64,
    stats: CandidateStats,
    gate: Gate,
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

/// Nanoseconds one wall+CPU clock pair costs, as the stack reads them, and how many were timed.
fn clock_cost() -> (f64, u64) {
    let mut clock = MonotonicClock::default();
    let n: u64 = 1_000_000;
    let started = Instant::now();
    let mut sink = 0u64;
    for _ in 0..n {
        sink = sink.wrapping_add(clock.now_ns()).wrapping_add(clock.thread_cpu_ns());
    }
    std::hint::black_box(sink);
    (started.elapsed().as_nanos() as f64 / n as f64, n)
}
