//! Who may do what: API tokens (stored as SHA-256 hashes, never in clear), the audit log of writes,
//! and the registry of workers.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{on_pool, Store, StoreError};

/// Roles a token can have.
pub const ROLES: &[&str] = &["ci", "qa", "release", "admin"];

/// SHA-256 of a token, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Stores a new token's hash with its role.
pub async fn create_token(store: &Store, token: &str, role: &str, now: i64) -> Result<(), StoreError> {
    on_pool!(store, pool => {
        sqlx::query("INSERT INTO tokens (hash, role, created_at) VALUES ($1, $2, $3)")
            .bind(token_hash(token))
            .bind(role)
            .bind(now)
            .execute(pool)
            .await?;
        Ok(())
    })
}

/// The role of a presented token, if it is known and not revoked.
pub async fn role_of(store: &Store, token: &str) -> Result<Option<String>, StoreError> {
    let sql = "SELECT role FROM tokens WHERE hash = $1 AND revoked_at IS NULL";
    on_pool!(store, pool => match sqlx::query(sql).bind(token_hash(token)).fetch_optional(pool).await? {
        Some(r) => Ok(Some(r.try_get("role")?)),
        None => Ok(None),
    })
}

/// Length of a token's public id: a prefix of its hash (64 bits: unique in practice, and it reveals
/// nothing of the token).
pub const TOKEN_ID_LEN: usize = 16;

/// A token as an administrator sees it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct TokenInfo {
    /// Public id: the first 16 hex digits of the token's SHA-256.
    pub id: String,
    /// Role.
    pub role: String,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Revocation time, if revoked.
    pub revoked_at: Option<i64>,
}

/// Every token, oldest first.
pub async fn list_tokens(store: &Store) -> Result<Vec<TokenInfo>, StoreError> {
    let sql = "SELECT hash, role, created_at, revoked_at FROM tokens ORDER BY created_at, hash";
    on_pool!(store, pool => {
        let rows = sqlx::query(sql).fetch_all(pool).await?;
        rows.iter()
            .map(|r| {
                let hash: String = r.try_get("hash")?;
                Ok(TokenInfo {
                    id: hash.chars().take(TOKEN_ID_LEN).collect(),
                    role: r.try_get("role")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    })
}

/// What revoking a token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// Revoked now.
    Now,
    /// It was revoked before.
    Already,
    /// No token has this id.
    Unknown,
}

/// Revokes the token whose public id is `id` (from then on it gets 401).
pub async fn revoke_token(store: &Store, id: &str, now: i64) -> Result<Revoked, StoreError> {
    if id.len() != TOKEN_ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Revoked::Unknown);
    }
    let prefix = format!("{}%", id.to_ascii_lowercase());
    on_pool!(store, pool => {
        let updated = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE hash LIKE $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(&prefix)
            .execute(pool)
            .await?
            .rows_affected();
        if updated > 0 {
            return Ok(Revoked::Now);
        }
        let known = sqlx::query("SELECT hash FROM tokens WHERE hash LIKE $1").bind(&prefix).fetch_optional(pool).await?;
        Ok(if known.is_some() { Revoked::Already } else { Revoked::Unknown })
    })
}

/// Records a write.
pub async fn audit(
    store: &Store,
    now: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), StoreError> {
    on_pool!(store, pool => {
        sqlx::query("INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)")
            .bind(now)
            .bind(actor)
            .bind(action)
            .bind(subject)
            .bind(detail)
            .execute(pool)
            .await?;
        Ok(())
    })
}

/// Registers a worker or refreshes its last-seen time.
pub async fn worker_seen(store: &Store, id: &str, version: &str, now: i64) -> Result<(), StoreError> {
    on_pool!(store, pool => {
        sqlx::query(
            "INSERT INTO workers (id, version, started_at, last_seen_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        )
        .bind(id)
        .bind(version)
        .bind(now)
        .execute(pool)
        .await?;
        Ok(())
    })
}

/// Workers seen since `since`.
pub async fn active_workers(store: &Store, since: i64) -> Result<i64, StoreError> {
    on_pool!(store, pool => {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM workers WHERE last_seen_at >= $1").bind(since).fetch_one(pool).await?;
        Ok(r.try_get("n")?)
    })
}
