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
            self.cpu.record(m, t.cpu(m));
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
