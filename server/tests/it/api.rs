//! The HTTP API through `tower::ServiceExt::oneshot`, on both databases: create, list, filter,
//! paginate, authorise, problem documents, gate and JUnit, traces, validation, health and metrics.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use server::api::{self, AppState};
use server::domain::catalog::CatalogIndex;
use server::domain::report::RunRecord;
use server::infra::store::queue::{self, Outcome};
use server::infra::store::{access, Store};
use server::usecases::Farm;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

const ODD: &str = "version: 1
dimensions:
  - { name: domain, source: domain, bins: [highway, urban, warehouse] }
  - { name: ego_speed, source: ego_speed, edges: [0, 9, 11, 30] }
";

/// The API over the two valid fixture scenarios (1 + 72 variants), with a ci and a qa token.
async fn app(store: &Store) -> axum::Router {
    let sources = server::infra::catalog_files::read_sources(&[root().join("scenario-dsl/tests/fixtures/valid")], None);
    let odd = scenario_dsl::SourceFile { name: "odd.yaml".into(), text: ODD.into() };
    let catalog = scenario_dsl::Catalog::load(&sources.scenarios, Some(&odd));
    assert!(!catalog.has_errors());
    access::create_token(store, "ci-token", "ci", 0).await.unwrap();
    access::create_token(store, "qa-token", "qa", 0).await.unwrap();
    access::create_token(store, "release-token", "release", 0).await.unwrap();
    let farm = Farm {
        store: store.clone(),
        catalog: Arc::new(CatalogIndex::new(catalog, sources.scenarios)),
        gate: server::domain::gate::GatePolicy::default(),
        signing_key: ed25519_dalek::SigningKey::from_bytes(&[42; 32]),
        past_keys: Vec::new(),
    };
    let state = AppState::new(farm, server::infra::metrics::Metrics::new().unwrap(), None);
    api::router(Arc::new(state))
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    fn problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.headers["content-type"], "application/problem+json");
        let p = self.json();
        assert_eq!(p["code"], code, "{p}");
        assert_eq!(p["status"], status.as_u16());
        assert!(!p["detail"].as_str().unwrap().is_empty());
    }
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app.clone().oneshot(req.body(Body::from(body.unwrap_or("").to_owned())).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    Reply { status, headers, body }
}

async fn post(app: &axum::Router, body: &str, key: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = key.map(|k| vec![("idempotency-key", k)]).unwrap_or_default();
    call(app, "POST", "/api/v1/candidates", Some("ci-token"), Some(body), &headers).await
}

on_both_databases!(
    writes_need_a_token_with_the_right_role,
    bad_requests_are_problem_documents_never_500s,
    posting_is_idempotent_and_enqueues_the_suite,
    runs_are_filtered_and_paginated,
    a_finished_candidate_has_stats_a_gate_and_valid_junit,
    traces_are_stored_for_failures_and_resimulated_for_passes,
    validation_health_metrics_and_openapi,
    comparison_with_a_baseline_and_coverage,
    a_failed_runs_trace_is_the_stored_one,
    validation_is_bounded_per_request_and_rate_limited_without_a_token,
    tokens_can_be_listed_and_revoked,
    a_runs_trace_downloads_as_mcap,
);

async fn tokens_can_be_listed_and_revoked(store: &Store) {
    let app = app(store).await;
    let admin = server::usecases::tokens::create(store, "admin", "test").await.unwrap();
    // Only an admin lists tokens; the list never holds a token, only its id and role.
    call(&app, "GET", "/api/v1/tokens", Some("ci-token"), None, &[]).await.problem(StatusCode::FORBIDDEN, "forbidden");
    let list = call(&app, "GET", "/api/v1/tokens", Some(&admin), None, &[]).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        !String::from_utf8_lossy(&list.body).contains("ci-token")
            && !String::from_utf8_lossy(&list.body).contains(&admin)
    );
    let tokens = list.json()["tokens"].as_array().unwrap().clone();
    assert_eq!(tokens.len(), 4);
    let ci = tokens.iter().find(|t| t["role"] == "ci").unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(ci.len(), 16);
    // The ci token works, is revoked, and is refused at once with 401.
    assert_eq!(post(&app, r#"{"name": "before-revoke"}"#, None).await.status, StatusCode::CREATED);
    let revoke = call(&app, "DELETE", &format!("/api/v1/tokens/{ci}"), Some(&admin), None, &[]).await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&revoke.body));
    post(&app, r#"{"name": "after-revoke"}"#, None).await.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let listed = call(&app, "GET", "/api/v1/tokens", Some(&admin), None, &[]).await.json();
    assert!(listed["tokens"].as_array().unwrap().iter().any(|t| t["id"] == ci.as_str() && t["revoked_at"].is_i64()));
    call(&app, "DELETE", "/api/v1/tokens/0123456789abcdef", Some(&admin), None, &[])
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
}

/// Drains the queue (failures come back once for confirmation), failing the runs `fail` picks by
/// queue position.
async fn finish_all(store: &Store, worker: &str, fail: impl Fn(usize) -> bool) {
    loop {
        let claims = queue::claim(store, worker, 1000, 0, 60_000).await.unwrap();
        if claims.is_empty() {
            return;
        }
        for c in &claims {
            let (status, reason) =
                if fail(c.ord as usize) { ("failed", Some("min_ttc: too close")) } else { ("passed", None) };
            let o = Outcome {
                status: status.parse().unwrap(),
                digest: Some("d".into()),
                reason: reason.map(str::to_owned),
                result: record("test.sweep", status, reason),
                trace: None,
            };
            queue::complete(store, worker, c, &o, 1).await.unwrap();
        }
    }
}

async fn comparison_with_a_baseline_and_coverage(store: &Store) {
    let app = app(store).await;
    let suite = r#""suite": {"scenarios": ["test.sweep"]}"#;
    let base =
        post(&app, &format!(r#"{{"name": "rc0", {suite}}}"#), None).await.json()["id"].as_str().unwrap().to_owned();
    finish_all(store, "w0", |_| false).await;
    let cand = post(
        &app,
        &format!(r#"{{"name": "rc1", "stack_config": {{"safety": {{"aeb_enabled": false}}}}, {suite}}}"#),
        None,
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // 11 of 72 regress.
    finish_all(store, "w1", |i| i.is_multiple_of(7)).await;
    // No baseline named: the last candidate whose gate passed (rc0) is used.
    let c = call(&app, "GET", &format!("/api/v1/candidates/{cand}/compare"), None, None, &[]).await.json();
    assert_eq!((c["baseline_id"].as_str(), c["paired"].as_u64()), (Some(base.as_str()), Some(72)));
    assert_eq!((c["overall"]["regressions"].as_u64(), c["overall"]["fixes"].as_u64()), (Some(11), Some(0)));
    assert_eq!(c["overall"]["significant_regression"], true);
    assert!((c["overall"]["p_value"].as_f64().unwrap() - 2.0 / 2048.0).abs() < 1e-12);
    assert_eq!(c["regressions"].as_array().unwrap().len(), 11);
    let named =
        call(&app, "GET", &format!("/api/v1/candidates/{cand}/compare?baseline=rc0"), None, None, &[]).await.json();
    assert_eq!(named["overall"], c["overall"]);
    call(&app, "GET", &format!("/api/v1/candidates/{cand}/compare?baseline=nope"), None, None, &[])
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    call(&app, "GET", &format!("/api/v1/candidates/{base}/compare"), None, None, &[])
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");

    let cov = call(&app, "GET", &format!("/api/v1/candidates/{cand}/coverage"), None, None, &[]).await.json();
    assert_eq!(
        (cov["declared"].as_u64(), cov["exercised"].as_u64(), cov["holes_total"].as_u64()),
        (Some(9), Some(3), Some(6))
    );
    assert_eq!(cov["heatmap"]["x"], "domain");
    assert_eq!(cov["heatmap"]["x_bins"], json!(["highway", "urban", "warehouse"]));
    assert_eq!(cov["heatmap"]["y_bins"], json!(["[0, 9)", "[9, 11)", "[11, 30]"]));
    let urban_low = &cov["heatmap"]["cells"][0][1];
    assert_eq!(urban_low["runs"], 24);
    assert!(cov["heatmap"]["cells"][0][0]["rate"].is_null(), "no highway run");
    let base_cov =
        call(&app, "GET", &format!("/api/v1/candidates/{base}/coverage?x=ego_speed&y=domain"), None, None, &[])
            .await
            .json();
    assert_eq!(base_cov["passed"], 3);
    call(&app, "GET", &format!("/api/v1/candidates/{cand}/coverage?x=colour&y=domain"), None, None, &[])
        .await
        .problem(StatusCode::BAD_REQUEST, "unknown_dimension");
    // One axis given: the other is the first other dimension.
    let one =
        call(&app, "GET", &format!("/api/v1/candidates/{cand}/coverage?x=ego_speed"), None, None, &[]).await.json();
    assert_eq!((one["heatmap"]["x"].as_str(), one["heatmap"]["y"].as_str()), (Some("ego_speed"), Some("domain")));
}

async fn writes_need_a_token_with_the_right_role(store: &Store) {
    let app = app(store).await;
    let body = r#"{"name": "rc1"}"#;
    call(&app, "POST", "/api/v1/candidates", None, Some(body), &[])
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    call(&app, "POST", "/api/v1/candidates", Some("nope"), Some(body), &[])
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    call(&app, "POST", "/api/v1/candidates", Some("qa-token"), Some(body), &[])
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(post(&app, body, None).await.status, StatusCode::CREATED);
    // Reads are open.
    assert_eq!(call(&app, "GET", "/api/v1/candidates", None, None, &[]).await.status, StatusCode::OK);
}

async fn bad_requests_are_problem_documents_never_500s(store: &Store) {
    let app = app(store).await;
    post(&app, "{not json", None).await.problem(StatusCode::BAD_REQUEST, "invalid_json");
    post(&app, r#"{"name": "rc", "colour": 1}"#, None).await.problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    post(&app, r#"{"name": ""}"#, None).await.problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_name");
    let r = post(&app, r#"{"name": "rc", "stack_config": {"safety": {"aeb_ttx": 1}}}"#, None).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_stack_config");
    assert!(r.json()["detail"].as_str().unwrap().contains("`stack_config.safety.aeb_ttx`"), "{}", r.json());
    let r = post(&app, r#"{"name": "rc", "stack_config": {"safety": {"aeb_ttc": -1}}}"#, None).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_stack_config");
    assert!(r.json()["detail"].as_str().unwrap().contains("safety.aeb_ttc"));
    let r = post(&app, r#"{"name": "rc", "suite": {"scenarios": ["test.swep"]}}"#, None).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_scenario");
    assert_eq!(r.json()["detail"], "unknown scenario `test.swep`; did you mean `test.sweep`?");
    let r = post(&app, r#"{"name": "rc", "suite": {"tags": ["urbn"]}}"#, None).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_tag");
    assert_eq!(r.json()["detail"], "unknown tag `urbn`: no scenario carries it; did you mean `urban`?");
    // Both exist, but no scenario is both: nothing to run.
    post(&app, r#"{"name": "rc", "suite": {"tags": ["vru"], "scenarios": ["test.minimal"]}}"#, None)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "empty_suite");
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(api::BODY_LIMIT + 10));
    post(&app, &huge, None).await.problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let no_type = call(&app, "POST", "/api/v1/candidates", Some("ci-token"), None, &[]).await;
    no_type.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    call(&app, "GET", "/api/v1/candidates/nope", None, None, &[]).await.problem(StatusCode::NOT_FOUND, "not_found");
    call(&app, "GET", "/api/v1/runs/nope", None, None, &[]).await.problem(StatusCode::NOT_FOUND, "not_found");
    call(&app, "GET", "/no/such/route", None, None, &[]).await.problem(StatusCode::NOT_FOUND, "not_found");
    // Every error is a problem document, also those axum answers itself.
    let r = call(&app, "DELETE", "/api/v1/candidates", Some("ci-token"), None, &[]).await;
    r.problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert!(r.headers["allow"].to_str().unwrap().contains("POST"), "{:?}", r.headers);
    call(&app, "PUT", "/healthz", None, None, &[]).await.problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let huge = "x".repeat(api::BODY_LIMIT + 10);
    call(&app, "POST", "/api/v1/scenarios/validate", None, Some(&huge), &[])
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    call(&app, "POST", "/api/v1/scenarios/validate", None, None, &[])
        .await
        .problem(StatusCode::BAD_REQUEST, "empty_body");
    // A write is authorised before its body is read: a bad body without a token is a 401.
    call(&app, "POST", "/api/v1/candidates", None, Some("{not json"), &[])
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    call(&app, "POST", "/api/v1/candidates", Some("qa-token"), Some(&huge), &[])
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    // The bearer scheme is case-insensitive.
    let lower = call(
        &app,
        "POST",
        "/api/v1/candidates",
        None,
        Some(r#"{"name": "lower"}"#),
        &[("authorization", "bearer ci-token")],
    );
    assert_eq!(lower.await.status, StatusCode::CREATED);
}

async fn posting_is_idempotent_and_enqueues_the_suite(store: &Store) {
    let app = app(store).await;
    let body = r#"{"name": "rc1", "git_sha": "abc", "suite": {"tags": ["vru"]}}"#;
    let first = post(&app, body, Some("key-1")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let created = first.json();
    assert_eq!((created["runs_total"].as_i64(), created["created"].as_bool()), (Some(72), Some(true)));
    let again = post(&app, body, Some("key-1")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!((again.json()["id"].clone(), again.json()["created"].clone()), (created["id"].clone(), json!(false)));
    post(&app, r#"{"name": "other"}"#, Some("key-1")).await.problem(StatusCode::CONFLICT, "idempotency_key_reused");
    // Without a key, the same name and effective configuration is the same candidate.
    let a = post(&app, r#"{"name": "rc2", "stack_config": {"planning": {"horizon": 4}}}"#, None).await.json();
    let b = post(&app, r#"{"name": "rc2", "stack_config": {"planning": {"horizon": 4.0}}}"#, None).await.json();
    assert_eq!(a["id"], b["id"]);
    assert_eq!(a["runs_total"], 73);
    let list = call(&app, "GET", "/api/v1/candidates", None, None, &[]).await.json();
    assert_eq!(list["candidates"].as_array().unwrap().len(), 2);
    let id = created["id"].as_str().unwrap();
    let d = call(&app, "GET", &format!("/api/v1/candidates/{id}"), None, None, &[]).await.json();
    assert_eq!(
        (d["status"].as_str(), d["counts"]["queued"].as_i64(), d["gate"].is_null()),
        (Some("queued"), Some(72), true)
    );
}

async fn runs_are_filtered_and_paginated(store: &Store) {
    let app = app(store).await;
    let id = post(&app, r#"{"name": "rc"}"#, None).await.json()["id"].as_str().unwrap().to_owned();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let uri = format!("/api/v1/candidates/{id}/runs?limit=30{cursor}");
        let page = call(&app, "GET", &uri, None, None, &[]).await.json();
        seen.extend(page["runs"].as_array().unwrap().iter().map(|r| r["variant_key"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 73);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 73, "no run twice across pages");
    let by_scenario =
        call(&app, "GET", &format!("/api/v1/candidates/{id}/runs?scenario=test.minimal"), None, None, &[]).await.json();
    assert_eq!(by_scenario["runs"].as_array().unwrap().len(), 1);
    let by_tag =
        call(&app, "GET", &format!("/api/v1/candidates/{id}/runs?tag=vru&limit=500"), None, None, &[]).await.json();
    assert_eq!(by_tag["runs"].as_array().unwrap().len(), 72);
    let queued =
        call(&app, "GET", &format!("/api/v1/candidates/{id}/runs?status=passed"), None, None, &[]).await.json();
    assert_eq!(queued["runs"], json!([]));
    call(&app, "GET", &format!("/api/v1/candidates/{id}/runs?status=happy"), None, None, &[])
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_query");
    call(&app, "GET", &format!("/api/v1/candidates/{id}/runs?cursor=abc"), None, None, &[])
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_cursor");
    call(&app, "GET", &format!("/api/v1/candidates/{id}/runs?limit=0"), None, None, &[])
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_query");
    call(&app, "GET", "/api/v1/candidates/nope/runs", None, None, &[])
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
}

fn record(scenario: &str, verdict: &str, reason: Option<&str>) -> Option<RunRecord> {
    let metrics = serde_json::to_value(sim_core::oracle::Metrics::default()).unwrap();
    let record = json!({
        "key": "k", "scenario": scenario, "index": 0, "tags": [], "params": {"gap": 10.0}, "seed": 1, "verdict": verdict, "reason": reason,
        "criteria": [{"criterion": "no_collision", "severity": "critical", "passed": verdict == "passed", "message": "m"}],
        "metrics": metrics, "latency": {"planning": {"p50": 20.0, "p95": 30.0, "p99": 40.0, "max": 50.0, "count": 100, "total": 2000.0}},
        "cpu_latency": {"planning": {"p50": 10.0, "p95": 12.0, "p99": 15.0, "max": 16.0, "count": 100, "total": 1000.0}},
        "sim_s": 10.0, "wall_s": 0.02, "digest": "d"
    });
    Some(serde_json::from_value(record).unwrap())
}

async fn a_finished_candidate_has_stats_a_gate_and_valid_junit(store: &Store) {
    let app = app(store).await;
    let id = post(&app, r#"{"name": "rc", "suite": {"scenarios": ["test.sweep"]}}"#, None).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = queue::claim(store, "w", 100, 0, 60_000).await.unwrap();
    assert_eq!(claims.len(), 72);
    let running = call(&app, "GET", &format!("/api/v1/candidates/{id}"), None, None, &[]).await.json();
    assert_eq!(running["status"], "running");
    let outcome_of = |c: &queue::Claim| {
        let (status, reason) =
            if c.ord == 5 { ("failed", Some("no_collision: collision with walker")) } else { ("passed", None) };
        Outcome {
            status: status.parse().unwrap(),
            digest: Some("d".into()),
            reason: reason.map(str::to_owned),
            result: record("test.sweep", status, reason),
            trace: None,
        }
    };
    for c in &claims {
        queue::complete(store, "w", c, &outcome_of(c), 1).await.unwrap();
    }
    // The failure is not final until a re-run confirms it.
    let d = call(&app, "GET", &format!("/api/v1/candidates/{id}"), None, None, &[]).await.json();
    assert_eq!((d["status"].as_str(), d["counts"]["queued"].as_i64()), (Some("running"), Some(1)));
    assert_eq!(d["awaiting_confirmation"], 1, "the queued run is a failure awaiting its re-run");
    let again = queue::claim(store, "w", 100, 0, 60_000).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        queue::complete(store, "w", &again[0], &outcome_of(&again[0]), 1).await.unwrap(),
        queue::Completion::Recorded
    );
    let d = call(&app, "GET", &format!("/api/v1/candidates/{id}"), None, None, &[]).await.json();
    assert_eq!(d["status"], "done");
    assert_eq!((d["counts"]["passed"].as_i64(), d["counts"]["failed"].as_i64()), (Some(71), Some(1)));
    assert!((d["pass_rate"].as_f64().unwrap() - 71.0 / 72.0).abs() < 1e-12);
    assert!((d["pass_rate_by_tag"]["vru"].as_f64().unwrap() - 71.0 / 72.0).abs() < 1e-12);
    // Latency is the thread's CPU time (what the gate judges); wall time is reported beside it.
    assert_eq!(d["latency"]["planning"], json!({"p50": 10.0, "p99": 15.0}));
    assert_eq!(d["wall_latency"]["planning"], json!({"p50": 20.0, "p99": 40.0}));
    // The default policy allows 5 % failures but none in critical scenarios; test.sweep is `major`.
    assert_eq!(d["gate"], json!({"verdict": "pass", "reasons": [], "findings": []}));
    assert_eq!(d["awaiting_confirmation"], 0);
    let r = call(&app, "GET", &format!("/api/v1/candidates/{id}/junit.xml"), None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let xml = String::from_utf8(r.body).unwrap();
    assert!(xml.contains(r#"tests="72" failures="1" errors="0""#), "{xml}");
    assert!(xml.contains(r#"<failure type="no_collision" message="no_collision: collision with walker">"#));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.xml");
    std::fs::write(&path, xml).unwrap();
    let xsd = root().join("../shared/schemas/junit-10.xsd");
    assert!(
        xsd.is_file(),
        "the JUnit schema {} is missing: the checkout needs shared/ beside it (as in CI)",
        xsd.display()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys, xmlschema; xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])"])
        .arg(&xsd)
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

async fn traces_are_stored_for_failures_and_resimulated_for_passes(store: &Store) {
    let app = app(store).await;
    let id = post(&app, r#"{"name": "rc", "suite": {"scenarios": ["test.minimal"]}}"#, None).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run =
        call(&app, "GET", &format!("/api/v1/candidates/{id}/runs"), None, None, &[]).await.json()["runs"][0].clone();
    let run_id = run["id"].as_str().unwrap();
    call(&app, "GET", &format!("/api/v1/runs/{run_id}/trace"), None, None, &[])
        .await
        .problem(StatusCode::CONFLICT, "no_trace_yet");
    // A real worker simulates it.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let settings = server::infra::worker::WorkerSettings {
        lease_ms: 60_000,
        poll: std::time::Duration::from_millis(20),
        ..server::infra::worker::WorkerSettings::new("w1".into(), 1)
    };
    let worker = tokio::spawn(server::infra::worker::run(store.clone(), settings, stopped, None));
    let detail = loop {
        let d = call(&app, "GET", &format!("/api/v1/runs/{run_id}"), None, None, &[]).await.json();
        if d["status"] != "queued" && d["status"] != "running" {
            break d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
    assert_eq!(detail["result"]["digest"], detail["digest"]);
    let trace = call(&app, "GET", &format!("/api/v1/runs/{run_id}/trace"), None, None, &[]).await;
    assert_eq!(trace.status, StatusCode::OK, "{}", String::from_utf8_lossy(&trace.body));
    let source = trace.headers["x-trace-source"].to_str().unwrap().to_owned();
    // The minimal scenario passes on the default stack: its trace is not stored but re-simulated,
    // and the re-simulation's digest is checked against the stored one.
    assert_eq!(detail["status"], "passed", "{detail}");
    assert_eq!(source, "resimulated");
    assert_eq!(trace.json()["variant"], run["variant_key"]);
    assert!(trace.json()["ticks"].as_array().unwrap().len() > 100);

    // The evidence pack of this real run: release role only, identical when rebuilt, verifiable by
    // the CLI against the farm's published key, and its run re-simulates to the same digest.
    let uri = format!("/api/v1/candidates/{id}/evidence");
    call(&app, "GET", &uri, Some("ci-token"), None, &[]).await.problem(StatusCode::FORBIDDEN, "forbidden");
    let pack = call(&app, "GET", &uri, Some("release-token"), None, &[]).await;
    assert_eq!(pack.status, StatusCode::OK);
    assert_eq!(pack.headers["content-type"], "application/zip");
    assert_eq!(
        call(&app, "GET", &uri, Some("release-token"), None, &[]).await.body,
        pack.body,
        "rebuilding gives the same bytes"
    );
    let public =
        call(&app, "GET", "/api/v1/keys", None, None, &[]).await.json()["ed25519"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pack.zip");
    std::fs::write(&path, &pack.body).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_farm"))
        .args(["evidence", "verify", path.to_str().unwrap(), "--public-key", &public, "--resimulate", "1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("files match the signed manifest")
            && text.contains("1 re-simulated variants reproduce their digests"),
        "{text}"
    );
    let names = server::domain::evidence::verify(
        &pack.body,
        &ed25519_dalek::VerifyingKey::from_bytes(&hex::decode(&public).unwrap().try_into().unwrap()).unwrap(),
    )
    .unwrap()
    .contents
    .into_keys()
    .collect::<Vec<_>>();
    for f in [
        "summary.json",
        "report.html",
        "junit.xml",
        "runs.csv",
        "coverage.json",
        "provenance.json",
        "manifest.sha256",
        "manifest.sig",
    ] {
        assert!(names.iter().any(|n| n == f), "{f} missing from {names:?}");
    }
    // A pack forged with a changed summary but the original manifest fails in the CLI too.
    let reader = server::domain::evidence::verify(
        &pack.body,
        &ed25519_dalek::VerifyingKey::from_bytes(&hex::decode(&public).unwrap().try_into().unwrap()).unwrap(),
    )
    .unwrap();
    let mut files = reader.contents.clone();
    files.insert("summary.json".into(), b"{}".to_vec());
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in &files {
        zip.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zip, body).unwrap();
    }
    std::fs::write(&path, zip.finish().unwrap().into_inner()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_farm"))
        .args(["evidence", "verify", path.to_str().unwrap(), "--public-key", &public])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("INVALID: `summary.json` does not match its hash"));

    // A pack whose recorded digest was altered and then re-sealed with another key: the signature
    // holds under that key, but re-simulating the variant shows the digest is not what it gave.
    let mut files = reader.contents.clone();
    files.remove("manifest.sha256");
    files.remove("manifest.sig");
    let digest = detail["digest"].as_str().unwrap();
    let forged_digest = "0".repeat(digest.len());
    let csv = String::from_utf8(files["runs.csv"].clone()).unwrap();
    assert!(csv.contains(digest));
    files.insert("runs.csv".into(), csv.replace(digest, &forged_digest).into_bytes());
    let test_key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    std::fs::write(&path, server::domain::evidence::seal(files, &test_key).unwrap()).unwrap();
    let test_public = hex::encode(test_key.verifying_key().to_bytes());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_farm"))
        .args(["evidence", "verify", path.to_str().unwrap(), "--public-key", &test_public, "--resimulate", "1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let key = run["variant_key"].as_str().unwrap();
    assert!(
        text.contains(&format!("MISMATCH: variant {key} re-simulates to {digest} but the pack says {forged_digest}")),
        "{text}"
    );
    // Without a trusted key, verification fails closed: the forged pack above names its forger's key.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_farm"))
        .args(["evidence", "verify", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public-key"), "{}", String::from_utf8_lossy(&out.stderr));
    // The genuine pack verifies against the key it names only when the user says so explicitly.
    let genuine = dir.path().join("genuine.zip");
    std::fs::write(&genuine, &pack.body).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_farm"))
        .args(["evidence", "verify", genuine.to_str().unwrap(), "--trust-embedded-key"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("signed by the key the pack names"));
    // A pack whose provenance carries no stack configuration cannot be re-simulated: said, not guessed.
    let mut files = reader.contents.clone();
    files.remove("manifest.sha256");
    files.remove("manifest.sig");
    let mut provenance: Value = serde_json::from_slice(&files["provenance.json"]).unwrap();
    provenance["stack_config"] = Value::Null;
    files.insert("provenance.json".into(), serde_json::to_vec(&provenance).unwrap());
    std::fs::write(&path, server::domain::evidence::seal(files, &test_key).unwrap()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_farm"))
        .args(["evidence", "verify", path.to_str().unwrap(), "--public-key", &test_public, "--resimulate", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("provenance.json carries no stack configuration"), "{err}");
}

async fn a_failed_runs_trace_is_the_stored_one(store: &Store) {
    let app = app(store).await;
    post(&app, r#"{"name": "rc", "suite": {"scenarios": ["test.minimal"]}}"#, None).await;
    // The run fails twice with the same digest (confirmed), and its trace is stored with it.
    let text = std::fs::read_to_string(root().join("scenario-dsl/tests/fixtures/valid/minimal.yaml")).unwrap();
    let variant = scenario_dsl::parse("minimal.yaml", &text).scenario.unwrap().variants()[0].clone();
    let result =
        sim_core::run_variant(&variant, &autonomy_stack::StackConfig::default(), &mut autonomy_stack::FrozenClock);
    let outcome = Outcome {
        status: server::domain::run::RunStatus::Failed,
        digest: Some(result.digest.clone()),
        reason: Some("max_decel: stored for the test".into()),
        result: None,
        trace: Some(result.trace.to_bytes()),
    };
    for attempt in 0..2 {
        let claim = queue::claim(store, &format!("w{attempt}"), 1, 0, 60_000).await.unwrap().remove(0);
        assert_eq!(claim.variant_key, variant.key);
        queue::complete(store, &format!("w{attempt}"), &claim, &outcome, 1).await.unwrap();
    }
    let run_id = queue_run_id(store).await;
    let trace = call(&app, "GET", &format!("/api/v1/runs/{run_id}/trace"), None, None, &[]).await;
    assert_eq!(trace.status, StatusCode::OK, "{}", String::from_utf8_lossy(&trace.body));
    assert_eq!(trace.headers["x-trace-source"], "stored");
    let stored = sim_core::Trace::from_bytes(&result.trace.to_bytes()).unwrap();
    assert!(trace.body == serde_json::to_vec(&stored).unwrap(), "the served trace is not the stored one");
    assert_eq!(trace.json()["ticks"].as_array().unwrap().len(), result.trace.ticks.len());
}

async fn a_runs_trace_downloads_as_mcap(store: &Store) {
    let app = app(store).await;
    post(&app, r#"{"name": "rc", "suite": {"scenarios": ["test.minimal"]}}"#, None).await;
    let run_id = queue_run_id(store).await;
    let url = format!("/api/v1/runs/{run_id}/trace.mcap");
    // Like `/trace`: nothing before the run has finished, a problem document for an unknown run.
    call(&app, "GET", &url, None, None, &[]).await.problem(StatusCode::CONFLICT, "no_trace_yet");
    call(&app, "GET", "/api/v1/runs/nope/trace.mcap", None, None, &[])
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    // A failed run (confirmed by its re-run) with its result and its stored trace.
    let text = std::fs::read_to_string(root().join("scenario-dsl/tests/fixtures/valid/minimal.yaml")).unwrap();
    let variant = scenario_dsl::parse("minimal.yaml", &text).scenario.unwrap().variants()[0].clone();
    let result =
        sim_core::run_variant(&variant, &autonomy_stack::StackConfig::default(), &mut autonomy_stack::FrozenClock);
    let mut record = RunRecord::new(&variant, vec![], None, &result, 0.01);
    record.verdict = sim_core::Verdict::Failed;
    record.reason = Some("max_decel: failed for the test".into());
    let outcome = Outcome {
        status: server::domain::run::RunStatus::Failed,
        digest: Some(result.digest.clone()),
        reason: record.reason.clone(),
        result: Some(record),
        trace: Some(result.trace.to_bytes()),
    };
    for attempt in 0..2 {
        let claim = queue::claim(store, &format!("w{attempt}"), 1, 0, 60_000).await.unwrap().remove(0);
        queue::complete(store, &format!("w{attempt}"), &claim, &outcome, 1).await.unwrap();
    }
    let reply = call(&app, "GET", &url, None, None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.headers["content-type"], server::api::runs::MCAP_MEDIA_TYPE);
    assert_eq!(reply.headers["x-trace-source"], "stored");
    assert_eq!(reply.headers["content-disposition"], format!("attachment; filename=\"{run_id}.mcap\""));
    assert!(reply.body.starts_with(b"\x89MCAP0\r\n") && reply.body.ends_with(b"\x89MCAP0\r\n"), "not MCAP");
    // The served file is the domain's export of the stored trace and result, byte for byte.
    let id = server::domain::ids::RunId::parse(&run_id).unwrap();
    let stored = server::infra::store::runs::get(store, &id).await.unwrap().unwrap();
    let expected = server::domain::mcap::encode(&result.trace, stored.result.as_ref()).unwrap();
    assert!(reply.body == expected, "the served MCAP is not the export of the stored run");
}

/// The id of the only run in the store.
async fn queue_run_id(store: &Store) -> String {
    let candidates = server::infra::store::candidates::list(store, 10).await.unwrap();
    let runs = server::infra::store::runs::all(store, &candidates[0].id).await.unwrap();
    assert_eq!(runs.len(), 1);
    runs[0].id.to_string()
}

async fn validation_health_metrics_and_openapi(store: &Store) {
    let app = app(store).await;
    let text = std::fs::read_to_string(root().join("scenario-dsl/tests/fixtures/invalid/unknown_field.yaml")).unwrap();
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/scenarios/validate?file=mine.yaml")
        .body(Body::from(text))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        report,
        json!({"scenarios": 0, "variants": 0, "diagnostics": [{"file": "mine.yaml", "line": 13, "column": 3, "code": "E0101",
            "severity": "error", "message": "unknown field `sped`", "help": "did you mean `speed`?"}]})
    );
    let scenarios = call(&app, "GET", "/api/v1/scenarios", None, None, &[]).await.json();
    assert_eq!(scenarios["scenarios"].as_array().unwrap().len(), 2);
    assert_eq!(call(&app, "GET", "/healthz", None, None, &[]).await.json()["status"], "ok");
    assert_eq!(call(&app, "GET", "/readyz", None, None, &[]).await.json()["checks"]["database"], store.dialect());
    call(&app, "GET", "/api/v1/candidates/x", None, None, &[]).await;
    let metrics = String::from_utf8(call(&app, "GET", "/metrics", None, None, &[]).await.body).unwrap();
    assert!(
        metrics.contains(r#"farm_http_requests_total{route="/api/v1/candidates/{id}",status="404"} 1"#),
        "{metrics}"
    );
    let served = call(&app, "GET", "/openapi.json", None, None, &[]).await.json();
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("server/openapi.json")).unwrap()).unwrap();
    assert!(
        served == committed,
        "server/openapi.json is stale: run `cargo run -p server -- schema --openapi --out server/openapi.json`"
    );
}

/// The minimal fixture swept to the language's limit: 100 x 200 = 20,000 variants.
fn maximal_scenario() -> String {
    let minimal = std::fs::read_to_string(root().join("scenario-dsl/tests/fixtures/valid/minimal.yaml")).unwrap();
    minimal.replace(
        "world:",
        "parameters:\n  a: { range: { from: 1, to: 100, step: 1 } }\n  b: { range: { from: 1, to: 200, step: 1 } }\nworld:",
    )
}

async fn validation_is_bounded_per_request_and_rate_limited_without_a_token(store: &Store) {
    let app = app(store).await;
    let validate = |token: Option<&'static str>, body: String| {
        let app = app.clone();
        async move {
            let mut req =
                Request::builder().method("POST").uri("/api/v1/scenarios/validate").header("content-type", "text/yaml");
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let resp = app.oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
            let status = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let (status, report) = validate(Some("qa-token"), maximal_scenario()).await;
    assert_eq!((status, report["variants"].as_u64()), (StatusCode::OK, Some(20_000)), "{report}");
    // Three maximal validations at once: two run, the third is refused at once.
    let (a, b, c) = tokio::join!(
        validate(Some("qa-token"), maximal_scenario()),
        validate(Some("qa-token"), maximal_scenario()),
        validate(Some("qa-token"), maximal_scenario())
    );
    let statuses = [a.0, b.0, c.0];
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 2, "{statuses:?}");
    let refused = [a, b, c].into_iter().find(|r| r.0 == StatusCode::TOO_MANY_REQUESTS).unwrap();
    assert_eq!(refused.1["code"], "too_many_validations");
    // Without a token: a burst of ten, then two a second.
    let minimal = std::fs::read_to_string(root().join("scenario-dsl/tests/fixtures/valid/minimal.yaml")).unwrap();
    let mut codes = Vec::new();
    for _ in 0..14 {
        let (status, body) = validate(None, minimal.clone()).await;
        codes.push((status, body["code"].as_str().map(str::to_owned)));
    }
    assert!(codes[..10].iter().all(|(s, _)| *s == StatusCode::OK), "{codes:?}");
    assert!(
        codes.iter().any(|(s, c)| *s == StatusCode::TOO_MANY_REQUESTS && c.as_deref() == Some("rate_limited")),
        "{codes:?}"
    );
    // With a token, the same burst is not limited.
    for _ in 0..14 {
        assert_eq!(validate(Some("qa-token"), minimal.clone()).await.0, StatusCode::OK);
    }
}
