//! Pass/fail criteria: each names what is measured, a threshold, and a severity.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{num_defaults, ActorKind, Bounds, Criticality, Number, Section};

num_defaults! {
    zero = 0.0;
    one = 1.0;
    yield_within = 3.0;
    stop_zone = 5.0;
}

fn critical() -> Criticality {
    Criticality::Critical
}

fn major() -> Criticality {
    Criticality::Major
}

/// One criterion. Safety criteria default to `critical`, comfort and progress to `major`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Criterion<N: Number> {
    /// The ego touches nothing.
    NoCollision {
        /// Severity of a failure.
        #[serde(default = "critical")]
        severity: Criticality,
    },
    /// Time-to-collision with any actor never drops below `threshold` seconds.
    MinTtc {
        /// Seconds (> 0).
        threshold: N,
        /// Severity of a failure.
        #[serde(default = "critical")]
        severity: Criticality,
    },
    /// Distance to actors of a kind never drops below `threshold` metres.
    MinDistance {
        /// Which kind of actor (all actors when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<ActorKind>,
        /// Metres (> 0), footprint to footprint.
        threshold: N,
        /// Severity of a failure.
        #[serde(default = "critical")]
        severity: Criticality,
    },
    /// The ego reaches its goal within `within` seconds.
    ReachGoal {
        /// Seconds (> 0).
        within: N,
        /// Severity of a failure.
        #[serde(default = "major")]
        severity: Criticality,
    },
    /// Braking deceleration never exceeds `threshold` m/s².
    MaxDecel {
        /// m/s² (> 0).
        threshold: N,
        /// Severity of a failure.
        #[serde(default = "major")]
        severity: Criticality,
    },
    /// Jerk never exceeds `threshold` m/s³.
    MaxJerk {
        /// m/s³ (> 0).
        threshold: N,
        /// Severity of a failure.
        #[serde(default = "major")]
        severity: Criticality,
    },
    /// Lateral acceleration never exceeds `threshold` m/s².
    MaxLateralAccel {
        /// m/s² (> 0).
        threshold: N,
        /// Severity of a failure.
        #[serde(default = "major")]
        severity: Criticality,
    },
    /// The ego's footprint stays within its lane (lane changes by the planner are allowed).
    StayInLane {
        /// Metres the footprint may cross the lane line (>= 0).
        #[serde(default = "zero::<N>")]
        tolerance: N,
        /// Severity of a failure.
        #[serde(default = "major")]
        severity: Criticality,
    },
    /// Strict: the ego's centre never leaves the lane it started in, whoever decided to change
    /// (unlike `stay_in_lane`, which allows the planner's own lane changes). Needs a road.
    NoLaneChange {
        /// Severity of a failure.
        #[serde(default = "major")]
        severity: Criticality,
    },
    /// The ego's footprint stays on the road or inside the area bounds.
    StayInDrivableArea {
        /// Severity of a failure.
        #[serde(default = "critical")]
        severity: Criticality,
    },
    /// The impact speed at the first collision never exceeds `max` m/s; no collision passes.
    ImpactSpeed {
        /// m/s (>= 0).
        max: N,
        /// Which speed: the ego's own (default), relative, or relative along the contact.
        #[serde(default)]
        measure: ImpactMeasure,
        /// Severity of a failure.
        #[serde(default = "critical")]
        severity: Criticality,
    },
    /// The ego's speed falls by at least `min` m/s from its highest speed to the first collision
    /// (or to its lowest speed after that peak when there is none).
    SpeedReduction {
        /// m/s (>= 0).
        min: N,
        /// Severity of a failure.
        #[serde(default = "major")]
        severity: Criticality,
    },
    /// The ego's front never crosses a traffic light's stop line while the light is red.
    NoRedLightViolation {
        /// Severity of a failure.
        #[serde(default = "critical")]
        severity: Criticality,
    },
    /// The ego comes to a standstill with its front within `max_distance` metres before a stop
    /// sign's line before it crosses the line.
    NoStopLineOverrun {
        /// How far before the line the standstill counts, metres (> 0).
        #[serde(default = "stop_zone::<N>")]
        max_distance: N,
        /// Severity of a failure.
        #[serde(default = "critical")]
        severity: Criticality,
    },
    /// When the ego's front crosses a stop or yield sign's line, no vehicle with priority would
    /// reach the junction's conflict zone (the ego's lane from the line to `conflict_zone` beyond
    /// it) within `within` seconds at its current velocity (ADR 0027).
    NoFailureToYield {
        /// Seconds (> 0).
        #[serde(default = "yield_within::<N>")]
        within: N,
        /// Severity of a failure.
        #[serde(default = "critical")]
        severity: Criticality,
    },
    /// Inside every speed zone (`world.zones`) the ego is never faster than the zone's limit plus
    /// `tolerance` m/s; "inside" is any part of its footprint.
    ZoneSpeed {
        /// m/s over a zone's limit that is tolerated (>= 0).
        #[serde(default = "zero::<N>")]
        tolerance: N,
        /// Severity of a failure.
        #[serde(default = "major")]
        severity: Criticality,
    },
    /// Where the ego stops: at the end of the run it stands (below 0.1 m/s) with its centre inside
    /// `area` (a rectangle) or `road` (a section of the road), exactly one.
    StopWithin {
        /// An axis-aligned rectangle.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        area: Option<Bounds<N>>,
        /// A section of the road, by distance along it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        road: Option<Section<N>>,
        /// Severity of a failure.
        #[serde(default = "major")]
        severity: Criticality,
    },
    /// The ego never exceeds the speed limit by more than `tolerance` m/s.
    SpeedLimit {
        /// m/s over the limit that is tolerated (>= 0).
        #[serde(default = "zero::<N>")]
        tolerance: N,
        /// Severity of a failure.
        #[serde(default = "major")]
        severity: Criticality,
    },
}

impl<N: Number> Criterion<N> {
    /// The criterion's name as written in files.
    pub fn name(&self) -> &'static str {
        match self {
            Criterion::NoCollision { .. } => "no_collision",
            Criterion::MinTtc { .. } => "min_ttc",
            Criterion::MinDistance { .. } => "min_distance",
            Criterion::ReachGoal { .. } => "reach_goal",
            Criterion::MaxDecel { .. } => "max_decel",
            Criterion::MaxJerk { .. } => "max_jerk",
            Criterion::MaxLateralAccel { .. } => "max_lateral_accel",
            Criterion::StayInLane { .. } => "stay_in_lane",
            Criterion::StayInDrivableArea { .. } => "stay_in_drivable_area",
            Criterion::NoLaneChange { .. } => "no_lane_change",
            Criterion::ZoneSpeed { .. } => "zone_speed",
            Criterion::StopWithin { .. } => "stop_within",
            Criterion::SpeedLimit { .. } => "speed_limit",
            Criterion::ImpactSpeed { .. } => "impact_speed",
            Criterion::SpeedReduction { .. } => "speed_reduction",
            Criterion::NoRedLightViolation { .. } => "no_red_light_violation",
            Criterion::NoStopLineOverrun { .. } => "no_stop_line_overrun",
            Criterion::NoFailureToYield { .. } => "no_failure_to_yield",
        }
    }

    /// The criterion's severity.
    pub fn severity(&self) -> Criticality {
        match self {
            Criterion::NoCollision { severity }
            | Criterion::MinTtc { severity, .. }
            | Criterion::MinDistance { severity, .. }
            | Criterion::ReachGoal { severity, .. }
            | Criterion::MaxDecel { severity, .. }
            | Criterion::MaxJerk { severity, .. }
            | Criterion::MaxLateralAccel { severity, .. }
            | Criterion::StayInLane { severity, .. }
            | Criterion::StayInDrivableArea { severity }
            | Criterion::NoLaneChange { severity }
            | Criterion::ZoneSpeed { severity, .. }
            | Criterion::StopWithin { severity, .. }
            | Criterion::SpeedLimit { severity, .. }
            | Criterion::ImpactSpeed { severity, .. }
            | Criterion::SpeedReduction { severity, .. }
            | Criterion::NoRedLightViolation { severity }
            | Criterion::NoStopLineOverrun { severity, .. }
            | Criterion::NoFailureToYield { severity, .. } => *severity,
        }
    }
}

/// Which speed of an impact is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImpactMeasure {
    /// The ego's own speed at impact (what Euro NCAP calls the impact speed of the vehicle under
    /// test).
    #[default]
    Ego,
    /// The magnitude of the relative velocity (includes a pedestrian's own walking speed).
    Relative,
    /// The closing speed along the contact's normal (the face of the ego that was hit).
    AlongContact,
}

impl ImpactMeasure {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            ImpactMeasure::Ego => "ego",
            ImpactMeasure::Relative => "relative",
            ImpactMeasure::AlongContact => "along_contact",
        }
    }
}

/// What a variant is expected to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expected<N: Number> {
    /// Non-zero (the default): the ego must avoid every collision. Zero: contact may be
    /// unavoidable in this variant (a protocol's case where a collision is acceptable), so a
    /// collision alone does not fail the run; impact-speed criteria and the score still judge it.
    /// Usually an expression over the parameters, e.g. `"${ttc_cut_in >= 1.5}"`.
    #[serde(default = "one::<N>")]
    pub avoid: N,
}

/// How a run earns points, as a protocol scores a test: full points for avoiding contact,
/// partial points by impact speed, none otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scoring<N: Number> {
    /// Points this variant is worth (default 1).
    #[serde(default = "one::<N>")]
    pub points: N,
    /// Which impact speed the bands read (default: the ego's own).
    #[serde(default)]
    pub measure: ImpactMeasure,
    /// After a contact: the fraction of the points earned by the first band whose `below` the
    /// impact speed is under (in the order written); none when no band matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bands: Vec<ScoreBand<N>>,
}

/// One band of a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreBand<N: Number> {
    /// Impact speed below which the band applies, m/s.
    pub below: N,
    /// Fraction of the points earned, 0..1.
    pub fraction: N,
}
