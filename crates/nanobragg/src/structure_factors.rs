//! Structure factors F_cell(h, k, l): nearest-neighbour lookup in the HKL grid.
//!
//! The grid is a flat tensor over `[h_min..=h_max] × [k_min..=k_max] × [l_min..=l_max]`
//! (l fastest), so gradients reach every grid entry. Indices outside it, or no grid at all,
//! give `default_F`.

use burn::tensor::{backend::Backend, Int, Tensor};

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
