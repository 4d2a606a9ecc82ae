//! One trace across processes: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, `farm serve` and a
//! `farm worker` export their spans over OTLP/HTTP (protobuf) to a small receiver this test runs.
//! A candidate posted with a W3C `traceparent` continues the caller's trace: the server's request
//! span is the caller's child, and every run the worker simulates, and every result it writes, is a
//! child of that request span, in the same trace, although another process did it.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::common;

use common::{root, Killed};

/// One received span: the service that sent it, its name, and its ids (hex).
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
}

/// An OTLP/HTTP receiver on loopback: every span posted to /v1/traces, decoded.
struct Receiver {
    endpoint: String,
    spans: Arc<Mutex<Vec<Received>>>,
    _runtime: tokio::runtime::Runtime,
}

fn receiver() -> Receiver {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let spans = Arc::new(Mutex::new(Vec::new()));
    let s = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let spans = s.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf trace export");
                let mut spans = spans.lock().unwrap();
                for resource in request.resource_spans {
                    let service = resource
                        .resource
                        .iter()
                        .flat_map(|r| &r.attributes)
                        .find(|a| a.key == "service.name")
                        .and_then(|a| a.value.as_ref())
                        .and_then(|v| match &v.value {
                            Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => {
                                Some(s.clone())
                            }
                            _ => None,
                        })
                        .unwrap_or_default();
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            spans.push(Received {
                                service: service.clone(),
                                name: span.name,
                                trace_id: hex::encode(span.trace_id),
                                span_id: hex::encode(span.span_id),
                                parent: hex::encode(span.parent_span_id),
                            });
                        }
                    }
                }
                ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
            }
        }),
    );
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });
    Receiver { endpoint, spans, _runtime: runtime }
}

/// SIGTERM, then waits: a farm process flushes its queued spans as it stops.
fn stop(mut p: Killed) {
    let _ = Command::new("kill").args(["-TERM", &p.0.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the process did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A farm (server and one worker process over a shared SQLite file) with `env`; posts a candidate
/// of the minimal scenario under `traceparent`, waits for its last result and stops both.
fn run_candidate(dir: &std::path::Path, env: &[(&str, &str)], traceparent: &str) {
    let catalog = dir.join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    std::fs::copy(root().join("scenario-dsl/tests/fixtures/valid/minimal.yaml"), catalog.join("minimal.yaml")).unwrap();
    let db = format!("sqlite://{}", dir.join("farm.db").display());
    let token = crate::common::token(&db, "ci");
    let key = dir.join("key");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_farm"));
    serve
        .args(["serve", "--database-url", &db, "--workers", "0", "--listen", "127.0.0.1:0"])
        .args(["--catalog", catalog.to_str().unwrap(), "--signing-key", key.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stderr(Stdio::inherit());
    let (server, addr) = common::listening(&mut serve);
    let worker = Killed(
        Command::new(env!("CARGO_BIN_EXE_farm"))
            .args(["worker", "--database-url", &db, "--threads", "1", "--poll-ms", "100"])
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let created: serde_json::Value = ureq::post(&format!("{addr}/api/v1/candidates"))
        .set("Authorization", &format!("Bearer {token}"))
        .set("traceparent", traceparent)
        .send_json(serde_json::json!({ "name": "rc-traced", "suite": { "scenarios": ["test.minimal"] } }))
        .unwrap()
        .into_json()
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    crate::ui_support::wait_done(&addr, &id);
    stop(worker);
    stop(server);
}

#[test]
fn one_trace_follows_a_candidate_from_its_post_to_its_last_result_across_processes() {
    let receiver = receiver();
    let dir = tempfile::tempdir().unwrap();
    // The caller's (CI's) trace and span.
    let (trace_id, caller_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let traceparent = format!("00-{trace_id}-{caller_span}-01");
    run_candidate(dir.path(), &[("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint)], &traceparent);

    let spans = receiver.spans.lock().unwrap().clone();
    let in_trace: Vec<&Received> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    let post = in_trace
        .iter()
        .find(|s| s.service == "farm-server" && s.name == "request" && s.parent == caller_span)
        .unwrap_or_else(|| panic!("the server's request span continues the caller's trace: {spans:#?}"));
    let runs: Vec<&&Received> = in_trace.iter().filter(|s| s.service == "farm-worker" && s.name == "run").collect();
    let results: Vec<&&Received> =
        in_trace.iter().filter(|s| s.service == "farm-worker" && s.name == "result").collect();
    // The minimal scenario has one variant: one run, one result (a failure would add its re-run).
    assert!(!runs.is_empty() && !results.is_empty(), "the worker's spans join the trace: {spans:#?}");
    for s in runs.iter().chain(&results) {
        assert_eq!(s.parent, post.span_id, "{} is a child of the request that posted the candidate: {s:?}", s.name);
    }
    // The request's own work (the candidate's expansion) is in the same trace, below the request.
    let candidate = in_trace.iter().find(|s| s.name == "candidate").expect("the candidate span");
    assert_eq!(candidate.parent, post.span_id);
    // Every span id is unique and no span of this trace names a parent outside it (or the caller).
    let ids: std::collections::BTreeSet<&str> = in_trace.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(ids.len(), in_trace.len(), "span ids are unique");
    for s in &in_trace {
        assert!(s.parent == caller_span || ids.contains(s.parent.as_str()), "dangling parent: {s:?}");
    }
}
