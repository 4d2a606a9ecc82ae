//! What the UI's tests share: a real `farm serve` on SQLite (port 0) over a small catalog, seeded
//! with a baseline (`rc0`, the default stack) and a candidate (`rc1`, `catalog/stacks/weak.yaml`,
//! baseline `rc0`) whose runs really simulated, so that the candidate has regressions with traces.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A child process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The scenarios the seeded farm runs: a road scenario and an open-area one with obstacles, both of
/// which the weak stack fails in some variants (see tests/discrimination.rs).
pub const SCENARIOS: &[(&str, &str)] = &[
    ("highway/traffic_jam.yaml", "highway.traffic_jam.approach"),
    ("warehouse/forklift_crossing.yaml", "warehouse.forklift.crossing_main_aisle"),
];

/// A running, seeded farm.
pub struct SeededFarm {
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    /// The baseline's id.
    pub baseline: String,
    /// The candidate's id.
    pub candidate: String,
    /// A `ci` token, to post more.
    pub token: String,
    _serve: Killed,
    _dir: tempfile::TempDir,
}

fn catalog(dir: &Path) -> PathBuf {
    let catalog = dir.join("catalog");
    for (file, _) in SCENARIOS {
        let to = catalog.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root().join("catalog").join(file), &to).unwrap();
    }
    std::fs::copy(root().join("catalog/odd.yaml"), catalog.join("odd.yaml")).unwrap();
    std::fs::write(
        catalog.join("gate.yaml"),
        "min_pass_rate: 0.8\nno_failures_in_tags: []\nlatency_budget_us:\n  planning: 1000000\nno_significant_regression: true\n",
    )
    .unwrap();
    catalog
}

fn farm(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_farm")).args(args).env("RUST_LOG", "warn").output().unwrap();
    assert!(out.status.success(), "farm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn post(addr: &str, token: &str, body: &Value) -> String {
    let created: Value = ureq::post(&format!("{addr}/api/v1/candidates"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(body.clone())
        .unwrap_or_else(|e| panic!("posting {body}: {e}"))
        .into_json()
        .unwrap();
    created["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned()
}

/// Waits until every run of the candidate has its result.
pub fn wait_done(addr: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let c: Value = ureq::get(&format!("{addr}/api/v1/candidates/{id}")).call().unwrap().into_json().unwrap();
        if c["status"] == "done" && !c["gate"].is_null() {
            return c;
        }
        assert!(Instant::now() < deadline, "candidate {id} did not finish: {c}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Starts `farm serve` and seeds `rc0` and `rc1`.
pub fn seeded_farm() -> SeededFarm {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(dir.path());
    let db = format!("sqlite://{}", dir.path().join("farm.db").display());
    farm(&["migrate", "--database-url", &db]);
    let token = farm(&["token", "create", "--role", "ci", "--database-url", &db]);
    let mut serve = Killed(
        Command::new(env!("CARGO_BIN_EXE_farm"))
            .args(["serve", "--database-url", &db, "--listen", "127.0.0.1:0", "--workers", "2"])
            .args(["--catalog", catalog.to_str().unwrap()])
            .args(["--signing-key", dir.path().join("key").to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(serve.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected: {line}")).to_owned();
    let scenarios: Vec<&str> = SCENARIOS.iter().map(|(_, id)| *id).collect();
    let weak: Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join("catalog/stacks/weak.yaml")).unwrap()).unwrap();
    let baseline = post(&addr, &token, &json!({ "name": "rc0", "suite": { "scenarios": scenarios } }));
    wait_done(&addr, &baseline);
    let candidate = post(
        &addr,
        &token,
        &json!({ "name": "rc1", "stack_config": weak, "baseline": "rc0", "suite": { "scenarios": scenarios } }),
    );
    wait_done(&addr, &candidate);
    SeededFarm { addr, baseline, candidate, token, _serve: serve, _dir: dir }
}

/// GET a page, its status and body.
pub fn get(url: &str) -> (u16, String) {
    match ureq::get(url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// The candidate's regressions against its baseline, from the API.
pub fn regressions(farm: &SeededFarm) -> Vec<Value> {
    let c: Value = ureq::get(&format!("{}/api/v1/candidates/{}/compare", farm.addr, farm.candidate))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    c["regressions"].as_array().cloned().unwrap_or_default()
}
