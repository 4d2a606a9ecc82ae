//! Parameters, sweep strategies and the seed policy: how one file becomes many variants.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The values a parameter takes. Numbers here are literals (no expressions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Parameter {
    /// Exactly these values, in this order.
    Values(Vec<f64>),
    /// One of these names, in this order, for a field that takes a name (a crossing's
    /// `direction`, an actor's `kind`, a road's `kind`): write the field as `"${name}"`. The
    /// variant's parameter value is the name's index (0, 1, ...), which is also what `${name}`
    /// gives inside an arithmetic expression.
    Choices(Vec<String>),
    /// `from`, `from + step`, ... up to and including `to`.
    Range {
        /// First value.
        from: f64,
        /// Last value (included when reached exactly).
        to: f64,
        /// Increment (> 0).
        step: f64,
    },
    /// `samples` values drawn uniformly from [`min`, `max`) with the scenario's seed.
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// How many values (>= 1).
        samples: u32,
    },
    /// `samples` values drawn from a normal distribution, optionally clamped to [`min`, `max`].
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (>= 0).
        std: f64,
        /// How many values (>= 1).
        samples: u32,
        /// Clamp below.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Clamp above.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
}

/// How parameter values combine.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Sweep {
    /// Every combination (cartesian product), parameters in name order, the last varying fastest.
    #[default]
    Grid,
    /// `count` combinations drawn at random (seeded) from the parameters' values.
    Random {
        /// How many variants (>= 1).
        count: u32,
    },
}

/// Where each variant's seed (sensor noise, actor randomness) comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedPolicy {
    /// `fixed`: every parameter point uses `base`; `per_variant`: each point gets its own seed
    /// derived from `base` and its parameter values.
    #[serde(default)]
    pub policy: SeedMode,
    /// Base seed.
    #[serde(default)]
    pub base: u64,
    /// Runs per parameter point with different seeds (>= 1): noise robustness.
    #[serde(default = "one")]
    pub repeats: u32,
}

fn one() -> u32 {
    1
}

impl Default for SeedPolicy {
    fn default() -> Self {
        Self { policy: SeedMode::Fixed, base: 0, repeats: 1 }
    }
}

/// Seed policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeedMode {
    /// One seed for every parameter point.
    #[default]
    Fixed,
    /// A seed per parameter point, derived from the base seed and the values.
    PerVariant,
}
