//! Bearer-token authorisation: 401 without a valid token, 403 with a role that may not do this.

use axum::http::{HeaderMap, StatusCode};

use super::error::ApiError;
use crate::infra::store::{access, Store};

/// The role of the request's bearer token, if it is one of `allowed` (admin may do anything).
pub async fn require(store: &Store, headers: &HeaderMap, allowed: &[&str]) -> Result<String, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this request needs `Authorization: Bearer <token>`",
            )
        })?;
    let role = access::role_of(store, token)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "unknown or revoked token"))?;
    if role == "admin" || allowed.contains(&role.as_str()) {
        Ok(role)
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("a `{role}` token may not do this; it needs one of: {}", allowed.join(", ")),
        ))
    }
}
