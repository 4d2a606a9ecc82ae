//! Fault test: a farm of one server and two worker processes on a Postgres of the test's own
//! (initdb and pg_ctl on a free port), stopped with `-m immediate` for 30 s in the middle of a
//! candidate and started again. With no human action the candidate finishes with every run exactly
//! once, the workers' loops recover, and `/readyz` answers 503 within a second during the outage.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::{root, Killed};

/// A Postgres server of the test's own, run as the `postgres` user when the test runs as root.
struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PrivatePostgres {
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn start() -> PrivatePostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries (Debian package postgresql) must be installed")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file())
            .expect("initdb and pg_ctl not found under /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        if running_as_root() {
            let ok = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
            assert!(ok.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = PrivatePostgres { bin, data, port, _dir: dir };
        let out = pg.command("initdb").args(["-A", "trust", "-U", "postgres", "-D"]).arg(&pg.data).output().unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        pg.pg_ctl_start();
        pg
    }

    fn pg_ctl_start(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.data.display());
        let out = self
            .command("pg_ctl")
            .args(["-w", "-D"])
            .arg(&self.data)
            .args(["-o", &options, "-l"])
            .arg(self.data.join("log"))
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop_immediately(&self) {
        let out =
            self.command("pg_ctl").args(["-w", "-m", "immediate", "-D"]).arg(&self.data).arg("stop").output().unwrap();
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-m", "immediate", "-D"]).arg(&self.data).arg("stop").output();
    }
}

fn spawn(args: &[&str], log: &Path) -> Killed {
    Killed(
        common::farm_command(args).stdout(Stdio::piped()).stderr(std::fs::File::create(log).unwrap()).spawn().unwrap(),
    )
}

/// Seconds a GET takes and the status it answers (0 when nothing answers).
fn timed_get(url: &str) -> (f64, u16) {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
    let t = Instant::now();
    let status = match agent.get(url).call() {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(ureq::Error::Transport(_)) => 0,
    };
    (t.elapsed().as_secs_f64(), status)
}

fn counts(addr: &str, id: &str) -> serde_json::Value {
    ureq::get(&format!("{addr}/api/v1/candidates/{id}")).call().unwrap().into_json().unwrap()
}

#[test]
fn a_thirty_second_database_outage_mid_candidate_loses_and_duplicates_nothing() {
    let pg = PrivatePostgres::start();
    let created =
        Command::new(pg.bin.join("psql")).args([&pg.url("postgres"), "-qc", "CREATE DATABASE farm"]).output().unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let url = pg.url("farm");
    let scratch = tempfile::tempdir().unwrap();
    let catalog = scratch.path().join("catalog");
    std::fs::create_dir(&catalog).unwrap();
    std::fs::copy(root().join("scenario-dsl/tests/fixtures/valid/sweep.yaml"), catalog.join("sweep.yaml")).unwrap();
    std::fs::write(catalog.join("gate.yaml"), "min_pass_rate: 0.0\nno_failures_in_tags: []\n").unwrap();
    let token = common::token(&url, "ci");

    let logs = scratch.path();
    let start_server = || {
        let mut serve = spawn(
            &[
                "serve",
                "--database-url",
                &url,
                "--workers",
                "0",
                "--listen",
                "127.0.0.1:0",
                "--lease-ms",
                "4000",
                "--catalog",
                catalog.to_str().unwrap(),
                "--signing-key",
                logs.join("key").to_str().unwrap(),
            ],
            &logs.join("serve.log"),
        );
        let mut line = String::new();
        BufReader::new(serve.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected: {line}")).to_owned();
        (serve, addr)
    };
    let (mut serve, mut addr) = start_server();
    let worker = |n: &str| {
        spawn(
            &["worker", "--database-url", &url, "--threads", "1", "--lease-ms", "4000", "--poll-ms", "200"],
            &logs.join(format!("worker-{n}.log")),
        )
    };
    let mut workers = [worker("a"), worker("b")];

    let created: serde_json::Value = ureq::post(&format!("{addr}/api/v1/candidates"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(serde_json::json!({ "name": "rc-outage", "suite": { "scenarios": ["test.sweep"] } }))
        .unwrap()
        .into_json()
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let total = created["runs_total"].as_i64().unwrap();
    assert_eq!(total, 72);
    let finished = |d: &serde_json::Value| {
        ["passed", "failed", "error", "timeout"].iter().map(|s| d["counts"][s].as_i64().unwrap_or(0)).sum::<i64>()
    };

    // Mid-candidate: some results in, most still to come.
    let deadline = Instant::now() + Duration::from_secs(120);
    while finished(&counts(&addr, &id)) < 6 {
        assert!(Instant::now() < deadline, "the workers did not get going");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = finished(&counts(&addr, &id));
    assert!(before < total / 2, "the candidate is not mid-way ({before} of {total}): the outage would prove nothing");
    pg.stop_immediately();
    let stopped_at = Instant::now();

    // During the outage: readiness says 503 fast, liveness stays up, the workers stay alive.
    let mut ready = Vec::new();
    while stopped_at.elapsed() < Duration::from_secs(30) {
        ready.push(timed_get(&format!("{addr}/readyz")));
        let (_, health) = timed_get(&format!("{addr}/healthz"));
        assert_eq!(health, 200, "liveness does not depend on the database");
        // A scrape does not wait on the database: the last known gauges, and the database down.
        let t = Instant::now();
        let metrics = ureq::get(&format!("{addr}/metrics")).call().unwrap().into_string().unwrap();
        let scrape = t.elapsed().as_secs_f64();
        assert!(scrape < 1.0, "a scrape during the outage took {scrape:.3} s");
        assert!(metrics.contains("farm_database_up 0"), "{metrics}");
        std::thread::sleep(Duration::from_millis(1000));
    }
    // The server stops within a few seconds on SIGTERM even with the database gone.
    let t = Instant::now();
    let _ = Command::new("kill").args(["-TERM", &serve.0.id().to_string()]).status();
    let exited = loop {
        if let Some(status) = serve.0.try_wait().unwrap() {
            break status;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "the server did not stop within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let stop_s = t.elapsed().as_secs_f64();
    println!("server stopped {stop_s:.2} s after SIGTERM during the outage");
    assert!(exited.success(), "{exited:?}");
    assert!(stop_s < 5.0, "the server took {stop_s:.2} s to stop");
    for w in &mut workers {
        assert!(w.0.try_wait().unwrap().is_none(), "a worker exited during the outage");
    }
    assert!(ready.iter().all(|(_, s)| *s == 503), "readyz during the outage: {ready:?}");
    let slowest = ready.iter().map(|(t, _)| *t).fold(0.0, f64::max);
    assert!(ready.len() >= 10, "{ready:?}");
    println!("readyz during a 30 s outage: {} answers, all 503, slowest {slowest:.3} s", ready.len());
    assert!(slowest < 1.0, "readyz took {slowest:.3} s to say 503");

    // The database returns; nobody touches the workers; the (stateless) server is started again.
    pg.pg_ctl_start();
    let restarted = Instant::now();
    let (_restarted_server, restarted_addr) = start_server();
    addr = restarted_addr;
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut first_progress = None;
    let last = loop {
        let d = match ureq::get(&format!("{addr}/api/v1/candidates/{id}")).call() {
            Ok(r) => r.into_json::<serde_json::Value>().unwrap(),
            Err(_) => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if first_progress.is_none() && finished(&d) > before + 1 {
            first_progress = Some(restarted.elapsed().as_secs_f64());
        }
        if d["status"] == "done" {
            break d;
        }
        assert!(Instant::now() < deadline, "the candidate never finished after the outage: {d}");
        std::thread::sleep(Duration::from_millis(200));
    };
    println!(
        "after the database returned: first new result in {:.1} s, candidate done in {:.1} s",
        first_progress.unwrap_or(f64::NAN),
        restarted.elapsed().as_secs_f64()
    );
    assert_eq!(finished(&last), total, "every run has its result: {last}");
    assert_eq!(last["counts"]["error"].as_i64().unwrap_or(0), 0, "an outage is not a run error: {last}");
    assert_eq!(last["runs_total"].as_i64(), Some(total), "no run duplicated");
    let (_, ready_after) = timed_get(&format!("{addr}/readyz"));
    assert_eq!(ready_after, 200);
    for w in &mut workers {
        assert!(w.0.try_wait().unwrap().is_none(), "a worker exited after the outage");
    }
    let metrics = ureq::get(&format!("{addr}/metrics")).call().unwrap().into_string().unwrap();
    assert!(metrics.contains("farm_database_up 1"), "{metrics}");
}
