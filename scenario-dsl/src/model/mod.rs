//! The scenario language's types. One definition serves two uses: `Scenario<Num>` is a template as
//! written (numbers may be `${...}` expressions; the JSON Schema is generated from it) and
//! `Scenario<f64>` is a concrete variant, every expression evaluated.
//!
//! Units are SI (metres, seconds, m/s, m/s²); angles are degrees; lane 0 is the rightmost lane.

pub mod agents;
pub mod criteria;
pub mod environment;
pub mod signals;
pub mod sweep;
pub mod traffic;
pub mod world;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use agents::*;
pub use criteria::*;
pub use environment::*;
pub use signals::*;
pub use sweep::*;
pub use traffic::*;
pub use world::*;

/// Defaults for numeric fields, generic so that templates and variants share them.
macro_rules! num_defaults {
    ($($name:ident = $v:expr;)*) => {
        $(
            #[doc = concat!("Default: ", stringify!($v), ".")]
            fn $name<N: From<f64>>() -> N { N::from($v) }
        )*
    };
}
pub(crate) use num_defaults;

/// The language version this crate reads.
pub const LANGUAGE_VERSION: u32 = 1;

/// One scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Scenario Farm scenario")]
pub struct Scenario<N: Number> {
    /// Language version; must be 1.
    pub version: u32,
    /// Who and what this scenario is about.
    pub metadata: Metadata,
    /// Named parameters to sweep, used as `${name}` in any number. Expanded in name order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, Parameter>,
    /// How parameter values combine into variants (default: `grid`).
    #[serde(default)]
    pub sweep: Sweep,
    /// Where each variant's random seed comes from.
    #[serde(default)]
    pub seed: SeedPolicy,
    /// The static world: a road, an open area, or both.
    pub world: World<N>,
    /// The vehicle under test.
    pub ego: Ego<N>,
    /// Other road users and obstacles, with scripted behaviour or a driver model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actors: Vec<Actor<N>>,
    /// Reactive vehicles placed by density (`traffic-0`, `traffic-1`, ...), beside `actors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic<N>>,
    /// Friction, visibility and sensor models.
    #[serde(default)]
    pub environment: Environment<N>,
    /// Pass/fail criteria, each with a threshold and a severity.
    pub criteria: Vec<Criterion<N>>,
    /// Simulated seconds after which the run ends as `timeout` unless the goal ended it first.
    pub duration: N,
    /// The run ends, as if the goal were reached, once this holds (the ego stopped before a
    /// target, the target reached a point, ...). Triggers measured from "this actor" need
    /// `between` here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_when: Option<Trigger<N>>,
    /// What this variant is expected to show (whether contact must be avoided).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected<N>>,
    /// How a run earns points (reported per run, scenario and suite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoring: Option<Scoring<N>>,
    /// Contacts between actors that the scenario means to happen (a crash ahead of the ego).
    /// Any other contact between two actors makes the run an `error`: the scenario is invalid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intended_contacts: Vec<IntendedContact>,
}

/// A contact between two actors that the scenario means to happen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntendedContact {
    /// The two actors' ids.
    pub actors: Vec<String>,
    /// Why the contact is part of the scenario.
    pub reason: String,
}

impl IntendedContact {
    /// Whether this declares the contact between `a` and `b`, in either order.
    pub fn covers(&self, a: &str, b: &str) -> bool {
        matches!(self.actors.as_slice(), [x, y] if (x == a && y == b) || (x == b && y == a))
    }
}

/// Identity and ownership of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Unique id in the catalog: lowercase letters, digits, `.`, `_`, `-`; e.g. `highway.cut_in.close`.
    pub id: String,
    /// One line for lists and reports.
    pub title: String,
    /// What the scenario tests and why it matters.
    pub description: String,
    /// Team or person who answers for it.
    pub owner: String,
    /// Operating domain.
    pub domain: Domain,
    /// How bad a failure here is for a release.
    pub severity: Criticality,
    /// Feature and suite tags (e.g. `aeb`, `cut-in`, `smoke`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Metadata {
    /// Every tag the scenario answers to: its own, its domain and its severity.
    pub fn all_tags(&self) -> Vec<String> {
        let mut tags = self.tags.clone();
        tags.push(self.domain.as_str().to_owned());
        tags.push(self.severity.as_str().to_owned());
        tags.sort();
        tags.dedup();
        tags
    }
}

/// Operating domain of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Multi-lane roads at speed.
    Highway,
    /// Streets with pedestrians, cyclists and junctions.
    Urban,
    /// Indoor robots among racks, pallets and people.
    Warehouse,
}

impl Domain {
    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Highway => "highway",
            Domain::Urban => "urban",
            Domain::Warehouse => "warehouse",
        }
    }
}

/// How much a failure matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    /// Safety-relevant: a failure blocks a release.
    Critical,
    /// Important behaviour or comfort.
    Major,
    /// Nice to have.
    Minor,
}

impl Criticality {
    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Criticality::Critical => "critical",
            Criticality::Major => "major",
            Criticality::Minor => "minor",
        }
    }
}

/// A point in the world frame (x east, y north), metres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Point<N: Number> {
    /// x, metres.
    pub x: N,
    /// y, metres.
    pub y: N,
}

/// The number type of the language's types: [`crate::Num`] in templates, `f64` in variants.
pub trait Number: From<f64> + Clone + std::fmt::Debug + PartialEq {}

impl Number for f64 {}
impl Number for crate::expr::Num {}
