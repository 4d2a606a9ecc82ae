//! The scheduler: finishes expansions a restart interrupted, rescues expired leases (re-queue with
//! attempt + 1, or `error` after the last attempt), and after each pass calls the service's hook
//! that stores the gate verdict of candidates that just finished.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tracing::Instrument;

use super::clock::now_ms;
use super::metrics::Metrics;
use super::store::{candidates, queue, Store, StoreError};
use crate::domain::catalog::CatalogIndex;

/// Enqueues the runs of every candidate whose expansion did not finish. A candidate whose suite
/// the catalog no longer satisfies stays unexpanded and is reported, never run as something else.
pub async fn resume_expansions(store: &Store, catalog: &CatalogIndex) -> Result<usize, StoreError> {
    let pending = candidates::unexpanded(store).await?;
    for c in &pending {
        let span = tracing::info_span!("expansion", candidate_id = %c.id);
        async {
            match catalog.plan(&c.suite) {
                Ok((versions, runs)) => {
                    let n = candidates::enqueue(store, &c.id, &versions, &runs, now_ms()).await?;
                    tracing::info!(runs = n, "resumed an interrupted expansion");
                    notify(store).await;
                }
                Err(e) => tracing::error!(error = %e, "cannot resume expansion: the catalog changed"),
            }
            Ok::<_, StoreError>(())
        }
        .instrument(span)
        .await?;
    }
    Ok(pending.len())
}

/// Wakes listening workers (Postgres); polling covers SQLite.
pub async fn notify(store: &Store) {
    if let Store::Postgres(pool) = store {
        if let Err(e) = sqlx::query("SELECT pg_notify('farm_runs', '')").execute(pool).await {
            tracing::warn!(error = %e, "NOTIFY failed; workers will find the runs by polling");
        }
    }
}

/// How the scheduler behaves.
#[derive(Debug, Clone, Copy)]
pub struct SchedulerSettings {
    /// Lease length, ms: the rescuer looks every half lease.
    pub lease_ms: i64,
    /// Attempts before a run whose workers keep disappearing becomes `error`.
    pub max_attempts: i32,
}

/// Called after every pass (e.g. to store the gate verdicts of candidates that finished).
pub type AfterPass = Box<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// Rescues expired leases every half lease until `shutdown`, calling `after_pass` after each pass.
pub async fn run(
    store: Store,
    catalog: Arc<CatalogIndex>,
    settings: SchedulerSettings,
    metrics: Metrics,
    after_pass: AfterPass,
    mut shutdown: watch::Receiver<bool>,
) {
    if let Err(e) = resume_expansions(&store, &catalog).await {
        tracing::error!(error = %e, "resuming expansions failed");
    }
    let every = Duration::from_millis(u64::try_from(settings.lease_ms / 2).unwrap_or(1000).max(50));
    while !*shutdown.borrow() {
        match queue::rescue(&store, now_ms(), settings.max_attempts).await {
            Ok(r) if r.requeued + r.exhausted > 0 => {
                tracing::warn!(requeued = r.requeued, exhausted = r.exhausted, "rescued expired leases");
                metrics.rescued_runs.with_label_values(&["requeued"]).inc_by(r.requeued);
                metrics.rescued_runs.with_label_values(&["exhausted"]).inc_by(r.exhausted);
                notify(&store).await;
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "rescue failed"),
        }
        after_pass().await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    }
}
