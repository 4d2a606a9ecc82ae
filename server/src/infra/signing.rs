//! The farm's Ed25519 signing key on disk: loaded at start-up, created (owner-readable only) on
//! first use. Packs are signed with it in `domain::evidence::seal`. The public keys of retired
//! signing keys are published beside the current one, read from a file the operator keeps.

use std::io::Write;
use std::path::Path;

use ed25519_dalek::SigningKey;

use crate::domain::evidence::{parse_past_keys, EvidenceError, PastKey};

/// Loads the farm's signing key from `path`, creating it (readable by the owner only) on first use.
pub fn load_or_create_key(path: &Path) -> Result<SigningKey, EvidenceError> {
    if path.exists() {
        let text = std::fs::read_to_string(path)?;
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| EvidenceError::Invalid(format!("{} is not a hex Ed25519 key", path.display())))?;
        return Ok(SigningKey::from_bytes(&bytes));
    }
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    writeln!(f, "{}", hex::encode(key.to_bytes()))?;
    Ok(key)
}

/// Reads the published list of retired public keys (`domain::evidence::parse_past_keys`).
pub fn load_past_keys(path: &Path) -> Result<Vec<PastKey>, EvidenceError> {
    let text = std::fs::read_to_string(path)?;
    parse_past_keys(&text).map_err(|e| EvidenceError::Invalid(format!("{}: {e}", path.display())))
}
