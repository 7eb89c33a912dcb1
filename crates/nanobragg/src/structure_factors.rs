//! Structure factors F_cell(h, k, l): nearest-neighbour lookup in the HKL grid.
//!
//! The grid is a flat tensor over `[h_min..=h_max] × [k_min..=k_max] × [l_min..=l_max]`
//! (l fastest), so gradients reach every grid entry. Indices outside it, or no grid at all,
//! give `default_F`.

use burn::tensor::{backend::Backend, Int, Tensor};
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
