//! "The variant with this key, from this stored scenario text": the one way a worker, a trace
//! re-simulation and an evidence check turn what the farm stored back into a runnable variant.

use scenario_dsl::{ValidScenario, Variant, VariantKey};

/// Why a stored variant cannot be rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariantError {
    /// The stored text no longer parses (the language changed incompatibly, or the text is corrupt).
    #[error("stored scenario {file} no longer parses: {first_error}")]
    Unparsable {
        /// The file name it was stored under.
        file: String,
        /// The first error diagnostic.
        first_error: String,
    },
    /// The text parses, but none of its variants has this key.
    #[error("variant {key} is not in scenario {scenario}")]
    NotInScenario {
        /// The key asked for.
        key: VariantKey,
        /// The scenario's id.
        scenario: String,
    },
}

/// Parses a stored scenario version.
pub fn scenario_from_text(file: &str, text: &str) -> Result<ValidScenario, VariantError> {
    let parsed = scenario_dsl::parse(file, text);
    parsed.scenario.ok_or_else(|| VariantError::Unparsable {
        file: file.to_owned(),
        first_error: parsed
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .map_or_else(|| "no scenario".to_owned(), |d| format!("{}:{}: {}", d.line, d.column, d.message)),
    })
}

/// The variant of `scenario` with `key`.
pub fn variant_by_key(scenario: &ValidScenario, key: &VariantKey) -> Result<Variant, VariantError> {
    scenario
        .variants()
        .iter()
        .find(|v| v.key == *key)
        .cloned()
        .ok_or_else(|| VariantError::NotInScenario { key: key.clone(), scenario: scenario.id().to_owned() })
}

/// The variant with `key` from a stored scenario text.
pub fn variant_from_text(file: &str, text: &str, key: &VariantKey) -> Result<Variant, VariantError> {
    variant_by_key(&scenario_from_text(file, text)?, key)
}
