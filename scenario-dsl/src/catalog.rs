//! A catalog: many scenario files and the ODD, checked together (unique ids, every variant inside
//! the ODD). The caller reads the files; this module only sees names and text.

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic};
use crate::odd::Odd;
use crate::{parse, ValidScenario};

/// A file's name (as the user should see it) and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as given by the user, e.g. `catalog/highway/cut_in.yaml`.
    pub name: String,
    /// The file's text.
    pub text: String,
}

/// Every scenario of a catalog that is valid, the ODD, and all diagnostics.
#[derive(Debug)]
pub struct Catalog {
    /// Valid scenarios, in file-name order.
    pub scenarios: Vec<ValidScenario>,
    /// The ODD, when one was given and is valid.
    pub odd: Option<Odd>,
    /// Diagnostics of every file, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Catalog {
    /// Parses every file, checks ids are unique and, with an ODD, that every variant has a cell.
    /// Nothing is attached to the variants: a variant on a map falls outside an ODD that has a
    /// `junction` dimension (see [`Catalog::load_with`]).
    pub fn load(files: &[SourceFile], odd: Option<&SourceFile>) -> Catalog {
        Catalog::load_with(files, odd, |_| Ok(()))
    }

    /// [`Catalog::load`], with `prepare` run on each valid scenario before its variants are placed
    /// in the ODD: the caller attaches what it reads beside the text (a map file and the junctions
    /// it derives from it). A scenario `prepare` refuses is left out, with the diagnostic it gives.
    pub fn load_with(
        files: &[SourceFile],
        odd: Option<&SourceFile>,
        mut prepare: impl FnMut(&mut ValidScenario) -> Result<(), Diagnostic>,
    ) -> Catalog {
        let mut diagnostics = Vec::new();
        let odd = odd.and_then(|f| {
            let (odd, diags) = Odd::parse(&f.name, &f.text);
            diagnostics.extend(diags);
            odd
        });
        let mut files: Vec<&SourceFile> = files.iter().collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let mut scenarios = Vec::new();
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        for f in files {
            let parsed = parse(&f.name, &f.text);
            diagnostics.extend(parsed.diagnostics);
            let Some(mut s) = parsed.scenario else { continue };
            let root = crate::yaml::load(&f.name, &f.text, crate::yaml::Limits::default()).root;
            let locate =
                |path: &[crate::yaml::PathSeg]| root.as_ref().map_or(crate::Span::new(1, 1), |r| r.locate(path).span);
            if let Some(first) = ids.get(s.id()) {
                let span =
                    locate(&[crate::yaml::PathSeg::Key("metadata".into()), crate::yaml::PathSeg::Key("id".into())]);
                diagnostics.push(
                    Diagnostic::error(
                        &f.name,
                        span,
                        Code::DuplicateScenarioId,
                        format!("scenario id `{}` is already used", s.id()),
                    )
                    .with_help(format!("`{first}` has the same id; ids must be unique in a catalog")),
                );
                continue;
            }
            ids.insert(s.id().to_owned(), f.name.clone());
            if let Err(d) = prepare(&mut s) {
                diagnostics.push(d);
                continue;
            }
            let mut outside = false;
            if let Some(odd) = &odd {
                for v in s.variants() {
                    if let Err(e) = odd.cell(v) {
                        let d = match &e.excluded {
                            None => Diagnostic::error(
                                &f.name,
                                locate(&e.path),
                                Code::OutsideOdd,
                                format!(
                                    "variant {} has {} = {}, outside every bin of the ODD",
                                    v.key, e.dimension, e.value
                                ),
                            )
                            .with_help("change the value or widen the bins in the ODD file"),
                            Some(reason) => Diagnostic::error(
                                &f.name,
                                locate(&e.path),
                                Code::OutsideOdd,
                                format!("variant {} falls in a combination the ODD excludes: {reason}", v.key),
                            )
                            .with_help("change the scenario, or remove the exclusion from the ODD file"),
                        };
                        diagnostics.push(d);
                        outside = true;
                        break;
                    }
                }
            }
            if !outside {
                scenarios.push(s);
            }
        }
        diagnostics.sort();
        Catalog { scenarios, odd, diagnostics }
    }

    /// Number of variants over all valid scenarios.
    pub fn variant_count(&self) -> usize {
        self.scenarios.iter().map(|s| s.variants().len()).sum()
    }

    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}
