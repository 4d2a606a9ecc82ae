//! One run: its stored form, and its trace: stored for runs that did not pass, re-simulated
//! deterministically for passes and checked against the stored digest.

use autonomy_stack::FrozenClock;

use super::{Farm, UseCaseError};
use crate::domain::ids::RunId;
use crate::domain::run::{Run, RunStatus};
use crate::domain::variant::{scenario_from_text, variant_by_key};
use crate::infra::store::{candidates as store_candidates, runs as store_runs};

/// One run.
pub async fn get(farm: &Farm, id: &RunId) -> Result<Run, UseCaseError> {
    store_runs::get(&farm.store, id).await?.ok_or_else(|| UseCaseError::not_found("run"))
}

/// Where a trace came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceSource {
    /// Kept when the run finished (runs that did not pass).
    Stored,
    /// Re-simulated now, and its digest checked against the stored one.
    Resimulated,
}

impl TraceSource {
    /// `stored` or `resimulated`.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceSource::Stored => "stored",
            TraceSource::Resimulated => "resimulated",
        }
    }
}

/// A run's trace: the stored one, or for a pass a re-simulation whose digest must match.
pub async fn trace(farm: &Farm, id: &RunId) -> Result<(sim_core::Trace, TraceSource), UseCaseError> {
    let run = get(farm, id).await?;
    if let Some(bytes) = store_runs::trace(&farm.store, id).await? {
        let trace = sim_core::Trace::from_bytes(&bytes).map_err(|e| {
            tracing::error!(run_id = %id, error = %e, "stored trace is corrupt");
            UseCaseError::Internal { code: "corrupt_trace", detail: "the stored trace cannot be read".into() }
        })?;
        return Ok((trace, TraceSource::Stored));
    }
    if run.status != RunStatus::Passed {
        return Err(UseCaseError::Conflict {
            code: "no_trace_yet",
            detail: format!("the run is `{}`; its trace exists once it has passed or failed", run.status),
        });
    }
    let version = store_runs::scenario(&farm.store, &run.content_hash)
        .await?
        .ok_or_else(|| UseCaseError::not_found("scenario version"))?;
    let config = store_candidates::stack_config(&farm.store, &run.candidate_id)
        .await?
        .ok_or_else(|| UseCaseError::not_found("candidate"))?;
    let key = run.variant_key.clone();
    let span = tracing::info_span!("resimulate", run_id = %id, candidate_id = %run.candidate_id);
    let simulated = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut scenario = scenario_from_text(&version.file, &version.body)?;
        // Without its map the re-simulation ends `error` naming the map file, and the digest check
        // below reports it.
        let _ = crate::infra::catalog_files::attach_map(&mut scenario);
        let variant = variant_by_key(&scenario, &key)?;
        Ok::<_, crate::domain::variant::VariantError>(sim_core::run_variant(&variant, &config, &mut FrozenClock))
    })
    .await
    .map_err(|_| UseCaseError::Internal { code: "resimulation_failed", detail: "the re-simulation crashed".into() })?
    .map_err(|e| UseCaseError::Internal { code: "resimulation_failed", detail: e.to_string() })?;
    if run.digest.as_deref() != Some(simulated.digest.as_str()) {
        tracing::error!(run_id = %id, stored = ?run.digest, resimulated = %simulated.digest, "nondeterminism");
        return Err(UseCaseError::Internal {
            code: "nondeterminism",
            detail: "re-simulating this run gave a different digest than the stored result: a farm bug".into(),
        });
    }
    Ok((simulated.trace, TraceSource::Resimulated))
}

/// A run as an MCAP file for Foxglove: its trace (as [`trace`] finds it) with its result's
/// collisions, failed criteria and verdict as log lines.
pub async fn trace_mcap(farm: &Farm, id: &RunId) -> Result<(Vec<u8>, TraceSource), UseCaseError> {
    let run = get(farm, id).await?;
    let (trace, source) = trace(farm, id).await?;
    // Encoding a long run is milliseconds of CPU: off the async threads, like the re-simulation.
    let encoded =
        tokio::task::spawn_blocking(move || crate::domain::mcap::encode(&trace, run.result.as_ref()))
            .await
            .map_err(|_| UseCaseError::Internal { code: "mcap_failed", detail: "the MCAP export crashed".into() })?;
    let bytes = encoded.map_err(|e| {
        tracing::error!(run_id = %id, error = %e, "MCAP export failed");
        UseCaseError::Internal { code: "mcap_failed", detail: "the run cannot be exported as MCAP".into() }
    })?;
    Ok((bytes, source))
}
