//! The HTTP API (v1, JSON): a router over shared state, thin handlers that extract, call one
//! function and map the result, problem documents for every error, and metrics per route template.

pub mod auth;
pub mod candidates;
pub mod dto;
pub mod error;
pub mod health;
pub mod openapi;
pub mod runs;
pub mod scenarios;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;

use crate::catalog_index::CatalogIndex;
use crate::gate::GatePolicy;
use crate::metrics::Metrics;
use crate::store::Store;
use error::ApiError;

/// Largest accepted request body, bytes.
pub const BODY_LIMIT: usize = 2 << 20;

/// What every handler can reach.
pub struct AppState {
    /// The results database.
    pub store: Store,
    /// The loaded catalog.
    pub catalog: Arc<CatalogIndex>,
    /// The gate policy.
    pub gate: GatePolicy,
    /// Metrics.
    pub metrics: Metrics,
    /// The farm's key for signing evidence packs.
    pub signing_key: ed25519_dalek::SigningKey,
}

/// Shared state.
pub type Shared = Arc<AppState>;

/// The whole API.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/v1/candidates", post(candidates::create).get(candidates::list))
        .route("/api/v1/candidates/{id}", get(candidates::detail))
        .route("/api/v1/candidates/{id}/runs", get(candidates::runs))
        .route("/api/v1/candidates/{id}/junit.xml", get(candidates::junit))
        .route("/api/v1/candidates/{id}/compare", get(candidates::compare))
        .route("/api/v1/candidates/{id}/coverage", get(candidates::coverage))
        .route("/api/v1/candidates/{id}/evidence", get(candidates::evidence))
        .route("/api/v1/keys", get(health::keys))
        .route("/api/v1/runs/{id}", get(runs::detail))
        .route("/api/v1/runs/{id}/trace", get(runs::trace))
        .route("/api/v1/scenarios", get(scenarios::list))
        .route("/api/v1/scenarios/validate", post(scenarios::validate))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::serve))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn count_requests(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics.http_requests.with_label_values(&[route.as_str(), response.status().as_str()]).inc();
    response
}

/// A JSON body whose every rejection is a problem document.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as `Content-Type: application/json`",
            )),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::bad_request("invalid_json", e.body_text())),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::unprocessable("invalid_body", e.body_text())),
            Err(JsonRejection::BytesRejection(e)) => Err(ApiError::new(e.status(), "payload_too_large", e.body_text())),
            Err(e) => Err(ApiError::bad_request("invalid_body", e.body_text())),
        }
    }
}
