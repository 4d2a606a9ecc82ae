//! A candidate's statistics, computed from its runs: status, counts, pass rates overall and by tag,
//! per-module latency, deadline-miss rate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::run::{Run, RunStatus};

/// Latency of one module across a candidate's runs, microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModuleLatency {
    /// Median of the runs' medians.
    pub p50: f64,
    /// 99th percentile of the runs' 99th percentiles.
    pub p99: f64,
}

/// What `GET /candidates/{id}` reports besides identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CandidateStats {
    /// `queued` (nothing started), `running`, or `done` (every run has a result).
    pub status: String,
    /// Runs by status.
    pub counts: BTreeMap<String, i64>,
    /// Passed / finished runs, 0..1 (0 when nothing finished).
    pub pass_rate: f64,
    /// Pass rate per tag over finished runs.
    pub pass_rate_by_tag: BTreeMap<String, f64>,
    /// Per-module latency as the thread's CPU time: what the gate's budgets judge, the same on a
    /// busy and an idle farm.
    pub latency: BTreeMap<String, ModuleLatency>,
    /// Per-module wall time, reported beside it (it grows with the machine's load).
    #[serde(default)]
    pub wall_latency: BTreeMap<String, ModuleLatency>,
    /// Deadline misses per planning cycle.
    pub deadline_miss_rate: f64,
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i.min(v.len() - 1)]
}

/// The runs' per-module medians and 99th percentiles, gathered to be summarised.
#[derive(Default)]
struct Percentiles {
    p50s: BTreeMap<String, Vec<f64>>,
    p99s: BTreeMap<String, Vec<f64>>,
}

impl Percentiles {
    fn add(&mut self, latency: &BTreeMap<String, sim_core::latency::LatencySummary>) {
        for (module, l) in latency {
            self.p50s.entry(module.clone()).or_default().push(l.p50);
            self.p99s.entry(module.clone()).or_default().push(l.p99);
        }
    }

    fn summary(mut self) -> BTreeMap<String, ModuleLatency> {
        let mut out = BTreeMap::new();
        for (m, mut v) in std::mem::take(&mut self.p50s) {
            let p99 = quantile(self.p99s.get_mut(&m).map_or(&mut [][..], |x| &mut x[..]), 0.99);
            out.insert(m, ModuleLatency { p50: quantile(&mut v, 0.5), p99 });
        }
        out
    }
}

/// Computes the statistics of a candidate's runs.
pub fn compute(runs: &[Run]) -> CandidateStats {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_tag: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut cpu = Percentiles::default();
    let mut wall = Percentiles::default();
    let (mut finished, mut passed, mut misses, mut cycles) = (0u64, 0u64, 0u64, 0u64);
    for r in runs {
        *counts.entry(r.status.as_str().to_owned()).or_default() += 1;
        if !r.status.is_finished() {
            continue;
        }
        finished += 1;
        let ok = r.status == RunStatus::Passed;
        passed += u64::from(ok);
        for tag in r.tags.iter() {
            let e = by_tag.entry(tag.to_owned()).or_default();
            e.0 += 1;
            e.1 += u64::from(ok);
        }
        if let Some(result) = &r.result {
            cpu.add(&result.cpu_latency);
            wall.add(&result.latency);
            cycles += result.latency.get("planning").map_or(0, |l| l.count);
            misses += u64::from(result.metrics.deadline_misses);
        }
    }
    let status = if runs.iter().all(|r| r.status.is_finished()) {
        "done"
    } else if runs.iter().all(|r| r.status == RunStatus::Queued) {
        "queued"
    } else {
        "running"
    };
    CandidateStats {
        status: status.to_owned(),
        counts,
        pass_rate: if finished == 0 { 0.0 } else { passed as f64 / finished as f64 },
        pass_rate_by_tag: by_tag.into_iter().map(|(t, (n, p))| (t, p as f64 / n as f64)).collect(),
        latency: cpu.summary(),
        wall_latency: wall.summary(),
        deadline_miss_rate: if cycles == 0 { 0.0 } else { misses as f64 / cycles as f64 },
    }
}
