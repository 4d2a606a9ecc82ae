//! Reactive traffic: actors that drive by the Intelligent Driver Model (IDM) and change lanes by
//! MOBIL, reacting to the ego and to every other body on the road, and the placement of a
//! scenario's `traffic` block.
//!
//! Every reactive actor decides from the same start-of-tick [`Snapshot`]: the bodies on the road
//! in the road frame, sorted once per tick by lane and `s`, so finding the vehicle ahead or behind
//! is a binary search, not a scan of every actor (a tick costs O(n log n) in the number of actors).
//! Lane-change decisions that would put two vehicles into the same gap in the same tick are
//! resolved in actor order, so the outcome never depends on anything but the state.

use scenario_dsl::model::{Actor, ActorKind, Drive, Start, Traffic};

use crate::actors::{ActorState, EgoView, Frame};
use crate::rng::Stream;
use crate::road::RoadFrame;
use crate::signals::RoadStop;

/// Gravity, m/s², to turn the road's friction coefficient into a braking limit.
const G: f64 = 9.81;
/// Lateral margin a body's footprint is widened by when deciding who shares a lane, metres.
const LATERAL_MARGIN: f64 = 0.3;
/// Below this speed nobody starts a lane change (a standing queue stays in its lanes), m/s.
const MIN_CHANGE_SPEED: f64 = 1.0;
/// The smallest gap IDM divides by, metres (a touching leader means the hardest braking).
const MIN_DIVISOR_GAP: f64 = 0.1;

/// The driver-model parameters of one reactive actor, in SI units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Idm {
    /// Desired speed, m/s.
    pub desired_speed: f64,
    /// Time headway, s.
    pub time_headway: f64,
    /// Standstill gap, m.
    pub min_gap: f64,
    /// Maximum acceleration, m/s².
    pub max_accel: f64,
    /// Comfortable deceleration, m/s².
    pub comfort_decel: f64,
    /// Acceleration exponent.
    pub exponent: f64,
    /// Hardest braking, m/s².
    pub max_decel: f64,
}

impl Idm {
    /// From a scenario's `drive`, with the desired speed when the file gives none.
    pub fn from_drive(d: &Drive<f64>, default_speed: f64) -> Self {
        Self {
            desired_speed: d.desired_speed.unwrap_or(default_speed).max(0.1),
            time_headway: d.time_headway,
            min_gap: d.min_gap,
            max_accel: d.max_accel,
            comfort_decel: d.comfort_decel,
            exponent: d.exponent,
            max_decel: d.max_decel.max(d.comfort_decel),
        }
    }

    /// The gap IDM wants at speed `v` behind a leader at `v_lead`, metres.
    pub fn desired_gap(&self, v: f64, v_lead: f64) -> f64 {
        let dynamic =
            v * self.time_headway + v * (v - v_lead) / (2.0 * libm::sqrt(self.max_accel * self.comfort_decel));
        self.min_gap + dynamic.max(0.0)
    }

    /// IDM's acceleration at speed `v` with a leader `(gap, speed)` or none, limited to
    /// [-max_decel, max_accel].
    pub fn accel(&self, v: f64, lead: Option<(f64, f64)>) -> f64 {
        self.accel_with(self.free_road(v), v, lead)
    }

    /// IDM's free-road term at speed `v`, `1 - (v / desired_speed)^exponent`: the same for every
    /// leader a driver is asked about in one tick, so the snapshot computes it once per body.
    fn free_road(&self, v: f64) -> f64 {
        1.0 - libm::pow((v / self.desired_speed).max(0.0), self.exponent)
    }

    /// [`Idm::accel`] with the free-road term already computed for `v`.
    fn accel_with(&self, free: f64, v: f64, lead: Option<(f64, f64)>) -> f64 {
        let interaction = lead.map_or(0.0, |(gap, v_lead)| {
            let ratio = self.desired_gap(v, v_lead) / gap.max(MIN_DIVISOR_GAP);
            ratio * ratio
        });
        (self.max_accel * (free - interaction)).clamp(-self.max_decel, self.max_accel)
    }
}

/// MOBIL's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mobil {
    /// Weight of the followers' gains.
    pub politeness: f64,
    /// Net gain a change must bring, m/s².
    pub threshold: f64,
    /// The hardest a new follower may have to brake, m/s².
    pub safe_decel: f64,
    /// Bias towards the right lane, m/s².
    pub keep_right: f64,
    /// Seconds a lateral move takes.
    pub duration: f64,
    /// Seconds between changes.
    pub cooldown: f64,
}

/// A lane change under way.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Change {
    from_d: f64,
    to_d: f64,
    started: f64,
}

/// The driver of a reactive actor: its parameters and what it is doing.
#[derive(Debug, Clone, PartialEq)]
pub struct DriveState {
    idm: Idm,
    mobil: Option<Mobil>,
    change: Option<Change>,
    /// When the last change ended (or `-inf`).
    last_change: f64,
}

impl DriveState {
    /// The driver of an actor with `drive`, on a road with `speed_limit` (the default desired speed).
    pub fn new(d: &Drive<f64>, speed_limit: f64) -> Self {
        let l = &d.lane_change;
        Self {
            idm: Idm::from_drive(d, speed_limit),
            mobil: l.enabled.then_some(Mobil {
                politeness: l.politeness,
                threshold: l.threshold,
                safe_decel: l.safe_decel,
                keep_right: l.keep_right,
                duration: l.duration.max(0.1),
                cooldown: l.cooldown,
            }),
            change: None,
            last_change: f64::NEG_INFINITY,
        }
    }

    /// The car-following parameters.
    pub fn idm(&self) -> &Idm {
        &self.idm
    }

    /// Whether a lane change is under way.
    pub fn changing_lanes(&self) -> bool {
        self.change.is_some()
    }
}

/// Caps every reactive actor's braking at what the road's friction allows.
pub fn limit_braking(actors: &mut [ActorState], friction: f64) {
    let limit = (friction * G).max(0.5);
    for a in actors {
        if let Some(d) = a.drive.as_mut() {
            d.idm.max_decel = d.idm.max_decel.min(limit).max(d.idm.comfort_decel.min(limit));
        }
    }
}

/// One body on the road as the start-of-tick snapshot holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Body {
    s: f64,
    d: f64,
    half_len: f64,
    half_wid: f64,
    /// Speed along the road, m/s.
    v: f64,
    /// The body's own driver, for reactive actors (others are judged with the asking driver's),
    /// with its free-road term at `v`: the same for every leader it is asked about this tick.
    driver: Option<(Idm, f64)>,
    /// Where a lane change under way ends, across the road: the vehicle claims its target lane
    /// from the moment it starts moving over, as a driver's indicator does.
    to_d: f64,
}

impl Body {
    /// The acceleration this body's own driver (or else `proxy`) chooses behind `lead`.
    fn accel(&self, proxy: &Idm, lead: Option<(f64, f64)>) -> f64 {
        match self.driver {
            Some((own, free)) => own.accel_with(free, self.v, lead),
            None => proxy.accel(self.v, lead),
        }
    }

    fn lateral(&self) -> (f64, f64) {
        (self.d.min(self.to_d) - self.half_wid, self.d.max(self.to_d) + self.half_wid)
    }
}

/// Which body: the ego is index 0, actor `i` is `i + 1`.
type BodyId = usize;

/// The road at the start of a tick: every body in the road frame and, per lane, the bodies whose
/// footprint overlaps the lane, sorted by `s`.
pub struct Snapshot {
    road: RoadFrame,
    bodies: Vec<Option<Body>>,
    lanes: Vec<Vec<BodyId>>,
}

fn extents(length: f64, width: f64, relative_heading: f64) -> (f64, f64) {
    let (c, s) = (libm::fabs(libm::cos(relative_heading)), libm::fabs(libm::sin(relative_heading)));
    (0.5 * (length * c + width * s), 0.5 * (length * s + width * c))
}

impl Snapshot {
    /// The snapshot of `actors` and the ego on `road`.
    pub fn new(actors: &[ActorState], ego: &EgoView, road: &RoadFrame) -> Self {
        let ego_body = {
            let f = &ego.footprint;
            let (s, d) = road.to_road(f.x, f.y);
            let h = road.heading_at(s);
            let (half_len, half_wid) = extents(f.length, f.width, f.heading - h);
            let v = ego.velocity.0 * libm::cos(h) + ego.velocity.1 * libm::sin(h);
            Body { s, d, half_len, half_wid, v, driver: None, to_d: d }
        };
        let mut bodies = Vec::with_capacity(actors.len() + 1);
        bodies.push(Some(ego_body));
        for a in actors {
            let (s, d) = match a.frame {
                Frame::Road { s, d, .. } => (s, d),
                Frame::Plane => road.to_road(a.x, a.y),
            };
            let h = road.heading_at(s);
            let (half_len, half_wid) = extents(a.length, a.width, a.heading - h);
            let v = a.velocity.0 * libm::cos(h) + a.velocity.1 * libm::sin(h);
            let to_d = a.drive.as_ref().and_then(|dr| dr.change).map_or(d, |c| c.to_d);
            let driver = a.drive.as_ref().map(|d| (d.idm, d.idm.free_road(v)));
            bodies.push(Some(Body { s, d, half_len, half_wid, v, driver, to_d }));
        }
        let mut lanes: Vec<Vec<BodyId>> = vec![Vec::new(); road.lanes as usize];
        for (id, b) in bodies.iter().enumerate() {
            let Some(b) = b else { continue };
            let (lo, hi) = b.lateral();
            for (lane, list) in lanes.iter_mut().enumerate() {
                let (l_lo, l_hi) = (lane as f64 * road.lane_width, (lane + 1) as f64 * road.lane_width);
                if hi > l_lo && lo < l_hi {
                    list.push(id);
                }
            }
        }
        for list in &mut lanes {
            list.sort_by(|a, b| {
                let (sa, sb) = (bodies[*a].map_or(0.0, |x| x.s), bodies[*b].map_or(0.0, |x| x.s));
                sa.total_cmp(&sb).then(a.cmp(b))
            });
        }
        Self { road: road.clone(), bodies, lanes }
    }

    fn body(&self, id: BodyId) -> Option<&Body> {
        self.bodies.get(id).and_then(Option::as_ref)
    }

    /// Lanes a lateral band overlaps.
    fn lanes_of(&self, lo: f64, hi: f64) -> std::ops::Range<usize> {
        let w = self.road.lane_width;
        let first = (lo / w).floor().max(0.0) as usize;
        let last = ((hi / w).ceil().max(0.0) as usize).min(self.lanes.len());
        first.min(last)..last
    }

    /// Whether `other` is ahead of `me` (by `s`, ties broken by id).
    fn is_ahead(&self, me: BodyId, s: f64, other: BodyId) -> bool {
        self.body(other).is_some_and(|o| o.s > s || (o.s == s && other > me))
    }

    /// The nearest body ahead of (`s`, the asking body `me`) whose footprint overlaps the lateral
    /// band `[lo, hi]`.
    fn ahead(&self, me: BodyId, s: f64, lo: f64, hi: f64) -> Option<BodyId> {
        self.nearest(me, s, lo, hi, true)
    }

    /// The nearest body behind, as [`Snapshot::ahead`].
    fn behind(&self, me: BodyId, s: f64, lo: f64, hi: f64) -> Option<BodyId> {
        self.nearest(me, s, lo, hi, false)
    }

    /// The nearest body ahead of or behind `me` in the band: in each lane it overlaps, walk away
    /// from `s` from the split point, stopping at the first overlapping body or once past the
    /// best found so far.
    fn nearest(&self, me: BodyId, s: f64, lo: f64, hi: f64, forward: bool) -> Option<BodyId> {
        let mut best: Option<(f64, BodyId)> = None;
        for lane in self.lanes_of(lo, hi) {
            let list = &self.lanes[lane];
            let split = list.partition_point(|id| !self.is_ahead(me, s, *id));
            let count = if forward { list.len() - split } else { split };
            for k in 0..count {
                let id = if forward { list[split + k] } else { list[split - 1 - k] };
                let Some(b) = self.body(id) else { continue };
                if best.is_some_and(|(bs, _)| if forward { b.s >= bs } else { b.s <= bs }) {
                    break;
                }
                let (blo, bhi) = b.lateral();
                if id != me && bhi > lo && blo < hi {
                    best = Some((b.s, id));
                    break;
                }
            }
        }
        best.map(|(_, id)| id)
    }

    /// Bumper-to-bumper gap from `rear` (at `s` with `half_len`) to `front`.
    fn gap(&self, rear_s: f64, rear_half: f64, front: BodyId) -> Option<(f64, f64)> {
        let f = self.body(front)?;
        Some((f.s - f.half_len - (rear_s + rear_half), f.v))
    }
}

/// What one reactive actor does this tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Acceleration along the road, m/s².
    pub accel: f64,
    /// Start a change to this lane.
    pub change_to: Option<u32>,
}

/// Decides every reactive actor's acceleration and lane change from the start-of-tick state.
/// `None` when there is no road or no reactive actor.
pub fn plan(
    actors: &[ActorState],
    ego: &EgoView,
    road: Option<&RoadFrame>,
    time: f64,
    stops: &[RoadStop],
) -> Option<Vec<Option<Decision>>> {
    let road = road?;
    if !actors.iter().any(|a| a.drive.is_some()) {
        return None;
    }
    let snap = Snapshot::new(actors, ego, road);
    let mut decisions: Vec<Option<Decision>> = actors
        .iter()
        .enumerate()
        .map(|(i, a)| a.drive.as_ref().map(|d| decide(&snap, i + 1, d, time, stops)))
        .collect();
    resolve_conflicts(&snap, &mut decisions);
    Some(decisions)
}

fn decide(snap: &Snapshot, me: BodyId, drive: &DriveState, time: f64, stops: &[RoadStop]) -> Decision {
    let Some(b) = snap.body(me).copied() else { return Decision { accel: 0.0, change_to: None } };
    let idm = drive.idm;
    let (lo, hi) = b.lateral();
    let (lo, hi) = (lo - LATERAL_MARGIN, hi + LATERAL_MARGIN);
    let lead = snap.ahead(me, b.s, lo, hi).and_then(|l| snap.gap(b.s, b.half_len, l));
    let mut accel = b.accel(&idm, lead);
    // A red (or, when it can stop comfortably, an amber) light's line ahead is a standing leader.
    let front = b.s + b.half_len;
    let line = stops
        .iter()
        .filter(|l| l.s > front)
        .filter(|l| !l.amber || b.v * b.v <= 2.0 * idm.comfort_decel * (l.s - front - idm.min_gap).max(0.0))
        .map(|l| l.s - front)
        .min_by(f64::total_cmp);
    if let Some(gap) = line {
        accel = accel.min(b.accel(&idm, Some((gap, 0.0))));
    }
    let change_to = match drive.mobil {
        Some(m) if drive.change.is_none() && b.v > MIN_CHANGE_SPEED && time - drive.last_change >= m.cooldown => {
            mobil(snap, me, &b, &idm, &m, accel, (lo, hi))
        }
        _ => None,
    };
    Decision { accel, change_to }
}

/// The acceleration of body `who` (following `lead` at `gap`), by its own driver or else `proxy`.
fn accel_of(snap: &Snapshot, who: BodyId, lead: Option<(f64, f64)>, proxy: &Idm) -> f64 {
    snap.body(who).map_or_else(|| proxy.accel(0.0, lead), |b| b.accel(proxy, lead))
}

/// MOBIL: the lane to change to, if any (the better of left and right).
fn mobil(snap: &Snapshot, me: BodyId, b: &Body, idm: &Idm, m: &Mobil, accel: f64, band: (f64, f64)) -> Option<u32> {
    let road = &snap.road;
    let lane = road.lane_at(b.d)?;
    // The old follower: whoever follows me now, and what it would do once I leave.
    let old_follower = snap.behind(me, b.s, band.0, band.1);
    let old_lead = snap.ahead(me, b.s, band.0, band.1);
    let old_gain = old_follower.map_or(0.0, |o| {
        let ob = snap.body(o).copied();
        let (os, oh) = ob.map_or((0.0, 0.0), |x| (x.s, x.half_len));
        let now = accel_of(snap, o, snap.gap(os, oh, me), idm);
        let after = accel_of(snap, o, old_lead.and_then(|l| snap.gap(os, oh, l)), idm);
        after - now
    });
    let mut best: Option<(f64, u32)> = None;
    for (target, bias) in [(lane.checked_sub(1), m.keep_right), (Some(lane + 1), -m.keep_right)] {
        let Some(target) = target.filter(|t| *t < road.lanes) else { continue };
        let centre = road.lane_centre(target);
        let (lo, hi) = (centre - b.half_wid - LATERAL_MARGIN, centre + b.half_wid + LATERAL_MARGIN);
        let new_lead = snap.ahead(me, b.s, lo, hi);
        let new_follower = snap.behind(me, b.s, lo, hi);
        let lead_gap = new_lead.and_then(|l| snap.gap(b.s, b.half_len, l));
        if lead_gap.is_some_and(|(g, _)| g < idm.min_gap) {
            continue;
        }
        let my_new = b.accel(idm, lead_gap);
        if my_new < -m.safe_decel {
            continue;
        }
        let follower_gain = match new_follower.and_then(|n| snap.body(n).copied().map(|nb| (n, nb))) {
            None => 0.0,
            Some((n, nb)) => {
                let gap_to_me = b.s - b.half_len - (nb.s + nb.half_len);
                // A follower that does not drive by IDM (the ego, a scripted actor) may not react
                // at all: never cut in closer than it would keep itself.
                let needed = if nb.driver.is_some() { idm.min_gap } else { idm.desired_gap(nb.v, b.v) };
                if gap_to_me < needed {
                    continue;
                }
                let after = accel_of(snap, n, Some((gap_to_me, b.v)), idm);
                if after < -m.safe_decel {
                    continue;
                }
                let now = accel_of(snap, n, new_lead.and_then(|l| snap.gap(nb.s, nb.half_len, l)), idm);
                after - now
            }
        };
        let incentive = my_new - accel + m.politeness * (follower_gain + old_gain) + bias;
        if incentive > m.threshold && best.is_none_or(|(bi, _)| incentive > bi) {
            best = Some((incentive, target));
        }
    }
    best.map(|(_, t)| t)
}

/// Two vehicles that chose the same target lane this tick near each other: the first in actor
/// order goes, the other waits.
fn resolve_conflicts(snap: &Snapshot, decisions: &mut [Option<Decision>]) {
    let mut accepted: Vec<(u32, f64, f64)> = Vec::new();
    for (i, d) in decisions.iter_mut().enumerate() {
        let Some(d) = d.as_mut() else { continue };
        let Some(target) = d.change_to else { continue };
        let Some(b) = snap.body(i + 1) else { continue };
        let clash = accepted
            .iter()
            .any(|(t, s, half)| *t == target && libm::fabs(s - b.s) < half + b.half_len + 2.0 * b.v.max(5.0));
        if clash {
            d.change_to = None;
        } else {
            accepted.push((target, b.s, b.half_len));
        }
    }
}

/// Moves every reactive actor by its decision.
pub fn apply(actors: &mut [ActorState], plan: &[Option<Decision>], time: f64, dt: f64, road: &RoadFrame) {
    for (a, decision) in actors.iter_mut().zip(plan) {
        let (Some(Decision { accel, change_to }), Some(drive)) = (decision, a.drive.as_mut()) else { continue };
        let Frame::Road { s, d, .. } = a.frame else { continue };
        if let Some(to) = change_to {
            drive.change = Some(Change { from_d: d, to_d: road.lane_centre(*to), started: time });
        }
        let v = (a.speed + accel * dt).max(0.0);
        let s2 = s + v * dt;
        let mut d2 = d;
        if let (Some(c), Some(m)) = (drive.change, drive.mobil) {
            let p = ((time + dt - c.started) / m.duration).min(1.0);
            d2 = c.from_d + (c.to_d - c.from_d) * 0.5 * (1.0 - libm::cos(std::f64::consts::PI * p));
            if p >= 1.0 {
                d2 = c.to_d;
                drive.change = None;
                drive.last_change = time + dt;
            }
        }
        let v_lat = (d2 - d) / dt;
        a.speed = v;
        a.frame = Frame::Road { s: s2, d: d2, v_long: v, v_lat };
        let (x, y, h) = road.to_world(s2, d2);
        a.x = x;
        a.y = y;
        // A slow vehicle's lane change must not turn it across the road.
        a.heading = h + libm::atan2(v_lat, v.max(3.0));
        let (sn, cs) = (libm::sin(h), libm::cos(h));
        a.velocity = (v * cs - v_lat * sn, v * sn + v_lat * cs);
    }
}

/// The ego or a listed actor that generated traffic keeps clear of at the start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Occupant {
    /// Along the road, metres.
    pub s: f64,
    /// Across the road, metres.
    pub d: f64,
    /// Length, metres.
    pub length: f64,
    /// Width, metres.
    pub width: f64,
    /// Speed, m/s.
    pub speed: f64,
}

/// One generated vehicle before ids are given.
struct Placed {
    lane: u32,
    s: f64,
    kind: ActorKind,
    length: f64,
    width: f64,
    desired: f64,
}

fn draw_speed(t: &Traffic<f64>, rng: &mut Stream) -> f64 {
    let d = &t.desired_speed;
    let (u1, u2) = (rng.unit(), rng.unit());
    let v = match d.mean {
        Some(mean) => {
            let std = d.std.unwrap_or(0.0);
            let z = libm::sqrt(-2.0 * libm::log(1.0 - u1)) * libm::cos(2.0 * std::f64::consts::PI * u2);
            mean + std * z
        }
        None => {
            let (lo, hi) = (d.min.unwrap_or(0.0), d.max.unwrap_or(0.0));
            lo + u1 * (hi - lo)
        }
    };
    let v = d.min.map_or(v, |lo| v.max(lo));
    let v = d.max.map_or(v, |hi| v.min(hi));
    v.max(0.5)
}

/// The vehicles of a `traffic` block, named `traffic-0`, `traffic-1`, ... in lane order then
/// along the road. Each lane gets `density` x the stretch's length vehicles, evenly spaced with a
/// seeded jitter that keeps every gap at least the driver's standstill gap; vehicles that would
/// start within `clear_gap` of the ego or a listed actor (or closer than the driver model needs
/// at their speeds) are left out. Each starts at its desired speed, or slower when the gap to the
/// vehicle ahead asks for it. Every draw is made for every slot, so leaving one out never shifts
/// another's.
pub fn populate(t: &Traffic<f64>, road: &RoadFrame, occupants: &[Occupant], seed: u64) -> Vec<Actor<f64>> {
    let mut rng = Stream::new(seed, "traffic");
    let from = t.from.max(0.0);
    let to = t.to.unwrap_or(road.length).min(road.length);
    let span = (to - from).max(0.0);
    let lanes: Vec<u32> = if t.lanes.is_empty() { (0..road.lanes).collect() } else { t.lanes.clone() };
    let per_lane = libm::round(t.density * span / 1000.0).max(0.0) as usize;
    let idm = Idm::from_drive(&t.drive, road.speed_limit);
    let (car_len, car_wid) = ActorKind::Car.default_size();
    let (truck_len, truck_wid) = ActorKind::Truck.default_size();
    let longest = if t.truck_share > 0.0 { truck_len } else { car_len };
    let mut placed = Vec::new();
    for &lane in &lanes {
        if per_lane == 0 {
            break;
        }
        let spacing = span / per_lane as f64;
        let slack = (spacing - longest - idm.min_gap).max(0.0);
        for i in 0..per_lane {
            let truck = rng.chance(t.truck_share);
            let desired = draw_speed(t, &mut rng);
            let jitter = (rng.unit() - 0.5) * 0.8 * slack;
            let (kind, length, width) =
                if truck { (ActorKind::Truck, truck_len, truck_wid) } else { (ActorKind::Car, car_len, car_wid) };
            let s = from + (i as f64 + 0.5) * spacing + jitter;
            placed.push(Placed { lane, s, kind, length, width, desired });
        }
    }
    let d_of = |p: &Placed| road.lane_centre(p.lane);
    placed.retain(|p| {
        !occupants.iter().any(|o| {
            let lateral = libm::fabs(o.d - d_of(p)) < 0.5 * (o.width + p.width) + LATERAL_MARGIN;
            let clear = t.clear_gap.max(idm.min_gap);
            let gap = libm::fabs(o.s - p.s) - 0.5 * (o.length + p.length);
            lateral && gap < clear
        })
    });
    // Initial speeds, front to back in each lane: no faster than the gap to whatever is ahead allows.
    let mut order: Vec<usize> = (0..placed.len()).collect();
    order.sort_by(|a, b| placed[*a].lane.cmp(&placed[*b].lane).then(placed[*b].s.total_cmp(&placed[*a].s)));
    let mut speeds = vec![0.0; placed.len()];
    for (k, &i) in order.iter().enumerate() {
        let p = &placed[i];
        let mut lead: Option<(f64, f64)> = None;
        if let Some(&j) = k.checked_sub(1).map(|k| &order[k]) {
            if placed[j].lane == p.lane {
                lead = Some((placed[j].s - 0.5 * placed[j].length - (p.s + 0.5 * p.length), speeds[j]));
            }
        }
        for o in occupants {
            let lateral = libm::fabs(o.d - d_of(p)) < 0.5 * (o.width + p.width) + LATERAL_MARGIN;
            let gap = o.s - 0.5 * o.length - (p.s + 0.5 * p.length);
            if lateral && gap > 0.0 && lead.is_none_or(|(g, _)| gap < g) {
                lead = Some((gap, o.speed));
            }
        }
        let driver = Idm { desired_speed: p.desired, ..idm };
        let mut v = p.desired;
        if let Some((gap, v_lead)) = lead {
            while v > 0.0 && driver.desired_gap(v, v_lead) > gap {
                v = (v - 0.25).max(0.0);
            }
        }
        speeds[i] = v;
    }
    let mut ids: Vec<usize> = (0..placed.len()).collect();
    ids.sort_by(|a, b| placed[*a].lane.cmp(&placed[*b].lane).then(placed[*a].s.total_cmp(&placed[*b].s)));
    ids.iter()
        .enumerate()
        .map(|(n, &i)| {
            let p = &placed[i];
            Actor {
                id: format!("{}{n}", scenario_dsl::validate::TRAFFIC_ID_PREFIX),
                kind: p.kind,
                start: Start {
                    lane: Some(p.lane),
                    s: Some(p.s),
                    offset: None,
                    x: None,
                    y: None,
                    heading: None,
                    map: None,
                    overlap: None,
                },
                speed: speeds[i],
                size: None,
                behaviour: Vec::new(),
                drive: Some(Drive { desired_speed: Some(p.desired), ..t.drive.clone() }),
                parked: false,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idm() -> Idm {
        Idm::from_drive(&Drive::default(), 30.0)
    }

    #[test]
    fn idm_accelerates_on_a_free_road_and_brakes_when_close() {
        let d = idm();
        assert!((d.accel(0.0, None) - d.max_accel).abs() < 1e-9);
        assert!(d.accel(30.0, None).abs() < 1e-9);
        assert!(d.accel(20.0, Some((5.0, 20.0))) < -d.comfort_decel);
        assert!(d.accel(20.0, Some((200.0, 20.0))) > 0.0);
        assert_eq!(d.accel(20.0, Some((0.0, 0.0))), -d.max_decel);
    }
}
