//! Local runs, for `farm run` and `farm bench`: simulating selected variants on this machine's cores
//! (a rayon pool), timing each with the monotonic clock. The selection itself is the domain's
//! (`CatalogIndex::select_variants`), the same one a posted candidate goes through.

use std::time::Instant;

use rayon::prelude::*;

use autonomy_stack::StackConfig;
use scenario_dsl::Variant;

use super::UseCaseError;
use crate::domain::catalog::Selected;
use crate::domain::compare::{self, Comparison};
use crate::domain::gate::{self, Gate, GatePolicy};
use crate::domain::ids::CandidateId;
use crate::domain::report::RunRecord;
use crate::domain::run::Run;
use crate::domain::stats::{self, CandidateStats};
use crate::infra::clock::MonotonicClock;

/// Simulates one variant; returns the result and its wall time in seconds.
pub fn simulate_one(variant: &Variant, config: &StackConfig) -> (sim_core::RunResult, f64) {
    let started = Instant::now();
    let result = sim_core::run_variant(variant, config, &mut MonotonicClock::default());
    (result, started.elapsed().as_secs_f64())
}

/// Simulates every selected variant on `jobs` threads, calling `done` as each finishes; results
/// come back in selection order with their traces.
pub fn simulate_all(
    selected: &[Selected<'_>],
    config: &StackConfig,
    jobs: usize,
    done: &(dyn Fn(&RunRecord) + Sync),
) -> Result<Vec<(RunRecord, sim_core::Trace)>, UseCaseError> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build().map_err(|e| {
        UseCaseError::Internal { code: "pool_failed", detail: format!("cannot start the simulation pool: {e}") }
    })?;
    Ok(pool.install(|| {
        selected
            .par_iter()
            .map(|s| {
                let (result, wall) = simulate_one(s.variant, config);
                let record = RunRecord::new(s.variant, s.tags.to_vec(), s.cell.clone(), &result, wall);
                done(&record);
                (record, result.trace)
            })
            .collect()
    }))
}

/// A local run's results as the farm's run model, in selection order (one candidate of its own).
pub fn runs_of(selected: &[Selected<'_>], records: &[RunRecord]) -> Vec<Run> {
    let candidate = CandidateId::random();
    selected
        .iter()
        .zip(records)
        .enumerate()
        .map(|(i, (s, r))| Run::local(candidate.clone(), i as i64, s.variant.key.clone(), r.clone()))
        .collect()
}

/// The gate over a local run's results, judged exactly as the farm judges a candidate: its
/// statistics, its comparison with `baseline` (a name and its runs) when there is one, and the
/// verdict.
pub fn judge(runs: &[Run], policy: &GatePolicy, baseline: Option<(&str, &[Run])>) -> Judged {
    let stats = stats::compute(runs);
    let comparison = baseline
        .map(|(name, base)| compare::compare(("candidate", runs), (name, name, base), policy.significance_level));
    let gate = gate::evaluate(policy, &stats, runs, gate::Context { comparison: comparison.as_ref(), coverage: None });
    Judged { stats, comparison, gate }
}

/// What [`judge`] found.
#[derive(Debug, Clone)]
pub struct Judged {
    /// Statistics.
    pub stats: CandidateStats,
    /// The comparison with the baseline, when one was given.
    pub comparison: Option<Comparison>,
    /// The verdict.
    pub gate: Gate,
}
