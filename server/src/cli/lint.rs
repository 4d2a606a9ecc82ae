//! `farm lint`: check scenario files and report like a compiler.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use scenario_dsl::{Diagnostic, Severity};

/// Arguments of `farm lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Scenario files or folders (default: catalog/).
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub catalog: super::OddAndFormat,
}

#[derive(Serialize)]
struct Report<'a> {
    scenarios: usize,
    variants: usize,
    diagnostics: &'a [Diagnostic],
}

pub(super) fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let paths = super::default_paths(&args.paths);
    let loaded = crate::infra::catalog_files::load(&paths, args.catalog.odd.as_deref());
    let (catalog, texts) = (&loaded.catalog, &loaded.texts);
    let errors = catalog.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = catalog.diagnostics.len() - errors;
    if args.catalog.json {
        let report = Report {
            scenarios: catalog.scenarios.len(),
            variants: catalog.variant_count(),
            diagnostics: &catalog.diagnostics,
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        for d in &catalog.diagnostics {
            let source = texts.iter().find(|t| t.name == d.file).map(|t| t.text.as_str());
            writeln!(out, "{}", d.render(source))?;
        }
        writeln!(
            out,
            "{} scenario{} valid, {} variants; {errors} error{}, {warnings} warning{}",
            catalog.scenarios.len(),
            if catalog.scenarios.len() == 1 { "" } else { "s" },
            catalog.variant_count(),
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" },
        )?;
    }
    Ok(if errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
