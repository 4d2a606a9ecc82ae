//! Token administration (role admin): list tokens (never the tokens themselves) and revoke one.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;

use super::dto::TokenList;
use super::error::ApiError;
use super::{auth, Shared};
use crate::usecases::tokens;

/// `GET /api/v1/tokens` (role admin).
pub async fn list(State(state): State<Shared>, headers: HeaderMap) -> Result<Json<TokenList>, ApiError> {
    auth::require(&state.farm.store, &headers, &["admin"]).await?;
    Ok(Json(TokenList { tokens: tokens::list(&state.farm.store).await? }))
}

/// `DELETE /api/v1/tokens/{id}` (role admin): the token gets 401 from then on.
pub async fn revoke(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let role = auth::require(&state.farm.store, &headers, &["admin"]).await?;
    tokens::revoke(&state.farm.store, &id, &role).await?;
    Ok(StatusCode::NO_CONTENT)
}
