//! Random streams: one ChaCha8 stream per consumer, keyed by the variant's seed and the consumer's
//! name, so adding a sensor never shifts another sensor's noise.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

/// A named, seeded random stream with the few draws the simulator needs.
#[derive(Debug, Clone)]
pub struct Stream(ChaCha8Rng);

impl Stream {
    /// The stream `name` of the run seeded with `seed`.
    pub fn new(seed: u64, name: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"scenario-farm/sim-stream/v1\n");
        h.update(seed.to_be_bytes());
        h.update(name.as_bytes());
        Self(ChaCha8Rng::from_seed(h.finalize().into()))
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Normal with mean 0 and standard deviation `std` (Box-Muller, libm: identical on every platform).
    pub fn gaussian(&mut self, std: f64) -> f64 {
        if std == 0.0 {
            return 0.0;
        }
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        std * libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
    }

    /// A Poisson count with mean `lambda` (Knuth; fine for the small means sensors use).
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        let limit = libm::exp(-lambda.min(30.0));
        let mut k = 0;
        let mut p = 1.0;
        loop {
            p *= self.unit();
            if p <= limit || k >= 100 {
                return k;
            }
            k += 1;
        }
    }
}
