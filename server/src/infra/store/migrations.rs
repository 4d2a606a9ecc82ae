//! The schema migrations the binary carries: `migrations/<dialect>/*.sql`, listed by the build
//! script and embedded with `include_str!`. sqlx records each one's SHA-384 and refuses to start on
//! a database whose applied migration was edited, exactly as with its `migrate!` macro, which this
//! replaces (ADR 0032: the macro's proc-macro builds sqlx's drivers a second time).

use std::borrow::Cow;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// One dialect's embedded migrations, in version order.
#[derive(Debug, Clone, Copy)]
pub(super) struct Embedded(&'static [(i64, &'static str, &'static str)]);

pub(super) const SQLITE: Embedded = Embedded(embedded::SQLITE);
pub(super) const POSTGRES: Embedded = Embedded(embedded::POSTGRES);

impl Embedded {
    /// sqlx's migrator over these migrations.
    pub(super) async fn migrator(self) -> Result<Migrator, sqlx::migrate::MigrateError> {
        Migrator::new(self).await
    }

    fn migrations(self) -> Vec<Migration> {
        self.0
            .iter()
            .map(|&(version, description, sql)| {
                // The same reading as sqlx's directory source: a simple (up-only) migration, run
                // in a transaction unless its first line opts out.
                let no_tx = sql.starts_with("-- no-transaction");
                Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, Cow::Borrowed(sql), no_tx)
            })
            .collect()
    }
}

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> futures_util::future::BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { Ok(self.migrations()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded list is the folder, in order, and each checksum is the SHA-384 sqlx's own
    /// directory source computes, so databases migrated by earlier builds stay valid.
    #[tokio::test]
    async fn embedded_migrations_match_the_folder_as_sqlx_reads_it() {
        for (dialect, embedded) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(dialect);
            let from_folder = Migrator::new(dir.as_path()).await.expect("folder migrations");
            let ours = embedded.migrator().await.expect("embedded migrations");
            assert_eq!(ours.migrations.len(), from_folder.migrations.len(), "{dialect}");
            assert!(ours.migrations.len() >= 6, "{dialect}: {} migrations", ours.migrations.len());
            for (a, b) in ours.migrations.iter().zip(from_folder.migrations.iter()) {
                assert_eq!(
                    (a.version, &a.description, &a.checksum, a.no_tx),
                    (b.version, &b.description, &b.checksum, b.no_tx)
                );
            }
        }
    }
}
