//! A release candidate: what CI posts (name, stack configuration, suite, baseline) and what the farm
//! keeps about it, including the gate verdict frozen when its last run finished.

use sha2::{Digest, Sha256};

use autonomy_stack::StackConfig;

use super::catalog::Suite;
use super::gate::Gate;
use super::ids::CandidateId;

/// What a new candidate carries, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCandidate {
    /// Name, e.g. `stack-2.4.0-rc1`.
    pub name: String,
    /// Git commit of the stack, if known.
    pub git_sha: Option<String>,
    /// The effective stack configuration.
    pub stack_config: StackConfig,
    /// SHA-256 (hex) of the configuration's canonical JSON: same configuration, same hash.
    pub config_hash: String,
    /// The selected suite.
    pub suite: Suite,
    /// Baseline candidate name.
    pub baseline: Option<String>,
    /// Client-chosen key that makes retries safe.
    pub idempotency_key: Option<String>,
    /// The W3C `traceparent` of the request that posted it, when traces are exported: the workers
    /// that run its variants continue this trace.
    pub traceparent: Option<String>,
}

impl NewCandidate {
    /// A candidate with its configuration hash computed.
    pub fn new(name: &str, git_sha: Option<String>, stack_config: StackConfig, suite: Suite) -> Self {
        let config_hash = config_hash(&stack_config);
        Self {
            name: name.to_owned(),
            git_sha,
            stack_config,
            config_hash,
            suite,
            baseline: None,
            idempotency_key: None,
            traceparent: None,
        }
    }
}

/// SHA-256 (hex) of a configuration's canonical JSON (serde's field order, which is fixed).
pub fn config_hash(config: &StackConfig) -> String {
    let json = serde_json::to_vec(config).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// A stored candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Id.
    pub id: CandidateId,
    /// Name.
    pub name: String,
    /// Configuration hash.
    pub config_hash: String,
    /// Whether every run has been enqueued.
    pub expanded: bool,
    /// Runs enqueued.
    pub runs_total: i64,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Git commit of the stack.
    pub git_sha: Option<String>,
    /// Baseline candidate name, as posted.
    pub baseline: Option<String>,
    /// The selected suite.
    pub suite: Suite,
    /// The gate verdict, stored once when the last run finished (and never re-decided).
    pub gate: Option<Gate>,
}
