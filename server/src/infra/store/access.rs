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

/// The role of a presented token, if it is known.
pub async fn role_of(store: &Store, token: &str) -> Result<Option<String>, StoreError> {
    on_pool!(store, pool => match sqlx::query("SELECT role FROM tokens WHERE hash = $1").bind(token_hash(token)).fetch_optional(pool).await? {
        Some(r) => Ok(Some(r.try_get("role")?)),
        None => Ok(None),
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
