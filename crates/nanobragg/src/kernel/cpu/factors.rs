//! The CPU kernels' per-evaluation factors: adapters from the kernel's inputs ([`Inputs`],
//! [`TileSpec`]) to the scalar forms of [`crate::physics`] — the lattice transform with its
//! derivatives ([`crate::physics::lattice`]) and F_cell ([`crate::physics::structure_factor`]).

use super::Inputs;
use crate::kernel::real::Real;
use crate::kernel::TileSpec;
use crate::physics::lattice::{self, grating, LatticeGrad, LatticeScalars};
use crate::physics::structure_factor::{grid_entry, source, window_sum, LeftGrid, Source};
use crate::scene::LatticeShape;

/// The scalar inputs of the lattice transform at `hkl` (f64).
fn lattice_scalars<T: Real>(hkl: [f64; 3], x: &Inputs<T>, spec: &TileSpec) -> LatticeScalars {
    LatticeScalars {
        hkl,
        n: x.n.map(|v| v.to_f64()),
        recip: x.recip.map(|r| r.map(|v| v.to_f64())),
        fudge: spec.fudge,
        radius: x.radius.to_f64(),
        sign_m: x.sign_m,
    }
}

/// Lattice transform F_latt of fractional indices `hkl`: the SQUARE gratings at `T`, the
/// other shapes at f64.
#[inline(always)]
pub fn lattice<T: Real>(hkl: [T; 3], x: &Inputs<T>, spec: &TileSpec) -> T {
    match spec.shape {
        LatticeShape::Square => {
            let g = |i: usize| grating::value(hkl[i], x.n[i], x.sign_m[i], x.radius);
            g(0) * g(1) * g(2)
        }
        shape => T::of(lattice::value_grad(shape, &lattice_scalars(hkl.map(|v| v.to_f64()), x, spec)).value),
    }
}

/// Lattice transform with its derivatives (f64).
pub fn lattice_grad(hkl: [f64; 3], x: &Inputs<f64>, spec: &TileSpec) -> LatticeGrad {
    lattice::value_grad(spec.shape, &lattice_scalars(hkl, x, spec))
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
    match source(hkl.map(|v| v.to_f64()), spec.grid, spec.interpolate)? {
        Source::Window { base, counts, w, .. } => Ok(T::of(window_sum(&x.grid, base, counts, |i, j, l| {
            w[0][i] * w[1][j] * w[2][l]
        }))),
        Source::Entry(i) => Ok(x.grid[i]),
        Source::Default => Ok(x.default_f),
    }
}

