//! The run queue. Workers claim runs in batches under a lease (Postgres: `FOR UPDATE SKIP LOCKED`;
//! SQLite: one writer inside `BEGIN IMMEDIATE`), heartbeat to extend it, and write a result only
//! while they hold the lease for the current attempt. A rescuer returns expired leases to the queue
//! with attempt + 1 and, after the last attempt, marks the run `error` (infrastructure, never a
//! verdict on the stack). Exactly one result per run, whatever crashes.

use sqlx::Row;

use scenario_dsl::VariantKey;

use super::runs::{key_of, status_of};
use super::{on_pool, to_json, Store, StoreError};
use crate::domain::ids::{CandidateId, RunId};
use crate::domain::report::RunRecord;
use crate::domain::run::RunStatus;

/// A claimed run: a lease on one run for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Run id.
    pub run_id: RunId,
    /// Candidate id.
    pub candidate_id: CandidateId,
    /// Variant key.
    pub variant_key: VariantKey,
    /// Scenario version.
    pub content_hash: String,
    /// The attempt this lease is for; the result write must quote it.
    pub attempt: i32,
    /// Queue position.
    pub ord: i64,
    /// The candidate's trace context (W3C `traceparent`), when traces are exported: the run's
    /// spans continue the trace of the request that posted it.
    pub traceparent: Option<String>,
}

/// A finished run's outcome, as a worker reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// A final status: passed, failed, error or timeout.
    pub status: RunStatus,
    /// Trace digest.
    pub digest: Option<String>,
    /// Why it did not pass.
    pub reason: Option<String>,
    /// The full result (absent when the run could not be simulated at all).
    pub result: Option<RunRecord>,
    /// The binary trace, kept for runs that did not pass.
    pub trace: Option<Vec<u8>>,
}

impl Outcome {
    /// A run that could not be simulated: `error` with the reason and no result.
    pub fn error(reason: impl Into<String>) -> Self {
        Outcome { status: RunStatus::Error, digest: None, reason: Some(reason.into()), result: None, trace: None }
    }
}

/// What happened to a result write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The result is stored.
    Recorded,
    /// A first failure: the run went back to the queue to be confirmed by a re-run (preferably on
    /// another worker) before it counts.
    Confirming,
    /// The re-run's digest differs from the first run's: the run is `error` (nondeterminism).
    Nondeterministic,
    /// This worker no longer holds the lease for this attempt: nothing was written.
    LeaseLost,
}

/// What a rescue pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rescued {
    /// Runs returned to the queue.
    pub requeued: u64,
    /// Runs marked `error` after their last attempt.
    pub exhausted: u64,
}

const RETURNING: &str = "RETURNING id, candidate_id, variant_key, content_hash, attempt, ord, \
    (SELECT c.traceparent FROM candidates c WHERE c.id = runs.candidate_id) AS traceparent";

macro_rules! claims_from {
    ($rows:expr) => {{
        let mut claims = Vec::new();
        for r in $rows {
            let (run_id, candidate_id, key): (String, String, String) =
                (r.try_get("id")?, r.try_get("candidate_id")?, r.try_get("variant_key")?);
            claims.push(Claim {
                run_id: RunId::parse(&run_id).map_err(|e| StoreError::corrupt("runs.id", e))?,
                candidate_id: CandidateId::parse(&candidate_id)
                    .map_err(|e| StoreError::corrupt("runs.candidate_id", e))?,
                variant_key: key_of(&key)?,
                content_hash: r.try_get("content_hash")?,
                attempt: r.try_get("attempt")?,
                ord: r.try_get("ord")?,
                traceparent: r.try_get("traceparent")?,
            });
        }
        claims.sort_by(|a: &Claim, b: &Claim| a.ord.cmp(&b.ord).then_with(|| a.run_id.cmp(&b.run_id)));
        Ok::<_, StoreError>(claims)
    }};
}

/// Claims up to `max` queued runs for `worker`, leased until `now + lease_ms`. A failure waiting
/// for its confirmation re-run is not claimed by the worker that failed it while another worker
/// was seen within the last lease (it stays for that one); with no other live worker, it is.
pub async fn claim(store: &Store, worker: &str, max: i64, now: i64, lease_ms: i64) -> Result<Vec<Claim>, StoreError> {
    let runnable = "status = 'queued' AND NOT (avoid_worker IS NOT NULL AND avoid_worker = $1 \
                    AND EXISTS (SELECT 1 FROM workers w WHERE w.id <> $1 AND w.last_seen_at >= $4))";
    match store {
        Store::Postgres(pool) => {
            let sql = format!(
                "UPDATE runs SET status = 'running', lease_owner = $1, lease_expires_at = $2 \
                 WHERE id IN (SELECT id FROM runs WHERE {runnable} ORDER BY enqueued_at, ord LIMIT $3 FOR UPDATE SKIP LOCKED) {RETURNING}"
            );
            let rows = sqlx::query(&sql)
                .bind(worker)
                .bind(now + lease_ms)
                .bind(max)
                .bind(now - lease_ms)
                .fetch_all(pool)
                .await?;
            claims_from!(rows)
        }
        Store::Sqlite(pool) => {
            // SQLite has one writer: take the write lock up front so the select and the update are one step.
            let mut conn = pool.acquire().await?;
            sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
            let sql = format!(
                "UPDATE runs SET status = 'running', lease_owner = $1, lease_expires_at = $2 \
                 WHERE id IN (SELECT id FROM runs WHERE {runnable} ORDER BY enqueued_at, ord LIMIT $3) {RETURNING}"
            );
            match sqlx::query(&sql)
                .bind(worker)
                .bind(now + lease_ms)
                .bind(max)
                .bind(now - lease_ms)
                .fetch_all(&mut *conn)
                .await
            {
                Ok(rows) => {
                    sqlx::query("COMMIT").execute(&mut *conn).await?;
                    claims_from!(rows)
                }
                Err(e) => {
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                    Err(e.into())
                }
            }
        }
    }
}

/// Extends every lease `worker` still holds; returns the ids it holds (a missing id was lost).
pub async fn heartbeat(store: &Store, worker: &str, now: i64, lease_ms: i64) -> Result<Vec<RunId>, StoreError> {
    let sql = "UPDATE runs SET lease_expires_at = $1 WHERE lease_owner = $2 AND status = 'running' AND lease_expires_at >= $3 RETURNING id";
    let ids: Vec<String> = on_pool!(store, pool => {
        let rows = sqlx::query(sql).bind(now + lease_ms).bind(worker).bind(now).fetch_all(pool).await?;
        rows.iter().map(|r| r.try_get::<String, _>("id")).collect::<Result<Vec<_>, _>>()?
    });
    let mut ids = ids
        .iter()
        .map(|id| RunId::parse(id).map_err(|e| StoreError::corrupt("runs.id", e)))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort();
    Ok(ids)
}

/// Writes the outcome of `claim` if `worker` still holds its lease for that attempt.
pub async fn complete(
    store: &Store,
    worker: &str,
    claim: &Claim,
    outcome: &Outcome,
    now: i64,
) -> Result<Completion, StoreError> {
    let done = complete_batch(store, worker, &[(claim, outcome)], now).await?;
    Ok(done.first().copied().unwrap_or(Completion::LeaseLost))
}

/// Writes several outcomes in one transaction (one commit, one fsync), each guarded by its lease
/// exactly like [`complete`]; a lost lease skips that run only.
pub async fn complete_batch(
    store: &Store,
    worker: &str,
    items: &[(&Claim, &Outcome)],
    now: i64,
) -> Result<Vec<Completion>, StoreError> {
    // One guarded statement decides, from the row's own columns, between: a first failure (back to
    // the queue, digest kept, this worker avoided), a confirmed failure or any other result (final),
    // and a re-run whose digest differs from the first (error: nondeterminism).
    let update = "UPDATE runs SET \
        status = CASE WHEN first_digest IS NOT NULL AND first_digest <> $2 THEN 'error' \
                      WHEN first_digest IS NULL AND $1 IN ('failed', 'timeout') THEN 'queued' ELSE $1 END, \
        reason = CASE WHEN first_digest IS NOT NULL AND first_digest <> $2 \
                      THEN 'nondeterminism: the re-run gave digest ' || $2 || ', the first run ' || first_digest || ' (a farm bug)' \
                      WHEN first_digest IS NULL AND $1 IN ('failed', 'timeout') THEN NULL ELSE $3 END, \
        nondeterministic = (first_digest IS NOT NULL AND first_digest <> $2), \
        result = CASE WHEN first_digest IS NULL AND $1 IN ('failed', 'timeout') THEN NULL ELSE $4 END, \
        digest = CASE WHEN first_digest IS NULL AND $1 IN ('failed', 'timeout') THEN NULL ELSE NULLIF($2, '') END, \
        finished_at = CASE WHEN first_digest IS NULL AND $1 IN ('failed', 'timeout') THEN NULL ELSE $5 END, \
        avoid_worker = CASE WHEN first_digest IS NULL AND $1 IN ('failed', 'timeout') THEN $7 ELSE avoid_worker END, \
        first_digest = CASE WHEN first_digest IS NULL AND $1 IN ('failed', 'timeout') THEN $2 ELSE first_digest END, \
        lease_owner = NULL, lease_expires_at = NULL \
        WHERE id = $6 AND lease_owner = $7 AND attempt = $8 AND status = 'running' RETURNING status, nondeterministic";
    let trace =
        "INSERT INTO traces (run_id, body) VALUES ($1, $2) ON CONFLICT (run_id) DO UPDATE SET body = excluded.body";
    let results = items
        .iter()
        .map(|(_, o)| o.result.as_ref().map(|r| to_json("runs.result", r)).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    on_pool!(store, pool => {
        let mut tx = pool.begin().await?;
        let mut done = Vec::with_capacity(items.len());
        for ((claim, outcome), result) in items.iter().zip(&results) {
            let row = sqlx::query(update)
                .bind(outcome.status.as_str())
                .bind(outcome.digest.as_deref().unwrap_or(""))
                .bind(&outcome.reason)
                .bind(result)
                .bind(now)
                .bind(claim.run_id.as_str())
                .bind(worker)
                .bind(claim.attempt)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                done.push(Completion::LeaseLost);
                continue;
            };
            let status = status_of(&row.try_get::<String, _>("status")?)?;
            let nondeterministic: bool = row.try_get("nondeterministic")?;
            if status == RunStatus::Queued {
                done.push(Completion::Confirming);
                continue;
            }
            if let Some(body) = &outcome.trace {
                sqlx::query(trace).bind(claim.run_id.as_str()).bind(body).execute(&mut *tx).await?;
            }
            done.push(if nondeterministic { Completion::Nondeterministic } else { Completion::Recorded });
        }
        tx.commit().await?;
        Ok(done)
    })
}

/// Returns every run `worker` holds to the queue without counting an attempt (graceful shutdown).
pub async fn release(store: &Store, worker: &str) -> Result<u64, StoreError> {
    let sql = "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1 AND status = 'running'";
    on_pool!(store, pool => Ok(sqlx::query(sql).bind(worker).execute(pool).await?.rows_affected()))
}

/// Re-queues runs whose lease expired before `now` with attempt + 1; a run that has used
/// `max_attempts` becomes `error` with the reason.
pub async fn rescue(store: &Store, now: i64, max_attempts: i32) -> Result<Rescued, StoreError> {
    let exhaust = "UPDATE runs SET status = 'error', attempt = attempt + 1, lease_owner = NULL, lease_expires_at = NULL, finished_at = $1, \
                   reason = 'infrastructure: the worker holding this run stopped answering ' || CAST(attempt + 1 AS TEXT) || ' times' \
                   WHERE status = 'running' AND lease_expires_at < $1 AND attempt + 1 >= $2";
    let requeue =
        "UPDATE runs SET status = 'queued', attempt = attempt + 1, lease_owner = NULL, lease_expires_at = NULL \
                   WHERE status = 'running' AND lease_expires_at < $1";
    on_pool!(store, pool => {
        let mut tx = pool.begin().await?;
        let exhausted = sqlx::query(exhaust).bind(now).bind(max_attempts).execute(&mut *tx).await?.rows_affected();
        let requeued = sqlx::query(requeue).bind(now).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(Rescued { requeued, exhausted })
    })
}

/// Status, attempt and owner of one run (for tests and the API).
pub async fn run_state(store: &Store, run_id: &RunId) -> Result<Option<(RunStatus, i32, Option<String>)>, StoreError> {
    let sql = "SELECT status, attempt, lease_owner FROM runs WHERE id = $1";
    let raw: Option<(String, i32, Option<String>)> = on_pool!(store, pool => {
        match sqlx::query(sql).bind(run_id.as_str()).fetch_optional(pool).await? {
            Some(r) => Some((r.try_get("status")?, r.try_get("attempt")?, r.try_get("lease_owner")?)),
            None => None,
        }
    });
    raw.map(|(s, a, o)| Ok((status_of(&s)?, a, o))).transpose()
}
