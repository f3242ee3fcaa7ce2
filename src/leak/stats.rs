//! The statistics behind the findings: exact Poisson and lift intervals, normal quantiles,
//! the Poisson distribution function and Benjamini-Hochberg q-values.

/// Exact (Garwood) two-sided `1 - alpha` interval for the mean of a Poisson count `k`.
pub(crate) fn poisson_interval(k: usize, alpha: f64) -> (f64, f64) {
    let solve = |target: f64, f: &dyn Fn(f64) -> f64| {
        // f decreases in mu from 1 to 0: bisection for f(mu) = target.
        let (mut lo, mut hi) = (0.0f64, k as f64 + 50.0 + 20.0 * (k as f64).sqrt());
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if f(mid) > target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let low = if k == 0 {
        0.0
    } else {
        // P(X >= k; mu) = alpha / 2  <=>  P(X <= k - 1; mu) = 1 - alpha / 2
        solve(1.0 - alpha / 2.0, &|mu| poisson_cdf(k - 1, mu))
    };
    let high = solve(alpha / 2.0, &|mu| poisson_cdf(k, mu));
    (low, high)
}

/// Interval of the lift `follows / expected` at level `1 - alpha` when the expectation is itself
/// estimated with standard error `expected_se`. Bonferroni: the follows' exact Poisson interval
/// at `1 - alpha / 2` is divided by the expectation's normal interval at `1 - alpha / 2` (low by
/// high, high by low), so the coverage is at least `1 - alpha`. The expectation's lower end is
/// kept at a tenth of the estimate at least; with `expected == 0` the lift is undefined and
/// the interval is `(0, infinity)`.
pub(crate) fn lift_interval(
    follows: usize,
    expected: f64,
    expected_se: f64,
    alpha: f64,
) -> (f64, f64) {
    if expected <= 0.0 {
        return (0.0, f64::INFINITY);
    }
    let (low, high) = poisson_interval(follows, alpha / 2.0);
    let z = normal_quantile(1.0 - alpha / 4.0);
    let e_high = expected + z * expected_se;
    let e_low = (expected - z * expected_se).max(0.1 * expected);
    (low / e_high, high / e_low)
}

/// Quantile of the standard normal (Acklam's rational approximation, relative error < 1.2e-9).
pub(super) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// `P(X <= k)` for `X ~ Poisson(mu)`, summed in log space.
pub(super) fn poisson_cdf(k: usize, mu: f64) -> f64 {
    if mu <= 0.0 {
        return 1.0;
    }
    let ln_mu = mu.ln();
    let mut ln_fact = 0.0;
    let terms: Vec<f64> = (0..=k)
        .map(|i| {
            if i > 0 {
                ln_fact += (i as f64).ln();
            }
            -mu + i as f64 * ln_mu - ln_fact
        })
        .collect();
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (max.exp() * terms.iter().map(|t| (t - max).exp()).sum::<f64>()).min(1.0)
}

/// Benjamini-Hochberg adjusted p-values (q-values), in input order.
pub(crate) fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_interval_examples() {
        let (lo, hi) = poisson_interval(10, 0.05);
        assert!((lo - 4.795).abs() < 1e-3 && (hi - 18.390).abs() < 1e-3);
        assert_eq!(poisson_interval(0, 0.05).0, 0.0);
    }

    #[test]
    fn lift_interval_examples() {
        let fixed = lift_interval(10, 2.0, 0.0, 0.05);
        let estimated = lift_interval(10, 2.0, 0.4, 0.05);
        assert!(estimated.0 < fixed.0 && fixed.1 < estimated.1);
        assert!(estimated.0 < 5.0 && 5.0 < estimated.1);
    }

    #[test]
    fn benjamini_hochberg_examples() {
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03]);
        assert!(
            (q[0] - 0.03).abs() < 1e-12
                && (q[1] - 0.04).abs() < 1e-12
                && (q[2] - 0.04).abs() < 1e-12
        );
    }
}
