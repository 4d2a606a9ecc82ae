//! Reading runs back: one run, a candidate's runs filtered and paginated (indexed by candidate,
//! status and order), all results of a candidate for its statistics, traces and scenario versions.

use sqlx::Row;

use super::{on_pool, Store, StoreError};

/// One run as browsing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Run id.
    pub id: String,
    /// Candidate id.
    pub candidate_id: String,
    /// Variant key.
    pub variant_key: String,
    /// Scenario id.
    pub scenario_id: String,
    /// Scenario version.
    pub content_hash: String,
    /// Queue position within the candidate.
    pub ord: i64,
    /// Tags, JSON array.
    pub tags: String,
    /// Status.
    pub status: String,
    /// Attempts used.
    pub attempt: i32,
    /// Trace digest.
    pub digest: Option<String>,
    /// Why it did not pass.
    pub reason: Option<String>,
    /// Full result, JSON.
    pub result: Option<String>,
    /// ODD coverage cell, JSON object.
    pub cell: String,
}

const COLUMNS: &str =
    "id, candidate_id, variant_key, scenario_id, content_hash, ord, tags, status, attempt, digest, reason, result, cell";

macro_rules! run_from {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, StoreError>(RunRow {
            id: r.try_get("id")?,
            candidate_id: r.try_get("candidate_id")?,
            variant_key: r.try_get("variant_key")?,
            scenario_id: r.try_get("scenario_id")?,
            content_hash: r.try_get("content_hash")?,
            ord: r.try_get("ord")?,
            tags: r.try_get("tags")?,
            status: r.try_get("status")?,
            attempt: r.try_get("attempt")?,
            digest: r.try_get("digest")?,
            reason: r.try_get("reason")?,
            result: r.try_get("result")?,
            cell: r.try_get("cell")?,
        })
    }};
}

/// Filters for a candidate's runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only runs whose scenario has this tag.
    pub tag: Option<String>,
    /// Only this scenario.
    pub scenario: Option<String>,
    /// Only runs after this position (the previous page's cursor).
    pub after: Option<i64>,
    /// Page size.
    pub limit: i64,
}

/// One run.
pub async fn get(store: &Store, id: &str) -> Result<Option<RunRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM runs WHERE id = $1");
    on_pool!(store, pool => match sqlx::query(&sql).bind(id).fetch_optional(pool).await? {
        Some(r) => Ok(Some(run_from!(&r)?)),
        None => Ok(None),
    })
}

/// A page of a candidate's runs in queue order.
pub async fn list(store: &Store, candidate_id: &str, f: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM runs WHERE candidate_id = $1 AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR scenario_id = $3) \
         AND ($4 IS NULL OR tags LIKE $4) AND ord > $5 ORDER BY ord LIMIT $6"
    );
    // Tags are stored as a JSON array of strings; a quoted match finds whole tags only.
    let tag = f.tag.as_ref().map(|t| format!("%\"{}\"%", t.replace(['%', '_', '"'], "")));
    on_pool!(store, pool => {
        let rows = sqlx::query(&sql)
            .bind(candidate_id)
            .bind(&f.status)
            .bind(&f.scenario)
            .bind(tag)
            .bind(f.after.unwrap_or(-1))
            .bind(f.limit)
            .fetch_all(pool)
            .await?;
        rows.iter().map(|r| run_from!(r)).collect()
    })
}

/// Every run of a candidate (for statistics, JUnit and the gate).
pub async fn all(store: &Store, candidate_id: &str) -> Result<Vec<RunRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM runs WHERE candidate_id = $1 ORDER BY ord");
    on_pool!(store, pool => {
        let rows = sqlx::query(&sql).bind(candidate_id).fetch_all(pool).await?;
        rows.iter().map(|r| run_from!(r)).collect()
    })
}

/// The stored trace of a run, if one was kept.
pub async fn trace(store: &Store, run_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    on_pool!(store, pool => match sqlx::query("SELECT body FROM traces WHERE run_id = $1").bind(run_id).fetch_optional(pool).await? {
        Some(r) => Ok(Some(r.try_get("body")?)),
        None => Ok(None),
    })
}

/// A scenario version's text.
pub async fn scenario_body(store: &Store, content_hash: &str) -> Result<Option<(String, String)>, StoreError> {
    on_pool!(store, pool => match sqlx::query("SELECT file, body FROM scenarios WHERE content_hash = $1").bind(content_hash).fetch_optional(pool).await? {
        Some(r) => Ok(Some((r.try_get("file")?, r.try_get("body")?))),
        None => Ok(None),
    })
}

/// A candidate's stored stack configuration (JSON).
pub async fn stack_config(store: &Store, candidate_id: &str) -> Result<Option<String>, StoreError> {
    on_pool!(store, pool => match sqlx::query("SELECT stack_config FROM candidates WHERE id = $1").bind(candidate_id).fetch_optional(pool).await? {
        Some(r) => Ok(Some(r.try_get("stack_config")?)),
        None => Ok(None),
    })
}

/// Run counts by status over the whole store (for metrics).
pub async fn global_status_counts(store: &Store) -> Result<Vec<(String, i64)>, StoreError> {
    on_pool!(store, pool => {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM runs GROUP BY status").fetch_all(pool).await?;
        rows.iter().map(|r| Ok((r.try_get("status")?, r.try_get("n")?))).collect()
    })
}

/// Is the database reachable?
pub async fn ping(store: &Store) -> Result<(), StoreError> {
    on_pool!(store, pool => { sqlx::query("SELECT 1").execute(pool).await?; Ok(()) })
}
