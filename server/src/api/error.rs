//! API errors as problem documents (RFC 9457): a stable `code` clients can rely on, a message for
//! people, and the HTTP status. Internal details go to the log, never to the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::infra::store::StoreError;
use crate::usecases::UseCaseError;

/// An error the API returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `invalid_stack_config`.
    pub code: &'static str,
    /// What went wrong, for the client.
    pub detail: String,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: &'a str,
}

impl ApiError {
    /// An error with a status, a stable code and a message.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into() }
    }

    /// 400.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    /// 422.
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the results database is unavailable; retry later",
        )
    }
}

impl From<UseCaseError> for ApiError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::NotFound(what) => ApiError::not_found(&what),
            UseCaseError::Invalid { code, detail } => ApiError::unprocessable(code, detail),
            UseCaseError::Conflict { code, detail } => ApiError::new(StatusCode::CONFLICT, code, detail),
            UseCaseError::Store(e) => e.into(),
            UseCaseError::Internal { code, detail } => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: format!("https://scenario-farm.dev/problems/{}", self.code),
            title: self.status.canonical_reason().unwrap_or("error"),
            status: self.status.as_u16(),
            code: self.code,
            detail: &self.detail,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        (self.status, [(axum::http::header::CONTENT_TYPE, "application/problem+json")], body).into_response()
    }
}

/// Middleware: an error response that carries no document of its own (axum's own 405, 413, 415
/// or 400 rejections and a layer's refusal come empty or as plain text) becomes a problem
/// document with a stable code by status. Problem documents and the web UI's HTML error pages are
/// left as they are.
pub async fn as_problem(response: Response) -> Response {
    let status = response.status();
    let bare = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !bare {
        return response;
    }
    let (code, detail): (&'static str, &str) = match status {
        StatusCode::NOT_FOUND => ("not_found", "route not found"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this route does not take this method"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "this content type is not accepted here"),
        StatusCode::TOO_MANY_REQUESTS => ("too_many_requests", "too many requests; retry later"),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
        StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "the service is unavailable; retry later"),
        s if s.is_server_error() => ("internal_error", "the farm failed to answer; see its log"),
        _ => ("bad_request", "the request was not understood"),
    };
    let mut problem = ApiError::new(status, code, detail).into_response();
    // Keep headers a client needs (Allow on 405, Retry-After on 429/503).
    for name in [axum::http::header::ALLOW, axum::http::header::RETRY_AFTER] {
        if let Some(v) = response.headers().get(&name) {
            problem.headers_mut().insert(name, v.clone());
        }
    }
    problem
}
