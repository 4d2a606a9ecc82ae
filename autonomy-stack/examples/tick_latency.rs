//! Times 10,000 full stack ticks (20 confirmed tracks, 360-ray scan) with the wall clock and prints
//! p50/p99/max, plus the per-module split measured through the stack's own injected clock.

#[path = "../benches/scene.rs"]
mod scene;

use autonomy_stack::{Clock, Module};
use std::time::Instant;

/// The real clock, injected the way the simulator does it.
struct WallClock(Instant);

impl Clock for WallClock {
    fn now_ns(&mut self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }

    fn thread_cpu_ns(&mut self) -> u64 {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }
}

fn main() {
    let (stack, frame) = scene::warmed(30);
    assert_eq!(stack.tracker().confirmed().count(), scene::OBJECTS);
    let mut clock = WallClock(Instant::now());
    let n = 10_000;
    let mut total = Vec::with_capacity(n);
    let mut modules: Vec<Vec<u64>> = (0..6).map(|_| Vec::with_capacity(n)).collect();
    for _ in 0..n {
        let mut s = stack.clone();
        let start = Instant::now();
        let out = s.step(std::hint::black_box(&frame), &mut clock);
        total.push(start.elapsed().as_nanos() as u64);
        for (m, t) in modules.iter_mut().zip(out.telemetry.timings.nanos) {
            m.push(t);
        }
    }
    let pct = |v: &mut Vec<u64>, p: f64| {
        v.sort_unstable();
        v[((v.len() as f64 * p) as usize).min(v.len() - 1)] as f64 / 1000.0
    };
    println!(
        "full tick over {n} ticks: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        pct(&mut total, 0.5),
        pct(&mut total, 0.99),
        pct(&mut total, 1.0)
    );
    for (m, v) in Module::ALL.iter().zip(modules.iter_mut()) {
        println!("  {m:?}: p50 {:.1} µs, p99 {:.1} µs", pct(v, 0.5), pct(v, 0.99));
    }
}
