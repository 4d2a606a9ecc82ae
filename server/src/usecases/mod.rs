//! Use cases: what the farm does for its users, one function per action, shared by every transport
//! (the HTTP API, the CLI, the web UI). Each combines the pure domain with infrastructure
//! (the store, the signing key) and returns domain values or a [`UseCaseError`]; transports only
//! extract their input and map the result.
//!
//! Imports `domain` and `infra`, never a transport (held by `tests/tidy.rs`).

pub mod browse;
pub mod candidates;
pub mod error;
pub mod evidence;
pub mod local;
pub mod runs;
pub mod tokens;

use std::sync::Arc;

use crate::domain::catalog::CatalogIndex;
use crate::domain::gate::GatePolicy;
use crate::infra::store::Store;

pub use error::UseCaseError;

/// What the use cases work with: the store, the loaded catalog, the gate policy and the farm's keys.
pub struct Farm {
    /// The results database.
    pub store: Store,
    /// The loaded catalog.
    pub catalog: Arc<CatalogIndex>,
    /// The gate policy.
    pub gate: GatePolicy,
    /// The farm's key for signing evidence packs.
    pub signing_key: ed25519_dalek::SigningKey,
    /// The public keys of signing keys retired by a rotation, published beside the current one.
    pub past_keys: Vec<crate::domain::evidence::PastKey>,
}
