//! `farm schema`: the JSON Schema of the scenario language, for editors and external validators,
//! and the OpenAPI document of the HTTP API.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

/// Arguments of `farm schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the schema of odd.yaml instead of scenario files.
    #[arg(long)]
    pub odd: bool,
    /// Print the HTTP API's OpenAPI document instead.
    #[arg(long, conflicts_with = "odd")]
    pub openapi: bool,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub(super) fn run(args: SchemaArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let schema = if args.openapi {
        crate::api::openapi::pretty()
    } else if args.odd {
        scenario_dsl::schema::odd_schema()
    } else {
        scenario_dsl::schema::scenario_schema()
    };
    match args.out {
        Some(path) => std::fs::write(&path, schema).with_context(|| format!("cannot write {}", path.display()))?,
        None => write!(out, "{schema}")?,
    }
    Ok(ExitCode::SUCCESS)
}
