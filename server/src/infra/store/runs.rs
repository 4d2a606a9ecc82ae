//! Reading runs back as the domain's [`Run`]: one run, a candidate's runs filtered and paginated
//! (indexed by candidate, status and order), all of a candidate's runs for its statistics, traces
//! and scenario versions. This file holds the one decoder of a stored run row.

use sqlx::Row;

use scenario_dsl::VariantKey;

use super::{from_json, on_pool, Store, StoreError};
use crate::domain::ids::{CandidateId, RunId};
use crate::domain::run::{Run, RunStatus, ScenarioVersion};

const COLUMNS: &str =
    "id, candidate_id, variant_key, scenario_id, content_hash, ord, tags, status, attempt, digest, reason, result, cell";

/// The columns of a run row, as read (each dialect has its own row type).
struct RawRun {
    id: String,
    candidate_id: String,
    variant_key: String,
    scenario_id: String,
    content_hash: String,
    ord: i64,
    tags: String,
    status: String,
    attempt: i32,
    digest: Option<String>,
    reason: Option<String>,
    result: Option<String>,
    cell: String,
}

macro_rules! raw_run {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, StoreError>(RawRun {
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

/// Decodes a stored status.
pub(crate) fn status_of(text: &str) -> Result<RunStatus, StoreError> {
    text.parse().map_err(|e| StoreError::corrupt("runs.status", e))
}

/// Decodes a stored variant key.
pub(crate) fn key_of(text: &str) -> Result<VariantKey, StoreError> {
    VariantKey::parse(text).ok_or_else(|| StoreError::corrupt("runs.variant_key", format!("`{text}` is not a key")))
}

impl RawRun {
    /// The one place a stored run becomes a [`Run`]: every column decoded, nothing defaulted.
    fn decode(self) -> Result<Run, StoreError> {
        // Results written before results were typed stored `{}` for runs that never simulated.
        let result = match self.result.as_deref() {
            None | Some("{}") => None,
            Some(text) => Some(from_json("runs.result", text)?),
        };
        Ok(Run {
            id: RunId::parse(&self.id).map_err(|e| StoreError::corrupt("runs.id", e))?,
            candidate_id: CandidateId::parse(&self.candidate_id)
                .map_err(|e| StoreError::corrupt("runs.candidate_id", e))?,
            variant_key: key_of(&self.variant_key)?,
            scenario_id: self.scenario_id,
            content_hash: self.content_hash,
            ord: self.ord,
            tags: from_json("runs.tags", &self.tags)?,
            status: status_of(&self.status)?,
            attempt: self.attempt,
            digest: self.digest,
            reason: self.reason,
            result,
            cell: from_json("runs.cell", &self.cell)?,
        })
    }
}

/// Filters for a candidate's runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    /// Only this status.
    pub status: Option<RunStatus>,
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
pub async fn get(store: &Store, id: &RunId) -> Result<Option<Run>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM runs WHERE id = $1");
    let raw = on_pool!(store, pool => match sqlx::query(&sql).bind(id.as_str()).fetch_optional(pool).await? {
        Some(r) => Some(raw_run!(&r)?),
        None => None,
    });
    raw.map(RawRun::decode).transpose()
}

/// A page of a candidate's runs in queue order.
pub async fn list(store: &Store, candidate_id: &CandidateId, f: &RunFilter) -> Result<Vec<Run>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM runs WHERE candidate_id = $1 AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR scenario_id = $3) \
         AND ($4 IS NULL OR tags LIKE $4) AND ord > $5 ORDER BY ord LIMIT $6"
    );
    // Tags are stored as a JSON array of strings (written by `Tags`' serialiser, which escapes
    // nothing a tag may hold); a quoted match finds whole tags only.
    let tag = f.tag.as_ref().map(|t| format!("%\"{}\"%", t.replace(['%', '_', '"', '\\'], "")));
    let raws = on_pool!(store, pool => {
        let rows = sqlx::query(&sql)
            .bind(candidate_id.as_str())
            .bind(f.status.map(RunStatus::as_str))
            .bind(&f.scenario)
            .bind(tag)
            .bind(f.after.unwrap_or(-1))
            .bind(f.limit)
            .fetch_all(pool)
            .await?;
        rows.iter().map(|r| raw_run!(r)).collect::<Result<Vec<_>, _>>()?
    });
    raws.into_iter().map(RawRun::decode).collect()
}

/// Every run of a candidate (for statistics, JUnit and the gate).
pub async fn all(store: &Store, candidate_id: &CandidateId) -> Result<Vec<Run>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM runs WHERE candidate_id = $1 ORDER BY ord");
    let raws = on_pool!(store, pool => {
        let rows = sqlx::query(&sql).bind(candidate_id.as_str()).fetch_all(pool).await?;
        rows.iter().map(|r| raw_run!(r)).collect::<Result<Vec<_>, _>>()?
    });
    raws.into_iter().map(RawRun::decode).collect()
}

/// The stored trace of a run, if one was kept.
pub async fn trace(store: &Store, run_id: &RunId) -> Result<Option<Vec<u8>>, StoreError> {
    on_pool!(store, pool => match sqlx::query("SELECT body FROM traces WHERE run_id = $1").bind(run_id.as_str()).fetch_optional(pool).await? {
        Some(r) => Ok(Some(r.try_get("body")?)),
        None => Ok(None),
    })
}

/// A scenario version.
pub async fn scenario(store: &Store, content_hash: &str) -> Result<Option<ScenarioVersion>, StoreError> {
    let sql = "SELECT content_hash, scenario_id, file, body FROM scenarios WHERE content_hash = $1";
    on_pool!(store, pool => match sqlx::query(sql).bind(content_hash).fetch_optional(pool).await? {
        Some(r) => Ok(Some(ScenarioVersion {
            content_hash: r.try_get("content_hash")?,
            scenario_id: r.try_get("scenario_id")?,
            file: r.try_get("file")?,
            body: r.try_get("body")?,
        })),
        None => Ok(None),
    })
}

/// Run counts by status over the whole store (for metrics).
pub async fn global_status_counts(store: &Store) -> Result<Vec<(RunStatus, i64)>, StoreError> {
    let rows: Vec<(String, i64)> = on_pool!(store, pool => {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM runs GROUP BY status").fetch_all(pool).await?;
        rows.iter().map(|r| Ok::<_, StoreError>((r.try_get("status")?, r.try_get("n")?))).collect::<Result<Vec<_>, _>>()?
    });
    rows.into_iter().map(|(s, n)| Ok((status_of(&s)?, n))).collect()
}

/// Is the database reachable?
pub async fn ping(store: &Store) -> Result<(), StoreError> {
    on_pool!(store, pool => { sqlx::query("SELECT 1").execute(pool).await?; Ok(()) })
}

/// A candidate's run of one variant (to pair a run with its baseline's).
pub async fn by_variant(
    store: &Store,
    candidate_id: &CandidateId,
    key: &VariantKey,
) -> Result<Option<Run>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM runs WHERE candidate_id = $1 AND variant_key = $2");
    let raw = on_pool!(store, pool => match sqlx::query(&sql).bind(candidate_id.as_str()).bind(key.to_string()).fetch_optional(pool).await? {
        Some(r) => Some(raw_run!(&r)?),
        None => None,
    });
    raw.map(RawRun::decode).transpose()
}
