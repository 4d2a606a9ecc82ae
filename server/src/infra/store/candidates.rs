//! Candidates and their runs: posting a candidate is idempotent (by `Idempotency-Key`, or by name and
//! configuration hash), and so is enqueueing its variants, in one transaction: a retried POST or a
//! restart in the middle of expansion never duplicates or loses a run. A candidate's gate verdict is
//! stored once, when its last run finishes.

use std::collections::BTreeMap;

use sqlx::Row;

use autonomy_stack::StackConfig;

use super::runs::status_of;
use super::{from_json, on_pool, to_json, Store, StoreError};
use crate::domain::candidate::{Candidate, NewCandidate};
use crate::domain::gate::Gate;
use crate::domain::ids::{CandidateId, RunId};
use crate::domain::run::{PlannedRun, RunStatus, ScenarioVersion};

/// The columns of a candidate row, as read.
struct RawCandidate {
    id: String,
    name: String,
    config_hash: String,
    expanded: bool,
    runs_total: i64,
    created_at: i64,
    git_sha: Option<String>,
    baseline: Option<String>,
    suite: String,
    gate: Option<String>,
}

/// Reads a candidate row (a macro: each dialect has its own row type).
macro_rules! raw_candidate {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, StoreError>(RawCandidate {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            config_hash: row.try_get("config_hash")?,
            expanded: row.try_get("expanded")?,
            runs_total: row.try_get("runs_total")?,
            created_at: row.try_get("created_at")?,
            git_sha: row.try_get("git_sha")?,
            baseline: row.try_get("baseline")?,
            suite: row.try_get("suite")?,
            gate: row.try_get("gate")?,
        })
    }};
}

impl RawCandidate {
    /// The one place a stored candidate becomes a [`Candidate`]; a suite or gate that does not parse
    /// is an error, never "the whole catalog" or "no verdict".
    fn decode(self) -> Result<Candidate, StoreError> {
        Ok(Candidate {
            id: CandidateId::parse(&self.id).map_err(|e| StoreError::corrupt("candidates.id", e))?,
            name: self.name,
            config_hash: self.config_hash,
            expanded: self.expanded,
            runs_total: self.runs_total,
            created_at: self.created_at,
            git_sha: self.git_sha,
            baseline: self.baseline,
            suite: from_json("candidates.suite", &self.suite)?,
            gate: self.gate.as_deref().map(|g| from_json::<Gate>("candidates.gate", g)).transpose()?,
        })
    }
}

const CANDIDATE_COLUMNS: &str =
    "id, name, config_hash, expanded, runs_total, created_at, git_sha, baseline, suite, gate";

/// Creates the candidate, or returns the existing one with the same idempotency key (or, without a
/// key, the same name and configuration hash). The flag says whether it was created now.
pub async fn create(
    store: &Store,
    new: &NewCandidate,
    id: &CandidateId,
    now: i64,
) -> Result<(Candidate, bool), StoreError> {
    let insert = "INSERT INTO candidates (id, name, git_sha, config_hash, stack_config, suite, baseline, idempotency_key, created_at, traceparent) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";
    let find = format!(
        "SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE ($1 IS NOT NULL AND idempotency_key = $1) OR ($1 IS NULL AND name = $2 AND config_hash = $3)"
    );
    let by_name_and_config = format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE name = $1 AND config_hash = $2");
    let stack_config = to_json("candidates.stack_config", &new.stack_config)?;
    let suite = to_json("candidates.suite", &new.suite)?;
    let (raw, inserted) = on_pool!(store, pool => {
        let inserted = sqlx::query(insert)
            .bind(id.as_str())
            .bind(&new.name)
            .bind(&new.git_sha)
            .bind(&new.config_hash)
            .bind(&stack_config)
            .bind(&suite)
            .bind(&new.baseline)
            .bind(&new.idempotency_key)
            .bind(now)
            .bind(&new.traceparent)
            .execute(pool)
            .await?
            .rows_affected();
        let row = sqlx::query(&find).bind(&new.idempotency_key).bind(&new.name).bind(&new.config_hash).fetch_optional(pool).await?;
        match row {
            Some(row) => (raw_candidate!(&row)?, inserted == 1),
            // The conflict was on the other unique constraint (same name and config under a new key).
            None => {
                let row = sqlx::query(&by_name_and_config).bind(&new.name).bind(&new.config_hash).fetch_one(pool).await?;
                (raw_candidate!(&row)?, false)
            }
        }
    });
    Ok((raw.decode()?, inserted))
}

/// A candidate by id.
pub async fn get(store: &Store, id: &CandidateId) -> Result<Option<Candidate>, StoreError> {
    let sql = format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE id = $1");
    let raw = on_pool!(store, pool => match sqlx::query(&sql).bind(id.as_str()).fetch_optional(pool).await? {
        Some(row) => Some(raw_candidate!(&row)?),
        None => None,
    });
    raw.map(RawCandidate::decode).transpose()
}

/// The newest candidates first, at most `limit`.
pub async fn list(store: &Store, limit: i64) -> Result<Vec<Candidate>, StoreError> {
    let sql = format!("SELECT {CANDIDATE_COLUMNS} FROM candidates ORDER BY created_at DESC, id LIMIT $1");
    let raws = on_pool!(store, pool => {
        let rows = sqlx::query(&sql).bind(limit).fetch_all(pool).await?;
        rows.iter().map(|row| raw_candidate!(row)).collect::<Result<Vec<_>, _>>()?
    });
    raws.into_iter().map(RawCandidate::decode).collect()
}

/// The newest candidate with this name.
pub async fn by_name(store: &Store, name: &str) -> Result<Option<Candidate>, StoreError> {
    let sql =
        format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE name = $1 ORDER BY created_at DESC, id LIMIT 1");
    let raw = on_pool!(store, pool => match sqlx::query(&sql).bind(name).fetch_optional(pool).await? {
        Some(row) => Some(raw_candidate!(&row)?),
        None => None,
    });
    raw.map(RawCandidate::decode).transpose()
}

/// The newest candidate created before `before` (ms) whose stored gate passed: the default baseline.
/// One indexed query (`candidates_passed`).
pub async fn last_passed_before(
    store: &Store,
    before: i64,
    except: &CandidateId,
) -> Result<Option<Candidate>, StoreError> {
    let sql = format!(
        "SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE gate_passed = TRUE AND created_at <= $1 AND id <> $2 \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    );
    let raw = on_pool!(store, pool => match sqlx::query(&sql).bind(before).bind(except.as_str()).fetch_optional(pool).await? {
        Some(row) => Some(raw_candidate!(&row)?),
        None => None,
    });
    raw.map(RawCandidate::decode).transpose()
}

/// Candidates whose expansion has not finished (a restart resumes them).
pub async fn unexpanded(store: &Store) -> Result<Vec<Candidate>, StoreError> {
    let sql = format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE expanded = FALSE ORDER BY created_at, id");
    let raws = on_pool!(store, pool => {
        let rows = sqlx::query(&sql).fetch_all(pool).await?;
        rows.iter().map(|row| raw_candidate!(row)).collect::<Result<Vec<_>, _>>()?
    });
    raws.into_iter().map(RawCandidate::decode).collect()
}

/// Expanded candidates without a stored gate verdict none of whose runs is queued or running: their
/// verdict is due.
pub async fn finished_without_gate(store: &Store) -> Result<Vec<Candidate>, StoreError> {
    let sql = format!(
        "SELECT {CANDIDATE_COLUMNS} FROM candidates c WHERE c.expanded = TRUE AND c.gate IS NULL \
         AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.candidate_id = c.id AND r.status IN ('queued', 'running')) \
         ORDER BY c.created_at, c.id"
    );
    let raws = on_pool!(store, pool => {
        let rows = sqlx::query(&sql).fetch_all(pool).await?;
        rows.iter().map(|row| raw_candidate!(row)).collect::<Result<Vec<_>, _>>()?
    });
    raws.into_iter().map(RawCandidate::decode).collect()
}

/// Stores a finished candidate's gate verdict, unless one is stored already (the first verdict
/// stands). Returns whether this call stored it.
pub async fn record_gate(store: &Store, id: &CandidateId, gate: &Gate, now: i64) -> Result<bool, StoreError> {
    let sql = "UPDATE candidates SET gate = $1, gate_passed = $2, finished_at = $3 WHERE id = $4 AND gate IS NULL";
    let body = to_json("candidates.gate", gate)?;
    on_pool!(store, pool => Ok(sqlx::query(sql).bind(body).bind(gate.passed()).bind(now).bind(id.as_str()).execute(pool).await?.rows_affected() == 1))
}

/// A candidate's effective stack configuration.
pub async fn stack_config(store: &Store, id: &CandidateId) -> Result<Option<StackConfig>, StoreError> {
    let text: Option<String> = on_pool!(store, pool => match sqlx::query("SELECT stack_config FROM candidates WHERE id = $1").bind(id.as_str()).fetch_optional(pool).await? {
        Some(r) => Some(r.try_get("stack_config")?),
        None => None,
    });
    text.map(|t| from_json("candidates.stack_config", &t)).transpose()
}

/// Rows per multi-row INSERT.
const BATCH: usize = 200;

/// Enqueues the candidate's runs and the scenario versions they need, in one transaction; runs that
/// already exist are left alone. Marks the candidate expanded. Returns how many runs were new.
pub async fn enqueue(
    store: &Store,
    candidate_id: &CandidateId,
    scenarios: &[ScenarioVersion],
    runs: &[PlannedRun],
    now: i64,
) -> Result<u64, StoreError> {
    let encoded: Vec<(String, String)> = runs
        .iter()
        .map(|r| Ok((to_json("runs.tags", &r.tags)?, to_json("runs.cell", &r.cell)?)))
        .collect::<Result<_, StoreError>>()?;
    on_pool!(store, pool => {
        let mut tx = pool.begin().await?;
        for s in scenarios {
            sqlx::query(
                "INSERT INTO scenarios (content_hash, scenario_id, file, body, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(&s.content_hash)
            .bind(&s.scenario_id)
            .bind(&s.file)
            .bind(&s.body)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let mut inserted = 0;
        for (chunk, encoded) in runs.chunks(BATCH).zip(encoded.chunks(BATCH)) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO runs (id, candidate_id, variant_key, scenario_id, content_hash, ord, tags, cell, enqueued_at) ",
            );
            q.push_values(chunk.iter().zip(encoded), |mut b, (r, (tags, cell))| {
                b.push_bind(RunId::random().to_string())
                    .push_bind(candidate_id.as_str())
                    .push_bind(r.variant_key.to_string())
                    .push_bind(&r.scenario_id)
                    .push_bind(&r.content_hash)
                    .push_bind(r.ord)
                    .push_bind(tags)
                    .push_bind(cell)
                    .push_bind(now);
            });
            q.push(" ON CONFLICT DO NOTHING");
            inserted += q.build().execute(&mut *tx).await?.rows_affected();
        }
        sqlx::query("UPDATE candidates SET expanded = TRUE, runs_total = (SELECT COUNT(*) FROM runs WHERE candidate_id = $1) WHERE id = $1")
            .bind(candidate_id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(inserted)
    })
}

/// Runs of a candidate by status.
pub async fn status_counts(store: &Store, candidate_id: &CandidateId) -> Result<BTreeMap<RunStatus, i64>, StoreError> {
    let sql = "SELECT status, COUNT(*) AS n FROM runs WHERE candidate_id = $1 GROUP BY status";
    let rows: Vec<(String, i64)> = on_pool!(store, pool => {
        let rows = sqlx::query(sql).bind(candidate_id.as_str()).fetch_all(pool).await?;
        rows.iter().map(|r| Ok::<_, StoreError>((r.try_get("status")?, r.try_get("n")?))).collect::<Result<Vec<_>, _>>()?
    });
    rows.into_iter().map(|(s, n)| Ok((status_of(&s)?, n))).collect()
}

/// Newest first, at most `limit`, whose name contains `name` (case-insensitive), strictly older than
/// the `before` cursor (creation time, id) of the previous page: keyset pagination on
/// `(created_at, id)`, so a deep page costs what the first one does.
pub async fn page(
    store: &Store,
    name: Option<&str>,
    before: Option<(i64, &CandidateId)>,
    limit: i64,
) -> Result<Vec<Candidate>, StoreError> {
    let sql = format!(
        "SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE ($1 IS NULL OR LOWER(name) LIKE $1) \
         AND ($2 IS NULL OR created_at < $2 OR (created_at = $2 AND id > $3)) \
         ORDER BY created_at DESC, id LIMIT $4"
    );
    let pattern = name.map(|n| format!("%{}%", n.to_lowercase().replace(['%', '_', '\\'], "")));
    let (at, after_id) = before.map_or((None, String::new()), |(t, id)| (Some(t), id.as_str().to_owned()));
    let raws = on_pool!(store, pool => {
        let rows = sqlx::query(&sql).bind(&pattern).bind(at).bind(&after_id).bind(limit).fetch_all(pool).await?;
        rows.iter().map(|row| raw_candidate!(row)).collect::<Result<Vec<_>, _>>()?
    });
    raws.into_iter().map(RawCandidate::decode).collect()
}
