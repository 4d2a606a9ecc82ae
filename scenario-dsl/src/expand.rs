//! Sweep expansion: parameter values, their combinations, seeds, and the stable [`VariantKey`].
//!
//! Everything here is a pure function of the file's content hash and its declarations, using
//! version-stable maths (ChaCha8, libm, IEEE basic operations), so the same file gives the same
//! variants and keys on every machine and every release. A golden test pins some keys.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::{Parameter, Scenario, SeedMode, SeedPolicy, Sweep};

/// The most variants one scenario may expand to.
pub const MAX_VARIANTS: usize = 20_000;

/// SHA-256 of a scenario file's text, with line endings normalised to `\n` and any BOM dropped,
/// so a checkout on Windows gives the same hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// Hashes a file's text.
    pub fn of(text: &str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut h = Sha256::new();
        h.update(b"scenario-farm/content/v1\n");
        h.update(text.replace("\r\n", "\n").as_bytes());
        Self(h.finalize().into())
    }

    /// Lowercase hex.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

/// A variant's identity: 128 bits of SHA-256 over (content hash, parameter values, seed), in hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct VariantKey(String);

impl VariantKey {
    /// Computes the key. Parameter values enter by their exact bits (with -0 folded into 0).
    pub fn compute(content: &ContentHash, params: &BTreeMap<String, f64>, seed: u64) -> Self {
        let mut h = Sha256::new();
        h.update(b"scenario-farm/variant/v1\n");
        h.update(content.0);
        for (name, value) in params {
            h.update(name.as_bytes());
            h.update(b"=");
            h.update(canonical_bits(*value).to_be_bytes());
            h.update(b"\n");
        }
        h.update(b"seed=");
        h.update(seed.to_be_bytes());
        let digest: [u8; 32] = h.finalize().into();
        Self(hex::encode(&digest[..16]))
    }

    /// Parses a key as printed (32 lowercase hex digits).
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 32 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then(|| Self(text.to_owned()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for VariantKey {
    /// Only a well-formed key deserialises: 32 lowercase hex digits.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        VariantKey::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a variant key (32 hex digits)")))
    }
}

impl fmt::Display for VariantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn canonical_bits(v: f64) -> u64 {
    if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

/// One concrete run of a scenario: parameter values, seed, and the scenario with every expression
/// evaluated. Only expansion makes these.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    /// Stable identity.
    pub key: VariantKey,
    /// The scenario's id.
    pub scenario_id: String,
    /// Position in the scenario's expansion order, from 0.
    pub index: usize,
    /// Parameter values, by name.
    pub params: BTreeMap<String, f64>,
    /// Seed for every random stream of this run.
    pub seed: u64,
    /// The concrete scenario.
    pub scenario: Scenario<f64>,
    /// The text of the map file `world.map.file` names, once the caller has read it
    /// ([`crate::ValidScenario::attach_map`]); the language itself reads no file.
    #[serde(skip)]
    pub map_source: Option<MapSource>,
    /// The junctions the ego's route passes on that map, in route order, once the caller has
    /// derived them from the map ([`crate::ValidScenario::attach_route_junctions`]); `None` until
    /// then, and for a world without a map. The ODD's `junction` dimension reads them.
    #[serde(skip)]
    pub route_junctions: Option<Vec<RouteJunction>>,
}

/// A junction the ego's route passes on its map, as the caller read it from the map file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteJunction {
    /// The OpenDRIVE `<junction id>`.
    pub id: String,
    /// How many roads meet there: the roads outside the junction that its connecting roads' driving
    /// lanes lead from or to.
    pub legs: usize,
}

/// A map file's name (as the scenario gives it, resolved by the caller) and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct MapSource {
    /// The path the caller read it from, for messages.
    pub file: String,
    /// The file's text.
    pub text: std::sync::Arc<str>,
}

/// A random stream for one purpose, keyed by the base seed only: editing a description does not
/// resample a scenario's parameters (its keys change anyway, through the content hash).
fn rng_for(base: u64, purpose: &str) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(b"scenario-farm/rng/v1\n");
    h.update(base.to_be_bytes());
    h.update(purpose.as_bytes());
    ChaCha8Rng::from_seed(h.finalize().into())
}

/// A uniform draw in [0, 1) with 53 bits, stable across platforms.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn round_to(v: f64, scale: f64) -> f64 {
    let r = (v * scale).round() / scale;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// The values one parameter takes, in order. Errors are messages for the parameter's node.
pub fn parameter_values(name: &str, p: &Parameter, base: u64) -> Result<Vec<f64>, String> {
    let bounds: Vec<f64> = match p {
        Parameter::Values(_) | Parameter::Choices(_) => Vec::new(),
        Parameter::Range { from, to, step } => vec![*from, *to, *step],
        Parameter::Uniform { min, max, .. } => vec![*min, *max],
        Parameter::Normal { mean, std, min, max, .. } => {
            [Some(*mean), Some(*std), *min, *max].into_iter().flatten().collect()
        }
    };
    if let Some(bad) = bounds.iter().find(|x| !x.is_finite()) {
        return Err(format!("`{name}` has a bound that is not a finite number ({bad})"));
    }
    match p {
        Parameter::Choices(names) => {
            if names.is_empty() {
                return Err(format!("`{name}` has no choices"));
            }
            Ok((0..names.len()).map(|i| i as f64).collect())
        }
        Parameter::Values(v) => {
            if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
                return Err(format!("`{name}` has a value that is not a finite number ({bad})"));
            }
            Ok(v.clone())
        }
        Parameter::Range { from, to, step } => {
            if *step <= 0.0 {
                return Err(format!("`{name}`: `step` must be greater than 0, found {step}"));
            }
            if from > to {
                return Err(format!("`{name}`: `from` ({from}) is greater than `to` ({to})"));
            }
            let n = ((to - from) / step + 1e-9).floor();
            if n >= MAX_VARIANTS as f64 {
                return Err(format!("`{name}`: the range has more than {MAX_VARIANTS} values"));
            }
            Ok((0..=n as u64).map(|i| round_to(from + i as f64 * step, 1e9)).collect())
        }
        Parameter::Uniform { min, max, samples } => {
            if min > max {
                return Err(format!("`{name}`: `min` ({min}) is greater than `max` ({max})"));
            }
            let mut rng = rng_for(base, &format!("param/{name}"));
            Ok((0..*samples).map(|_| round_to(min + unit(&mut rng) * (max - min), 1e6)).collect())
        }
        Parameter::Normal { mean, std, samples, min, max } => {
            if *std < 0.0 {
                return Err(format!("`{name}`: `std` cannot be negative, found {std}"));
            }
            if let (Some(lo), Some(hi)) = (min, max) {
                if lo > hi {
                    return Err(format!("`{name}`: `min` ({lo}) is greater than `max` ({hi})"));
                }
            }
            let mut rng = rng_for(base, &format!("param/{name}"));
            Ok((0..*samples)
                .map(|_| {
                    // Box-Muller with libm: the same bits on every platform.
                    let u1 = 1.0 - unit(&mut rng);
                    let u2 = unit(&mut rng);
                    let z = libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2);
                    let v = mean + std * z;
                    let v = min.map_or(v, |lo| v.max(lo));
                    let v = max.map_or(v, |hi| v.min(hi));
                    round_to(v, 1e6)
                })
                .collect())
        }
    }
}

/// Parameter points in expansion order. `values` holds each parameter's values in name order.
pub fn points(values: &BTreeMap<String, Vec<f64>>, sweep: &Sweep, base: u64) -> Vec<BTreeMap<String, f64>> {
    let names: Vec<&String> = values.keys().collect();
    let radices: Vec<usize> = values.values().map(Vec::len).collect();
    let total: u128 = radices.iter().map(|r| *r as u128).product();
    let decode = |mut index: u128| -> BTreeMap<String, f64> {
        let mut point = BTreeMap::new();
        for (i, name) in names.iter().enumerate().rev() {
            let r = radices[i] as u128;
            let digit = (index % r) as usize;
            index /= r;
            point.insert((*name).clone(), values[*name][digit]);
        }
        point
    };
    match sweep {
        Sweep::Grid => (0..total.min(MAX_VARIANTS as u128 + 1)).map(decode).collect(),
        Sweep::Random { count } => {
            let want = u128::from(*count);
            if want >= total {
                return (0..total.min(MAX_VARIANTS as u128 + 1)).map(decode).collect();
            }
            let mut rng = rng_for(base, "sweep/random");
            let mut chosen = BTreeSet::new();
            while (chosen.len() as u128) < want {
                let r = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())) % total;
                chosen.insert(r);
            }
            chosen.into_iter().map(decode).collect()
        }
    }
}

/// The seed for repeat `repeat` of a parameter point.
pub fn seed_for(policy: &SeedPolicy, params: &BTreeMap<String, f64>, repeat: u32) -> u64 {
    if policy.policy == SeedMode::Fixed && repeat == 0 {
        return policy.base;
    }
    let mut h = Sha256::new();
    h.update(b"scenario-farm/seed/v1\n");
    h.update(policy.base.to_be_bytes());
    if policy.policy == SeedMode::PerVariant {
        for (name, value) in params {
            h.update(name.as_bytes());
            h.update(canonical_bits(*value).to_be_bytes());
        }
    }
    h.update(repeat.to_be_bytes());
    let d: [u8; 32] = h.finalize().into();
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}
