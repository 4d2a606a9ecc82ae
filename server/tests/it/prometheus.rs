//! Every query is real: a real Prometheus (Debian's package) scrapes a running farm (a server and a
//! `farm worker` process, on loopback) while a candidate runs, with the committed alert rules
//! loaded; then every PromQL expression of the Grafana dashboard and of the alert rules is
//! evaluated through Prometheus' HTTP API. Each must evaluate, every metric each names must have
//! been scraped, and every dashboard panel must show data.

use std::collections::BTreeSet;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::{root, Killed};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The metric names an expression reads (`farm_...` identifiers, histogram suffixes kept).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("farm_") {
        let start = i + at;
        let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end =
            expr[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(expr.len(), |e| start + e);
        if boundary {
            names.insert(expr[start..end].to_owned());
        }
        i = end;
    }
    names
}

/// (label, expression) of every dashboard target, with Grafana's variables given values.
fn dashboard_exprs() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("deploy/grafana/dashboards/farm.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                let expr =
                    expr.replace("$__rate_interval", "1m").replace("$__range", "10m").replace("$__interval", "15s");
                out.push((panel["title"].as_str().unwrap_or("?").to_owned(), expr));
            }
        }
    }
    out
}

/// (alert, expression) of every alert rule.
fn alert_exprs() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("deploy/prometheus/alerts.yml")).unwrap();
    let rules: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut out = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            if let (Some(alert), Some(expr)) = (rule["alert"].as_str(), rule["expr"].as_str()) {
                out.push((alert.to_owned(), expr.to_owned()));
            }
        }
    }
    out
}

fn query(prometheus: &str, expr: &str) -> serde_json::Value {
    let v: serde_json::Value =
        ureq::get(&format!("{prometheus}/api/v1/query")).query("query", expr).call().unwrap().into_json().unwrap();
    assert_eq!(v["status"], "success", "{expr}: {v}");
    v
}

fn has_data(v: &serde_json::Value) -> bool {
    v["data"]["result"].as_array().is_some_and(|r| !r.is_empty())
}

#[test]
fn every_dashboard_and_alert_query_returns_data_from_a_real_prometheus() {
    let version = Command::new("prometheus").arg("--version").output();
    assert!(
        version.is_ok_and(|o| o.status.success()),
        "prometheus is not installed: `apt-get install prometheus` (.ci/run does it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir(&catalog).unwrap();
    std::fs::copy(root().join("scenario-dsl/tests/fixtures/valid/sweep.yaml"), catalog.join("sweep.yaml")).unwrap();
    let db = format!("sqlite://{}", dir.path().join("farm.db").display());
    let token = common::token(&db, "ci");
    let key = dir.path().join("key");
    let (serve, addr) = common::farm_serve(
        &["--database-url", &db, "--workers", "0", "--lease-ms", "3000"]
            .into_iter()
            .chain(["--catalog", catalog.to_str().unwrap(), "--signing-key", key.to_str().unwrap()])
            .collect::<Vec<_>>(),
        Stdio::inherit(),
    );
    let worker_metrics = format!("127.0.0.1:{}", free_port());
    let _worker = Killed(
        Command::new(env!("CARGO_BIN_EXE_farm"))
            .args(["worker", "--database-url", &db, "--threads", "2", "--poll-ms", "200", "--lease-ms", "3000"])
            .args(["--metrics-listen", &worker_metrics])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Prometheus with the committed rules, scraping both every second.
    let prom_port = free_port();
    let config = format!(
        "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nrule_files: [{}]\nscrape_configs:\n  - job_name: farm-server\n    static_configs: [{{ targets: ['{}'] }}]\n  - job_name: farm-worker\n    static_configs: [{{ targets: ['{worker_metrics}'] }}]\n",
        root().join("deploy/prometheus/alerts.yml").display(),
        addr.trim_start_matches("http://"),
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let _prometheus = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let prometheus = format!("http://127.0.0.1:{prom_port}");

    // Prometheus is up and scraping both before anything happens, so the rates see the whole run.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let scraped = ureq::get(&format!("{prometheus}/api/v1/query"))
            .query("query", "sum(up)")
            .call()
            .ok()
            .and_then(|r| r.into_json::<serde_json::Value>().ok())
            .and_then(|v| v["data"]["result"][0]["value"][1].as_str().map(str::to_owned));
        if scraped.as_deref() == Some("2") {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus did not start scraping the farm");
        std::thread::sleep(Duration::from_millis(250));
    }
    // A candidate of 72 runs, a confirmation re-run or two, and an HTTP error for the 5xx/4xx panels.
    let created: serde_json::Value = ureq::post(&format!("{addr}/api/v1/candidates"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(serde_json::json!({ "name": "rc-metrics" }))
        .unwrap()
        .into_json()
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    crate::ui_support::wait_done(&addr, &id);
    // Scrapes after the last result, so rates over the last minute see it: wait (at most a minute,
    // on a loaded machine) until every panel has data, then judge.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dashboard_exprs().iter().all(|(_, e)| has_data(&query(&prometheus, e))) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    let up = query(&prometheus, "up");
    let targets = up["data"]["result"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{up}");
    assert!(targets.iter().all(|t| t["value"][1] == "1"), "both targets are scraped: {up}");

    let mut empty = Vec::new();
    for (what, expr) in dashboard_exprs().into_iter().chain(alert_exprs()) {
        // The expression evaluates; every metric it names was scraped.
        query(&prometheus, &expr);
        for name in metric_names(&expr) {
            let series = query(&prometheus, &format!("count({{__name__=\"{name}\"}})"));
            assert!(has_data(&series), "{what}: `{name}` was never scraped ({expr})");
        }
        if !has_data(&query(&prometheus, &expr)) {
            empty.push(format!("{what}: {expr}"));
        }
    }
    let (dashboard, alerts) = (dashboard_exprs(), alert_exprs());
    // Alerts return data only when they fire; a healthy farm fires none. Dashboard panels all show data.
    let empty_panels: Vec<&String> =
        empty.iter().filter(|e| dashboard.iter().any(|(w, x)| **e == format!("{w}: {x}"))).collect();
    assert!(
        empty_panels.is_empty(),
        "dashboard panels without data on a farm that ran a candidate:\n{empty_panels:#?}"
    );
    let fired: Vec<&String> =
        alerts.iter().map(|(a, _)| a).filter(|a| !empty.iter().any(|e| e.starts_with(&format!("{a}: ")))).collect();
    assert!(fired.is_empty(), "alerts firing on a healthy farm: {fired:?}");
    drop(serve);
}
