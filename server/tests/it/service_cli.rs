//! The service commands as an operator and a CI pipeline run them, against a real `farm serve` on
//! an embedded SQLite file: `farm submit`'s exit codes (0 gate passed, 1 gate failed, 2 any error),
//! `farm token list|revoke`, `farm migrate`'s report, the build's git commit in `farm --version`
//! and `/healthz`, logs without colour codes in a file, and a worker that cannot start its
//! simulation pool exiting non-zero with the reason.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{farm_output as farm, root, Killed};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A catalog of two scenarios: `test.minimal` passes, `test.late` cannot reach its goal in time.
fn catalog(dir: &Path) -> PathBuf {
    let catalog = crate::common::minimal_and_late_catalog(dir);
    std::fs::write(catalog.join("gate.yaml"), "min_pass_rate: 1.0\nno_failures_in_tags: []\n").unwrap();
    catalog
}

/// Starts `farm serve ARGS --listen 127.0.0.1:0 --workers 0` with `env` and its default log level,
/// logging to the file `log`; waits (at most 10 s) for the log to say "farm serving", which follows
/// the address it prints; stops it and returns what it logged.
fn log_until_serving(args: &[&str], env: &[(&str, &str)], log: &Path) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_farm"));
    cmd.arg("serve").args(args).args(["--listen", "127.0.0.1:0", "--workers", "0"]).current_dir(root());
    cmd.envs(env.iter().copied()).env_remove("RUST_LOG").stderr(std::fs::File::create(log).unwrap());
    let (serve, _addr) = crate::common::listening(&mut cmd);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(log).unwrap().contains("farm serving") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(serve);
    let logged = std::fs::read_to_string(log).unwrap();
    assert!(logged.contains("farm serving"), "{logged}");
    logged
}

#[test]
fn submit_exits_by_the_gate_and_a_revoked_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(dir.path());
    let db = format!("sqlite://{}", dir.path().join("farm.db").display());
    let migrated = farm(&["migrate", "--database-url", &db]);
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    assert!(text(&migrated.stdout).starts_with("sqlite database migrated: "), "{}", text(&migrated.stdout));
    assert_eq!(
        text(&farm(&["migrate", "--database-url", &db]).stdout),
        "sqlite database is already at the latest schema\n"
    );
    let token = farm(&["token", "create", "--role", "ci", "--database-url", &db]);
    let token = text(&token.stdout).trim().to_owned();
    let log = dir.path().join("serve.log");
    let mut serve = Killed(
        Command::new(env!("CARGO_BIN_EXE_farm"))
            .args(["serve", "--database-url", &db, "--listen", "127.0.0.1:0", "--workers", "1"])
            .args(["--catalog", catalog.to_str().unwrap(), "--lease-ms", "2000"])
            .args(["--signing-key", dir.path().join("key").to_str().unwrap()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(serve.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected: {line}")).to_owned();
    let submit = |name: &str, scenario: &str, server: &str| {
        farm(&[
            "submit",
            "--server",
            server,
            "--token",
            &token,
            "--name",
            name,
            "--scenario",
            scenario,
            "--wait",
            "--poll-seconds",
            "1",
        ])
    };
    // Gate passed: 0.
    let ok = submit("rc-ok", "test.minimal", &addr);
    assert_eq!(ok.status.code(), Some(0), "{}{}", text(&ok.stdout), text(&ok.stderr));
    assert!(text(&ok.stdout).contains("gate: pass"), "{}", text(&ok.stdout));
    // Gate failed: 1, with the rule that failed.
    let bad = submit("rc-late", "test.late", &addr);
    assert_eq!(bad.status.code(), Some(1), "{}{}", text(&bad.stdout), text(&bad.stderr));
    assert!(
        text(&bad.stdout).contains(
            "gate: fail\n  - min_pass_rate: pass rate 0.0 % is below 100.0 %; worst: test.late (1 of 1 not passed)"
        ),
        "{}",
        text(&bad.stdout)
    );
    // Rejected request: 2, with the server's code and message.
    let rejected = submit("rc-typo", "test.minimall", &addr);
    assert_eq!(rejected.status.code(), Some(2));
    assert!(
        text(&rejected.stderr)
            .contains("(422 unknown_scenario): unknown scenario `test.minimall`; did you mean `test.minimal`?"),
        "{}",
        text(&rejected.stderr)
    );
    // Unreachable server: 2 (after its retries).
    let gone = submit("rc-gone", "test.minimal", "http://127.0.0.1:9");
    assert_eq!(gone.status.code(), Some(2));
    assert!(text(&gone.stderr).contains("cannot reach the farm"), "{}", text(&gone.stderr));

    // The operator lists tokens and revokes the CI one: the next submit is refused with 401.
    let listed = text(&farm(&["token", "list", "--database-url", &db]).stdout);
    let id = listed.lines().find(|l| l.contains(" ci ")).unwrap_or_else(|| panic!("{listed}"))[..16].to_owned();
    assert!(listed.contains("active") && !listed.contains(&token), "{listed}");
    let revoked = farm(&["token", "revoke", &id, "--database-url", &db]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let refused = submit("rc-after", "test.minimal", &addr);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("401 unauthorized"), "{}", text(&refused.stderr));
    assert!(text(&farm(&["token", "list", "--database-url", &db]).stdout).contains("revoked at"));

    // The build's commit: in `farm --version` and in /healthz.
    let health: serde_json::Value = ureq::get(&format!("{addr}/healthz")).call().unwrap().into_json().unwrap();
    let sha = health["git_sha"].as_str().unwrap().to_owned();
    let head = Command::new("git").args(["rev-parse", "HEAD"]).current_dir(root()).output().unwrap();
    if head.status.success() {
        assert_eq!(sha, text(&head.stdout).trim(), "the binary records the commit it was built from");
    }
    assert_ne!(sha, "unknown");
    assert!(text(&farm(&["--version"]).stdout).contains(&sha));

    // Logs written to a file carry no terminal colour codes, and no Postgres/sqlx notice noise.
    drop(serve);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("farm serving"), "{logged}");
    assert!(!logged.contains('\u{1b}'), "ANSI escape codes in a log file");
}

#[test]
fn a_worker_that_cannot_start_its_simulation_pool_fails_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("farm.db").display());
    // 64 TiB of stack per thread: the thread cannot be created.
    let out = farm(&["worker", "--database-url", &db, "--threads", "1", "--stack-bytes", "70368744177664"]);
    assert_eq!(out.status.code(), Some(2), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot start the simulation pool"), "{}", text(&out.stderr));
}

#[test]
fn queue_bench_without_a_catalog_fails_instead_of_printing_an_unmeasured_figure() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("bench.db").display());
    let missing = dir.path().join("no-catalog");
    let out = farm(&["queue-bench", "--database-url", &db, "--runs", "10", "--catalog", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stdout).is_empty(), "no figure is printed: {}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("no-catalog") && err.contains("no such file or folder"), "{err}");
}

#[test]
fn a_restart_on_postgres_logs_no_migration_notice() {
    let base = std::env::var("FARM_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("farm_notice_{}", uuid::Uuid::new_v4().simple());
    let admin = |sql: &str| {
        let out = Command::new("psql").args([&format!("{base}/postgres"), "-qc", sql]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    admin(&format!("CREATE DATABASE {name}"));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{base}/{name}");
    // The second start finds the migrations table: Postgres answers "already exists, skipping".
    for start in 0..2 {
        let log = dir.path().join(format!("serve-{start}.log"));
        let key = dir.path().join("key");
        let logged = log_until_serving(&["--database-url", &url, "--signing-key", key.to_str().unwrap()], &[], &log);
        assert!(!logged.contains("_sqlx_migrations"), "start {start} logged sqlx's notice:\n{logged}");
    }
    admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("farm.db").display());
    let log = dir.path().join("serve.log");
    let (catalog, key) = (catalog(dir.path()), dir.path().join("key"));
    let logged = log_until_serving(
        &["--database-url", &db, "--catalog", catalog.to_str().unwrap(), "--signing-key", key.to_str().unwrap()],
        &[("FARM_LOG_FORMAT", "json")],
        &log,
    );
    let lines: Vec<serde_json::Value> = logged
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let serving = lines.iter().find(|l| l["fields"]["message"] == "farm serving").expect("the start line");
    assert_eq!(serving["level"], "INFO");
    assert_eq!(serving["fields"]["database"], "sqlite");
}
