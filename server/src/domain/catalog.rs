//! The catalog as the service holds it: loaded once at start-up, and the one place that turns a
//! candidate's suite selection into the runs to enqueue.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use scenario_dsl::{Catalog, SourceFile, ValidScenario};

use crate::store::candidates::{PlannedRun, ScenarioVersion};

/// Which part of the catalog a candidate runs: every scenario matching any tag and any listed id
/// (an empty list does not restrict).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Scenario tags (domain and severity count as tags).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Scenario ids.
    #[serde(default)]
    pub scenarios: Vec<String>,
}

/// Why a suite cannot be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SuiteError {
    /// A listed scenario does not exist.
    #[error("unknown scenario `{0}`")]
    UnknownScenario(String),
    /// Nothing matches.
    #[error("the suite selects no scenario")]
    Empty,
}

/// The loaded catalog with its source texts.
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

    /// The scenarios a suite selects, in catalog order.
    pub fn select(&self, suite: &Suite) -> Result<Vec<&ValidScenario>, SuiteError> {
        if let Some(missing) =
            suite.scenarios.iter().find(|id| !self.catalog.scenarios.iter().any(|s| s.id() == id.as_str()))
        {
            return Err(SuiteError::UnknownScenario(missing.clone()));
        }
        let picked: Vec<&ValidScenario> = self
            .catalog
            .scenarios
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

    /// The scenario versions and runs a suite means.
    pub fn plan(&self, suite: &Suite) -> Result<(Vec<ScenarioVersion>, Vec<PlannedRun>), SuiteError> {
        let mut versions = Vec::new();
        let mut runs = Vec::new();
        for s in self.select(suite)? {
            let body = self.files.get(s.file()).map(|f| f.text.clone()).unwrap_or_default();
            versions.push(ScenarioVersion {
                content_hash: s.content_hash().hex(),
                scenario_id: s.id().to_owned(),
                file: s.file().to_owned(),
                body,
            });
            let tags = serde_json::to_string(&s.template().metadata.all_tags()).unwrap_or_else(|_| "[]".into());
            for v in s.variants() {
                let cell = self
                    .catalog
                    .odd
                    .as_ref()
                    .and_then(|o| o.cell(v).ok())
                    .map_or_else(|| "{}".to_owned(), |c| serde_json::to_string(&c).unwrap_or_else(|_| "{}".into()));
                runs.push(PlannedRun {
                    cell,
                    variant_key: v.key.to_string(),
                    scenario_id: s.id().to_owned(),
                    content_hash: s.content_hash().hex(),
                    ord: runs.len() as i64,
                    tags: tags.clone(),
                });
            }
        }
        Ok((versions, runs))
    }
}
