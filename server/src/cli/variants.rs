//! `farm variants`: what a scenario or folder expands to, with keys, seeds and coverage cells.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use scenario_dsl::{CoverageCell, VariantKey};

/// Arguments of `farm variants`.
#[derive(Debug, Args)]
pub struct VariantsArgs {
    /// Scenario files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub catalog: super::OddAndFormat,
}

#[derive(Serialize)]
struct Row<'a> {
    key: &'a VariantKey,
    scenario: &'a str,
    index: usize,
    params: &'a BTreeMap<String, f64>,
    seed: u64,
    cell: Option<CoverageCell>,
}

pub(super) fn run(args: VariantsArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let loaded = crate::infra::catalog_files::load(&args.paths, args.catalog.odd.as_deref());
    let (catalog, texts) = (&loaded.catalog, &loaded.texts);
    if catalog.has_errors() {
        for d in &catalog.diagnostics {
            let source = texts.iter().find(|t| t.name == d.file).map(|t| t.text.as_str());
            eprintln!("{}", d.render(source));
        }
        eprintln!("fix the errors above first (`farm lint` shows them too)");
        return Ok(ExitCode::FAILURE);
    }
    let rows: Vec<Row> = catalog
        .scenarios
        .iter()
        .flat_map(|s| s.variants())
        .map(|v| Row {
            key: &v.key,
            scenario: &v.scenario_id,
            index: v.index,
            params: &v.params,
            seed: v.seed,
            cell: catalog.odd.as_ref().and_then(|o| o.cell(v).ok()),
        })
        .collect();
    if args.catalog.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
    } else {
        for r in &rows {
            let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let cell = r.cell.as_ref().map(ToString::to_string).unwrap_or_else(|| "-".into());
            writeln!(out, "{}  {}#{}  seed={}  [{}]  {}", r.key, r.scenario, r.index, r.seed, params.join(" "), cell)?;
        }
        eprintln!("{} variants from {} scenarios", rows.len(), catalog.scenarios.len());
    }
    Ok(ExitCode::SUCCESS)
}
