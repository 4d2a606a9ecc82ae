//! A worker: claims runs in batches, simulates them on a dedicated thread pool (never on the async
//! runtime's threads) while the next runs are claimed and finished ones written, heartbeats its
//! leases, writes each result only while it holds the lease, and on shutdown finishes the runs in
//! flight and releases anything left. Used by `farm worker` and by the
//! embedded workers of `farm serve`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::watch;
use tracing::Instrument;

use autonomy_stack::StackConfig;
use scenario_dsl::{ValidScenario, Variant};

use super::clock::{now_ms, MonotonicClock};
use super::metrics::Metrics;
use super::store::queue::{self, Claim, Completion, Outcome};
use super::store::{access, candidates, runs, Store, StoreError};
use super::telemetry;
use crate::domain::ids::CandidateId;
use crate::domain::report::RunRecord;
use crate::domain::run::RunStatus;
use crate::domain::variant::{scenario_from_text, variant_by_key};

/// Why a worker stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The simulation thread pool could not be built.
    #[error("cannot start the simulation pool: {0}")]
    Pool(#[from] rayon::ThreadPoolBuildError),
    /// The queue failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Unique id (shows up as the lease owner).
    pub id: String,
    /// Simulation threads; also the claim batch size.
    pub threads: usize,
    /// Lease length, ms; heartbeats come every third of it.
    pub lease_ms: i64,
    /// How long to wait for work before asking again (LISTEN/NOTIFY wakes it earlier on Postgres).
    pub poll: Duration,
    /// Stack size of each simulation thread, bytes (default: the platform's).
    pub stack_bytes: Option<usize>,
    /// How long the database may fail without a break before the worker gives up (exits non-zero).
    pub give_up_after: Duration,
    /// After shutdown began, how long to keep trying to write the last results.
    pub shutdown_grace: Duration,
    /// What the loop says about itself to liveness probes.
    pub liveness: Arc<Liveness>,
}

impl WorkerSettings {
    /// Settings with the defaults for everything but the id and the threads: 30 s leases, 1 s
    /// polls, give up after 10 minutes of outage, 10 s to write the last results on shutdown.
    pub fn new(id: String, threads: usize) -> Self {
        Self {
            id,
            threads,
            lease_ms: 30_000,
            poll: Duration::from_secs(1),
            stack_bytes: None,
            give_up_after: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(10),
            liveness: Liveness::new(),
        }
    }
}

/// A worker id unique across processes: role, host process id and a random suffix.
pub fn worker_id(role: &str) -> String {
    format!("{role}-{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Caches of what runs need: parsed scenario versions and candidates' configurations.
#[derive(Default)]
struct Caches {
    scenarios: BTreeMap<String, Arc<ValidScenario>>,
    configs: BTreeMap<CandidateId, Arc<StackConfig>>,
}

/// What a claimed run needs to simulate, or why it cannot be (the run ends as `error` with it).
async fn prepare(
    store: &Store,
    caches: &Mutex<Caches>,
    claim: &Claim,
) -> Result<(Variant, Arc<StackConfig>, Vec<String>), String> {
    let cached = caches.lock().ok().and_then(|c| c.scenarios.get(&claim.content_hash).cloned());
    let scenario = match cached {
        Some(s) => s,
        None => {
            let version = runs::scenario(store, &claim.content_hash)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("scenario version {} is missing from the store", claim.content_hash))?;
            let mut s = scenario_from_text(&version.file, &version.body).map_err(|e| e.to_string())?;
            // A map scenario's map is read beside the stored file's path, as the catalog loader
            // read it: a worker without the catalog's maps fails the run naming the file.
            crate::infra::catalog_files::attach_map(&mut s).map_err(|e| e.to_string())?;
            let s = Arc::new(s);
            if let Ok(mut c) = caches.lock() {
                c.scenarios.insert(claim.content_hash.clone(), s.clone());
            }
            s
        }
    };
    let variant = variant_by_key(&scenario, &claim.variant_key).map_err(|e| e.to_string())?;
    let cached = caches.lock().ok().and_then(|c| c.configs.get(&claim.candidate_id).cloned());
    let config = match cached {
        Some(c) => c,
        None => {
            let c = candidates::stack_config(store, &claim.candidate_id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("candidate {} is missing", claim.candidate_id))?;
            let c = Arc::new(c);
            if let Ok(mut m) = caches.lock() {
                m.configs.insert(claim.candidate_id.clone(), c.clone());
            }
            c
        }
    };
    Ok((variant, config, scenario.template().metadata.all_tags()))
}

/// Simulates one prepared run on `pool` and builds its outcome.
async fn simulate(
    pool: &rayon::ThreadPool,
    variant: Variant,
    config: Arc<StackConfig>,
    tags: Vec<String>,
    metrics: Option<&Metrics>,
) -> Outcome {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let span = tracing::Span::current();
    pool.spawn(move || {
        let _entered = span.enter();
        let started = Instant::now();
        let result = sim_core::run_variant(&variant, &config, &mut MonotonicClock::default());
        let wall = started.elapsed().as_secs_f64();
        let record = RunRecord::new(&variant, tags, None, &result, wall);
        let trace = (result.verdict != sim_core::Verdict::Passed).then(|| result.trace.to_bytes());
        tracing::debug!(verdict = result.verdict.as_str(), wall_s = wall, "simulated");
        let _ = tx.send((record, trace, wall));
    });
    match rx.await {
        Ok((record, trace, wall)) => {
            if let Some(m) = metrics {
                m.run_wall_seconds.observe(wall);
            }
            Outcome {
                status: RunStatus::of(record.verdict),
                digest: Some(record.digest.clone()),
                reason: record.reason.clone(),
                result: Some(record),
                trace,
            }
        }
        Err(_) => Outcome::error("the simulation thread died"),
    }
}

/// Runs a worker until `shutdown` turns true; then finishes the batch in hand and releases leftovers.
pub async fn run(
    store: Store,
    settings: WorkerSettings,
    shutdown: watch::Receiver<bool>,
    metrics: Option<Metrics>,
) -> Result<(), WorkerError> {
    let pool = {
        let liveness = settings.liveness.clone();
        let stop_on_error = |e| {
            liveness.stop();
            e
        };
        let mut builder =
            rayon::ThreadPoolBuilder::new().num_threads(settings.threads.max(1)).thread_name(|i| format!("sim-{i}"));
        if let Some(bytes) = settings.stack_bytes {
            builder = builder.stack_size(bytes);
        }
        builder.build().map_err(stop_on_error)?
    };
    let caches = Mutex::new(Caches::default());
    let (store_ref, caches, pool, m) = (&store, &caches, &pool, metrics.as_ref());
    let execute = |claim: Claim| {
        let span = tracing::info_span!("run", run_id = %claim.run_id, candidate_id = %claim.candidate_id, variant = %claim.variant_key, attempt = claim.attempt);
        telemetry::continue_trace(&span, claim.traceparent.as_deref());
        async move {
            match prepare(store_ref, caches, &claim).await {
                Ok((variant, config, tags)) => simulate(pool, variant, config, tags, m).await,
                Err(reason) => {
                    tracing::error!(%reason, "cannot prepare the run");
                    Outcome::error(reason)
                }
            }
        }
        .instrument(span)
    };
    Ok(drive(&store, &settings, shutdown, metrics.as_ref(), execute).await?)
}

/// What a worker's loop reports about itself, for liveness probes: alive while the loop runs (also
/// while it waits out a database outage), dead once it has stopped for any reason.
#[derive(Debug, Default)]
pub struct Liveness {
    stopped: AtomicBool,
}

impl Liveness {
    /// A fresh state: not started.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Records that the loop has ended (or never could start).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// True until the loop has ended (before its start the worker counts as alive: it is starting);
    /// false after it ended, whatever the reason.
    pub fn is_alive(&self) -> bool {
        !self.stopped.load(Ordering::SeqCst)
    }
}

/// Marks the loop dead when it ends, however it ends (return, error, panic), and stops the
/// heartbeats with it: a lease is never extended for work nobody is doing.
struct LoopGuard {
    liveness: Arc<Liveness>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for LoopGuard {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
        self.liveness.stop();
    }
}

/// Exponential backoff between retries of a failed store operation: 100 ms doubling to 2 s.
#[derive(Debug)]
struct Backoff {
    next: Duration,
    failing_since: Option<Instant>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(2);

    fn new() -> Self {
        Self { next: Self::FIRST, failing_since: None }
    }

    /// Records a failure; returns how long to wait, or `None` once failures have lasted `give_up`.
    fn failed(&mut self, give_up: Duration) -> Option<Duration> {
        let since = *self.failing_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= give_up {
            return None;
        }
        let wait = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        Some(wait)
    }

    fn succeeded(&mut self) {
        if let Some(since) = self.failing_since.take() {
            tracing::info!(outage_s = since.elapsed().as_secs_f64(), "the results database answers again");
        }
        self.next = Self::FIRST;
    }
}

/// Counts and logs a failed store operation.
fn store_failed(metrics: Option<&Metrics>, op: &'static str, e: &StoreError) {
    tracing::warn!(op, error = %e, "store operation failed; retrying with backoff");
    if let Some(m) = metrics {
        m.store_errors.with_label_values(&[op]).inc();
    }
}

/// LISTEN on `farm_runs` (Postgres): wakes the worker when runs are enqueued or re-queued.
async fn listen(store: &Store) -> Option<sqlx::postgres::PgListener> {
    match store {
        Store::Postgres(pg) => match sqlx::postgres::PgListener::connect_with(pg).await {
            Ok(mut l) => l.listen("farm_runs").await.ok().map(|_| l),
            Err(_) => None,
        },
        Store::Sqlite(_) => None,
    }
}

/// The queue side of a worker, streaming so that simulation threads never wait on the database:
/// `threads` runs are in flight at all times, a second batch of claims waits in hand, and results
/// are written in the background as they come, while the next runs simulate. `execute` turns one
/// claimed run into its outcome (the farm simulates it; `farm queue-bench` stands in for that with a
/// busy wait). On shutdown, runs in flight finish, every result is written, and the claims not
/// started are released.
///
/// A failing database does not end the loop: claims, result writes and registration are retried
/// with backoff (results wait in memory), each failure is logged and counted
/// (`farm_store_errors_total{op}`), and the loop gives up with an error only when the database has
/// failed without a break for `settings.give_up_after` (the process then exits non-zero and an
/// orchestrator restarts it). Runs whose lease expired meanwhile are re-run elsewhere; a late write
/// of this worker is refused by the lease guard, so each run still gets exactly one result.
///
/// While results wait after a failed write, the worker claims nothing more: it finishes the runs it
/// has, and claims again only once a write has gone through. A database that answers claims but
/// refuses results would otherwise hand this worker the whole queue, whose runs it keeps leased
/// (heartbeats) and can never report. Result writes keep their own failure clock, so successful
/// claims or registrations never hide a write that keeps failing from `give_up_after`.
pub async fn drive<E, F>(
    store: &Store,
    settings: &WorkerSettings,
    mut shutdown: watch::Receiver<bool>,
    metrics: Option<&Metrics>,
    execute: E,
) -> Result<(), StoreError>
where
    E: Fn(Claim) -> F,
    F: std::future::Future<Output = Outcome> + Send,
{
    let version = env!("CARGO_PKG_VERSION");
    let mut guard = LoopGuard { liveness: settings.liveness.clone(), heartbeat: None };
    let mut backoff = Backoff::new();
    let mut write_backoff = Backoff::new();
    // Register; a database that is down at start is waited for like any other outage.
    while let Err(e) = access::worker_seen(store, &settings.id, version, now_ms()).await {
        store_failed(metrics, "register", &e);
        let Some(wait) = backoff.failed(settings.give_up_after) else { return Err(e) };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => if *shutdown.borrow() { return Ok(()) },
        }
    }
    backoff.succeeded();
    guard.heartbeat = Some({
        let (store, id, lease, mut stop) = (store.clone(), settings.id.clone(), settings.lease_ms, shutdown.clone());
        let metrics = metrics.cloned();
        tokio::spawn(async move {
            let every = Duration::from_millis(u64::try_from(lease / 3).unwrap_or(1000).max(50));
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.changed() => if *stop.borrow() { break },
                }
                let now = now_ms();
                if let Err(e) = queue::heartbeat(&store, &id, now, lease).await {
                    store_failed(metrics.as_ref(), "heartbeat", &e);
                    continue;
                }
                if let Err(e) = access::worker_seen(&store, &id, version, now).await {
                    store_failed(metrics.as_ref(), "heartbeat", &e);
                }
            }
        })
    });
    let mut listener = listen(store).await;
    tracing::info!(worker = %settings.id, threads = settings.threads, "worker started");
    let threads = settings.threads.max(1);
    let mut running = FuturesUnordered::new();
    let mut in_hand: VecDeque<Claim> = VecDeque::new();
    let mut done: Vec<(Claim, Outcome)> = Vec::new();
    let mut claiming: Option<BoxFuture<'_, Result<Vec<Claim>, StoreError>>> = None;
    let mut writing: Option<BoxFuture<'_, Written>> = None;
    // After a claim that found nothing (or failed): no new claim before this wakes (or a NOTIFY).
    let mut idle: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    // After a failed write: no new write before this wakes.
    let mut write_pause: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    // From a failed write until a write goes through: results wait, so nothing more is claimed.
    let mut results_waiting = false;
    // Once shutdown began, results are written for at most this long if the database is down.
    let mut shutdown_deadline: Option<Instant> = None;
    loop {
        let stopping = *shutdown.borrow();
        if stopping && shutdown_deadline.is_none() {
            shutdown_deadline = Some(Instant::now() + settings.shutdown_grace);
        }
        while !stopping && running.len() < threads {
            let Some(c) = in_hand.pop_front() else { break };
            let outcome = execute(c.clone());
            running.push(async move { (c, outcome.await) });
        }
        // Claim a batch whenever the one in hand has been started, so the next is ready in time.
        let wanted = (2 * threads).saturating_sub(running.len());
        if claiming.is_none() && idle.is_none() && !stopping && in_hand.is_empty() && !results_waiting {
            claiming = Some(Box::pin(
                async move {
                    let t = Instant::now();
                    let claims = queue::claim(store, &settings.id, wanted as i64, now_ms(), settings.lease_ms).await;
                    if let Some(m) = metrics {
                        m.claim_seconds.observe(t.elapsed().as_secs_f64());
                    }
                    if let Ok(claims) = &claims {
                        for c in claims {
                            tracing::debug!(run_id = %c.run_id, candidate_id = %c.candidate_id, attempt = c.attempt, "claimed");
                        }
                    }
                    claims
                }
                .instrument(tracing::debug_span!("claim", worker = %settings.id, wanted)),
            ));
        }
        if writing.is_none() && write_pause.is_none() && !done.is_empty() {
            let batch = std::mem::take(&mut done);
            writing = Some(Box::pin(async move { record(store, &settings.id, metrics, batch).await }));
        }
        if stopping && running.is_empty() && claiming.is_none() && writing.is_none() {
            if done.is_empty() {
                break;
            }
            if shutdown_deadline.is_some_and(|d| Instant::now() >= d) {
                for (claim, _) in &done {
                    tracing::error!(run_id = %claim.run_id, candidate_id = %claim.candidate_id, "result not written before shutdown: the run will be re-run when its lease expires");
                }
                return Err(StoreError::ResultsNotWritten(done.len()));
            }
        }
        let event = tokio::select! {
            Some(finished) = running.next(), if !running.is_empty() => Event::Finished(Box::new(finished)),
            claims = pending_unless(&mut claiming) => Event::Claimed(claims),
            written = pending_unless(&mut writing) => Event::Written(written),
            _ = pending_unless(&mut idle) => Event::Wake,
            _ = pending_unless(&mut write_pause) => Event::WriteAgain,
            notified = async { match listener.as_mut() { Some(l) => l.recv().await.map(drop), None => std::future::pending().await } }, if idle.is_some() => match notified {
                Ok(()) => Event::Wake,
                Err(_) => Event::ListenerLost,
            },
            _ = shutdown.changed(), if !stopping => Event::Wake,
        };
        match event {
            Event::Finished(finished) => done.push(*finished),
            Event::Claimed(Ok(claims)) => {
                claiming = None;
                backoff.succeeded();
                if claims.is_empty() {
                    idle = Some(Box::pin(tokio::time::sleep(settings.poll)));
                    if listener.is_none() {
                        listener = listen(store).await;
                    }
                }
                in_hand.extend(claims);
            }
            Event::Claimed(Err(e)) => {
                claiming = None;
                store_failed(metrics, "claim", &e);
                let Some(wait) = backoff.failed(settings.give_up_after) else { return Err(e) };
                idle = Some(Box::pin(tokio::time::sleep(wait)));
            }
            Event::Written(Written { failed: None, .. }) => {
                writing = None;
                results_waiting = false;
                write_backoff.succeeded();
            }
            Event::Written(Written { failed: Some(e), unwritten }) => {
                writing = None;
                results_waiting = true;
                store_failed(metrics, "write", &e);
                // Unwritten results go back in front, in order; they are written when it answers.
                let mut again = unwritten;
                again.append(&mut done);
                done = again;
                let give_up = if stopping { settings.shutdown_grace } else { settings.give_up_after };
                let Some(wait) = write_backoff.failed(give_up) else { return Err(e) };
                write_pause = Some(Box::pin(tokio::time::sleep(wait)));
            }
            Event::WriteAgain => write_pause = None,
            Event::ListenerLost => {
                // Reconnected after the next successful claim; polling covers the gap.
                listener = None;
            }
            Event::Wake => idle = None,
        }
    }
    let released = queue::release(store, &settings.id).await?;
    drop(guard);
    tracing::info!(worker = %settings.id, released, "worker stopped");
    Ok(())
}

/// What woke the worker's loop.
enum Event {
    Finished(Box<(Claim, Outcome)>),
    Claimed(Result<Vec<Claim>, StoreError>),
    Written(Written),
    WriteAgain,
    ListenerLost,
    Wake,
}

/// A result write: on failure, the error and the results it did not write.
struct Written {
    failed: Option<StoreError>,
    unwritten: Vec<(Claim, Outcome)>,
}

/// Awaits the future in `slot`, or never if there is none (a disabled `select!` branch).
async fn pending_unless<F: std::future::Future + Unpin>(slot: &mut Option<F>) -> F::Output {
    match slot.as_mut() {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// Writes a batch of outcomes (each only under its current lease) and counts how each was taken;
/// a failed write hands the batch back.
async fn record(store: &Store, worker: &str, metrics: Option<&Metrics>, finished: Vec<(Claim, Outcome)>) -> Written {
    if finished.is_empty() {
        return Written { failed: None, unwritten: Vec::new() };
    }
    let items: Vec<(&Claim, &Outcome)> = finished.iter().map(|(c, o)| (c, o)).collect();
    let written = match queue::complete_batch(store, worker, &items, now_ms()).await {
        Ok(w) => w,
        Err(e) => {
            drop(items);
            return Written { failed: Some(e), unwritten: finished };
        }
    };
    for ((claim, outcome), written) in finished.iter().zip(written) {
        let span = tracing::info_span!("result", run_id = %claim.run_id, candidate_id = %claim.candidate_id);
        telemetry::continue_trace(&span, claim.traceparent.as_deref());
        let _entered = span.enter();
        tracing::info!(status = outcome.status.as_str(), taken = ?written, "result written");
        let label = match written {
            Completion::Recorded => outcome.status.as_str(),
            Completion::Confirming => "confirming",
            Completion::Nondeterministic => "nondeterministic",
            Completion::LeaseLost => "lease_lost",
        };
        if let Some(m) = metrics {
            m.runs_completed.with_label_values(&[label]).inc();
        }
        match written {
            Completion::LeaseLost => tracing::warn!("lease lost before the result was written; discarded"),
            Completion::Nondeterministic => tracing::error!("re-run gave another digest: nondeterminism"),
            _ => {}
        }
    }
    Written { failed: None, unwritten: Vec::new() }
}
