//! Token administration (role admin): list tokens (never the tokens themselves) and revoke one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::Caller;
use super::dto::TokenList;
use super::error::ApiError;
use super::Shared;
use crate::usecases::tokens;

/// `GET /api/v1/tokens` (role admin).
pub async fn list(State(state): State<Shared>) -> Result<Json<TokenList>, ApiError> {
    Ok(Json(TokenList { tokens: tokens::list(&state.farm.store).await? }))
}

/// `DELETE /api/v1/tokens/{id}` (role admin): the token gets 401 from then on.
pub async fn revoke(
    State(state): State<Shared>,
    Extension(Caller(role)): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    tokens::revoke(&state.farm.store, &id, &role).await?;
    Ok(StatusCode::NO_CONTENT)
}
