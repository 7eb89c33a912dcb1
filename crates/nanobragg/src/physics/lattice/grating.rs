//! The grating function of the SQUARE (parallelepiped) crystal, `sin(Nπh)/sin(πh)` per axis:
//! its constants, its tensor form and its scalar form with the hand-derived derivatives.
//!
//! Every form evaluates it on the reduced argument `f = h − round(h)`, `x = πf`:
//!
//! `sin(Nπh)/sin(πh) = (−1)^{round(h)·(N−1)}·sin(Nx)/sin(x)`,
//!
//! exact for integer N (the C program's N) and accurate at f32 far from the origin (the direct
//! form loses all digits near Bragg peaks at large h). Near a peak centre (|N·x| small) the
//! quotient is replaced by its Taylor series through x⁶,
//! `N·(1 + a₂x² + a₄x⁴ + a₆x⁶)` with the coefficients [`SERIES_NUMERATORS`] /
//! [`SERIES_DENOMINATORS`], whose value and derivatives stay accurate where the quotient's
//! cancel; at the centre the value is N with zero slope in h.
//!
//! **Real N.** For non-integer N the right-hand side is the continuation used for every N: each
//! reflection keeps the profile `sin(Nπf)/sin(πf)` of a crystal N cells wide (height N, width
//! ~1/N), with the sign fixed by `round(N)` on the host. The sign never reaches an intensity,
//! which takes F_latt². The direct form is no continuation to refine with: for non-integer N it
//! is unbounded at every reflection h ≠ 0 and its N-derivative grows as `1/f` towards every peak
//! centre. So `∂/∂N` is that of the per-reflection profile: at a peak centre `∂F/∂N = 1`.
//!
//! The vectorised CPU and CUDA kernels keep lane forms of their own (branch-free, signs dropped)
//! in `kernel/`; they take the series' coefficients from [`series_coefficients`] /
//! [`series_coefficient_slopes`] (CPU) or from the constants here (CUDA).

use burn::tensor::{backend::Backend, Tensor};
use std::f64::consts::PI;

use crate::kernel::real::Real;

/// Numerators of the series coefficients `a₂, a₄, a₆` as polynomials in N² (constant term
/// first): `a₂ = (1 − N²)/6`, `a₄ = (3N² − 7)(N² − 1)/360 = (7 − 10N² + 3N⁴)/360`,
/// `a₆ = (31 − 49N² + 21N⁴ − 3N⁶)/15120`. Every form (tensor, scalar, CUDA) reads these.
pub const SERIES_NUMERATORS: [[f64; 4]; 3] =
    [[1.0, -1.0, 0.0, 0.0], [7.0, -10.0, 3.0, 0.0], [31.0, -49.0, 21.0, -3.0]];

/// Denominators of `a₂, a₄, a₆` ([`SERIES_NUMERATORS`]).
pub const SERIES_DENOMINATORS: [f64; 3] = [6.0, 360.0, 15120.0];

/// Degree in N² of each numerator of [`SERIES_NUMERATORS`] (the scalar forms skip the zero
/// terms: a float multiply by 0 does not fold away).
pub const SERIES_DEGREES: [usize; 3] = [1, 2, 3];

/// `(c₀ + c₁·x + … + c_d·x^d)/den` by Horner's rule over row `i` of the series' constants, or
/// over its derivative's coefficients when `slope` (plain loops, no closures: the CPU kernel's
/// AVX2/AVX-512 entry points inline it only so).
#[inline(always)]
fn series_row<T: Real>(i: usize, x: T, slope: bool) -> T {
    let c = &SERIES_NUMERATORS[i];
    let top = SERIES_DEGREES[i] - usize::from(slope);
    let coefficient = |j: usize| if slope { (j + 1) as f64 * c[j + 1] } else { c[j] };
    let mut acc = T::of(coefficient(top));
    let mut j = top;
    while j > 0 {
        j -= 1;
        acc = acc * x + T::of(coefficient(j));
    }
    acc / T::of(SERIES_DENOMINATORS[i])
}

/// Below this |sin x| the direct form [`sincg`] switches to its analytic limit.
pub const SINCG_EPS: f64 = 1e-12;

/// |N·x| below which the grating takes its Taylor series at a float of machine epsilon
/// `epsilon`: where the first omitted term, about (Nx)⁸/9!, stays below it (0.044 at f64, 0.54
/// at f32). Every form uses it for the value.
pub fn series_radius(epsilon: f64) -> f64 {
    0.8 * (epsilon * 362_880.0).powf(0.125)
}

/// |N·x| below which the kernels' backward passes take the grating's slopes from its series:
/// the f64 [`series_radius`], 0.044, at either float type. Outside it the quotient's x-slope
/// `(N·cos Nx − v·cos x)/sin x` loses about log₂(3/(N·x)²) bits to cancellation, an absolute
/// error near `N²·ε/(N·x)` — below 3·10⁻⁶·N² at f32, against slopes of order N². At f32 the
/// value's radius (0.54) would send a third of the CPU's lane blocks (two thirds of the GPU's
/// warps) through the series at N = 10.
pub fn slope_radius() -> f64 {
    series_radius(f64::EPSILON)
}

// ---------------------------------------------------------------------------------------------
// Tensor form
// ---------------------------------------------------------------------------------------------

/// `sin(N·x)/sin(x)` with the limit `N·cos(N·x)/cos(x)` where `sin x → 0` (x = kπ), which keeps
/// value and gradient finite at Bragg-peak centres. Guarded so no NaN reaches the gradient of
/// the branch not taken. The direct form, as the C program writes it; the renderer uses
/// [`grating`] (reduced argument, same values for integer N).
pub fn sincg<B: Backend, const D: usize>(x: Tensor<B, D>, n: &Tensor<B, 1>) -> Tensor<B, D> {
    let n_b = n.clone().reshape([1; D]);
    let nx = x.clone() * n_b.clone();
    let sin_x = x.clone().sin();
    let near = sin_x.clone().abs().lower_elem(SINCG_EPS);
    let regular = nx.clone().sin() / sin_x.mask_fill(near.clone(), 1.0);
    let limit = n_b * nx.cos() / x.cos();
    regular.mask_where(near, limit)
}

/// The grating of fractional index `h` for `n` cells (see the module docs), with `n_value` the
/// host value of `n` (it fixes the sign).
pub fn grating<B: Backend, const D: usize>(
    h: Tensor<B, D>,
    n: &Tensor<B, 1>,
    n_value: f64,
) -> Tensor<B, D> {
    let whole = h.clone().detach().round();
    let x = (h - whole.clone()) * PI;
    let n_b = n.clone().reshape([1; D]);
    let nx = x.clone() * n_b.clone();
    // On the reduced argument |x| ≤ π/2, so sin x vanishes only at x = 0, inside the series'
    // domain. Near there the quotient's derivative cancels catastrophically (two terms of size
    // N/x whose difference is −N(N²−1)x/3); the Taylor series is used instead.
    let small = nx.clone().detach().abs().lower_elem(tensor_series_radius::<B>());
    let quotient = nx.sin() / x.clone().sin().mask_fill(small.clone(), 1.0);
    let reduced = quotient.mask_where(small, grating_series(x, &n_b));
    let k = (whole * (n_value.round() - 1.0)).abs();
    let odd = k.clone() - (k / 2.0).floor() * 2.0;
    let sign = odd * -2.0 + 1.0;
    reduced * sign
}

/// [`series_radius`] at the backend's float type.
fn tensor_series_radius<B: Backend>() -> f64 {
    use burn::tensor::{Element, FloatDType};
    series_radius(FloatDType::from(<B::FloatElem as Element>::dtype()).finfo().epsilon)
}

/// The Taylor series `N·(1 + a₂x² + a₄x⁴ + a₆x⁶)` of `sin(N·x)/sin(x)` about x = 0, with `n_b`
/// broadcastable against `x`. Exactly N with zero x-slope at x = 0.
pub fn grating_series<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    n_b: &Tensor<B, D>,
) -> Tensor<B, D> {
    let x2 = x.powi_scalar(2);
    let n2 = n_b.clone().powi_scalar(2);
    let [a2, a4, a6] = [0, 1, 2].map(|i| {
        let [c0, c1, c2, c3] = SERIES_NUMERATORS[i];
        let poly = ((n2.clone() * c3 + c2) * n2.clone() + c1) * n2.clone() + c0;
        crate::linalg::div_exact(poly, SERIES_DENOMINATORS[i])
    });
    let poly = x2.clone() * (x2.clone() * (x2 * a6 + a4) + a2) + 1.0;
    poly * n_b.clone()
}

// ---------------------------------------------------------------------------------------------
// Scalar form and derivatives
// ---------------------------------------------------------------------------------------------

/// The series coefficients `a₂, a₄, a₆` for `n2 = N²` ([`SERIES_NUMERATORS`]).
#[inline(always)]
pub fn series_coefficients<T: Real>(n2: T) -> [T; 3] {
    [series_row(0, n2, false), series_row(1, n2, false), series_row(2, n2, false)]
}

/// `d(a₂, a₄, a₆)/d(N²)` of [`series_coefficients`].
#[inline(always)]
pub fn series_coefficient_slopes<T: Real>(n2: T) -> [T; 3] {
    [series_row(0, n2, true), series_row(1, n2, true), series_row(2, n2, true)]
}

/// The grating with its Taylor series near the peak centre and the `(−1)^{round(h)·m}` sign
/// (`sign_m = round(N) − 1`); `radius` is [`series_radius`] at `T`.
#[inline(always)]
pub fn value<T: Real>(h: T, n: T, sign_m: f64, radius: T) -> T {
    let whole = h.round_even();
    let x = (h - whole) * T::of(PI);
    let nx = x * n;
    let reduced = if nx.abs() < radius {
        let x2 = x * x;
        let [a2, a4, a6] = series_coefficients(n * n);
        (x2 * (x2 * (x2 * a6 + a4) + a2) + T::ONE) * n
    } else {
        nx.sin() / x.sin()
    };
    if odd_sign(whole.to_f64(), sign_m) {
        -reduced
    } else {
        reduced
    }
}

/// Whether `(−1)^{|whole·m|}` is −1.
#[inline(always)]
fn odd_sign(whole: f64, m: f64) -> bool {
    let k = (whole * m).abs();
    k - (k / 2.0).floor() * 2.0 != 0.0
}

/// The series `N·(1 + a₂x² + a₄x⁴ + a₆x⁶)` with `∂/∂x` and `∂/∂N`, from the coefficients `a`
/// ([`series_coefficients`]) and their slopes `da` in N² ([`series_coefficient_slopes`]).
#[inline(always)]
pub fn series_grad<T: Real>(x: T, n: T, a: [T; 3], da: [T; 3]) -> (T, T, T) {
    let two = T::of(2.0);
    let (x2, n2) = (x * x, n * n);
    let [a2, a4, a6] = a;
    let [da2, da4, da6] = da;
    let poly = x2 * (x2 * (x2 * a6 + a4) + a2) + T::ONE;
    let dpoly_dx = two * x * (a2 + x2 * (two * a4 + T::of(3.0) * a6 * x2));
    let dpoly_dn2 = x2 * (da2 + x2 * (da4 + x2 * da6));
    (n * poly, n * dpoly_dx, poly + two * n2 * dpoly_dn2)
}

/// The grating's value with `∂/∂h` and `∂/∂N` (f64); `radius` as for [`value`].
pub fn value_grad(h: f64, n: f64, sign_m: f64, radius: f64) -> (f64, f64, f64) {
    let whole = h.round_ties_even();
    let x = (h - whole) * PI;
    let nx = x * n;
    let (g, dx, dn) = if nx.abs() < radius {
        let n2 = n * n;
        series_grad(x, n, series_coefficients(n2), series_coefficient_slopes(n2))
    } else {
        let (s, c) = x.sin_cos();
        let (sn, cn) = nx.sin_cos();
        (sn / s, (n * cn * s - sn * c) / (s * s), x * cn / s)
    };
    let sign = if odd_sign(whole, sign_m) { -1.0 } else { 1.0 };
    (sign * g, sign * dx * PI, sign * dn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The coefficients against the closed forms `(1 − N²)/6`, `(3N² − 7)(N² − 1)/360` and
    /// `(31 − 49N² + 21N⁴ − 3N⁶)/15120`, and the slopes against central differences.
    #[test]
    fn series_coefficients_match_their_closed_forms_and_slopes() {
        for n in [1.0f64, 2.5, 10.0, 47.0] {
            let n2 = n * n;
            let closed = [
                (1.0 - n2) / 6.0,
                (3.0 * n2 - 7.0) * (n2 - 1.0) / 360.0,
                (31.0 - 49.0 * n2 + 21.0 * n2 * n2 - 3.0 * n2 * n2 * n2) / 15120.0,
            ];
            let a = series_coefficients(n2);
            let da = series_coefficient_slopes(n2);
            let h = 1e-4 * n2;
            let (up, down) = (series_coefficients(n2 + h), series_coefficients(n2 - h));
            for i in 0..3 {
                approx::assert_relative_eq!(a[i], closed[i], max_relative = 1e-14);
                approx::assert_relative_eq!(da[i], (up[i] - down[i]) / (2.0 * h), max_relative = 1e-7);
            }
        }
    }

    /// The series agrees with `sin(Nx)/sin(x)` where both are accurate (|N·x| ≈ radius).
    #[test]
    fn series_meets_the_quotient_at_the_radius() {
        for n in [3.0f64, 10.0, 31.0] {
            let x = 0.04 / n;
            let (v, _, _) = series_grad(x, n, series_coefficients(n * n), series_coefficient_slopes(n * n));
            approx::assert_relative_eq!(v, (n * x).sin() / x.sin(), max_relative = 1e-14);
        }
    }
}
