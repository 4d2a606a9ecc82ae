//! Why a use case could not do what was asked, in terms a transport maps to its own form (an HTTP
//! problem document with a stable code, a CLI message and exit code). Internal details are logged
//! where they happen and never carried to the client.

use crate::infra::store::StoreError;

/// A use case's failure.
#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request is well-formed but cannot be done (422): a stable code and a message.
    #[error("{detail}")]
    Invalid {
        /// Stable code, e.g. `unknown_scenario`.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The request conflicts with the state (409).
    #[error("{detail}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// What conflicts.
        detail: String,
    },
    /// The results database failed.
    #[error("the results database is unavailable")]
    Store(#[from] StoreError),
    /// The farm itself failed (500): a stable code and a message safe to show.
    #[error("{detail}")]
    Internal {
        /// Stable code.
        code: &'static str,
        /// What failed.
        detail: String,
    },
}

impl UseCaseError {
    /// 404 for `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        UseCaseError::NotFound(what.into())
    }

    /// 422 with a code.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        UseCaseError::Invalid { code, detail: detail.into() }
    }
}
