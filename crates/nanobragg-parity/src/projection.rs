//! Seeded random projection: reduces a tensor output (e.g. an image) to a scalar.
//!
//! For an output `y` with `n > 1` elements the checked scalar is `s = Σ_k w_k y_k` with
//! `w_k` uniform in `[-1, 1)`, drawn from [`SplitMix64`] seeded with
//! [`GradcheckConfig::projection_seed`](crate::GradcheckConfig::projection_seed), in row-major
//! element order. A wrong gradient of any output element changes `∂s/∂x` unless its error is
//! orthogonal to the (random) weights, which has probability zero. An output with exactly one
//! element is used as is (`w = [1]`), so `s` is the function value.

/// The SplitMix64 generator (Steele, Lea & Flood 2014): tiny, fast, and good enough for
/// projection weights. Deterministic across platforms.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// Generator with the given seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[-1, 1)`.
    pub fn next_symmetric(&mut self) -> f64 {
        2.0 * self.next_unit() - 1.0
    }
}

/// Projection weights for an output of `n` elements (see the module docs).
pub fn projection_weights(n: usize, seed: u64) -> Vec<f64> {
    if n == 1 {
        return vec![1.0];
    }
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| rng.next_symmetric()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_reference_sequence() {
        // Reference values of SplitMix64 seeded with 1234567 (from the public-domain C code).
        let mut g = SplitMix64::new(1234567);
        assert_eq!(g.next_u64(), 6457827717110365317);
        assert_eq!(g.next_u64(), 3203168211198807973);
        assert_eq!(g.next_u64(), 9817491932198370423);
    }

    #[test]
    fn weights_are_deterministic_and_in_range() {
        let a = projection_weights(1000, 7);
        assert_eq!(a, projection_weights(1000, 7));
        assert_ne!(a, projection_weights(1000, 8));
        assert!(a.iter().all(|w| (-1.0..1.0).contains(w)));
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!(mean.abs() < 0.1);
    }

    #[test]
    fn single_element_output_is_not_projected() {
        assert_eq!(projection_weights(1, 99), vec![1.0]);
    }
}
