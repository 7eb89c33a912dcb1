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
    /// Coefficients of [`Real::sin_small`]'s polynomial u(x²), highest power first (sin x =
    /// x + x³·u(x²)); shared with the CUDA kernel, which evaluates the same polynomial.
    const SIN_COEFFICIENTS: &'static [f64];
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
    /// sin x for |x| ≤ π/2, as a branch-free polynomial (vectorises; about 1 ulp).
    fn sin_small(self) -> Self;
}

macro_rules! real {
    ($t:ty, $magic:expr, [$($c:expr),*]) => {
        impl Real for $t {
            const EPSILON: f64 = <$t>::EPSILON as f64;
            const SIN_COEFFICIENTS: &'static [f64] = &[$($c),*];
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
            fn sin_small(self) -> Self {
                // sin x = x + x³·u(x²), u a minimax polynomial on [−π/2, π/2] (coefficients as
                // published with the SLEEF vector math library).
                let s = self * self;
                let mut u: $t = 0.0;
                $(u = u * s + ($c as $t);)*
                s * (u * self) + self
            }
        }
    };
}

real!(
    f32,
    12_582_912.0,
    [
        2.6083159809786593541503e-06,
        -0.0001981069071916863322258,
        0.00833307858556509017944336,
        -0.166666597127914428710938
    ]
);
real!(
    f64,
    6_755_399_441_055_744.0,
    [
        -7.97255955009037868891952e-18,
        2.81009972710863200091251e-15,
        -7.64712219118158833288484e-13,
        1.60590430605664501629054e-10,
        -2.50521083763502045810755e-08,
        2.75573192239198747630416e-06,
        -0.000198412698412696162806809,
        0.00833333333333332974823815,
        -0.166666666666666657414808
    ]
);

/// `a·b` for 3-vectors.
#[inline(always)]
pub fn dot3<T: Real>(a: [T; 3], b: [T; 3]) -> T {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
