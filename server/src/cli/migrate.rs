//! `farm migrate`: create or upgrade the results database.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

/// Arguments of `farm migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Results database: `sqlite://PATH` (embedded) or `postgres://...`.
    #[arg(long, env = "FARM_DATABASE_URL", default_value = "sqlite://farm.db")]
    pub database_url: String,
}

pub(super) fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let (store, applied) = runtime
        .block_on(async {
            let store = crate::infra::store::Store::connect(&args.database_url).await?;
            let applied = store.migrate().await?;
            Ok::<_, crate::infra::store::StoreError>((store, applied))
        })
        .with_context(|| format!("cannot open and migrate {}", redact(&args.database_url)))?;
    match applied {
        0 => println!("{} database is already at the latest schema", store.dialect()),
        n => println!("{} database migrated: {n} migration(s) applied", store.dialect()),
    }
    Ok(ExitCode::SUCCESS)
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &creds[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(super::redact("postgres://farm:s3cret@db:5432/farm"), "postgres://farm:***@db:5432/farm");
        assert_eq!(super::redact("sqlite://farm.db"), "sqlite://farm.db");
    }
}
