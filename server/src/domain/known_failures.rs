//! Known failures: failures accepted for now, declared like expected failures in a test runner
//! (`catalog/known_failures.yaml`). Each names a scenario (and optionally some of its variants), why
//! it fails and who owns the fix. `farm run` reports them apart and they do not fail it; one that
//! starts passing is reported too, so the list cannot silently go stale. The gate is not told about
//! them: a release is judged on what the stack does.

use std::collections::BTreeSet;

use serde::Deserialize;

use scenario_dsl::diagnostic::did_you_mean;

use super::gate::{located, PolicyError};
use super::report::RunRecord;

/// One accepted failure.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownFailure {
    /// The scenario id.
    pub scenario: String,
    /// Variant keys (or their first 8 or more hex digits); absent: every variant of the scenario.
    #[serde(default)]
    pub variants: Vec<String>,
    /// Why it fails, in a sentence.
    pub reason: String,
    /// Who owns the fix (a person or a team).
    pub owner: String,
}

/// The declared list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownFailures {
    /// The entries.
    pub known_failures: Vec<KnownFailure>,
}

/// How a run compares with the declared list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// Passed and was not declared.
    Passed,
    /// Did not pass and was not declared: a failure that counts.
    Failed,
    /// Did not pass, as declared.
    KnownFailure,
    /// Declared as failing but passed: remove it from the list.
    NowPassing,
}

impl KnownFailures {
    /// Parses the file; unknown keys, missing reasons or owners, and scenario ids the catalog does
    /// not have (when `scenario_ids` is given) are refused with their line and column (with a
    /// did-you-mean for a misspelt id).
    pub fn parse(file: &str, text: &str, scenario_ids: Option<&BTreeSet<String>>) -> Result<Self, PolicyError> {
        let parsed: KnownFailures = serde_yaml::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            PolicyError { file: file.to_owned(), line, column, message: e.to_string() }
        })?;
        for k in &parsed.known_failures {
            if let Some(scenario_ids) = scenario_ids.filter(|ids| !ids.contains(&k.scenario)) {
                let hint = did_you_mean(&k.scenario, scenario_ids.iter().map(String::as_str))
                    .map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
                return Err(located(
                    file,
                    text,
                    "- scenario",
                    &k.scenario,
                    format!("unknown scenario `{}`{hint}", k.scenario),
                ));
            }
            for v in &k.variants {
                if v.len() < 8 || !v.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(located(
                        file,
                        text,
                        "variants",
                        v,
                        format!("`{v}` is not a variant key (8 to 32 hex digits of one)"),
                    ));
                }
            }
            for (field, value) in [("reason", &k.reason), ("owner", &k.owner)] {
                if value.trim().is_empty() {
                    return Err(located(
                        file,
                        text,
                        field,
                        field,
                        format!("known failure of `{}` needs a {field}", k.scenario),
                    ));
                }
            }
        }
        Ok(parsed)
    }

    /// The entry that covers `record`, if any.
    pub fn covering(&self, record: &RunRecord) -> Option<&KnownFailure> {
        self.known_failures.iter().find(|k| {
            k.scenario == record.scenario
                && (k.variants.is_empty() || k.variants.iter().any(|v| record.key.starts_with(v.as_str())))
        })
    }

    /// How `record` stands against the list.
    pub fn classify(&self, record: &RunRecord) -> Expectation {
        let passed = record.verdict == sim_core::Verdict::Passed;
        match (passed, self.covering(record).is_some()) {
            (true, false) => Expectation::Passed,
            (false, false) => Expectation::Failed,
            (false, true) => Expectation::KnownFailure,
            (true, true) => Expectation::NowPassing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> BTreeSet<String> {
        ["urban.pedestrian_group", "highway.cut_in"].map(str::to_owned).into()
    }

    #[test]
    fn a_misspelt_scenario_an_unknown_key_or_a_missing_owner_is_refused_where_it_is() {
        let e = KnownFailures::parse(
            "k.yaml",
            "known_failures:\n  - scenario: urban.pedestrian_grup\n    reason: x\n    owner: y\n",
            Some(&ids()),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "k.yaml:2:15: unknown scenario `urban.pedestrian_grup`; did you mean `urban.pedestrian_group`?");
        let e = KnownFailures::parse(
            "k.yaml",
            "known_failures:\n  - scenario: highway.cut_in\n    reason: x\n    owner: y\n    ownr: z\n",
            Some(&ids()),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("k.yaml:5:5: known_failures[0]: unknown field `ownr`"), "{e}");
        let e = KnownFailures::parse(
            "k.yaml",
            "known_failures:\n  - scenario: highway.cut_in\n    reason: x\n",
            Some(&ids()),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("missing field `owner`"), "{e}");
    }
}
