//! `farm queue-bench`: the queue's own throughput (claim + complete cycles per second, batched, with
//! concurrent workers) against a real database, and its overhead as a share of worker time given the
//! measured wall time of a typical simulation. Use a scratch database: it writes synthetic runs.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::domain::candidate::NewCandidate;
use crate::domain::catalog::Suite;
use crate::domain::ids::CandidateId;
use crate::domain::report::RunRecord;
use crate::domain::run::{PlannedRun, RunStatus, ScenarioVersion};
use crate::infra::catalog_files::load_index;
use crate::infra::clock::now_ms;
use crate::infra::store::candidates;
use crate::infra::store::queue::{self, Outcome};
use crate::infra::store::Store;
use crate::infra::worker::{self, WorkerSettings};
use crate::usecases::local::simulate_one;

/// Arguments of `farm queue-bench`.
#[derive(Debug, Args)]
pub struct QueueBenchArgs {
    /// A scratch database.
    #[arg(long, env = "FARM_DATABASE_URL")]
    pub database_url: String,
    /// Synthetic runs to push through the queue.
    #[arg(long, default_value_t = 5000)]
    pub runs: usize,
    /// Claim batch size.
    #[arg(long, default_value_t = 16)]
    pub batch: i64,
    /// Concurrent workers.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// The catalog whose smoke set gives the typical simulation time and result.
    #[arg(long, default_value = "catalog")]
    pub catalog: std::path::PathBuf,
}

pub(super) fn run(args: QueueBenchArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let (sim_ms, result) = typical_simulation(&args.catalog)?;
    runtime.block_on(async {
        let store = Store::open(&args.database_url).await.context("cannot open the database")?;
        let enqueue_s = synthetic_candidate(&store, "queue-bench", args.runs).await?;
        println!(
            "{} database, {} runs, batch {}, {} concurrent workers",
            store.dialect(),
            args.runs,
            args.batch,
            args.workers
        );
        println!("enqueue: {:.0} runs/s", args.runs as f64 / enqueue_s);
        // Phase 1: one worker alone, as each worker of a farm mostly is: per-run queue latency.
        let solo_runs = (args.runs / 10).clamp(1, 500) as u64;
        let t = Instant::now();
        let solo = drain(&store, "bench-solo", args.batch, &result, Some(solo_runs)).await?;
        let solo_ms = 1000.0 * t.elapsed().as_secs_f64() / solo.max(1) as f64;
        // Phase 2: many workers at once: the queue's throughput under contention. The line before
        // it lets a wrapper sample the database server's CPU over exactly this phase.
        println!("phase 2 start: {} workers claiming and completing", args.workers);
        let started = Instant::now();
        let cpu_before = process_cpu_s();
        let mut tasks = Vec::new();
        for w in 0..args.workers {
            let (store, result, batch) = (store.clone(), result.clone(), args.batch);
            tasks.push(tokio::spawn(async move { drain(&store, &format!("bench-{w}"), batch, &result, None).await }));
        }
        let mut cycles = 0;
        for t in tasks {
            cycles += t.await.context("a bench worker panicked")??;
        }
        let secs = started.elapsed().as_secs_f64();
        let client_cpu = process_cpu_s() - cpu_before;
        let per_second = cycles as f64 / secs;
        println!("claim+complete, {} workers: {cycles} cycles in {secs:.2} s = {per_second:.0} cycles/s", args.workers);
        println!(
            "bench client (this process) meanwhile: {client_cpu:.2} CPU-s = {:.2} cores",
            client_cpu / secs.max(f64::EPSILON)
        );
        let serial = solo_ms / (solo_ms + sim_ms);
        // Phase 3: the worker's own pipelined loop, with a busy wait of the typical length standing in
        // for each simulation: the share of its wall time that is not simulation is the queue's.
        let pipelined_runs = (args.runs / 10).clamp(20, 200);
        let pipelined = pipelined_overhead(&store, pipelined_runs, sim_ms, &result).await?;
        println!("claim+complete, one worker: {solo_ms:.2} ms per run ({solo} runs)");
        println!(
            "typical simulation: {sim_ms:.1} ms wall per run (median over the smoke set's default variants of {})",
            args.catalog.display()
        );
        println!("queue overhead of a worker claiming and writing between runs: {:.2} % of its time", serial * 100.0);
        println!(
            "queue overhead of a pipelined worker (farm's loop, 1 thread, {pipelined_runs} runs): {:.2} % of its time",
            pipelined * 100.0
        );
        println!(
            "runs per second at which the queue saturates: {per_second:.0} (= {:.0} workers at the typical run length)",
            per_second * sim_ms / 1000.0
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Posts a candidate of `n` synthetic runs (their scenario version is a placeholder: the bench's
/// workers never load it); returns how long enqueueing took, seconds.
async fn synthetic_candidate(store: &Store, prefix: &str, n: usize) -> anyhow::Result<f64> {
    let name = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
    let mut new = NewCandidate::new(&name, None, autonomy_stack::StackConfig::default(), Suite::default());
    new.config_hash = name.clone();
    let id = CandidateId::random();
    candidates::create(store, &new, &id, now_ms()).await?;
    let version = ScenarioVersion {
        content_hash: format!("bench-{name}"),
        scenario_id: "bench".into(),
        file: "bench".into(),
        body: String::new(),
    };
    let runs: Vec<PlannedRun> = (0..n)
        .map(|i| {
            let variant_key = scenario_dsl::VariantKey::parse(&format!("{i:032x}"))
                .ok_or_else(|| anyhow::anyhow!("synthetic key {i} is not a key"))?;
            Ok(PlannedRun {
                variant_key,
                scenario_id: "bench".into(),
                content_hash: version.content_hash.clone(),
                ord: i as i64,
                tags: Default::default(),
                cell: Default::default(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let t = Instant::now();
    candidates::enqueue(store, &id, &[version], &runs, now_ms()).await?;
    Ok(t.elapsed().as_secs_f64())
}

/// A passed outcome carrying `result` (a real run's result, so writes are their real size).
fn passed(result: &RunRecord) -> Outcome {
    Outcome {
        status: RunStatus::Passed,
        digest: Some(result.digest.clone()),
        reason: None,
        result: Some(result.clone()),
        trace: None,
    }
}

/// Runs `worker::drive` (one thread) over `n` fresh runs whose "simulation" busy-waits `sim_ms`;
/// returns (wall time / pure simulation time) - 1.
async fn pipelined_overhead(store: &Store, n: usize, sim_ms: f64, typical: &RunRecord) -> anyhow::Result<f64> {
    synthetic_candidate(store, "queue-bench-pipelined", n).await?;
    let settings = WorkerSettings {
        lease_ms: 60_000,
        poll: std::time::Duration::from_millis(100),
        ..WorkerSettings::new(format!("bench-pipelined-{}", uuid::Uuid::new_v4().simple()), 1)
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let executed = AtomicUsize::new(0);
    let busy = std::time::Duration::from_secs_f64(sim_ms / 1000.0);
    let result = typical.clone();
    let execute = |_claim| {
        let (stop, executed, result) = (&stop, &executed, result.clone());
        async move {
            let _ = tokio::task::spawn_blocking(move || {
                let t = Instant::now();
                while t.elapsed() < busy {
                    std::hint::spin_loop();
                }
            })
            .await;
            if executed.fetch_add(1, Ordering::SeqCst) + 1 == n {
                let _ = stop.send(true);
            }
            passed(&result)
        }
    };
    let t = Instant::now();
    worker::drive(store, &settings, stopped, None, execute).await?;
    let wall = t.elapsed().as_secs_f64();
    Ok(wall / (n as f64 * sim_ms / 1000.0) - 1.0)
}

/// Claims a batch and writes its results in one batch, as a worker does, until the queue is empty
/// (or `limit` runs are done); returns the count.
async fn drain(
    store: &Store,
    worker: &str,
    batch: i64,
    result: &RunRecord,
    limit: Option<u64>,
) -> Result<u64, crate::infra::store::StoreError> {
    let mut n = 0u64;
    loop {
        let want = limit.map_or(batch, |l| batch.min(i64::try_from(l - n).unwrap_or(batch)));
        if want == 0 {
            return Ok(n);
        }
        let claims = queue::claim(store, worker, want, now_ms(), 60_000).await?;
        if claims.is_empty() {
            return Ok(n);
        }
        // Like a worker: the batch's results in one write.
        let outcome = passed(result);
        let items: Vec<(&queue::Claim, &Outcome)> = claims.iter().map(|c| (c, &outcome)).collect();
        queue::complete_batch(store, worker, &items, now_ms()).await?;
        n += claims.len() as u64;
    }
}

/// CPU time of this process (all threads) so far, seconds.
fn process_cpu_s() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// Median wall time (ms) of the smoke set's default variants and the result of the median run;
/// a catalog that cannot be read or has no smoke scenario is an error, never a made-up figure.
fn typical_simulation(dir: &std::path::Path) -> anyhow::Result<(f64, RunRecord)> {
    let catalog = load_index(&[dir.to_path_buf()], None)?;
    let suite = Suite { tags: vec!["smoke".into()], scenarios: Vec::new() };
    let scenarios = catalog.select(&suite).with_context(|| format!("the catalog in {}", dir.display()))?;
    let config = autonomy_stack::StackConfig::default();
    let mut runs: Vec<(f64, RunRecord)> = scenarios
        .iter()
        .filter_map(|s| s.variants().first())
        .map(|v| {
            let (r, wall) = simulate_one(v, &config);
            (wall * 1000.0, RunRecord::new(v, Vec::new(), None, &r, wall))
        })
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let median = runs.len() / 2;
    runs.into_iter().nth(median).ok_or_else(|| anyhow::anyhow!("no smoke scenario in {}", dir.display()))
}
