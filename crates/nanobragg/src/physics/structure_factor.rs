//! Structure factors F_cell(h, k, l): nearest-neighbour lookup in the HKL grid.
//!
//! The grid is a flat tensor over `[h_min..=h_max] × [k_min..=k_max] × [l_min..=l_max]`
//! (l fastest), so gradients reach every grid entry. Indices outside it, or no grid at all,
//! give `default_F`. The scalar forms below (the CPU kernels') take the same rules with the
//! weights' derivatives.

use burn::tensor::{backend::Backend, Int, Tensor};

use crate::kernel::real::Real;
use crate::linalg::div_exact;

/// Extents of an HKL grid (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridExtent {
    /// Minimum h, k, l.
    pub min: [i64; 3],
    /// Maximum h, k, l.
    pub max: [i64; 3],
}

impl GridExtent {
    /// Number of entries along h, k, l.
    pub fn counts(&self) -> [i64; 3] {
        [0, 1, 2].map(|i| self.max[i] - self.min[i] + 1)
    }
}

/// F at the nearest whole indices `(h0, k0, l0)` (each `[E, K]`, integral values).
pub fn nearest<B: Backend>(
    hkl0: [Tensor<B, 2>; 3],
    grid: Option<(&Tensor<B, 1>, GridExtent)>,
    default_f: &Tensor<B, 1>,
) -> Tensor<B, 2> {
    let [e, k] = hkl0[0].dims();
    let default = default_f.clone().reshape([1, 1]).expand([e, k]);
    let Some((values, extent)) = grid else {
        return default;
    };
    let counts = extent.counts();
    let mut inside: Option<Tensor<B, 2, burn::tensor::Bool>> = None;
    let mut flat: Option<Tensor<B, 2>> = None;
    for (axis, idx) in hkl0.into_iter().enumerate() {
        let rel = idx - extent.min[axis] as f64;
        let ok = rel
            .clone()
            .greater_equal_elem(0.0)
            .bool_and(rel.clone().lower_equal_elem((counts[axis] - 1) as f64));
        let rel = rel.clamp(0.0, (counts[axis] - 1) as f64);
        inside = Some(match inside {
            None => ok,
            Some(prev) => prev.bool_and(ok),
        });
        flat = Some(match flat {
            None => rel,
            Some(prev) => prev * counts[axis] as f64 + rel,
        });
    }
    let (inside, flat) = (inside.expect("three axes"), flat.expect("three axes"));
    let index: Tensor<B, 1, Int> = flat.reshape([e * k]).int();
    let looked_up = values.clone().select(0, index).reshape([e, k]);
    default.mask_where(inside, looked_up)
}

/// Lagrange weights of the four consecutive integer nodes `⌊x⌋−1 … ⌊x⌋+2` at `x`
/// (the C program's `polint` on those nodes), each `[E, K]`.
fn cubic_weights<B: Backend>(x: &Tensor<B, 2>, base: &Tensor<B, 2>) -> [Tensor<B, 2>; 4] {
    // t = x − x0 with x0 = ⌊x⌋ − 1; nodes at t = 0, 1, 2, 3.
    let t = x.clone() - base.clone();
    let (t0, t1, t2, t3) = (t.clone(), t.clone() - 1.0, t.clone() - 2.0, t - 3.0);
    [
        div_exact(t1.clone() * t2.clone() * t3.clone(), -6.0),
        div_exact(t0.clone() * t2.clone() * t3.clone(), 2.0),
        div_exact(t0.clone() * t1.clone() * t3, -2.0),
        div_exact(t0 * t1 * t2, 6.0),
    ]
}

/// Tricubic interpolation of F at fractional `(h, k, l)` (each `[E, K]`) from the 4×4×4
/// neighbourhood `⌊h⌋−1 … ⌊h⌋+2` (same for k, l). Also returns where the neighbourhood leaves
/// the grid by the C program's test (`h − h_min + 3 > h_range` or `h − 2 < h_min`, likewise k, l);
/// values there are meaningless and must be replaced by the caller.
pub fn tricubic<B: Backend>(
    hkl: [&Tensor<B, 2>; 3],
    values: &Tensor<B, 1>,
    extent: GridExtent,
) -> (Tensor<B, 2>, Tensor<B, 2, burn::tensor::Bool>) {
    let [e, k] = hkl[0].dims();
    let counts = extent.counts();
    let mut outside: Option<Tensor<B, 2, burn::tensor::Bool>> = None;
    let mut bases = Vec::with_capacity(3);
    let mut weights = Vec::with_capacity(3);
    for axis in 0..3 {
        let x = hkl[axis];
        let min = extent.min[axis] as f64;
        let range = counts[axis] as f64;
        let out = (x.clone() - min + 3.0)
            .greater_elem(range)
            .bool_or((x.clone() - 2.0).lower_elem(min));
        outside = Some(match outside {
            None => out,
            Some(prev) => prev.bool_or(out),
        });
        let base = x.clone().floor() - 1.0; // first node
        weights.push(cubic_weights(x, &base));
        // Grid offset of the first node, clamped so every gather stays inside the grid.
        let rel = (base - min).clamp(0.0, (counts[axis] - 4).max(0) as f64);
        bases.push(rel);
    }
    let n = e * k;
    let mut total: Option<Tensor<B, 2>> = None;
    for i in 0..4 {
        for j in 0..4 {
            for l in 0..4 {
                let hi = (bases[0].clone() + i as f64).clamp(0.0, (counts[0] - 1) as f64);
                let kj = (bases[1].clone() + j as f64).clamp(0.0, (counts[1] - 1) as f64);
                let ll = (bases[2].clone() + l as f64).clamp(0.0, (counts[2] - 1) as f64);
                let flat = (hi * counts[1] as f64 + kj) * counts[2] as f64 + ll;
                let idx: Tensor<B, 1, Int> = flat.reshape([n]).int();
                let f = values.clone().select(0, idx).reshape([e, k]);
                let w = weights[0][i].clone() * weights[1][j].clone() * weights[2][l].clone();
                let term = f * w;
                total = Some(match total {
                    None => term,
                    Some(acc) => acc + term,
                });
            }
        }
    }
    (total.expect("64 terms"), outside.expect("three axes"))
}

// ---------------------------------------------------------------------------------------------
// Scalar form and derivatives
// ---------------------------------------------------------------------------------------------

/// The evaluation's window left the grid while interpolation is on: the tile goes to the tensor
/// path, which applies the C program's scan-order fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeftGrid;

/// Lagrange weights of nodes `t = 0…3` at `t` and their derivatives (scalar form of
/// [`cubic_weights`]).
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

/// Where F_cell of `hkl` comes from (f64) for a grid of `extent` (`None`: no grid), nearest or
/// tricubic as `interpolate` says, or [`LeftGrid`].
pub fn source(hkl: [f64; 3], grid: Option<GridExtent>, interpolate: bool) -> Result<Source, LeftGrid> {
    let Some(extent) = grid else {
        return Ok(Source::Default);
    };
    let counts = extent.counts();
    if !interpolate {
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
