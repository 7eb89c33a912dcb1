//! The two per-cell lane sweeps of the vectorised backward pass ([`super`]): sweep 1
//! ([`cell_gratings`]) evaluates every lane's gratings with their slopes and stores the lane's
//! unweighted slopes of `I = F_cell²·F_latt²` ([`Slopes`]); sweep 2 ([`cell_adjoint`]) weights
//! them and sums them into the cell's adjoints ([`Sums`]) and each lane's `q̄`.
//!
//! Everything a sweep calls inside its lane loops is `#[inline(always)]` and written with plain
//! loops (no closures, no `array::map`), so that each instruction set's build of the sweep
//! ([`simd_dispatch!`]) inlines and vectorises it.

use super::super::batch::LANES;
use super::super::simd::{simd, simd_dispatch, Simd};
use super::super::Inputs;
use crate::kernel::real::Real;
use crate::kernel::TileSpec;
use crate::physics::lattice::grating::{series_coefficient_slopes, series_coefficients, series_grad};
use crate::physics::structure_factor::grid_entry;
use std::f64::consts::PI;

/// One block's unweighted slopes of `I = F_cell²·F_latt²` for one cell.
#[derive(Clone, Copy)]
pub(super) struct Slopes<T> {
    /// `∂I/∂h`, `∂I/∂k`, `∂I/∂l`.
    dh: [[T; LANES]; 3],
    /// `∂I/∂N` per axis.
    dn: [[T; LANES]; 3],
    /// `∂I/∂F_cell`.
    df: [T; LANES],
}

impl<T: Real> Default for Slopes<T> {
    fn default() -> Self {
        Slopes { dh: [[T::ZERO; LANES]; 3], dn: [[T::ZERO; LANES]; 3], df: [T::ZERO; LANES] }
    }
}

/// One cell's adjoint sums over a chunk (f64).
pub(super) struct Sums {
    pub(super) d_cell: [[f64; 3]; 3],
    pub(super) d_n: [f64; 3],
    pub(super) d_default: f64,
}

/// Sum of a block's lanes in f64, pairwise (a fixed tree of vector additions, where a running
/// sum would take one scalar addition per lane).
#[inline(always)]
fn lane_total<T: Real>(v: &[T; LANES]) -> f64 {
    const HALF: usize = LANES / 2;
    let mut w = [0.0; HALF];
    for j in 0..HALF {
        w[j] = v[j].to_f64() + v[j + HALF].to_f64();
    }
    let mut width = HALF;
    while width > 1 {
        width /= 2;
        for j in 0..width {
            w[j] += w[j + width];
        }
    }
    w[0]
}

simd_dispatch! {
    /// Sweep 1 for one cell: adds `F_cell²·F_latt²` of every lane to `terms` and stores its
    /// slopes (and, with a grid, the nearest entry per lane, `u32::MAX` for `default_F`).
    ///
    /// One body over local arrays, its steps marked by comments: written as functions over a
    /// struct of the block's arrays, the gradients of S4_512 were 5–19 % slower (session 15),
    /// so it stays one unrolled lane loop (as the CUDA kernels' bodies do).
    pub(super) fn cell_gratings<T: Real>(
        cell: &[[T; 3]; 3],
        q: &[Vec<[T; LANES]>; 3],
        terms: &mut [[T; LANES]],
        slopes: &mut [Slopes<T>],
        entries: Option<&mut [[u32; LANES]]>,
        x: &Inputs<T>,
        spec: &TileSpec,
    ) {
        let mut entries = entries;
        let series = x.n.map(SeriesCoefficients::new);
        // At f64 on AVX2 a register holds four lanes and the polynomials are long: one axis
        // per pass over the lanes leaves each pass a few long dependency chains, so the three
        // axes go into the same pass (sweep 1 about 13 % faster on an AVX2 EPYC). Elsewhere
        // each axis has its own pass: at f32 the three axes' chains together spill registers,
        // and with AVX-512's eight f64 lanes and 32 registers one pass per axis was faster
        // (docs/benchmarks-history.md, session 10).
        let axes_per_pass = std::mem::size_of::<T>() == 8 && simd() == Simd::Avx2;
        for (b, (t_b, out)) in terms.iter_mut().zip(slopes.iter_mut()).enumerate() {
            let mut hkl = [[T::ZERO; LANES]; 3];
            let mut g = [[T::ZERO; LANES]; 3];
            let mut dg_dh = [[T::ZERO; LANES]; 3];
            let mut dg_dn = [[T::ZERO; LANES]; 3];
            // Per axis and lane 1 where the series must replace the quotient, and per lane
            // whether any axis needs it (counted as integers: a reduction that vectorises,
            // taken once per block rather than once per axis).
            let mut near = [[0u32; LANES]; 3];
            let mut any_near = [0u32; LANES];
            // The gratings from the quotient of sines. (A macro, not a closure: a closure is
            // not compiled with the enclosing function's target features.)
            macro_rules! quotient {
                ($axis:expr, $j:expr) => {{
                    let (axis, j) = ($axis, $j);
                    let row = cell[axis];
                    let h = q[0][b][j] * row[0] + q[1][b][j] * row[1] + q[2][b][j] * row[2];
                    hkl[axis][j] = h;
                    let close;
                    (g[axis][j], dg_dh[axis][j], dg_dn[axis][j], close) =
                        grating_quotient_lane(h, x.n[axis], x.slope_radius);
                    near[axis][j] = close as u32;
                    any_near[j] |= close as u32;
                }};
            }
            if axes_per_pass {
                for j in 0..LANES {
                    for axis in 0..3 {
                        quotient!(axis, j);
                    }
                }
            } else {
                for axis in 0..3 {
                    for j in 0..LANES {
                        quotient!(axis, j);
                    }
                }
            }
            // The series near a peak's centre is rare (|Nπf| below the slopes' radius, 0.044):
            // only blocks with such a lane pay for it.
            if any_near.iter().sum::<u32>() != 0 {
                for axis in 0..3 {
                    for j in 0..LANES {
                        let (v, dh, dn) = grating_series_lane(hkl[axis][j], x.n[axis], &series[axis]);
                        let near = near[axis][j] != 0;
                        g[axis][j] = g[axis][j].pick(v, near);
                        dg_dh[axis][j] = dg_dh[axis][j].pick(dh, near);
                        dg_dn[axis][j] = dg_dn[axis][j].pick(dn, near);
                    }
                }
            }
            // F at the nearest grid entry.
            let mut f_cell = [x.default_f; LANES];
            if let Some(entries) = entries.as_deref_mut() {
                for j in 0..LANES {
                    let (f, entry) = nearest_entry([hkl[0][j], hkl[1][j], hkl[2][j]], x, spec);
                    f_cell[j] = f;
                    entries[b][j] = entry;
                }
            }
            block_terms_and_slopes(&g, &dg_dh, &dg_dn, &f_cell, t_b, out);
        }
    }
}

/// Adds every lane's `F_cell²·F_latt²` to `t_b` and stores its unweighted slopes (gratings
/// `g` with their slopes scaled as [`grating_quotient_lane`]'s).
#[inline(always)]
fn block_terms_and_slopes<T: Real>(
    g: &[[T; LANES]; 3],
    dg_dh: &[[T; LANES]; 3],
    dg_dn: &[[T; LANES]; 3],
    f_cell: &[T; LANES],
    t_b: &mut [T; LANES],
    out: &mut Slopes<T>,
) {
    let two = T::of(2.0);
    let two_pi = T::of(2.0 * PI);
    for j in 0..LANES {
        let f_latt = g[0][j] * g[1][j] * g[2][j];
        let f2 = f_cell[j] * f_cell[j];
        let latt2 = f_latt * f_latt;
        t_b[j] += f2 * latt2;
        // 2π·F²·F_latt: the slopes in x = πf taken to h (the π of ∂x/∂h and the 1/π of
        // the ∂/∂N slopes written in f, see `grating_quotient_lane`). With default_F the
        // constant factors are hoisted out of the loop.
        let d_latt = f_latt * (two_pi * f2);
        out.df[j] = (two * f_cell[j]) * latt2;
        let others = [g[1][j] * g[2][j], g[0][j] * g[2][j], g[0][j] * g[1][j]];
        for a in 0..3 {
            let d = d_latt * others[a];
            out.dh[a][j] = d * dg_dh[a][j];
            out.dn[a][j] = d * dg_dn[a][j];
        }
    }
}

simd_dispatch! {
    /// Sweep 2 for one cell: every lane's slopes times its upstream weight, into `q̄` and the
    /// cell's sums (returned; `default_F`'s, or with `entries` the grid entries' adjoints).
    pub(super) fn cell_adjoint<T: Real>(
        cell: &[[T; 3]; 3],
        q: &[Vec<[T; LANES]>; 3],
        weight: &[[T; LANES]],
        slopes: &[Slopes<T>],
        entries: Option<(&[[u32; LANES]], &mut Vec<(usize, f64)>)>,
        dq: &mut [Vec<[T; LANES]>; 3],
    ) -> Sums {
        let mut entries = entries;
        // The compiler keeps these sums on the stack (the lane loop is too large to be unrolled
        // and its arrays split into registers; see docs/benchmarks-history.md, session 8).
        let (mut d_cell, mut d_n, mut d_default) = ([[[T::ZERO; LANES]; 3]; 3], [[T::ZERO; LANES]; 3], [T::ZERO; LANES]);
        let [dq0, dq1, dq2] = dq;
        for (b, (w_b, s_b)) in weight.iter().zip(slopes).enumerate() {
            // This block's rows, borrowed once: the lane loop below then indexes fixed-size
            // arrays only (no bounds checks), so it vectorises.
            let q_b = [&q[0][b], &q[1][b], &q[2][b]];
            let dq_b = [&mut dq0[b], &mut dq1[b], &mut dq2[b]];
            let mut d_f = [T::ZERO; LANES];
            for j in 0..LANES {
                let w = w_b[j];
                d_f[j] = w * s_b.df[j];
                let dh = [0, 1, 2].map(|a| w * s_b.dh[a][j]);
                for a in 0..3 {
                    d_n[a][j] = w.mul_add(s_b.dn[a][j], d_n[a][j]);
                    for c in 0..3 {
                        d_cell[a][c][j] = dh[a].mul_add(q_b[c][j], d_cell[a][c][j]);
                    }
                }
                for c in 0..3 {
                    dq_b[c][j] =
                        dh[0].mul_add(cell[0][c], dh[1].mul_add(cell[1][c], dh[2].mul_add(cell[2][c], dq_b[c][j])));
                }
            }
            match entries.as_mut() {
                None => {
                    for j in 0..LANES {
                        d_default[j] += d_f[j];
                    }
                }
                Some((entries, adj)) => {
                    for j in 0..LANES {
                        if entries[b][j] == u32::MAX {
                            d_default[j] += d_f[j];
                        } else if d_f[j] != T::ZERO {
                            adj.push((entries[b][j] as usize, d_f[j].to_f64()));
                        }
                    }
                }
            }
        }
        // (Loops, not `array::map`: that is not inlined into this function's target features.)
        let mut sums = Sums { d_cell: [[0.0; 3]; 3], d_n: [0.0; 3], d_default: lane_total(&d_default) };
        for a in 0..3 {
            for c in 0..3 {
                sums.d_cell[a][c] = lane_total(&d_cell[a][c]);
            }
            sums.d_n[a] = lane_total(&d_n[a]);
        }
        sums
    }
}

/// The grating's Taylor coefficients in x and their slopes in N² for one axis's N.
struct SeriesCoefficients<T> {
    a: [T; 3],
    da: [T; 3],
}

impl<T: Real> SeriesCoefficients<T> {
    fn new(n: T) -> Self {
        SeriesCoefficients { a: series_coefficients(n * n), da: series_coefficient_slopes(n * n) }
    }
}

/// Branch-free grating `±sin(Nπh)/sin(πh)` from the quotient of sines, with `∂/∂x` (x = πf,
/// f = h − round h), `∂/∂N / π` and whether h is near enough to a peak's centre that the series
/// must replace the quotient ([`grating_series_lane`]); the caller multiplies both slopes by π
/// once per lane (`∂/∂h = π·∂/∂x`). Up to one sign per lane (`(−1)^round(Nf)` of the reduced
/// sine and the `(−1)^(h·(N−1))` of the whole part, dropped): the value and both slopes carry
/// the same sign, and `I = F²·F_latt²` and its slopes (`F_latt·∂F_latt`) do not see it. Up to
/// that sign and the factor π they are [`crate::physics::lattice::grating::value_grad`]'s values to a few ulp.
#[inline(always)]
fn grating_quotient_lane<T: Real>(h: T, n: T, radius: T) -> (T, T, T, bool) {
    let pi = T::of(PI);
    let f = h - h.round_fast();
    let x = f * pi;
    let y = f * n;
    let r = (y - y.round_fast()) * pi;
    let (sn, cn) = r.sin_cos_small();
    let (s, co) = x.sin_cos_small();
    // One reciprocal of sin x for the quotient and both its slopes:
    // d(sn/s)/dx = (N·cn·s − sn·co)/s², d(sn/s)/dN = x·cn/s = π·(f·cn/s).
    let inv = T::ONE / s;
    let v = sn * inv;
    let dx = (n * cn - v * co) * inv;
    let dn = f * cn * inv;
    (v, dx, dn, (x * n).abs() < radius)
}

/// The grating's series `N·(1 + a₂x² + a₄x⁴ + a₆x⁶)` near a peak's centre, with its slopes
/// scaled as [`grating_quotient_lane`]'s, up to the sign that drops.
#[inline(always)]
fn grating_series_lane<T: Real>(h: T, n: T, coefficients: &SeriesCoefficients<T>) -> (T, T, T) {
    let x = (h - h.round_fast()) * T::of(PI);
    let (v, dx, dn) = series_grad(x, n, coefficients.a, coefficients.da);
    (v, dx, dn * T::of(1.0 / PI))
}

/// F at the nearest grid entry and that entry (`u32::MAX` for `default_F`; a grid of 2³²
/// entries would not fit in memory).
#[inline(always)]
fn nearest_entry<T: Real>(hkl: [T; 3], x: &Inputs<T>, spec: &TileSpec) -> (T, u32) {
    match spec.grid.and_then(|extent| grid_entry(hkl, extent)) {
        Some(i) => (x.grid[i], i as u32),
        None => (x.default_f, u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::{lane_total, LANES};

    #[test]
    fn lane_total_adds_every_lane_once() {
        let v: [f32; LANES] = std::array::from_fn(|j| (1u32 << j) as f32);
        assert_eq!(lane_total(&v), ((1u64 << LANES) - 1) as f64);
    }
}
