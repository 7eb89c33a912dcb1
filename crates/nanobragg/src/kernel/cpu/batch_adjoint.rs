//! Vectorised backward pass for the scenes [`super::batch`] covers (SQUARE lattice, F from
//! `default_F` or the nearest grid entry, factors once per pixel), in f64.
//!
//! Per chunk of pixels: the geometry of every sub-pixel and evaluation is recomputed as
//! structure-of-arrays ([`Geometry`]) and each evaluation's scattering vector stored in lanes
//! with its upstream weight `G = ∂L/∂value·factor`; then, cell by cell, a branch-free block
//! loop evaluates F_latt with its derivatives in h, k, l and N and accumulates `∂L/∂(cell)`,
//! `∂L/∂N`, `∂L/∂default_F` and each evaluation's `q̄`; the per-pixel factors go back through
//! their scalar adjoints ([`super::adjoint`]) and `q̄`, `d̄`, `r̄` through the geometry's.

use super::adjoint::{capture_adjoint, omega_adjoint, polar_adjoint};
use super::batch::LANES;
use super::batch_geometry::Geometry;
use super::factors::{grid_entry, parity_sign, series_coefficient_slopes, series_coefficients, series_grad};
use super::pixel::{capture, kahn, solid_angle};
use super::Inputs;
use crate::kernel::real::Real;
use crate::kernel::{Layout, TileSpec};
use std::f64::consts::PI;

/// Adjoint of the pixels `pixels` (upstream gradients `grad`) added into `acc`. The geometry and
/// its adjoints run in f64 (`x`); the per-cell lane loop runs in the render's float type (`xt`),
/// its partial sums collected in f64 per chunk.
pub fn chunk<T: Real>(
    pixels: &[usize],
    grad: &[f64],
    x: &Inputs<f64>,
    xt: &Inputs<T>,
    spec: &TileSpec,
    acc: &mut [f64],
) {
    let layout = spec.layout();
    let no = spec.oversample * spec.oversample;
    let per_pixel = spec.layers * no;
    let sources = x.lambda.len();
    let geo = Geometry::new(pixels, x, spec);
    let n = geo.n;

    // Per pixel: the factors applied once (capture of the last layer, Kahn factor of the first
    // evaluation that runs, solid angle of the first sub-pixel) and that first evaluation.
    let mut parts = Vec::with_capacity(pixels.len());
    let mut firsts = Vec::with_capacity(pixels.len());
    for i in 0..pixels.len() {
        let base = i * per_pixel;
        let first = (base..base + per_pixel)
            .flat_map(|j| (0..sources).map(move |s| (j, s)))
            .find(|&(j, s)| geo.active[s * n + j]);
        let last = base + (spec.layers - 1) * no;
        let capture_last = if spec.thick { capture(spec.layers - 1, geo.d(last), x) } else { 1.0 };
        let polar = match (spec.nopolar, first) {
            (true, _) => 1.0,
            (false, Some((j, s))) => kahn(geo.d(j), s, x),
            (false, None) => 0.0,
        };
        parts.push([capture_last, polar, solid_angle(geo.r[base], x, spec)]);
        firsts.push(first);
    }

    let evaluations = sources * n;
    let blocks = evaluations.div_ceil(LANES);
    let zeros = || vec![[T::ZERO; LANES]; blocks];
    let mut q = [zeros(), zeros(), zeros()];
    let mut weight = zeros();
    for e in 0..evaluations {
        for (axis, q) in q.iter_mut().enumerate() {
            q[e / LANES][e % LANES] = T::of(geo.q(axis, e));
        }
    }
    // Evaluation e = s·n + i·per_pixel + k.
    let pixel_weight: Vec<T> = (0..pixels.len())
        .map(|i| {
            let [c, pol, om] = parts[i];
            T::of(grad[i] * x.scale * c * pol * om)
        })
        .collect();
    let mut e = 0;
    for _ in 0..sources {
        for w in &pixel_weight {
            for _ in 0..per_pixel {
                if geo.active[e] {
                    weight[e / LANES][e % LANES] = *w;
                }
                e += 1;
            }
        }
    }
    let mut dq = [zeros(), zeros(), zeros()];
    let mut terms = zeros();
    let nearest = spec.grid.is_some();
    for (k, cell) in xt.cells.iter().enumerate() {
        let mut sums = Sums::<T>::default();
        let mut grid_adj: Vec<(usize, f64)> = Vec::new();
        cell_blocks(cell, &q, &weight, &mut dq, &mut terms, &mut sums, xt, spec, nearest.then_some(&mut grid_adj));
        let cells_at = layout.cells_at() + 9 * k;
        let total = |v: &[T; LANES]| v.iter().map(|t| t.to_f64()).sum::<f64>();
        for row in 0..3 {
            for c in 0..3 {
                acc[cells_at + 3 * row + c] += total(&sums.d_cell[row][c]);
            }
            acc[Layout::N + row] += total(&sums.d_n[row]);
        }
        acc[Layout::DEFAULT_F] += total(&sums.d_default);
        for (i, v) in grid_adj {
            acc[layout.grid_at() + i] += v;
        }
    }

    // Intensities for the factor adjoints; the factors' adjoints into d̄ and r̄ per sub-pixel.
    let mut intensity = vec![x.i_bg; pixels.len()];
    let mut e = 0;
    for _ in 0..sources {
        for value in intensity.iter_mut() {
            for _ in 0..per_pixel {
                if geo.active[e] {
                    *value += terms[e / LANES][e % LANES].to_f64();
                }
                e += 1;
            }
        }
    }
    let mut dd = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    let mut dr = vec![0.0; n];
    let mut add_dd = |j: usize, v: [f64; 3]| (0..3).for_each(|a| dd[a][j] += v[a]);
    // θ's entries before the wavelengths, summed over the chunk here (registers, not memory).
    let mut head = [0.0; Layout::LAMBDA];
    for (i, first) in firsts.iter().enumerate() {
        // value = intensity·scale·capture·polar·omega
        let [c, pol, om] = parts[i];
        let d_factor = grad[i] * intensity[i];
        head[Layout::SCALE] += d_factor * c * pol * om;
        head[Layout::I_BG] += grad[i] * x.scale * c * pol * om;
        let base = i * per_pixel;
        if spec.thick {
            let last = base + (spec.layers - 1) * no;
            let mut v = [0.0; 3];
            capture_adjoint(spec.layers - 1, geo.d(last), d_factor * x.scale * pol * om, &mut v, x, &mut head);
            add_dd(last, v);
        }
        dr[base] += omega_adjoint(geo.r[base], om, d_factor * x.scale * c * pol, x, spec, &mut head);
        if let (false, Some((j, s))) = (spec.nopolar, first) {
            let mut v = [0.0; 3];
            polar_adjoint(geo.d(*j), *s, d_factor * x.scale * c * om, &mut v, x, &mut head);
            add_dd(*j, v);
        }
    }
    acc.iter_mut().zip(head).for_each(|(a, h)| *a += h);
    let dq = [0, 1, 2].map(|a| (0..evaluations).map(|e| dq[a][e / LANES][e % LANES].to_f64()).collect());
    geo.adjoint(&dq, dd, &dr, x, acc);
}

/// Per-lane partial sums of one cell's adjoints.
struct Sums<T> {
    d_cell: [[[T; LANES]; 3]; 3],
    d_n: [[T; LANES]; 3],
    d_default: [T; LANES],
}

impl<T: Real> Default for Sums<T> {
    fn default() -> Self {
        Sums {
            d_cell: [[[T::ZERO; LANES]; 3]; 3],
            d_n: [[T::ZERO; LANES]; 3],
            d_default: [T::ZERO; LANES],
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn cell_blocks<T: Real>(
    cell: &[[T; 3]; 3],
    q: &[Vec<[T; LANES]>; 3],
    weight: &[[T; LANES]],
    dq: &mut [Vec<[T; LANES]>; 3],
    terms: &mut [[T; LANES]],
    sums: &mut Sums<T>,
    x: &Inputs<T>,
    spec: &TileSpec,
    grid_adj: Option<&mut Vec<(usize, f64)>>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        unsafe { cell_blocks_avx2(cell, q, weight, dq, terms, sums, x, spec, grid_adj) };
        return;
    }
    cell_blocks_body(cell, q, weight, dq, terms, sums, x, spec, grid_adj);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn cell_blocks_avx2<T: Real>(
    cell: &[[T; 3]; 3],
    q: &[Vec<[T; LANES]>; 3],
    weight: &[[T; LANES]],
    dq: &mut [Vec<[T; LANES]>; 3],
    terms: &mut [[T; LANES]],
    sums: &mut Sums<T>,
    x: &Inputs<T>,
    spec: &TileSpec,
    grid_adj: Option<&mut Vec<(usize, f64)>>,
) {
    cell_blocks_body(cell, q, weight, dq, terms, sums, x, spec, grid_adj);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cell_blocks_body<T: Real>(
    cell: &[[T; 3]; 3],
    q: &[Vec<[T; LANES]>; 3],
    weight: &[[T; LANES]],
    dq: &mut [Vec<[T; LANES]>; 3],
    terms: &mut [[T; LANES]],
    sums: &mut Sums<T>,
    x: &Inputs<T>,
    spec: &TileSpec,
    mut grid_adj: Option<&mut Vec<(usize, f64)>>,
) {
    let m = x.sign_m.map(T::of);
    let two = T::of(2.0);
    let series = x.n.map(SeriesCoefficients::new);
    for b in 0..weight.len() {
        let mut hkl = [[T::ZERO; LANES]; 3];
        let mut g = [[T::ZERO; LANES]; 3];
        let mut dg_dh = [[T::ZERO; LANES]; 3];
        let mut dg_dn = [[T::ZERO; LANES]; 3];
        for axis in 0..3 {
            let row = cell[axis];
            // Per lane 1 where the series must replace the quotient (counted as integers, a
            // reduction that vectorises).
            let mut near = [0u32; LANES];
            for j in 0..LANES {
                let h = q[0][b][j] * row[0] + q[1][b][j] * row[1] + q[2][b][j] * row[2];
                hkl[axis][j] = h;
                let close;
                (g[axis][j], dg_dh[axis][j], dg_dn[axis][j], close) =
                    grating_quotient_lane(h, x.n[axis], m[axis], x.radius);
                near[j] = close as u32;
            }
            // The series near a peak's centre is rare (|Nπf| below a few hundredths at f64):
            // only blocks with such a lane pay for it.
            if near.iter().sum::<u32>() != 0 {
                for j in 0..LANES {
                    let (v, dh, dn) = grating_series_lane(hkl[axis][j], x.n[axis], m[axis], &series[axis]);
                    let near = near[j] != 0;
                    g[axis][j] = if near { v } else { g[axis][j] };
                    dg_dh[axis][j] = if near { dh } else { dg_dh[axis][j] };
                    dg_dn[axis][j] = if near { dn } else { dg_dn[axis][j] };
                }
            }
        }
        let mut f_cell = [x.default_f; LANES];
        let mut entry = [usize::MAX; LANES];
        if grid_adj.is_some() {
            for j in 0..LANES {
                (f_cell[j], entry[j]) = nearest_entry([hkl[0][j], hkl[1][j], hkl[2][j]], x, spec);
            }
        }
        // This block's rows, borrowed once: the lane loop below then indexes fixed-size arrays
        // only (no bounds checks), so it vectorises.
        let (w_b, t_b) = (&weight[b], &mut terms[b]);
        let q_b = [&q[0][b], &q[1][b], &q[2][b]];
        let [dq0, dq1, dq2] = &mut *dq;
        let dq_b = [&mut dq0[b], &mut dq1[b], &mut dq2[b]];
        let mut d_cell = [T::ZERO; LANES];
        for j in 0..LANES {
            let f_latt = g[0][j] * g[1][j] * g[2][j];
            let f2 = f_cell[j] * f_cell[j];
            t_b[j] += f2 * (f_latt * f_latt);
            let w = w_b[j];
            let d_latt = w * two * f_latt * f2;
            d_cell[j] = w * two * f_cell[j] * (f_latt * f_latt);
            let others = [g[1][j] * g[2][j], g[0][j] * g[2][j], g[0][j] * g[1][j]];
            let dh = [0, 1, 2].map(|a| d_latt * others[a] * dg_dh[a][j]);
            for a in 0..3 {
                sums.d_n[a][j] = (d_latt * others[a]).mul_add(dg_dn[a][j], sums.d_n[a][j]);
                for c in 0..3 {
                    sums.d_cell[a][c][j] = dh[a].mul_add(q_b[c][j], sums.d_cell[a][c][j]);
                }
            }
            for c in 0..3 {
                dq_b[c][j] =
                    dh[0].mul_add(cell[0][c], dh[1].mul_add(cell[1][c], dh[2].mul_add(cell[2][c], dq_b[c][j])));
            }
        }
        match grid_adj.as_deref_mut() {
            None => {
                for j in 0..LANES {
                    sums.d_default[j] += d_cell[j];
                }
            }
            Some(adj) => {
                for j in 0..LANES {
                    if entry[j] == usize::MAX {
                        sums.d_default[j] += d_cell[j];
                    } else if d_cell[j] != T::ZERO {
                        adj.push((entry[j], d_cell[j].to_f64()));
                    }
                }
            }
        }
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

/// Branch-free grating `sin(Nπh)/sin(πh)` from the quotient of sines, with `∂/∂h`, `∂/∂N` and
/// whether h is near enough to a peak's centre that the series must replace the quotient
/// ([`grating_series_lane`]). Together they give [`super::factors::grating_grad`]'s values to a
/// few ulp.
#[inline(always)]
fn grating_quotient_lane<T: Real>(h: T, n: T, sign_m: T, radius: T) -> (T, T, T, bool) {
    let pi = T::of(PI);
    let whole = h.round_fast();
    let f = h - whole;
    let x = f * pi;
    let y = f * n;
    let ky = y.round_fast();
    let r = (y - ky) * pi;
    let sy = parity_sign(ky);
    let (sr, cr) = r.sin_cos_small();
    let (sn, cn) = (sr * sy, cr * sy);
    let (s, co) = x.sin_cos_small();
    // One reciprocal of sin x for the quotient and both its slopes:
    // d(sn/s)/dx = (N·cn·s − sn·co)/s², d(sn/s)/dN = x·cn/s.
    let inv = T::ONE / s;
    let v = sn * inv;
    let dx = (n * cn - v * co) * inv;
    let dn = x * cn * inv;
    let sign = parity_sign(whole * sign_m);
    (sign * v, sign * dx * pi, sign * dn, (x * n).abs() < radius)
}

/// The grating's series `N·(1 + a₂x² + a₄x⁴ + a₆x⁶)` near a peak's centre, with `∂/∂h` and
/// `∂/∂N`.
#[inline(always)]
fn grating_series_lane<T: Real>(h: T, n: T, sign_m: T, coefficients: &SeriesCoefficients<T>) -> (T, T, T) {
    let whole = h.round_fast();
    let x = (h - whole) * T::of(PI);
    let (v, dx, dn) = series_grad(x, n, coefficients.a, coefficients.da);
    let sign = parity_sign(whole * sign_m);
    (sign * v, sign * dx * T::of(PI), sign * dn)
}

/// F at the nearest grid entry and that entry (`usize::MAX` for `default_F`).
#[inline(always)]
fn nearest_entry<T: Real>(hkl: [T; 3], x: &Inputs<T>, spec: &TileSpec) -> (T, usize) {
    match spec.grid.and_then(|extent| grid_entry(hkl, extent)) {
        Some(i) => (x.grid[i], i),
        None => (x.default_f, usize::MAX),
    }
}
