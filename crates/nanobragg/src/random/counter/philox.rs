//! Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3",
//! SC 2011): a counter-based generator. Block `i` of a stream is a pure function of
//! `(counter, key)`, so any pixel's random numbers can be computed by any thread in any order.
//!
//! The round constants are shared with the CUDA form (`kernel/cuda/noise.rs`), which must give
//! the same bits; the known-answer vectors of the authors' Random123 library pin this form.

/// Multiplier of the first word pair in each round.
pub const M0: u32 = 0xD251_1F53;
/// Multiplier of the second word pair in each round.
pub const M1: u32 = 0xCD9E_8D57;
/// Weyl increment of the first key word between rounds (golden ratio).
pub const W0: u32 = 0x9E37_79B9;
/// Weyl increment of the second key word between rounds (√3 − 1).
pub const W1: u32 = 0xBB67_AE85;
/// Rounds of Philox4x32-10.
pub const ROUNDS: usize = 10;

/// `(high, low)` words of the 64-bit product `a·b`.
#[inline]
fn mul_hi_lo(a: u32, b: u32) -> (u32, u32) {
    let p = u64::from(a) * u64::from(b);
    ((p >> 32) as u32, p as u32)
}

/// One Philox4x32 round on `x` with key `k`.
#[inline]
fn round(x: [u32; 4], k: [u32; 2]) -> [u32; 4] {
    let (hi0, lo0) = mul_hi_lo(M0, x[0]);
    let (hi1, lo1) = mul_hi_lo(M1, x[2]);
    [hi1 ^ x[1] ^ k[0], lo1, hi0 ^ x[3] ^ k[1], lo0]
}

/// The Philox4x32-10 block of `counter` under `key`.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut x = counter;
    let mut k = key;
    for r in 0..ROUNDS {
        if r > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        x = round(x, k);
    }
    x
}

/// 2⁻⁵².
pub const TWO_POW_MINUS_52: f64 = 1.0 / 4_503_599_627_370_496.0;
/// 2²⁶, the weight of the first word's bits in [`uniform_from_words`].
pub const TWO_POW_26: f64 = 67_108_864.0;
/// Bits dropped from each word in [`uniform_from_words`] (26 kept of each).
pub const WORD_SHIFT: u32 = 6;

/// A uniform deviate in the open interval (0, 1) from two words: the top 26 bits of `a` and of
/// `b` make a 52-bit integer `m`, and the value is `(m + ½)·2⁻⁵²` — exact in f64 (53 significant
/// bits), so every form (CPU, CUDA) gives the same bits, and never 0 or 1 (its logarithm is
/// finite).
#[inline]
pub fn uniform_from_words(a: u32, b: u32) -> f64 {
    (f64::from(a >> WORD_SHIFT) * TWO_POW_26 + f64::from(b >> WORD_SHIFT) + 0.5) * TWO_POW_MINUS_52
}

#[cfg(test)]
mod tests {
    use super::*;

    // Random123's published known-answer vectors for Philox4x32-10 (its tests/kat_vectors):
    // zeros, all ones, and the hexadecimal digits of π.
    #[test]
    fn random123_known_answers() {
        assert_eq!(philox4x32_10([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
        assert_eq!(
            philox4x32_10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    fn uniforms_stay_inside_the_open_interval() {
        assert_eq!(uniform_from_words(0, 0), 0.5 * TWO_POW_MINUS_52);
        assert_eq!(uniform_from_words(u32::MAX, u32::MAX), 1.0 - 0.5 * TWO_POW_MINUS_52);
        assert!(uniform_from_words(u32::MAX, u32::MAX) < 1.0);
        assert_eq!(uniform_from_words(1 << 31, 0), 0.5 + 0.5 * TWO_POW_MINUS_52);
        // The low bits dropped do not matter; the kept ones do.
        assert_eq!(uniform_from_words(63, 63), uniform_from_words(0, 0));
        assert!(uniform_from_words(0, 64) > uniform_from_words(0, 0));
    }
}
