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
/// gradient of the branch not taken. (Used for non-integer N; [`grating`] is the fast path.)
pub fn sincg<B: Backend, const D: usize>(x: Tensor<B, D>, n: &Tensor<B, 1>) -> Tensor<B, D> {
    let n_b = n.clone().reshape([1; D]);
    let nx = x.clone() * n_b.clone();
    let sin_x = x.clone().sin();
    let near = sin_x.clone().abs().lower_elem(SINCG_EPS);
    let regular = nx.clone().sin() / sin_x.mask_fill(near.clone(), 1.0);
    let limit = n_b * nx.cos() / x.cos();
    regular.mask_where(near, limit)
}

/// The grating function of fractional index `h` for `n` cells: `sin(nπh)/sin(πh)`.
///
/// For an integer number of cells (`n_value`, the host value of `n`) it is evaluated on the
/// reduced argument `f = h − round(h)` using `sin(nπh)/sin(πh) = (−1)^{round(h)·(n−1)}·
/// sin(nπf)/sin(πf)`, which is exact mathematically and keeps f32 accurate far from the origin
/// (the direct form loses all digits near Bragg peaks at large h). The derivative with respect to
/// n gets back the term the reduction drops (`π·round(h)·cos(nπh)/sin(πh)`) through a
/// value-neutral straight-through term. Non-integer n uses the direct form.
pub fn grating<B: Backend, const D: usize>(
    h: Tensor<B, D>,
    n: &Tensor<B, 1>,
    n_value: f64,
) -> Tensor<B, D> {
    let pi = std::f64::consts::PI;
    if (n_value - n_value.round()).abs() > 1e-9 {
        return sincg(h * pi, n);
    }
    let whole = h.clone().detach().round();
    let x = (h - whole.clone()) * pi;
    let dims = x.dims();
    let n_b = n.clone().reshape([1; D]);
    let nx = x.clone() * n_b.clone();
    // On the reduced argument |x| ≤ π/2, so sin x vanishes only at x = 0, where the limit is N.
    let sin_x = x.sin();
    let near = sin_x.clone().abs().lower_elem(SINCG_EPS);
    let safe_sin = sin_x.mask_fill(near.clone(), 1.0);
    let reduced = (nx.clone().sin() / safe_sin.clone()).mask_where(near.clone(), n_b.clone().expand(dims));
    let k = (whole.clone() * (n_value.round() - 1.0)).abs();
    let odd = k.clone() - (k / 2.0).floor() * 2.0;
    let sign = odd * -2.0 + 1.0;
    let value = if n.is_require_grad() {
        // d/dN of the reduced form misses π·round(h)·cos(Nπh)/sin(πh): add it back through a
        // term whose value is zero.
        let slope = (nx.cos() / safe_sin).mask_fill(near, 0.0);
        reduced + (n_b.clone() - n_b.detach()) * whole * pi * slope
    } else {
        reduced
    };
    value * sign
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
