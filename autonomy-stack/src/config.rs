//! `StackConfig`: every tunable and feature flag of the stack. A release candidate carries one as
//! data; a partial document overrides the defaults (missing keys keep their default, unknown keys are
//! rejected) and [`StackConfig::validate`] rejects out-of-range values naming the key.

use serde::{Deserialize, Serialize};

/// A configuration value outside its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct ConfigError {
    /// Dotted path of the offending key, e.g. `safety.aeb_ttc`.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

/// The whole stack's configuration. Defaults describe the production stack.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StackConfig {
    /// Lidar clustering and detector fusion.
    pub perception: PerceptionConfig,
    /// Multi-object tracker.
    pub tracking: TrackingConfig,
    /// Trajectory prediction.
    pub prediction: PredictionConfig,
    /// Behaviour and trajectory planning.
    pub planning: PlanningConfig,
    /// Path tracking and speed control.
    pub control: ControlConfig,
    /// Runtime safety monitor (independent of the planner).
    pub safety: SafetyConfig,
}

/// Perception tunables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PerceptionConfig {
    /// Lidar points closer than this join one cluster, metres. Default 1.0.
    pub cluster_distance: f64,
    /// Smallest cluster that counts as an obstacle, points. Default 2.
    pub min_cluster_points: u32,
    /// Fuse the detector's object list with lidar clusters. Default true.
    pub fuse_detections: bool,
    /// Distance within which a detection and a cluster are the same object, metres. Default 2.0.
    pub fusion_gate: f64,
    /// Detections without lidar support are kept only at or above this confidence (false-positive
    /// filter). Default 0.5.
    pub min_confidence: f64,
    /// Obstacles farther than this outside the road (or area bounds) are ignored, metres. Default 6.0.
    pub roi_margin: f64,
}

impl Default for PerceptionConfig {
    fn default() -> Self {
        Self {
            cluster_distance: 1.0,
            min_cluster_points: 2,
            fuse_detections: true,
            fusion_gate: 2.0,
            min_confidence: 0.5,
            roi_margin: 6.0,
        }
    }
}

/// Motion models for the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MotionModel {
    /// Constant velocity.
    ConstantVelocity,
    /// Constant turn rate and velocity.
    ConstantTurnRate,
}

/// Tracker tunables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TrackingConfig {
    /// Motion model of the Kalman filter. Default constant_velocity.
    pub motion_model: MotionModel,
    /// Association gate (Mahalanobis distance). Default 3.5.
    pub gate: f64,
    /// Hits that confirm a track (M of M-of-N), counted over its first `confirm_window`
    /// measurement frames. Default 3.
    pub confirm_hits: u32,
    /// Measurement frames from a track's birth within which it must gather `confirm_hits` hits
    /// (N of M-of-N); a tentative track that can no longer reach M within N is deleted. Default 5:
    /// at the detector's 25 Hz an object seen in every frame is confirmed 0.08 s after its first
    /// sighting, one missed twice (a camera's recall towards its rated range, about half of its
    /// near-range recall in range-binned benchmarks such as the Waymo Open Dataset's) by 0.16 s,
    /// while one or two spurious frames never confirm: 3 of 5 is the usual M-of-N track
    /// confirmation for a sensor with a per-frame detection probability around 0.5-0.9 (Blackman
    /// and Popoli, "Design and Analysis of Modern Tracking Systems", 1999, on M/N logic).
    pub confirm_window: u32,
    /// Consecutive misses before a track is deleted. Default 5.
    pub delete_misses: u32,
    /// Process noise (acceleration standard deviation), m/s². Default 2.0.
    pub process_noise: f64,
    /// Noise of a lidar-supported position (a lidar cluster, or a detection the lidar confirmed)
    /// as a standard deviation, metres. Default 0.3.
    pub measurement_noise: f64,
    /// Noise of a position only the object detector reports (a camera's depth error grows with
    /// range) as a standard deviation, metres. Default 1.0.
    pub detector_noise: f64,
    /// Noise of a detector's velocity measurement (standard deviation), m/s. Default 0.5.
    pub velocity_noise: f64,
}

impl Default for TrackingConfig {
    fn default() -> Self {
        Self {
            motion_model: MotionModel::ConstantVelocity,
            gate: 3.5,
            confirm_hits: 3,
            confirm_window: 5,
            delete_misses: 5,
            process_noise: 2.0,
            measurement_noise: 0.3,
            detector_noise: 1.0,
            velocity_noise: 0.5,
        }
    }
}

/// Prediction tunables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PredictionConfig {
    /// How far ahead to predict, seconds. Default 4.0.
    pub horizon: f64,
    /// Time step of predicted trajectories, seconds. Default 0.2.
    pub step: f64,
    /// Vehicles on a road follow their lane instead of a straight line. Default true.
    pub lane_following: bool,
}

impl Default for PredictionConfig {
    fn default() -> Self {
        Self { horizon: 4.0, step: 0.2, lane_following: true }
    }
}

/// Planner tunables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PlanningConfig {
    /// Trajectory horizon, seconds. Default 5.0.
    pub horizon: f64,
    /// Sampled lateral/longitudinal candidates per tick. Default 21.
    pub samples: u32,
    /// Cruise at this fraction of the speed limit. Default 0.95.
    pub speed_limit_factor: f64,
    /// IDM desired time headway, seconds. Default 1.5.
    pub idm_headway: f64,
    /// IDM minimum standstill gap, metres. Default 4.0.
    pub idm_min_gap: f64,
    /// IDM maximum acceleration, m/s². Default 1.5.
    pub idm_accel: f64,
    /// IDM comfortable deceleration, m/s². Default 3.0.
    pub idm_decel: f64,
    /// Allow lane changes (overtaking, avoiding blockages). Default true.
    pub lane_change_enabled: bool,
    /// Smallest gap in the target lane accepted for a lane change, metres. Default 20.0.
    pub lane_change_min_gap: f64,
    /// Anticipate road users entering the ego's path from beside it: close in on slower vehicles
    /// in a neighbouring lane, on vehicles waiting beside the road and (on streets) on parked
    /// vehicles that may hide a pedestrian only as fast as the ego could yield. Default true.
    pub anticipate_cut_ins: bool,
    /// Distance kept from a crossing pedestrian or obstacle when stopping, metres. Default 5.0.
    pub stop_distance: f64,
    /// Planner reaction delay (perception-to-action), seconds. Default 0.0.
    pub reaction_time: f64,
    /// Compute budget per planning cycle, microseconds; overruns are counted as deadline misses.
    /// Default 2000.
    pub compute_budget_us: u64,
    /// Lateral clearance kept from obstacles by the trajectory layer, metres. Default 0.5.
    pub lateral_margin: f64,
    /// Time a lateral manoeuvre (lane change, swerve) takes at speed, seconds. Default 2.5.
    pub lateral_time: f64,
    /// Comfortable lateral acceleration that caps speed on curves, m/s². Default 2.5.
    pub max_lateral_accel: f64,
    /// Open-area domain: path-search grid resolution, metres. Default 0.25.
    pub grid_resolution: f64,
    /// Open-area domain: re-run the path search every this many ticks (or sooner when the path is
    /// blocked). Default 10.
    pub replan_ticks: u32,
    /// Open-area domain: clearance kept from a person when passing them, metres. The path steps
    /// aside by this much (with a little slack for the grid) when that costs a few metres at most;
    /// otherwise the robot waits behind the person. Default 0.5 (the half-metre clearance to
    /// people that warehouse safety practice and the catalog's `min_distance` criteria ask for).
    pub person_clearance: f64,
    /// Open-area domain: speed at which the robot passes a person within a metre of its side,
    /// m/s. Default 0.5.
    pub person_passing_speed: f64,
    /// Open-area domain: speed at which the robot passes a blind spot, m/s: floor beside its path
    /// that the map's racks and walls hide from the sensors (a gap in the racking, the end of an
    /// aisle), from which a person may step out unseen. Farther away the robot only keeps a speed
    /// from which it could stop short of the spot. Default 0.5 (the speed at which a robot stops
    /// within about 0.2 m, sensing delay included; ISO 3691-4 asks for reduced speed where people
    /// may appear and the sensors cannot see).
    pub blind_spot_speed: f64,
}

impl Default for PlanningConfig {
    fn default() -> Self {
        Self {
            horizon: 5.0,
            samples: 21,
            speed_limit_factor: 0.95,
            idm_headway: 1.5,
            idm_min_gap: 4.0,
            idm_accel: 1.5,
            idm_decel: 3.0,
            lane_change_enabled: true,
            lane_change_min_gap: 20.0,
            anticipate_cut_ins: true,
            stop_distance: 5.0,
            reaction_time: 0.0,
            compute_budget_us: 2000,
            lateral_margin: 0.5,
            lateral_time: 2.5,
            max_lateral_accel: 2.5,
            grid_resolution: 0.25,
            replan_ticks: 10,
            person_clearance: 0.5,
            person_passing_speed: 0.5,
            blind_spot_speed: 0.5,
        }
    }
}

/// Lateral controllers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LateralController {
    /// Pure pursuit.
    PurePursuit,
    /// Stanley.
    Stanley,
}

/// Controller tunables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ControlConfig {
    /// Lateral path tracker. Default pure_pursuit.
    pub lateral: LateralController,
    /// Look-ahead time for pure pursuit, seconds. Default 0.8.
    pub lookahead_time: f64,
    /// Minimum look-ahead distance, metres. Default 4.0.
    pub min_lookahead: f64,
    /// Proportional gain of the speed loop, 1/s. Default 1.2.
    pub speed_gain: f64,
    /// Largest change of acceleration per second (jerk limit), m/s³. Default 7.0.
    pub jerk_limit: f64,
    /// Largest steering rate, degrees per second. Default 40.0.
    pub steer_rate_limit: f64,
    /// Cross-track gain of the Stanley controller, 1/s. Default 1.5.
    pub stanley_gain: f64,
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            lateral: LateralController::PurePursuit,
            lookahead_time: 0.8,
            min_lookahead: 4.0,
            speed_gain: 1.2,
            jerk_limit: 7.0,
            steer_rate_limit: 40.0,
            stanley_gain: 1.5,
        }
    }
}

/// Safety monitor tunables and guardrail switches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SafetyConfig {
    /// Time-to-collision-based emergency braking. Default true.
    pub aeb_enabled: bool,
    /// TTC below which AEB engages, seconds. Default 1.5. Closing on traffic ahead that moves the
    /// ego's way, AEB brakes at twice the deceleration that just stops the closing within the gap
    /// left; when that is under half the vehicle's maximum deceleration (and under
    /// `predictive_decel`) it builds up at the comfort jerk. Otherwise (a standing or crossing
    /// object, or a harder need) it brakes fully at once.
    pub aeb_ttc: f64,
    /// Brake early on a predicted conflict along the planned path. Default true.
    pub predictive_braking: bool,
    /// Speed cap in degraded mode, m/s. Default 5.0.
    pub degraded_speed_cap: f64,
    /// Fraction of lidar rays without return (within visibility) that counts as dropout. Default 0.3.
    pub dropout_threshold: f64,
    /// Seconds without a detector frame before it counts as silent. Default 1.0.
    pub detector_silence: f64,
    /// Seconds of healthy input before degraded mode releases. Default 1.0.
    pub recovery_time: f64,
    /// Seconds of degradation after which a minimal-risk stop begins. Default 10.0.
    pub mrm_after: f64,
    /// Largest plausible jump of the localisation estimate between ticks, metres. Default 3.0.
    pub max_position_jump: f64,
    /// Enforce the speed limit and the road/area geofence. Default true.
    pub domain_checks: bool,
    /// Lateral margin of the AEB corridor around the ego's predicted path, metres. Default 0.2.
    pub aeb_lateral_margin: f64,
    /// Look-ahead of predictive braking: conflicts sooner than this brake early, seconds. Default 3.0.
    pub predictive_ttc: f64,
    /// Deceleration of predictive (early, moderate) braking, m/s². Default 3.5.
    pub predictive_decel: f64,
    /// Deceleration of the minimal-risk manoeuvre (controlled stop), m/s². Default 2.0.
    pub mrm_decel: f64,
    /// A change of the confirmed-track count larger than this within one tick is an anomaly.
    /// Default 8.
    pub track_count_jump: u32,
    /// Friction estimate (achieved over commanded braking, as a coefficient) below which the
    /// domain is left. Default 0.25.
    pub min_friction: f64,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        Self {
            aeb_enabled: true,
            aeb_ttc: 1.5,
            predictive_braking: true,
            degraded_speed_cap: 5.0,
            dropout_threshold: 0.3,
            detector_silence: 1.0,
            recovery_time: 1.0,
            mrm_after: 10.0,
            max_position_jump: 3.0,
            domain_checks: true,
            aeb_lateral_margin: 0.2,
            predictive_ttc: 3.0,
            predictive_decel: 3.5,
            mrm_decel: 2.0,
            track_count_jump: 8,
            min_friction: 0.25,
        }
    }
}

struct Check {
    errors: Vec<ConfigError>,
}

impl Check {
    fn range(&mut self, key: &str, v: f64, lo: f64, hi: f64) {
        if !(v.is_finite() && v >= lo && v <= hi) {
            self.errors.push(ConfigError { key: key.to_owned(), message: format!("{v} is outside {lo}..={hi}") });
        }
    }

    fn count(&mut self, key: &str, v: u64, lo: u64, hi: u64) {
        if !(lo..=hi).contains(&v) {
            self.errors.push(ConfigError { key: key.to_owned(), message: format!("{v} is outside {lo}..={hi}") });
        }
    }
}

impl StackConfig {
    /// Every out-of-range value, each naming its key. Empty when the configuration is usable.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut c = Check { errors: Vec::new() };
        let p = &self.perception;
        c.range("perception.cluster_distance", p.cluster_distance, 0.05, 10.0);
        c.count("perception.min_cluster_points", p.min_cluster_points.into(), 1, 100);
        c.range("perception.fusion_gate", p.fusion_gate, 0.1, 20.0);
        c.range("perception.min_confidence", p.min_confidence, 0.0, 1.0);
        c.range("perception.roi_margin", p.roi_margin, 0.0, 100.0);
        let t = &self.tracking;
        c.range("tracking.gate", t.gate, 0.5, 50.0);
        c.count("tracking.confirm_hits", t.confirm_hits.into(), 1, 50);
        c.count("tracking.confirm_window", t.confirm_window.into(), u64::from(t.confirm_hits.max(1)), 100);
        c.count("tracking.delete_misses", t.delete_misses.into(), 1, 100);
        c.range("tracking.process_noise", t.process_noise, 0.01, 50.0);
        c.range("tracking.measurement_noise", t.measurement_noise, 0.01, 10.0);
        c.range("tracking.detector_noise", t.detector_noise, 0.01, 10.0);
        c.range("tracking.velocity_noise", t.velocity_noise, 0.01, 20.0);
        let pr = &self.prediction;
        c.range("prediction.horizon", pr.horizon, 0.0, 20.0);
        c.range("prediction.step", pr.step, 0.01, 2.0);
        let pl = &self.planning;
        c.range("planning.horizon", pl.horizon, 0.5, 20.0);
        c.count("planning.samples", pl.samples.into(), 1, 500);
        c.range("planning.speed_limit_factor", pl.speed_limit_factor, 0.1, 1.2);
        c.range("planning.idm_headway", pl.idm_headway, 0.1, 10.0);
        c.range("planning.idm_min_gap", pl.idm_min_gap, 0.0, 50.0);
        c.range("planning.idm_accel", pl.idm_accel, 0.1, 10.0);
        c.range("planning.idm_decel", pl.idm_decel, 0.1, 15.0);
        c.range("planning.lane_change_min_gap", pl.lane_change_min_gap, 0.0, 500.0);
        c.range("planning.stop_distance", pl.stop_distance, 0.0, 50.0);
        c.range("planning.reaction_time", pl.reaction_time, 0.0, 5.0);
        c.count("planning.compute_budget_us", pl.compute_budget_us, 1, 10_000_000);
        c.range("planning.lateral_margin", pl.lateral_margin, 0.0, 5.0);
        c.range("planning.lateral_time", pl.lateral_time, 0.5, 10.0);
        c.range("planning.max_lateral_accel", pl.max_lateral_accel, 0.5, 10.0);
        c.range("planning.grid_resolution", pl.grid_resolution, 0.05, 5.0);
        c.count("planning.replan_ticks", pl.replan_ticks.into(), 1, 1000);
        c.range("planning.person_clearance", pl.person_clearance, 0.0, 5.0);
        c.range("planning.person_passing_speed", pl.person_passing_speed, 0.05, 10.0);
        c.range("planning.blind_spot_speed", pl.blind_spot_speed, 0.05, 10.0);
        let co = &self.control;
        c.range("control.lookahead_time", co.lookahead_time, 0.05, 10.0);
        c.range("control.min_lookahead", co.min_lookahead, 0.1, 100.0);
        c.range("control.speed_gain", co.speed_gain, 0.01, 20.0);
        c.range("control.jerk_limit", co.jerk_limit, 0.1, 1000.0);
        c.range("control.steer_rate_limit", co.steer_rate_limit, 1.0, 1000.0);
        c.range("control.stanley_gain", co.stanley_gain, 0.01, 20.0);
        let s = &self.safety;
        c.range("safety.aeb_ttc", s.aeb_ttc, 0.1, 10.0);
        c.range("safety.degraded_speed_cap", s.degraded_speed_cap, 0.0, 60.0);
        c.range("safety.dropout_threshold", s.dropout_threshold, 0.0, 1.0);
        c.range("safety.detector_silence", s.detector_silence, 0.05, 60.0);
        c.range("safety.recovery_time", s.recovery_time, 0.0, 60.0);
        c.range("safety.mrm_after", s.mrm_after, 0.0, 600.0);
        c.range("safety.max_position_jump", s.max_position_jump, 0.1, 100.0);
        c.range("safety.aeb_lateral_margin", s.aeb_lateral_margin, 0.0, 3.0);
        c.range("safety.predictive_ttc", s.predictive_ttc, 0.1, 20.0);
        c.range("safety.predictive_decel", s.predictive_decel, 0.1, 15.0);
        c.range("safety.mrm_decel", s.mrm_decel, 0.1, 15.0);
        c.count("safety.track_count_jump", s.track_count_jump.into(), 1, 1000);
        c.range("safety.min_friction", s.min_friction, 0.0, 2.0);
        c.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_override_keeps_the_other_defaults() {
        let c: StackConfig = serde_json::from_str(r#"{"safety": {"aeb_enabled": false}}"#).unwrap();
        assert!(!c.safety.aeb_enabled);
        assert_eq!(c.safety.aeb_ttc, SafetyConfig::default().aeb_ttc);
        assert_eq!(c.planning, PlanningConfig::default());
        assert!(c.validate().is_empty());
    }

    #[test]
    fn unknown_keys_are_rejected_naming_the_key() {
        let err = serde_json::from_str::<StackConfig>(r#"{"safety": {"aeb_ttx": 1.0}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `aeb_ttx`"), "{err}");
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        let c: StackConfig =
            serde_json::from_str(r#"{"safety": {"aeb_ttc": -1}, "planning": {"samples": 0}}"#).unwrap();
        let keys: Vec<_> = c.validate().into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["planning.samples", "safety.aeb_ttc"]);
    }
}
