//! Deviates built on [`Ran1`]: Gaussian (Box–Muller, polar form), Poisson (direct method /
//! Lorentzian rejection / Gaussian approximation), `ln Γ`, and random unit vectors.
//!
//! Every function reproduces the C program's single/double precision mix bit for bit: `ran1`,
//! `gaussdev`, `poidev` and `gammln` return `float` in C and keep their intermediate variables in
//! `float`, while library calls (`exp`, `log`, `sqrt`, `tan`) are evaluated in double on the promoted
//! `float` and rounded back when stored.
//!
//! The C functions keep state in `static` variables (the spare Gaussian deviate, the Poisson
//! pre-computations for the last mean). Here that state lives in [`Deviates`], together with the
//! uniform generator it draws from.
//!
//! All rejection loops terminate for every stream the C generator can produce; as a guard against
//! pathological inputs each loop also stops after [`MAX_TRIES`] rejections (documented per function),
//! so no input can hang or panic.

use super::ran1::Ran1;

/// Upper bound on the iterations of any rejection loop. With the C generator the probability of
/// reaching it is far below 10⁻¹⁰⁰⁰; it exists only so that no input can loop forever.
pub const MAX_TRIES: u32 = 1_000_000;

/// The Poisson generator's cached pre-computations for the last mean (C: `static float sq, alxm, g,
/// oldm`). Initial value as in C: all zero except `oldm = -1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoissonCache {
    /// `sqrt(2·mean)` (rejection method).
    pub sq: f32,
    /// `ln(mean)` (rejection method).
    pub alxm: f32,
    /// `exp(-mean)` (direct method) or `mean·ln(mean) − lnΓ(mean+1)` (rejection method).
    pub g: f32,
    /// The mean these values belong to.
    pub oldm: f32,
}

impl Default for PoissonCache {
    fn default() -> Self {
        PoissonCache {
            sq: 0.0,
            alxm: 0.0,
            g: 0.0,
            oldm: -1.0,
        }
    }
}

/// A uniform stream plus the state the C deviate functions keep between calls.
///
/// In the C program `gaussdev`'s spare deviate and `poidev`'s cache are process-wide; `main()` only
/// uses them from the noise loop, so one fresh [`Deviates`] per noise image reproduces it.
#[derive(Clone, Debug, PartialEq)]
pub struct Deviates {
    /// The uniform generator all deviates draw from.
    pub rng: Ran1,
    /// Spare Gaussian deviate from the last Box–Muller pair (C: `iset`/`gset`).
    pub gauss_spare: Option<f32>,
    /// Poisson pre-computations (C: `poidev`'s statics).
    pub poisson: PoissonCache,
}

impl Deviates {
    /// Fresh deviate state on a new [`Ran1`] stream. `seed` is the value the C program stores
    /// (normally negative, e.g. `-123` for `-seed 123`); see [`Ran1::new`].
    pub fn new(seed: i64) -> Self {
        Deviates::from_rng(Ran1::new(seed))
    }

    /// Fresh deviate state (no spare Gaussian, initial Poisson cache) on an existing stream.
    pub fn from_rng(rng: Ran1) -> Self {
        Deviates {
            rng,
            gauss_spare: None,
            poisson: PoissonCache::default(),
        }
    }

    /// One uniform deviate on (0, 1) (C `ran1`).
    pub fn ran1(&mut self) -> f32 {
        self.rng.next_f32()
    }

    /// Standard normal deviate (mean 0, rms 1), C `gaussdev`.
    ///
    /// Polar Box–Muller: draws `v1 = 2u−1`, `v2 = 2u−1` (computed in double, stored as `f32`) until
    /// `0 < v1²+v2² < 1` (sum in `f32`), returns `v2·fac` and keeps `v1·fac` for the next call, with
    /// `fac = sqrt(−2 ln r² / r²)` evaluated in double and stored as `f32`.
    /// Returns 0.0 (keeping no spare) if [`MAX_TRIES`] pairs are rejected, which the C generator never
    /// does.
    pub fn gaussdev(&mut self) -> f32 {
        if let Some(spare) = self.gauss_spare.take() {
            return spare;
        }
        for _ in 0..MAX_TRIES {
            let v1 = (2.0 * f64::from(self.ran1()) - 1.0) as f32;
            let v2 = (2.0 * f64::from(self.ran1()) - 1.0) as f32;
            let rsq: f32 = v1 * v1 + v2 * v2;
            if rsq >= 1.0 || rsq == 0.0 {
                continue;
            }
            let r = f64::from(rsq);
            let fac = (-2.0 * r.ln() / r).sqrt() as f32;
            self.gauss_spare = Some(v1 * fac);
            return v2 * fac;
        }
        0.0
    }

    /// Poisson deviate with mean `xm` (photons), C `poidev`; the result is a whole number stored as
    /// `f32` except in the Gaussian branch.
    ///
    /// * `xm > 1e6`: `xm + sqrt(xm)·N(0,1)` in double, rounded to `f32` (not an integer; can be
    ///   negative only for absurd draws). Uses [`Deviates::gaussdev`], so it consumes two uniforms
    ///   every other call.
    /// * `xm < 12`: direct method — multiply uniforms (in `f32`) until the product drops to
    ///   `exp(−xm)` (stored as `f32`) or below; the count is the deviate. Negative means give 0.
    ///   C quirk reproduced: the cache starts at `oldm = −1, g = 0`, so while no other mean has been
    ///   used, a mean of exactly `−1.0` multiplies until the `f32` product underflows to 0 and
    ///   returns a count of about 100–150 instead of 0.
    /// * otherwise: rejection with a Lorentzian comparison function, using the `f32` cache
    ///   `sq = sqrt(2xm)`, `alxm = ln xm`, `g = xm·alxm − lnΓ(xm+1)` (see [`gammln`]).
    ///   A NaN mean lands here and returns NaN after two uniforms, as in C.
    ///
    /// The cache is recomputed only when `xm` differs from the previous mean, exactly as in C.
    /// If [`MAX_TRIES`] rejections occur (never with the C generator) the current candidate count is
    /// returned.
    // The negated comparisons keep the C loops' behaviour for NaN.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn poidev(&mut self, xm: f32) -> f32 {
        if f64::from(xm) > 1.0e6 {
            let x = f64::from(xm);
            return (x + x.sqrt() * f64::from(self.gaussdev())) as f32;
        }
        if f64::from(xm) < 12.0 {
            if xm != self.poisson.oldm {
                self.poisson.oldm = xm;
                self.poisson.g = f64::from(-xm).exp() as f32;
            }
            let g = self.poisson.g;
            let mut em: f32 = -1.0;
            let mut t: f32 = 1.0;
            // The product strictly decreases (each factor is <= 1 − 2⁻²³) and reaches 0 by
            // underflow, so this loop ends; the bound is only a guard.
            for _ in 0..MAX_TRIES {
                em += 1.0;
                t *= self.ran1();
                if !(t > g) {
                    break;
                }
            }
            return em;
        }
        if xm != self.poisson.oldm {
            self.poisson.oldm = xm;
            self.poisson.sq = (2.0 * f64::from(xm)).sqrt() as f32;
            self.poisson.alxm = f64::from(xm).ln() as f32;
            self.poisson.g = xm * self.poisson.alxm - gammln((f64::from(xm) + 1.0) as f32);
        }
        let PoissonCache { sq, alxm, g, .. } = self.poisson;
        let mut em: f32 = 0.0;
        for _ in 0..MAX_TRIES {
            let mut y: f32 = 0.0;
            for _ in 0..MAX_TRIES {
                y = (std::f64::consts::PI * f64::from(self.ran1())).tan() as f32;
                em = sq * y + xm;
                if !(f64::from(em) < 0.0) {
                    break;
                }
            }
            em = em.floor();
            let ratio = (em * alxm - gammln((f64::from(em) + 1.0) as f32) - g) as f64;
            let t = (0.9 * (1.0 + f64::from(y * y)) * ratio.exp()) as f32;
            if !(self.ran1() > t) {
                break;
            }
        }
        em
    }
}

/// `ln Γ(xx)` by Lanczos' series with the six Numerical Recipes coefficients (C `gammln`):
/// argument and result are `f32`, the series is summed in double. Intended for `xx > 0`;
/// non-positive or NaN arguments return NaN or ±∞ (no panic), as in C.
pub fn gammln(xx: f32) -> f32 {
    const COF: [f64; 6] = [
        76.180_091_729_471_46,
        -86.505_320_329_416_77,
        24.014_098_240_830_91,
        -1.231_739_572_450_155,
        0.120_865_097_386_617_9e-2,
        -0.539_523_938_495_3e-5,
    ];
    let x = f64::from(xx);
    let mut y = x;
    let mut tmp = x + 5.5;
    tmp -= (x + 0.5) * tmp.ln();
    let mut ser = 1.000_000_000_190_015;
    for c in COF {
        y += 1.0;
        ser += c / y;
    }
    (-tmp + (2.506_628_274_631_000_5 * ser / x).ln()) as f32
}

/// A random unit vector and a magnitude, C `uniform3Ddev`.
///
/// Draws points `2.1·(u − 0.5)` per axis (double, stored `f32`) in a cube until the `f32` length
/// `dr` satisfies `0.01 <= dr <= 1`, then returns `([dx, dy, dz] / dr, dr)` (all `f32`). Not used by
/// the C program's `main()`, provided for completeness. After [`MAX_TRIES`] rejections (never with
/// the C generator) it returns `([0, 0, 1], 1)`.
pub fn uniform3d_dev(rng: &mut Ran1) -> ([f32; 3], f32) {
    for _ in 0..MAX_TRIES {
        let dx = (2.1 * (f64::from(rng.next_f32()) - 0.5)) as f32;
        let dy = (2.1 * (f64::from(rng.next_f32()) - 0.5)) as f32;
        let dz = (2.1 * (f64::from(rng.next_f32()) - 0.5)) as f32;
        let dr = f64::from(dx * dx + dy * dy + dz * dz).sqrt() as f32;
        if dr > 1.0 || f64::from(dr) < 1e-2 {
            continue;
        }
        return ([dx / dr, dy / dr, dz / dr], dr);
    }
    ([0.0, 0.0, 1.0], 1.0)
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // literals are the C program's %.9g / %.17g output
mod tests {
    use super::*;

    // Every expected value below was printed (`%.9g`) by the reference C functions through a harness
    // kept outside the repository (/work/ref/build/harness.c; gcc 12.2, x86-64):
    //   gcc -O2 -w -o harness harness.c -lm
    // harness.c does `#define main nanobragg_reference_main` + `#include "nanoBragg.c"` and calls the
    // functions in one process per command (so the C statics start fresh, like a new `Deviates`).

    fn draws(dev: &mut Deviates, xm: f32, n: usize) -> Vec<f32> {
        (0..n).map(|_| dev.poidev(xm)).collect()
    }

    #[test]
    fn gaussdev_matches_c() {
        // ./harness gauss -1 10 ; ./harness gauss -123 10
        let c_m1: [f32; 10] = [
            -0.836853981,
            -0.172279969,
            0.187117606,
            1.61543977,
            -0.17677407,
            0.653144717,
            -0.546363592,
            0.194145709,
            0.92570889,
            1.20432079,
        ];
        let c_m123: [f32; 10] = [
            0.147312477,
            -1.27395606,
            1.32809377,
            -0.237652302,
            -0.906046093,
            2.54712152,
            -0.909851849,
            0.478123337,
            -0.375762016,
            0.456294537,
        ];
        let mut d = Deviates::new(-1);
        assert_eq!(
            (0..10).map(|_| d.gaussdev()).collect::<Vec<_>>(),
            c_m1.to_vec()
        );
        let mut d = Deviates::new(-123);
        assert_eq!(
            (0..10).map(|_| d.gaussdev()).collect::<Vec<_>>(),
            c_m123.to_vec()
        );
    }

    #[test]
    fn poidev_matches_c_one_shared_stream() {
        // ./harness poi -42 8 0.5 5 11.9 12 50 1000 2e6   (8 draws per mean, one stream, in order)
        let expected: [(f32, [f32; 8]); 7] = [
            (0.5, [0., 0., 1., 1., 0., 1., 0., 0.]),
            (5.0, [4., 4., 5., 4., 5., 7., 4., 6.]),
            (11.9, [11., 11., 10., 10., 12., 10., 14., 13.]),
            (12.0, [11., 14., 14., 11., 8., 10., 13., 11.]),
            (50.0, [57., 40., 58., 51., 54., 58., 48., 48.]),
            (1000.0, [980., 1005., 1023., 977., 997., 997., 1008., 1035.]),
            (
                2e6,
                [
                    2003134.5, 2000869.62, 2000233.0, 2002015.5, 1998643.25, 1999613.0, 2000632.88,
                    1998856.38,
                ],
            ),
        ];
        let mut d = Deviates::new(-42);
        for (xm, want) in expected {
            assert_eq!(draws(&mut d, xm, 8), want.to_vec(), "mean {xm}");
        }
    }

    #[test]
    fn poidev_matches_c_fresh_stream_per_mean() {
        // for m in 0.5 5 11.9 12 50 1000 2e6; do ./harness poi -7 6 $m; done
        let expected: [(f32, [f32; 6]); 7] = [
            (0.5, [0., 0., 1., 1., 2., 1.]),
            (5.0, [5., 10., 4., 9., 3., 2.]),
            (11.9, [13., 17., 8., 18., 14., 15.]),
            (12.0, [13., 4., 11., 15., 10., 14.]),
            (50.0, [54., 35., 48., 56., 47., 55.]),
            (1000.0, [1018., 933., 991., 1031., 986., 1025.]),
            (
                2e6,
                [
                    1999729.12, 1998571.5, 1999318.5, 2003051.75, 1999534.62, 2000196.62,
                ],
            ),
        ];
        for (xm, want) in expected {
            let mut d = Deviates::new(-7);
            assert_eq!(draws(&mut d, xm, 6), want.to_vec(), "mean {xm}");
        }
    }

    #[test]
    fn poidev_edge_means_match_c() {
        // ./harness poi -9 4 -1 -1 3 -1 0 -2.5 nan 1e6 1000000.1 inf 13
        let mut d = Deviates::new(-9);
        // Initial cache quirk: g = 0 while oldm == -1, so a mean of -1 counts until underflow.
        assert_eq!(draws(&mut d, -1.0, 4), vec![117., 108., 101., 106.]);
        assert_eq!(draws(&mut d, -1.0, 4), vec![105., 112., 106., 106.]);
        assert_eq!(draws(&mut d, 3.0, 4), vec![3., 4., 5., 2.]);
        assert_eq!(draws(&mut d, -1.0, 4), vec![0.; 4]);
        assert_eq!(draws(&mut d, 0.0, 4), vec![0.; 4]);
        assert_eq!(draws(&mut d, -2.5, 4), vec![0.; 4]);
        assert!(draws(&mut d, f32::NAN, 4).iter().all(|v| v.is_nan()));
        assert_eq!(
            draws(&mut d, 1e6, 4),
            vec![1001999., 1000892., 1000038., 998850.]
        );
        assert_eq!(
            draws(&mut d, 1000000.1, 4),
            vec![999529., 1000382.19, 1000672.12, 1000113.44]
        );
        let inf = draws(&mut d, f32::INFINITY, 4);
        assert_eq!(inf[0], f32::INFINITY);
        assert!(inf[1..].iter().all(|v| v.is_nan()));
        assert_eq!(draws(&mut d, 13.0, 4), vec![17., 21., 12., 11.]);
    }

    #[test]
    fn gammln_matches_c() {
        // ./harness gammln 1 2 3 0.5 12 13 50.5 1001 2e6 1e-30 0 -1.5
        let cases: [(f32, f32); 12] = [
            (1.0, 0.0),
            (2.0, -4.4408921e-16),
            (3.0, 0.693147182),
            (0.5, 0.572364926),
            (12.0, 17.5023079),
            (13.0, 19.987215),
            (50.5, 146.519257),
            (1001.0, 5912.12842),
            (2e6, 27017310.0),
            (1e-30, 69.0775528),
            (0.0, f32::INFINITY),
            (-1.5, 0.860047042),
        ];
        for (x, want) in cases {
            assert_eq!(gammln(x), want, "gammln({x})");
        }
    }

    #[test]
    fn uniform3d_dev_matches_c() {
        // ./harness uni3d -1 5
        let want: [([f32; 3], f32); 5] = [
            ([0.0664566681, 0.963136911, -0.260673642], 0.93851316),
            ([0.697484851, -0.475116104, 0.536450803], 0.515299618),
            ([0.929411173, 0.0469079167, 0.366052598], 0.869243979),
            ([-0.595446706, -0.539408028, 0.595384121], 0.924807787),
            ([0.0561922193, -0.485405415, -0.872481465], 0.608859181),
        ];
        let mut r = Ran1::new(-1);
        for w in want {
            assert_eq!(uniform3d_dev(&mut r), w);
        }
    }

    #[test]
    fn poidev_statistics_are_sane() {
        let mut d = Deviates::new(-2024);
        for &m in &[0.3f32, 4.0, 30.0, 5000.0] {
            let n = 20_000;
            let mean: f64 = (0..n).map(|_| f64::from(d.poidev(m))).sum::<f64>() / n as f64;
            assert!(
                (mean - f64::from(m)).abs() < 5.0 * (f64::from(m) / n as f64).sqrt() + 1e-3,
                "{m}: {mean}"
            );
        }
    }
}
