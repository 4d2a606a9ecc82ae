//! Runtime assurance, independent of the planner: time-to-collision emergency braking (AEB),
//! predictive braking against predicted occupancy, input health and out-of-distribution checks
//! (lidar dropout, NaN and implausible jumps, detector silence, track-count anomalies) leading to
//! degraded mode and then to a minimal-risk manoeuvre, operating-domain checks (speed limit,
//! friction estimate, geofence) and the final command envelope clamp.

use crate::config::{ControlConfig, SafetyConfig};
use crate::control::ControlOutput;
use crate::geometry::{boxes_overlap, projected_half_extent, ArcFrame, RoadGeometry};
use crate::interface::{
    ControlCommand, Detection, EgoEstimate, GuardrailEvent, LidarScan, Mission, Mode, OrientedBox, Reason, SensorFrame,
    VehicleParams,
};
use crate::perception::{Obstacle, ObstacleSource};
use crate::prediction::Prediction;
use crate::tracking::Track;
use core::f64::consts::FRAC_PI_2;

/// Gravity, m/s².
const G: f64 = 9.81;
/// Scans whose dropout counts are pooled.
const DROPOUT_WINDOW: usize = 5;
/// Fewest expected returns (pooled) before the dropout rate is judged.
const DROPOUT_MIN_EXPECTED: u32 = 20;
/// Largest run of rays (plus one) without return between two returns that counts as holes.
const HOLE_SPAN: usize = 5;
/// Range noise, as a share of the range, a hole's far end may show against where its near end's
/// surface leads.
const HOLE_RANGE_SHARE: f64 = 0.02;
/// Dropout rate at or above which the lidar counts as lost rather than degraded.
const LIDAR_LOST: f64 = 0.9;
/// A scan with fewer than 1/this of the previous scan's returns is a blank-out.
const BLANK_FRACTION: u32 = 5;
/// Ticks over which achieved braking is compared with commanded braking.
const FRICTION_WINDOW: usize = 10;
/// AEB releases once every TTC is above this multiple of the threshold.
const AEB_RELEASE: f64 = 1.5;
/// AEB engages only above this speed, m/s.
const AEB_MIN_SPEED: f64 = 0.1;
/// Below this speed the yaw rate is divided by it, not by the speed, for the corridor's curvature.
const AEB_CURVATURE_SPEED: f64 = 0.5;
/// Objects farther ahead than this are ignored by AEB, metres.
const AEB_RANGE: f64 = 120.0;
/// A tentative object (one sighting, velocity unknown) counts for AEB below this share of the TTC
/// threshold only.
const TENTATIVE_TTC_SHARE: f64 = 0.5;
/// AEB brakes at this multiple of the deceleration that would just stop the closing in the gap
/// left (headroom for an object that brakes too, for estimation error and for actuator lag).
const AEB_DECEL_MARGIN: f64 = 2.0;
/// A graded AEB level below this share of the vehicle's maximum deceleration (and below the
/// predictive-braking deceleration) builds up at the comfort jerk; above it AEB brakes fully at once.
const AEB_GRADED_SHARE: f64 = 0.5;
/// Below this share of the AEB threshold, AEB brakes fully whatever the graded estimate says (the
/// last stage of a staged AEB: partial braking first, full braking once time is short).
const AEB_FULL_TTC_SHARE: f64 = 0.6;
/// AEB grades its braking only for objects moving our way faster than this share of the ego's
/// speed (traffic the ego can settle behind).
const AEB_GRADED_MIN_SPEED_SHARE: f64 = 0.5;
/// An object ahead decelerating harder than this counts as braking for AEB, m/s² (below it the
/// estimate is mostly velocity noise).
const BRAKING_OBJECT: f64 = 0.7;
/// Braking the ego is doing (measured and commanded alike) that AEB's engagement TTC credits,
/// m/s²: below it, acceleration noise and rolling losses.
const EGO_BRAKING_CREDIT: f64 = 0.3;
/// Longitudinal margin of predictive braking, metres.
const PREDICTIVE_MARGIN: f64 = 0.3;

/// Everything the monitor reads in one tick.
#[derive(Debug, Clone, Copy)]
pub struct SafetyInput<'a> {
    /// The raw frame.
    pub frame: &'a SensorFrame,
    /// The ego estimate the stack used (the last plausible one when the frame's was not).
    pub ego: &'a EgoEstimate,
    /// This tick's fused obstacles.
    pub obstacles: &'a [Obstacle],
    /// For each obstacle, its track.
    pub associations: &'a [Option<u64>],
    /// Every live track.
    pub tracks: &'a [Track],
    /// Predictions of confirmed tracks.
    pub predictions: &'a [Prediction],
    /// The path being executed.
    pub path: &'a [(f64, f64)],
    /// The controller's output.
    pub control: ControlOutput,
}

/// The monitor's verdict for one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetyOutput {
    /// The command to actuate.
    pub command: ControlCommand,
    /// The operating mode.
    pub mode: Mode,
    /// Guardrail activations this tick.
    pub events: Vec<GuardrailEvent>,
    /// Smallest time-to-collision with an object in the ego's path, seconds (infinite if none).
    pub min_ttc: f64,
}

const REASONS: usize = 12;

fn index(r: Reason) -> usize {
    r as usize
}

/// The runtime safety monitor.
#[derive(Debug, Clone)]
pub struct SafetyMonitor {
    config: SafetyConfig,
    steer_rate: f64,
    jerk_limit: f64,
    vehicle: VehicleParams,
    period: f64,
    road: Option<RoadGeometry>,
    area: Option<(f64, f64, f64, f64)>,
    speed_limit: Option<f64>,
    ego_s: f64,
    // Input health.
    reference_returns: u32,
    dropout_counts: [(u32, u32); DROPOUT_WINDOW],
    dropout_next: usize,
    last_lidar: Option<f64>,
    last_detections: Option<f64>,
    previous_ego: Option<(f64, EgoEstimate)>,
    previous_tracks: Option<u32>,
    friction: f64,
    friction_window: [(f64, f64); FRICTION_WINDOW],
    friction_len: usize,
    // Mode state.
    unhealthy_since: Option<f64>,
    last_unhealthy: Option<f64>,
    episode_reasons: [bool; REASONS],
    active: [bool; REASONS],
    aeb: bool,
    /// Deceleration AEB commands while engaged, m/s² (positive; the vehicle's maximum when full).
    aeb_decel: f64,
    mrm: bool,
    previous_command: ControlCommand,
}

impl SafetyMonitor {
    /// A monitor for `mission`.
    pub fn new(config: SafetyConfig, control: &ControlConfig, mission: &Mission) -> Self {
        Self {
            config,
            steer_rate: control.steer_rate_limit.to_radians(),
            jerk_limit: control.jerk_limit,
            vehicle: mission.vehicle,
            period: mission.control_period,
            road: mission.road.clone().map(RoadGeometry::new),
            area: mission.area.as_ref().map(|a| (a.min_x, a.min_y, a.max_x, a.max_y)),
            speed_limit: mission.road.as_ref().map(|r| r.speed_limit).or(mission.area.as_ref().map(|a| a.speed_limit)),
            ego_s: 0.0,
            reference_returns: 0,
            dropout_counts: [(0, 0); DROPOUT_WINDOW],
            dropout_next: 0,
            last_lidar: None,
            last_detections: None,
            previous_ego: None,
            previous_tracks: None,
            friction: 1.0,
            friction_window: [(0.0, 0.0); FRICTION_WINDOW],
            friction_len: 0,
            unhealthy_since: None,
            last_unhealthy: None,
            episode_reasons: [false; REASONS],
            active: [false; REASONS],
            aeb: false,
            aeb_decel: 0.0,
            mrm: false,
            previous_command: ControlCommand::default(),
        }
    }

    /// The current friction estimate (coefficient; 1.0 until braking shows otherwise).
    pub fn friction(&self) -> f64 {
        self.friction
    }

    /// The speed cap the planner should respect (infinite when nominal).
    pub fn speed_cap(&self) -> f64 {
        if self.mrm {
            0.0
        } else if self.last_unhealthy.is_some() {
            self.config.degraded_speed_cap
        } else {
            f64::INFINITY
        }
    }

    /// Evaluates one tick and returns the command to actuate.
    pub fn evaluate(&mut self, input: &SafetyInput<'_>) -> SafetyOutput {
        let cfg = self.config.clone();
        let frame = input.frame;
        let time = frame.time;
        let ego = input.ego;
        let v = ego.speed.max(0.0);
        let mut events = Vec::new();
        let mut now = [false; REASONS];

        // --- Input health and out-of-distribution checks.
        let mut faults = [false; REASONS];
        let plausible = ego_plausible(&frame.ego)
            && time.is_finite()
            && frame.detections.as_ref().is_none_or(|d| detections_plausible(d))
            && frame.detections_age.is_finite()
            && frame.detections_age >= 0.0
            && frame.visibility.is_none_or(|v| v.is_finite() && v > 0.0);
        if !plausible {
            faults[index(Reason::ImplausibleInput)] = true;
        }
        if let Some((t_prev, prev)) = self.previous_ego {
            let dt = time - t_prev;
            if ego_plausible(&frame.ego) && dt > 0.0 {
                let ex = prev.x + prev.speed * libm::cos(prev.heading) * dt;
                let ey = prev.y + prev.speed * libm::sin(prev.heading) * dt;
                if crate::geometry::norm(frame.ego.x - ex, frame.ego.y - ey) > cfg.max_position_jump {
                    faults[index(Reason::LocalisationJump)] = true;
                }
            }
        }
        if ego_plausible(&frame.ego) && time.is_finite() {
            self.previous_ego = Some((time, frame.ego));
        }
        // Partial lidar dropout while the detector still reports leaves redundant perception: it
        // slows the ego (degraded mode) but does not by itself call for a minimal-risk stop.
        let mut lidar_lost = false;
        if let Some(scan) = &frame.lidar {
            self.last_lidar = Some(time);
            let rate = self.dropout_rate(scan);
            if rate > cfg.dropout_threshold {
                faults[index(Reason::LidarDropout)] = true;
                lidar_lost = rate >= LIDAR_LOST;
            }
        } else if self.last_lidar.is_some_and(|t| time - t > cfg.detector_silence) {
            faults[index(Reason::LidarDropout)] = true;
            lidar_lost = true;
        }
        if frame.detections.is_some() {
            self.last_detections = Some(time);
        } else if self.last_detections.is_some_and(|t| time - t > cfg.detector_silence) {
            faults[index(Reason::DetectorSilence)] = true;
        }
        let confirmed = input.tracks.iter().filter(|t| t.confirmed).count() as u32;
        if self.previous_tracks.is_some_and(|p| p.abs_diff(confirmed) > cfg.track_count_jump) {
            faults[index(Reason::TrackCountAnomaly)] = true;
        }
        self.previous_tracks = Some(confirmed);

        // --- Operating domain.
        self.update_friction(v);
        let mut geofence = false;
        if cfg.domain_checks {
            if self.friction < cfg.min_friction {
                faults[index(Reason::LowFriction)] = true;
            }
            geofence = self.outside_geofence(ego);
        }

        // --- Degraded mode and minimal-risk manoeuvre.
        let unhealthy = faults.iter().any(|f| *f);
        let severe = faults.iter().enumerate().any(|(i, f)| *f && i != index(Reason::LidarDropout)) || lidar_lost;
        if unhealthy {
            self.last_unhealthy = Some(time);
            if severe {
                self.unhealthy_since.get_or_insert(time);
            }
        } else if self.last_unhealthy.is_some_and(|t| time - t >= cfg.recovery_time) {
            self.last_unhealthy = None;
            self.unhealthy_since = None;
            self.episode_reasons = [false; REASONS];
            self.mrm = false;
        }
        for (i, f) in faults.iter().enumerate() {
            if *f && !self.episode_reasons[i] {
                self.episode_reasons[i] = true;
                events.push(GuardrailEvent { reason: REASON_ORDER[i], intervention: false });
            }
        }
        let degraded = self.last_unhealthy.is_some();
        if !self.mrm && self.unhealthy_since.is_some_and(|t| time - t >= cfg.mrm_after) {
            self.mrm = true;
            events.push(GuardrailEvent { reason: Reason::MinimalRiskManoeuvre, intervention: true });
        }

        // --- Command pipeline: start from the controller, only ever brake harder.
        let mut cmd = input.control.command;
        if degraded {
            cmd.accel = cmd.accel.min(((cfg.degraded_speed_cap - v) * 1.0).max(-cfg.predictive_decel));
        }
        if cfg.domain_checks {
            if let Some(limit) = self.speed_limit {
                if v > limit * 1.05 + 0.5 {
                    now[index(Reason::SpeedLimit)] = true;
                    cmd.accel = cmd.accel.min((limit - v).max(-cfg.predictive_decel));
                }
            }
        }
        if geofence {
            now[index(Reason::Geofence)] = true;
        }
        if self.mrm || geofence {
            cmd.accel = cmd.accel.min(-cfg.mrm_decel);
        }
        if cfg.predictive_braking && predictive_conflict(&cfg, &self.vehicle, ego, cmd.accel, input) {
            now[index(Reason::PredictiveBrake)] = true;
            cmd.accel = cmd.accel.min(-cfg.predictive_decel);
        }
        let assessment = assess_ttc(&cfg, &self.vehicle, ego, input);
        let min_ttc = assessment.ttc;
        if cfg.aeb_enabled {
            // Braking is only a remedy while moving: a standing ego does not engage AEB. It engages
            // for the conflicts the braking the ego is already doing does not resolve; once engaged
            // it holds until the constant-speed TTC clears (its own braking must not release it).
            if !self.aeb && assessment.ttc_braking < cfg.aeb_ttc && v > AEB_MIN_SPEED {
                self.aeb = true;
                self.aeb_decel = 0.0;
                events.push(GuardrailEvent { reason: Reason::AebTtc, intervention: true });
            } else if self.aeb && (min_ttc >= cfg.aeb_ttc * AEB_RELEASE || v < 0.05) {
                self.aeb = false;
            }
        } else {
            self.aeb = false;
        }
        // Graded AEB: as hard as the conflict requires (with margin), never easing while engaged;
        // full braking at once when that is a large share of what the vehicle can do.
        let full = self.vehicle.max_decel;
        let graded_limit = (AEB_GRADED_SHARE * full).min(cfg.predictive_decel);
        let mut aeb_graded = false;
        if self.aeb {
            let wanted = (AEB_DECEL_MARGIN * assessment.required_decel).min(full);
            // Graded braking that has not stopped the TTC from falling this far (an object that
            // brakes harder than the estimate knows) gives way to full braking.
            let graded =
                wanted < graded_limit && self.aeb_decel < graded_limit && min_ttc >= AEB_FULL_TTC_SHARE * cfg.aeb_ttc;
            self.aeb_decel = if graded { self.aeb_decel.max(wanted) } else { full };
            aeb_graded = self.aeb_decel < full;
            cmd.accel = cmd.accel.min(-self.aeb_decel);
        }
        // Braking the monitor adds on top of the controller's (predictive braking, degraded-mode
        // and speed-limit caps, graded AEB) builds up at the controller's comfort jerk, never below
        // what the controller itself asked for. Full AEB alone brakes at once: it acts when time has
        // run out.
        let jerk = if aeb_graded { self.jerk_limit } else { 2.0 * self.jerk_limit };
        let ramp = self.previous_command.accel - jerk * self.period;
        if (!self.aeb || aeb_graded) && cmd.accel < input.control.command.accel && cmd.accel.is_finite() {
            cmd.accel = cmd.accel.max(ramp.min(input.control.command.accel));
        }

        // --- Envelope: the controller's request must have been inside it; the output always is.
        let req = input.control.requested;
        let veh = self.vehicle;
        if !(req.accel.is_finite()
            && req.steer.is_finite()
            && req.accel >= -veh.max_decel - 1e-9
            && req.accel <= veh.max_accel + 1e-9
            && libm::fabs(req.steer) <= veh.max_steer + 1e-9)
        {
            now[index(Reason::EnvelopeClamp)] = true;
        }
        let prev = self.previous_command;
        if !cmd.accel.is_finite() {
            cmd.accel = -veh.max_decel;
        }
        if !cmd.steer.is_finite() {
            cmd.steer = prev.steer;
        }
        let ds = self.steer_rate * self.period;
        cmd.accel = cmd.accel.clamp(-veh.max_decel, veh.max_accel);
        cmd.steer = cmd.steer.clamp(prev.steer - ds, prev.steer + ds).clamp(-veh.max_steer, veh.max_steer);
        self.previous_command = cmd;
        self.friction_push(v, cmd.accel);

        for reason in [Reason::PredictiveBrake, Reason::SpeedLimit, Reason::EnvelopeClamp] {
            let i = index(reason);
            if now[i] && !self.active[i] {
                events.push(GuardrailEvent { reason, intervention: false });
            }
        }
        let g = index(Reason::Geofence);
        if now[g] && !self.active[g] {
            events.push(GuardrailEvent { reason: Reason::Geofence, intervention: true });
        }
        self.active = now;

        let mode = if self.aeb || self.mrm || geofence {
            Mode::Fallback
        } else if degraded {
            Mode::Degraded
        } else {
            Mode::Nominal
        };
        SafetyOutput { command: cmd, mode, events, min_ttc }
    }

    /// Dropout rate pooled over the last few scans: the fraction of holes inside surfaces (rays
    /// without a return between returning rays a few rays away on both sides), or, when a scan
    /// goes (nearly) blank compared with the last scan that did not, the fraction of returns lost. Rays into open
    /// sky count for neither, and neither do returns lost at the edge of an object that moved out
    /// of a ray (a pedestrian passed on an open road leaves sky behind it, not a fault).
    fn dropout_rate(&mut self, scan: &LidarScan) -> f64 {
        let previous_returns = self.reference_returns;
        let (mut holes, mut returns) = (0u32, 0u32);
        let mut last_return: Option<(usize, f64)> = None;
        // The range's change per ray along the surface the last return lies on (from the return
        // before it, when that is near enough to belong to the same surface).
        let mut slope: Option<f64> = None;
        let mut pending = 0u32;
        for (i, r) in scan.ranges.iter().enumerate() {
            if let Some(r) = r.filter(|r| r.is_finite()) {
                returns += 1;
                // Only a gap inside one surface is a hole: the far end continues the surface the
                // near end lies on (its range where the near side's slope leads, with room for
                // noise and for a surface seen at a grazing angle). The gap between two objects,
                // such as two cars side by side a few metres apart in range, is open sky.
                if let Some((j, rj)) = last_return.filter(|(j, _)| i - j <= HOLE_SPAN) {
                    let k = (i - j) as f64;
                    let step = slope.unwrap_or(0.0);
                    let tolerance = 0.5 + HOLE_RANGE_SHARE * r.min(rj) + 0.5 * libm::fabs(step) * k;
                    if pending > 0 && libm::fabs(r - (rj + step * k)) < tolerance {
                        holes += pending;
                    }
                    slope = (libm::fabs(r - rj) < 0.5 + 0.1 * r.min(rj)).then(|| (r - rj) / k);
                } else {
                    slope = None;
                }
                pending = 0;
                last_return = Some((i, r));
            } else {
                pending += 1;
            }
        }
        let surface = returns + holes;
        // A blank-out: most of a well-populated scan vanished at once.
        let blank = previous_returns >= DROPOUT_MIN_EXPECTED && returns * BLANK_FRACTION < previous_returns;
        let counts = if blank {
            (previous_returns - returns, previous_returns)
        } else {
            self.reference_returns = returns;
            (holes, surface)
        };
        if counts.1 > 0 {
            self.dropout_counts[self.dropout_next] = counts;
            self.dropout_next = (self.dropout_next + 1) % DROPOUT_WINDOW;
        }
        let (m, e) = self.dropout_counts.iter().fold((0, 0), |(m, e), c| (m + c.0, e + c.1));
        if e < DROPOUT_MIN_EXPECTED {
            0.0
        } else {
            f64::from(m) / f64::from(e)
        }
    }

    fn friction_push(&mut self, v: f64, accel: f64) {
        if self.friction_len == FRICTION_WINDOW {
            self.friction_window.copy_within(1.., 0);
            self.friction_len -= 1;
        }
        self.friction_window[self.friction_len] = (v, accel);
        self.friction_len += 1;
    }

    /// Compares the braking achieved over the last window with the braking commanded.
    fn update_friction(&mut self, v_now: f64) {
        if self.friction_len < FRICTION_WINDOW {
            return;
        }
        let (v_then, _) = self.friction_window[0];
        let commanded = self.friction_window.iter().map(|w| w.1).sum::<f64>() / FRICTION_WINDOW as f64;
        let achieved = (v_now - v_then) / (FRICTION_WINDOW as f64 * self.period);
        if commanded < -3.0 && v_then > 2.0 && v_now > 0.5 {
            if achieved > 0.5 * commanded {
                let sample = (-achieved / G).max(0.0);
                self.friction = 0.7 * self.friction + 0.3 * sample;
            } else {
                self.friction = (self.friction + 0.05).min(1.0);
            }
        }
    }

    fn outside_geofence(&mut self, ego: &EgoEstimate) -> bool {
        if let Some(road) = &self.road {
            let (s, d) = road.frame.to_frame(ego.x, ego.y, self.ego_s);
            if s.is_finite() {
                self.ego_s = s;
            }
            return d < -1.0 || d > road.width() + 1.0 || s < -10.0 || s > road.map.length + 10.0;
        }
        if let Some((x0, y0, x1, y1)) = self.area {
            return ego.x < x0 - 1.0 || ego.x > x1 + 1.0 || ego.y < y0 - 1.0 || ego.y > y1 + 1.0;
        }
        false
    }
}

const REASON_ORDER: [Reason; REASONS] = [
    Reason::AebTtc,
    Reason::PredictiveBrake,
    Reason::LidarDropout,
    Reason::DetectorSilence,
    Reason::ImplausibleInput,
    Reason::LocalisationJump,
    Reason::TrackCountAnomaly,
    Reason::SpeedLimit,
    Reason::LowFriction,
    Reason::Geofence,
    Reason::EnvelopeClamp,
    Reason::MinimalRiskManoeuvre,
];

fn ego_plausible(e: &EgoEstimate) -> bool {
    [e.x, e.y, e.heading, e.speed, e.accel, e.yaw_rate].iter().all(|v| v.is_finite())
        && e.speed > -1.0
        && e.speed < 100.0
        && libm::fabs(e.yaw_rate) < 5.0
}

fn detections_plausible(d: &[Detection]) -> bool {
    d.iter().all(|d| [d.x, d.y, d.vx, d.vy, d.heading, d.length, d.width, d.confidence].iter().all(|v| v.is_finite()))
}

/// An object as the AEB sees it.
struct Object {
    x: f64,
    y: f64,
    vx: f64,
    vy: f64,
    heading: f64,
    length: f64,
    width: f64,
    /// Seen once, velocity unknown (assumed standing).
    tentative: bool,
    /// Estimated acceleration (x, y), m/s² (0 when not estimated).
    ax: f64,
    ay: f64,
}

/// Time interval during which |p + r t| < h, or `None`.
fn inside_interval(p: f64, r: f64, h: f64) -> Option<(f64, f64)> {
    if libm::fabs(r) < 1e-9 {
        return (libm::fabs(p) < h).then_some((f64::NEG_INFINITY, f64::INFINITY));
    }
    let (a, b) = ((-h - p) / r, (h - p) / r);
    Some((a.min(b), a.max(b)))
}

/// What AEB reads from the objects in the ego's corridor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TtcAssessment {
    /// Smallest time-to-collision at the ego's current speed, seconds (infinite if none).
    pub ttc: f64,
    /// `ttc` over the objects the ego's current braking (measured and commanded alike, the
    /// smaller of the two) does not keep it clear of, to its standstill and the AEB threshold
    /// beyond ([`stopped_short`]): an ego already stopping short of a conflict does not need AEB
    /// to stop it. Never below `ttc`.
    pub ttc_braking: f64,
    /// Largest constant deceleration that just stops the closing within the gap left, over the
    /// objects with a TTC under the AEB threshold (infinite when one stands, crosses or is already
    /// level with the ego), m/s²; 0 when none.
    pub required_decel: f64,
}

/// Smallest time-to-collision with any confirmed track, or any obstacle the lidar measured (a lidar
/// cluster, or a detection fused with one) not yet covered by a confirmed track, in the corridor
/// along the ego's current arc (curvature from the yaw rate), and the deceleration that would
/// resolve the conflicts under the AEB threshold. A detection the lidar does not support brakes
/// nothing until its track is confirmed (ADR 0022): a cluster of returns is geometry, as a safety
/// scanner's protective field is, but one camera frame may be a ghost.
pub fn assess_ttc(
    cfg: &SafetyConfig,
    vehicle: &VehicleParams,
    ego: &EgoEstimate,
    input: &SafetyInput<'_>,
) -> TtcAssessment {
    let v = ego.speed.max(0.0);
    // The arc the ego is actually turning on, up to what its steering allows (a robot turns far
    // tighter than a car: clamping to a car's curvature sends the corridor into the rack it is
    // turning away from).
    let max_curvature = (libm::tan(vehicle.max_steer) / vehicle.wheelbase.max(0.1)).clamp(0.2, 2.0);
    let curvature = (ego.yaw_rate / v.max(AEB_CURVATURE_SPEED)).clamp(-max_curvature, max_curvature);
    let frame = ArcFrame { x: ego.x, y: ego.y, heading: ego.heading, curvature };
    let confirmed = |id: u64| input.tracks.binary_search_by_key(&id, |t| t.id).ok().map(|i| &input.tracks[i]);
    let tracks = input.tracks.iter().filter(|t| t.confirmed).map(|t| {
        if t.is_static() {
            let f = t.standing_box();
            Object {
                x: f.x,
                y: f.y,
                vx: 0.0,
                vy: 0.0,
                heading: f.heading,
                length: f.length,
                width: f.width,
                tentative: false,
                ax: 0.0,
                ay: 0.0,
            }
        } else {
            let [x, y, vx, vy] = t.state;
            let [ax, ay] = t.accel;
            Object { x, y, vx, vy, heading: t.heading, length: t.length, width: t.width, tentative: false, ax, ay }
        }
    });
    let fresh = input.obstacles.iter().zip(input.associations).filter_map(|(o, a)| {
        let track = a.and_then(confirmed);
        if track.is_some_and(|t| t.confirmed) || o.source == ObstacleSource::Detector {
            return None;
        }
        let (vx, vy) = match track {
            _ if o.velocity_known => (o.vx, o.vy),
            Some(t) if t.hits >= 2 && !t.is_static() => (t.state[2], t.state[3]),
            _ => (0.0, 0.0),
        };
        let tentative = !o.velocity_known && track.is_none_or(|t| t.hits < 2);
        Some(Object {
            x: o.x,
            y: o.y,
            vx,
            vy,
            heading: o.heading,
            length: o.length,
            width: o.width,
            tentative,
            ax: 0.0,
            ay: 0.0,
        })
    });
    // The braking both the ego's motion and its controller show (a command not yet felt, or a
    // deceleration the controller is about to release, is not credited).
    let braking_now = ego.accel.max(input.control.command.accel);
    let ego_decel = if braking_now < -EGO_BRAKING_CREDIT && v > 0.0 { -braking_now } else { 0.0 };
    let mut best = f64::INFINITY;
    let mut best_braking = f64::INFINITY;
    let mut required: f64 = 0.0;
    for o in tracks.chain(fresh) {
        let (s, n) = frame.to_frame(o.x, o.y, 0.0);
        if !(s > 0.0 && s < AEB_RANGE) {
            continue;
        }
        let h = frame.heading_at(s);
        let (vs, vn) = frame.velocity_to_frame(s, o.vx, o.vy);
        let hx = 0.5 * vehicle.length + projected_half_extent(o.length, o.width, o.heading, h);
        let hy = 0.5 * vehicle.width
            + projected_half_extent(o.length, o.width, o.heading, h + FRAC_PI_2)
            + cfg.aeb_lateral_margin;
        let (Some(mut lon), Some(lat)) = (inside_interval(s, vs - v, hx), inside_interval(n, vn, hy)) else {
            continue;
        };
        // An object ahead that brakes closes the gap sooner than its speed says, and the ego must
        // stop behind where it will stop.
        let (a_s, _) = frame.velocity_to_frame(s, o.ax, o.ay);
        let braking = (a_s < -BRAKING_OBJECT && vs > 0.0 && s > hx).then(|| {
            let (gap, b) = (s - hx, -a_s);
            let (closing, stop) = (v - vs, vs * vs / (2.0 * b));
            // The positive root of gap - closing t - b t² / 2 = 0, while it is still moving.
            let while_moving = (-closing + libm::sqrt(closing * closing + 2.0 * b * gap)) / b;
            let entry = if while_moving <= vs / b {
                while_moving
            } else if v > 0.0 {
                (gap + stop) / v
            } else {
                f64::INFINITY
            };
            lon = (entry, f64::INFINITY);
            v * v / (2.0 * (gap + stop))
        });
        let start = lon.0.max(lat.0).max(0.0);
        // A first sighting without a velocity is read as standing, which a car driving ahead at
        // the ego's speed is not: it counts only once the collision would be imminent even so.
        if o.tentative && start >= TENTATIVE_TTC_SHARE * cfg.aeb_ttc {
            continue;
        }
        // An ego already braking hard enough to stay clear of this object needs no AEB for it
        // (not for an object braking ahead: its entry above assumes the worse case).
        if start > lon.1.min(lat.1) {
            continue;
        }
        let resolved = start < cfg.aeb_ttc
            && ego_decel > 0.0
            && braking.is_none()
            && stopped_short(&frame, vehicle, cfg.aeb_lateral_margin, &o, v, ego_decel, cfg.aeb_ttc);
        if !resolved {
            best_braking = best_braking.min(start);
        }
        best = best.min(start);
        if start < cfg.aeb_ttc {
            // Closing on traffic ahead that moves our way: stopping the closing within the
            // bumper gap along the arc takes c² / 2g. A standing or crossing object (the ego
            // must stop, not settle behind it) or one already level with the ego (no gap)
            // calls for full braking.
            let (closing, gap) = (v - vs, s - hx);
            let decel = if gap > 0.0 && closing > 0.0 && vs > AEB_GRADED_MIN_SPEED_SHARE * v {
                (closing * closing / (2.0 * gap)).max(braking.unwrap_or(0.0))
            } else if gap > 0.0 && vs > AEB_GRADED_MIN_SPEED_SHARE * v {
                braking.unwrap_or(f64::INFINITY)
            } else {
                f64::INFINITY
            };
            required = required.max(decel);
        }
    }
    TtcAssessment { ttc: best, ttc_braking: best_braking, required_decel: required }
}

/// Time step at which [`stopped_short`] compares the braking ego with an object, seconds.
const STOP_SHORT_STEP: f64 = 0.05;
/// Longest stop [`stopped_short`] credits, seconds: braking that takes longer to stop the ego
/// does not resolve a conflict due within the AEB threshold.
const STOP_SHORT_MAX_TIME: f64 = 4.0;

/// Whether the ego, braking at `decel` (> 0) from `v` along its arc to a standstill, stays clear
/// of an object moving on at its velocity until `after` seconds past the standstill: boxes
/// compared in the world, with the ego's footprint as AEB sees it (`hx`/`hy` computed for the
/// ego's heading on the arc). A turn that is stopping short of oncoming traffic then needs no AEB:
/// along the arc, the oncoming car would seem to slide towards the ego on the arc's curve, in the
/// world it drives on. Braking that only delays the meeting is no resolution: the check runs
/// past the standstill, not to the threshold.
fn stopped_short(
    frame: &ArcFrame,
    vehicle: &VehicleParams,
    margin: f64,
    o: &Object,
    v: f64,
    decel: f64,
    after: f64,
) -> bool {
    let stop_time = v / decel;
    if stop_time > STOP_SHORT_MAX_TIME {
        return false;
    }
    let steps = libm::ceil((stop_time + after) / STOP_SHORT_STEP) as usize;
    (0..=steps).all(|k| {
        let t = k as f64 * STOP_SHORT_STEP;
        let te = t.min(stop_time);
        let (ex, ey, h) = frame.to_world(v * te - 0.5 * decel * te * te, 0.0);
        let (dx, dy) = (o.x + o.vx * t - ex, o.y + o.vy * t - ey);
        let (c, sn) = (libm::cos(h), libm::sin(h));
        let (lon, lat) = (c * dx + sn * dy, -sn * dx + c * dy);
        let hx = 0.5 * vehicle.length + projected_half_extent(o.length, o.width, o.heading, h);
        let hy = 0.5 * vehicle.width + projected_half_extent(o.length, o.width, o.heading, h + FRAC_PI_2) + margin;
        libm::fabs(lon) >= hx || libm::fabs(lat) >= hy
    })
}

/// Most time steps predictive braking looks at.
const PREDICTIVE_STEPS: usize = 64;

/// Whether the ego, continuing along `input.path` with acceleration `accel`, meets any predicted
/// trajectory of an object ahead within `predictive_ttc`.
fn predictive_conflict(
    cfg: &SafetyConfig,
    vehicle: &VehicleParams,
    ego: &EgoEstimate,
    accel: f64,
    input: &SafetyInput<'_>,
) -> bool {
    let path = input.path;
    if path.len() < 2 || input.predictions.is_empty() {
        return false;
    }
    let v = ego.speed.max(0.0);
    let (sh, ch) = (libm::sin(ego.heading), libm::cos(ego.heading));
    let stop_time = if accel < 0.0 { v / -accel } else { f64::INFINITY };
    // The ego's poses at the prediction time steps, computed once.
    let mut poses = [(0.0, OrientedBox { x: 0.0, y: 0.0, heading: 0.0, length: 0.0, width: 0.0 }); PREDICTIVE_STEPS];
    let mut n = 0;
    let longest = input.predictions.iter().map(|p| p.points.len()).max().unwrap_or(0).min(PREDICTIVE_STEPS);
    let reference = input.predictions.iter().find(|p| p.points.len() == longest).map_or(&[][..], |p| &p.points[..]);
    for pt in reference {
        if pt.t > cfg.predictive_ttc {
            break;
        }
        let t = pt.t.min(stop_time);
        let travelled = v * t + 0.5 * accel * t * t;
        let Some((x, y, heading)) = along(path, ego.x, ego.y, travelled.max(0.0)) else { return false };
        let length = vehicle.length + 2.0 * PREDICTIVE_MARGIN;
        let width = vehicle.width + 2.0 * cfg.aeb_lateral_margin;
        poses[n] = (pt.t, OrientedBox { x, y, heading, length, width });
        n += 1;
    }
    let ego_radius = 0.5
        * crate::geometry::norm(vehicle.length + 2.0 * PREDICTIVE_MARGIN, vehicle.width + 2.0 * cfg.aeb_lateral_margin);
    for p in input.predictions {
        let Some(first) = p.points.first() else { continue };
        // Only what is ahead now: being caught up from behind is not ours to brake for.
        if ch * (first.x - ego.x) + sh * (first.y - ego.y) <= 0.0 {
            continue;
        }
        let reach = ego_radius + 0.5 * crate::geometry::norm(p.length, p.width);
        for (pt, (_, ego_box)) in p.points.iter().zip(&poses[..n]) {
            if crate::geometry::norm(pt.x - ego_box.x, pt.y - ego_box.y) > reach {
                continue;
            }
            let object = OrientedBox { x: pt.x, y: pt.y, heading: pt.heading, length: p.length, width: p.width };
            if boxes_overlap(ego_box, &object) {
                return true;
            }
        }
    }
    false
}

/// The pose `dist` metres along the path from the projection of (x, y).
fn along(path: &[(f64, f64)], x: f64, y: f64, dist: f64) -> Option<(f64, f64, f64)> {
    let (tx, ty) = crate::control::lookahead_point(path, x, y, dist.max(1e-3))?;
    let (bx, by) = crate::control::lookahead_point(path, x, y, dist + 0.5)?;
    Some((tx, ty, libm::atan2(by - ty, bx - tx)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrackingConfig;
    use crate::interface::{MissionGoal, RoadMap};
    use crate::tracking::Tracker;

    fn mission() -> Mission {
        Mission {
            road: Some(RoadMap {
                lanes: 1,
                lane_width: 3.5,
                length: 500.0,
                curvature: 0.0,
                speed_limit: 15.0,
                line: Vec::new(),
                kind: None,
            }),
            area: None,
            goal: MissionGoal::RoadDistance { s: 400.0 },
            route: Vec::new(),
            start_lane: Some(0),
            set_speed: None,
            zones: Vec::new(),
            vehicle: VehicleParams {
                length: 4.5,
                width: 1.8,
                wheelbase: 2.8,
                max_accel: 3.0,
                max_decel: 8.0,
                max_steer: 0.5,
            },
            control_period: 0.05,
        }
    }

    fn evaluate(
        monitor: &mut SafetyMonitor,
        tick: u64,
        requested: ControlCommand,
        command: ControlCommand,
    ) -> SafetyOutput {
        let frame = SensorFrame {
            tick,
            time: tick as f64 * 0.05,
            ego: EgoEstimate { x: tick as f64 * 0.5, y: 1.75, speed: 10.0, ..Default::default() },
            lidar: None,
            detections: Some(Vec::new()),
            detections_age: 0.0,
            visibility: None,
            signals: Vec::new(),
        };
        monitor.evaluate(&SafetyInput {
            frame: &frame,
            ego: &frame.ego,
            obstacles: &[],
            associations: &[],
            tracks: &[],
            predictions: &[],
            path: &[],
            control: ControlOutput { command, requested },
        })
    }

    #[test]
    fn envelope_clamp_reports_only_requests_outside_the_envelope() {
        let mut m = SafetyMonitor::new(SafetyConfig::default(), &ControlConfig::default(), &mission());
        let inside = ControlCommand { accel: -7.9, steer: 0.0 };
        let out = evaluate(&mut m, 0, inside, inside);
        assert!(out.events.is_empty(), "{:?}", out.events);
        assert_eq!(out.command, inside);
        let out = evaluate(
            &mut m,
            1,
            ControlCommand { accel: -20.0, steer: 0.0 },
            ControlCommand { accel: -8.0, steer: 0.0 },
        );
        assert_eq!(out.events, vec![GuardrailEvent { reason: Reason::EnvelopeClamp, intervention: false }]);
        assert_eq!(out.mode, Mode::Nominal);
        // A command that escaped the controller's limits is still clamped, steering rate included.
        let wild = ControlCommand { accel: f64::NAN, steer: 3.0 };
        let out = evaluate(&mut m, 2, wild, wild);
        assert_eq!(out.command.accel, -8.0);
        let rate = ControlConfig::default().steer_rate_limit.to_radians() * 0.05;
        assert!((out.command.steer - rate).abs() < 1e-12, "{:?}", out.command);
    }

    fn closing_on(monitor: &mut SafetyMonitor, tick: u64, gap: f64, lead_speed: f64) -> SafetyOutput {
        car_ahead(monitor, tick, gap, lead_speed, 0.0, 0.0)
    }

    /// The ego at 10 m/s with a standing car `gap` metres ahead bumper to bumper, its measured
    /// acceleration and its controller's command as given.
    fn standing_ahead(gap: f64, measured: f64, commanded: f64) -> SafetyOutput {
        let mut monitor = SafetyMonitor::new(SafetyConfig::default(), &ControlConfig::default(), &mission());
        car_ahead(&mut monitor, 0, gap, 0.0, measured, commanded)
    }

    /// The ego at 10 m/s, accelerating at `measured` while its controller commands `commanded`;
    /// a car's centre `gap` metres beyond bumper to bumper (4.5 m cars), driving at `lead_speed`.
    fn car_ahead(
        monitor: &mut SafetyMonitor,
        tick: u64,
        gap: f64,
        lead_speed: f64,
        measured: f64,
        commanded: f64,
    ) -> SafetyOutput {
        let ego = EgoEstimate { x: 0.0, y: 1.75, speed: 10.0, accel: measured, ..Default::default() };
        let frame = SensorFrame {
            tick,
            time: tick as f64 * 0.05,
            ego,
            lidar: None,
            detections: Some(Vec::new()),
            detections_age: 0.0,
            visibility: None,
            signals: Vec::new(),
        };
        let obstacle = Obstacle {
            x: 4.5 + gap,
            y: 1.75,
            heading: 0.0,
            length: 4.5,
            width: 1.8,
            vx: lead_speed,
            vy: 0.0,
            velocity_known: true,
            class: crate::interface::ObjectClass::Car,
            confidence: 0.9,
            source: crate::perception::ObstacleSource::Fused,
        };
        let command = ControlCommand { accel: commanded, steer: 0.0 };
        monitor.evaluate(&SafetyInput {
            frame: &frame,
            ego: &frame.ego,
            obstacles: &[obstacle],
            associations: &[None],
            tracks: &[],
            predictions: &[],
            path: &[],
            control: ControlOutput { command, requested: command },
        })
    }

    #[test]
    fn aeb_does_not_engage_for_an_ego_already_stopping_short_of_the_object() {
        let engaged = |out: &SafetyOutput| out.events.iter().any(|e| e.reason == Reason::AebTtc);
        // 7 m ahead at 10 m/s: 0.7 s at constant speed, under the 1.5 s threshold.
        let coasting = standing_ahead(7.0, 0.0, 0.0);
        assert!(engaged(&coasting) && (coasting.min_ttc - 0.7).abs() < 1e-9, "{coasting:?}");
        // Braking at 8 m/s² stops it in 6.25 m: no AEB, though the reported TTC is still 0.7 s.
        let stopping = standing_ahead(7.0, -8.0, -8.0);
        assert!(!engaged(&stopping) && (stopping.min_ttc - 0.7).abs() < 1e-9, "{stopping:?}");
        // Braking at 6 m/s² does not (8.33 m): AEB engages.
        assert!(engaged(&standing_ahead(7.0, -6.0, -6.0)));
        // Braking is credited only when both the motion and the command show it.
        assert!(engaged(&standing_ahead(7.0, 0.0, -8.0)));
        assert!(engaged(&standing_ahead(7.0, -8.0, 0.0)));
    }

    #[test]
    fn a_turn_braking_to_a_stop_stays_clear_of_oncoming_traffic_driving_straight() {
        // The ego turns left on a 10 m radius; a car comes the other way along y = 5 at 8 m/s.
        let frame = ArcFrame { x: 0.0, y: 0.0, heading: 0.0, curvature: 0.1 };
        let vehicle = mission().vehicle;
        let car = Object {
            x: 15.0,
            y: 5.0,
            vx: -8.0,
            vy: 0.0,
            heading: core::f64::consts::PI,
            length: 4.5,
            width: 1.8,
            tentative: false,
            ax: 0.0,
            ay: 0.0,
        };
        // At 2.2 m/s braking at 1.35 m/s² it stops 1.79 m along the arc, nearly 5 m from the
        // car's line: clear.
        assert!(stopped_short(&frame, &vehicle, 0.2, &car, 2.2, 1.35, 1.5));
        // At 5 m/s it stops 9.3 m along the arc, at (8.0, 4.0) heading 53 degrees, with its nose
        // in the car's lane; a car 40 m off arrives 0.3 s after the standstill, 4 s from now (far
        // beyond the 1.5 s threshold): the braking only delays the meeting.
        let later = Object { x: 40.0, ..car };
        assert!(!stopped_short(&frame, &vehicle, 0.2, &later, 5.0, 1.35, 1.5));
        assert!(stopped_short(&frame, &vehicle, 0.2, &later, 2.2, 1.35, 1.5));
        // Braking that takes longer than 4 s to stop the ego (8 m/s at 1.35 m/s²: 5.9 s) is
        // not credited, whatever it meets.
        let gone = Object { x: -100.0, ..car };
        assert!(!stopped_short(&frame, &vehicle, 0.2, &gone, 8.0, 1.35, 1.5));
        // A car standing 7 m ahead bumper to bumper (4.5 m cars, centres 11.5 m apart): from
        // 10 m/s, braking at 8 m/s² stops within 6.25 m, at 6 m/s² only in 8.33 m.
        let straight = ArcFrame { x: 0.0, y: 0.0, heading: 0.0, curvature: 0.0 };
        let standing = Object { x: 11.5, y: 0.0, vx: 0.0, heading: 0.0, ..car };
        assert!(stopped_short(&straight, &vehicle, 0.2, &standing, 10.0, 8.0, 1.5));
        assert!(!stopped_short(&straight, &vehicle, 0.2, &standing, 10.0, 6.0, 1.5));
    }

    #[test]
    fn aeb_grades_its_braking_to_what_closing_on_traffic_requires() {
        // Closing at 2 m/s with 2 m left (TTC 1 s): stopping the closing takes 1 m/s², AEB aims for
        // 2 m/s² and builds it up at the comfort jerk.
        let mut m = SafetyMonitor::new(SafetyConfig::default(), &ControlConfig::default(), &mission());
        let out = closing_on(&mut m, 0, 2.0, 8.0);
        assert_eq!(out.mode, Mode::Fallback);
        let step = ControlConfig::default().jerk_limit * 0.05;
        assert!((out.command.accel + step).abs() < 1e-9, "{:?}", out.command);
        let out = closing_on(&mut m, 1, 1.9, 8.0);
        assert!((out.command.accel + 2.0 * step).abs() < 1e-9, "{:?}", out.command);
        // A standing object at the same TTC: full braking at once.
        let mut m = SafetyMonitor::new(SafetyConfig::default(), &ControlConfig::default(), &mission());
        let out = closing_on(&mut m, 0, 10.0, 0.0);
        assert_eq!(out.command.accel, -8.0);
        // Closing at 6 m/s on a slow car 6 m ahead (3 m/s² needed, 6 aimed for): full braking at once.
        let mut m = SafetyMonitor::new(SafetyConfig::default(), &ControlConfig::default(), &mission());
        let out = closing_on(&mut m, 0, 6.0, 4.0);
        assert_eq!(out.command.accel, -8.0);
    }

    /// AEB's command for a car-sized object standing 10 m ahead of the ego at 10 m/s (TTC 1 s),
    /// reported by `source`, after `frames` tracker updates with it.
    fn brake_for_standing(source: ObstacleSource, config: TrackingConfig, frames: usize) -> f64 {
        let ego = EgoEstimate { x: 0.0, y: 1.75, speed: 10.0, ..Default::default() };
        let obstacle = Obstacle {
            x: 14.5,
            y: 1.75,
            heading: 0.0,
            length: 4.5,
            width: 1.8,
            vx: 0.0,
            vy: 0.0,
            velocity_known: source != ObstacleSource::Lidar,
            class: crate::interface::ObjectClass::Car,
            confidence: 0.9,
            source,
        };
        let mut tracker = Tracker::new(config);
        let mut monitor = SafetyMonitor::new(SafetyConfig::default(), &ControlConfig::default(), &mission());
        let mut accel = 0.0;
        for tick in 0..frames as u64 {
            let frame = SensorFrame {
                tick,
                time: tick as f64 * 0.04,
                ego,
                lidar: None,
                detections: Some(Vec::new()),
                detections_age: 0.0,
                visibility: None,
                signals: Vec::new(),
            };
            tracker.update(frame.time, &[obstacle], true);
            let cruise = ControlCommand { accel: 0.0, steer: 0.0 };
            let out = monitor.evaluate(&SafetyInput {
                frame: &frame,
                ego: &frame.ego,
                obstacles: &[obstacle],
                associations: tracker.associations(),
                tracks: tracker.tracks(),
                predictions: &[],
                path: &[],
                control: ControlOutput { command: cruise, requested: cruise },
            });
            accel = out.command.accel;
        }
        accel
    }

    #[test]
    fn aeb_ignores_an_unconfirmed_detection_the_lidar_does_not_support() {
        let config = TrackingConfig::default();
        // One or two camera frames of an object no lidar return supports (a ghost, or a real car
        // not yet confirmed): no braking.
        assert_eq!(brake_for_standing(ObstacleSource::Detector, config.clone(), 1), 0.0);
        assert_eq!(brake_for_standing(ObstacleSource::Detector, config.clone(), 2), 0.0);
        // Once its track is confirmed (third frame), AEB brakes for it like for anything else.
        assert_eq!(brake_for_standing(ObstacleSource::Detector, config.clone(), 3), -8.0);
        // What the lidar measured brakes before its track is confirmed: a cluster of returns is
        // geometry (a bare cluster's second sighting, when it has a velocity; a fused one at once).
        assert_eq!(brake_for_standing(ObstacleSource::Lidar, config.clone(), 2), -8.0);
        assert_eq!(brake_for_standing(ObstacleSource::Fused, config, 1), -8.0);
    }

    #[test]
    fn ttc_intervals_are_bumper_to_bumper() {
        // 20 m centre to centre, closing at 10 m/s, half lengths 2.25 + 2.25: TTC (20 - 4.5) / 10.
        let lon = inside_interval(20.0, -10.0, 4.5).unwrap();
        assert!((lon.0 - 1.55).abs() < 1e-12 && (lon.1 - 2.45).abs() < 1e-12);
        // Not closing and apart: never.
        let lon = inside_interval(20.0, 0.0, 4.5);
        assert!(lon.is_none());
        // A crossing object: inside the corridor between 1 s and 3 s.
        let lat = inside_interval(-4.0, 2.0, 2.0).unwrap();
        assert!((lat.0 - 1.0).abs() < 1e-12 && (lat.1 - 3.0).abs() < 1e-12);
    }
}
