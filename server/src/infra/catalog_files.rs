//! The catalog on disk: finding and reading scenario files and the ODD, and the one way every
//! command loads a catalog (`load` for tools that report diagnostics, `load_index` for those that
//! need an error-free catalog to run).

use std::path::{Path, PathBuf};

use scenario_dsl::model::MapPoint;
use scenario_dsl::{Catalog, Code, Diagnostic, MapSource, RouteJunction, SourceFile, Span, ValidScenario};

use crate::domain::catalog::CatalogIndex;

/// File names that live in a catalog folder but are not scenarios.
const NOT_SCENARIOS: &[&str] = &["odd.yaml", "gate.yaml", "known_failures.yaml"];
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

/// A catalog loaded from disk, with every diagnostic (read errors and language errors) and the
/// texts the diagnostics point into.
pub struct Loaded {
    /// The catalog (its `diagnostics` include read errors).
    pub catalog: Catalog,
    /// Every file read, scenarios and the ODD.
    pub texts: Vec<SourceFile>,
    scenarios: Vec<SourceFile>,
}

impl Loaded {
    /// Each error rendered like a compiler, with its source line.
    pub fn rendered_errors(&self) -> Vec<String> {
        self.catalog
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.render(self.texts.iter().find(|t| t.name == d.file).map(|t| t.text.as_str())))
            .collect()
    }
}

/// The path of a scenario's map file: `world.map.file` is relative to the scenario file's folder.
pub fn map_path(scenario_file: &str, map_file: &str) -> PathBuf {
    Path::new(scenario_file).parent().unwrap_or(Path::new("")).join(map_file)
}

/// Why a scenario's map could not be attached: the message names the map file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct MapAttachError(pub String);

/// Reads the map file a scenario names (if any), checks that the map loads and that its route and
/// every actor's place and route resolve (by building the first variant's map world), hands the
/// text to every variant, and the junctions each variant's route passes (for the ODD's `junction`
/// dimension; the map is read once, and each distinct route routed once).
pub fn attach_map(scenario: &mut ValidScenario) -> Result<(), MapAttachError> {
    let Some(file) = scenario.map_file() else { return Ok(()) };
    let path = map_path(scenario.file(), file);
    let name = display(&path);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| MapAttachError(format!("cannot read map {name} (named by `world.map.file`): {e}")))?;
    let map = sim_core::map::RoadNetworkMap::load(&name, &text).map_err(|e| MapAttachError(e.to_string()))?;
    scenario.attach_map(MapSource { file: name, text: text.into() });
    let map = match scenario.variants().first().and_then(|v| Some((v.scenario.world.map.as_ref()?, v))) {
        Some((spec, first)) => {
            sim_core::map::build_on(map, spec, &first.scenario.actors).map_err(|e| MapAttachError(e.to_string()))?.map
        }
        None => map,
    };
    let mut routed: Vec<(Vec<MapPoint<f64>>, Vec<RouteJunction>)> = Vec::new();
    scenario.attach_route_junctions(|v| {
        let route = v.scenario.world.map.as_ref().map_or(&[][..], |m| &m.route[..]);
        if let Some((_, junctions)) = routed.iter().find(|(r, _)| r == route) {
            return Ok(junctions.clone());
        }
        let junctions = map.route_junctions(route).map_err(|e| MapAttachError(e.to_string()))?;
        routed.push((route.to_vec(), junctions.clone()));
        Ok(junctions)
    })
}

/// Where `needle` first appears in `text` as a 1-based line and column (the start when it does not).
fn locate_text(text: &str, needle: &str) -> Span {
    text.lines()
        .enumerate()
        .find_map(|(i, l)| l.find(needle).map(|c| Span::new(i as u32 + 1, c as u32 + 1)))
        .unwrap_or(Span::new(1, 1))
}

/// Attaches a scenario's map and what is derived from it ([`attach_map`]), or the diagnostic at its
/// `world.map.file` that drops the scenario from the catalog.
fn attach_map_or_diagnose(s: &mut ValidScenario, sources: &[SourceFile]) -> Result<(), Diagnostic> {
    attach_map(s).map_err(|e| {
        let file = s.map_file().unwrap_or_default();
        let span = sources.iter().find(|f| f.name == s.file()).map_or(Span::new(1, 1), |f| locate_text(&f.text, file));
        Diagnostic::error(s.file(), span, Code::BadMap, e.0)
            .with_help("`world.map.file` is relative to this scenario's folder")
    })
}

/// Loads a catalog from paths on disk: read errors and language diagnostics together. Maps are
/// attached before the variants are placed in the ODD, whose `junction` dimension reads them.
pub fn load(paths: &[PathBuf], odd: Option<&Path>) -> Loaded {
    let sources = read_sources(paths, odd);
    let mut catalog =
        Catalog::load_with(&sources.scenarios, sources.odd.as_ref(), |s| attach_map_or_diagnose(s, &sources.scenarios));
    catalog.diagnostics.extend(sources.diagnostics);
    catalog.diagnostics.sort();
    let mut texts = sources.scenarios.clone();
    texts.extend(sources.odd);
    Loaded { catalog, texts, scenarios: sources.scenarios }
}

/// A catalog with errors: it cannot be run.
#[derive(Debug, thiserror::Error)]
#[error("the catalog in {where_} has {} error(s) (see `farm lint`):\n{}", .errors.len(), .errors.join("\n"))]
pub struct CatalogErrors {
    /// The paths loaded.
    pub where_: String,
    /// Each error, rendered.
    pub errors: Vec<String>,
}

/// Loads an error-free catalog to run from, or every error it has.
pub fn load_index(paths: &[PathBuf], odd: Option<&Path>) -> Result<CatalogIndex, CatalogErrors> {
    let loaded = load(paths, odd);
    if loaded.catalog.has_errors() {
        let where_ = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        return Err(CatalogErrors { where_, errors: loaded.rendered_errors() });
    }
    Ok(CatalogIndex::new(loaded.catalog, loaded.scenarios))
}
