//! The web UI: server-rendered HTML pages (maud) over the same use cases as the API, with the
//! stylesheet and the replay's JavaScript embedded in the binary (no CDN: farms are often
//! air-gapped). Reads only, open like the API's reads. Pass and fail are always said in words and
//! symbols, never by colour alone.
//!
//! Pages: `/` candidates, `/candidates/{id}`, `/candidates/{id}/runs` (filtered), `/runs/{id}`
//! (replay and plots),
//! `/runs/{id}/side-by-side` (baseline and candidate in lockstep), `/scenarios`,
//! `/scenarios/{id}`, `/farm` (operators). They are not API operations, so they are not in the
//! OpenAPI document.

mod candidates;
mod farm;
mod format;
mod runs;
mod scenarios;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use crate::api::Shared;
use crate::usecases::UseCaseError;

/// The UI's routes, merged into the API's router (same state, same middleware).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(candidates::list))
        .route("/candidates/{id}", get(candidates::page))
        .route("/candidates/{id}/stack-config.json", get(candidates::stack_config))
        .route("/candidates/{id}/runs", get(candidates::runs))
        .route("/runs/{id}", get(runs::page))
        .route("/runs/{id}/side-by-side", get(runs::side_by_side))
        .route("/scenarios", get(scenarios::list))
        .route("/scenarios/{id}", get(scenarios::page))
        .route("/farm", get(farm::page))
        .route("/ui/assets/{name}", get(asset))
}

const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/ui.js");
const ICON: &str = include_str!("assets/icon.svg");

/// The embedded stylesheet and script (cacheable: their names change with the binary only).
async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        "ui.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "icon.svg" => (ICON, "image/svg+xml"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}

/// Which navigation entry a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Candidates,
    Scenarios,
    Farm,
}

/// The frame every page shares: head, navigation, main.
fn layout(title: &str, section: Section, body: Markup) -> Markup {
    let nav = [
        (Section::Candidates, "/", "Candidates"),
        (Section::Scenarios, "/scenarios", "Scenarios"),
        (Section::Farm, "/farm", "Farm"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Scenario Farm" }
                link rel="icon" href="/ui/assets/icon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/ui/assets/style.css";
                script src="/ui/assets/ui.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "Scenario Farm" }
                    nav aria-label="Main" {
                        @for (s, href, label) in nav {
                            @if s == section { a href=(href) aria-current="page" { (label) } } @else { a href=(href) { (label) } }
                        }
                        a href="/openapi.json" { "API" }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// An error page: what went wrong for the reader, details in the log.
pub(crate) struct PageError(UseCaseError);

impl From<UseCaseError> for PageError {
    fn from(e: UseCaseError) -> Self {
        PageError(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match &self.0 {
            UseCaseError::NotFound(what) => (StatusCode::NOT_FOUND, format!("No such {what}.")),
            UseCaseError::Invalid { detail, .. } => (StatusCode::BAD_REQUEST, detail.clone()),
            UseCaseError::Conflict { detail, .. } => (StatusCode::CONFLICT, detail.clone()),
            e => {
                tracing::error!(error = %e, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The farm could not build this page; the details are in its log.".to_owned(),
                )
            }
        };
        let body = layout(
            status.canonical_reason().unwrap_or("Error"),
            Section::Candidates,
            html! { h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) } p.error { (message) } p { a href="/" { "Back to the candidates" } } },
        );
        (status, body).into_response()
    }
}

/// A page or an error page.
type PageResult = Result<Markup, PageError>;

/// An id from the path, or a 404 page (a malformed id names nothing).
fn parse_id<T>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, crate::domain::ids::InvalidId>,
    what: &str,
) -> Result<T, PageError> {
    parse(text).map_err(|_| PageError(UseCaseError::not_found(what.to_owned())))
}
