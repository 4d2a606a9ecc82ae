//! One full stack tick (perception, tracking, prediction, planning, control, safety) with 20
//! confirmed tracks and a 360-ray lidar scan.

mod scene;

use autonomy_stack::FrozenClock;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

fn stack_tick(c: &mut Criterion) {
    let (stack, frame) = scene::warmed(30);
    assert_eq!(stack.tracker().confirmed().count(), scene::OBJECTS, "every object is a confirmed track");
    c.bench_function("stack_tick_20_tracks_360_rays", |b| {
        b.iter_batched_ref(
            || stack.clone(),
            |s| s.step(std::hint::black_box(&frame), &mut FrozenClock),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, stack_tick);
criterion_main!(benches);
