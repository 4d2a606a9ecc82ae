//! The stack: wires perception, tracking, prediction, planning, control and the safety monitor into
//! one deterministic [`Stack::step`] per control tick, delays planner decisions by the configured
//! reaction time (in ticks), and measures per-module latency with the injected [`Clock`].

use std::collections::VecDeque;

use crate::config::{ConfigError, StackConfig};
use crate::control::Controller;
use crate::geometry::{LineFrame, RoadGeometry};
use crate::interface::{
    Clock, Detection, DriverRequest, EgoEstimate, Mission, MissionGoal, Module, ModuleTimings, SensorFrame,
    StackOutput, Telemetry,
};
use crate::perception::{Perception, Roi};
use crate::planning::{Behaviour, Plan, PlanInput, Planner};
use crate::prediction::Predictor;
use crate::safety::{SafetyInput, SafetyMonitor};
use crate::tracking::Tracker;

/// Why a stack could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StackError {
    /// The configuration has out-of-range values.
    #[error("invalid stack configuration: {}", list(.0))]
    InvalidConfig(Vec<ConfigError>),
    /// The mission cannot be driven.
    #[error("invalid mission: `{field}`: {message}")]
    InvalidMission {
        /// The offending field, e.g. `vehicle.max_decel`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

fn list(errors: &[ConfigError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// What the last tick decided, for tests and debugging (not part of the telemetry contract).
#[derive(Debug, Clone, PartialEq)]
pub struct TickDebug {
    /// The behaviour of the plan being executed (after the reaction delay).
    pub behaviour: Behaviour,
    /// The smallest time-to-collision the safety monitor saw, seconds.
    pub min_ttc: f64,
    /// Fused obstacles this tick.
    pub obstacles: usize,
    /// The executed plan's feed-forward acceleration, m/s².
    pub plan_accel: f64,
    /// The controller's (limited) acceleration before the safety monitor, m/s².
    pub control_accel: f64,
}

/// The autonomy stack under test.
#[derive(Debug, Clone)]
pub struct Stack {
    config: StackConfig,
    mission: Mission,
    road: Option<RoadGeometry>,
    perception: Perception,
    tracker: Tracker,
    predictor: Predictor,
    planner: Planner,
    controller: Controller,
    safety: SafetyMonitor,
    delay: VecDeque<Plan>,
    delay_ticks: usize,
    last_ego: EgoEstimate,
    /// The filtered speed and the time of the frame it belongs to.
    speed_filter: Option<(f64, f64)>,
    /// The pose filter's last estimate and its time.
    pose_filter: Option<(EgoEstimate, f64)>,
    /// This tick's detections moved on to the frame's time (scratch, reused).
    detections: Vec<crate::interface::Detection>,
    debug: TickDebug,
    /// The clock's preemption count when the previous tick's measurement ended.
    preemptions: Option<u64>,
    /// The thread's CPU clock when the previous tick's measurement ended.
    exposed_since: Option<u64>,
}

/// Weight of a new speed measurement in the speed filter, per frame. The filter predicts the speed
/// with the measured acceleration and blends in the measured (odometry) speed: a Kalman filter
/// whose steady-state gain is about `sigma_a dt / sigma_v` for an acceleration good to `sigma_a`
/// and a speed measurement good to `sigma_v`. With 0.05 m/s of speed noise per frame (the farm's
/// localisation model) and an acceleration good to about 0.0125 m/s² at 25 Hz that is 0.01: a
/// time constant of 4 s, leaving about 0.0035 m/s of estimate noise. The 0.2 used before left
/// 0.017 m/s, 6 % of a 0.285 m/s warehouse target, which the speed loop turned into a -28 % / +10 %
/// wobble. Real changes of speed are carried by the acceleration, so the estimate does not lag
/// them; an accelerometer bias would (0.01 m/s² is 0.04 m/s after 4 s), which this stack, fed the
/// simulator's exact acceleration, does not estimate yet.
const SPEED_MEASUREMENT_WEIGHT: f64 = 0.01;
/// An innovation (measured minus predicted speed) beyond this is not odometry noise (four standard
/// deviations of 0.05 m/s: once in about 16,000 frames), m/s.
const SPEED_INNOVATION_GATE: f64 = 0.2;
/// Weight of the measured speed when the innovation is beyond the gate (a frame without its
/// acceleration, e.g. from another simulator): the estimate follows the measurements within a few
/// frames, as the filter did before ADR 0022.
const SPEED_RECOVERY_WEIGHT: f64 = 0.2;

/// Weight of a new position and heading fix in the pose filter (per frame; at 20 Hz a time
/// constant of about half a second). Between fixes the pose is carried by odometry (the filtered
/// speed and the measured yaw rate), so the filter does not lag a turning robot; it takes white fix
/// noise down to about a quarter (0.5 m of localisation noise steered a robot into a rack end).
const POSE_MEASUREMENT_WEIGHT: f64 = 0.1;
/// A fix this far from the odometry's prediction is a relocalisation, taken as it is, metres.
const POSE_RESET: f64 = 2.0;

/// Detections older than this are moved on by this much at most, seconds (an implausible age is
/// a clock fault, not a reason to throw an object far ahead).
const MAX_DETECTION_AGE: f64 = 1.0;

impl Stack {
    /// Builds a stack; rejects a configuration that does not validate or an unusable mission.
    pub fn new(config: StackConfig, mission: Mission) -> Result<Stack, StackError> {
        let errors = config.validate();
        if !errors.is_empty() {
            return Err(StackError::InvalidConfig(errors));
        }
        check_mission(&mission)?;
        let delay_ticks = libm::round(config.planning.reaction_time / mission.control_period) as usize;
        Ok(Stack {
            perception: Perception::new(config.perception.clone()),
            tracker: Tracker::new(config.tracking.clone()),
            predictor: Predictor::new(config.prediction.clone(), config.tracking.motion_model),
            planner: Planner::new(&mission),
            controller: Controller::new(config.control.clone(), mission.vehicle, mission.control_period),
            safety: SafetyMonitor::new(config.safety.clone(), &config.control, &mission),
            road: mission.road.clone().map(RoadGeometry::new),
            delay: VecDeque::with_capacity(delay_ticks + 1),
            delay_ticks,
            last_ego: EgoEstimate::default(),
            speed_filter: None,
            pose_filter: None,
            detections: Vec::new(),
            debug: TickDebug {
                behaviour: Behaviour::KeepLane,
                min_ttc: f64::INFINITY,
                obstacles: 0,
                plan_accel: 0.0,
                control_accel: 0.0,
            },
            preemptions: None,
            exposed_since: None,
            config,
            mission,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// The mission being driven.
    pub fn mission(&self) -> &Mission {
        &self.mission
    }

    /// What the last tick decided.
    pub fn debug(&self) -> &TickDebug {
        &self.debug
    }

    /// Perception (for inspection): the last tick's fused obstacles.
    pub fn perception(&self) -> &Perception {
        &self.perception
    }

    /// The tracker (for inspection).
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// One control tick: sensors in, command and telemetry out. `clock` is read only to measure
    /// module latency; nothing the stack decides depends on it.
    pub fn step(&mut self, frame: &SensorFrame, clock: &mut dyn Clock) -> StackOutput {
        self.step_driven(frame, None, clock)
    }

    /// [`Stack::step`] with a test driver's longitudinal request in place of the planner's (see
    /// [`DriverRequest`]); the safety monitor judges and may override the driver's command.
    pub fn step_driven(
        &mut self,
        frame: &SensorFrame,
        driver: Option<DriverRequest>,
        clock: &mut dyn Clock,
    ) -> StackOutput {
        let mut timings = ModuleTimings::default();
        if self.preemptions.is_none() {
            self.preemptions = Some(clock.preemptions());
        }
        let t0 = stamp(clock);
        let mut ego = if ego_usable(&frame.ego) { frame.ego } else { self.last_ego };
        self.last_ego = ego;
        ego.speed = self.filter_speed(frame.time, &ego);
        ego = self.filter_pose(frame.time, ego);

        let margin = self.config.perception.roi_margin;
        let roi = match (&self.road, &self.mission.area) {
            (Some(road), _) if matches!(road.frame, LineFrame::Polyline(_)) => {
                Roi::RoadNetwork(road, margin, self.planner.ego_s(), &frame.signals, (ego.x, ego.y))
            }
            (Some(road), _) if !frame.signals.is_empty() => {
                Roi::RoadWithJunctions(road, margin, self.planner.ego_s(), &frame.signals)
            }
            (Some(road), _) => Roi::Road(road, margin, self.planner.ego_s()),
            (None, Some(area)) => Roi::Area(area, margin),
            (None, None) => Roi::Everywhere,
        };
        let detections = frame.detections.as_deref().map(|list| {
            // Where each detected object is now, not where the camera saw it `age` ago (at 25 m/s a
            // 0.1 s old position is 2.5 m behind the lidar's scan of the same car).
            let age =
                if frame.detections_age.is_finite() { frame.detections_age.clamp(0.0, MAX_DETECTION_AGE) } else { 0.0 };
            self.detections.clear();
            self.detections.extend(list.iter().map(|d| Detection { x: d.x + d.vx * age, y: d.y + d.vy * age, ..*d }));
            &self.detections[..]
        });
        self.perception.process(&ego, frame.lidar.as_ref(), detections, roi);
        let t1 = stamp(clock);

        let measured = frame.lidar.is_some() || frame.detections.is_some();
        self.tracker.update(frame.time, self.perception.obstacles(), measured);
        let t2 = stamp(clock);

        self.predictor.predict(self.tracker.confirmed(), self.road.as_ref(), self.planner.ego_s(), frame.time);
        let t3 = stamp(clock);

        let input = PlanInput {
            config: &self.config.planning,
            vehicle: &self.mission.vehicle,
            ego: &ego,
            goal: self.mission.goal,
            predictions: self.predictor.predictions(),
            tracks: self.tracker.tracks(),
            prediction_step: self.config.prediction.step,
            period: self.mission.control_period,
            speed_cap: self.safety.speed_cap().min(self.mission.set_speed.unwrap_or(f64::INFINITY)).min(
                crate::zones::speed_cap(
                    &self.mission.zones,
                    ego.x,
                    ego.y,
                    self.road.as_ref().map(|_| self.planner.ego_s()),
                    0.5 * self.mission.vehicle.length,
                ),
            ),
            tick: frame.tick,
            // Implausible values are ignored here and raised as a fault by the safety monitor.
            visibility: frame.visibility.filter(|v| v.is_finite() && *v > 0.0).unwrap_or(f64::INFINITY),
            signals: &frame.signals,
        };
        let fresh = self.planner.plan(&input);
        // Reaction time: the controller acts on the decision taken `delay_ticks` ticks ago.
        self.delay.push_back(fresh);
        while self.delay.len() > self.delay_ticks + 1 {
            self.delay.pop_front();
        }
        let t4 = stamp(clock);

        // Never empty: the plan of this tick was pushed just above.
        let plan = &self.delay[0];
        let mut control = self.controller.step(&ego, plan);
        if let Some(d) = driver {
            control.command.accel = d.accel;
            control.requested.accel = d.accel;
            if let Some(steer) = d.steer {
                control.command.steer = steer;
                control.requested.steer = steer;
            }
        }
        let t5 = stamp(clock);

        let verdict = self.safety.evaluate(&SafetyInput {
            frame,
            ego: &ego,
            obstacles: self.perception.obstacles(),
            associations: self.tracker.associations(),
            tracks: self.tracker.tracks(),
            predictions: self.predictor.predictions(),
            path: &plan.path,
            control,
        });
        self.controller.actuated(verdict.command);
        let t6 = stamp(clock);

        let spans = [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6)];
        for (i, (a, b)) in spans.into_iter().enumerate() {
            timings.nanos[i] = b.0.saturating_sub(a.0);
            timings.cpu_nanos[i] = b.1.saturating_sub(a.1);
        }
        let preemptions = clock.preemptions();
        let switched = self.preemptions.map_or(0, |before| preemptions.saturating_sub(before));
        timings.preemptions = u32::try_from(switched).unwrap_or(u32::MAX);
        timings.exposed_cpu_nanos = t6.1.saturating_sub(self.exposed_since.unwrap_or(t0.1));
        self.preemptions = Some(preemptions);
        self.exposed_since = Some(t6.1);
        let budget_ns = self.config.planning.compute_budget_us.saturating_mul(1000);
        self.debug = TickDebug {
            behaviour: plan.behaviour,
            min_ttc: verdict.min_ttc,
            obstacles: self.perception.obstacles().len(),
            plan_accel: plan.accel,
            control_accel: control.command.accel,
        };
        StackOutput {
            command: verdict.command,
            telemetry: Telemetry {
                mode: verdict.mode,
                events: verdict.events,
                timings,
                deadline_miss: timings.cpu(Module::Planning) > budget_ns,
                tracks: self.tracker.confirmed().count() as u32,
            },
        }
    }
}

/// Wall and thread-CPU nanoseconds, read together.
fn stamp(clock: &mut dyn Clock) -> (u64, u64) {
    (clock.now_ns(), clock.thread_cpu_ns())
}

impl Stack {
    /// Predicts the last speed estimate with the measured acceleration and blends in the measured
    /// speed; restarts from the measurement when time does not advance plausibly.
    /// The pose predicted by odometry from the last estimate, corrected towards the new fix.
    fn filter_pose(&mut self, time: f64, ego: EgoEstimate) -> EgoEstimate {
        let estimate = match self.pose_filter {
            Some((p, t)) if time > t && time - t <= 4.0 * self.mission.control_period && time.is_finite() => {
                let dt = time - t;
                let heading = p.heading + ego.yaw_rate * dt;
                let mid = p.heading + 0.5 * ego.yaw_rate * dt;
                let travel = 0.5 * (p.speed + ego.speed) * dt;
                let (x, y) = (p.x + travel * libm::cos(mid), p.y + travel * libm::sin(mid));
                if crate::geometry::norm(ego.x - x, ego.y - y) > POSE_RESET {
                    ego
                } else {
                    let w = POSE_MEASUREMENT_WEIGHT;
                    EgoEstimate {
                        x: x + w * (ego.x - x),
                        y: y + w * (ego.y - y),
                        heading: crate::geometry::wrap_angle(
                            heading + w * crate::geometry::wrap_angle(ego.heading - heading),
                        ),
                        ..ego
                    }
                }
            }
            Some((p, t)) if time == t => p,
            _ => ego,
        };
        self.pose_filter = time.is_finite().then_some((estimate, time));
        estimate
    }

    fn filter_speed(&mut self, time: f64, ego: &EgoEstimate) -> f64 {
        let estimate = match self.speed_filter {
            Some((v, t)) if time > t && time - t <= 4.0 * self.mission.control_period && time.is_finite() => {
                let predicted = (v + ego.accel * (time - t)).max(0.0);
                let innovation = ego.speed - predicted;
                // Four standard deviations of odometry noise are not noise: the prediction has
                // lost the speed (an acceleration the frame did not report), and the measurement
                // takes over at the old, fast weight.
                let weight = if libm::fabs(innovation) > SPEED_INNOVATION_GATE {
                    SPEED_RECOVERY_WEIGHT
                } else {
                    SPEED_MEASUREMENT_WEIGHT
                };
                predicted + weight * innovation
            }
            Some((v, t)) if time == t => v,
            _ => ego.speed,
        };
        self.speed_filter = time.is_finite().then_some((estimate, time));
        estimate
    }
}

fn ego_usable(e: &EgoEstimate) -> bool {
    [e.x, e.y, e.heading, e.speed, e.accel, e.yaw_rate].iter().all(|v| v.is_finite())
}

fn check_mission(m: &Mission) -> Result<(), StackError> {
    let bad = |field: &'static str, v: f64| StackError::InvalidMission {
        field,
        message: format!("{v} must be positive and finite"),
    };
    let positive = |field: &'static str, v: f64| if v.is_finite() && v > 0.0 { Ok(()) } else { Err(bad(field, v)) };
    positive("control_period", m.control_period)?;
    if let Some(v) = m.set_speed {
        positive("set_speed", v)?;
    }
    let v = &m.vehicle;
    positive("vehicle.length", v.length)?;
    positive("vehicle.width", v.width)?;
    positive("vehicle.wheelbase", v.wheelbase)?;
    positive("vehicle.max_accel", v.max_accel)?;
    positive("vehicle.max_decel", v.max_decel)?;
    positive("vehicle.max_steer", v.max_steer)?;
    if let Some(r) = &m.road {
        if r.lanes == 0 {
            return Err(StackError::InvalidMission {
                field: "road.lanes",
                message: "a road needs at least one lane".into(),
            });
        }
        positive("road.lane_width", r.lane_width)?;
        positive("road.length", r.length)?;
        positive("road.speed_limit", r.speed_limit)?;
        if !r.curvature.is_finite() {
            return Err(bad("road.curvature", r.curvature));
        }
        if !r.line.is_empty() && crate::geometry::Polyline::new(r.line.clone()).is_none() {
            return Err(StackError::InvalidMission {
                field: "road.line",
                message: "a reference line needs two or more finite samples with increasing s".into(),
            });
        }
    }
    if let Some(a) = &m.area {
        if !(a.min_x < a.max_x && a.min_y < a.max_y) {
            return Err(StackError::InvalidMission { field: "area", message: "bounds are empty".into() });
        }
        positive("area.speed_limit", a.speed_limit)?;
    }
    for z in &m.zones {
        positive("zones.speed_limit", z.speed_limit)?;
        let ordered = match z.region {
            crate::interface::ZoneRegion::Road { from_s, to_s } => from_s.is_finite() && from_s < to_s,
            crate::interface::ZoneRegion::Rect { min_x, min_y, max_x, max_y } => min_x < max_x && min_y < max_y,
        };
        if !ordered {
            return Err(StackError::InvalidMission { field: "zones", message: "a zone is empty".into() });
        }
    }
    let finite = match m.goal {
        MissionGoal::RoadDistance { s } => s.is_finite(),
        MissionGoal::Point { x, y, tolerance } => x.is_finite() && y.is_finite() && tolerance >= 0.0,
        MissionGoal::Region { min_x, min_y, max_x, max_y } => min_x <= max_x && min_y <= max_y,
    };
    if !finite {
        return Err(StackError::InvalidMission {
            field: "goal",
            message: "goal is not a finite, non-empty target".into(),
        });
    }
    Ok(())
}
