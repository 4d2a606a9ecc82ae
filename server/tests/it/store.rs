//! The store's test suite, run against both databases: embedded SQLite (a fresh file per test) and
//! the real Postgres on 127.0.0.1:5432 (a fresh database per test; `FARM_TEST_POSTGRES` overrides
//! the server URL). Time is passed in explicitly: no sleeps.

use std::collections::BTreeSet;

use server::domain::ids::{CandidateId, RunId};
use server::domain::run::RunStatus;
use server::infra::store::queue::{self, Completion, Outcome};
use server::infra::store::Store;
use server::infra::store::{candidates, runs};

use crate::common;

use common::{candidate, cid, plan, seeded};

fn outcome(status: &str) -> Outcome {
    Outcome {
        status: status.parse().unwrap(),
        digest: Some("d".into()),
        reason: None,
        result: None,
        trace: Some(vec![1, 2, 3]),
    }
}

on_both_databases!(
    posting_a_candidate_is_idempotent,
    enqueueing_twice_never_duplicates_runs,
    claims_come_in_batches_and_never_overlap,
    only_the_lease_holder_writes_a_result,
    a_batch_held_across_an_outage_is_written_run_by_run,
    a_batch_of_results_is_guarded_run_by_run,
    heartbeats_keep_a_lease_alive,
    exhausted_attempts_become_infrastructure_errors,
    release_returns_claims_without_counting_an_attempt,
    concurrent_workers_claim_every_run_exactly_once,
    an_interrupted_expansion_is_found_and_finished,
    a_failure_counts_only_once_a_rerun_confirms_it,
    a_restarted_worker_holding_an_old_attempt_cannot_write,
    a_confirmation_rerun_goes_to_another_live_worker,
    a_confirmation_rerun_is_claimed_before_the_first_runs_still_queued,
    a_stored_suite_that_does_not_parse_is_an_error_not_the_whole_catalog,
);

async fn a_stored_suite_that_does_not_parse_is_an_error_not_the_whole_catalog(store: &Store) {
    let id = seeded(store, 1).await;
    let sql = "UPDATE candidates SET suite = 'tags: smoke' WHERE id = $1";
    match store {
        Store::Sqlite(p) => sqlx::query(sql).bind(id.as_str()).execute(p).await.map(drop).unwrap(),
        Store::Postgres(p) => sqlx::query(sql).bind(id.as_str()).execute(p).await.map(drop).unwrap(),
    }
    let e = candidates::get(store, &id).await.unwrap_err().to_string();
    assert!(e.starts_with("corrupt stored value in candidates.suite: "), "{e}");
}

async fn a_restarted_worker_holding_an_old_attempt_cannot_write(store: &Store) {
    seeded(store, 1).await;
    // Worker `w` claims attempt 0, stalls past its lease, and is restarted under the same name.
    let old = queue::claim(store, "w", 1, 0, 100).await.unwrap().remove(0);
    assert_eq!(queue::rescue(store, 200, 3).await.unwrap().requeued, 1);
    let new = queue::claim(store, "w", 1, 210, 100).await.unwrap().remove(0);
    assert_eq!((new.run_id.clone(), new.attempt), (old.run_id.clone(), 1));
    // Same owner, same run, status `running`: only the attempt tells the old result apart.
    assert_eq!(queue::complete(store, "w", &old, &outcome("failed"), 220).await.unwrap(), Completion::LeaseLost);
    assert_eq!(queue::run_state(store, &old.run_id).await.unwrap().unwrap().0, RunStatus::Running);
    assert_eq!(queue::complete(store, "w", &new, &outcome("passed"), 230).await.unwrap(), Completion::Recorded);
    assert_eq!(queue::run_state(store, &old.run_id).await.unwrap(), Some((RunStatus::Passed, 1, None)));
}

async fn a_confirmation_rerun_goes_to_another_live_worker(store: &Store) {
    use server::infra::store::access;
    seeded(store, 1).await;
    access::worker_seen(store, "worker-a", "t", 0).await.unwrap();
    access::worker_seen(store, "worker-b", "t", 0).await.unwrap();
    let first = queue::claim(store, "worker-a", 1, 0, 1000).await.unwrap().remove(0);
    let fail = Outcome { status: RunStatus::Failed, ..outcome("failed") };
    assert_eq!(queue::complete(store, "worker-a", &first, &fail, 10).await.unwrap(), Completion::Confirming);
    // Worker A asks first and is alone in asking, but B was seen within the lease: A does not get it.
    assert!(queue::claim(store, "worker-a", 1, 20, 1000).await.unwrap().is_empty());
    assert_eq!(queue::claim(store, "worker-b", 1, 30, 1000).await.unwrap().len(), 1);
    // Once B has not been seen for a lease, A may confirm its own failure (nobody else would).
    queue::release(store, "worker-b").await.unwrap();
    assert!(queue::claim(store, "worker-a", 1, 40, 1000).await.unwrap().is_empty());
    assert_eq!(queue::claim(store, "worker-a", 1, 2000, 1000).await.unwrap().len(), 1);
}

/// The verdict does not wait for the whole queue: a first failure goes back to its own place, ahead
/// of its candidate's later first runs and of every later candidate's.
async fn a_confirmation_rerun_is_claimed_before_the_first_runs_still_queued(store: &Store) {
    use server::infra::store::access;
    let first = seeded(store, 5).await;
    access::worker_seen(store, "worker-a", "t", 0).await.unwrap();
    access::worker_seen(store, "worker-b", "t", 0).await.unwrap();
    let claimed = queue::claim(store, "worker-a", 2, 0, 60_000).await.unwrap();
    assert_eq!(claimed.iter().map(|c| c.ord).collect::<Vec<_>>(), [0, 1]);
    // A later candidate joins the queue behind it.
    let (later, _) = candidates::create(store, &candidate("rc2", "{}", None), &CandidateId::random(), 5).await.unwrap();
    let (scenarios, planned) = plan(3);
    assert_eq!(candidates::enqueue(store, &later.id, &scenarios, &planned, 5).await.unwrap(), 3);
    assert_ne!(later.id, first);
    let fail = Outcome { status: RunStatus::Failed, ..outcome("failed") };
    assert_eq!(queue::complete(store, "worker-a", &claimed[1], &fail, 10).await.unwrap(), Completion::Confirming);
    let next = queue::claim(store, "worker-b", 1, 20, 60_000).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].run_id, claimed[1].run_id, "the confirmation comes before ord 2 and the later candidate");
}

async fn a_failure_counts_only_once_a_rerun_confirms_it(store: &Store) {
    seeded(store, 3).await;
    let first = queue::claim(store, "worker-a", 3, 0, 60_000).await.unwrap();
    let fail = |digest: &str| Outcome {
        status: RunStatus::Failed,
        digest: Some(digest.into()),
        reason: Some("collision".into()),
        result: None,
        trace: Some(vec![9]),
    };
    assert_eq!(queue::complete(store, "worker-a", &first[0], &fail("d0"), 1).await.unwrap(), Completion::Confirming);
    assert_eq!(queue::complete(store, "worker-a", &first[1], &fail("d1"), 1).await.unwrap(), Completion::Confirming);
    assert_eq!(
        queue::complete(store, "worker-a", &first[2], &outcome("passed"), 1).await.unwrap(),
        Completion::Recorded
    );
    assert_eq!(queue::run_state(store, &first[0].run_id).await.unwrap().unwrap().0, RunStatus::Queued);
    // Worker A asks first, but the runs it failed go to it last; here they are all there is.
    let b = queue::claim(store, "worker-b", 1, 2, 60_000).await.unwrap();
    assert_eq!(b.len(), 1);
    // Same digest: the failure is confirmed and final.
    let confirmed = b.into_iter().next().unwrap();
    let same = if confirmed.run_id == first[0].run_id { "d0" } else { "d1" };
    assert_eq!(queue::complete(store, "worker-b", &confirmed, &fail(same), 3).await.unwrap(), Completion::Recorded);
    assert_eq!(queue::run_state(store, &confirmed.run_id).await.unwrap().unwrap().0, RunStatus::Failed);
    // Another digest on the re-run: nondeterminism, an error, never averaged into a verdict.
    let other = queue::claim(store, "worker-b", 1, 4, 60_000).await.unwrap().remove(0);
    let r = queue::complete(store, "worker-b", &other, &Outcome { status: RunStatus::Passed, ..fail("zz") }, 5)
        .await
        .unwrap();
    assert_eq!(r, Completion::Nondeterministic);
    let run = server::infra::store::runs::get(store, &other.run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Error);
    assert!(run.reason.unwrap().starts_with("nondeterminism: the re-run gave digest zz, the first run d"), "reason");
    assert!(queue::claim(store, "worker-a", 5, 6, 60_000).await.unwrap().is_empty());
}

async fn posting_a_candidate_is_idempotent(store: &Store) {
    let (a, created) = candidates::create(store, &candidate("rc1", "{}", Some("key-1")), &cid(1), 1).await.unwrap();
    assert!(created);
    let (again, created) = candidates::create(store, &candidate("rc1", "{}", Some("key-1")), &cid(2), 2).await.unwrap();
    assert!(!created);
    assert_eq!(again.id, a.id);
    // Without a key, the same name and configuration is the same candidate.
    let (b, created) = candidates::create(store, &candidate("rc2", "{x}", None), &cid(3), 3).await.unwrap();
    assert!(created);
    let (b2, created) = candidates::create(store, &candidate("rc2", "{x}", None), &cid(4), 4).await.unwrap();
    assert!(!created);
    assert_eq!(b2.id, b.id);
    // A different configuration under the same name is a new candidate.
    let (c, created) = candidates::create(store, &candidate("rc2", "{y}", None), &cid(5), 5).await.unwrap();
    assert!(created);
    assert_ne!(c.id, b.id);
    assert_eq!(candidates::get(store, &cid(1)).await.unwrap().unwrap().name, "rc1");
    assert_eq!(candidates::get(store, &CandidateId::random()).await.unwrap(), None);
}

async fn enqueueing_twice_never_duplicates_runs(store: &Store) {
    let id = seeded(store, 450).await;
    let (scenarios, runs) = plan(450);
    assert_eq!(candidates::enqueue(store, &id, &scenarios, &runs, 10).await.unwrap(), 0);
    let c = candidates::get(store, &id).await.unwrap().unwrap();
    assert!(c.expanded);
    assert_eq!(c.runs_total, 450);
    assert_eq!(candidates::status_counts(store, &id).await.unwrap(), [(RunStatus::Queued, 450)].into());
}

async fn claims_come_in_batches_and_never_overlap(store: &Store) {
    seeded(store, 5).await;
    let a = queue::claim(store, "worker-a", 3, 100, 1000).await.unwrap();
    let b = queue::claim(store, "worker-b", 3, 100, 1000).await.unwrap();
    assert_eq!((a.len(), b.len()), (3, 2));
    // In queue order: the first worker got the first three.
    assert_eq!(a.iter().map(|c| c.ord).collect::<Vec<_>>(), [0, 1, 2]);
    let ids: BTreeSet<_> = a.iter().chain(&b).map(|c| c.run_id.clone()).collect();
    assert_eq!(ids.len(), 5);
    assert!(queue::claim(store, "worker-c", 3, 100, 1000).await.unwrap().is_empty());
}

async fn only_the_lease_holder_writes_a_result(store: &Store) {
    seeded(store, 1).await;
    let a = queue::claim(store, "worker-a", 1, 0, 1000).await.unwrap().remove(0);
    assert_eq!(a.attempt, 0);
    // Worker A pauses; its lease expires; the rescuer re-queues; worker B takes over.
    let r = queue::rescue(store, 1001, 3).await.unwrap();
    assert_eq!((r.requeued, r.exhausted), (1, 0));
    let b = queue::claim(store, "worker-b", 1, 1002, 1000).await.unwrap().remove(0);
    assert_eq!((b.run_id.clone(), b.attempt), (a.run_id.clone(), 1));
    // A wakes up and tries to write: refused. B writes: recorded. A retries later: still refused.
    assert_eq!(queue::complete(store, "worker-a", &a, &outcome("failed"), 1100).await.unwrap(), Completion::LeaseLost);
    assert_eq!(queue::complete(store, "worker-b", &b, &outcome("passed"), 1200).await.unwrap(), Completion::Recorded);
    assert_eq!(queue::complete(store, "worker-b", &b, &outcome("failed"), 1300).await.unwrap(), Completion::LeaseLost);
    assert_eq!(queue::run_state(store, &a.run_id).await.unwrap(), Some((RunStatus::Passed, 1, None)));
    // A restarted A with the same name but the old attempt cannot write either.
    let stale = queue::Claim { ..a.clone() };
    assert_eq!(
        queue::complete(store, "worker-b", &stale, &outcome("failed"), 1400).await.unwrap(),
        Completion::LeaseLost
    );
}

/// The batch a worker holds when the database comes back after an outage: results it could not
/// write (confirmation re-runs and first runs, every lease lost meanwhile to the rescuer) and the
/// results of the same runs claimed again by the same worker, so a run can appear twice, once per
/// attempt. Only the current attempt of each run is taken, each with its own trace (a stale
/// attempt's trace never lands, not even on a run that now passed), each slot says what happened
/// to it, and writing the same batch again (an answer lost on the way back) changes nothing.
async fn a_batch_held_across_an_outage_is_written_run_by_run(store: &Store) {
    seeded(store, 4).await;
    let failed = |trace: u8| Outcome { trace: Some(vec![trace]), ..outcome("failed") };
    let passed = Outcome { trace: None, ..outcome("passed") };
    // Before the outage: r0 and r1 fail a first time and go back to be confirmed; worker-a (the only
    // worker) takes their confirmation re-runs. It also holds r2 and r3 (attempt 0).
    let first = queue::claim(store, "worker-a", 4, 0, 1000).await.unwrap();
    let (r0, r1, r2, r3) = (&first[0], &first[1], &first[2], &first[3]);
    let before = [(r0, &failed(9)), (r1, &failed(9))];
    assert_eq!(
        queue::complete_batch(store, "worker-a", &before, 10).await.unwrap(),
        [Completion::Confirming, Completion::Confirming]
    );
    let confirming = queue::claim(store, "worker-a", 2, 100, 1000).await.unwrap();
    assert_eq!((&confirming[0].run_id, &confirming[1].run_id), (&r0.run_id, &r1.run_id));
    // The outage: these four results cannot be written, the heartbeats fail, every lease lapses and
    // the rescuer re-queues the four runs (attempt 1). The database answers again; worker-a claims
    // them again and finishes r0 (confirmed failure), r2 (first failure) and r3 (a pass).
    let held = [(&confirming[0], failed(1)), (&confirming[1], failed(2)), (r2, failed(3)), (r3, failed(4))];
    assert_eq!(queue::rescue(store, 5000, 3).await.unwrap().requeued, 4);
    let again = queue::claim(store, "worker-a", 4, 5001, 1000).await.unwrap();
    assert!(again.iter().all(|c| c.attempt == 1), "{again:?}");
    let current = [(&again[0], failed(11)), (&again[2], failed(13)), (&again[3], passed.clone())];
    let batch: Vec<(&queue::Claim, &Outcome)> = held.iter().chain(&current).map(|(c, o)| (*c, o)).collect();
    let expected = [
        Completion::LeaseLost,
        Completion::LeaseLost,
        Completion::LeaseLost,
        Completion::LeaseLost,
        Completion::Recorded,
        Completion::Confirming,
        Completion::Recorded,
    ];
    assert_eq!(queue::complete_batch(store, "worker-a", &batch, 6000).await.unwrap(), expected);
    async fn state(store: &Store, id: &RunId) -> (RunStatus, i32, Option<String>) {
        queue::run_state(store, id).await.unwrap().unwrap()
    }
    assert_eq!(state(store, &r0.run_id).await, (RunStatus::Failed, 1, None));
    assert_eq!(state(store, &r1.run_id).await, (RunStatus::Running, 1, Some("worker-a".into())), "r1 still runs");
    assert_eq!(state(store, &r2.run_id).await, (RunStatus::Queued, 1, None));
    assert_eq!(state(store, &r3.run_id).await, (RunStatus::Passed, 1, None));
    assert_eq!(runs::trace(store, &r0.run_id).await.unwrap(), Some(vec![11]), "the current attempt's trace");
    assert_eq!(runs::trace(store, &r2.run_id).await.unwrap(), None, "a first failure keeps no trace");
    assert_eq!(runs::trace(store, &r3.run_id).await.unwrap(), None, "a stale failure's trace is not a pass's");
    // The worker did not hear the answer and writes the same batch again: nothing changes.
    assert_eq!(queue::complete_batch(store, "worker-a", &batch, 6100).await.unwrap(), [Completion::LeaseLost; 7]);
    assert_eq!(state(store, &r0.run_id).await, (RunStatus::Failed, 1, None));
    assert_eq!(runs::trace(store, &r0.run_id).await.unwrap(), Some(vec![11]));
    assert_eq!(state(store, &r2.run_id).await, (RunStatus::Queued, 1, None));
}

/// One batch write (one statement on Postgres) decides each run on its own: a lost lease skips that
/// run only, a first failure goes back to the queue without its trace, a pass and a confirmed
/// failure are final, and only final failures keep their trace.
async fn a_batch_of_results_is_guarded_run_by_run(store: &Store) {
    seeded(store, 4).await;
    let first = queue::claim(store, "worker-a", 4, 0, 1000).await.unwrap();
    // Every lease of worker-a expires; it claims three runs again, worker-b takes the fourth.
    assert_eq!(queue::rescue(store, 5000, 3).await.unwrap().requeued, 4);
    let again = queue::claim(store, "worker-a", 3, 5001, 1000).await.unwrap();
    let b = queue::claim(store, "worker-b", 1, 5001, 1000).await.unwrap();
    assert_eq!((again.len(), b.len(), &b[0].run_id), (3, 1, &first[3].run_id));
    let passed = Outcome { trace: None, ..outcome("passed") };
    let failed = outcome("failed");
    // worker-a still has its old claim on the fourth run (attempt 0) in hand and writes it too.
    let items = [(&again[0], &passed), (&again[1], &failed), (&again[2], &passed), (&first[3], &failed)];
    let done = queue::complete_batch(store, "worker-a", &items, 6000).await.unwrap();
    assert_eq!(done, [Completion::Recorded, Completion::Confirming, Completion::Recorded, Completion::LeaseLost]);
    assert_eq!(queue::run_state(store, &again[0].run_id).await.unwrap(), Some((RunStatus::Passed, 1, None)));
    assert_eq!(queue::run_state(store, &again[1].run_id).await.unwrap(), Some((RunStatus::Queued, 1, None)));
    assert_eq!(
        queue::run_state(store, &b[0].run_id).await.unwrap(),
        Some((RunStatus::Running, 1, Some("worker-b".into()))),
        "the lost run is untouched"
    );
    assert_eq!(runs::trace(store, &again[1].run_id).await.unwrap(), None, "a first failure keeps no trace");
    // The confirmation re-run (no other live worker: worker-a may take it) is final with its trace.
    let confirm = queue::claim(store, "worker-a", 1, 7000, 1000).await.unwrap();
    assert_eq!(confirm.len(), 1);
    let done = queue::complete_batch(store, "worker-a", &[(&confirm[0], &failed)], 7100).await.unwrap();
    assert_eq!(done, [Completion::Recorded]);
    assert_eq!(runs::trace(store, &confirm[0].run_id).await.unwrap(), Some(vec![1, 2, 3]));
    assert!(queue::complete_batch(store, "worker-a", &[], 7200).await.unwrap().is_empty());
}

async fn heartbeats_keep_a_lease_alive(store: &Store) {
    seeded(store, 2).await;
    let claims = queue::claim(store, "worker-a", 2, 0, 1000).await.unwrap();
    let mut held: Vec<_> = claims.iter().map(|c| c.run_id.clone()).collect();
    held.sort();
    assert_eq!(queue::heartbeat(store, "worker-a", 900, 1000).await.unwrap(), held);
    assert_eq!(queue::rescue(store, 1500, 3).await.unwrap().requeued, 0, "the heartbeat extended the lease to 1900");
    assert_eq!(queue::rescue(store, 2000, 3).await.unwrap().requeued, 2);
    // After losing them, a heartbeat says so.
    assert!(queue::heartbeat(store, "worker-a", 2100, 1000).await.unwrap().is_empty());
}

async fn exhausted_attempts_become_infrastructure_errors(store: &Store) {
    seeded(store, 1).await;
    let mut now = 0;
    for attempt in 0..3 {
        let c = queue::claim(store, "flaky-worker", 1, now, 100).await.unwrap().remove(0);
        assert_eq!(c.attempt, attempt);
        now += 200;
        let r = queue::rescue(store, now, 3).await.unwrap();
        if attempt < 2 {
            assert_eq!((r.requeued, r.exhausted), (1, 0));
        } else {
            assert_eq!((r.requeued, r.exhausted), (0, 1));
            let (status, attempts, owner) = queue::run_state(store, &c.run_id).await.unwrap().unwrap();
            assert_eq!((status.as_str(), attempts, owner), ("error", 3, None));
        }
    }
    assert!(queue::claim(store, "w", 1, now, 100).await.unwrap().is_empty());
}

async fn release_returns_claims_without_counting_an_attempt(store: &Store) {
    seeded(store, 3).await;
    let claims = queue::claim(store, "worker-a", 3, 0, 1000).await.unwrap();
    assert_eq!(queue::release(store, "worker-a").await.unwrap(), 3);
    let again = queue::claim(store, "worker-b", 3, 10, 1000).await.unwrap();
    assert_eq!(
        again.iter().map(|c| (c.run_id.clone(), c.attempt)).collect::<Vec<_>>(),
        claims.iter().map(|c| (c.run_id.clone(), 0)).collect::<Vec<_>>()
    );
}

async fn concurrent_workers_claim_every_run_exactly_once(store: &Store) {
    seeded(store, 120).await;
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut done = Vec::new();
            loop {
                let claims = queue::claim(&store, &worker, 7, 0, 60_000).await.unwrap();
                if claims.is_empty() {
                    return done;
                }
                for c in claims {
                    assert_eq!(
                        queue::complete(&store, &worker, &c, &outcome("passed"), 1).await.unwrap(),
                        Completion::Recorded
                    );
                    done.push(c.run_id);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!((all.len(), unique.len()), (120, 120));
}

async fn an_interrupted_expansion_is_found_and_finished(store: &Store) {
    // The server died after recording the candidate and before enqueueing its runs.
    let (c, _) = candidates::create(store, &candidate("rc9", "{}", Some("k9")), &cid(9), 0).await.unwrap();
    assert!(!c.expanded);
    let pending = candidates::unexpanded(store).await.unwrap();
    assert_eq!(pending.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), [cid(9)]);
    let (scenarios, runs) = plan(10);
    candidates::enqueue(store, &cid(9), &scenarios, &runs, 5).await.unwrap();
    assert!(candidates::unexpanded(store).await.unwrap().is_empty());
    assert_eq!(candidates::get(store, &cid(9)).await.unwrap().unwrap().runs_total, 10);
}
