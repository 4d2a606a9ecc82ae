//! Configuration files on disk: a stack configuration override and the gate policy. Reading is
//! here; parsing and checking are the domain's.

use std::collections::BTreeSet;
use std::path::Path;

use autonomy_stack::StackConfig;

use crate::domain::gate::{GatePolicy, PolicyError};
use crate::domain::stack_config::{parse_override, StackConfigError};

/// Why a configuration file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A stack configuration override is invalid.
    #[error("{path}: {source}")]
    StackConfig {
        /// The file.
        path: String,
        /// What is wrong.
        source: StackConfigError,
    },
    /// A gate policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

fn read(path: &Path) -> Result<String, ConfigFileError> {
    std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read { path: path.display().to_string(), source })
}

/// Reads and parses a stack configuration override file.
pub fn load_stack_config(path: &Path) -> Result<StackConfig, ConfigFileError> {
    parse_override(&read(path)?)
        .map_err(|source| ConfigFileError::StackConfig { path: path.display().to_string(), source })
}

/// Reads and parses a gate policy without checking the tags it names (for a run of part of a
/// catalog, which does not load every tag).
pub fn parse_gate_policy(path: &Path) -> Result<GatePolicy, ConfigFileError> {
    Ok(GatePolicy::parse(&path.display().to_string(), &read(path)?)?)
}

/// Reads a gate policy and checks the tags and modules it names against `known_tags` and the stack.
pub fn load_gate_policy(path: &Path, known_tags: &BTreeSet<String>) -> Result<GatePolicy, ConfigFileError> {
    let text = read(path)?;
    let file = path.display().to_string();
    let policy = GatePolicy::parse(&file, &text)?;
    policy.check(&file, &text, known_tags)?;
    Ok(policy)
}

/// Reads the declared known failures and checks every scenario id against `scenario_ids` (when
/// given: a run of part of a catalog cannot tell a misspelt id from one it did not load).
pub fn load_known_failures(
    path: &Path,
    scenario_ids: Option<&BTreeSet<String>>,
) -> Result<crate::domain::known_failures::KnownFailures, ConfigFileError> {
    let text = read(path)?;
    Ok(crate::domain::known_failures::KnownFailures::parse(&path.display().to_string(), &text, scenario_ids)?)
}
