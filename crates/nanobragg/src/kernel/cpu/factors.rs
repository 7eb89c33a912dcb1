//! Per-evaluation factors of the fused CPU kernel — grating, lattice transforms and structure
//! factors — each with the local derivatives the backward pass needs. Same formulas as the tensor
//! path ([`crate::lattice`], [`crate::structure_factors`]).

use super::Inputs;
use crate::kernel::real::Real;
use crate::kernel::TileSpec;
use crate::scene::LatticeShape;
use crate::structure_factors::GridExtent;
use std::f64::consts::PI;

/// `sin(Nπh)/sin(πh)` on the reduced argument with its Taylor series near the peak centre and
/// the `(−1)^{round(h)(n−1)}` sign (see [`crate::lattice::grating`]).
#[inline(always)]
pub fn grating<T: Real>(h: T, n: T, sign_m: f64, radius: T) -> T {
    let whole = h.round_even();
    let x = (h - whole) * T::of(PI);
    let nx = x * n;
    let reduced = if nx.abs() < radius {
        series(x, n)
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

/// Coefficients `a₂, a₄, a₆` of the grating's Taylor series in x for `n2 = N²`
/// ([`crate::lattice::grating_series`]).
#[inline(always)]
pub fn series_coefficients<T: Real>(n2: T) -> [T; 3] {
    [
        (T::ONE - n2) / T::of(6.0),
        (n2 * T::of(3.0) - T::of(7.0)) * (n2 - T::ONE) / T::of(360.0),
        (n2 * (n2 * (n2 * T::of(-3.0) + T::of(21.0)) - T::of(49.0)) + T::of(31.0)) / T::of(15120.0),
    ]
}

/// `d(a₂, a₄, a₆)/d(N²)` of [`series_coefficients`].
#[inline(always)]
pub fn series_coefficient_slopes<T: Real>(n2: T) -> [T; 3] {
    [
        T::of(-1.0 / 6.0),
        (T::of(6.0) * n2 - T::of(10.0)) / T::of(360.0),
        (T::of(-9.0) * n2 * n2 + T::of(42.0) * n2 - T::of(49.0)) / T::of(15120.0),
    ]
}

/// `(−1)^k` for integral `k`, branch-free.
#[inline(always)]
pub fn parity_sign<T: Real>(k: T) -> T {
    let half = k * T::of(0.5);
    T::ONE - T::of(4.0) * (half - half.round_fast()).abs()
}

/// `N·(1 + a₂x² + a₄x⁴ + a₆x⁶)` ([`crate::lattice::grating_series`]).
#[inline(always)]
fn series<T: Real>(x: T, n: T) -> T {
    let x2 = x * x;
    let [a2, a4, a6] = series_coefficients(n * n);
    let poly = x2 * (x2 * (x2 * a6 + a4) + a2) + T::ONE;
    poly * n
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

/// Grating value with `∂/∂h` and `∂/∂N` (f64).
pub fn grating_grad(h: f64, n: f64, sign_m: f64, radius: f64) -> (f64, f64, f64) {
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

/// `x − ceil(x − ½)`: the offset from the nearest whole index as the C program rounds.
#[inline(always)]
fn frac<T: Real>(x: T) -> T {
    x - (x - T::of(0.5)).ceil()
}

/// `sinc3(x) = 3(sin x/x − cos x)/x²` from `x²` ([`crate::lattice::sinc3_of_square`]), with
/// `d sinc3/d(x²)` when asked.
fn sinc3_of_square(x2: f64) -> (f64, f64) {
    if x2 < 1e-10 {
        return (1.0 - 0.1 * x2, -0.1);
    }
    let x = x2.sqrt();
    let (s, c) = x.sin_cos();
    let v = (s / x - c) * 3.0 / x2;
    let dv_dx = 3.0 * ((c / x - s / x2 + s) / x2 - 2.0 * (s / x - c) / (x2 * x));
    (v, dv_dx / (2.0 * x))
}

/// Lattice transform F_latt of fractional indices `hkl`.
#[inline(always)]
pub fn lattice<T: Real>(hkl: [T; 3], x: &Inputs<T>, spec: &TileSpec) -> T {
    match spec.shape {
        LatticeShape::Square => {
            grating(hkl[0], x.n[0], x.sign_m[0], x.radius)
                * grating(hkl[1], x.n[1], x.sign_m[1], x.radius)
                * grating(hkl[2], x.n[2], x.sign_m[2], x.radius)
        }
        _ => {
            let n = x.n.map(|v| v.to_f64());
            let h = hkl.map(|v| v.to_f64());
            let recip = x.recip.map(|r| r.map(|v| v.to_f64()));
            T::of(lattice_grad(h, n, &recip, x.radius.to_f64(), x.sign_m, spec).0)
        }
    }
}

/// Lattice transform with `∂/∂(h, k, l)`, `∂/∂N` and `∂/∂(a*, b*, c*)` (f64).
pub fn lattice_grad(
    hkl: [f64; 3],
    n: [f64; 3],
    recip: &[[f64; 3]; 3],
    radius: f64,
    sign_m: [f64; 3],
    spec: &TileSpec,
) -> (f64, [f64; 3], [f64; 3], [[f64; 3]; 3]) {
    let mut d_recip = [[0.0; 3]; 3];
    let n3 = n[0] * n[1] * n[2];
    let fudge = spec.fudge;
    match spec.shape {
        LatticeShape::Square => {
            let g = [0, 1, 2].map(|i| grating_grad(hkl[i], n[i], sign_m[i], radius));
            let v = g[0].0 * g[1].0 * g[2].0;
            let others = [g[1].0 * g[2].0, g[0].0 * g[2].0, g[0].0 * g[1].0];
            let dh = [0, 1, 2].map(|i| others[i] * g[i].1);
            let dn = [0, 1, 2].map(|i| others[i] * g[i].2);
            (v, dh, dn, d_recip)
        }
        LatticeShape::Round => {
            const ROUND: f64 = 0.723601254558268;
            let f = hkl.map(frac);
            let hrad2: f64 = (0..3).map(|i| f[i] * f[i] * n[i] * n[i]).sum();
            let k = fudge * PI * PI;
            let (s, ds) = sinc3_of_square(hrad2 * k);
            let v = s * n3 * ROUND;
            let dh = [0, 1, 2].map(|i| ROUND * n3 * ds * k * 2.0 * f[i] * n[i] * n[i]);
            let dn = [0, 1, 2].map(|i| {
                ROUND * (n3 / n[i]) * s + ROUND * n3 * ds * k * 2.0 * f[i] * f[i] * n[i]
            });
            (v, dh, dn, d_recip)
        }
        LatticeShape::Gauss | LatticeShape::Tophat => {
            let f = hkl.map(frac);
            let comp = [0, 1, 2].map(|j| f[0] * recip[0][j] + f[1] * recip[1][j] + f[2] * recip[2][j]);
            let c2 = comp[0] * comp[0] + comp[1] * comp[1] + comp[2] * comp[2];
            let r2 = c2 * n3 * n3;
            let others = [n[1] * n[2], n[0] * n[2], n[0] * n[1]];
            if spec.shape == LatticeShape::Gauss {
                let e = (r2 * (-fudge / 0.63)).exp();
                let v = e * n3;
                let dv_dr2 = v * (-fudge / 0.63);
                let dcomp = comp.map(|c| dv_dr2 * 2.0 * c * n3 * n3);
                let dh = [0, 1, 2].map(|i| (0..3).map(|j| dcomp[j] * recip[i][j]).sum());
                for (i, row) in d_recip.iter_mut().enumerate() {
                    for (j, slot) in row.iter_mut().enumerate() {
                        *slot = dcomp[j] * f[i];
                    }
                }
                let dn3 = e + dv_dr2 * 2.0 * c2 * n3;
                let dn = others.map(|o| dn3 * o);
                (v, dh, dn, d_recip)
            } else {
                let inside = if r2 * fudge < 0.3969 { 1.0 } else { 0.0 };
                (inside * n3, [0.0; 3], others.map(|o| inside * o), d_recip)
            }
        }
    }
}

/// The evaluation's window left the grid while interpolation is on: the tile goes to the tensor
/// path, which applies the C program's scan-order fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeftGrid;

/// Lagrange weights of nodes `t = 0…3` at `t` and their derivatives.
#[inline(always)]
fn cubic(t: f64) -> ([f64; 4], [f64; 4]) {
    let (t0, t1, t2, t3) = (t, t - 1.0, t - 2.0, t - 3.0);
    (
        [t1 * t2 * t3 / -6.0, t0 * t2 * t3 / 2.0, t0 * t1 * t3 / -2.0, t0 * t1 * t2 / 6.0],
        [
            (t2 * t3 + t1 * t3 + t1 * t2) / -6.0,
            (t2 * t3 + t0 * t3 + t0 * t2) / 2.0,
            (t1 * t3 + t0 * t3 + t0 * t1) / -2.0,
            (t1 * t2 + t0 * t2 + t0 * t1) / 6.0,
        ],
    )
}

/// Where F comes from: a grid entry, `default_F`, or a tricubic window.
pub enum Source {
    /// Grid entry (flat index).
    Entry(usize),
    /// `default_F`.
    Default,
    /// Tricubic window: grid offsets of the first node per axis, strides, counts, weights and
    /// their derivatives per axis.
    Window {
        /// First node per axis (clamped).
        base: [i64; 3],
        /// Entries per axis.
        counts: [i64; 3],
        /// Weights per axis.
        w: [[f64; 4]; 3],
        /// `dw/dx` per axis.
        dw: [[f64; 4]; 3],
    },
}

/// Flat index of the grid entry nearest to `hkl` (the C program's `ceil(x − ½)`), `None` outside
/// the grid.
#[inline(always)]
pub fn grid_entry<T: Real>(hkl: [T; 3], extent: GridExtent) -> Option<usize> {
    let counts = extent.counts();
    let mut flat = 0i64;
    for axis in 0..3 {
        let idx = (hkl[axis] - T::of(0.5)).ceil().to_f64() as i64 - extent.min[axis];
        if idx < 0 || idx >= counts[axis] {
            return None;
        }
        flat = flat * counts[axis] + idx;
    }
    Some(flat as usize)
}

/// Visit the 4×4×4 window from the first nodes `base` (node indices clamped to the grid):
/// `f(i, j, l, flat)`.
#[inline(always)]
pub fn for_window(base: [i64; 3], counts: [i64; 3], mut f: impl FnMut(usize, usize, usize, usize)) {
    for i in 0..4 {
        let hi = (base[0] + i as i64).clamp(0, counts[0] - 1);
        for j in 0..4 {
            let kj = (base[1] + j as i64).clamp(0, counts[1] - 1);
            for l in 0..4 {
                let ll = (base[2] + l as i64).clamp(0, counts[2] - 1);
                f(i, j, l, ((hi * counts[1] + kj) * counts[2] + ll) as usize);
            }
        }
    }
}

/// F_cell at fractional `hkl` (nearest or tricubic, as the spec says).
#[inline(always)]
pub fn structure<T: Real>(hkl: [T; 3], x: &Inputs<T>, spec: &TileSpec) -> Result<T, LeftGrid> {
    let Some(extent) = spec.grid else {
        return Ok(x.default_f);
    };
    if !spec.interpolate {
        return Ok(grid_entry(hkl, extent).map_or(x.default_f, |i| x.grid[i]));
    }
    match source(hkl.map(|v| v.to_f64()), spec)? {
        Source::Window { base, counts, w, .. } => Ok(T::of(window_sum(&x.grid, base, counts, |i, j, l| {
            w[0][i] * w[1][j] * w[2][l]
        }))),
        Source::Entry(i) => Ok(x.grid[i]),
        Source::Default => Ok(x.default_f),
    }
}

/// `Σ grid[node]·weight(i, j, l)` over a 4×4×4 window (node indices clamped to the grid).
#[inline(always)]
pub fn window_sum<T: Real>(
    grid: &[T],
    base: [i64; 3],
    counts: [i64; 3],
    weight: impl Fn(usize, usize, usize) -> f64,
) -> f64 {
    let mut total = 0.0;
    for_window(base, counts, |i, j, l, flat| total += grid[flat].to_f64() * weight(i, j, l));
    total
}

/// Where F_cell of `hkl` comes from (f64), or [`LeftGrid`].
pub fn source(hkl: [f64; 3], spec: &TileSpec) -> Result<Source, LeftGrid> {
    let Some(extent) = spec.grid else {
        return Ok(Source::Default);
    };
    let counts = extent.counts();
    if !spec.interpolate {
        return Ok(grid_entry(hkl, extent).map_or(Source::Default, Source::Entry));
    }
    let mut base = [0i64; 3];
    let mut w = [[0.0; 4]; 3];
    let mut dw = [[0.0; 4]; 3];
    for axis in 0..3 {
        let x = hkl[axis];
        let min = extent.min[axis] as f64;
        if x - min + 3.0 > counts[axis] as f64 || x - 2.0 < min {
            return Err(LeftGrid);
        }
        let first = x.floor() - 1.0;
        (w[axis], dw[axis]) = cubic(x - first);
        base[axis] = ((first - min) as i64).clamp(0, (counts[axis] - 4).max(0));
    }
    Ok(Source::Window { base, counts, w, dw })
}
