//! The OpenAPI document, built from the route table below and the wire types' JSON Schemas
//! (schemars), served at `/openapi.json` and committed as `server/openapi.json`; a test keeps the
//! committed copy equal to this, so every API change shows up in review.

use axum::Json;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::dto::*;

struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    role: Option<&'static str>,
    body: Option<Value>,
    ok: (u16, Value),
    params: &'static [(&'static str, &'static str, &'static str)],
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
    g.subschema_for::<T>().to_value()
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// The whole document.
pub fn document() -> Value {
    let mut g = SchemaSettings::openapi3().into_generator();
    let problem = schema::<ProblemDoc>(&mut g);
    let id = &[("id", "path", "Candidate or run id")];
    let ops = vec![
        Op {
            method: "post",
            path: "/api/v1/candidates",
            summary: "Post a release candidate; its runs are enqueued. Idempotent with `Idempotency-Key` (or same name and configuration).",
            role: Some("ci"),
            body: Some(schema::<CandidateRequest>(&mut g)),
            ok: (201, json_content(schema::<CandidateCreated>(&mut g))),
            params: &[("Idempotency-Key", "header", "Makes retries safe")],
        },
        Op {
            method: "get",
            path: "/api/v1/candidates",
            summary: "The newest candidates.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<CandidateList>(&mut g))),
            params: &[],
        },
        Op {
            method: "get",
            path: "/api/v1/candidates/{id}",
            summary: "Status, counts, pass rates overall and per tag, latency, deadline-miss rate and, when done, the gate.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<CandidateDetail>(&mut g))),
            params: id,
        },
        Op {
            method: "get",
            path: "/api/v1/candidates/{id}/runs",
            summary: "A candidate's runs in queue order, filtered and paginated.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<RunPage>(&mut g))),
            params: &[
                ("id", "path", "Candidate id"),
                ("status", "query", "queued, running, passed, failed, error or timeout"),
                ("tag", "query", "Scenario tag"),
                ("scenario", "query", "Scenario id"),
                ("cursor", "query", "next_cursor of the previous page"),
                ("limit", "query", "Page size, 1..=500 (default 100)"),
            ],
        },
        Op {
            method: "get",
            path: "/api/v1/candidates/{id}/junit.xml",
            summary: "JUnit XML of the finished runs (xUnit junit-10.xsd).",
            role: None,
            body: None,
            ok: (200, json!({ "application/xml": { "schema": { "type": "string" } } })),
            params: id,
        },
        Op {
            method: "get",
            path: "/api/v1/candidates/{id}/compare",
            summary: "Paired comparison with a baseline: flips, Wilson intervals, McNemar test, metric deltas.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<crate::compare::Comparison>(&mut g))),
            params: &[("id", "path", "Candidate id"), ("baseline", "query", "Baseline name (default: named at posting, else the last candidate whose gate passed)")],
        },
        Op {
            method: "get",
            path: "/api/v1/candidates/{id}/coverage",
            summary: "ODD coverage: cells exercised and passed, holes, and a pass-rate heatmap over two dimensions.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<crate::coverage::Coverage>(&mut g))),
            params: &[("id", "path", "Candidate id"), ("x", "query", "Heatmap column dimension"), ("y", "query", "Heatmap row dimension")],
        },
        Op {
            method: "get",
            path: "/api/v1/candidates/{id}/evidence",
            summary: "The signed evidence pack (zip): summary, report, JUnit, runs, coverage, comparison, failures, provenance, manifest and signature.",
            role: Some("release"),
            body: None,
            ok: (200, json!({ "application/zip": { "schema": { "type": "string", "format": "binary" } } })),
            params: id,
        },
        Op {
            method: "get",
            path: "/api/v1/keys",
            summary: "The farm's Ed25519 public key (hex) that signs evidence packs.",
            role: None,
            body: None,
            ok: (200, json_content(json!({ "type": "object", "properties": { "ed25519": { "type": "string" } } }))),
            params: &[],
        },
        Op {
            method: "get",
            path: "/api/v1/runs/{id}",
            summary: "One run with its full result.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<RunDetail>(&mut g))),
            params: id,
        },
        Op {
            method: "get",
            path: "/api/v1/runs/{id}/trace",
            summary: "The run's trace: stored for failures, re-simulated and digest-checked for passes.",
            role: None,
            body: None,
            ok: (200, json_content(json!({ "type": "object" }))),
            params: id,
        },
        Op {
            method: "get",
            path: "/api/v1/scenarios",
            summary: "The loaded catalog.",
            role: None,
            body: None,
            ok: (200, json_content(schema::<ScenarioList>(&mut g))),
            params: &[],
        },
        Op {
            method: "post",
            path: "/api/v1/scenarios/validate",
            summary: "Validate a scenario file (the body is its text); the same diagnostics as `farm lint --json`.",
            role: None,
            body: Some(json!({ "type": "string" })),
            ok: (200, json_content(schema::<LintReport>(&mut g))),
            params: &[("file", "query", "File name to report diagnostics against")],
        },
        Op { method: "get", path: "/healthz", summary: "The process is up.", role: None, body: None, ok: (200, json_content(schema::<Health>(&mut g))), params: &[] },
        Op { method: "get", path: "/readyz", summary: "The database is reachable.", role: None, body: None, ok: (200, json_content(schema::<Health>(&mut g))), params: &[] },
        Op {
            method: "get",
            path: "/metrics",
            summary: "Prometheus metrics.",
            role: None,
            body: None,
            ok: (200, json!({ "text/plain": { "schema": { "type": "string" } } })),
            params: &[],
        },
    ];
    let mut paths = Map::new();
    for op in ops {
        let mut o = json!({
            "summary": op.summary,
            "responses": {
                op.ok.0.to_string(): { "description": "OK", "content": op.ok.1 },
                "default": { "description": "A problem document with a stable `code`", "content": { "application/problem+json": { "schema": problem.clone() } } }
            }
        });
        if let Some(body) = op.body {
            let content_type = if op.path.ends_with("/validate") { "text/yaml" } else { "application/json" };
            o["requestBody"] = json!({ "required": true, "content": { content_type: { "schema": body } } });
        }
        if let Some(role) = op.role {
            o["security"] = json!([{ "bearer": [] }]);
            o["x-required-role"] = json!(role);
        }
        if !op.params.is_empty() {
            o["parameters"] = Value::Array(
                op.params
                    .iter()
                    .map(|(name, place, what)| json!({ "name": name, "in": place, "required": *place == "path", "description": what, "schema": { "type": "string" } }))
                    .collect(),
            );
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = o;
    }
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Scenario Farm", "version": "1", "description": "Post release candidates, follow their runs, read gate verdicts." },
        "paths": paths,
        "components": {
            "schemas": g.take_definitions(true),
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        }
    })
}

/// The document, pretty-printed with a final newline (the committed form).
pub fn pretty() -> String {
    let mut s = serde_json::to_string_pretty(&document()).unwrap_or_default();
    s.push('\n');
    s
}

/// `GET /openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}
