//! Stop lines: when the road planner must stop at a traffic light, a stop sign or a yield sign,
//! and when it may go (ADR 0027). The decision is a virtual wall at the line, a [`Constraint`] the
//! IDM speed profile brakes for like any standing leader.
//!
//! - Red: stop, unless the line is too close to stop before it even at the vehicle's limit.
//! - Amber: decided once, when first seen: stop if that takes no more than the comfortable
//!   deceleration (`idm_decel`), else go through.
//! - Stop sign: stop (standing, front within [`STOPPED_WITHIN`] of the line), then treat it as a
//!   yield.
//! - Yield (and a stop sign after stopping): go only when no crossing or oncoming vehicle is
//!   predicted in the junction's conflict zone within the gap window (gap acceptance).
//!
//! The camera may miss a light in a frame: the last state seen is kept. A light never seen does
//! not stop the ego.

use super::behaviour::Constraint;
use crate::interface::{LightState, SignalObservation, StopLineKind};

/// Below this speed the ego stands at a stop sign, m/s (a full stop, not a rolling one).
const STANDING: f64 = 0.05;
/// The ego's front must stand within this distance before a stop sign's line to have stopped
/// there, metres.
pub const STOPPED_WITHIN: f64 = 4.0;
/// Gap the wall keeps between the ego's front and the line, metres.
const LINE_GAP: f64 = 1.0;
/// Longest gap window the planner accepts before entering a junction, seconds: no vehicle with
/// priority may be predicted in the conflict zone within this time (nor within the planning
/// horizon, if that is shorter).
pub const GAP_WINDOW: f64 = 4.0;
/// Share of the vehicle's maximum deceleration the ego may use to stop for a red light that turns
/// up late.
const RED_BRAKING_SHARE: f64 = 0.8;

/// What the planner remembers about one stop line.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Memory {
    id: u32,
    /// The light's last state the camera reported.
    light: Option<LightState>,
    /// On amber: whether the ego decided to go through.
    amber_go: Option<bool>,
    /// At a stop sign: whether the ego has stood at the line.
    stopped: bool,
    /// The ego's front has crossed the line: it is committed.
    passed: bool,
}

/// The ego's position for the stop-line decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineEgo {
    /// Along-road position of the ego's front, metres.
    pub front: f64,
    /// Speed, m/s.
    pub speed: f64,
    /// Comfortable deceleration, m/s².
    pub comfort_decel: f64,
    /// Maximum deceleration, m/s².
    pub max_decel: f64,
}

/// The stop-line state of one run.
#[derive(Debug, Clone, Default)]
pub struct Junctions {
    memory: Vec<Memory>,
}

impl Junctions {
    /// Reads this frame's observations and returns the wall at the nearest line the ego must stop
    /// at, if any. `conflict(line_s, zone)` says whether a vehicle with priority is predicted in
    /// the conflict zone `[line_s, line_s + zone]` of the ego's lane within the gap window.
    pub fn wall(
        &mut self,
        signals: &[SignalObservation],
        ego: LineEgo,
        mut conflict: impl FnMut(f64, f64) -> bool,
    ) -> Option<Constraint> {
        let mut nearest: Option<Constraint> = None;
        for o in signals {
            let m = match self.memory.iter().position(|m| m.id == o.id) {
                Some(i) => &mut self.memory[i],
                None => {
                    self.memory.push(Memory { id: o.id, light: None, amber_go: None, stopped: false, passed: false });
                    let last = self.memory.len() - 1;
                    &mut self.memory[last]
                }
            };
            let dist = o.s - ego.front;
            if dist < 0.0 {
                m.passed = true;
            }
            if let Some(state) = o.state {
                if state != LightState::Amber {
                    m.amber_go = None;
                }
                m.light = Some(state);
            }
            if m.passed {
                continue;
            }
            let room = (dist - LINE_GAP).max(0.01);
            let needed = ego.speed * ego.speed / (2.0 * room);
            let stop = match o.kind {
                StopLineKind::TrafficLight => match m.light {
                    Some(LightState::Red) => needed <= RED_BRAKING_SHARE * ego.max_decel || ego.speed < STANDING,
                    Some(LightState::Amber) => {
                        !*m.amber_go.get_or_insert(needed > ego.comfort_decel && ego.speed >= STANDING)
                    }
                    Some(LightState::Green) | None => false,
                },
                StopLineKind::Stop => {
                    if !m.stopped && ego.speed < STANDING && dist <= STOPPED_WITHIN {
                        m.stopped = true;
                    }
                    !m.stopped || conflict(o.s, o.zone)
                }
                StopLineKind::Yield => conflict(o.s, o.zone),
            };
            if stop && nearest.is_none_or(|w| o.s < w.rear) {
                nearest = Some(Constraint { rear: o.s, speed: 0.0, min_gap: LINE_GAP, track: None, crossing: false });
            }
        }
        nearest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: StopLineKind, s: f64, state: Option<LightState>) -> SignalObservation {
        SignalObservation { id: 7, kind, s, zone: 15.0, state }
    }

    fn ego(front: f64, speed: f64) -> LineEgo {
        LineEgo { front, speed, comfort_decel: 3.0, max_decel: 8.0 }
    }

    #[test]
    fn red_stops_green_goes_and_a_light_never_seen_does_not_stop() {
        let mut j = Junctions::default();
        let red = [line(StopLineKind::TrafficLight, 50.0, Some(LightState::Red))];
        assert_eq!(j.wall(&red, ego(0.0, 10.0), |_, _| false).map(|w| w.rear), Some(50.0));
        // A missed frame keeps the last state seen.
        let missed = [line(StopLineKind::TrafficLight, 50.0, None)];
        assert!(j.wall(&missed, ego(10.0, 8.0), |_, _| false).is_some());
        let green = [line(StopLineKind::TrafficLight, 50.0, Some(LightState::Green))];
        assert!(j.wall(&green, ego(20.0, 5.0), |_, _| false).is_none());
        let mut fresh = Junctions::default();
        assert!(fresh.wall(&missed, ego(0.0, 10.0), |_, _| false).is_none());
    }

    #[test]
    fn amber_stops_when_comfortable_and_goes_through_when_too_close_and_keeps_its_decision() {
        let amber = |s| [line(StopLineKind::TrafficLight, s, Some(LightState::Amber))];
        // 10 m/s, 40 m away: 100 / 78 = 1.3 m/s², comfortable.
        assert!(Junctions::default().wall(&amber(40.0), ego(0.0, 10.0), |_, _| false).is_some());
        // 10 m/s, 10 m away: 100 / 18 = 5.6 m/s², not comfortable: go, and keep going.
        let mut j = Junctions::default();
        assert!(j.wall(&amber(10.0), ego(0.0, 10.0), |_, _| false).is_none());
        assert!(j.wall(&amber(10.0), ego(2.0, 10.0), |_, _| false).is_none());
        // Past the line it stays committed even when the light turns red.
        let red = [line(StopLineKind::TrafficLight, 10.0, Some(LightState::Red))];
        assert!(j.wall(&red, ego(10.5, 10.0), |_, _| false).is_none());
    }

    #[test]
    fn a_stop_sign_holds_until_the_ego_has_stood_at_the_line_then_yields() {
        let stop = [line(StopLineKind::Stop, 30.0, None)];
        let mut j = Junctions::default();
        assert!(j.wall(&stop, ego(0.0, 8.0), |_, _| false).is_some(), "approaching: stop");
        assert!(j.wall(&stop, ego(10.0, 0.0), |_, _| false).is_some(), "stood too far back");
        assert!(j.wall(&stop, ego(27.5, 0.0), |_, _| true).is_some(), "stood, but traffic is coming");
        assert!(j.wall(&stop, ego(27.5, 0.0), |_, _| false).is_none(), "stood and the gap is clear");
    }

    #[test]
    fn a_yield_sign_stops_only_for_traffic_in_the_conflict_zone() {
        let give_way = [line(StopLineKind::Yield, 30.0, None)];
        let mut asked = None;
        assert!(Junctions::default()
            .wall(&give_way, ego(0.0, 8.0), |s, zone| {
                asked = Some((s, zone));
                false
            })
            .is_none());
        assert_eq!(asked, Some((30.0, 15.0)));
        assert!(Junctions::default().wall(&give_way, ego(0.0, 8.0), |_, _| true).is_some());
    }
}
