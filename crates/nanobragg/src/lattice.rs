//! Lattice transforms (the "spot shape" F_latt) as tensor ops.
//!
//! With fractional Miller indices h, k, l and N cells per axis:
//! - SQUARE: `F = sincg(πh, Na)·sincg(πk, Nb)·sincg(πl, Nc)`, `sincg(x, N) = sin(Nx)/sin(x)`;
//! - ROUND: `F = Na·Nb·Nc·0.723601254558268·sinc3(π·sqrt(fudge·Σ(Δh·N)²))`;
//! - GAUSS: `F = Na·Nb·Nc·exp(−fudge·Δr*²/0.63)`;
//! - TOPHAT: `F = Na·Nb·Nc` where `fudge·Δr*² < 0.3969`, else 0;
//! with Δh = h − h0, h0 = ceil(h − ½) and `Δr*² = |Δh·a* + Δk·b* + Δl·c*|²·(Na·Nb·Nc)²` (a* in Å⁻¹).

use burn::tensor::{backend::Backend, Tensor};

/// Below this |sin x| the grating function switches to its analytic limit.
const SINCG_EPS: f64 = 1e-12;

/// `sin(N·x)/sin(x)` with the limit `N·cos(N·x)/cos(x)` where `sin x → 0` (x = kπ), which
/// keeps value and gradient finite at Bragg-peak centres. Guarded so no NaN reaches the
/// gradient of the branch not taken. The direct form, as the C program writes it; the renderer
/// uses [`grating`] (reduced argument, same values for integer N).
pub fn sincg<B: Backend, const D: usize>(x: Tensor<B, D>, n: &Tensor<B, 1>) -> Tensor<B, D> {
    let n_b = n.clone().reshape([1; D]);
    let nx = x.clone() * n_b.clone();
    let sin_x = x.clone().sin();
    let near = sin_x.clone().abs().lower_elem(SINCG_EPS);
    let regular = nx.clone().sin() / sin_x.mask_fill(near.clone(), 1.0);
    let limit = n_b * nx.cos() / x.cos();
    regular.mask_where(near, limit)
}

/// The grating function of fractional index `h` for `n` cells: `sin(nπh)/sin(πh)`, evaluated on
/// the reduced argument `f = h − round(h)`:
///
/// `sin(nπh)/sin(πh) = (−1)^{round(h)·(n−1)}·sin(nπf)/sin(πf)`,
///
/// exact for integer n (the C program's N) and accurate at f32 far from the origin (the direct
/// form loses all digits near Bragg peaks at large h). Near a peak centre (|n·πf| small) the
/// quotient is replaced by its Taylor series ([`grating_series`]), which keeps the derivatives
/// accurate where the quotient's cancel; at the centre the value is n with zero slope in h.
///
/// **Real n.** For non-integer n the right-hand side is the continuation used for every n: each
/// reflection keeps the profile `sin(nπf)/sin(πf)` of a crystal n cells wide (height n, width
/// ~1/n), with the sign fixed by `round(n_value)` (`n_value` is the host value of `n`; the sign
/// never reaches an intensity, which takes F_latt²). The direct form `sin(nπh)/sin(πh)` is no
/// continuation to refine with: for non-integer n it is unbounded at every reflection h ≠ 0
/// (`sin(nπh) ≠ 0` there), and its n-derivative grows as `1/f` towards every peak centre. So
/// `∂/∂n` is that of the per-reflection profile: at a peak centre `∂F/∂n = 1` whatever h.
pub fn grating<B: Backend, const D: usize>(
    h: Tensor<B, D>,
    n: &Tensor<B, 1>,
    n_value: f64,
) -> Tensor<B, D> {
    let pi = std::f64::consts::PI;
    let whole = h.clone().detach().round();
    let x = (h - whole.clone()) * pi;
    let n_b = n.clone().reshape([1; D]);
    let nx = x.clone() * n_b.clone();
    // On the reduced argument |x| ≤ π/2, so sin x vanishes only at x = 0, inside the series'
    // domain. Near there the quotient's derivative cancels catastrophically (two terms of size
    // N/x whose difference is −N(N²−1)x/3); the Taylor series is used instead.
    let small = nx.clone().detach().abs().lower_elem(series_radius::<B>());
    let quotient = nx.sin() / x.clone().sin().mask_fill(small.clone(), 1.0);
    let reduced = quotient.mask_where(small, grating_series(x, &n_b));
    let k = (whole * (n_value.round() - 1.0)).abs();
    let odd = k.clone() - (k / 2.0).floor() * 2.0;
    let sign = odd * -2.0 + 1.0;
    reduced * sign
}

/// |N·x| below which [`grating`] uses [`grating_series`]: where the series' first omitted term,
/// about (Nx)⁸/9!, stays below the float's epsilon (0.044 at f64, 0.54 at f32).
fn series_radius<B: Backend>() -> f64 {
    use burn::tensor::{Element, FloatDType};
    let eps = FloatDType::from(<B::FloatElem as Element>::dtype()).finfo().epsilon;
    0.8 * (eps * 362_880.0).powf(0.125)
}

/// Taylor series of `sin(N·x)/sin(x)` about x = 0 through x⁶:
/// `N·(1 + a₂x² + a₄x⁴ + a₆x⁶)` with `a₂ = (1 − N²)/6`, `a₄ = (3N² − 7)(N² − 1)/360`,
/// `a₆ = (31 − 49N² + 21N⁴ − 3N⁶)/15120`. Its value and its derivatives in x and N are accurate
/// where the quotient's are not (|N·x| small), and it is exactly N with zero x-slope at x = 0.
pub fn grating_series<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    n_b: &Tensor<B, D>,
) -> Tensor<B, D> {
    let x2 = x.powi_scalar(2);
    let n2 = n_b.clone().powi_scalar(2);
    let a2 = (n2.clone().neg() + 1.0) / 6.0;
    let a4 = (n2.clone() * 3.0 - 7.0) * (n2.clone() - 1.0) / 360.0;
    let a6 = (n2.clone() * (n2.clone() * (n2 * -3.0 + 21.0) - 49.0) + 31.0) / 15120.0;
    let poly = x2.clone() * (x2.clone() * (x2 * a6 + a4) + a2) + 1.0;
    poly * n_b.clone()
}

/// `sinc3(x) = 3(sin x/x − cos x)/x²` given `x²` (value 1 at 0, series `1 − x²/10` near 0), so
/// that the square root of a zero radius never reaches a gradient.
pub fn sinc3_of_square<B: Backend, const D: usize>(x2: Tensor<B, D>) -> Tensor<B, D> {
    let small = x2.clone().lower_elem(1e-10);
    let x = x2.clone().mask_fill(small.clone(), 1.0).sqrt();
    let regular = (x.clone().sin() / x.clone() - x.clone().cos()) * 3.0 / x.powi_scalar(2);
    let series = x2 * (-0.1) + 1.0;
    regular.mask_where(small, series)
}

/// Nearest whole index as the C program rounds it: `ceil(x − ½)`.
pub fn nearest_index<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    (x - 0.5).ceil()
}
