//! Pass/fail criteria: each names what is measured, a threshold, and a severity.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{num_defaults, ActorKind, Criticality, Number};

num_defaults! {
    zero = 0.0;
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
    /// The ego's footprint stays on the road or inside the area bounds.
    StayInDrivableArea {
        /// Severity of a failure.
        #[serde(default = "critical")]
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
            Criterion::SpeedLimit { .. } => "speed_limit",
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
            | Criterion::SpeedLimit { severity, .. } => *severity,
        }
    }
}
