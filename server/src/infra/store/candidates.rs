//! Candidates and their runs: posting a candidate is idempotent (by `Idempotency-Key`, or by name and
//! configuration hash), and so is enqueueing its variants, in one transaction: a retried POST or a
//! restart in the middle of expansion never duplicates or loses a run.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{on_pool, Store, StoreError};

/// What a new candidate carries.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCandidate {
    /// Name, e.g. `stack-2.4.0-rc1`.
    pub name: String,
    /// Git commit of the stack, if known.
    pub git_sha: Option<String>,
    /// The stack configuration override as canonical JSON.
    pub stack_config: String,
    /// SHA-256 of `stack_config`.
    pub config_hash: String,
    /// The selected suite as JSON.
    pub suite: String,
    /// Baseline candidate name.
    pub baseline: Option<String>,
    /// Client-chosen key that makes retries safe.
    pub idempotency_key: Option<String>,
}

/// A stored candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Id (UUID).
    pub id: String,
    /// Name.
    pub name: String,
    /// Configuration hash.
    pub config_hash: String,
    /// Whether every run has been enqueued.
    pub expanded: bool,
    /// Runs enqueued.
    pub runs_total: i64,
    /// Creation time, ms.
    pub created_at: i64,
    /// Git commit of the stack.
    pub git_sha: Option<String>,
    /// Baseline candidate name.
    pub baseline: Option<String>,
    /// The selected suite, JSON.
    pub suite: String,
}

/// One scenario version a run refers to.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioVersion {
    /// Content hash (hex).
    pub content_hash: String,
    /// Scenario id.
    pub scenario_id: String,
    /// File it came from.
    pub file: String,
    /// Full text.
    pub body: String,
}

/// One run to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    /// Variant key.
    pub variant_key: String,
    /// Scenario id.
    pub scenario_id: String,
    /// Content hash of the scenario version.
    pub content_hash: String,
    /// Position in the candidate's expansion order.
    pub ord: i64,
    /// Tags as a JSON array.
    pub tags: String,
    /// ODD coverage cell as a JSON object.
    pub cell: String,
}

/// Decodes a candidate row (a macro: each dialect has its own row type).
macro_rules! candidate_from {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, StoreError>(Candidate {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            config_hash: row.try_get("config_hash")?,
            expanded: row.try_get("expanded")?,
            runs_total: row.try_get("runs_total")?,
            created_at: row.try_get("created_at")?,
            git_sha: row.try_get("git_sha")?,
            baseline: row.try_get("baseline")?,
            suite: row.try_get("suite")?,
        })
    }};
}

const CANDIDATE_COLUMNS: &str = "id, name, config_hash, expanded, runs_total, created_at, git_sha, baseline, suite";

/// Creates the candidate, or returns the existing one with the same idempotency key (or, without a
/// key, the same name and configuration hash). The flag says whether it was created now.
pub async fn create(store: &Store, new: &NewCandidate, id: &str, now: i64) -> Result<(Candidate, bool), StoreError> {
    let insert = "INSERT INTO candidates (id, name, git_sha, config_hash, stack_config, suite, baseline, idempotency_key, created_at) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING";
    let find = format!(
        "SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE ($1 IS NOT NULL AND idempotency_key = $1) OR ($1 IS NULL AND name = $2 AND config_hash = $3)"
    );
    on_pool!(store, pool => {
        let inserted = sqlx::query(insert)
            .bind(id)
            .bind(&new.name)
            .bind(&new.git_sha)
            .bind(&new.config_hash)
            .bind(&new.stack_config)
            .bind(&new.suite)
            .bind(&new.baseline)
            .bind(&new.idempotency_key)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
        let row = sqlx::query(&find).bind(&new.idempotency_key).bind(&new.name).bind(&new.config_hash).fetch_optional(pool).await?;
        match row {
            Some(row) => Ok((candidate_from!(&row)?, inserted == 1)),
            // The conflict was on the other unique constraint (same name and config under a new key).
            None => {
                let row = sqlx::query(&format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE name = $1 AND config_hash = $2"))
                    .bind(&new.name)
                    .bind(&new.config_hash)
                    .fetch_one(pool)
                    .await?;
                Ok((candidate_from!(&row)?, false))
            }
        }
    })
}

/// A candidate by id.
pub async fn get(store: &Store, id: &str) -> Result<Option<Candidate>, StoreError> {
    let sql = format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE id = $1");
    on_pool!(store, pool => {
        match sqlx::query(&sql).bind(id).fetch_optional(pool).await? {
            Some(row) => Ok(Some(candidate_from!(&row)?)),
            None => Ok(None),
        }
    })
}

/// The newest candidates first, at most `limit`.
pub async fn list(store: &Store, limit: i64) -> Result<Vec<Candidate>, StoreError> {
    let sql = format!("SELECT {CANDIDATE_COLUMNS} FROM candidates ORDER BY created_at DESC, id LIMIT $1");
    on_pool!(store, pool => {
        let rows = sqlx::query(&sql).bind(limit).fetch_all(pool).await?;
        rows.iter().map(|row| candidate_from!(row)).collect()
    })
}

/// The newest candidate with this name.
pub async fn by_name(store: &Store, name: &str) -> Result<Option<Candidate>, StoreError> {
    let sql = format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE name = $1 ORDER BY created_at DESC LIMIT 1");
    on_pool!(store, pool => match sqlx::query(&sql).bind(name).fetch_optional(pool).await? {
        Some(row) => Ok(Some(candidate_from!(&row)?)),
        None => Ok(None),
    })
}

/// Candidates whose expansion has not finished (a restart resumes them).
pub async fn unexpanded(store: &Store) -> Result<Vec<Candidate>, StoreError> {
    let sql = format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE expanded = FALSE ORDER BY created_at, id");
    on_pool!(store, pool => {
        let rows = sqlx::query(&sql).fetch_all(pool).await?;
        rows.iter().map(|row| candidate_from!(row)).collect()
    })
}

/// Rows per multi-row INSERT.
const BATCH: usize = 200;

/// Enqueues the candidate's runs and the scenario versions they need, in one transaction; runs that
/// already exist are left alone. Marks the candidate expanded. Returns how many runs were new.
pub async fn enqueue(
    store: &Store,
    candidate_id: &str,
    scenarios: &[ScenarioVersion],
    runs: &[PlannedRun],
    now: i64,
) -> Result<u64, StoreError> {
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
        for chunk in runs.chunks(BATCH) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO runs (id, candidate_id, variant_key, scenario_id, content_hash, ord, tags, cell, enqueued_at) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(uuid::Uuid::new_v4().to_string())
                    .push_bind(candidate_id)
                    .push_bind(&r.variant_key)
                    .push_bind(&r.scenario_id)
                    .push_bind(&r.content_hash)
                    .push_bind(r.ord)
                    .push_bind(&r.tags)
                    .push_bind(&r.cell)
                    .push_bind(now);
            });
            q.push(" ON CONFLICT (candidate_id, variant_key) DO NOTHING");
            inserted += q.build().execute(&mut *tx).await?.rows_affected();
        }
        sqlx::query("UPDATE candidates SET expanded = TRUE, runs_total = (SELECT COUNT(*) FROM runs WHERE candidate_id = $1) WHERE id = $1")
            .bind(candidate_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(inserted)
    })
}

/// Runs of a candidate by status.
pub async fn status_counts(store: &Store, candidate_id: &str) -> Result<BTreeMap<String, i64>, StoreError> {
    let sql = "SELECT status, COUNT(*) AS n FROM runs WHERE candidate_id = $1 GROUP BY status";
    on_pool!(store, pool => {
        let rows = sqlx::query(sql).bind(candidate_id).fetch_all(pool).await?;
        let mut out = BTreeMap::new();
        for r in rows {
            out.insert(r.try_get::<String, _>("status")?, r.try_get::<i64, _>("n")?);
        }
        Ok(out)
    })
}
