//! A real multi-process farm on Postgres: `farm serve --workers 0` and two `farm worker` processes
//! drain a candidate of several hundred runs; one worker is killed with SIGKILL mid-sweep. Every run
//! ends with exactly one result, nothing is lost, and the killed worker's late write is rejected.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::store::queue::{self, Claim, Completion, Outcome};
use server::store::runs;
use server::store::Store;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn farm(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_farm"));
    c.args(args).current_dir(root()).env("RUST_LOG", "warn");
    c
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "process did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_nothing_and_duplicates_nothing() {
    let base = std::env::var("FARM_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("farm_proc_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&format!("{base}/postgres")).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
    let url = format!("{base}/{name}");

    let token = farm(&["token", "create", "--role", "ci", "--database-url", &url]).output().unwrap();
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();

    let scratch = tempfile::tempdir().unwrap();
    let key = scratch.path().join("signing.key");
    let mut serve = Killed(
        farm(&[
            "serve",
            "--database-url",
            &url,
            "--workers",
            "0",
            "--listen",
            "127.0.0.1:0",
            "--lease-ms",
            "1500",
            "--signing-key",
            key.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(serve.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected: {line}")).to_owned();

    let worker = |threads: &str| {
        Killed(
            farm(&["worker", "--database-url", &url, "--threads", threads, "--lease-ms", "1500", "--poll-ms", "100"])
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut survivor = worker("1");
    let victim = worker("1");

    let body = serde_json::json!({
        "name": "rc-kill-test",
        "suite": { "scenarios": ["highway.lead_vehicle.hard_brake", "highway.cut_in.undertake_right", "highway.cut_in", "highway.truck.lane_change_into_ego"] }
    });
    let created: serde_json::Value = ureq::post(&format!("{addr}/api/v1/candidates"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(&body)
        .unwrap()
        .into_json()
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let total = created["runs_total"].as_i64().unwrap();
    assert!(total >= 250, "{created}");

    let store = Store::open(&url).await.unwrap();
    let victim_prefix = format!("worker-{}-", victim.0.id());
    // Wait until the victim is mid-sweep: some results written and a run in its hands.
    let deadline = Instant::now() + Duration::from_secs(120);
    let held: RunInHand = loop {
        let all = runs::all(&store, &id).await.unwrap();
        let done = all.iter().filter(|r| server::stats::is_finished(&r.status)).count();
        let owner_rows: Vec<(String, i32, Option<String>)> = {
            let mut v = Vec::new();
            for r in all.iter().filter(|r| r.status == "running") {
                if let Some(state) = queue::run_state(&store, &r.id).await.unwrap() {
                    v.push((r.id.clone(), state.1, state.2));
                }
            }
            v
        };
        if done >= 30 {
            if let Some((run_id, attempt, Some(owner))) =
                owner_rows.into_iter().find(|(_, _, o)| o.as_deref().is_some_and(|o| o.starts_with(&victim_prefix)))
            {
                let row = all.iter().find(|r| r.id == run_id).unwrap();
                break RunInHand {
                    claim: Claim {
                        run_id,
                        candidate_id: id.clone(),
                        variant_key: row.variant_key.clone(),
                        content_hash: row.content_hash.clone(),
                        attempt,
                        ord: row.ord,
                    },
                    owner,
                };
            }
        }
        assert!(Instant::now() < deadline, "the workers did not get going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    drop(victim); // SIGKILL

    // The survivor finishes everything, including the victim's runs once their leases expire.
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let d: serde_json::Value =
            ureq::get(&format!("{addr}/api/v1/candidates/{id}")).call().unwrap().into_json().unwrap();
        if d["status"] == "done" {
            break;
        }
        assert!(Instant::now() < deadline, "candidate never finished: {d}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all = runs::all(&store, &id).await.unwrap();
    assert_eq!(all.len() as i64, total, "no run lost, none duplicated");
    assert!(
        all.iter().all(|r| server::stats::is_finished(&r.status) && r.result.is_some() && r.digest.is_some()),
        "every run has its one result"
    );
    let rescued = all.iter().find(|r| r.id == held.claim.run_id).unwrap();
    assert!(rescued.attempt >= 1, "the killed worker's run was re-queued with attempt + 1");
    assert_ne!(rescued.status, "error", "one lost lease is not an infrastructure error");

    // The killed worker "wakes up" and writes its stale result: rejected, nothing changes.
    let stale = Outcome {
        status: "failed".into(),
        digest: Some("stale".into()),
        reason: Some("stale".into()),
        result: "{}".into(),
        trace: None,
    };
    assert_eq!(queue::complete(&store, &held.owner, &held.claim, &stale, 0).await.unwrap(), Completion::LeaseLost);
    assert_eq!(runs::get(&store, &held.claim.run_id).await.unwrap().unwrap().digest, rescued.digest);

    // Graceful shutdown of the rest.
    assert!(terminate(&mut survivor.0).success());
    assert!(terminate(&mut serve.0).success());
    if let Store::Postgres(p) = &store {
        p.close().await;
    }
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await.unwrap();
}

struct RunInHand {
    claim: Claim,
    owner: String,
}
