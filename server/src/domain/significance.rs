//! The statistics behind comparisons: Wilson score intervals for pass rates and the exact McNemar
//! test on paired flips (runs are paired by variant key, so a paired test is the right one).

/// A pass rate with its 95 % Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Rate {
    /// Passed runs.
    pub passed: u64,
    /// Finished runs.
    pub total: u64,
    /// passed / total (0 when total is 0).
    pub rate: f64,
    /// Lower bound of the 95 % interval.
    pub low: f64,
    /// Upper bound of the 95 % interval.
    pub high: f64,
}

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval of `passed` out of `total` at 95 %.
pub fn wilson(passed: u64, total: u64) -> Rate {
    if total == 0 {
        return Rate { passed, total, rate: 0.0, low: 0.0, high: 1.0 };
    }
    let n = total as f64;
    let p = passed as f64 / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 * libm::sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom;
    Rate { passed, total, rate: p, low: (centre - half).max(0.0), high: (centre + half).min(1.0) }
}

/// Two-sided exact McNemar p-value for `b` pairs that flipped one way and `c` the other:
/// 2 * P(X <= min(b, c)) with X ~ Binomial(b + c, 1/2), capped at 1.
pub fn mcnemar(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    let ln_choose = |n: u64, i: u64| {
        libm::lgamma(n as f64 + 1.0) - libm::lgamma(i as f64 + 1.0) - libm::lgamma((n - i) as f64 + 1.0)
    };
    let tail: f64 = (0..=k).map(|i| libm::exp(ln_choose(n, i) - ln_half_n)).sum();
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_reference_values() {
        // 8/10: (0.4902, 0.9433); 0/10: (0, 0.2775); 10/10: (0.7225, 1) — standard tables.
        let r = wilson(8, 10);
        assert!((r.low - 0.4902).abs() < 1e-4 && (r.high - 0.9433).abs() < 1e-4, "{r:?}");
        let r = wilson(0, 10);
        assert!(r.low == 0.0 && (r.high - 0.2775).abs() < 1e-4, "{r:?}");
        let r = wilson(10, 10);
        assert!((r.low - 0.7225).abs() < 1e-4 && (r.high - 1.0).abs() < 1e-12, "{r:?}");
        let r = wilson(950, 1000);
        assert!((r.low - 0.9347).abs() < 1e-4 && (r.high - 0.9619).abs() < 1e-4, "{r:?}");
    }

    #[test]
    fn mcnemar_matches_the_exact_binomial_test() {
        // b = 10, c = 2: 2 * (1 + 12 + 66) / 4096 = 0.038574...
        assert!((mcnemar(10, 2) - 79.0 / 2048.0).abs() < 1e-12);
        assert!((mcnemar(2, 10) - 79.0 / 2048.0).abs() < 1e-12);
        assert_eq!(mcnemar(5, 5), 1.0);
        assert_eq!(mcnemar(0, 0), 1.0);
        // 6 regressions, no fix: 2 / 64 = 0.03125.
        assert!((mcnemar(6, 0) - 0.03125).abs() < 1e-12);
        // Large counts stay finite and small.
        let p = mcnemar(600, 400);
        assert!(p > 0.0 && p < 1e-9, "{p}");
    }
}
