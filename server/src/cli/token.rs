//! `farm token create --role ROLE`: mints an API token, prints it once on stdout, stores its hash.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::store::{access, now_ms, Store};

/// Arguments of `farm token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TokenAction,
}

/// Token actions.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token with a role (ci, qa, release, admin).
    Create {
        /// The token's role.
        #[arg(long, value_parser = ["ci", "qa", "release", "admin"])]
        role: String,
        /// Results database.
        #[arg(long, env = "FARM_DATABASE_URL", default_value = "sqlite://farm.db")]
        database_url: String,
    },
}

pub(super) fn run(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let TokenAction::Create { role, database_url } = args.action;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let token = format!("sf_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    runtime.block_on(async {
        let store = Store::open(&database_url).await.context("cannot open the results database")?;
        access::create_token(&store, &token, &role, now_ms()).await.context("cannot store the token")?;
        access::audit(&store, now_ms(), "cli", "create_token", &role, "").await.context("cannot write the audit log")
    })?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
