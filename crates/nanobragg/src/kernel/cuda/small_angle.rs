//! The CUDA kernels' small-angle sine and cosine: the CPU kernel's polynomials
//! ([`crate::kernel::real::Real::sin_small`], [`crate::kernel::real::Real::sin_cos_small`]),
//! whose coefficients are defined once in [`crate::kernel::real`].

use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// The kernels' small-angle sine and cosine: the CPU kernel's polynomials (about 1 ulp) with their coefficients written into the kernel source
/// as constants (no loads; the f64 set where `double`) — cheaper than the library functions,
/// which reduce arguments of any size. The coefficients enter as f64 values cast to the kernel's
/// float type: `F::new` takes an f32 and would round the f64 set.
macro_rules! cube_small_angle {
    (
        f32: sin [$s32h:literal $(, $s32:literal)*] cos [$c32h:literal $(, $c32:literal)*];
        f64: sin [$s64h:literal $(, $s64:literal)*] cos [$c64h:literal $(, $c64:literal)*];
    ) => {
        /// `u(x²)` of sin x = x + x³·u(x²). (`u` is declared before the comptime branch that
        /// starts it at the leading coefficient.)
        #[cube]
        #[allow(unused_assignments)]
        fn sin_tail<F: Float>(s: F, #[comptime] double: bool) -> F {
            let mut u = F::new(0.0);
            if double {
                u = F::cast_from($s64h);
                $(u = u * s + F::cast_from($s64);)*
            } else {
                u = F::cast_from($s32h);
                $(u = u * s + F::cast_from($s32);)*
            }
            u
        }

        /// `v(x²)` of cos x = 1 + x²·v(x²).
        #[cube]
        #[allow(unused_assignments)]
        fn cos_tail<F: Float>(s: F, #[comptime] double: bool) -> F {
            let mut v = F::new(0.0);
            if double {
                v = F::cast_from($c64h);
                $(v = v * s + F::cast_from($c64);)*
            } else {
                v = F::cast_from($c32h);
                $(v = v * s + F::cast_from($c32);)*
            }
            v
        }
    };
}
crate::kernel::real::small_angle_coefficients!(cube_small_angle);

/// sin x for |x| ≤ π/2.
#[cube]
pub(super) fn sin_small<F: Float>(x: F, #[comptime] double: bool) -> F {
    let s = x * x;
    s * (sin_tail::<F>(s, double) * x) + x
}

/// `(sin x, cos x)` for |x| ≤ π/2 from one square.
#[cube]
pub(super) fn sin_cos_small<F: Float>(x: F, #[comptime] double: bool) -> (F, F) {
    let s = x * x;
    (s * (sin_tail::<F>(s, double) * x) + x, cos_tail::<F>(s, double) * s + F::new(1.0))
}

