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
    /// Samples.
    pub count: u64,
    /// Sum of all samples, microseconds.
    pub total: f64,
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
/// the machine's load, not the modules' cost. The CPU summaries' `count` is therefore the number of
/// ticks not preempted, the wall summaries' `count` that of every tick.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    wall: Histograms,
    cpu: Histograms,
}

impl Latencies {
    /// Adds one tick's timings.
    pub fn record(&mut self, t: &ModuleTimings) {
        for m in Module::ALL {
            self.wall.record(m, t.get(m));
            if !t.preempted {
                self.cpu.record(m, t.cpu(m));
            }
        }
    }

    /// Wall-time percentiles per module, microseconds.
    pub fn summary(&self) -> BTreeMap<String, LatencySummary> {
        self.wall.summary()
    }

    /// Thread-CPU-time percentiles per module, microseconds.
    pub fn cpu_summary(&self) -> BTreeMap<String, LatencySummary> {
        self.cpu.summary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(ns: u64, preempted: bool) -> ModuleTimings {
        ModuleTimings { nanos: [ns * 3; 6], cpu_nanos: [ns; 6], preempted }
    }

    #[test]
    fn a_preempted_tick_counts_in_wall_time_but_not_in_the_judged_cpu_time() {
        let mut l = Latencies::default();
        for _ in 0..99 {
            l.record(&tick(10_000, false));
        }
        // The switch and the cold caches: ten times the module's cost, twice.
        l.record(&tick(100_000, true));
        l.record(&tick(100_000, true));
        let cpu = l.cpu_summary()["planning"];
        let wall = l.summary()["planning"];
        assert_eq!((cpu.count, wall.count), (99, 101));
        assert!((cpu.max - 10.0).abs() < 0.1, "{cpu:?}");
        assert!((wall.max - 300.0).abs() < 1.0, "{wall:?}");
    }
}
