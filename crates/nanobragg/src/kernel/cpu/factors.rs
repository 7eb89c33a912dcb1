//! The CPU kernels' per-evaluation factors: adapters from the kernel's inputs ([`Inputs`],
//! [`TileSpec`]) to the scalar forms of [`crate::physics`] and their adjoints (into θ's entries,
//! [`Layout`]) — the solid angle ([`crate::physics::solid_angle`]), the capture fraction
//! ([`crate::physics::capture`]), the Kahn factor ([`crate::physics::polarization`]), the
//! lattice transform with its derivatives ([`crate::physics::lattice`]) and F_cell
//! ([`crate::physics::structure_factor`]).

use super::Inputs;
use crate::kernel::real::Real;
use crate::kernel::{Layout, TileSpec};
use crate::physics::{capture as capture_fraction, polarization, solid_angle as omega};
use crate::physics::lattice::{self, grating, LatticeGrad, LatticeScalars};
use crate::physics::structure_factor::{grid_entry, source, window_sum, LeftGrid, Source};
use crate::scene::LatticeShape;

/// Solid angle of a sub-pixel at distance `r`.
#[inline(always)]
pub fn solid_angle<T: Real>(r: T, x: &Inputs<T>, spec: &TileSpec) -> T {
    omega::value(r, x.pixel, x.close, spec.point_pixel)
}

/// Adjoint of the solid angle `omega` at distance `r`: into the pixel size and close distance;
/// returns `r̄`.
#[inline(always)]
pub fn solid_angle_adjoint(r: f64, omega: f64, domega: f64, x: &Inputs<f64>, spec: &TileSpec, acc: &mut [f64]) -> f64 {
    let g = omega::adjoint(r, omega, domega, x.pixel, x.close, spec.point_pixel);
    if !spec.point_pixel {
        acc[Layout::PIXEL] += g.pixel;
        acc[Layout::CLOSE] += g.close;
    }
    g.r
}

/// Fraction of the beam captured by sensor layer `t` along direction `d`.
#[inline(always)]
pub fn capture<T: Real>(t: usize, d: [T; 3], x: &Inputs<T>) -> T {
    capture_fraction::value(t, d, x.odet, x.layer, x.mu)
}

/// Adjoint of the capture fraction of layer `t` seen along `d`: into the layer step, μ, the
/// detector normal and `d̄`.
#[inline(always)]
pub fn capture_adjoint(t: usize, d: [f64; 3], dcapture: f64, dd: &mut [f64; 3], x: &Inputs<f64>, acc: &mut [f64]) {
    let g = capture_fraction::adjoint(t, d, x.odet, x.layer, x.mu, dcapture);
    acc[Layout::LAYER] += g.layer;
    acc[Layout::MU] += g.mu;
    for i in 0..3 {
        dd[i] += g.d[i];
        acc[Layout::ODET + i] += g.odet[i];
    }
}

/// Kahn polarization factor of direction `d` for source `s`.
#[inline(always)]
pub fn kahn<T: Real>(d: [T; 3], s: usize, x: &Inputs<T>) -> T {
    polarization::value(d, x.incident[s], x.e_in[s], x.b_in[s], x.polar_k)
}

/// Adjoint of the Kahn factor of direction `d` and source `s`: `P̄` into K and `d̄`.
#[inline(always)]
pub fn kahn_adjoint(d: [f64; 3], s: usize, dpolar: f64, dd: &mut [f64; 3], x: &Inputs<f64>, acc: &mut [f64]) {
    let g = polarization::adjoint(d, x.incident[s], x.e_in[s], x.b_in[s], x.polar_k, dpolar);
    acc[Layout::POLAR_K] += g.k;
    for i in 0..3 {
        dd[i] += g.d[i];
    }
}

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

