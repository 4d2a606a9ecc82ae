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
    /// Other success statuses with the same content, and what they mean.
    pub also: &'static [(u16, &'static str)],
    /// Parameters: name, place (path, query, header), description, JSON Schema.
    pub params: &'static [Param],
    /// The handler.
    pub handler: MethodRouter<Shared>,
}

/// One parameter: name, place (path, query or header), description, and its schema as JSON text.
pub type Param = (&'static str, &'static str, &'static str, &'static str);

const UUID: &str = r#"{"type": "string", "format": "uuid"}"#;
const TEXT: &str = r#"{"type": "string"}"#;
const ID: &[Param] = &[("id", "path", "Candidate or run id", UUID)];

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
            also: &[(200, "A retry of an earlier post (same Idempotency-Key, or same name and configuration): the earlier candidate")],
            params: &[("Idempotency-Key", "header", "Makes retries safe", TEXT)],
            handler: post(candidates::create),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/candidates",
            summary: "The newest candidates.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<CandidateList>(g))),
            also: &[],
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
            also: &[],
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
            also: &[],
            params: &[
                ("id", "path", "Candidate id", UUID),
                (
                    "status",
                    "query",
                    "queued, running, passed, failed, error or timeout",
                    r#"{"type": "string", "enum": ["queued", "running", "passed", "failed", "error", "timeout", "inconclusive"]}"#,
                ),
                ("tag", "query", "Scenario tag", TEXT),
                ("scenario", "query", "Scenario id", TEXT),
                ("cursor", "query", "next_cursor of the previous page", r#"{"type": "string", "pattern": "^-?[0-9]{1,18}$"}"#),
                ("limit", "query", "Page size, 1..=500 (default 100)", r#"{"type": "integer", "minimum": 1, "maximum": 500}"#),
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
            also: &[],
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
            also: &[],
            params: &[
                ("id", "path", "Candidate id", UUID),
                (
                    "baseline",
                    "query",
                    "Baseline name (default: named at posting, else the last candidate whose gate passed)",
                    TEXT,
                ),
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
            also: &[],
            params: &[
                ("id", "path", "Candidate id", UUID),
                ("x", "query", "Heatmap column dimension (default: the first dimension other than y)", TEXT),
                ("y", "query", "Heatmap row dimension (default: the first dimension other than x)", TEXT),
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
            also: &[],
            params: ID,
            handler: get(candidates::evidence),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/keys",
            summary: "The farm's Ed25519 public key (hex) that signs evidence packs, and the retired keys that signed packs before a rotation.",
            role: None,
            body: None,
            ok: (
                200,
                json_content(json!({
                    "type": "object",
                    "required": ["ed25519", "past"],
                    "properties": {
                        "ed25519": { "type": "string" },
                        "past": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["ed25519", "note"],
                                "properties": { "ed25519": { "type": "string" }, "note": { "type": "string" } }
                            }
                        }
                    }
                })),
            ),
            also: &[],
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
            also: &[],
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
            also: &[],
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
            also: &[],
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
            also: &[],
            params: &[],
            handler: get(scenarios::list),
        },
        Operation {
            method: Method::POST,
            path: "/api/v1/scenarios/validate",
            summary: "Validate a scenario file (the body is its text); the same diagnostics as `farm lint --json`.",
            role: None,
            // Any text is a YAML document to check; what it should hold is the diagnostics' business.
            body: Some(("text/yaml", json!({ "description": "The scenario file's text" }))),
            ok: (200, json_content(schema::<LintReport>(g))),
            also: &[],
            params: &[("file", "query", "File name to report diagnostics against", TEXT)],
            handler: post(scenarios::validate),
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/tokens",
            summary: "Every API token (id, role, creation, revocation; never the token).",
            role: Some("admin"),
            body: None,
            ok: (200, json_content(schema::<TokenList>(g))),
            also: &[],
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
            also: &[],
            params: &[(
                "id",
                "path",
                "Token id (16 hex digits, from GET /api/v1/tokens)",
                r#"{"type": "string", "pattern": "^[0-9a-f]{16}$"}"#,
            )],
            handler: delete(tokens::revoke),
        },
        Operation {
            method: Method::GET,
            path: "/healthz",
            summary: "The process is up; its version and git commit.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<Health>(g))),
            also: &[],
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
            also: &[],
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
            also: &[],
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
            also: &[],
            params: &[],
            handler: get(openapi::serve),
        },
    ]
}
