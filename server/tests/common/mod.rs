//! Test helpers shared by the store and API suites: a fresh database of either kind per test.

#![allow(dead_code)]

use server::domain::candidate::NewCandidate;
use server::domain::catalog::Suite;
use server::domain::ids::CandidateId;
use server::domain::run::{PlannedRun, ScenarioVersion};
use server::infra::store::candidates;
use server::infra::store::Store;

/// A fresh, migrated store of the given kind, and what it takes to clean it up.
pub struct TestDb {
    pub store: Store,
    /// The database's URL, for processes of its own.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(kind: &str) -> TestDb {
        match kind {
            "sqlite" => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("farm.db").display());
                TestDb { store: Store::open(&url).await.unwrap(), url, _dir: Some(dir), pg_name: None }
            }
            _ => {
                let base =
                    std::env::var("FARM_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
                let name = format!("farm_test_{}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(&format!("{base}/postgres"))
                    .await
                    .expect("Postgres must run on 127.0.0.1:5432");
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
                admin.close().await;
                let url = format!("{base}/{name}");
                let store = Store::open(&url).await.unwrap();
                TestDb { store, url, _dir: None, pg_name: Some((base, name)) }
            }
        }
    }

    pub async fn drop_db(self) {
        if let Store::Postgres(pool) = &self.store {
            pool.close().await;
        }
        if let Some((base, name)) = self.pg_name {
            let admin = sqlx::PgPool::connect(&format!("{base}/postgres")).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await.unwrap();
        }
    }
}

/// Generates one test per database for each named async fn taking `&Store`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { let db = $crate::common::TestDb::new("sqlite").await; super::$name(&db.store).await; db.drop_db().await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { let db = $crate::common::TestDb::new("postgres").await; super::$name(&db.store).await; db.drop_db().await; })*
        }
    };
}

/// A candidate named `name` whose configuration hash stands for `config`.
pub fn candidate(name: &str, config: &str, key: Option<&str>) -> NewCandidate {
    let mut c = NewCandidate::new(name, Some("abc123".into()), Default::default(), Suite::default());
    c.config_hash = format!("hash-of-{config}");
    c.idempotency_key = key.map(str::to_owned);
    c
}

/// One scenario version and `n` planned runs of it.
pub fn plan(n: usize) -> (Vec<ScenarioVersion>, Vec<PlannedRun>) {
    let scenario = ScenarioVersion {
        content_hash: "c0ffee".into(),
        scenario_id: "highway.cut_in".into(),
        file: "cut_in.yaml".into(),
        body: "version: 1".into(),
    };
    let runs = (0..n)
        .map(|i| PlannedRun {
            variant_key: scenario_dsl::VariantKey::parse(&format!("{i:032x}")).unwrap(),
            scenario_id: "highway.cut_in".into(),
            content_hash: "c0ffee".into(),
            ord: i as i64,
            tags: ["smoke"].into_iter().collect(),
            cell: Default::default(),
        })
        .collect();
    (vec![scenario], runs)
}

/// A candidate with `n` queued runs; returns its id.
pub async fn seeded(store: &Store, n: usize) -> CandidateId {
    let (c, _) = candidates::create(store, &candidate("rc1", "{}", None), &CandidateId::random(), 0).await.unwrap();
    let (scenarios, runs) = plan(n);
    assert_eq!(candidates::enqueue(store, &c.id, &scenarios, &runs, 0).await.unwrap(), n as u64);
    c.id
}

/// A fixed candidate id, `n` in its last digits (tests that name their candidates).
pub fn cid(n: u64) -> CandidateId {
    CandidateId::parse(&format!("00000000-0000-4000-8000-{n:012x}")).unwrap()
}

/// The workspace root.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `farm serve ARGS --listen 127.0.0.1:0` (logs at warn to `stderr`), and returns it with
/// the address it prints.
pub fn farm_serve(args: &[&str], stderr: std::process::Stdio) -> (Killed, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_farm"));
    cmd.arg("serve").args(args).args(["--listen", "127.0.0.1:0"]).current_dir(root()).env("RUST_LOG", "warn");
    listening(cmd.stderr(stderr))
}

/// Spawns a `farm serve` command (whose listen address has port 0) and returns it with the address
/// it prints on its first line of stdout.
pub fn listening(cmd: &mut std::process::Command) -> (Killed, String) {
    try_listening(cmd).unwrap_or_else(|line| panic!("unexpected: {line:?}"))
}

/// [`listening`], or the line the process printed instead of its address (empty if it exited).
pub fn try_listening(cmd: &mut std::process::Command) -> Result<(Killed, String), String> {
    use std::io::BufRead;
    let mut serve = Killed(cmd.stdout(std::process::Stdio::piped()).spawn().unwrap());
    let mut line = String::new();
    let _ = std::io::BufReader::new(serve.0.stdout.take().unwrap()).read_line(&mut line);
    let addr = line.trim().strip_prefix("listening on ").ok_or_else(|| line.clone())?.to_owned();
    Ok((serve, addr))
}

/// `farm ARGS`, started from the workspace root with its logs at warn.
pub fn farm_command(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_farm"));
    cmd.args(args).current_dir(root()).env("RUST_LOG", "warn");
    cmd
}

/// `farm ARGS` run to its end.
pub fn farm_output(args: &[&str]) -> std::process::Output {
    farm_command(args).output().unwrap()
}

/// A token of `role` made by `farm token create` in the database at `url` (the run must succeed).
pub fn token(url: &str, role: &str) -> String {
    let out = farm_output(&["token", "create", "--role", role, "--database-url", url]);
    assert!(out.status.success(), "farm token create: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A new, empty (not migrated) Postgres database called `PREFIX_<uuid>`: its URL.
pub async fn postgres_database(prefix: &str) -> String {
    let base = std::env::var("FARM_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&format!("{base}/postgres")).await.expect("Postgres must run on 127.0.0.1:5432");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
    admin.close().await;
    format!("{base}/{name}")
}

/// `DIR/catalog` holding two scenarios: `test.minimal` (scenario-dsl's minimal fixture, passes) and
/// `test.late` (the same, with a goal it cannot reach in 1 s).
pub fn minimal_and_late_catalog(dir: &std::path::Path) -> std::path::PathBuf {
    let catalog = dir.join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    let minimal = std::fs::read_to_string(root().join("scenario-dsl/tests/fixtures/valid/minimal.yaml")).unwrap();
    std::fs::write(catalog.join("minimal.yaml"), &minimal).unwrap();
    let late = minimal
        .replace("id: test.minimal", "id: test.late")
        .replace("  - no_collision: {}\n", "  - no_collision: {}\n  - reach_goal: { within: 1.0 }\n");
    assert!(late.contains("reach_goal"), "the minimal fixture no longer has the criterion test.late extends");
    std::fs::write(catalog.join("late.yaml"), late).unwrap();
    catalog
}

/// Drops the Postgres database at `url` (made by [`postgres_database`]), closing its connections.
pub async fn drop_postgres_database(url: &str) {
    let (base, name) = url.rsplit_once('/').expect("a database URL ends in /NAME");
    let admin = sqlx::PgPool::connect(&format!("{base}/postgres")).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await.unwrap();
    admin.close().await;
}
