//! Prometheus metrics of the service and its workers. Label sets are bounded: outcomes, statuses and
//! route templates, never ids or raw paths.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Which process exports the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Server,
    Worker,
}

/// Every metric the farm exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Runs completed, by outcome (passed, failed, error, timeout, lease_lost).
    pub runs_completed: IntCounterVec,
    /// Wall time of one simulation.
    pub run_wall_seconds: Histogram,
    /// Time to claim a batch from the queue.
    pub claim_seconds: Histogram,
    /// HTTP requests by route template and status.
    pub http_requests: IntCounterVec,
    /// HTTP request duration by route template.
    pub http_seconds: HistogramVec,
    /// Runs in the store by status (refreshed at scrape).
    pub runs: IntGaugeVec,
    /// Workers seen in the last minute (refreshed at scrape).
    pub active_workers: IntGauge,
    /// Expired leases the rescuer handled, by outcome (requeued, exhausted).
    pub rescued_runs: IntCounterVec,
    /// Failed store operations of workers, by operation (claim, write, heartbeat, register).
    pub store_errors: IntCounterVec,
    /// 1 when the last database check (readiness, scrape) answered, else 0.
    pub database_up: IntGauge,
    /// Always 1, labelled with the farm's version and git commit.
    pub build_info: IntGaugeVec,
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Result<Self, prometheus::Error> {
        Self::with(Role::Server)
    }

    /// The metrics a `farm worker` process exports: its own counters and histograms, not the
    /// store-wide gauges (`farm_runs`, `farm_active_workers`, `farm_database_up`) that only the
    /// server refreshes; a gauge exported but never updated would read as a wrong zero.
    pub fn for_worker() -> Result<Self, prometheus::Error> {
        Self::with(Role::Worker)
    }

    fn with(role: Role) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let runs_completed =
            IntCounterVec::new(Opts::new("farm_runs_completed_total", "Runs completed, by outcome"), &["outcome"])?;
        let run_wall_seconds = Histogram::with_opts(
            HistogramOpts::new("farm_run_wall_seconds", "Wall time of one simulation run")
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )?;
        let claim_seconds = Histogram::with_opts(
            HistogramOpts::new("farm_queue_claim_seconds", "Time to claim a batch of runs")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0]),
        )?;
        let http_requests = IntCounterVec::new(
            Opts::new("farm_http_requests_total", "HTTP requests by route and status"),
            &["route", "status"],
        )?;
        let http_seconds = HistogramVec::new(
            HistogramOpts::new("farm_http_request_duration_seconds", "HTTP request duration by route")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["route"],
        )?;
        let runs = IntGaugeVec::new(Opts::new("farm_runs", "Runs in the store by status"), &["status"])?;
        let active_workers = IntGauge::new("farm_active_workers", "Workers seen in the last minute")?;
        let rescued_runs = IntCounterVec::new(
            Opts::new("farm_rescued_runs_total", "Expired leases handled by the rescuer, by outcome"),
            &["outcome"],
        )?;
        let store_errors = IntCounterVec::new(
            Opts::new("farm_store_errors_total", "Failed store operations of workers, by operation"),
            &["op"],
        )?;
        let database_up = IntGauge::new("farm_database_up", "1 when the results database answered the last check")?;
        let build_info = IntGaugeVec::new(
            Opts::new("farm_build_info", "The farm's version and git commit"),
            &["version", "git_sha"],
        )?;
        // Every label value starts at 0, so that `increase()` sees the first event of each process.
        for outcome in ["passed", "failed", "error", "timeout", "confirming", "nondeterministic", "lease_lost"] {
            runs_completed.with_label_values(&[outcome]).reset();
        }
        for outcome in ["requeued", "exhausted"] {
            rescued_runs.with_label_values(&[outcome]).reset();
        }
        for op in ["claim", "write", "heartbeat", "register"] {
            store_errors.with_label_values(&[op]).reset();
        }
        build_info.with_label_values(&[crate::domain::provenance::VERSION, crate::domain::provenance::GIT_SHA]).set(1);
        let mut collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(runs_completed.clone()),
            Box::new(run_wall_seconds.clone()),
            Box::new(claim_seconds.clone()),
            Box::new(store_errors.clone()),
            Box::new(build_info.clone()),
        ];
        if role == Role::Server {
            collectors.extend([
                Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
                Box::new(http_seconds.clone()),
                Box::new(runs.clone()),
                Box::new(active_workers.clone()),
                Box::new(rescued_runs.clone()),
                Box::new(database_up.clone()),
            ]);
        }
        for c in collectors {
            registry.register(c)?;
        }
        Ok(Self {
            registry,
            runs_completed,
            run_wall_seconds,
            claim_seconds,
            http_requests,
            http_seconds,
            runs,
            active_workers,
            rescued_runs,
            store_errors,
            database_up,
            build_info,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
