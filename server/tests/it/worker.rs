//! The worker's queue loop (`worker::drive`) on both databases, with a stand-in for simulation: it
//! keeps every thread busy (a long run does not hold up the others), and on shutdown it finishes what
//! is in flight, writes every result and hands back the claims it had not started; and while the
//! database refuses its results it claims no more, then writes them when it takes them again.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use server::domain::run::RunStatus;
use server::infra::metrics::Metrics;
use server::infra::store::queue::{Claim, Outcome};
use server::infra::store::{runs, Store};
use server::infra::worker::{drive, WorkerSettings};

fn passed(claim: &Claim) -> Outcome {
    Outcome {
        status: RunStatus::Passed,
        digest: Some(format!("digest-{}", claim.variant_key)),
        reason: None,
        result: None,
        trace: None,
    }
}

fn settings(threads: usize) -> WorkerSettings {
    WorkerSettings { lease_ms: 60_000, poll: Duration::from_millis(20), ..WorkerSettings::new("w1".into(), threads) }
}

async fn a_long_run_does_not_hold_up_the_other_thread(store: &Store) {
    let id = common::seeded(store, 30).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (executed, in_flight, most_in_flight) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    let done_while_long = AtomicUsize::new(usize::MAX);
    let execute = |claim: Claim| {
        let (stop, executed, in_flight, most, during) =
            (&stop, &executed, &in_flight, &most_in_flight, &done_while_long);
        async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let long = claim.ord == 0;
            tokio::time::sleep(Duration::from_millis(if long { 400 } else { 5 })).await;
            if long {
                during.store(executed.load(Ordering::SeqCst), Ordering::SeqCst);
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
            if executed.fetch_add(1, Ordering::SeqCst) + 1 == 30 {
                let _ = stop.send(true);
            }
            passed(&claim)
        }
    };
    drive(store, &settings(2), stopped, None, execute).await.unwrap();
    assert_eq!(most_in_flight.load(Ordering::SeqCst), 2, "both threads were kept busy, never more");
    let others = done_while_long.load(Ordering::SeqCst);
    assert!((10..usize::MAX).contains(&others), "only {others} short runs finished beside the long one");
    let all = runs::all(store, &id).await.unwrap();
    assert!(all
        .iter()
        .all(|r| r.status == RunStatus::Passed && r.digest.as_deref() == Some(&*format!("digest-{}", r.variant_key))));
    assert_eq!(all.len(), 30);
}

async fn shutdown_writes_what_ran_and_hands_back_the_rest(store: &Store) {
    let id = common::seeded(store, 40).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let executed = AtomicUsize::new(0);
    let execute = |claim: Claim| {
        let (stop, executed) = (&stop, &executed);
        async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            if executed.fetch_add(1, Ordering::SeqCst) + 1 == 10 {
                let _ = stop.send(true);
            }
            passed(&claim)
        }
    };
    drive(store, &settings(2), stopped, None, execute).await.unwrap();
    let ran = executed.load(Ordering::SeqCst);
    let all = runs::all(store, &id).await.unwrap();
    let count = |s: &str| all.iter().filter(|r| r.status.as_str() == s).count();
    assert!((10..=11).contains(&ran), "stopped after the runs in flight, ran {ran}");
    assert_eq!(count("passed"), ran, "every run that ran has its result");
    assert_eq!(count("running"), 0, "no claim is kept after shutdown");
    assert_eq!(count("queued"), 40 - ran, "what did not run went back to the queue");
    assert!(all.iter().filter(|r| r.status == RunStatus::Queued).all(|r| r.result.is_none()));
}

/// Makes the database refuse (or take again) every result write while it still answers claims and
/// heartbeats: a trigger on the `result` column, which only result writes set.
async fn refuse_results(store: &Store, refuse: bool) {
    match (store, refuse) {
        (Store::Sqlite(p), true) => {
            let sql = "CREATE TRIGGER refuse_results BEFORE UPDATE OF result ON runs \
                       BEGIN SELECT RAISE(ABORT, 'results refused'); END";
            sqlx::query(sql).execute(p).await.unwrap();
        }
        (Store::Sqlite(p), false) => {
            sqlx::query("DROP TRIGGER refuse_results").execute(p).await.unwrap();
        }
        (Store::Postgres(p), true) => {
            let function = "CREATE FUNCTION refuse_results() RETURNS trigger LANGUAGE plpgsql \
                            AS $$ BEGIN RAISE EXCEPTION 'results refused'; END $$";
            sqlx::query(function).execute(p).await.unwrap();
            let trigger = "CREATE TRIGGER refuse_results BEFORE UPDATE OF result ON runs \
                           FOR EACH ROW EXECUTE FUNCTION refuse_results()";
            sqlx::query(trigger).execute(p).await.unwrap();
        }
        (Store::Postgres(p), false) => {
            sqlx::query("DROP TRIGGER refuse_results ON runs").execute(p).await.unwrap();
        }
    }
}

/// Runs of the candidate that are claimed and have no result yet.
async fn held(store: &Store, id: &server::domain::ids::CandidateId) -> usize {
    runs::all(store, id).await.unwrap().iter().filter(|r| r.status == RunStatus::Running).count()
}

/// Waits (polling) until the worker has counted `n` failed result writes.
async fn write_failures(metrics: &Metrics, n: u64) {
    while metrics.store_errors.with_label_values(&["write"]).get() < n {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A worker whose results the database refuses (while it still answers claims) does not go on
/// taking the queue it cannot report: it keeps the results it has, retries them, and claims nothing
/// more until they are written. Once the database takes them, every run gets its one result.
async fn a_worker_whose_results_are_refused_claims_no_more_until_they_are_written(store: &Store) {
    let total = 200;
    let id = common::seeded(store, total).await;
    refuse_results(store, true).await;
    let metrics = Metrics::for_worker().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let executed = AtomicUsize::new(0);
    let execute = |claim: Claim| {
        let (stop, executed) = (&stop, &executed);
        async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if executed.fetch_add(1, Ordering::SeqCst) + 1 == total {
                let _ = stop.send(true);
            }
            passed(&claim)
        }
    };
    let outage = async {
        // Three refused writes in (backoff 100 + 200 ms after the first), and two more later.
        write_failures(&metrics, 3).await;
        let early = held(store, &id).await;
        write_failures(&metrics, 5).await;
        let late = held(store, &id).await;
        refuse_results(store, false).await;
        (early, late)
    };
    let settings = settings(2);
    let (drove, (early, late)) = tokio::join!(drive(store, &settings, stopped, Some(&metrics), execute), outage);
    drove.unwrap();
    assert_eq!(late, early, "runs claimed while the worker's results were refused ({early} then {late})");
    assert!(late < total / 2, "the worker took {late} of {total} runs it could not report");
    let all = runs::all(store, &id).await.unwrap();
    assert_eq!(all.len(), total);
    assert!(all.iter().all(|r| r.status == RunStatus::Passed), "every run has its result once the database takes it");
    assert_eq!(executed.load(Ordering::SeqCst), total, "each run ran once");
}

on_both_databases!(
    a_long_run_does_not_hold_up_the_other_thread,
    shutdown_writes_what_ran_and_hands_back_the_rest,
    a_worker_whose_results_are_refused_claims_no_more_until_they_are_written,
);
