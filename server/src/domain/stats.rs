//! A candidate's statistics, computed from its runs: status, counts, pass rates overall and by tag,
//! per-module latency, deadline-miss rate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::run::{Run, RunStatus};

/// Latency of one module across a candidate's runs, microseconds: quantiles of every tick of every
/// run pooled, estimated from each run's recorded quantiles and tick count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModuleLatency {
    /// Median of all ticks.
    pub p50: f64,
    /// 99th percentile of all ticks.
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

/// The `q` quantile of every tick of the given runs pooled, estimated from what each run recorded:
/// its median, 95th and 99th percentiles and maximum, and how many ticks it had. Each run's
/// distribution is taken as linear between those points (and from zero to its median); the pooled
/// distribution is the runs' weighted by their tick counts, and the quantile is where it reaches `q`
/// (found exactly: the pooled distribution is linear between consecutive points of all runs).
///
/// Why pooled: a budget on the 99th percentile of a module's cycle time means 99 % of cycles. The
/// 99th percentile of the runs' own 99th percentiles, which the gate judged before, is the 26th worst
/// of 2,600 runs' ~5th worst tick: it moved by 10 % between two idle runs of the same candidate.
pub fn pooled_quantile<'a>(runs: impl IntoIterator<Item = &'a sim_core::latency::LatencySummary>, q: f64) -> f64 {
    // Each run's knots (value, cumulative share), monotone in both.
    let runs: Vec<([f64; 5], f64)> = runs
        .into_iter()
        .filter(|l| l.count > 0)
        .map(|l| {
            let mut x = [0.0, l.p50, l.p95, l.p99, l.max];
            for i in 1..x.len() {
                x[i] = x[i].max(x[i - 1]);
            }
            (x, l.count as f64)
        })
        .collect();
    let total: f64 = runs.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return 0.0;
    }
    const SHARE: [f64; 5] = [0.0, 0.5, 0.95, 0.99, 1.0];
    // The pooled share of ticks at or below `v` (`left`: below). A run whose quantiles coincide
    // (e.g. its 95th percentile is its maximum) holds that share of its ticks at one value: the
    // pooled distribution steps there, so its values left of a point and at it differ.
    let share = |v: f64, left: bool| -> f64 {
        let mut f = 0.0;
        for (x, w) in &runs {
            // The first knot above v (at or above, from the left); v lies between it and the one
            // before, on a line.
            let k = x.iter().position(|&xi| if left { xi >= v } else { xi > v });
            let run_share = match k {
                None => 1.0,
                Some(0) => 0.0,
                Some(k) => SHARE[k - 1] + (SHARE[k] - SHARE[k - 1]) * (v - x[k - 1]) / (x[k] - x[k - 1]),
            };
            f += w * run_share;
        }
        f / total
    };
    let mut knots: Vec<f64> = runs.iter().flat_map(|(x, _)| x.iter().copied()).collect();
    knots.sort_by(f64::total_cmp);
    knots.dedup();
    // The first knot where the pooled share reaches q; the quantile lies after the knot before it,
    // where the pooled distribution is a line, up to it (or on its step).
    let i = knots.partition_point(|&v| share(v, false) < q);
    let Some(&hi) = knots.get(i) else { return knots.last().copied().unwrap_or(0.0) };
    if i == 0 {
        return hi;
    }
    let lo = knots[i - 1];
    let (f0, f1) = (share(lo, false), share(hi, true));
    if q <= f1 && f1 > f0 {
        lo + (hi - lo) * (q - f0) / (f1 - f0)
    } else {
        hi
    }
}

/// Every run's per-module latency summaries, gathered to be pooled.
#[derive(Default)]
struct Percentiles<'a> {
    runs: BTreeMap<String, Vec<&'a sim_core::latency::LatencySummary>>,
}

impl<'a> Percentiles<'a> {
    fn add(&mut self, latency: &'a BTreeMap<String, sim_core::latency::LatencySummary>) {
        for (module, l) in latency {
            self.runs.entry(module.clone()).or_default().push(l);
        }
    }

    fn summary(self) -> BTreeMap<String, ModuleLatency> {
        self.runs
            .into_iter()
            .map(|(m, runs)| {
                let p50 = pooled_quantile(runs.iter().copied(), 0.5);
                (m, ModuleLatency { p50, p99: pooled_quantile(runs.iter().copied(), 0.99) })
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use sim_core::latency::LatencySummary;

    use super::pooled_quantile;

    fn run(p50: f64, p95: f64, p99: f64, max: f64, count: u64) -> LatencySummary {
        LatencySummary { p50, p95, p99, max, count, total: p50 * count as f64, preempted: 0 }
    }

    #[test]
    fn one_run_pooled_is_that_runs_own_quantiles() {
        let r = run(10.0, 40.0, 90.0, 300.0, 500);
        assert_eq!(pooled_quantile([&r], 0.5), 10.0);
        assert_eq!(pooled_quantile([&r], 0.99), 90.0);
        assert_eq!(pooled_quantile([&r, &r, &r], 0.99), 90.0);
    }

    #[test]
    fn a_short_slow_run_does_not_set_the_p99_of_all_ticks_but_many_do() {
        let typical = run(10.0, 40.0, 90.0, 300.0, 1000);
        let slow = run(1000.0, 2000.0, 3000.0, 4000.0, 5);
        let few: Vec<&LatencySummary> = std::iter::repeat_n(&typical, 99).chain([&slow]).collect();
        let p99 = pooled_quantile(few.iter().copied(), 0.99);
        assert!((89.0..95.0).contains(&p99), "5 slow ticks of 99,005 moved the p99 to {p99}");
        // Slow runs holding 2 % of all ticks put the pooled 99th percentile among their ticks.
        let slow = run(1000.0, 2000.0, 3000.0, 4000.0, 1000);
        let many: Vec<&LatencySummary> = std::iter::repeat_n(&typical, 48).chain([&slow]).collect();
        let p99 = pooled_quantile(many.iter().copied(), 0.99);
        assert!(p99 > 1000.0, "2 % slow ticks left the p99 at {p99}");
    }

    #[test]
    fn the_pooled_quantile_does_not_depend_on_the_order_of_runs() {
        let (a, b, c) =
            (run(5.0, 9.0, 20.0, 31.0, 300), run(7.0, 12.0, 25.0, 60.0, 700), run(3.0, 4.0, 90.0, 95.0, 40));
        let p = pooled_quantile([&a, &b, &c], 0.99);
        assert_eq!(p, pooled_quantile([&c, &a, &b], 0.99));
        assert!((20.0..=95.0).contains(&p));
        assert_eq!(pooled_quantile(std::iter::empty(), 0.99), 0.0);
    }

    #[test]
    fn ticks_held_at_one_value_are_a_step_not_a_slope() {
        // Every tick of this run took 100 µs: half of all ticks are at 100, half at 10.
        let fixed = run(100.0, 100.0, 100.0, 100.0, 1000);
        let fast = run(10.0, 10.0, 10.0, 10.0, 1000);
        assert_eq!(pooled_quantile([&fixed, &fast], 0.99), 100.0);
        // 0.6 of ticks: all of the fast run's (half of all ticks) and 0.2 of the fixed run's, whose
        // line from zero to its median reaches 0.2 at 40 µs.
        assert!((pooled_quantile([&fixed, &fast], 0.6) - 40.0).abs() < 1e-9);
    }
}
