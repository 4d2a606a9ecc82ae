//! The results database: one schema in two dialects (SQLite embedded, Postgres for a farm of many
//! processes), migrations applied at start-up, and typed operations over it. Every operation takes
//! the current time as an argument: the store never reads a clock, so tests control time exactly.

pub mod access;
pub mod candidates;
mod migrations;
pub mod overview;
pub mod queue;
pub mod runs;
pub mod seed;

pub use access::TokenInfo;

use std::str::FromStr;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one we support.
    #[error("unsupported database URL `{0}` (use sqlite://PATH or postgres://...)")]
    Url(String),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored data could not be decoded into its domain type (never silently replaced).
    #[error("corrupt stored value in {what}: {detail}")]
    Corrupt {
        /// Table and column.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A worker stopped with results the database did not take in time (their runs are re-run
    /// when their leases expire).
    #[error("the database did not take the last {0} result(s) before shutdown")]
    ResultsNotWritten(usize),
}

impl StoreError {
    /// A stored value that does not decode.
    pub fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> Self {
        StoreError::Corrupt { what, detail: detail.to_string() }
    }
}

/// Decodes a stored JSON column into its domain type.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(what, e))
}

/// Encodes a domain value for a JSON column.
pub(crate) fn to_json<T: serde::Serialize>(what: &'static str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::corrupt(what, e))
}

/// A connection pool to one of the two supported databases.
#[derive(Debug, Clone)]
pub enum Store {
    /// Embedded SQLite: one writer at a time.
    Sqlite(SqlitePool),
    /// Postgres: many processes, `FOR UPDATE SKIP LOCKED` claims.
    Postgres(PgPool),
}

/// Runs the same statement text on either pool (both dialects accept `$N` placeholders).
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::infra::store::Store::Sqlite($pool) => $body,
            $crate::infra::store::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Creates the database file readable by its owner only (results and token hashes live in it);
/// SQLite gives its `-wal` and `-shm` files the same mode. An existing file is left as it is.
fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    if path.as_os_str().is_empty() || path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Db(sqlx::Error::Io(e))),
    }
}

/// How long an operation waits for a Postgres connection before it fails.
pub const POSTGRES_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(750);

impl Store {
    /// Connects to `url` (`sqlite://farm.db`, `sqlite::memory:`, `postgres://...`) and migrates.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to `url` without migrating.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let store = if url.starts_with("sqlite:") {
            let parsed = SqliteConnectOptions::from_str(url)?;
            if !url.contains(":memory:") {
                create_private(parsed.get_filename())?;
            }
            let options = parsed
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(std::time::Duration::from_secs(10))
                .foreign_keys(true);
            // An in-memory database exists once per connection: keep exactly one.
            let max = if url.contains(":memory:") { 1 } else { 8 };
            Store::Sqlite(SqlitePoolOptions::new().max_connections(max).connect_with(options).await?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // A request waits at most 750 ms for a connection: with the database gone, the API
            // and /readyz answer 503 at once instead of after sqlx's default 30 s.
            Store::Postgres(
                PgPoolOptions::new().max_connections(16).acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT).connect(url).await?,
            )
        } else {
            return Err(StoreError::Url(url.to_owned()));
        };
        Ok(store)
    }

    /// Applies pending migrations; returns how many were applied now.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let before = self.applied_migrations().await?;
        match self {
            Store::Sqlite(p) => migrations::SQLITE.migrator().await?.run(p).await?,
            Store::Postgres(p) => migrations::POSTGRES.migrator().await?.run(p).await?,
        }
        Ok(self.applied_migrations().await?.saturating_sub(before))
    }

    /// How many migrations the database has recorded (0 for a new database).
    async fn applied_migrations(&self) -> Result<usize, StoreError> {
        use sqlx::Row;
        let exists = match self {
            Store::Sqlite(_) => "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            Store::Postgres(_) => {
                "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()"
            }
        };
        let n: i64 = on_pool!(self, pool => {
            if sqlx::query(exists).fetch_one(pool).await?.try_get::<i64, _>("n")? == 0 {
                0
            } else {
                sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations WHERE success").fetch_one(pool).await?.try_get("n")?
            }
        });
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Which dialect, for logs and metrics.
    pub fn dialect(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }
}
