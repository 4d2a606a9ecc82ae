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
use crate::catalog_index::CatalogIndex;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::worker::{self, WorkerSettings};

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
}

/// Loads the catalog folder; errors are printed like `farm lint` and refuse the start.
pub(crate) fn load_catalog_index(dir: &std::path::Path) -> anyhow::Result<CatalogIndex> {
    let sources = crate::sources::read_sources(&[dir.to_path_buf()], None);
    let catalog = scenario_dsl::Catalog::load(&sources.scenarios, sources.odd.as_ref());
    if catalog.has_errors() || !sources.diagnostics.is_empty() {
        for d in catalog.diagnostics.iter().chain(&sources.diagnostics).filter(|d| d.is_error()) {
            eprintln!("{}", d.render(None));
        }
        anyhow::bail!("the catalog in {} has errors (see `farm lint`)", dir.display());
    }
    Ok(CatalogIndex::new(catalog, sources.scenarios))
}

/// Resolves on SIGTERM or Ctrl-C.
pub(crate) async fn terminated() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

pub(super) fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::cli::init_tracing();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let catalog = Arc::new(load_catalog_index(&args.catalog)?);
    let gate_path = args.gate.clone().unwrap_or_else(|| args.catalog.join("gate.yaml"));
    let gate = if gate_path.exists() {
        crate::gate::load(&gate_path).with_context(|| format!("invalid gate policy {}", gate_path.display()))?
    } else {
        crate::gate::GatePolicy::default()
    };
    let store = Store::open(&args.database_url).await.context("cannot open the results database")?;
    let metrics = Metrics::new().context("cannot register metrics")?;
    let signing_key = crate::evidence::load_or_create_key(&args.signing_key)
        .with_context(|| format!("cannot load or create the signing key {}", args.signing_key.display()))?;
    let state = Arc::new(AppState {
        store: store.clone(),
        catalog: catalog.clone(),
        gate,
        metrics: metrics.clone(),
        signing_key,
    });
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, database = store.dialect(), scenarios = catalog.catalog().scenarios.len(), "farm serving");

    let (stop, stopped) = watch::channel(false);
    let scheduler = tokio::spawn(crate::scheduler::run(
        store.clone(),
        catalog.clone(),
        args.lease_ms,
        args.max_attempts,
        stopped.clone(),
    ));
    let threads = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let embedded = (threads > 0).then(|| {
        let settings = WorkerSettings {
            id: worker_id("serve"),
            threads,
            lease_ms: args.lease_ms,
            poll: Duration::from_millis(500),
        };
        tokio::spawn(worker::run(store.clone(), settings, stopped.clone(), Some(metrics.clone())))
    });
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(terminated())
        .await
        .context("the HTTP server failed")?;
    let _ = stop.send(true);
    if let Some(w) = embedded {
        match w.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "embedded worker stopped with an error"),
            Err(e) => tracing::error!(error = %e, "embedded worker panicked"),
        }
    }
    let _ = scheduler.await;
    Ok(ExitCode::SUCCESS)
}

/// A worker id unique across processes: role, host process id and a random suffix.
pub(crate) fn worker_id(role: &str) -> String {
    format!("{role}-{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8])
}
