//! Evidence packs: gathering everything a finished candidate's pack holds from the store (runs,
//! stored gate, comparison, coverage, scenario versions, traces of failures), assembling and sealing
//! it with the farm's key. Building it twice gives the same bytes.

use super::{candidates, Farm, UseCaseError};
use crate::domain::evidence::{assemble, seal, PackInput};
use crate::domain::ids::CandidateId;
use crate::domain::run::RunStatus;
use crate::infra::store::{candidates as store, runs as store_runs};

/// A sealed pack and the file name to offer it under.
#[derive(Debug, Clone)]
pub struct Pack {
    /// `evidence-NAME.zip`, with NAME made safe for a file name.
    pub file_name: String,
    /// The zip.
    pub bytes: Vec<u8>,
}

/// The signed evidence pack of a finished candidate.
pub async fn pack(farm: &Farm, id: &CandidateId) -> Result<Pack, UseCaseError> {
    let view = candidates::detail(farm, id).await?;
    let Some(gate) = view.gate.as_ref() else {
        return Err(UseCaseError::Conflict {
            code: "not_done",
            detail: "the evidence pack exists once every run has a result".into(),
        });
    };
    let c = &view.candidate;
    let runs = store_runs::all(&farm.store, id).await?;
    let comparison = match candidates::compare(farm, id, None).await {
        Ok(cmp) => Some(cmp),
        Err(UseCaseError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let coverage = farm.catalog.odd().and_then(|odd| crate::domain::coverage::compute(odd, &runs, None).ok());
    let stack_config =
        store::stack_config(&farm.store, id).await?.ok_or_else(|| UseCaseError::not_found("candidate"))?;
    let mut hashes: Vec<&str> = runs.iter().map(|r| r.content_hash.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let mut scenarios = Vec::new();
    for h in hashes {
        let version = store_runs::scenario(&farm.store, h).await?.ok_or_else(|| {
            tracing::error!(candidate_id = %id, content_hash = h, "a run's scenario version is missing");
            UseCaseError::Internal { code: "pack_failed", detail: format!("scenario version {h} is missing") }
        })?;
        scenarios.push(version);
    }
    let mut traces = Vec::new();
    for r in runs.iter().filter(|r| r.status != RunStatus::Passed) {
        if let Some(bytes) = store_runs::trace(&farm.store, &r.id).await? {
            let trace = sim_core::Trace::from_bytes(&bytes).map_err(|e| {
                tracing::error!(run_id = %r.id, error = %e, "stored trace is corrupt");
                UseCaseError::Internal {
                    code: "corrupt_trace",
                    detail: format!("the stored trace of run {} cannot be read", r.id),
                }
            })?;
            traces.push((r.variant_key.to_string(), trace));
        }
    }
    let input = PackInput {
        candidate: c,
        stack_config: &stack_config,
        runs: &runs,
        stats: &view.stats,
        gate: Some(gate),
        policy: &farm.gate,
        comparison: comparison.as_ref(),
        coverage: coverage.as_ref(),
        scenarios,
        traces,
        public_key: hex::encode(farm.signing_key.verifying_key().to_bytes()),
    };
    let files = assemble(&input);
    let key = farm.signing_key.clone();
    let bytes = tokio::task::spawn_blocking(move || seal(files, &key))
        .await
        .map_err(|_| UseCaseError::Internal { code: "pack_failed", detail: "building the pack crashed".into() })?
        .map_err(|e| {
            tracing::error!(error = %e, "evidence pack");
            UseCaseError::Internal { code: "pack_failed", detail: "the evidence pack could not be built".into() }
        })?;
    let safe = c.name.replace(|ch: char| !ch.is_ascii_alphanumeric() && ch != '-' && ch != '.', "_");
    Ok(Pack { file_name: format!("evidence-{safe}.zip"), bytes })
}
