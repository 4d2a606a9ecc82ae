//! `farm serve`: the HTTP API, the scheduler and (unless `--workers 0`) embedded workers, over an
//! embedded SQLite file by default or Postgres. Every option also reads an environment variable.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::sync::watch;

use crate::api::{self, AppState};
use crate::domain::gate::GatePolicy;
use crate::infra::catalog_files::load_index;
use crate::infra::config_files::load_gate_policy;
use crate::infra::metrics::Metrics;
use crate::infra::scheduler::{self, SchedulerSettings};
use crate::infra::shutdown::terminated;
use crate::infra::signing::{load_or_create_key, load_past_keys};
use crate::infra::store::Store;
use crate::infra::worker::{self, worker_id, Liveness, WorkerSettings};
use crate::usecases::{candidates, Farm};

/// Arguments of `farm serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Results database: `sqlite://PATH` (embedded) or `postgres://...`.
    #[arg(long, env = "FARM_DATABASE_URL", default_value = "sqlite://farm.db")]
    pub database_url: String,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = "FARM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Embedded simulation threads (default: one per core; 0 for a server that only schedules).
    #[arg(long, env = "FARM_WORKERS")]
    pub workers: Option<usize>,
    /// The catalog folder.
    #[arg(long, env = "FARM_CATALOG", default_value = "catalog")]
    pub catalog: PathBuf,
    /// The gate policy (default: gate.yaml in the catalog folder).
    #[arg(long, env = "FARM_GATE")]
    pub gate: Option<PathBuf>,
    /// Lease length, milliseconds.
    #[arg(long, env = "FARM_LEASE_MS", default_value_t = 30_000)]
    pub lease_ms: i64,
    /// Attempts before a run whose workers keep disappearing becomes an error.
    #[arg(long, env = "FARM_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: i32,
    /// The farm's Ed25519 key for evidence packs (created on first start, owner-readable only).
    #[arg(long, env = "FARM_SIGNING_KEY", default_value = "farm-signing.key")]
    pub signing_key: PathBuf,
    /// Public keys of retired signing keys, published by GET /api/v1/keys so that packs signed
    /// before a rotation stay verifiable: a file with one 64-hex key per line, then an optional
    /// note (e.g. "in use until 2026-11-30"); `#` starts a comment.
    #[arg(long, env = "FARM_PAST_PUBLIC_KEYS")]
    pub past_public_keys: Option<PathBuf>,
}

pub(super) fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    // Held to the end: dropping it sends the last spans.
    let _exporting = crate::cli::init_tracing("farm-server")?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let catalog = Arc::new(load_index(std::slice::from_ref(&args.catalog), None)?);
    let gate_path = args.gate.clone().unwrap_or_else(|| args.catalog.join("gate.yaml"));
    let gate = if args.gate.is_some() || gate_path.exists() {
        load_gate_policy(&gate_path, &catalog.tags())?
    } else {
        tracing::warn!(path = %gate_path.display(), "no gate policy file: using the built-in default policy");
        GatePolicy::default()
    };
    let store = Store::open(&args.database_url).await.context("cannot open the results database")?;
    let metrics = Metrics::new().context("cannot register metrics")?;
    let signing_key = load_or_create_key(&args.signing_key)
        .with_context(|| format!("cannot load or create the signing key {}", args.signing_key.display()))?;
    let past_keys = match &args.past_public_keys {
        Some(path) => {
            load_past_keys(path).with_context(|| format!("cannot read the retired public keys {}", path.display()))?
        }
        None => Vec::new(),
    };
    let farm = Farm { store: store.clone(), catalog: catalog.clone(), gate, signing_key, past_keys };
    let liveness = Liveness::new();
    let state = Arc::new(AppState::new(farm, metrics.clone(), Some(liveness.clone())));
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, database = store.dialect(), scenarios = catalog.catalog().scenarios.len(), "farm serving");

    let (stop, stopped) = watch::channel(false);
    let decide = state.clone();
    let after_pass: scheduler::AfterPass = Box::new(move || {
        let state = decide.clone();
        Box::pin(async move {
            if let Err(e) = candidates::decide_finished(&state.farm).await {
                tracing::error!(error = %e, "deciding the gates of finished candidates failed");
            }
        })
    });
    let settings = SchedulerSettings { lease_ms: args.lease_ms, max_attempts: args.max_attempts };
    let scheduler = tokio::spawn(scheduler::run(
        store.clone(),
        catalog.clone(),
        settings,
        metrics.clone(),
        after_pass,
        stopped.clone(),
    ));
    let threads = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let died = Arc::new(tokio::sync::Notify::new());
    let embedded = (threads > 0).then(|| {
        let settings = WorkerSettings {
            lease_ms: args.lease_ms,
            poll: Duration::from_millis(500),
            liveness: liveness.clone(),
            ..WorkerSettings::new(worker_id("serve"), threads)
        };
        let (store, stopped, metrics, died) = (store.clone(), stopped.clone(), metrics.clone(), died.clone());
        tokio::spawn(async move {
            let ended = worker::run(store, settings, stopped, Some(metrics)).await;
            if ended.is_err() {
                died.notify_one();
            }
            ended
        })
    });
    // The process stops on SIGTERM, or when its embedded workers gave up (exit 1: restart me).
    let shutdown = async move {
        tokio::select! {
            () = terminated() => {}
            () = died.notified() => tracing::error!("the embedded workers stopped; shutting down"),
        }
    };
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("the HTTP server failed")?;
    let _ = stop.send(true);
    let mut failed = false;
    if let Some(w) = embedded {
        match w.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "embedded worker stopped with an error");
                failed = true;
            }
            Err(e) => {
                tracing::error!(error = %e, "embedded worker panicked");
                failed = true;
            }
        }
    }
    let _ = scheduler.await;
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
