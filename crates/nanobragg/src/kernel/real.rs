//! The scalar float type of the fused CPU kernel (f32 or f64, matching the backend's dtype).

use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// Arithmetic and the few transcendental functions the kernel needs, for `f32` and `f64`.
pub trait Real:
    Copy
    + Send
    + Sync
    + PartialOrd
    + std::fmt::Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Default
    + 'static
{
    /// Machine epsilon.
    const EPSILON: f64;
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// Rounded from f64.
    fn of(x: f64) -> Self;
    /// Widened to f64.
    fn to_f64(self) -> f64;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// e^x.
    fn exp(self) -> Self;
    /// Largest integer ≤ x.
    fn floor(self) -> Self;
    /// Smallest integer ≥ x.
    fn ceil(self) -> Self;
    /// Nearest integer, halves to even (as Burn's `round`).
    fn round_even(self) -> Self;
    /// |x|.
    fn abs(self) -> Self;
    /// Nearest integer, halves to even, for |x| < 2^(mantissa bits − 1): `(x + M) − M` with
    /// `M = 1.5·2^mantissa bits` (branch-free; vectorises without SSE4.1).
    fn round_fast(self) -> Self;
    /// `self·a + b` with one rounding. One instruction where the code is compiled for a CPU
    /// with FMA (the kernel's AVX2 + FMA entry points, aarch64); elsewhere a library call.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// sin x for |x| ≤ π/2, as a branch-free polynomial with fused multiply-adds (vectorises;
    /// about 1 ulp).
    fn sin_small(self) -> Self;
    /// `(sin x, cos x)` for |x| ≤ π/2 from one square: [`Real::sin_small`]'s polynomial and
    /// a minimax polynomial for the cosine (through x⁸ for f32, x¹⁶ for f64; approximation
    /// error 5.3·10⁻⁸ and below 5·10⁻¹⁸, within 2 ulp of one with rounding).
    fn sin_cos_small(self) -> (Self, Self);
    /// `other` where `take` holds, else `self`, selected bit by bit (no branch: lane loops with
    /// a per-lane choice stay vectorised, and a NaN in the value not taken does not leak).
    fn pick(self, other: Self, take: bool) -> Self;
}

macro_rules! real {
    ($t:ty, $bits:ty, $magic:expr, [$c0:expr $(, $c:expr)*], cos [$k0:expr $(, $k:expr)*]) => {
        impl Real for $t {
            const EPSILON: f64 = <$t>::EPSILON as f64;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn of(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn floor(self) -> Self {
                <$t>::floor(self)
            }
            #[inline(always)]
            fn ceil(self) -> Self {
                <$t>::ceil(self)
            }
            #[inline(always)]
            fn round_even(self) -> Self {
                <$t>::round_ties_even(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn round_fast(self) -> Self {
                (self + $magic) - $magic
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            #[inline(always)]
            fn sin_small(self) -> Self {
                // sin x = x + x³·u(x²), u a minimax polynomial on [−π/2, π/2] (coefficients as
                // published with the SLEEF vector math library).
                let s = self * self;
                let mut u = $c0 as $t;
                $(u = u.mul_add(s, $c as $t);)*
                (u * self).mul_add(s, self)
            }
            #[inline(always)]
            fn sin_cos_small(self) -> (Self, Self) {
                let s = self * self;
                let mut u = $c0 as $t;
                $(u = u.mul_add(s, $c as $t);)*
                let mut v = $k0 as $t;
                $(v = v.mul_add(s, $k as $t);)*
                ((u * self).mul_add(s, self), v.mul_add(s, 1.0))
            }
            #[inline(always)]
            fn pick(self, other: Self, take: bool) -> Self {
                let mask = (take as $bits).wrapping_neg();
                <$t>::from_bits((self.to_bits() & !mask) | (other.to_bits() & mask))
            }
        }
    };
}

/// The small-angle polynomials' coefficients of each float type, highest power first, handed
/// to the macro `$m`: sin x = x + x³·u(x²) with u minimax on [−π/2, π/2] (as published with the
/// SLEEF vector math library), cos x = 1 + x²·v(x²) with v minimax for the absolute error of
/// cos on the same interval (Remez exchange, in 40-digit arithmetic for f64's): four
/// coefficients for f32 (degree 8; 5.3e-8 in exact arithmetic, 1.5e-7 or 1.2 ulp of one
/// evaluated in f32) and eight for f64 (degree 16), where the Taylor series takes six and ten
/// for two ulp.
/// The one definition that both the [`Real`] impls here and the CUDA kernels' device functions
/// (`kernel::cuda`, which writes them into the kernel source as constants) expand.
macro_rules! small_angle_coefficients {
    ($m:ident) => {
        $m! {
            f32: sin [
                2.6083159809786593541503e-06_f64,
                -0.0001981069071916863322258_f64,
                0.00833307858556509017944336_f64,
                -0.166666597127914428710938_f64
            ] cos [
                2.3194386485790422e-05_f64,
                -0.0013855927184188422_f64,
                0.0416639894547959_f64,
                -0.4999993229305155_f64
            ];
            f64: sin [
                -7.97255955009037868891952e-18_f64,
                2.81009972710863200091251e-15_f64,
                -7.64712219118158833288484e-13_f64,
                1.60590430605664501629054e-10_f64,
                -2.50521083763502045810755e-08_f64,
                2.75573192239198747630416e-06_f64,
                -0.000198412698412696162806809_f64,
                0.00833333333333332974823815_f64,
                -0.166666666666666657414808_f64
            ] cos [
                4.6102941837201804e-14_f64,
                -1.1463039371462821e-11_f64,
                2.0876567741101435e-09_f64,
                -2.75573165252292e-07_f64,
                2.4801587279149036e-05_f64,
                -0.0013888888888785652_f64,
                0.04166666666666437_f64,
                -0.49999999999999983_f64
            ];
        }
    };
}
#[cfg(feature = "cuda")]
pub(crate) use small_angle_coefficients;

macro_rules! real_impls {
    (
        f32: sin [$($s32:literal),*] cos [$($c32:literal),*];
        f64: sin [$($s64:literal),*] cos [$($c64:literal),*];
    ) => {
        real!(f32, u32, 12_582_912.0, [$($s32),*], cos [$($c32),*]);
        real!(f64, u64, 6_755_399_441_055_744.0, [$($s64),*], cos [$($c64),*]);
    };
}
small_angle_coefficients!(real_impls);

/// `a·b` for 3-vectors.
#[inline(always)]
pub fn dot3<T: Real>(a: [T; 3], b: [T; 3]) -> T {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[cfg(test)]
mod tests {
    use super::Real;
    use std::f64::consts::FRAC_PI_2;

    /// Largest |error| of `(sin, cos)` from [`Real::sin_cos_small`] and of [`Real::sin_small`]
    /// against the library functions in f64, over [−π/2, π/2].
    fn worst<T: Real>() -> [f64; 3] {
        let mut worst = [0.0f64; 3];
        for i in 0..=20_000 {
            let x = T::of(FRAC_PI_2 * (i as f64 / 10_000.0 - 1.0));
            let exact = x.to_f64();
            let (s, c) = x.sin_cos_small();
            worst[0] = worst[0].max((s.to_f64() - exact.sin()).abs());
            worst[1] = worst[1].max((c.to_f64() - exact.cos()).abs());
            worst[2] = worst[2].max((x.sin_small().to_f64() - exact.sin()).abs());
        }
        worst
    }

    #[test]
    fn small_angle_sine_and_cosine_are_within_two_ulp_of_one_in_f32() {
        for (what, e) in ["sin", "cos", "sin_small"].iter().zip(worst::<f32>()) {
            assert!(e <= 2.0 * f32::EPSILON as f64, "{what}: {e:e}");
        }
    }

    #[test]
    fn small_angle_sine_and_cosine_are_within_two_ulp_of_one_in_f64() {
        for (what, e) in ["sin", "cos", "sin_small"].iter().zip(worst::<f64>()) {
            assert!(e <= 2.0 * f64::EPSILON, "{what}: {e:e}");
        }
    }
}
