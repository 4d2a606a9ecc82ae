//! API tokens: minting (printed once, stored hashed), listing and revoking, each write audited.
//! The CLI and the admin API both come here.

use super::UseCaseError;
use crate::infra::clock::now_ms;
use crate::infra::store::access::{self, Revoked, TokenInfo, ROLES};
use crate::infra::store::Store;

/// Mints a token with `role`; returns the token (the only time it exists in clear).
pub async fn create(store: &Store, role: &str, actor: &str) -> Result<String, UseCaseError> {
    if !ROLES.contains(&role) {
        return Err(UseCaseError::invalid(
            "invalid_role",
            format!("unknown role `{role}`; use one of {}", ROLES.join(", ")),
        ));
    }
    let token = format!("sf_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    access::create_token(store, &token, role, now_ms()).await?;
    let id: String = access::token_hash(&token).chars().take(access::TOKEN_ID_LEN).collect();
    access::audit(store, now_ms(), actor, "create_token", &id, role).await?;
    Ok(token)
}

/// Every token (never the token itself).
pub async fn list(store: &Store) -> Result<Vec<TokenInfo>, UseCaseError> {
    Ok(access::list_tokens(store).await?)
}

/// Revokes a token by its public id; from then on it gets 401.
pub async fn revoke(store: &Store, id: &str, actor: &str) -> Result<(), UseCaseError> {
    match access::revoke_token(store, id, now_ms()).await? {
        Revoked::Now => {
            access::audit(store, now_ms(), actor, "revoke_token", id, "").await?;
            Ok(())
        }
        Revoked::Already => Ok(()),
        Revoked::Unknown => Err(UseCaseError::not_found(format!("token `{id}`"))),
    }
}
