//! `farm http-bench --server URL`: how fast a running farm answers `/healthz` while scenario
//! validations of the largest size the language allows (20,000 variants) are posted from several
//! threads at once. Prints `/healthz` latency percentiles and what happened to the validations.
//! Reported, never asserted: wall-clock numbers belong in benchmarks, not tests.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

/// Arguments of `farm http-bench`.
#[derive(Debug, Args)]
pub struct HttpBenchArgs {
    /// The farm, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "FARM_SERVER")]
    pub server: String,
    /// A token (any role): validations without one are rate-limited.
    #[arg(long, env = "FARM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Threads posting maximal validations.
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// How long to measure, seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

/// A scenario that expands to the language's maximum of 20,000 variants.
const MAXIMAL: &str = "version: 1
metadata: { id: bench.maximal, title: t, description: d, owner: qa, domain: highway, severity: minor }
parameters:
  a: { range: { from: 1, to: 100, step: 1 } }
  b: { range: { from: 1, to: 200, step: 1 } }
world:
  road: { lanes: 2, length: 300, speed_limit: 30 }
ego:
  start: { lane: 0, s: 10 }
  speed: 20
  goal: { distance: 200 }
criteria:
  - no_collision: {}
duration: 20
";

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted.get(((sorted.len().saturating_sub(1)) as f64 * q).round() as usize).copied().unwrap_or(f64::NAN)
}

pub(super) fn run(args: HttpBenchArgs) -> anyhow::Result<ExitCode> {
    let base = args.server.trim_end_matches('/').to_owned();
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
    agent.get(&format!("{base}/healthz")).call().with_context(|| format!("cannot reach {base}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (done, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut validators = Vec::new();
    for _ in 0..args.validators {
        let (agent, base, token) = (agent.clone(), base.clone(), args.token.clone());
        let (stop, done, refused) = (stop.clone(), done.clone(), refused.clone());
        validators.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let mut req = agent.post(&format!("{base}/api/v1/scenarios/validate")).set("Content-Type", "text/yaml");
                if let Some(t) = &token {
                    req = req.set("Authorization", &format!("Bearer {t}"));
                }
                match req.send_string(MAXIMAL) {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(50));
                        refused.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    while started.elapsed() < Duration::from_secs(args.seconds) {
        let t = Instant::now();
        agent.get(&format!("{base}/healthz")).call().context("/healthz failed under load")?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    for v in validators {
        let _ = v.join();
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "/healthz under {} threads posting 20,000-variant validations for {} s: {} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.validators,
        args.seconds,
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "validations: {} completed, {} refused (429: concurrency or rate limit)",
        done.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed)
    );
    Ok(ExitCode::SUCCESS)
}
