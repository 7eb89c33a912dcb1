//! Vectorised forward pass for the common case: SQUARE lattice, F from `default_F` or the
//! nearest grid entry, factors applied once per pixel (no `-oversample_thick/polar/omega`).
//!
//! Per chunk of pixels, the geometry of every (layer, sub-pixel, source) evaluation is computed
//! once (scalar) and its scattering vector stored in lanes; then, cell by cell, F_cell²·F_latt²
//! is accumulated over blocks of [`LANES`] evaluations in a branch-free loop the compiler turns
//! into SIMD (AVX2 when the CPU has it, detected at run time). The grating uses
//! `sin(Nπf)/sin(πf)` with both sines reduced to |x| ≤ π/2 and a polynomial sine; values agree
//! with the scalar path to a few ulp.

use crate::physics::lattice::grating::series_coefficients;
use crate::physics::structure_factor::grid_entry;
use super::pixel::{scatter, subpixel};
use super::simd::simd_dispatch;
use super::Inputs;
use crate::kernel::real::Real;
use crate::kernel::capability::groups::{OTHER_LATTICES, PER_SUBPIXEL_FACTORS, SQUARE_ONCE_PER_PIXEL, TENSOR_PATH_ONLY};
use crate::kernel::capability::{Capability, Coverage, KernelId};
use crate::kernel::TileSpec;
use enumset::enum_set_union;
use std::f64::consts::PI;

/// Evaluations per SIMD block.
pub const LANES: usize = 16;

/// What the vectorised pass (this forward and its adjoint) implements: the SQUARE
/// grating with factors applied once per pixel, F from `default_F` or the nearest grid entry.
pub const BATCH: Coverage = Coverage {
    kernel: KernelId::CpuBatch,
    implements: enum_set_union!(SQUARE_ONCE_PER_PIXEL, Capability::HklGrid, Capability::PixelSubset),
    declines: enum_set_union!(OTHER_LATTICES, PER_SUBPIXEL_FACTORS, TENSOR_PATH_ONLY, Capability::TricubicF),
};

/// Per-thread buffers.
#[derive(Debug, Default)]
pub struct Scratch<T> {
    q: [Vec<[T; LANES]>; 3],
    owner: Vec<u32>,
    acc: Vec<[T; LANES]>,
}

/// Render `pixels` into `out`; returns whether any evaluation ran.
pub fn render_chunk<T: Real>(
    pixels: &[usize],
    x: &Inputs<T>,
    spec: &TileSpec,
    out: &mut [T],
    scratch: &mut Scratch<T>,
) -> bool {
    let no = spec.oversample * spec.oversample;
    for v in scratch.q.iter_mut() {
        v.clear();
    }
    scratch.owner.clear();
    let mut factors = Vec::with_capacity(pixels.len());
    let mut n = 0;
    for (i, &p) in pixels.iter().enumerate() {
        let (mut first_polar, mut capture_last, mut omega_first) = (None, T::ONE, T::ONE);
        for t in 0..spec.layers {
            for o in 0..no {
                let g = subpixel(p, t, o, x, spec);
                if t == 0 && o == 0 {
                    omega_first = g.omega;
                }
                if t + 1 == spec.layers && o == 0 {
                    capture_last = g.capture;
                }
                for s in 0..x.lambda.len() {
                    let sc = scatter(&g, s, x, spec);
                    if !sc.active {
                        continue;
                    }
                    first_polar.get_or_insert(sc.polar);
                    if n % LANES == 0 {
                        for v in scratch.q.iter_mut() {
                            v.push([T::ZERO; LANES]);
                        }
                    }
                    for (axis, v) in scratch.q.iter_mut().enumerate() {
                        v[n / LANES][n % LANES] = sc.q[axis];
                    }
                    scratch.owner.push(i as u32);
                    n += 1;
                }
            }
        }
        let mut factor = x.scale.to_f64() * capture_last.to_f64() * omega_first.to_f64();
        if !spec.nopolar {
            factor *= first_polar.map(|v| v.to_f64()).unwrap_or(0.0);
        }
        factors.push(factor);
    }
    scratch.acc.clear();
    scratch.acc.resize(scratch.q[0].len(), [T::ZERO; LANES]);
    let nearest = spec.grid.is_some();
    for cell in &x.cells {
        accumulate(nearest, cell, &scratch.q, &mut scratch.acc, x, spec);
    }
    let mut sums = vec![0.0f64; pixels.len()];
    for (e, &owner) in scratch.owner.iter().enumerate() {
        sums[owner as usize] += scratch.acc[e / LANES][e % LANES].to_f64();
    }
    for i in 0..pixels.len() {
        out[i] = T::of((sums[i] + x.i_bg.to_f64()) * factors[i]);
    }
    n > 0
}

simd_dispatch! {
    /// `acc += F_cell²·F_latt²` of every lane for one cell, F from the nearest grid entry
    /// (`nearest`) or `default_F`, chosen once per cell, outside the block loop.
    fn accumulate<T: Real>(
        nearest: bool,
        cell: &[[T; 3]; 3],
        q: &[Vec<[T; LANES]>; 3],
        acc: &mut [[T; LANES]],
        x: &Inputs<T>,
        spec: &TileSpec,
    ) {
        if nearest {
            accumulate_blocks::<T, true>(cell, q, acc, x, spec);
        } else {
            accumulate_blocks::<T, false>(cell, q, acc, x, spec);
        }
    }
}

#[inline(always)]
fn accumulate_blocks<T: Real, const NEAREST: bool>(
    cell: &[[T; 3]; 3],
    q: &[Vec<[T; LANES]>; 3],
    acc: &mut [[T; LANES]],
    x: &Inputs<T>,
    spec: &TileSpec,
) {
    let pi = T::of(PI);
    for (b, acc) in acc.iter_mut().enumerate() {
        let (qx, qy, qz) = (&q[0][b], &q[1][b], &q[2][b]);
        let mut hkl = [[T::ZERO; LANES]; 3];
        let mut f_latt = [T::ONE; LANES];
        for (axis, row) in cell.iter().enumerate() {
            for j in 0..LANES {
                let h = qx[j] * row[0] + qy[j] * row[1] + qz[j] * row[2];
                hkl[axis][j] = h;
                f_latt[j] = f_latt[j] * grating(h, x.n[axis], x.radius, pi);
            }
        }
        if NEAREST {
            for j in 0..LANES {
                let f = nearest([hkl[0][j], hkl[1][j], hkl[2][j]], x, spec);
                acc[j] += f * f * (f_latt[j] * f_latt[j]);
            }
        } else {
            let f2 = x.default_f * x.default_f;
            for j in 0..LANES {
                acc[j] += f2 * (f_latt[j] * f_latt[j]);
            }
        }
    }
}

/// Branch-free grating `±sin(Nπh)/sin(πh)` (see [`crate::physics::lattice::grating`]): reduced argument
/// f = h − round(h), `sin(Nπf) = ±sin(π(Nf − round(Nf)))`, series near f = 0. The signs
/// (`(−1)^round(Nf)` and the whole part's `(−1)^(h·(N−1))`) are dropped: only F_latt² reaches
/// the image.
#[inline(always)]
fn grating<T: Real>(h: T, n: T, radius: T, pi: T) -> T {
    let f = h - h.round_fast();
    let x = f * pi;
    let y = f * n;
    let sin_nx = ((y - y.round_fast()) * pi).sin_small();
    let quotient = sin_nx / x.sin_small();
    let x2 = x * x;
    let [a2, a4, a6] = series_coefficients(n * n);
    let series = (x2 * (x2 * (x2 * a6 + a4) + a2) + T::ONE) * n;
    if (x * n).abs() < radius {
        series
    } else {
        quotient
    }
}

/// F at the nearest grid entry, `default_F` outside the grid.
#[inline(always)]
fn nearest<T: Real>(hkl: [T; 3], x: &Inputs<T>, spec: &TileSpec) -> T {
    spec.grid
        .and_then(|extent| grid_entry(hkl, extent))
        .map_or(x.default_f, |i| x.grid[i])
}
