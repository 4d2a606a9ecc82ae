//! The wall clock, injected into simulations to *measure* latency. It lives here, at the edge:
//! sim-core and the stack never read a clock themselves.

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
}
