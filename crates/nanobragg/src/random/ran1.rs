//! The uniform generator: Park–Miller "minimal standard" multiplicative congruential generator
//! (multiplier 16807, modulus 2³¹−1, Schrage factorisation) with a Bays–Durham shuffle table of 32
//! entries, as in Numerical Recipes' `ran1`.
//!
//! # Seed convention
//!
//! The C program keeps the generator's seed in a C `long` (64 bit on Linux) and stores the
//! *negated* command-line value in it: `-seed 123` becomes `seed = -123`, the default mosaic seed is
//! `-12345678`. The generator (re)initialises its shuffle table whenever the stored value is `<= 0`
//! (or the table has never been filled), so the negative value is what starts a fresh stream.
//! [`Ran1::new`] takes that stored value (normally negative); [`Ran1::from_cli_seed`] takes the
//! number as written after `-seed`/`-mosaic_seed`/`-misset_seed` and negates it for you.
//!
//! # Shared state in the C program
//!
//! In C, the shuffle table and its last output are `static` inside the function and therefore shared by
//! every seed variable (noise, mosaic, misset). Because each seed variable starts negative, each stream
//! re-fills the table on its first draw, so a fresh [`Ran1`] per stream reproduces the C values.
//! The one exception: a *positive* stored value (e.g. `-seed -5`, stored as `+5`) does **not**
//! re-initialise in C when the table is already filled by an earlier stream; it continues from that
//! table. Use [`Ran1::reseed`] on the earlier stream's generator to reproduce that case. A fresh
//! generator given a positive value starts exactly like C's very first call would: from seed 1.

/// Multiplier of the Park–Miller generator.
const IA: i64 = 16807;
/// Modulus 2³¹ − 1.
const IM: i64 = 2_147_483_647;
/// Scale from integer state to (0, 1), in double precision as in the C macro.
const AM: f64 = 1.0 / IM as f64;
/// Schrage quotient `IM / IA`.
const IQ: i64 = 127_773;
/// Schrage remainder `IM % IA`.
const IR: i64 = 2836;
/// Number of entries in the shuffle table.
pub const NTAB: usize = 32;
/// Width of one shuffle-table bucket.
const NDIV: i64 = 1 + (IM - 1) / NTAB as i64;
/// Distance of the largest returned value from 1.
const EPS: f64 = 1.2e-7;
/// Largest value returned (compared in double, returned as `f32`).
const RNMX: f64 = 1.0 - EPS;

/// State of one `ran1` stream: the seed/state word, the last shuffled output and the shuffle table.
///
/// Fields mirror the C variables: `idum` (the caller's `long` seed variable, updated in place),
/// `iy` and `iv` (the function's static variables). `iy == 0` means "table not filled yet".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ran1 {
    /// Current generator state (the C caller's seed variable). `<= 0` forces re-initialisation.
    pub idum: i64,
    /// Last value taken from the shuffle table; 0 means the table has not been filled.
    pub iy: i64,
    /// The Bays–Durham shuffle table.
    pub iv: [i64; NTAB],
}

/// One Park–Miller step computed as the C code does with a 64-bit `long` (Schrage's method).
/// Wrapping arithmetic keeps absurd (out of C `int` range) states from panicking; for every state the
/// C program can reach the operations never overflow and are identical to the C ones.
#[inline]
fn lcg_step(idum: i64) -> i64 {
    let k = idum / IQ;
    let mut next = IA
        .wrapping_mul(idum.wrapping_sub(k.wrapping_mul(IQ)))
        .wrapping_sub(IR.wrapping_mul(k));
    if next < 0 {
        next = next.wrapping_add(IM);
    }
    next
}

impl Ran1 {
    /// A generator whose state word is `seed`, **the value the C program stores**, i.e. normally the
    /// negated command-line seed (`-seed 123` → `Ran1::new(-123)`; default mosaic seed →
    /// `Ran1::new(-12345678)`).
    ///
    /// The table is filled lazily on the first draw, as in C. A value `<= 0` seeds with `|seed|`
    /// (0 seeds with 1). A positive value on a fresh generator also seeds with 1, exactly like the C
    /// function's very first call (see the module documentation for positive values after an earlier
    /// stream).
    pub fn new(seed: i64) -> Self {
        Ran1 {
            idum: seed,
            iy: 0,
            iv: [0; NTAB],
        }
    }

    /// A generator for the number written after `-seed`, `-mosaic_seed` or `-misset_seed`
    /// (the C program stores `-atoi(arg)`): `Ran1::from_cli_seed(123) == Ran1::new(-123)`.
    pub fn from_cli_seed(arg: i32) -> Self {
        Ran1::new(-i64::from(arg))
    }

    /// Replace the state word by `seed` but keep the shuffle table, which is what happens in C when a
    /// different seed variable is passed to the shared generator. A value `<= 0` re-initialises on the
    /// next draw (so this equals `*self = Ran1::new(seed)`); a positive value continues with the
    /// current table, as the C program does for e.g. `-seed -5` after the mosaic stream.
    pub fn reseed(&mut self, seed: i64) {
        self.idum = seed;
    }

    /// Fill the shuffle table (8 warm-up steps, then 32 stored steps), as the C code does when the
    /// state word is `<= 0` or the table is empty.
    fn initialise(&mut self) {
        let negated = self.idum.wrapping_neg();
        self.idum = if negated < 1 { 1 } else { negated };
        for j in (0..NTAB + 8).rev() {
            self.idum = lcg_step(self.idum);
            if j < NTAB {
                self.iv[j] = self.idum;
            }
        }
        self.iy = self.iv[0];
    }

    /// Next uniform deviate on (0, 1), as the C `float ran1(long *idum)`.
    ///
    /// The value is computed in double (`(1/(2³¹−1)) · iy`), rounded to `f32`, and values above
    /// `1 − 1.2e-7` (compared in double, so including a rounded `1.0f32`) are replaced by
    /// `(1 − 1.2e-7) as f32` = `1 − 2⁻²³`. Never panics; for seeds outside the C `int` range the first
    /// few values may fall outside (0, 1), as the C arithmetic would give.
    pub fn next_f32(&mut self) -> f32 {
        if self.idum <= 0 || self.iy == 0 {
            self.initialise();
        }
        self.idum = lcg_step(self.idum);
        // For every reachable state `iy / NDIV` is in 0..32; the Euclidean remainder only guards
        // states that C could not index without undefined behaviour.
        let j = (self.iy / NDIV).rem_euclid(NTAB as i64) as usize;
        self.iy = self.iv[j];
        self.iv[j] = self.idum;
        let temp = (AM * self.iy as f64) as f32;
        if f64::from(temp) > RNMX {
            RNMX as f32
        } else {
            temp
        }
    }
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // literals are the C program's %.9g / %.17g output
mod tests {
    use super::*;

    // Values printed by the reference C function through a harness kept outside the repository
    // (/work/ref/build/harness.c; gcc 12.2, x86-64), built with
    //   gcc -O2 -w -o harness harness.c -lm
    // where harness.c does `#define main nanobragg_reference_main`, `#include "nanoBragg.c"` and prints
    // `%.9g` of successive `ran1(&s)` calls (`s` = the argument):
    //   ./harness ran1 -1 12 ; ./harness ran1 -12345678 12 ; ./harness ran1 -123 12
    //   ./harness ran1 -2147483647 40
    const SEED_M1: [f32; 12] = [
        0.415999353,
        0.091964893,
        0.75641048,
        0.52970022,
        0.930436492,
        0.383502066,
        0.653918982,
        0.0668422356,
        0.722660422,
        0.671149373,
        0.383415639,
        0.631634712,
    ];
    const SEED_M12345678: [f32; 12] = [
        0.765989304,
        0.023453664,
        0.589726627,
        0.535101593,
        0.982231438,
        0.693016112,
        0.328146875,
        0.29564169,
        0.849917889,
        0.592261791,
        0.558132648,
        0.534926295,
    ];
    const SEED_M123: [f32; 12] = [
        0.170755535,
        0.538071811,
        0.444127083,
        0.812239647,
        0.575781107,
        0.473043621,
        0.0785275325,
        0.0384897739,
        0.897598445,
        0.888213754,
        0.678602874,
        0.160125047,
    ];

    fn seq(seed: i64, n: usize) -> Vec<f32> {
        let mut r = Ran1::new(seed);
        (0..n).map(|_| r.next_f32()).collect()
    }

    #[test]
    fn matches_c_seed_minus_1() {
        assert_eq!(seq(-1, 12), SEED_M1.to_vec());
    }

    #[test]
    fn matches_c_default_mosaic_seed() {
        assert_eq!(seq(-12_345_678, 12), SEED_M12345678.to_vec());
    }

    #[test]
    fn matches_c_seed_minus_123() {
        assert_eq!(seq(-123, 12), SEED_M123.to_vec());
        assert_eq!(seq(-123, 12), {
            let mut r = Ran1::from_cli_seed(123);
            (0..12).map(|_| r.next_f32()).collect::<Vec<_>>()
        });
    }

    #[test]
    fn state_word_after_twelve_draws_matches_c() {
        // `./harness ran1 SEED 12` also prints the final `idum`.
        let mut r = Ran1::new(-1);
        (0..12).for_each(|_| {
            r.next_f32();
        });
        assert_eq!(r.idum, 1_025_921_153);
        let mut r = Ran1::new(-12_345_678);
        (0..12).for_each(|_| {
            r.next_f32();
        });
        assert_eq!(r.idum, 1_162_045_200);
    }

    #[test]
    fn seed_equal_to_modulus_gives_zero_then_restarts_from_one() {
        // C quirk: state 2^31-1 maps to 0, the table fills with zeros, the first draw is 0.0, then the
        // empty-table check re-initialises from seed 1 (`./harness ran1 -2147483647 40`).
        let got = seq(-2_147_483_647, 13);
        assert_eq!(got[0], 0.0);
        assert_eq!(got[1..].to_vec(), SEED_M1.to_vec());
    }

    #[test]
    fn zero_and_positive_fresh_seed_behave_like_seed_one() {
        assert_eq!(seq(0, 12), SEED_M1.to_vec());
        assert_eq!(seq(7, 12), SEED_M1.to_vec());
    }

    #[test]
    fn reseed_negative_restarts_positive_continues() {
        let mut a = Ran1::new(-5);
        let _ = a.next_f32();
        a.reseed(-1);
        assert_eq!(
            (0..12).map(|_| a.next_f32()).collect::<Vec<_>>(),
            SEED_M1.to_vec()
        );
        // A positive value keeps the table: the output differs from a fresh seed-1 stream.
        let mut b = Ran1::new(-5);
        let _ = b.next_f32();
        let table = b.iv;
        b.reseed(99);
        let _ = b.next_f32();
        assert_ne!(b.iv, Ran1::new(-99).iv);
        assert_eq!(b.iv.iter().filter(|v| !table.contains(v)).count(), 1);
    }

    #[test]
    fn range_and_no_panic_on_extreme_seeds() {
        for &s in &[
            i64::MIN,
            i64::MIN + 1,
            -(1 << 40),
            -2_147_483_647,
            -2_147_483_648,
            i64::MAX,
            -1,
            1,
        ] {
            let mut r = Ran1::new(s);
            for _ in 0..1000 {
                let v = r.next_f32();
                assert!(v.is_finite());
            }
        }
        let mut r = Ran1::new(-7);
        for _ in 0..100_000 {
            let v = r.next_f32();
            assert!(v > 0.0 && v < 1.0);
        }
    }
}
