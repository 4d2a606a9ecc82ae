//! `farm token create|list|revoke`: mints an API token (printed once on stdout, stored hashed),
//! lists tokens (id, role, created, revoked; never the token) and revokes one by id.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::infra::store::Store;
use crate::usecases::tokens;

/// Arguments of `farm token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TokenAction,
    /// Results database.
    #[arg(long, env = "FARM_DATABASE_URL", default_value = "sqlite://farm.db", global = true)]
    pub database_url: String,
}

/// Token actions.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token with a role (ci, qa, release, admin); prints it once.
    Create {
        /// The token's role.
        #[arg(long, value_parser = ["ci", "qa", "release", "admin"])]
        role: String,
    },
    /// List tokens: id, role, creation and revocation time.
    List,
    /// Revoke a token by its id (from `farm token list`); it gets 401 at once.
    Revoke {
        /// The token's id (16 hex digits).
        id: String,
    },
}

pub(super) fn run(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = Store::open(&args.database_url).await.context("cannot open the results database")?;
        match args.action {
            TokenAction::Create { role } => {
                let token = tokens::create(&store, &role, "cli").await.context("cannot store the token")?;
                println!("{token}");
            }
            TokenAction::List => {
                for t in tokens::list(&store).await.context("cannot list tokens")? {
                    let revoked = t.revoked_at.map_or_else(|| "active".to_owned(), |at| format!("revoked at {at}"));
                    println!("{}  {:<7}  created at {}  {revoked}", t.id, t.role, t.created_at);
                }
            }
            TokenAction::Revoke { id } => {
                tokens::revoke(&store, &id, "cli").await.with_context(|| format!("cannot revoke token {id}"))?;
                println!("token {id} revoked");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
