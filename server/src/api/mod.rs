//! The HTTP API (v1, JSON): a router over shared state, thin handlers that extract, call one
//! function and map the result, problem documents for every error, and metrics per route template.

pub mod auth;
pub mod candidates;
pub mod dto;
pub mod error;
pub mod health;
pub mod openapi;
pub mod routes;
pub mod runs;
pub mod scenarios;
pub mod tokens;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::http::Uri;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use serde::de::DeserializeOwned;

use crate::infra::metrics::Metrics;
use crate::usecases::Farm;
use error::ApiError;

/// Largest accepted request body, bytes.
pub const BODY_LIMIT: usize = 2 << 20;

/// What every handler can reach: the use cases' context and the metrics.
pub struct AppState {
    /// Store, catalog, gate policy and signing key.
    pub farm: Farm,
    /// Metrics.
    pub metrics: Metrics,
    /// The embedded workers' loop, when this process runs one (`/healthz` fails once it ended).
    pub worker: Option<Arc<crate::infra::worker::Liveness>>,
    /// Permits for scenario validations running at once.
    pub validations: Arc<tokio::sync::Semaphore>,
    /// Rate of validations by callers without a token (all of them together).
    pub anonymous_validations: Arc<governor::DefaultDirectRateLimiter>,
}

impl AppState {
    /// The state of a server: the use cases' context, metrics, and the embedded workers' liveness.
    pub fn new(farm: Farm, metrics: Metrics, worker: Option<Arc<crate::infra::worker::Liveness>>) -> Self {
        let validations = Arc::new(tokio::sync::Semaphore::new(scenarios::CONCURRENT_VALIDATIONS));
        let anonymous_validations = Arc::new(governor::RateLimiter::direct(scenarios::anonymous_quota()));
        Self { farm, metrics, worker, validations, anonymous_validations }
    }
}

/// Shared state.
pub type Shared = Arc<AppState>;

/// The whole API, built from the route table (`routes::operations`) the OpenAPI document is built from.
pub fn router(state: Shared) -> Router {
    let mut generator = schemars::SchemaGenerator::default();
    let mut router = Router::new();
    for op in routes::operations(&mut generator) {
        let handler = match op.role {
            // Authorisation runs before the handler's extractors: a write without a valid token
            // gets 401 before its body is read.
            Some(role) => {
                op.handler.route_layer(middleware::from_fn_with_state((state.clone(), role), auth::require_role))
            }
            None => op.handler,
        };
        router = router.route(op.path, handler);
    }
    // The web UI's pages (not API operations, so not in the route table or the OpenAPI document).
    router = router.merge(crate::ui::routes());
    router
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take this method",
            )
        })
        .layer(middleware::map_response(error::as_problem))
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The span of one HTTP request. It continues the caller's trace when the request carries a W3C
/// `traceparent` (CI posting a candidate from a traced pipeline), so a candidate's trace starts
/// where its caller's is; that only matters while spans are exported (`infra::telemetry`).
fn request_span(request: &Request) -> tracing::Span {
    let span = tracing::info_span!("request", method = %request.method(), path = %request.uri().path());
    let traceparent = request.headers().get("traceparent").and_then(|v| v.to_str().ok());
    crate::infra::telemetry::continue_trace(&span, traceparent);
    span
}

/// A query string decoded into `T`, or a 400 problem document.
pub(crate) fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    axum::extract::Query::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
}

async fn count_requests(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state.metrics.http_seconds.with_label_values(&[route.as_str()]).observe(started.elapsed().as_secs_f64());
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
