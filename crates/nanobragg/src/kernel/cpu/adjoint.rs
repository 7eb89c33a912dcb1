//! One pixel of the fused backward pass (f64): recompute the pixel's forward quantities, then
//! push `∂L/∂value` back to θ through the hand-derived adjoint of each step.
//!
//! Adjoints used (d = p/r, r = |p|, `diff = d − i` mathematically, whichever form computes it):
//! - `q = diff/λ`: `∂/∂λ = −q/λ`, `∂q/∂d = 1/λ`;
//! - `d = p/r`: `p̄ += (d̄ − d(d·d̄))/r`; `r = |p|`: `p̄ += r̄·d`;
//! - the Kahn factor, the solid angle Ω and the capture fraction: the adjoints of
//!   [`crate::physics::polarization`], [`crate::physics::solid_angle`] and
//!   [`crate::physics::capture`] (through [`super::factors`]);
//! - running sums `I ← (I + term_n)·c_n`: `∂I/∂term_n = S_n`, `∂I/∂c_n = (I_{n−1} + term_n)·S_{n+1}`
//!   with `S_n = Π_{m ≥ n} c_m`;
//! - `h = A_k·q`: `Ā_k += h̄ qᵀ`, `q̄ += A_kᵀ h̄`.

use super::factors::{capture_adjoint, kahn_adjoint, lattice_grad, solid_angle_adjoint};
use crate::physics::lattice::LatticeGrad;
use crate::physics::structure_factor::{for_window, source, window_sum, Source};
use super::pixel::{miller, scatter, subpixel, Scatter, SubPixel};
use super::Inputs;
use crate::kernel::real::dot3;
use crate::kernel::{Layout, TileSpec};

/// Adjoint of pixel `p` with upstream gradient `g`, added into `acc` (θ-shaped).
pub fn pixel(p: usize, x: &Inputs<f64>, spec: &TileSpec, g: f64, acc: &mut [f64]) {
    let [per_thick, per_polar, per_omega] = spec.per_subpixel;
    let running = per_thick || per_polar || per_omega;
    let layout = spec.layout();
    let no = spec.oversample * spec.oversample;

    // Factors applied once per pixel.
    let g0 = subpixel(p, 0, 0, x, spec);
    let gl = subpixel(p, spec.layers - 1, 0, x, spec);
    let first = first_active(p, x, spec);
    let use_capture = !per_thick;
    let use_polar = !per_polar && !spec.nopolar;
    let use_omega = !per_omega;
    let parts = [
        if use_capture { gl.capture } else { 1.0 },
        if use_polar { first.map(|f| f.3.polar).unwrap_or(0.0) } else { 1.0 },
        if use_omega { g0.omega } else { 1.0 },
    ];
    let factor = x.scale * parts[0] * parts[1] * parts[2];
    let big_g = g * factor;

    // Running sums: c_n and I_{n−1} + term_n of every term that runs, then suffix products.
    let (mut pre, mut cs) = (Vec::new(), Vec::new());
    if running {
        let mut acc_i = x.i_bg;
        visit_terms(p, x, spec, |c, term| {
            let v = acc_i + term;
            pre.push(v);
            cs.push(c);
            acc_i = v * c;
        });
    }
    let mut suffix = vec![1.0; cs.len() + 1];
    for n in (0..cs.len()).rev() {
        suffix[n] = suffix[n + 1] * cs[n];
    }

    let mut intensity = if running { x.i_bg * suffix[0] } else { x.i_bg };
    acc[Layout::I_BG] += big_g * if running { suffix[0] } else { 1.0 };
    let mut n_term = 0;
    for t in 0..spec.layers {
        for o in 0..no {
            let sub = subpixel(p, t, o, x, spec);
            let (mut dd, mut domega, mut dcapture) = ([0.0; 3], 0.0, 0.0);
            for s in 0..x.lambda.len() {
                let sc = scatter(&sub, s, x, spec);
                if !sc.active {
                    continue;
                }
                let c_parts = [
                    if per_thick { sub.capture } else { 1.0 },
                    if per_polar { sc.polar } else { 1.0 },
                    if per_omega { sub.omega } else { 1.0 },
                ];
                let (mut dq, mut dc) = ([0.0; 3], 0.0);
                for k in 0..x.cells.len() {
                    let hkl = miller(sc.q, k, x);
                    let Some(Term { f_latt, dl_dh, dl_dn, dl_drecip, from, f_cell }) =
                        term_at(hkl, x, spec)
                    else {
                        continue;
                    };
                    let term = f_cell * f_cell * (f_latt * f_latt);
                    let dterm = if running {
                        let n = n_term;
                        n_term += 1;
                        dc += big_g * pre[n] * suffix[n + 1];
                        big_g * suffix[n]
                    } else {
                        intensity += term;
                        big_g
                    };
                    if dterm == 0.0 {
                        continue;
                    }
                    let d_latt = dterm * 2.0 * f_latt * f_cell * f_cell;
                    let d_cell = dterm * 2.0 * f_cell * f_latt * f_latt;
                    let mut dh = dl_dh.map(|v| v * d_latt);
                    for i in 0..3 {
                        acc[Layout::N + i] += d_latt * dl_dn[i];
                        for j in 0..3 {
                            acc[Layout::RECIP + 3 * i + j] += d_latt * dl_drecip[i][j];
                        }
                    }
                    structure_adjoint(&from, d_cell, &mut dh, x, &layout, acc);
                    let cells_at = layout.cells_at() + 9 * k;
                    let cell = &x.cells[k];
                    for row in 0..3 {
                        for c in 0..3 {
                            acc[cells_at + 3 * row + c] += dh[row] * sc.q[c];
                            dq[c] += dh[row] * cell[row][c];
                        }
                    }
                }
                if running && dc != 0.0 {
                    dcapture += if per_thick { dc * c_parts[1] * c_parts[2] } else { 0.0 };
                    domega += if per_omega { dc * c_parts[0] * c_parts[1] } else { 0.0 };
                    let dpolar = if per_polar { dc * c_parts[0] * c_parts[2] } else { 0.0 };
                    scatter_adjoint(&sub, s, &sc, dq, dpolar, &mut dd, x, acc);
                } else {
                    scatter_adjoint(&sub, s, &sc, dq, 0.0, &mut dd, x, acc);
                }
            }
            subpixel_adjoint(p, t, o, &sub, dd, domega, dcapture, x, spec, acc);
        }
    }
    if running {
        intensity = pre.last().zip(cs.last()).map(|(v, c)| v * c).unwrap_or(x.i_bg);
    }

    // Per-pixel factors: value = intensity·scale·Π parts.
    let d_factor = g * intensity;
    acc[Layout::SCALE] += d_factor * parts[0] * parts[1] * parts[2];
    let d_parts = [
        d_factor * x.scale * parts[1] * parts[2],
        d_factor * x.scale * parts[0] * parts[2],
        d_factor * x.scale * parts[0] * parts[1],
    ];
    if use_capture && spec.thick {
        subpixel_adjoint(p, spec.layers - 1, 0, &gl, [0.0; 3], 0.0, d_parts[0], x, spec, acc);
    }
    if use_polar {
        if let Some((t, o, s, sc)) = first {
            let sub = subpixel(p, t, o, x, spec);
            let mut dd = [0.0; 3];
            scatter_adjoint(&sub, s, &sc, [0.0; 3], d_parts[1], &mut dd, x, acc);
            subpixel_adjoint(p, t, o, &sub, dd, 0.0, 0.0, x, spec, acc);
        }
    }
    if use_omega {
        subpixel_adjoint(p, 0, 0, &g0, [0.0; 3], d_parts[2], 0.0, x, spec, acc);
    }
}

/// The first (layer, sub-pixel, source) of pixel `p` not culled by d_min, with its scattering.
fn first_active(
    p: usize,
    x: &Inputs<f64>,
    spec: &TileSpec,
) -> Option<(usize, usize, usize, Scatter<f64>)> {
    for t in 0..spec.layers {
        for o in 0..spec.oversample * spec.oversample {
            let sub = subpixel(p, t, o, x, spec);
            for s in 0..x.lambda.len() {
                let sc = scatter(&sub, s, x, spec);
                if sc.active {
                    return Some((t, o, s, sc));
                }
            }
        }
    }
    None
}

/// Call `f(c, term)` for every term that runs, in loop order (running-sum mode).
fn visit_terms(
    p: usize,
    x: &Inputs<f64>,
    spec: &TileSpec,
    mut f: impl FnMut(f64, f64),
) {
    let [per_thick, per_polar, per_omega] = spec.per_subpixel;
    for t in 0..spec.layers {
        for o in 0..spec.oversample * spec.oversample {
            let sub = subpixel(p, t, o, x, spec);
            for s in 0..x.lambda.len() {
                let sc = scatter(&sub, s, x, spec);
                if !sc.active {
                    continue;
                }
                let mut c = 1.0;
                if per_thick {
                    c *= sub.capture;
                }
                if per_polar {
                    c *= sc.polar;
                }
                if per_omega {
                    c *= sub.omega;
                }
                for k in 0..x.cells.len() {
                    if let Some(term) = term_at(miller(sc.q, k, x), x, spec) {
                        f(c, term.f_cell * term.f_cell * (term.f_latt * term.f_latt));
                    }
                }
            }
        }
    }
}

/// F_latt and F_cell of one term with their local derivatives.
struct Term {
    f_latt: f64,
    dl_dh: [f64; 3],
    dl_dn: [f64; 3],
    dl_drecip: [[f64; 3]; 3],
    from: Source,
    f_cell: f64,
}

/// The term at fractional indices `hkl`, or `None` where it does not run (F_latt = 0 without
/// water) or its window left the grid (the forward pass declined such tiles).
fn term_at(hkl: [f64; 3], x: &Inputs<f64>, spec: &TileSpec) -> Option<Term> {
    let LatticeGrad { value: f_latt, d_hkl: dl_dh, d_n: dl_dn, d_recip: dl_drecip } = lattice_grad(hkl, x, spec);
    if spec.water_zero && f_latt == 0.0 {
        return None;
    }
    let from = source(hkl, spec.grid, spec.interpolate).ok()?;
    let f_cell = match &from {
        Source::Entry(i) => x.grid[*i],
        Source::Default => x.default_f,
        Source::Window { base, counts, w, .. } => {
            window_sum(&x.grid, *base, *counts, |i, j, l| w[0][i] * w[1][j] * w[2][l])
        }
    };
    Some(Term { f_latt, dl_dh, dl_dn, dl_drecip, from, f_cell })
}

/// Adjoint of F_cell: into the grid entry, default_F, or the tricubic window (nodes and `h̄`).
fn structure_adjoint(
    from: &Source,
    d_cell: f64,
    dh: &mut [f64; 3],
    x: &Inputs<f64>,
    layout: &Layout,
    acc: &mut [f64],
) {
    let grid_at = layout.grid_at();
    match from {
        Source::Entry(i) => acc[grid_at + i] += d_cell,
        Source::Default => acc[Layout::DEFAULT_F] += d_cell,
        Source::Window { base, counts, w, dw } => for_window(*base, *counts, |i, j, l, flat| {
            acc[grid_at + flat] += d_cell * w[0][i] * w[1][j] * w[2][l];
            let f = x.grid[flat] * d_cell;
            dh[0] += f * dw[0][i] * w[1][j] * w[2][l];
            dh[1] += f * w[0][i] * dw[1][j] * w[2][l];
            dh[2] += f * w[0][i] * w[1][j] * dw[2][l];
        }),
    }
}

/// Adjoint of [`scatter`]: `q̄` and `P̄` into λ, K and `d̄`.
#[allow(clippy::too_many_arguments)]
pub(super) fn scatter_adjoint(
    sub: &SubPixel<f64>,
    s: usize,
    sc: &Scatter<f64>,
    dq: [f64; 3],
    dpolar: f64,
    dd: &mut [f64; 3],
    x: &Inputs<f64>,
    acc: &mut [f64],
) {
    let lambda = x.lambda[s];
    acc[Layout::LAMBDA + s] -= dot3(dq, sc.q) / lambda;
    for i in 0..3 {
        dd[i] += dq[i] / lambda;
    }
    if dpolar != 0.0 {
        kahn_adjoint(sub.d, s, dpolar, dd, x, acc);
    }
}

/// Adjoint of [`subpixel`]: `d̄`, `Ω̄` and the capture adjoint into the detector vectors, pixel
/// size, close distance, layer step and μ.
#[allow(clippy::too_many_arguments)]
pub(super) fn subpixel_adjoint(
    p: usize,
    t: usize,
    o: usize,
    sub: &SubPixel<f64>,
    mut dd: [f64; 3],
    domega: f64,
    dcapture: f64,
    x: &Inputs<f64>,
    spec: &TileSpec,
    acc: &mut [f64],
) {
    let (r, d) = (sub.r, sub.d);
    if spec.thick && dcapture != 0.0 {
        capture_adjoint(t, d, dcapture, &mut dd, x, acc);
    }
    let dr = if domega != 0.0 { solid_angle_adjoint(r, sub.omega, domega, x, spec, acc) } else { 0.0 };
    let along = dot3(d, dd);
    let dpos = [0, 1, 2].map(|i| (dd[i] - d[i] * along) / r + dr * d[i]);
    let [fc, sc, oc] = sub.coord;
    for i in 0..3 {
        acc[Layout::PIX0 + i] += dpos[i];
        acc[Layout::FDET + i] += fc * dpos[i];
        acc[Layout::SDET + i] += sc * dpos[i];
        acc[Layout::ODET + i] += oc * dpos[i];
    }
    let os = spec.oversample;
    let (fast, slow) = (p % spec.fpixels, p / spec.fpixels);
    acc[Layout::PIXEL] += dot3(x.fdet, dpos) * along_pixel(fast, o % os, os)
        + dot3(x.sdet, dpos) * along_pixel(slow, o / os, os);
    acc[Layout::LAYER] += dot3(x.odet, dpos) * t as f64;
}

/// `∂(coordinate)/∂(pixel size)` of sub-pixel `s` of pixel `pix` along one axis.
fn along_pixel(pix: usize, s: usize, os: usize) -> f64 {
    ((pix * os + s) as f64 + 0.5) / os as f64
}
