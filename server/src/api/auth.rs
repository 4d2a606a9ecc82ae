//! Bearer-token authorisation, checked before anything else of a write is read: 401 without a
//! valid token (the scheme is case-insensitive, as RFC 9110 says), 403 with a role that may not do
//! this. The route table names each operation's role; `router` puts [`require_role`] in front of
//! the handler, which finds the caller's role as a [`Caller`] extension.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::Shared;
use crate::infra::store::{access, Store};

/// The role of the request's token, for handlers behind [`require_role`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

/// The token of an `Authorization: Bearer <token>` header (scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The role of the request's bearer token, if it is one of `allowed` (admin may do anything).
pub async fn require(store: &Store, headers: &HeaderMap, allowed: &[&str]) -> Result<String, ApiError> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "this request needs `Authorization: Bearer <token>`")
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

/// Middleware: the token must carry `role` (or admin) before the body is even read.
pub async fn require_role(
    State((state, role)): State<(Shared, &'static str)>,
    mut request: Request,
    next: Next,
) -> Response {
    match require(&state.farm.store, request.headers(), &[role]).await {
        Ok(caller) => {
            request.extensions_mut().insert(Caller(caller));
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(axum::http::header::AUTHORIZATION, v.parse().unwrap());
            bearer(&h).map(str::to_owned)
        };
        assert_eq!(with("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("BEARER  abc ").as_deref(), Some("abc"));
        assert_eq!(with("Basic abc"), None);
        assert_eq!(with("Bearer "), None);
    }
}
