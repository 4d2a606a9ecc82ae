//! The scheduler: finishes expansions a restart interrupted, and rescues expired leases (re-queue
//! with attempt + 1, or `error` after the last attempt).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::catalog_index::{CatalogIndex, Suite};
use crate::store::{candidates, now_ms, queue, Store, StoreError};

/// Enqueues the runs of every candidate whose expansion did not finish.
pub async fn resume_expansions(store: &Store, catalog: &CatalogIndex) -> Result<usize, StoreError> {
    let pending = candidates::unexpanded(store).await?;
    for c in &pending {
        let suite: Suite = serde_json::from_str(&c.suite).unwrap_or_default();
        match catalog.plan(&suite) {
            Ok((versions, runs)) => {
                candidates::enqueue(store, &c.id, &versions, &runs, now_ms()).await?;
                notify(store).await;
            }
            Err(e) => tracing::error!(candidate = %c.id, error = %e, "cannot resume expansion: the catalog changed"),
        }
    }
    Ok(pending.len())
}

/// Wakes listening workers (Postgres); polling covers SQLite.
pub async fn notify(store: &Store) {
    if let Store::Postgres(pool) = store {
        let _ = sqlx::query("SELECT pg_notify('farm_runs', '')").execute(pool).await;
    }
}

/// Rescues expired leases every half lease until `shutdown`.
pub async fn run(
    store: Store,
    catalog: Arc<CatalogIndex>,
    lease_ms: i64,
    max_attempts: i32,
    mut shutdown: watch::Receiver<bool>,
) {
    if let Err(e) = resume_expansions(&store, &catalog).await {
        tracing::error!(error = %e, "resuming expansions failed");
    }
    let every = Duration::from_millis(u64::try_from(lease_ms / 2).unwrap_or(1000).max(50));
    while !*shutdown.borrow() {
        match queue::rescue(&store, now_ms(), max_attempts).await {
            Ok(r) if r.requeued + r.exhausted > 0 => {
                tracing::warn!(requeued = r.requeued, exhausted = r.exhausted, "rescued expired leases");
                notify(&store).await;
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "rescue failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    }
}
