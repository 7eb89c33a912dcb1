//! Poisson deviates keyed by (seed, stream, pixel): the scalar form, its constants, and the
//! statistical tests. The CUDA form (`kernel/cuda/noise.rs`) runs the same steps on the same
//! constants, so a pixel's count depends only on its mean and key, never on the thread, tile or
//! batch that draws it.
//!
//! Three regimes of the mean λ (photons):
//! * `λ < `[`INVERSION_BELOW`]: inversion of the cumulative distribution with one uniform
//!   (at most [`MAX_INVERSION_STEPS`] terms);
//! * up to [`NORMAL_FROM`]: Hörmann's transformed rejection with squeeze, "PTRS" (W. Hörmann,
//!   "The transformed rejection method for generating Poisson random variables", Insurance:
//!   Mathematics and Economics 12, 1993), two uniforms per trial, at most [`MAX_TRIALS`] trials
//!   (acceptance is above 0.89 for λ ≥ 10, so the cap is never met in practice; if it were, the
//!   count is `⌊λ + ½⌋`);
//! * `λ ≥ `[`NORMAL_FROM`]: `⌊λ + √λ·z + ½⌋` with a Box–Muller normal `z` (the Poisson's
//!   skewness there, λ^−½ ≤ 3.2·10⁻⁴, is below what any detector resolves, and PTRS's
//!   log-likelihood terms of size λ·ln λ would lose digits in f64).
//!
//! `λ ≤ 0` gives 0; NaN gives NaN and `+∞` gives `+∞` (the caller refuses non-finite images).

use super::philox::{philox4x32_10, uniform_from_words};

/// Below this mean, inversion; from it, PTRS.
pub const INVERSION_BELOW: f64 = 10.0;
/// From this mean on, the normal approximation.
pub const NORMAL_FROM: f64 = 1.0e7;
/// Most terms of the inverted cumulative distribution (for λ < 10, P(k ≥ 64) < 10⁻²⁹).
pub const MAX_INVERSION_STEPS: u32 = 64;
/// Most PTRS trials (each trial takes one Philox block).
pub const MAX_TRIALS: u32 = 64;
/// The fourth counter word of every Poisson draw ("POIS"), keeping its blocks apart from any
/// other use of the same key.
pub const DOMAIN: u32 = 0x504F_4953;
/// Below this argument, `ln k!` is summed term by term; from it, Stirling's series.
pub const STIRLING_FROM: f64 = 16.0;
/// Stirling's series of `ln Γ(x)` beyond `(x − ½)ln x − x + ½ln 2π`: `1/(12x) − 1/(360x³) +
/// 1/(1260x⁵) − 1/(1680x⁷)`, the denominators.
pub const STIRLING_DENOMINATORS: [f64; 4] = [12.0, 360.0, 1260.0, 1680.0];
/// `½ ln 2π`.
pub const HALF_LN_TWO_PI: f64 = 0.918_938_533_204_672_8;
/// Hörmann's PTRS constants: `b = B[0] + B[1]·√λ`, `a = A[0] + A[1]·b`,
/// `1/α = INV_ALPHA[0] + INV_ALPHA[1]/(b − INV_ALPHA[2])`, `v_r = V_R[0] − V_R[1]/(b − V_R[2])`.
pub const PTRS_B: [f64; 2] = [0.931, 2.53];
/// See [`PTRS_B`].
pub const PTRS_A: [f64; 2] = [-0.059, 0.02483];
/// See [`PTRS_B`].
pub const PTRS_INV_ALPHA: [f64; 3] = [1.1239, 1.1328, 3.4];
/// See [`PTRS_B`].
pub const PTRS_V_R: [f64; 3] = [0.9277, 3.6224, 2.0];
/// PTRS's proposal `k = ⌊(2a/u_s + b)·U + λ + PTRS_SHIFT⌋`.
pub const PTRS_SHIFT: f64 = 0.43;
/// PTRS accepts at once where `u_s ≥ PTRS_SQUEEZE` and `V ≤ v_r`.
pub const PTRS_SQUEEZE: f64 = 0.07;
/// PTRS rejects at once where `u_s < PTRS_TAIL` and `V > u_s`.
pub const PTRS_TAIL: f64 = 0.013;

/// What keys a noise image: the seed (`-seed`) and a stream (the shot's index in a batch, 0 for
/// one image). The pixel's detector index (`slow·fpixels + fast`) is the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterKey {
    /// The noise seed.
    pub seed: u64,
    /// The stream: a shot's index in its list.
    pub stream: u32,
}

impl CounterKey {
    /// The Philox key words (low, high 32 bits of the seed).
    pub fn words(&self) -> [u32; 2] {
        [self.seed as u32, (self.seed >> 32) as u32]
    }

    /// The Philox counter of `pixel`'s block `round`.
    pub fn counter(&self, pixel: u32, round: u32) -> [u32; 4] {
        [pixel, self.stream, round, DOMAIN]
    }

    /// Two uniforms in (0, 1) from `pixel`'s block `round`.
    pub fn uniforms(&self, pixel: u32, round: u32) -> (f64, f64) {
        let x = philox4x32_10(self.counter(pixel, round), self.words());
        (uniform_from_words(x[0], x[1]), uniform_from_words(x[2], x[3]))
    }
}

/// `ln k!`: the sum of `ln i` below [`STIRLING_FROM`], else Stirling's series to `x⁻⁷`
/// (`x = k + 1`; truncation error below 10⁻¹²).
pub fn ln_factorial(k: f64) -> f64 {
    if k < STIRLING_FROM {
        let mut sum = 0.0;
        let mut i = 2.0;
        while i <= k {
            sum += f64::ln(i);
            i += 1.0;
        }
        return sum;
    }
    let x = k + 1.0;
    let r = 1.0 / x;
    let r2 = r * r;
    let [d0, d1, d2, d3] = STIRLING_DENOMINATORS;
    let series = r * (1.0 / d0 - r2 * (1.0 / d1 - r2 * (1.0 / d2 - r2 / d3)));
    (x - 0.5) * x.ln() - x + HALF_LN_TWO_PI + series
}

/// A Poisson deviate of mean `mean` for `pixel` under `key`.
pub fn poisson_deviate(mean: f64, key: CounterKey, pixel: u32) -> f64 {
    if mean.is_nan() || mean == f64::INFINITY {
        return mean;
    }
    if mean <= 0.0 {
        return 0.0;
    }
    if mean < INVERSION_BELOW {
        return inversion(mean, key.uniforms(pixel, 0).0);
    }
    if mean >= NORMAL_FROM {
        let (u1, u2) = key.uniforms(pixel, 0);
        let z = f64::sqrt(-2.0 * u1.ln()) * f64::cos(std::f64::consts::TAU * u2);
        return f64::max(0.0, f64::floor(mean + mean.sqrt() * z + 0.5));
    }
    ptrs(mean, key, pixel)
}

/// The smallest `k` with `P(X ≤ k) ≥ u`, by summing the probabilities up from `e^−λ`.
fn inversion(mean: f64, u: f64) -> f64 {
    let mut p = f64::exp(-mean);
    let mut cumulative = p;
    let mut k = 0u32;
    while u > cumulative && k < MAX_INVERSION_STEPS {
        k += 1;
        p *= mean / f64::from(k);
        cumulative += p;
    }
    f64::from(k)
}

/// PTRS's constants for mean `λ`: `(b, a, 1/α, v_r)`.
pub fn ptrs_constants(mean: f64) -> (f64, f64, f64, f64) {
    let b = PTRS_B[0] + PTRS_B[1] * mean.sqrt();
    let a = PTRS_A[0] + PTRS_A[1] * b;
    let inv_alpha = PTRS_INV_ALPHA[0] + PTRS_INV_ALPHA[1] / (b - PTRS_INV_ALPHA[2]);
    let v_r = PTRS_V_R[0] - PTRS_V_R[1] / (b - PTRS_V_R[2]);
    (b, a, inv_alpha, v_r)
}

/// Hörmann's PTRS: trial `t` draws `(U, V)` from block `t`.
fn ptrs(mean: f64, key: CounterKey, pixel: u32) -> f64 {
    let (b, a, inv_alpha, v_r) = ptrs_constants(mean);
    let ln_mean = mean.ln();
    for trial in 0..MAX_TRIALS {
        let (u0, v) = key.uniforms(pixel, trial);
        let u = u0 - 0.5;
        let us = 0.5 - u.abs();
        let k = f64::floor((2.0 * a / us + b) * u + mean + PTRS_SHIFT);
        if us >= PTRS_SQUEEZE && v <= v_r {
            return k;
        }
        if k < 0.0 || (us < PTRS_TAIL && v > us) {
            continue;
        }
        let lhs = v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln();
        if lhs <= -mean + k * ln_mean - ln_factorial(k) {
            return k;
        }
    }
    f64::floor(mean + 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: CounterKey = CounterKey { seed: 0x1234_5678_9abc, stream: 3 };

    /// Mean and variance of `n` deviates of `mean` (pixels `0..n`).
    fn moments(mean: f64, n: u32) -> (f64, f64) {
        let draws: Vec<f64> = (0..n).map(|p| poisson_deviate(mean, KEY, p)).collect();
        let m = draws.iter().sum::<f64>() / f64::from(n);
        let v = draws.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / f64::from(n - 1);
        (m, v)
    }

    #[test]
    fn mean_and_variance_match_poisson_in_every_regime() {
        let n = 200_000;
        for &lambda in &[0.02, 0.5, 3.0, 9.99, 10.0, 37.5, 400.0, 6.5e4, 2.0e6, 3.0e7, 5.0e9] {
            let (m, v) = moments(lambda, n);
            let n = f64::from(n);
            // Standard errors of the sample mean and variance of a Poisson (fourth central
            // moment λ + 3λ²).
            let se_mean = (lambda / n).sqrt();
            let se_var = ((lambda + 2.0 * lambda * lambda) / n).sqrt();
            assert!((m - lambda).abs() < 5.0 * se_mean, "λ = {lambda}: mean {m}");
            assert!((v - lambda).abs() < 5.0 * se_var, "λ = {lambda}: variance {v}");
        }
    }

    #[test]
    fn counts_follow_the_poisson_distribution() {
        // χ² of the histogram against the pmf (p(k) = p(k−1)·λ/k), bins with ≥ 20 expected.
        let n = 100_000u32;
        for &lambda in &[1.3, 9.5, 12.0, 55.0] {
            let mut counts = std::collections::BTreeMap::<u64, f64>::new();
            for p in 0..n {
                *counts.entry(poisson_deviate(lambda, KEY, p) as u64).or_default() += 1.0;
            }
            let (mut chi2, mut dof, mut p, mut tail_obs, mut tail_exp) = (0.0, 0.0f64, (-lambda).exp(), 0.0, 0.0);
            for k in 0..(lambda * 4.0 + 40.0) as u64 {
                if k > 0 {
                    p *= lambda / k as f64;
                }
                let expected = p * f64::from(n);
                let observed = counts.get(&k).copied().unwrap_or(0.0);
                if expected >= 20.0 {
                    chi2 += (observed - expected).powi(2) / expected;
                    dof += 1.0;
                } else {
                    tail_obs += observed;
                    tail_exp += expected;
                }
            }
            chi2 += (tail_obs - tail_exp).powi(2) / tail_exp.max(1.0);
            // χ² with dof degrees of freedom: mean dof, sd √(2 dof); 5 sd.
            assert!(chi2 < dof + 5.0 * (2.0 * dof).sqrt(), "λ = {lambda}: χ² {chi2} on {dof} bins");
        }
    }

    #[test]
    fn a_pixels_count_depends_only_on_its_key() {
        let a = poisson_deviate(250.0, KEY, 77);
        assert_eq!(a, poisson_deviate(250.0, KEY, 77));
        let others = [
            CounterKey { seed: KEY.seed + 1, ..KEY },
            CounterKey { stream: KEY.stream + 1, ..KEY },
        ];
        // Over many pixels, another seed or stream gives other counts.
        for other in others {
            let same = (0..1000).filter(|&p| poisson_deviate(250.0, KEY, p) == poisson_deviate(250.0, other, p)).count();
            assert!(same < 100, "{same} of 1000 equal");
        }
    }

    #[test]
    fn edge_means_are_defined() {
        assert_eq!(poisson_deviate(0.0, KEY, 1), 0.0);
        assert_eq!(poisson_deviate(-4.0, KEY, 1), 0.0);
        assert!(poisson_deviate(f64::NAN, KEY, 1).is_nan());
        assert_eq!(poisson_deviate(f64::INFINITY, KEY, 1), f64::INFINITY);
        assert!(poisson_deviate(f64::MAX, KEY, 1).is_finite());
        assert!(poisson_deviate(1e-300, KEY, 1) == 0.0);
    }

    #[test]
    fn ln_factorial_matches_exact_values() {
        // ln 20! = ln 2432902008176640000; ln 15! = ln 1307674368000.
        assert!((ln_factorial(20.0) - 2_432_902_008_176_640_000f64.ln()).abs() < 1e-12);
        assert!((ln_factorial(15.0) - 1_307_674_368_000f64.ln()).abs() < 1e-12);
        assert!((ln_factorial(16.0) - 20_922_789_888_000f64.ln()).abs() < 1e-12);
        assert_eq!(ln_factorial(0.0), 0.0);
        assert!((HALF_LN_TWO_PI - 0.5 * std::f64::consts::TAU.ln()).abs() <= f64::EPSILON);
        assert_eq!(ln_factorial(1.0), 0.0);
    }
}
