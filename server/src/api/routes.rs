//! The route table: every operation of the HTTP API with its method, path, handler and the facts
//! the OpenAPI document states about it. The router and the document are both built from this one
//! list, so they cannot drift apart.

use axum::http::Method;
use axum::routing::{delete, get, post, MethodRouter};
use schemars::SchemaGenerator;
use serde_json::{json, Value};

use super::dto::*;
use super::openapi::{json_content, schema};
use super::{candidates, health, openapi, runs, scenarios, tokens, Shared};

/// One operation.
pub struct Operation {
    /// HTTP method.
    pub method: Method,
    /// Path template, axum syntax (`{id}`), which is also OpenAPI's.
    pub path: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// Role a bearer token needs (admin may do anything).
    pub role: Option<&'static str>,
    /// Request body: content type and schema.
    pub body: Option<(&'static str, Value)>,
    /// Success status and content.
    pub ok: (u16, Value),
    /// Parameters: name, place (path, query, header), description.
    pub params: &'static [(&'static str, &'static str, &'static str)],
    /// The handler.
    pub handler: MethodRouter<Shared>,
}

const ID: &[(&str, &str, &str)] = &[("id", "path", "Candidate or run id")];

/// Every operation, in the order the document lists them.
pub fn operations(g: &mut SchemaGenerator) -> Vec<Operation> {
    vec![
        Operation {
            method: Method::POST,
            path: "/api/v1/candidates",
            summary: "Post a release candidate; its runs are enqueued. Idempotent with `Idempotency-Key` (or same name and configuration).",
            role: Some("ci"),
            body: Some(("application/json", schema::<CandidateRequest>(g))),
            ok: (201, json_content(schema::<CandidateCreated>(g))),
            params: &[("Idempotency-Key", "header", "Makes retries safe")],
            handler: post(candidates::create),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/candidates",
            summary: "The newest candidates.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<CandidateList>(g))),
            params: &[],
            handler: get(candidates::list),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/candidates/{id}",
            summary: "Status, counts, pass rates overall and per tag, latency, deadline-miss rate and, when done, the gate (decided once, then stored).",
            role: None,
            body: None,
            ok: (200, json_content(schema::<CandidateDetail>(g))),
            params: ID,
            handler: get(candidates::detail),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/candidates/{id}/runs",
            summary: "A candidate's runs in queue order, filtered and paginated.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<RunPage>(g))),
            params: &[
                ("id", "path", "Candidate id"),
                ("status", "query", "queued, running, passed, failed, error or timeout"),
                ("tag", "query", "Scenario tag"),
                ("scenario", "query", "Scenario id"),
                ("cursor", "query", "next_cursor of the previous page"),
                ("limit", "query", "Page size, 1..=500 (default 100)"),
            ],
            handler: get(candidates::runs),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/candidates/{id}/junit.xml",
            summary: "JUnit XML of the finished runs (xUnit junit-10.xsd).",
            role: None,
            body: None,
            ok: (200, json!({ "application/xml": { "schema": { "type": "string" } } })),
            params: ID,
            handler: get(candidates::junit),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/candidates/{id}/compare",
            summary: "Paired comparison with a baseline: flips, Wilson intervals, McNemar test, metric deltas.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<crate::domain::compare::Comparison>(g))),
            params: &[
                ("id", "path", "Candidate id"),
                ("baseline", "query", "Baseline name (default: named at posting, else the last candidate whose gate passed)"),
            ],
            handler: get(candidates::compare),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/candidates/{id}/coverage",
            summary: "ODD coverage: cells exercised and passed, holes, and a pass-rate heatmap over two dimensions.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<crate::domain::coverage::Coverage>(g))),
            params: &[
                ("id", "path", "Candidate id"),
                ("x", "query", "Heatmap column dimension"),
                ("y", "query", "Heatmap row dimension"),
            ],
            handler: get(candidates::coverage),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/candidates/{id}/evidence",
            summary: "The signed evidence pack (zip): summary, report, JUnit, runs, coverage, comparison, failures, provenance, manifest and signature.",
            role: Some("release"),
            body: None,
            ok: (200, json!({ "application/zip": { "schema": { "type": "string", "format": "binary" } } })),
            params: ID,
            handler: get(candidates::evidence),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/keys",
            summary: "The farm's Ed25519 public key (hex) that signs evidence packs.",
            role: None,
            body: None,
            ok: (200, json_content(json!({ "type": "object", "properties": { "ed25519": { "type": "string" } } }))),
            params: &[],
            handler: get(health::keys),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/runs/{id}",
            summary: "One run with its full result.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<RunDetail>(g))),
            params: ID,
            handler: get(runs::detail),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/runs/{id}/trace",
            summary: "The run's trace: stored for failures, re-simulated and digest-checked for passes (header `x-trace-source`: stored or resimulated).",
            role: None,
            body: None,
            ok: (200, json_content(json!({ "type": "object" }))),
            params: ID,
            handler: get(runs::trace),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/runs/{id}/trace.mcap",
            summary: "The run's trace as an MCAP file for Foxglove: boxes (foxglove.SceneUpdate), the ego's frame (foxglove.FrameTransform), events and the verdict (foxglove.Log), numeric topics for plots; stored or re-simulated like `/trace` (header `x-trace-source`).",
            role: None,
            body: None,
            ok: (200, json!({ runs::MCAP_MEDIA_TYPE: { "schema": { "type": "string", "format": "binary" } } })),
            params: ID,
            handler: get(runs::trace_mcap),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/scenarios",
            summary: "The loaded catalog.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<ScenarioList>(g))),
            params: &[],
            handler: get(scenarios::list),
        },
        Operation {
            method: Method::POST,
            path: "/api/v1/scenarios/validate",
            summary: "Validate a scenario file (the body is its text); the same diagnostics as `farm lint --json`.",
            role: None,
            body: Some(("text/yaml", json!({ "type": "string" }))),
            ok: (200, json_content(schema::<LintReport>(g))),
            params: &[("file", "query", "File name to report diagnostics against")],
            handler: post(scenarios::validate),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/tokens",
            summary: "Every API token (id, role, creation, revocation; never the token).",
            role: Some("admin"),
            body: None,
            ok: (200, json_content(schema::<TokenList>(g))),
            params: &[],
            handler: get(tokens::list),
        },
        Operation {
            method: Method::DELETE,
            path: "/api/v1/tokens/{id}",
            summary: "Revoke a token by its id: it gets 401 from then on.",
            role: Some("admin"),
            body: None,
            ok: (204, Value::Null),
            params: &[("id", "path", "Token id (16 hex digits, from GET /api/v1/tokens)")],
            handler: delete(tokens::revoke),
        },
        Operation {
            method: Method::GET,
            path: "/healthz",
            summary: "The process is up; its version and git commit.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<Health>(g))),
            params: &[],
            handler: get(health::healthz),
        },
        Operation {
            method: Method::GET,
            path: "/readyz",
            summary: "The database is reachable.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<Health>(g))),
            params: &[],
            handler: get(health::readyz),
        },
        Operation {
            method: Method::GET,
            path: "/metrics",
            summary: "Prometheus metrics.",
            role: None,
            body: None,
            ok: (200, json!({ "text/plain": { "schema": { "type": "string" } } })),
            params: &[],
            handler: get(health::metrics),
        },
        Operation {
            method: Method::GET,
            path: "/openapi.json",
            summary: "This document.",
            role: None,
            body: None,
            ok: (200, json_content(json!({ "type": "object" }))),
            params: &[],
            handler: get(openapi::serve),
        },
    ]
}
