//! `farm evidence verify PACK.zip`: checks every hash and the signature of an evidence pack without
//! extracting it, and with `--resimulate N` re-runs N variants locally and compares their digests.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};

use crate::domain::evidence::verify;
use crate::domain::variant::{scenario_from_text, variant_by_key};
use crate::usecases::local::simulate_one;

/// Arguments of `farm evidence`.
#[derive(Debug, Args)]
pub struct EvidenceArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: EvidenceAction,
}

/// Evidence actions.
#[derive(Debug, Subcommand)]
pub enum EvidenceAction {
    /// Verify a pack.
    Verify {
        /// The pack.
        pack: PathBuf,
        /// The farm's public key (hex, or a file holding it; see GET /api/v1/keys).
        #[arg(long, required_unless_present = "trust_embedded_key")]
        public_key: Option<String>,
        /// Trust the key the pack names itself: this proves the pack is intact, not who made it (a
        /// forger re-signs with their own key). Only with this flag does verification run without
        /// `--public-key`.
        #[arg(long, conflicts_with = "public_key")]
        trust_embedded_key: bool,
        /// Re-simulate this many variants (spread over the pack) and compare their digests.
        #[arg(long, default_value_t = 0)]
        resimulate: usize,
    },
}

pub(super) fn run(args: EvidenceArgs) -> anyhow::Result<ExitCode> {
    let EvidenceAction::Verify { pack, public_key, resimulate, trust_embedded_key: _ } = args.action;
    let bytes = std::fs::read(&pack).with_context(|| format!("cannot read {}", pack.display()))?;
    let (key_hex, trusted) = match public_key {
        Some(k) if std::path::Path::new(&k).is_file() => (std::fs::read_to_string(&k)?.trim().to_owned(), true),
        Some(k) => (k.trim().to_owned(), true),
        None => {
            // Read the pack's own claim of its key from provenance.json (integrity only; the user
            // asked for it with --trust-embedded-key). Bounded like every other entry.
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes))?;
            let entry = zip.by_name("provenance.json")?;
            if entry.size() > crate::domain::evidence::MAX_ENTRY_BYTES {
                println!("INVALID: provenance.json is too large");
                return Ok(ExitCode::FAILURE);
            }
            let mut s = String::new();
            std::io::Read::read_to_string(
                &mut std::io::Read::take(entry, crate::domain::evidence::MAX_ENTRY_BYTES),
                &mut s,
            )?;
            let v: serde_json::Value = serde_json::from_str(&s)?;
            (v["public_key_ed25519"].as_str().unwrap_or_default().to_owned(), false)
        }
    };
    let key_bytes: [u8; 32] = hex::decode(&key_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("the public key is not 32 hex bytes"))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes).map_err(|_| anyhow!("invalid Ed25519 public key"))?;
    let verified = match verify(&bytes, &key) {
        Ok(v) => v,
        Err(e) => {
            println!("INVALID: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!(
        "{} files match the signed manifest{}",
        verified.files,
        if trusted { "" } else { " (signed by the key the pack names: pass --public-key to check its origin)" }
    );
    if resimulate > 0 {
        let provenance: serde_json::Value = serde_json::from_slice(
            verified.contents.get("provenance.json").ok_or_else(|| anyhow!("the pack has no provenance.json"))?,
        )?;
        let config = &provenance["stack_config"];
        if !config.is_object() {
            anyhow::bail!(
                "provenance.json carries no stack configuration (`stack_config` is {config}): cannot re-simulate"
            );
        }
        let config: autonomy_stack::StackConfig =
            serde_json::from_value(config.clone()).context("stack configuration in provenance.json")?;
        let csv = String::from_utf8_lossy(
            verified.contents.get("runs.csv").ok_or_else(|| anyhow!("the pack has no runs.csv"))?,
        )
        .to_string();
        let rows: Vec<Vec<&str>> = csv
            .lines()
            .skip(1)
            .map(|l| l.splitn(6, ',').collect())
            .filter(|r: &Vec<&str>| r.len() == 6 && !r[4].is_empty())
            .collect();
        let mut scenarios = Vec::new();
        for (name, body) in verified.contents.iter().filter(|(n, _)| n.starts_with("scenarios/")) {
            let text = std::str::from_utf8(body).with_context(|| format!("{name} is not UTF-8 text"))?;
            scenarios.push(scenario_from_text(name, text)?);
        }
        let step = rows.len().checked_div(resimulate).unwrap_or(1).max(1);
        let mut checked = 0;
        for row in rows.iter().step_by(step).take(resimulate) {
            let (key, digest) = (row[0], row[4]);
            let key = scenario_dsl::VariantKey::parse(key)
                .ok_or_else(|| anyhow!("runs.csv names `{key}`, not a variant key"))?;
            let variant = scenarios
                .iter()
                .find_map(|s| variant_by_key(s, &key).ok())
                .ok_or_else(|| anyhow!("variant {key} is not in the pack's scenarios"))?;
            let (r, _) = simulate_one(&variant, &config);
            if r.digest != digest {
                println!("MISMATCH: variant {key} re-simulates to {} but the pack says {digest}", r.digest);
                return Ok(ExitCode::FAILURE);
            }
            checked += 1;
        }
        println!("{checked} re-simulated variants reproduce their digests bit for bit");
    }
    Ok(ExitCode::SUCCESS)
}
