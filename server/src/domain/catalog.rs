//! The loaded catalog and the one place that selects from it: a suite (tags, scenario ids, and for
//! local runs one variant key) becomes the scenarios and variants to run, for `farm run`,
//! `farm bench` and a posted candidate alike. An unknown id or tag is an error that names it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use scenario_dsl::diagnostic::did_you_mean;
use scenario_dsl::{Catalog, CoverageCell, SourceFile, ValidScenario, Variant, VariantKey};

use super::run::{Cell, PlannedRun, ScenarioVersion, Tags};

/// Which part of the catalog to run: every scenario matching any tag and any listed id (an empty
/// list does not restrict).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Scenario tags (domain and severity count as tags).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Scenario ids.
    #[serde(default)]
    pub scenarios: Vec<String>,
}

/// Why a selection cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuiteError {
    /// A listed scenario does not exist.
    #[error("unknown scenario `{id}`{}", hint(.suggestion))]
    UnknownScenario {
        /// The id asked for.
        id: String,
        /// The closest existing id.
        suggestion: Option<String>,
    },
    /// No scenario carries a listed tag.
    #[error("unknown tag `{tag}`: no scenario carries it{}", hint(.suggestion))]
    UnknownTag {
        /// The tag asked for.
        tag: String,
        /// The closest existing tag.
        suggestion: Option<String>,
    },
    /// The variant key is in none of the selected scenarios.
    #[error("variant {0} is in none of the selected scenarios")]
    UnknownVariant(VariantKey),
    /// The filters exclude everything.
    #[error("the selection matches no scenario")]
    Empty,
    /// A selected scenario's source text is not in the index (the catalog was loaded without it).
    #[error("the text of {0} is not loaded")]
    MissingSource(String),
}

fn hint(suggestion: &Option<String>) -> String {
    suggestion.as_ref().map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
}

/// One variant selected to run, with what its report needs from its scenario.
#[derive(Debug, Clone)]
pub struct Selected<'a> {
    /// The scenario.
    pub scenario: &'a ValidScenario,
    /// The variant.
    pub variant: &'a Variant,
    /// The scenario's tags.
    pub tags: Tags,
    /// The variant's ODD cell (when the catalog declares an ODD).
    pub cell: Option<CoverageCell>,
}

/// A loaded, error-free catalog with the source texts it came from.
pub struct CatalogIndex {
    catalog: Catalog,
    files: BTreeMap<String, SourceFile>,
}

impl CatalogIndex {
    /// Indexes a loaded catalog; `files` are the scenario sources it came from.
    pub fn new(catalog: Catalog, files: Vec<SourceFile>) -> Self {
        Self { catalog, files: files.into_iter().map(|f| (f.name.clone(), f)).collect() }
    }

    /// The ODD, when the catalog declares one.
    pub fn odd(&self) -> Option<&scenario_dsl::Odd> {
        self.catalog.odd.as_ref()
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Every tag some scenario carries.
    pub fn tags(&self) -> BTreeSet<String> {
        self.catalog.scenarios.iter().flat_map(|s| s.template().metadata.all_tags()).collect()
    }

    /// The text a scenario was loaded from.
    pub fn source(&self, scenario: &ValidScenario) -> Option<&str> {
        self.files.get(scenario.file()).map(|f| f.text.as_str())
    }

    /// The scenarios a suite selects, in catalog order.
    pub fn select(&self, suite: &Suite) -> Result<Vec<&ValidScenario>, SuiteError> {
        let scenarios = &self.catalog.scenarios;
        if let Some(id) = suite.scenarios.iter().find(|id| !scenarios.iter().any(|s| s.id() == id.as_str())) {
            let suggestion = did_you_mean(id, scenarios.iter().map(|s| s.id())).map(str::to_owned);
            return Err(SuiteError::UnknownScenario { id: id.clone(), suggestion });
        }
        let known = self.tags();
        if let Some(tag) = suite.tags.iter().find(|t| !known.contains(t.as_str())) {
            let suggestion = did_you_mean(tag, known.iter().map(String::as_str)).map(str::to_owned);
            return Err(SuiteError::UnknownTag { tag: tag.clone(), suggestion });
        }
        let picked: Vec<&ValidScenario> = scenarios
            .iter()
            .filter(|s| {
                suite.tags.is_empty() || s.template().metadata.all_tags().iter().any(|t| suite.tags.contains(t))
            })
            .filter(|s| suite.scenarios.is_empty() || suite.scenarios.iter().any(|id| id == s.id()))
            .collect();
        if picked.is_empty() {
            return Err(SuiteError::Empty);
        }
        Ok(picked)
    }

    /// The variants a suite selects (all of each scenario, or only `variant`), in catalog order.
    pub fn select_variants(
        &self,
        suite: &Suite,
        variant: Option<&VariantKey>,
    ) -> Result<Vec<Selected<'_>>, SuiteError> {
        let mut out = Vec::new();
        for s in self.select(suite)? {
            let tags: Tags = s.template().metadata.all_tags().into_iter().collect();
            for v in s.variants().iter().filter(|v| variant.is_none_or(|k| *k == v.key)) {
                let cell = self.odd().and_then(|o| o.cell(v).ok());
                out.push(Selected { scenario: s, variant: v, tags: tags.clone(), cell });
            }
        }
        match variant {
            Some(k) if out.is_empty() => Err(SuiteError::UnknownVariant(k.clone())),
            _ => Ok(out),
        }
    }

    /// The scenario versions and runs a suite means for a candidate.
    pub fn plan(&self, suite: &Suite) -> Result<(Vec<ScenarioVersion>, Vec<PlannedRun>), SuiteError> {
        let mut versions: Vec<ScenarioVersion> = Vec::new();
        let mut runs = Vec::new();
        for selected in self.select_variants(suite, None)? {
            let s = selected.scenario;
            if versions.last().is_none_or(|v| v.content_hash != s.content_hash().hex()) {
                let body = self.source(s).ok_or_else(|| SuiteError::MissingSource(s.file().to_owned()))?;
                versions.push(ScenarioVersion {
                    content_hash: s.content_hash().hex(),
                    scenario_id: s.id().to_owned(),
                    file: s.file().to_owned(),
                    body: body.to_owned(),
                });
            }
            let cell: Cell = selected.cell.map(|c| c.0.into_iter().collect()).unwrap_or_default();
            runs.push(PlannedRun {
                variant_key: selected.variant.key.clone(),
                scenario_id: s.id().to_owned(),
                content_hash: s.content_hash().hex(),
                ord: runs.len() as i64,
                tags: selected.tags,
                cell,
            });
        }
        Ok((versions, runs))
    }
}
