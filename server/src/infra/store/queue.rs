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
///
/// Postgres: a run whose row is locked at that moment (its result being written, or the rescuer
/// taking it) is skipped rather than waited for. The worker's own batch write locks its rows in
/// its own order; a heartbeat that waited for them while holding others could deadlock with it
/// (seen after outages: "deadlock detected", a second lost each time). A run being written needs
/// no longer lease, and the next heartbeat extends one whose write failed.
pub async fn heartbeat(store: &Store, worker: &str, now: i64, lease_ms: i64) -> Result<Vec<RunId>, StoreError> {
    let held = "lease_owner = $2 AND status = 'running' AND lease_expires_at >= $3";
    let ids: Vec<String> = match store {
        Store::Postgres(pool) => {
            let sql = format!(
                "UPDATE runs SET lease_expires_at = $1 \
                 WHERE id IN (SELECT id FROM runs WHERE {held} FOR UPDATE SKIP LOCKED) RETURNING id"
            );
            let rows = sqlx::query(&sql).bind(now + lease_ms).bind(worker).bind(now).fetch_all(pool).await?;
            rows.iter().map(|r| r.try_get::<String, _>("id")).collect::<Result<Vec<_>, _>>()?
        }
        Store::Sqlite(pool) => {
            let sql = format!("UPDATE runs SET lease_expires_at = $1 WHERE {held} RETURNING id");
            let rows = sqlx::query(&sql).bind(now + lease_ms).bind(worker).bind(now).fetch_all(pool).await?;
            rows.iter().map(|r| r.try_get::<String, _>("id")).collect::<Result<Vec<_>, _>>()?
        }
    };
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

/// Writes several outcomes, each guarded by its lease exactly like [`complete`]; a lost lease skips
/// that run only. The answer has one slot per item, in order.
///
/// A batch may hold what a worker kept through an outage: results of attempts whose lease was lost
/// meanwhile, beside results of the same runs claimed again (the same run twice, one slot per
/// attempt). The guard takes the current attempt only, and each run's trace is the trace of the
/// item the guard took, never a stale attempt's. Writing a batch again (its answer was lost) changes
/// nothing: every slot then reads `LeaseLost`.
///
/// Postgres: one statement for the whole batch (the outcomes as arrays, `UNNEST`ed with their slot
/// and joined to their rows; traces inserted by the same statement from the rows it took), so a
/// batch costs one round trip and one commit. SQLite: one guarded update per item inside one
/// transaction (one writer, no network: the commit is what costs).
pub async fn complete_batch(
    store: &Store,
    worker: &str,
    items: &[(&Claim, &Outcome)],
    now: i64,
) -> Result<Vec<Completion>, StoreError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let results = items
        .iter()
        .map(|(_, o)| o.result.as_ref().map(|r| to_json("runs.result", r)).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    // (slot, status, nondeterministic) of each item the guard took.
    let taken: Vec<(i64, String, bool)> = match store {
        Store::Postgres(pool) => {
            let ids: Vec<&str> = items.iter().map(|(c, _)| c.run_id.as_str()).collect();
            let attempts: Vec<i32> = items.iter().map(|(c, _)| c.attempt).collect();
            let statuses: Vec<&str> = items.iter().map(|(_, o)| o.status.as_str()).collect();
            let digests: Vec<&str> = items.iter().map(|(_, o)| o.digest.as_deref().unwrap_or("")).collect();
            let reasons: Vec<Option<&str>> = items.iter().map(|(_, o)| o.reason.as_deref()).collect();
            let traces: Vec<Option<&[u8]>> = items.iter().map(|(_, o)| o.trace.as_deref()).collect();
            // The update joins each row to at most one item (the guard quotes the attempt; were the
            // same claim given twice, Postgres takes one of them), and returns that item's slot and
            // trace: the trace insert sees each run once, so it never conflicts with itself.
            let sql = format!(
                "WITH v AS (SELECT * FROM UNNEST($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::text[], $9::bytea[]) \
                            WITH ORDINALITY AS v(id, attempt, outcome, digest, reason, result, trace, slot)), \
                 done AS (UPDATE runs r SET {SET} FROM v \
                          WHERE r.id = v.id AND r.lease_owner = $7 AND r.attempt = v.attempt AND r.status = 'running' \
                          RETURNING r.id, v.slot, v.trace, r.status, r.nondeterministic), \
                 traced AS (INSERT INTO traces (run_id, body) \
                            SELECT id, trace FROM done WHERE status <> 'queued' AND trace IS NOT NULL \
                            ON CONFLICT (run_id) DO UPDATE SET body = excluded.body) \
                 SELECT slot, status, nondeterministic FROM done",
                SET = set_outcome("v.outcome", "v.digest", "v.reason", "v.result", "$8", "$7"),
            );
            let rows = sqlx::query(&sql)
                .bind(&ids)
                .bind(&attempts)
                .bind(&statuses)
                .bind(&digests)
                .bind(&reasons)
                .bind(&results)
                .bind(worker)
                .bind(now)
                .bind(&traces)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<i64, _>("slot")? - 1, r.try_get("status")?, r.try_get("nondeterministic")?)))
                .collect::<Result<_, sqlx::Error>>()?
        }
        Store::Sqlite(pool) => {
            let update = format!(
                "UPDATE runs SET {SET} WHERE id = $6 AND lease_owner = $7 AND attempt = $8 AND status = 'running' \
                 RETURNING status, nondeterministic",
                SET = set_outcome("$1", "$2", "$3", "$4", "$5", "$7"),
            );
            let trace = "INSERT INTO traces (run_id, body) VALUES ($1, $2) \
                         ON CONFLICT (run_id) DO UPDATE SET body = excluded.body";
            let mut tx = pool.begin().await?;
            let mut taken = Vec::with_capacity(items.len());
            for (slot, ((claim, outcome), result)) in items.iter().zip(&results).enumerate() {
                let row = sqlx::query(&update)
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
                let Some(row) = row else { continue };
                let status: String = row.try_get("status")?;
                if let (Some(body), true) = (&outcome.trace, status != "queued") {
                    sqlx::query(trace).bind(claim.run_id.as_str()).bind(body).execute(&mut *tx).await?;
                }
                taken.push((slot as i64, status, row.try_get("nondeterministic")?));
            }
            tx.commit().await?;
            taken
        }
    };
    let mut done = vec![Completion::LeaseLost; items.len()];
    for (slot, status, nondeterministic) in taken {
        let slot = usize::try_from(slot)
            .ok()
            .and_then(|i| done.get_mut(i))
            .ok_or_else(|| StoreError::corrupt("runs (result write)", format!("slot {slot} of {}", items.len())))?;
        *slot = if status_of(&status)? == RunStatus::Queued {
            Completion::Confirming
        } else if nondeterministic {
            Completion::Nondeterministic
        } else {
            Completion::Recorded
        };
    }
    Ok(done)
}

/// The `SET` list of a guarded result write, from the row's own columns and the outcome's values
/// (SQL expressions): a first failure goes back to the queue with its digest kept and this worker
/// avoided; a confirmed failure or any other result is final; a re-run whose digest differs from
/// the first is `error` (nondeterminism). Every expression reads the row as it was before the write.
fn set_outcome(outcome: &str, digest: &str, reason: &str, result: &str, now: &str, worker: &str) -> String {
    let first_failure = format!("first_digest IS NULL AND {outcome} IN ('failed', 'timeout')");
    let differs = format!("first_digest IS NOT NULL AND first_digest <> {digest}");
    format!(
        "status = CASE WHEN {differs} THEN 'error' WHEN {first_failure} THEN 'queued' ELSE {outcome} END, \
         reason = CASE WHEN {differs} \
                  THEN 'nondeterminism: the re-run gave digest ' || {digest} || ', the first run ' || first_digest || ' (a farm bug)' \
                  WHEN {first_failure} THEN NULL ELSE {reason} END, \
         nondeterministic = ({differs}), \
         result = CASE WHEN {first_failure} THEN NULL ELSE {result} END, \
         digest = CASE WHEN {first_failure} THEN NULL ELSE NULLIF({digest}, '') END, \
         finished_at = CASE WHEN {first_failure} THEN NULL ELSE {now} END, \
         avoid_worker = CASE WHEN {first_failure} THEN {worker} ELSE avoid_worker END, \
         first_digest = CASE WHEN {first_failure} THEN {digest} ELSE first_digest END, \
         lease_owner = NULL, lease_expires_at = NULL"
    )
}

/// Returns every run `worker` holds to the queue without counting an attempt (graceful shutdown).
pub async fn release(store: &Store, worker: &str) -> Result<u64, StoreError> {
    let sql = "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1 AND status = 'running'";
    on_pool!(store, pool => Ok(sqlx::query(sql).bind(worker).execute(pool).await?.rows_affected()))
}

/// Re-queues runs whose lease expired before `now` with attempt + 1; a run that has used
/// `max_attempts` becomes `error` with the reason.
///
/// Postgres: a run whose row is locked at that moment (its worker's late result write) is left
/// for the next pass rather than waited for, so the rescuer never deadlocks with a batch write
/// (each locks rows in its own order); the write decides that run, or the next pass re-queues it.
pub async fn rescue(store: &Store, now: i64, max_attempts: i32) -> Result<Rescued, StoreError> {
    let (exhausted_rows, expired_rows) = match store {
        Store::Postgres(_) => (
            "id IN (SELECT id FROM runs WHERE status = 'running' AND lease_expires_at < $1 AND attempt + 1 >= $2 FOR UPDATE SKIP LOCKED)",
            "id IN (SELECT id FROM runs WHERE status = 'running' AND lease_expires_at < $1 FOR UPDATE SKIP LOCKED)",
        ),
        Store::Sqlite(_) => (
            "status = 'running' AND lease_expires_at < $1 AND attempt + 1 >= $2",
            "status = 'running' AND lease_expires_at < $1",
        ),
    };
    let exhaust = format!(
        "UPDATE runs SET status = 'error', attempt = attempt + 1, lease_owner = NULL, lease_expires_at = NULL, finished_at = $1, \
         reason = 'infrastructure: the worker holding this run stopped answering ' || CAST(attempt + 1 AS TEXT) || ' times' \
         WHERE {exhausted_rows}"
    );
    let requeue = format!(
        "UPDATE runs SET status = 'queued', attempt = attempt + 1, lease_owner = NULL, lease_expires_at = NULL WHERE {expired_rows}"
    );
    let (exhaust, requeue) = (exhaust.as_str(), requeue.as_str());
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
