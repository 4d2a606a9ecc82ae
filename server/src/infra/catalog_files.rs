//! Finding and reading catalog files on disk: scenario files, the ODD, nothing else.

use std::path::{Path, PathBuf};

use scenario_dsl::{Code, Diagnostic, SourceFile, Span};

/// File names that live in a catalog folder but are not scenarios.
const NOT_SCENARIOS: &[&str] = &["odd.yaml", "gate.yaml"];
/// Folders that live in a catalog but hold no scenarios.
const NOT_SCENARIO_DIRS: &[&str] = &["stacks", "schema"];

/// What was read from disk: scenario files, the ODD file, and read errors as diagnostics.
#[derive(Debug, Default)]
pub struct Sources {
    /// Scenario files, sorted by name.
    pub scenarios: Vec<SourceFile>,
    /// The ODD, if one was found.
    pub odd: Option<SourceFile>,
    /// Files that could not be read.
    pub diagnostics: Vec<Diagnostic>,
}

fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn read(path: &Path, diagnostics: &mut Vec<Diagnostic>) -> Option<SourceFile> {
    let name = display(path);
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(SourceFile { name, text }),
            Err(e) => {
                diagnostics.push(Diagnostic::error(
                    &name,
                    Span::new(1, 1),
                    Code::Io,
                    format!("file is not valid UTF-8 (byte {})", e.utf8_error().valid_up_to()),
                ));
                None
            }
        },
        Err(e) => {
            diagnostics.push(Diagnostic::error(&name, Span::new(1, 1), Code::Io, format!("cannot read file: {e}")));
            None
        }
    }
}

fn is_yaml(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, diagnostics: &mut Vec<Diagnostic>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diagnostics.push(Diagnostic::error(
                &display(dir),
                Span::new(1, 1),
                Code::Io,
                format!("cannot read folder: {e}"),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if p.is_dir() {
            if !NOT_SCENARIO_DIRS.contains(&name) && !name.starts_with('.') {
                walk(&p, out, diagnostics);
            }
        } else if is_yaml(&p) && !NOT_SCENARIOS.contains(&name) {
            out.push(p);
        }
    }
}

/// The `odd.yaml` in `start` (a folder or a file's folder) or the nearest folder above it.
fn find_odd(start: &Path) -> Option<PathBuf> {
    let mut dir = if start.is_dir() { Some(start) } else { start.parent() };
    while let Some(d) = dir {
        let candidate = d.join("odd.yaml");
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = d.parent();
    }
    None
}

/// Reads the scenario files under `paths` (files or folders) and the catalog's ODD: `odd` when
/// given, else the nearest `odd.yaml` at or above the first path.
pub fn read_sources(paths: &[PathBuf], odd: Option<&Path>) -> Sources {
    let mut s = Sources::default();
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files, &mut s.diagnostics);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            s.diagnostics.push(Diagnostic::error(
                &display(p),
                Span::new(1, 1),
                Code::Io,
                "no such file or folder".into(),
            ));
        }
    }
    files.sort();
    files.dedup();
    s.scenarios = files.iter().filter_map(|f| read(f, &mut s.diagnostics)).collect();
    let odd_path = odd.map(Path::to_path_buf).or_else(|| paths.first().and_then(|p| find_odd(p)));
    s.odd = odd_path.and_then(|p| read(&p, &mut s.diagnostics));
    s
}
