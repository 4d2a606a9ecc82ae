//! The rapier3d world: static obstacles as fixed colliders, the ego and the actors as kinematic
//! bodies that we move each tick. Rapier finds the collisions (contact events) and answers the
//! sensors' ray casts; our own models move the bodies.

use std::sync::Mutex;

use rapier3d::prelude::*;

/// What a collider belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// The vehicle under test.
    Ego,
    /// Actor number `i`.
    Actor(usize),
    /// Static obstacle number `i` of the area.
    Obstacle(usize),
}

/// Collects collision starts; rapier calls it from inside `step`.
#[derive(Default)]
struct Collector(Mutex<Vec<(ColliderHandle, ColliderHandle)>>);

impl EventHandler for Collector {
    fn handle_collision_event(
        &self,
        _: &RigidBodySet,
        _: &ColliderSet,
        event: CollisionEvent,
        _: Option<&ContactPair>,
    ) {
        if let CollisionEvent::Started(a, b, _) = event {
            if let Ok(mut v) = self.0.lock() {
                v.push((a, b));
            }
        }
    }

    fn handle_contact_force_event(&self, _: Real, _: &RigidBodySet, _: &ColliderSet, _: &ContactPair, _: Real) {}
}

/// The broad phase of this world: each step, every enabled collider's bounding box (loosened by
/// half the prediction distance each, as rapier's own multi-SAP loosens them) is swept along x,
/// and the pairs whose boxes overlap are the candidates the narrow phase tests. Rapier's multi-SAP
/// keeps grid regions up to date as bodies move, which with fifty vehicles on a kilometre of road
/// cost about half of the physics step (perf on `highway.dense_traffic.reactive`); a world of at
/// most a few hundred boxes is faster swept whole. The pairs it reports are a superset of the
/// touching ones (a pair is dropped only once the boxes are apart), so the narrow phase finds the
/// same contacts and every trace is unchanged.
#[derive(Default)]
struct SweptBroadPhase {
    /// The pairs reported last step, by the handles' raw parts, the smaller first.
    pairs: std::collections::BTreeSet<((u32, u32), (u32, u32))>,
    /// Scratch: this step's boxes.
    boxes: Vec<(rapier3d::parry::bounding_volume::Aabb, ColliderHandle)>,
}

/// A total order on handles (arena index, then generation).
fn handle_key(h: ColliderHandle) -> (u32, u32) {
    h.into_raw_parts()
}

impl BroadPhase for SweptBroadPhase {
    fn update(
        &mut self,
        _dt: Real,
        prediction_distance: Real,
        colliders: &mut ColliderSet,
        _bodies: &RigidBodySet,
        _modified_colliders: &[ColliderHandle],
        removed_colliders: &[ColliderHandle],
        events: &mut Vec<BroadPhasePairEvent>,
    ) {
        use rapier3d::parry::bounding_volume::BoundingVolume;
        self.boxes.clear();
        for (h, co) in colliders.iter() {
            if co.is_enabled() {
                self.boxes.push((co.compute_collision_aabb(prediction_distance / 2.0), h));
            }
        }
        self.boxes.sort_by(|a, b| a.0.mins.x.total_cmp(&b.0.mins.x).then(handle_key(a.1).cmp(&handle_key(b.1))));
        let mut now = std::collections::BTreeSet::new();
        for (i, (a, ha)) in self.boxes.iter().enumerate() {
            for (b, hb) in &self.boxes[i + 1..] {
                if b.mins.x > a.maxs.x {
                    break;
                }
                if a.intersects(b) {
                    let (ka, kb) = (handle_key(*ha), handle_key(*hb));
                    now.insert(if ka <= kb { (ka, kb) } else { (kb, ka) });
                }
            }
        }
        let handle = |k: (u32, u32)| ColliderHandle::from_raw_parts(k.0, k.1);
        let removed = |k: (u32, u32)| removed_colliders.contains(&handle(k));
        for &(a, b) in self.pairs.difference(&now) {
            if !removed(a) && !removed(b) {
                events.push(BroadPhasePairEvent::DeletePair(ColliderPair::new(handle(a), handle(b))));
            }
        }
        for &(a, b) in now.difference(&self.pairs) {
            events.push(BroadPhasePairEvent::AddPair(ColliderPair::new(handle(a), handle(b))));
        }
        self.pairs = now;
    }
}

/// A pose to put a body at: centre x, y, heading, and the box's height.
#[derive(Debug, Clone, Copy)]
pub struct BoxPose {
    /// Centre x.
    pub x: f64,
    /// Centre y.
    pub y: f64,
    /// Heading, radians.
    pub heading: f64,
}

/// Box dimensions: length, width, height.
#[derive(Debug, Clone, Copy)]
pub struct BoxSize {
    /// Along the heading.
    pub length: f64,
    /// Across the heading.
    pub width: f64,
    /// Up.
    pub height: f64,
}

/// The physics world of one run.
pub struct Physics {
    bodies: RigidBodySet,
    colliders: ColliderSet,
    pipeline: PhysicsPipeline,
    params: IntegrationParameters,
    islands: IslandManager,
    broad_phase: SweptBroadPhase,
    narrow_phase: NarrowPhase,
    impulse_joints: ImpulseJointSet,
    multibody_joints: MultibodyJointSet,
    ccd: CCDSolver,
    query: QueryPipeline,
    events: Collector,
    owners: Vec<(ColliderHandle, Owner)>,
    ego: RigidBodyHandle,
    actors: Vec<RigidBodyHandle>,
    sizes: Vec<BoxSize>,
}

fn isometry(p: BoxPose, height: f64) -> Isometry<Real> {
    Isometry::new(vector![p.x as Real, p.y as Real, (0.5 * height) as Real], vector![0.0, 0.0, p.heading as Real])
}

fn cuboid(size: BoxSize) -> ColliderBuilder {
    ColliderBuilder::cuboid((0.5 * size.length) as Real, (0.5 * size.width) as Real, (0.5 * size.height) as Real)
        .active_collision_types(ActiveCollisionTypes::all())
        .active_events(ActiveEvents::COLLISION_EVENTS)
}

impl Physics {
    /// A world with the ego, the actors and the static obstacles at their start poses.
    pub fn new(
        dt: f64,
        ego: (BoxPose, BoxSize),
        actors: &[(BoxPose, BoxSize)],
        obstacles: &[(BoxPose, BoxSize)],
    ) -> Self {
        let params = IntegrationParameters { dt: dt as Real, ..IntegrationParameters::default() };
        let mut p = Physics {
            bodies: RigidBodySet::new(),
            colliders: ColliderSet::new(),
            pipeline: PhysicsPipeline::new(),
            params,
            islands: IslandManager::new(),
            broad_phase: SweptBroadPhase::default(),
            narrow_phase: NarrowPhase::new(),
            impulse_joints: ImpulseJointSet::new(),
            multibody_joints: MultibodyJointSet::new(),
            ccd: CCDSolver::new(),
            query: QueryPipeline::new(),
            events: Collector::default(),
            owners: Vec::new(),
            ego: RigidBodyHandle::invalid(),
            actors: Vec::new(),
            sizes: Vec::new(),
        };
        for (i, (pose, size)) in obstacles.iter().enumerate() {
            let c = p.colliders.insert(cuboid(*size).position(isometry(*pose, size.height)));
            p.owners.push((c, Owner::Obstacle(i)));
        }
        p.ego = p.kinematic(ego.0, ego.1, Owner::Ego);
        p.sizes.push(ego.1);
        for (i, (pose, size)) in actors.iter().enumerate() {
            let h = p.kinematic(*pose, *size, Owner::Actor(i));
            p.actors.push(h);
            p.sizes.push(*size);
        }
        p.query.update(&p.colliders);
        p
    }

    fn kinematic(&mut self, pose: BoxPose, size: BoxSize, owner: Owner) -> RigidBodyHandle {
        let body = RigidBodyBuilder::kinematic_position_based().position(isometry(pose, size.height)).build();
        let h = self.bodies.insert(body);
        let c = self.colliders.insert_with_parent(cuboid(size), h, &mut self.bodies);
        self.owners.push((c, owner));
        h
    }

    fn owner(&self, c: ColliderHandle) -> Option<Owner> {
        self.owners.iter().find(|(h, _)| *h == c).map(|(_, o)| *o)
    }

    /// Moves the ego and every actor to their poses for the end of this step, steps the world and
    /// returns the pairs that started touching, sorted.
    pub fn step(&mut self, ego: BoxPose, actors: &[BoxPose]) -> Vec<(Owner, Owner)> {
        let moves = std::iter::once((self.ego, ego, self.sizes[0]))
            .chain(self.actors.iter().zip(actors).zip(&self.sizes[1..]).map(|((h, p), s)| (*h, *p, *s)));
        for (handle, pose, size) in moves.collect::<Vec<_>>() {
            if let Some(b) = self.bodies.get_mut(handle) {
                b.set_next_kinematic_position(isometry(pose, size.height));
            }
        }
        self.pipeline.step(
            &vector![0.0, 0.0, 0.0],
            &self.params,
            &mut self.islands,
            &mut self.broad_phase,
            &mut self.narrow_phase,
            &mut self.bodies,
            &mut self.colliders,
            &mut self.impulse_joints,
            &mut self.multibody_joints,
            &mut self.ccd,
            Some(&mut self.query),
            &(),
            &self.events,
        );
        let raw = match self.events.0.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(_) => Vec::new(),
        };
        let mut pairs: Vec<(Owner, Owner)> = raw
            .into_iter()
            .filter_map(|(a, b)| {
                let (a, b) = (self.owner(a)?, self.owner(b)?);
                Some(if a <= b { (a, b) } else { (b, a) })
            })
            .collect();
        pairs.sort();
        pairs.dedup();
        pairs
    }

    /// Casts a horizontal ray from (x, y) at height `z` towards `angle` (radians, world frame), up to
    /// `max` metres, ignoring the ego. Returns what it hit and how far away.
    pub fn cast_ray(&self, x: f64, y: f64, z: f64, angle: f64, max: f64) -> Option<(Owner, f64)> {
        self.cast(x, y, z, (libm::cos(angle), libm::sin(angle), 0.0), max)
    }

    /// Casts a ray from (x, y, z) along the unit direction `dir`, ignoring the ego.
    pub fn cast(&self, x: f64, y: f64, z: f64, dir: (f64, f64, f64), max: f64) -> Option<(Owner, f64)> {
        let ray =
            Ray::new(point![x as Real, y as Real, z as Real], vector![dir.0 as Real, dir.1 as Real, dir.2 as Real]);
        let filter = QueryFilter::default().exclude_rigid_body(self.ego);
        let (c, toi) = self.query.cast_ray(&self.bodies, &self.colliders, &ray, max as Real, true, filter)?;
        Some((self.owner(c)?, f64::from(toi)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAR: BoxSize = BoxSize { length: 4.0, width: 2.0, height: 1.5 };

    fn at(x: f64, y: f64) -> BoxPose {
        BoxPose { x, y, heading: 0.0 }
    }

    #[test]
    fn kinematic_bodies_report_the_tick_they_touch() {
        let wall = (at(30.0, 0.0), BoxSize { length: 1.0, width: 10.0, height: 2.0 });
        let mut p = Physics::new(0.02, (at(0.0, 0.0), CAR), &[(at(10.0, 4.0), CAR)], &[wall]);
        let mut touched = Vec::new();
        for tick in 1..=200 {
            let x = tick as f64 * 0.2; // 10 m/s
            let events = p.step(at(x, 0.0), &[at(10.0, 4.0)]);
            if !events.is_empty() {
                touched.push((tick, events));
            }
        }
        // Front bumper (x + 2) meets the wall's face (29.5) when x reaches 27.5: tick 138 (x = 27.6).
        assert_eq!(touched.len(), 1, "{touched:?}");
        assert_eq!(touched[0].1, vec![(Owner::Ego, Owner::Obstacle(0))]);
        assert!((137..=139).contains(&touched[0].0), "{touched:?}");
    }

    #[test]
    fn rays_see_the_nearest_box_and_not_the_ego() {
        let p = Physics::new(0.02, (at(0.0, 0.0), CAR), &[(at(20.0, 0.0), CAR), (at(40.0, 0.0), CAR)], &[]);
        let (owner, range) = p.cast_ray(0.0, 0.0, 0.5, 0.0, 100.0).unwrap();
        assert_eq!(owner, Owner::Actor(0));
        assert!((range - 18.0).abs() < 1e-4, "{range}");
        assert_eq!(p.cast_ray(0.0, 0.0, 0.5, std::f64::consts::PI, 100.0), None);
        // Over a low box: a ray at 2 m height passes a 1.5 m car.
        assert_eq!(p.cast_ray(0.0, 0.0, 2.0, 0.0, 100.0), None);
    }
}
