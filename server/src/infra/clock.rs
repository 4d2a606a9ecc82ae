//! Clocks, at the edge: the monotonic clock injected into simulations to *measure* latency (sim-core
//! and the stack never read a clock themselves), and the wall clock the store's timestamps and
//! leases come from (every store operation takes the time as an argument).

use std::time::Instant;

use autonomy_stack::Clock;

/// Monotonic nanoseconds since this clock was made.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock(Instant);

impl Default for MonotonicClock {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Clock for MonotonicClock {
    fn now_ns(&mut self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// `CLOCK_THREAD_CPUTIME_ID`: the CPU time of the calling thread (a simulation runs on one
    /// thread from start to end, so the differences the stack takes are its own modules' time).
    fn thread_cpu_ns(&mut self) -> u64 {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        u64::try_from(t.tv_sec)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::try_from(t.tv_nsec).unwrap_or(0))
    }

    /// `getrusage(RUSAGE_THREAD)`'s involuntary context switches of the calling thread (one system
    /// call, read once per tick). If the call fails, 0: no tick is then counted as preempted.
    fn preemptions(&mut self) -> u64 {
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_THREAD)
            .map_or(0, |u| u64::try_from(u.involuntary_context_switches()).unwrap_or(0))
    }
}

/// Milliseconds since the Unix epoch: the only place the service reads the wall clock for the store.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_thread_sharing_its_core_with_busy_threads_sees_its_preemptions_counted() {
        let stop = Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let hogs: Vec<_> = (0..2 * cores)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        let mut clock = MonotonicClock::default();
        let before = clock.preemptions();
        // 300 ms of this thread's own CPU time, on cores that three times as many threads want.
        let start = clock.thread_cpu_ns();
        while clock.thread_cpu_ns() - start < 300_000_000 {
            std::hint::spin_loop();
        }
        let after = clock.preemptions();
        stop.store(true, Ordering::Relaxed);
        for h in hogs {
            h.join().expect("a hog thread panicked");
        }
        assert!(after > before, "no involuntary context switch counted: {before} -> {after}");
    }
}
