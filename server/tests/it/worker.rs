//! The worker's queue loop (`worker::drive`) on both databases, with a stand-in for simulation: it
//! keeps every thread busy (a long run does not hold up the others), and on shutdown it finishes what
//! is in flight, writes every result and hands back the claims it had not started.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use server::domain::run::RunStatus;
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

on_both_databases!(a_long_run_does_not_hold_up_the_other_thread, shutdown_writes_what_ran_and_hands_back_the_rest);
