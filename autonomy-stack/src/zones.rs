//! Speed zones: the map's parts with their own speed limit. The planner is never asked to be
//! faster than a zone allows at the ego's front bumper, and slows before a zone ahead at a gentle
//! deceleration, so that it enters at the zone's limit.

use crate::interface::{SpeedZone, ZoneRegion};

/// Deceleration with which the ego slows for a zone ahead, m/s² (gentle, below any vehicle's
/// braking and the IDM's comfortable deceleration).
pub const ZONE_DECEL: f64 = 1.0;
/// The ego plans to be down to a zone's limit this long (at that limit) before it enters, s: the
/// speed follows the plan with a lag, and the limit holds from the first centimetre.
pub const ZONE_LEAD: f64 = 1.5;

/// The highest speed the zones allow now: the ego's centre at (`x`, `y`), `s` along the road (when
/// there is one), `half_length` to its front bumper.
pub fn speed_cap(zones: &[SpeedZone], x: f64, y: f64, s: Option<f64>, half_length: f64) -> f64 {
    zones
        .iter()
        .filter_map(|z| {
            let ahead = match z.region {
                ZoneRegion::Road { from_s, to_s } => {
                    let s = s?;
                    if s - half_length > to_s {
                        return None;
                    }
                    (from_s - (s + half_length)).max(0.0)
                }
                ZoneRegion::Rect { min_x, min_y, max_x, max_y } => {
                    let dx = (min_x - x).max(x - max_x).max(0.0);
                    let dy = (min_y - y).max(y - max_y).max(0.0);
                    (libm::hypot(dx, dy) - half_length).max(0.0)
                }
            };
            let ahead = (ahead - ZONE_LEAD * z.speed_limit).max(0.0);
            Some(libm::sqrt(z.speed_limit * z.speed_limit + 2.0 * ZONE_DECEL * ahead))
        })
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_ahead_caps_the_speed_so_that_the_ego_enters_at_its_limit() {
        let road = [SpeedZone { region: ZoneRegion::Road { from_s: 100.0, to_s: 150.0 }, speed_limit: 2.0 }];
        // 48 m before the zone (front bumper at 52 m), 3 m of lead: sqrt(4 + 2 * 45) = 9.70 m/s.
        assert!((speed_cap(&road, 0.0, 0.0, Some(50.0), 2.0) - libm::sqrt(94.0)).abs() < 1e-9);
        assert_eq!(speed_cap(&road, 0.0, 0.0, Some(120.0), 2.0), 2.0);
        assert_eq!(speed_cap(&road, 0.0, 0.0, Some(153.0), 2.0), f64::INFINITY, "left behind");
        let dock = [SpeedZone {
            region: ZoneRegion::Rect { min_x: 10.0, min_y: 0.0, max_x: 20.0, max_y: 5.0 },
            speed_limit: 0.5,
        }];
        // 8 m away, 0.5 m half length, 0.75 m of lead: sqrt(0.25 + 13.5) = 3.708 m/s.
        assert!((speed_cap(&dock, 2.0, 2.0, None, 0.5) - libm::sqrt(13.75)).abs() < 1e-9);
    }
}
