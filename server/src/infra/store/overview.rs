//! Read-only queries the web UI needs beyond the API's: candidates filtered by name with keyset
//! pagination, a scenario's outcomes across the latest candidates, runs awaiting their
//! confirmation re-run, the queue by status, workers, throughput and recent errors.

use sqlx::Row;

use super::runs::{key_of, status_of};
use super::{on_pool, Store, StoreError};
use crate::domain::ids::{CandidateId, RunId};
use crate::domain::run::RunStatus;
use scenario_dsl::VariantKey;

/// One variant's outcome for one candidate (a cell of a scenario's history).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// The candidate.
    pub candidate_id: CandidateId,
    /// Its name.
    pub candidate_name: String,
    /// When it was posted, ms since the epoch.
    pub created_at: i64,
    /// The variant.
    pub variant_key: VariantKey,
    /// The run.
    pub run_id: RunId,
    /// Its status.
    pub status: RunStatus,
}

/// Every run of `scenario_id` in the `candidates` newest candidates that ran it, newest first.
pub async fn scenario_history(
    store: &Store,
    scenario_id: &str,
    candidates: i64,
) -> Result<Vec<HistoryRow>, StoreError> {
    let sql = "SELECT r.id, r.candidate_id, c.name, c.created_at, r.variant_key, r.status FROM runs r \
               JOIN candidates c ON c.id = r.candidate_id \
               WHERE r.scenario_id = $1 AND r.candidate_id IN ( \
                 SELECT c2.id FROM candidates c2 WHERE EXISTS (SELECT 1 FROM runs r2 WHERE r2.candidate_id = c2.id AND r2.scenario_id = $1) \
                 ORDER BY c2.created_at DESC, c2.id LIMIT $2) \
               ORDER BY c.created_at DESC, c.id, r.ord";
    let raw: Vec<(String, String, String, i64, String, String)> = on_pool!(store, pool => {
        let rows = sqlx::query(sql).bind(scenario_id).bind(candidates).fetch_all(pool).await?;
        rows.iter()
            .map(|r| Ok::<_, StoreError>((r.try_get("id")?, r.try_get("candidate_id")?, r.try_get("name")?, r.try_get("created_at")?, r.try_get("variant_key")?, r.try_get("status")?)))
            .collect::<Result<Vec<_>, _>>()?
    });
    raw.into_iter()
        .map(|(id, cid, name, created_at, key, status)| {
            Ok(HistoryRow {
                candidate_id: CandidateId::parse(&cid).map_err(|e| StoreError::corrupt("runs.candidate_id", e))?,
                candidate_name: name,
                created_at,
                variant_key: key_of(&key)?,
                run_id: RunId::parse(&id).map_err(|e| StoreError::corrupt("runs.id", e))?,
                status: status_of(&status)?,
            })
        })
        .collect()
}

/// Runs of a candidate that failed once and wait in the queue for their confirmation re-run.
pub async fn awaiting_confirmation(store: &Store, candidate_id: &CandidateId) -> Result<Vec<RunId>, StoreError> {
    let sql = "SELECT id FROM runs WHERE candidate_id = $1 AND status IN ('queued', 'running') AND first_digest IS NOT NULL ORDER BY ord";
    let ids: Vec<String> = on_pool!(store, pool => {
        let rows = sqlx::query(sql).bind(candidate_id.as_str()).fetch_all(pool).await?;
        rows.iter().map(|r| r.try_get("id")).collect::<Result<Vec<_>, _>>()?
    });
    ids.iter().map(|id| RunId::parse(id).map_err(|e| StoreError::corrupt("runs.id", e))).collect()
}

/// A worker as last seen.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerRow {
    /// Worker id.
    pub id: String,
    /// Farm version it runs.
    pub version: String,
    /// When it started, ms since the epoch.
    pub started_at: i64,
    /// When it was last seen, ms since the epoch.
    pub last_seen_at: i64,
    /// Runs it holds a lease on now.
    pub in_flight: i64,
}

/// The most recently seen workers, at most `limit`.
pub async fn workers(store: &Store, limit: i64) -> Result<Vec<WorkerRow>, StoreError> {
    let sql = "SELECT w.id, w.version, w.started_at, w.last_seen_at, \
               (SELECT COUNT(*) FROM runs r WHERE r.status = 'running' AND r.lease_owner = w.id) AS in_flight \
               FROM workers w ORDER BY w.last_seen_at DESC, w.id LIMIT $1";
    on_pool!(store, pool => {
        let rows = sqlx::query(sql).bind(limit).fetch_all(pool).await?;
        rows.iter()
            .map(|r| Ok(WorkerRow {
                id: r.try_get("id")?,
                version: r.try_get("version")?,
                started_at: r.try_get("started_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
                in_flight: r.try_get("in_flight")?,
            }))
            .collect()
    })
}

/// Runs that received their result since `since` (ms since the epoch).
pub async fn finished_since(store: &Store, since: i64) -> Result<i64, StoreError> {
    on_pool!(store, pool => {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM runs WHERE finished_at >= $1").bind(since).fetch_one(pool).await?;
        Ok(r.try_get("n")?)
    })
}

/// A run that ended in `error`.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRow {
    /// The run.
    pub run_id: RunId,
    /// Its candidate.
    pub candidate_id: CandidateId,
    /// Its scenario.
    pub scenario_id: String,
    /// Why.
    pub reason: Option<String>,
    /// When, ms since the epoch.
    pub finished_at: Option<i64>,
}

/// An error row as read: id, candidate id, scenario id, reason, finish time.
type RawError = (String, String, String, Option<String>, Option<i64>);

/// The latest runs in `error`, newest first.
pub async fn recent_errors(store: &Store, limit: i64) -> Result<Vec<ErrorRow>, StoreError> {
    let sql = "SELECT id, candidate_id, scenario_id, reason, finished_at FROM runs WHERE status = 'error' \
               ORDER BY finished_at DESC, id LIMIT $1";
    let raw: Vec<RawError> = on_pool!(store, pool => {
        let rows = sqlx::query(sql).bind(limit).fetch_all(pool).await?;
        rows.iter()
            .map(|r| Ok::<_, StoreError>((r.try_get("id")?, r.try_get("candidate_id")?, r.try_get("scenario_id")?, r.try_get("reason")?, r.try_get("finished_at")?)))
            .collect::<Result<Vec<_>, _>>()?
    });
    raw.into_iter()
        .map(|(id, cid, scenario_id, reason, finished_at)| {
            Ok(ErrorRow {
                run_id: RunId::parse(&id).map_err(|e| StoreError::corrupt("runs.id", e))?,
                candidate_id: CandidateId::parse(&cid).map_err(|e| StoreError::corrupt("runs.candidate_id", e))?,
                scenario_id,
                reason,
                finished_at,
            })
        })
        .collect()
}

/// Runs by status per candidate for the candidates listed (one query for a whole page).
pub async fn status_counts_of(
    store: &Store,
    ids: &[CandidateId],
) -> Result<Vec<(CandidateId, RunStatus, i64)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids are validated newtypes (hex and dashes), but bind them anyway: one placeholder each.
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT candidate_id, status, COUNT(*) AS n FROM runs WHERE candidate_id IN ({}) GROUP BY candidate_id, status",
        marks.join(", ")
    );
    let raw: Vec<(String, String, i64)> = on_pool!(store, pool => {
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(id.as_str());
        }
        let rows = q.fetch_all(pool).await?;
        rows.iter()
            .map(|r| Ok::<_, StoreError>((r.try_get("candidate_id")?, r.try_get("status")?, r.try_get("n")?)))
            .collect::<Result<Vec<_>, _>>()?
    });
    raw.into_iter()
        .map(|(cid, s, n)| {
            Ok((CandidateId::parse(&cid).map_err(|e| StoreError::corrupt("runs.candidate_id", e))?, status_of(&s)?, n))
        })
        .collect()
}
