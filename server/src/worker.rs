//! A worker: claims runs in batches, simulates them on a dedicated thread pool (never on the async
//! runtime's threads), heartbeats its leases, writes each result only while it holds the lease, and
//! on shutdown finishes its batch and releases anything left. Used by `farm worker` and by the
//! embedded workers of `farm serve`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use autonomy_stack::StackConfig;
use scenario_dsl::Variant;

use crate::clock::MonotonicClock;
use crate::metrics::Metrics;
use crate::report::RunRecord;
use crate::store::queue::{self, Claim, Completion, Outcome};
use crate::store::{access, now_ms, runs, Store, StoreError};

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
}

/// Caches of what runs need: parsed scenario versions and candidates' configurations.
#[derive(Default)]
struct Caches {
    scenarios: BTreeMap<String, Arc<scenario_dsl::ValidScenario>>,
    configs: BTreeMap<String, Arc<StackConfig>>,
}

/// Why a claimed run could not be prepared: the run ends as `error` with this reason.
async fn prepare(
    store: &Store,
    caches: &Mutex<Caches>,
    claim: &Claim,
) -> Result<(Variant, Arc<StackConfig>, Vec<String>), String> {
    let cached = caches.lock().ok().and_then(|c| c.scenarios.get(&claim.content_hash).cloned());
    let scenario = match cached {
        Some(s) => s,
        None => {
            let (file, body) = runs::scenario_body(store, &claim.content_hash)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("scenario version {} is missing from the store", claim.content_hash))?;
            let parsed = scenario_dsl::parse(&file, &body);
            let s = Arc::new(parsed.scenario.ok_or_else(|| format!("stored scenario {file} no longer parses"))?);
            if let Ok(mut c) = caches.lock() {
                c.scenarios.insert(claim.content_hash.clone(), s.clone());
            }
            s
        }
    };
    let variant = scenario
        .variants()
        .iter()
        .find(|v| v.key.as_str() == claim.variant_key)
        .cloned()
        .ok_or_else(|| format!("variant {} is not in scenario {}", claim.variant_key, scenario.id()))?;
    let cached = caches.lock().ok().and_then(|c| c.configs.get(&claim.candidate_id).cloned());
    let config = match cached {
        Some(c) => c,
        None => {
            let json = runs::stack_config(store, &claim.candidate_id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("candidate {} is missing", claim.candidate_id))?;
            let c: Arc<StackConfig> =
                Arc::new(serde_json::from_str(&json).map_err(|e| format!("stored stack configuration: {e}"))?);
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
    pool.spawn(move || {
        let started = Instant::now();
        let result = sim_core::run_variant(&variant, &config, &mut MonotonicClock::default());
        let wall = started.elapsed().as_secs_f64();
        let record = RunRecord::new(&variant, tags, None, &result, wall);
        let trace = (result.verdict != sim_core::Verdict::Passed).then(|| result.trace.to_bytes());
        let _ = tx.send((record, trace, wall));
    });
    match rx.await {
        Ok((record, trace, wall)) => {
            if let Some(m) = metrics {
                m.run_wall_seconds.observe(wall);
            }
            Outcome {
                status: record.verdict.as_str().to_owned(),
                digest: Some(record.digest.clone()),
                reason: record.reason.clone(),
                result: serde_json::to_string(&record).unwrap_or_else(|_| "{}".into()),
                trace,
            }
        }
        Err(_) => error_outcome("the simulation thread died"),
    }
}

fn error_outcome(reason: &str) -> Outcome {
    Outcome { status: "error".into(), digest: None, reason: Some(reason.to_owned()), result: "{}".into(), trace: None }
}

/// Runs a worker until `shutdown` turns true; then finishes the batch in hand and releases leftovers.
pub async fn run(
    store: Store,
    settings: WorkerSettings,
    mut shutdown: watch::Receiver<bool>,
    metrics: Option<Metrics>,
) -> Result<(), StoreError> {
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(settings.threads.max(1))
        .thread_name(|i| format!("sim-{i}"))
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the simulation pool");
            return Ok(());
        }
    };
    let caches = Mutex::new(Caches::default());
    let version = env!("CARGO_PKG_VERSION");
    access::worker_seen(&store, &settings.id, version, now_ms()).await?;
    let heartbeat = {
        let (store, id, lease, mut stop) = (store.clone(), settings.id.clone(), settings.lease_ms, shutdown.clone());
        tokio::spawn(async move {
            let every = Duration::from_millis(u64::try_from(lease / 3).unwrap_or(1000).max(50));
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.changed() => if *stop.borrow() { break },
                }
                let now = now_ms();
                if let Err(e) = queue::heartbeat(&store, &id, now, lease).await {
                    tracing::warn!(error = %e, "heartbeat failed");
                }
                let _ = access::worker_seen(&store, &id, version, now).await;
            }
        })
    };
    let mut listener = match &store {
        Store::Postgres(pg) => match sqlx::postgres::PgListener::connect_with(pg).await {
            Ok(mut l) => l.listen("farm_runs").await.ok().map(|_| l),
            Err(_) => None,
        },
        Store::Sqlite(_) => None,
    };
    tracing::info!(worker = %settings.id, threads = settings.threads, "worker started");
    while !*shutdown.borrow() {
        let t = Instant::now();
        let claims = queue::claim(&store, &settings.id, settings.threads as i64, now_ms(), settings.lease_ms).await?;
        if let Some(m) = &metrics {
            m.claim_seconds.observe(t.elapsed().as_secs_f64());
        }
        if claims.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(settings.poll) => {}
                _ = shutdown.changed() => {}
                _ = async { match listener.as_mut() { Some(l) => { let _ = l.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
            continue;
        }
        // Prepare and start every claim of the batch, then collect the results in order.
        let mut jobs = Vec::new();
        for c in &claims {
            let (store, caches, pool, metrics) = (&store, &caches, &pool, &metrics);
            jobs.push(async move {
                let outcome = match prepare(store, caches, c).await {
                    Ok((variant, config, tags)) => simulate(pool, variant, config, tags, metrics.as_ref()).await,
                    Err(reason) => error_outcome(&reason),
                };
                (c, outcome)
            });
        }
        let finished = join_all(jobs).await;
        let items: Vec<(&Claim, &Outcome)> = finished.iter().map(|(c, o)| (*c, o)).collect();
        let written = queue::complete_batch(&store, &settings.id, &items, now_ms()).await?;
        for ((claim, outcome), written) in finished.iter().zip(written) {
            let label = match written {
                Completion::Recorded => outcome.status.as_str(),
                Completion::Confirming => "confirming",
                Completion::Nondeterministic => "nondeterministic",
                Completion::LeaseLost => "lease_lost",
            };
            if let Some(m) = &metrics {
                m.runs_completed.with_label_values(&[label]).inc();
            }
            match written {
                Completion::LeaseLost => {
                    tracing::warn!(run = %claim.run_id, "lease lost before the result was written; discarded")
                }
                Completion::Nondeterministic => {
                    tracing::error!(run = %claim.run_id, "re-run gave another digest: nondeterminism")
                }
                _ => {}
            }
        }
    }
    let released = queue::release(&store, &settings.id).await?;
    heartbeat.abort();
    tracing::info!(worker = %settings.id, released, "worker stopped");
    Ok(())
}

/// Awaits every future, concurrently, keeping their order.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut handles: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = handles.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (h, o) in handles.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match h.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
