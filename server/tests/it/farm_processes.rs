//! A real multi-process farm on Postgres: `farm serve --workers 0` and two `farm worker` processes
//! drain a candidate of several hundred runs; one worker is killed with SIGKILL mid-sweep. Every run
//! ends with exactly one result, nothing is lost, and the killed worker's late write is rejected.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::domain::ids::CandidateId;
use server::domain::run::RunStatus;
use server::infra::store::queue::{self, Claim, Completion, Outcome};
use server::infra::store::runs;
use server::infra::store::Store;

use crate::common::{farm_command as farm, root, Killed};

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
    let url = crate::common::postgres_database("farm_proc").await;
    let token = crate::common::token(&url, "ci");

    let scratch = tempfile::tempdir().unwrap();
    let key = scratch.path().join("signing.key");
    let (mut serve, addr) = serve(&url, &key, &["--lease-ms", "1500"]);

    let worker = |threads: &str| {
        Killed(
            farm(&["worker", "--database-url", &url, "--threads", threads, "--lease-ms", "1500", "--poll-ms", "100"])
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut survivor = worker("1");
    let mut victim = worker("1");

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
    let id = CandidateId::parse(created["id"].as_str().unwrap()).unwrap();
    let total = created["runs_total"].as_i64().unwrap();
    assert!(total >= 250, "{created}");

    let store = Store::open(&url).await.unwrap();
    // Wait until the victim is mid-sweep (some results written, a run in its hands), then SIGKILL it.
    // What it held is read only after it is dead: a run it finished between our look and the kill is
    // not a run it lost. Should it die with empty hands, a fresh victim takes its place.
    let deadline = Instant::now() + Duration::from_secs(120);
    let held: RunInHand = 'victims: loop {
        let victim_prefix = format!("worker-{}-", victim.0.id());
        loop {
            let done = runs::all(&store, &id).await.unwrap().iter().filter(|r| r.status.is_finished()).count();
            if done >= 30 && !held_by(&store, &id, &victim_prefix).await.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "the workers did not get going");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(victim); // SIGKILL, and wait for it to be gone
        tokio::time::sleep(Duration::from_millis(200)).await; // a COMMIT already on the wire lands
        if let Some(held) = held_by(&store, &id, &victim_prefix).await.into_iter().next() {
            break 'victims held;
        }
        assert!(Instant::now() < deadline, "no victim died holding a run");
        victim = worker("1");
    };

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
        all.iter().all(|r| r.status.is_finished() && r.result.is_some() && r.digest.is_some()),
        "every run has its one result"
    );
    let rescued = all.iter().find(|r| r.id == held.claim.run_id).unwrap();
    assert!(rescued.attempt >= 1, "the killed worker's run was re-queued with attempt + 1");
    assert_ne!(rescued.status, RunStatus::Error, "one lost lease is not an infrastructure error");

    // The killed worker "wakes up" and writes its stale result: rejected, nothing changes.
    let stale = Outcome {
        status: RunStatus::Failed,
        digest: Some("stale".into()),
        reason: Some("stale".into()),
        result: None,
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
    crate::common::drop_postgres_database(&url).await;
}

struct RunInHand {
    claim: Claim,
    owner: String,
}

/// The runs of `candidate` that are `running` under a lease of a worker whose id starts with `prefix`.
async fn held_by(store: &Store, candidate: &CandidateId, prefix: &str) -> Vec<RunInHand> {
    let mut held = Vec::new();
    for r in runs::all(store, candidate).await.unwrap().into_iter().filter(|r| r.status == RunStatus::Running) {
        if let Some((status, attempt, Some(owner))) = queue::run_state(store, &r.id).await.unwrap() {
            if status == RunStatus::Running && owner.starts_with(prefix) {
                let claim = Claim {
                    run_id: r.id.clone(),
                    candidate_id: candidate.clone(),
                    variant_key: r.variant_key.clone(),
                    content_hash: r.content_hash.clone(),
                    attempt,
                    ord: r.ord,
                    traceparent: None,
                };
                held.push(RunInHand { claim, owner });
            }
        }
    }
    held
}

/// Starts `farm serve --workers 0 EXTRA` on `url`; returns it and its address.
fn serve(url: &str, key: &std::path::Path, extra: &[&str]) -> (Killed, String) {
    crate::common::listening(
        farm(&["serve", "--database-url", url, "--workers", "0", "--listen", "127.0.0.1:0"])
            .args(extra)
            .arg("--signing-key")
            .arg(key),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_expansion_resumes_it_on_restart_without_losing_or_duplicating_a_run() {
    let url = crate::common::postgres_database("farm_expand").await;
    let token = crate::common::token(&url, "ci");
    let scratch = tempfile::tempdir().unwrap();
    let key = scratch.path().join("signing.key");
    let store = Store::open(&url).await.unwrap();

    // Post the whole catalog and SIGKILL the server a little later each time, until a kill lands
    // after the candidate was recorded and before its runs were committed.
    let mut caught = None;
    for attempt in 0..12u64 {
        let (server, addr) = serve(&url, &key, &[]);
        let (token, addr2) = (token.clone(), addr.clone());
        let name = format!("rc-expand-{attempt}");
        // The answer does not matter: the server may die before it gives one.
        let post = std::thread::spawn(move || {
            let _ = ureq::post(&format!("{addr2}/api/v1/candidates"))
                .set("Authorization", &format!("Bearer {token}"))
                .send_json(serde_json::json!({ "name": name }));
        });
        std::thread::sleep(Duration::from_millis(5 + 15 * attempt));
        drop(server); // SIGKILL
        let _ = post.join();
        let pending = server::infra::store::candidates::unexpanded(&store).await.unwrap();
        if let Some(c) = pending.into_iter().next() {
            assert_eq!(runs::all(&store, &c.id).await.unwrap().len(), 0, "the expansion is one transaction");
            caught = Some(c.id);
            break;
        }
        let _ = addr;
    }
    let id = caught.expect("no kill landed mid-expansion in 12 attempts");

    // The restarted server finishes the expansion: every variant of the catalog exactly once.
    let (mut server, addr) = serve(&url, &key, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let expected = scenario_dsl::Catalog::load(
        &server::infra::catalog_files::read_sources(&[root().join("catalog")], None).scenarios,
        None,
    )
    .variant_count();
    loop {
        let c = server::infra::store::candidates::get(&store, &id).await.unwrap().unwrap();
        if c.expanded {
            assert_eq!(c.runs_total as usize, expected);
            break;
        }
        assert!(Instant::now() < deadline, "the restarted server did not resume the expansion");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = runs::all(&store, &id).await.unwrap();
    let keys: std::collections::BTreeSet<_> = all.iter().map(|r| r.variant_key.clone()).collect();
    assert_eq!((all.len(), keys.len()), (expected, expected), "no run lost, none duplicated");
    let d: serde_json::Value =
        ureq::get(&format!("{addr}/api/v1/candidates/{id}")).call().unwrap().into_json().unwrap();
    assert_eq!(d["runs_total"].as_u64(), Some(expected as u64));
    assert!(terminate(&mut server.0).success());
    if let Store::Postgres(p) = &store {
        p.close().await;
    }
    crate::common::drop_postgres_database(&url).await;
}
