//! `farm worker`: a separate worker process (one per pod) that claims runs from Postgres (or a
//! shared SQLite file) and simulates them until SIGTERM, then finishes its batch and releases the rest.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::sync::watch;

use crate::infra::metrics::Metrics;
use crate::infra::shutdown::terminated;
use crate::infra::store::Store;
use crate::infra::worker::{self, worker_id, WorkerSettings};

/// Arguments of `farm worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Results database (the queue).
    #[arg(long, env = "FARM_DATABASE_URL")]
    pub database_url: String,
    /// Simulation threads (default: one per core).
    #[arg(long, env = "FARM_THREADS")]
    pub threads: Option<usize>,
    /// Lease length, milliseconds.
    #[arg(long, env = "FARM_LEASE_MS", default_value_t = 30_000)]
    pub lease_ms: i64,
    /// How long to wait between empty claims, milliseconds.
    #[arg(long, env = "FARM_POLL_MS", default_value_t = 1_000)]
    pub poll_ms: u64,
    /// Stack size of each simulation thread, bytes (default: the platform's).
    #[arg(long, env = "FARM_SIM_STACK_BYTES")]
    pub stack_bytes: Option<usize>,
    /// Give up (exit non-zero) after the database has failed for this long without a break, seconds.
    #[arg(long, env = "FARM_GIVE_UP_AFTER_S", default_value_t = 600)]
    pub give_up_after_s: u64,
    /// Serve this worker's /metrics and /healthz here (e.g. 0.0.0.0:9100).
    #[arg(long, env = "FARM_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
}

pub(super) fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    // Held to the end: dropping it sends the last spans.
    let _exporting = crate::cli::init_tracing("farm-worker")?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = Store::open(&args.database_url).await.context("cannot open the results database")?;
        let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let settings = WorkerSettings {
            lease_ms: args.lease_ms,
            poll: Duration::from_millis(args.poll_ms),
            stack_bytes: args.stack_bytes,
            give_up_after: Duration::from_secs(args.give_up_after_s),
            ..WorkerSettings::new(worker_id("worker"), threads)
        };
        let liveness = settings.liveness.clone();
        println!("worker {} started", settings.id);
        let metrics = Metrics::for_worker().context("cannot register metrics")?;
        if let Some(addr) = &args.metrics_listen {
            let listener =
                tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
            let m = metrics.clone();
            let app =
                axum::Router::new().route("/metrics", axum::routing::get(move || async move { m.render() })).route(
                    "/healthz",
                    axum::routing::get(move || {
                        let alive = liveness.is_alive();
                        async move {
                            // Unhealthy once the loop has ended: an orchestrator restarts the worker.
                            if alive {
                                (axum::http::StatusCode::OK, "ok")
                            } else {
                                (axum::http::StatusCode::SERVICE_UNAVAILABLE, "the worker loop has stopped")
                            }
                        }
                    }),
                );
            tokio::spawn(async move { axum::serve(listener, app).await });
        }
        let (stop, stopped) = watch::channel(false);
        let mut work = tokio::spawn(worker::run(store, settings, stopped, Some(metrics)));
        // A worker that stops on its own (it cannot start its pool, the queue failed) exits non-zero
        // at once with the reason; on SIGTERM it finishes the runs in flight first.
        let finished = tokio::select! {
            finished = &mut work => finished,
            () = terminated() => {
                let _ = stop.send(true);
                work.await
            }
        };
        finished.context("the worker panicked")?.context("the worker failed")?;
        Ok(ExitCode::SUCCESS)
    })
}
