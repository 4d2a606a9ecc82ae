//! `farm evidence verify PACK.zip`: checks every hash and the signature of an evidence pack without
//! extracting it, and with `--resimulate N` re-runs N variants locally and compares their digests.
//! The signature may be by any of the keys given: the farm's current key or a retired one it
//! publishes (`GET /api/v1/keys` lists both), so packs signed before a key rotation stay verifiable.

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
        /// The farm's public key: hex, a file holding it, or the JSON document of GET /api/v1/keys
        /// saved to a file (its current and retired keys). Repeat to accept any of several keys.
        #[arg(long, required_unless_present = "trust_embedded_key")]
        public_key: Vec<String>,
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
    let (keys, trusted) = if public_key.is_empty() {
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
        let hex_key = v["public_key_ed25519"].as_str().unwrap_or_default().to_owned();
        (vec![(public_key_of(&hex_key)?, "the key the pack names".to_owned())], false)
    } else {
        let mut keys = Vec::new();
        for given in &public_key {
            keys.extend(keys_from(given)?);
        }
        (keys, true)
    };
    // The first key the signature holds under; when none does, the first key's finding (a hash
    // mismatch or a bad path reads the same under every key).
    let mut first_error = None;
    let mut found = None;
    for (key, label) in &keys {
        match verify(&bytes, key) {
            Ok(v) => {
                found = Some((v, label));
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let Some((verified, signer)) = found else {
        let e = first_error.map_or_else(|| "no public key given".to_owned(), |e| e.to_string());
        let tried = if keys.len() > 1 { format!(" (tried {} keys)", keys.len()) } else { String::new() };
        println!("INVALID: {e}{tried}");
        return Ok(ExitCode::FAILURE);
    };
    if trusted && keys.len() > 1 {
        println!("signed by {signer}");
    }
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

fn public_key_of(hex_key: &str) -> anyhow::Result<ed25519_dalek::VerifyingKey> {
    crate::domain::evidence::public_key(hex_key).map_err(|e| anyhow!("{e}"))
}

/// The keys one `--public-key` names, each with how to call it: a hex key, a file holding one, or
/// a file holding GET /api/v1/keys' document (the current key and the retired ones with notes).
fn keys_from(given: &str) -> anyhow::Result<Vec<(ed25519_dalek::VerifyingKey, String)>> {
    let path = std::path::Path::new(given);
    if !path.is_file() {
        return Ok(vec![(public_key_of(given)?, format!("the key {}", given.trim()))]);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !text.trim_start().starts_with('{') {
        return Ok(vec![(public_key_of(text.trim())?, format!("the key in {}", path.display()))]);
    }
    let doc: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not the JSON of GET /api/v1/keys", path.display()))?;
    let current = doc["ed25519"]
        .as_str()
        .ok_or_else(|| anyhow!("{} has no `ed25519` key (expected GET /api/v1/keys' document)", path.display()))?;
    let mut keys = vec![(public_key_of(current)?, format!("the farm's current key {current}"))];
    for past in doc["past"].as_array().into_iter().flatten() {
        let hex_key =
            past["ed25519"].as_str().ok_or_else(|| anyhow!("{}: a past key without `ed25519`", path.display()))?;
        let note = past["note"].as_str().unwrap_or_default();
        let label = if note.is_empty() {
            format!("the retired key {hex_key}")
        } else {
            format!("the retired key {hex_key} ({note})")
        };
        keys.push((public_key_of(hex_key)?, label));
    }
    Ok(keys)
}
