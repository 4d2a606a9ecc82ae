//! Per-module latency histograms (HDR, microsecond resolution) and their percentiles.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use autonomy_stack::{Module, ModuleTimings};

/// Percentiles of one module's compute time, microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
    /// Ticks measured.
    pub count: u64,
    /// Sum of all samples, microseconds (for CPU time, of the ticks not preempted).
    pub total: f64,
    /// Ticks the OS preempted: counted in `count`, but their own CPU times are not among the
    /// samples (see [`Latencies`]). Always 0 for wall time.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub preempted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The snake_case name of a module.
pub fn module_name(m: Module) -> &'static str {
    match m {
        Module::Perception => "perception",
        Module::Tracking => "tracking",
        Module::Prediction => "prediction",
        Module::Planning => "planning",
        Module::Control => "control",
        Module::Safety => "safety",
    }
}

/// One histogram per module, in nanoseconds, of one measure.
#[derive(Debug, Clone, Default)]
struct Histograms {
    // `None` only if a histogram could not be created (it cannot with these constant bounds).
    histograms: BTreeMap<&'static str, Option<Histogram<u64>>>,
    totals: BTreeMap<&'static str, u64>,
}

impl Histograms {
    fn record(&mut self, module: Module, ns: u64) {
        let entry = self
            .histograms
            .entry(module_name(module))
            .or_insert_with(|| Histogram::new_with_bounds(1, 60_000_000_000, 3).ok());
        if let Some(h) = entry.as_mut() {
            h.saturating_record(ns.max(1));
        }
        *self.totals.entry(module_name(module)).or_default() += ns;
    }

    fn summary(&self) -> BTreeMap<String, LatencySummary> {
        self.histograms
            .iter()
            .filter_map(|(name, h)| h.as_ref().map(|h| (name, h)))
            .map(|(name, h)| {
                let us = |ns: u64| ns as f64 / 1000.0;
                (
                    (*name).to_owned(),
                    LatencySummary {
                        p50: us(h.value_at_quantile(0.5)),
                        p95: us(h.value_at_quantile(0.95)),
                        p99: us(h.value_at_quantile(0.99)),
                        max: us(h.max()),
                        count: h.len(),
                        total: us(self.totals.get(*name).copied().unwrap_or(0)),
                        preempted: 0,
                    },
                )
            })
            .collect()
    }
}

/// Per-module histograms of both measures of a tick: wall time (reported, never judged: it grows
/// when the machine is loaded) and the thread's CPU time (what budgets, deadline misses and the
/// gate judge).
///
/// A tick on which the OS preempted the simulation's thread ([`ModuleTimings::preempted`]) adds to
/// the wall histograms only: its CPU times carry the context switch and the caches the other
/// thread left cold (a 3 µs module read 15 µs at p99 with a busy thread on every core), which is
/// the machine's load, not the modules' cost.
///
/// Leaving those ticks out would bias the CPU percentiles low, because the OS preempts a long tick
/// more often than a short one (planning's pooled p99 read 19 % lower with a busy thread on every
/// core). So each tick kept is weighted by the inverse of its chance of escaping preemption: with
/// the run's preemption rate `r` (switches per CPU-nanosecond, over every tick) and the CPU time
/// the tick was exposed (`exposed_cpu_nanos`), a preemption arriving at random in the thread's CPU
/// time missed it with probability `exp(-r * exposed)`, so it stands for `exp(r * exposed)` ticks.
/// On an idle machine `r` is about 0 and every weight is 1. A weight is capped at
/// [`MAX_TICK_WEIGHT`], so one tick far longer than the time between preemptions cannot stand for
/// an arbitrary number of ticks.
///
/// The CPU summaries' `count` is the number of ticks they estimate (every tick, as in the wall
/// summaries), and `preempted` how many of them were left out.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    wall: Histograms,
    /// Every tick not preempted: its CPU time per module and how long it was exposed.
    kept: Vec<([u64; 6], u64)>,
    preempted: u64,
    switches: u64,
    exposed_ns: u64,
}

/// The largest weight a kept tick gets (a 95 % chance of having been preempted).
pub const MAX_TICK_WEIGHT: f64 = 20.0;

/// A weight of 1 in the weighted histograms' integer counts.
const UNIT_WEIGHT: f64 = 1024.0;

impl Latencies {
    /// Adds one tick's timings.
    pub fn record(&mut self, t: &ModuleTimings) {
        for m in Module::ALL {
            self.wall.record(m, t.get(m));
        }
        self.switches += u64::from(t.preemptions);
        self.exposed_ns += t.exposed_cpu_nanos;
        if t.preempted() {
            self.preempted += 1;
        } else {
            self.kept.push((t.cpu_nanos, t.exposed_cpu_nanos));
        }
    }

    /// Wall-time percentiles per module, microseconds.
    pub fn summary(&self) -> BTreeMap<String, LatencySummary> {
        self.wall.summary()
    }

    /// Thread-CPU-time percentiles per module, microseconds, over the ticks not preempted, each
    /// weighted by the inverse of its chance of escaping preemption (see [`Latencies`]).
    pub fn cpu_summary(&self) -> BTreeMap<String, LatencySummary> {
        // No tick the OS left alone: nothing was measured, so there is no summary (not zeros).
        if self.kept.is_empty() {
            return BTreeMap::new();
        }
        let rate = if self.exposed_ns > 0 { self.switches as f64 / self.exposed_ns as f64 } else { 0.0 };
        let weights: Vec<u64> = self
            .kept
            .iter()
            .map(|(_, exposed)| (libm::exp(rate * *exposed as f64).min(MAX_TICK_WEIGHT) * UNIT_WEIGHT).round() as u64)
            .collect();
        let us = |ns: u64| ns as f64 / 1000.0;
        Module::ALL
            .iter()
            .enumerate()
            .filter_map(|(i, &m)| {
                let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).ok()?;
                let mut total = 0;
                for ((cpu, _), &w) in self.kept.iter().zip(&weights) {
                    h.saturating_record_n(cpu[i].max(1), w);
                    total += cpu[i];
                }
                let summary = LatencySummary {
                    p50: us(h.value_at_quantile(0.5)),
                    p95: us(h.value_at_quantile(0.95)),
                    p99: us(h.value_at_quantile(0.99)),
                    max: us(h.max()),
                    count: self.kept.len() as u64 + self.preempted,
                    total: us(total),
                    preempted: self.preempted,
                };
                Some((module_name(m).to_owned(), summary))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tick of `ns` in every module (wall time three times that), exposed to preemption for
    /// `exposed` CPU-ns, and preempted `switches` times.
    fn tick(ns: u64, exposed: u64, switches: u32) -> ModuleTimings {
        ModuleTimings { nanos: [ns * 3; 6], cpu_nanos: [ns; 6], preemptions: switches, exposed_cpu_nanos: exposed }
    }

    #[test]
    fn a_preempted_tick_counts_in_wall_time_but_not_in_the_judged_cpu_time() {
        let mut l = Latencies::default();
        for _ in 0..99 {
            l.record(&tick(10_000, 20_000, 0));
        }
        // The switch and the cold caches: ten times the module's cost, twice.
        l.record(&tick(100_000, 110_000, 1));
        l.record(&tick(100_000, 110_000, 1));
        let cpu = l.cpu_summary()["planning"];
        let wall = l.summary()["planning"];
        assert_eq!((cpu.count, cpu.preempted, wall.count, wall.preempted), (101, 2, 101, 0));
        assert!((cpu.max - 10.0).abs() < 0.1, "{cpu:?}");
        assert!((cpu.p99 - 10.0).abs() < 0.1, "{cpu:?}");
        assert!((wall.max - 300.0).abs() < 1.0, "{wall:?}");
    }

    #[test]
    fn with_every_tick_preempted_there_is_no_cpu_summary_rather_than_zeros() {
        let mut l = Latencies::default();
        for _ in 0..10 {
            l.record(&tick(10_000, 20_000, 1));
        }
        assert!(l.cpu_summary().is_empty());
        assert_eq!(l.summary()["planning"].count, 10);
    }

    #[test]
    fn without_preemptions_the_cpu_percentiles_are_the_plain_ones() {
        let mut l = Latencies::default();
        for i in 1..=1000u64 {
            // Wall time equal to CPU time, so the wall histogram is the plain one to compare with.
            l.record(&ModuleTimings { nanos: [i * 1000; 6], ..tick(i * 1000, i * 1000 + 50_000, 0) });
        }
        let (cpu, wall) = (l.cpu_summary()["planning"], l.summary()["planning"]);
        assert_eq!((cpu.count, cpu.preempted), (1000, 0));
        assert_eq!((cpu.p50, cpu.p95, cpu.p99, cpu.max), (wall.p50, wall.p95, wall.p99, wall.max));
        // The 500th and 990th of the 1000 samples, within HDR's 3 significant digits.
        assert!((cpu.p50 - 500.0).abs() < 0.5 && (cpu.p99 - 990.0).abs() < 1.0, "{cpu:?}");
    }

    /// 985 short ticks and 15 long ones: the long ones are the p99. With preemptions arriving at
    /// random in CPU time, about 6 % of the short ticks and half of the long ones are preempted
    /// (exposed 0.1 ms and 1.1 ms, at about 630 switches per CPU-second). Among the ticks kept the
    /// long ones are then under 1 %, and an unweighted p99 would read a short tick; weighted by
    /// the inverse of their chance of escaping they hold their share again.
    #[test]
    fn weighting_the_kept_ticks_undoes_the_bias_against_long_ticks() {
        let (short, long) = (10_000, 1_000_000);
        let mut l = Latencies::default();
        for i in 0..985 {
            // Every 16th short tick preempted: 62 of 985, 6.3 %.
            l.record(&tick(short, 100_000, u32::from(i % 16 == 0)));
        }
        for i in 0..15 {
            l.record(&tick(long, 1_100_000, u32::from(i % 2 == 0)));
        }
        // Kept: 923 short and 7 long; the 99th percentile of those 930 is the 921st, a short one.
        // Rate: 70 switches over 985 x 0.1 ms + 15 x 1.1 ms = 115 ms of CPU, 609 per second.
        // Weights: exp(0.0609) = 1.063 for a short tick, exp(0.670) = 1.954 for a long one; the
        // short ones weigh 981, the long ones 13.7 of 994.8, so the 99 % point (984.8) is a long one.
        let cpu = l.cpu_summary()["planning"];
        assert_eq!((cpu.count, cpu.preempted), (1000, 70));
        assert!((cpu.p99 - 1000.0).abs() < 1.0, "{cpu:?}");
        assert!((cpu.p50 - 10.0).abs() < 0.1, "{cpu:?}");
    }

    #[test]
    fn one_tick_cannot_stand_for_more_than_the_weight_cap() {
        let mut l = Latencies::default();
        for _ in 0..99 {
            l.record(&tick(1000, 100_000, 1));
        }
        for _ in 0..30 {
            l.record(&tick(1000, 100_000, 0));
        }
        l.record(&tick(50_000, 10_000_000, 0));
        // 99 switches over 129 x 0.1 ms + 10 ms = 22.9 ms of CPU: 4.32 per ms. The short ticks
        // weigh exp(0.432) = 1.54 each, 46.2 in all; the long one exp(43.2) uncapped, which would
        // make it the median, and 20 capped: 30 % of the weight, so the median stays short.
        let cpu = l.cpu_summary()["planning"];
        assert_eq!((cpu.count, cpu.preempted), (130, 99));
        assert!((cpu.p50 - 1.0).abs() < 0.01, "{cpu:?}");
        assert!((cpu.p99 - 50.0).abs() < 0.1, "{cpu:?}");
    }
}
