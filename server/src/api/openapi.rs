//! The OpenAPI document, built from the same route table the router is built from
//! ([`super::routes::operations`]: every operation carries its handler, so the document cannot
//! list a route the server does not serve, or miss one it does) and the wire types' JSON Schemas
//! (schemars). Served at `/openapi.json` and committed as `server/openapi.json`; a test keeps the
//! committed copy equal to this, so every API change shows up in review.

use axum::Json;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::dto::ProblemDoc;

/// The schema of `T`, registered in the document's components.
pub(crate) fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
    g.subschema_for::<T>().to_value()
}

/// `application/json` content with `schema`.
pub(crate) fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// The whole document.
pub fn document() -> Value {
    let mut g = SchemaSettings::openapi3().into_generator();
    let problem = schema::<ProblemDoc>(&mut g);
    let ops = super::routes::operations(&mut g);
    let mut paths = Map::new();
    for op in ops {
        let mut ok = json!({ "description": "OK" });
        if !op.ok.1.is_null() {
            ok["content"] = op.ok.1;
        }
        let mut o = json!({
            "summary": op.summary,
            "responses": {
                op.ok.0.to_string(): ok.clone(),
                "default": { "description": "A problem document with a stable `code`", "content": { "application/problem+json": { "schema": problem.clone() } } }
            }
        });
        for (status, description) in op.also {
            let mut other = ok.clone();
            other["description"] = json!(description);
            o["responses"][status.to_string()] = other;
        }
        if let Some((content_type, body)) = op.body {
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
                    .map(|(name, place, what, schema)| {
                        let schema: Value = serde_json::from_str(schema).expect("a route table parameter schema is JSON");
                        json!({ "name": name, "in": place, "required": *place == "path", "description": what, "schema": schema })
                    })
                    .collect(),
            );
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method.as_str().to_ascii_lowercase()] = o;
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
