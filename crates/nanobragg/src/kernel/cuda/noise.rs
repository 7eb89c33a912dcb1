//! Counter-based Poisson noise on the device: the CUDA form of [`crate::random::counter`]
//! (Philox4x32-10 and the three-regime sampler of [`crate::random::counter::poisson`]), one
//! thread per pixel, on the same constants. The integer stream is bit-identical to the host
//! form; the sampler works in f64 whatever the image's float, so counts differ from the host's
//! only where the device's `exp`/`ln` round differently in the last bit at a decision boundary.

use crate::random::counter::philox::{M0, M1, ROUNDS, TWO_POW_26, TWO_POW_MINUS_52, W0, W1, WORD_SHIFT};
use crate::random::counter::poisson::{
    DOMAIN, HALF_LN_TWO_PI, INVERSION_BELOW, MAX_INVERSION_STEPS, MAX_TRIALS, NORMAL_FROM, PTRS_A, PTRS_B,
    PTRS_INV_ALPHA, PTRS_SHIFT, PTRS_SQUEEZE, PTRS_TAIL, PTRS_V_R, STIRLING_DENOMINATORS, STIRLING_FROM,
};
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// The Philox key and stream of a draw.
#[derive(CubeType)]
pub(super) struct NoiseKey {
    /// Low word of the seed.
    key0: u32,
    /// High word of the seed.
    key1: u32,
    /// The stream (shot index).
    stream: u32,
}

/// One Philox4x32 round on `(x0, x1, x2, x3)` with key `(k0, k1)`.
#[cube]
fn round(x0: u32, x1: u32, x2: u32, x3: u32, k0: u32, k1: u32) -> (u32, u32, u32, u32) {
    let m0 = u32::cast_from(comptime!(M0));
    let m1 = u32::cast_from(comptime!(M1));
    let hi0 = u32::mul_hi(m0, x0);
    let lo0 = m0 * x0;
    let hi1 = u32::mul_hi(m1, x2);
    let lo1 = m1 * x2;
    (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0)
}

/// Two uniforms in (0, 1) from block `block` of `pixel` (the host's `CounterKey::uniforms`):
/// ten rounds, the key bumped by the Weyl constants between rounds.
#[cube]
fn uniforms(pixel: u32, block: u32, key: &NoiseKey) -> (f64, f64) {
    let mut x0 = pixel;
    let mut x1 = key.stream;
    let mut x2 = block;
    let mut x3 = u32::cast_from(comptime!(DOMAIN));
    let mut k0 = key.key0;
    let mut k1 = key.key1;
    let (y0, y1, y2, y3) = round(x0, x1, x2, x3, k0, k1);
    x0 = y0;
    x1 = y1;
    x2 = y2;
    x3 = y3;
    #[unroll]
    for _ in 1..comptime!(ROUNDS as u32) {
        k0 += u32::cast_from(comptime!(W0));
        k1 += u32::cast_from(comptime!(W1));
        let (y0, y1, y2, y3) = round(x0, x1, x2, x3, k0, k1);
        x0 = y0;
        x1 = y1;
        x2 = y2;
        x3 = y3;
    }
    (unit(x0, x1), unit(x2, x3))
}

/// `(top 26 bits of a · 2²⁶ + top 26 bits of b + ½)·2⁻⁵²` (the host's `uniform_from_words`).
#[cube]
fn unit(a: u32, b: u32) -> f64 {
    let shift = u32::cast_from(comptime!(WORD_SHIFT));
    (f64::cast_from(a >> shift) * f64::cast_from(comptime!(TWO_POW_26)) + f64::cast_from(b >> shift) + 0.5)
        * f64::cast_from(comptime!(TWO_POW_MINUS_52))
}

/// `ln k!` (the host's `ln_factorial`).
#[cube]
fn ln_factorial(k: f64) -> f64 {
    let mut result = 0.0f64;
    if k < f64::cast_from(comptime!(STIRLING_FROM)) {
        let mut i = 2.0f64;
        while i <= k {
            result += f64::ln(i);
            i += 1.0;
        }
    } else {
        let x = k + 1.0;
        let r = 1.0 / x;
        let r2 = r * r;
        let d0 = f64::cast_from(comptime!(STIRLING_DENOMINATORS[0]));
        let d1 = f64::cast_from(comptime!(STIRLING_DENOMINATORS[1]));
        let d2 = f64::cast_from(comptime!(STIRLING_DENOMINATORS[2]));
        let d3 = f64::cast_from(comptime!(STIRLING_DENOMINATORS[3]));
        let series = r * (1.0 / d0 - r2 * (1.0 / d1 - r2 * (1.0 / d2 - r2 / d3)));
        result = (x - 0.5) * f64::ln(x) - x + f64::cast_from(comptime!(HALF_LN_TWO_PI)) + series;
    }
    result
}

/// The host's `inversion`: the smallest k with P(X ≤ k) ≥ u.
#[cube]
fn inversion(mean: f64, u: f64) -> f64 {
    let mut p = f64::exp(-mean);
    let mut cumulative = p;
    let mut k = 0u32;
    while u > cumulative && k < comptime!(MAX_INVERSION_STEPS) {
        k += 1;
        p *= mean / f64::cast_from(k);
        cumulative += p;
    }
    f64::cast_from(k)
}

/// The host's `ptrs` (Hörmann's transformed rejection with squeeze).
#[cube]
fn ptrs(mean: f64, pixel: u32, key: &NoiseKey) -> f64 {
    let b = f64::cast_from(comptime!(PTRS_B[0])) + f64::cast_from(comptime!(PTRS_B[1])) * f64::sqrt(mean);
    let a = f64::cast_from(comptime!(PTRS_A[0])) + f64::cast_from(comptime!(PTRS_A[1])) * b;
    let inv_alpha = f64::cast_from(comptime!(PTRS_INV_ALPHA[0]))
        + f64::cast_from(comptime!(PTRS_INV_ALPHA[1])) / (b - f64::cast_from(comptime!(PTRS_INV_ALPHA[2])));
    let v_r = f64::cast_from(comptime!(PTRS_V_R[0]))
        - f64::cast_from(comptime!(PTRS_V_R[1])) / (b - f64::cast_from(comptime!(PTRS_V_R[2])));
    let ln_mean = f64::ln(mean);
    let mut result = f64::floor(mean + 0.5);
    let mut trial = 0u32;
    while trial < comptime!(MAX_TRIALS) {
        let (u0, v) = uniforms(pixel, trial, key);
        trial += 1;
        let u = u0 - 0.5;
        let us = 0.5 - f64::abs(u);
        let k = f64::floor((2.0 * a / us + b) * u + mean + f64::cast_from(comptime!(PTRS_SHIFT)));
        if us >= f64::cast_from(comptime!(PTRS_SQUEEZE)) && v <= v_r {
            result = k;
            break;
        }
        if k >= 0.0 && !(us < f64::cast_from(comptime!(PTRS_TAIL)) && v > us) {
            let lhs = f64::ln(v) + f64::ln(inv_alpha) - f64::ln(a / (us * us) + b);
            if lhs <= -mean + k * ln_mean - ln_factorial(k) {
                result = k;
                break;
            }
        }
    }
    result
}

/// The host's `poisson_deviate`.
#[cube]
fn poisson_deviate(mean: f64, pixel: u32, key: &NoiseKey) -> f64 {
    let mut result = mean;
    // NaN and +∞ are returned as they are.
    if mean == mean && mean < f64::INFINITY {
        if mean <= 0.0 {
            result = 0.0;
        } else if mean < f64::cast_from(comptime!(INVERSION_BELOW)) {
            let (u, _v) = uniforms(pixel, 0u32, key);
            result = inversion(mean, u);
        } else if mean >= f64::cast_from(comptime!(NORMAL_FROM)) {
            let (u1, u2) = uniforms(pixel, 0u32, key);
            let z = f64::sqrt(-2.0 * f64::ln(u1)) * f64::cos(f64::cast_from(comptime!(std::f64::consts::TAU)) * u2);
            result = f64::max(0.0, f64::floor(mean + f64::sqrt(mean) * z + 0.5));
        } else {
            result = ptrs(mean, pixel, key);
        }
    }
    result
}

/// `output[i]` = a Poisson deviate of `means[i]` for detector pixel `pixels[i]` (`indexed`) or
/// `first + i`, for the first `count` units.
#[cube(launch)]
pub(super) fn poisson_kernel<F: Float>(
    means: &Array<F>,
    pixels: &Array<u32>,
    output: &mut Array<F>,
    first: u32,
    count: u32,
    key0: u32,
    key1: u32,
    stream: u32,
    #[comptime] indexed: bool,
) {
    let key = NoiseKey { key0, key1, stream };
    let i = ABSOLUTE_POS;
    if i >= usize::cast_from(count) {
        terminate!();
    }
    let mut pixel = first + u32::cast_from(i);
    if indexed {
        pixel = pixels[i];
    }
    output[i] = F::cast_from(poisson_deviate(f64::cast_from(means[i]), pixel, &key));
}
