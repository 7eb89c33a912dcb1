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
    let layout = spec.layout();
    let once = OncePerPixel::new(p, x, spec);
    let mut terms = Terms::new(p, x, spec, g * once.factor(x));
    acc[Layout::I_BG] += terms.i_bg_slope();
    for t in 0..spec.layers {
        for o in 0..spec.oversample * spec.oversample {
            subpixel_terms_adjoint(p, t, o, &mut terms, x, spec, &layout, acc);
        }
    }
    once.adjoint(p, g * terms.intensity(x), x, spec, acc);
}

/// The factors applied once per pixel (the C program's cached values): the capture fraction of
/// the last layer's first sub-pixel, the Kahn factor of the first evaluation that runs and the
/// solid angle of the first sub-pixel, each 1 where it is applied per sub-pixel or not at all.
struct OncePerPixel {
    /// The first sub-pixel of the first layer (its solid angle).
    first_subpixel: SubPixel<f64>,
    /// The first sub-pixel of the last layer (its capture fraction).
    last_layer: SubPixel<f64>,
    /// The first (layer, sub-pixel, source) not culled by d_min, with its scattering.
    first: Option<(usize, usize, usize, Scatter<f64>)>,
    /// Whether capture, polarization and solid angle are applied once per pixel.
    used: [bool; 3],
    /// Their values (1 where not used).
    parts: [f64; 3],
}

impl OncePerPixel {
    fn new(p: usize, x: &Inputs<f64>, spec: &TileSpec) -> Self {
        let [per_thick, per_polar, per_omega] = spec.per_subpixel;
        let first_subpixel = subpixel(p, 0, 0, x, spec);
        let last_layer = subpixel(p, spec.layers - 1, 0, x, spec);
        let first = first_active(p, x, spec);
        let used = [!per_thick, !per_polar && !spec.nopolar, !per_omega];
        let parts = [
            if used[0] { last_layer.capture } else { 1.0 },
            if used[1] { first.map(|f| f.3.polar).unwrap_or(0.0) } else { 1.0 },
            if used[2] { first_subpixel.omega } else { 1.0 },
        ];
        OncePerPixel { first_subpixel, last_layer, first, used, parts }
    }

    /// The scale times the factors.
    fn factor(&self, x: &Inputs<f64>) -> f64 {
        x.scale * self.parts[0] * self.parts[1] * self.parts[2]
    }

    /// Adjoint of `value = intensity·scale·Π parts` for `d_factor = ∂L/∂value·intensity`: into
    /// the scale and, through each factor used, the geometry.
    fn adjoint(&self, p: usize, d_factor: f64, x: &Inputs<f64>, spec: &TileSpec, acc: &mut [f64]) {
        let parts = self.parts;
        acc[Layout::SCALE] += d_factor * parts[0] * parts[1] * parts[2];
        let d_parts = [
            d_factor * x.scale * parts[1] * parts[2],
            d_factor * x.scale * parts[0] * parts[2],
            d_factor * x.scale * parts[0] * parts[1],
        ];
        if self.used[0] && spec.thick {
            let last = spec.layers - 1;
            subpixel_adjoint(p, last, 0, &self.last_layer, [0.0; 3], 0.0, d_parts[0], x, spec, acc);
        }
        if self.used[1] {
            if let Some((t, o, s, sc)) = self.first {
                let sub = subpixel(p, t, o, x, spec);
                let mut dd = [0.0; 3];
                scatter_adjoint(&sub, s, &sc, [0.0; 3], d_parts[1], &mut dd, x, acc);
                subpixel_adjoint(p, t, o, &sub, dd, 0.0, 0.0, x, spec, acc);
            }
        }
        if self.used[2] {
            subpixel_adjoint(p, 0, 0, &self.first_subpixel, [0.0; 3], d_parts[2], 0.0, x, spec, acc);
        }
    }
}

/// The walk over a pixel's terms in loop order, with the slope of the pixel's intensity in each:
/// `G = ∂L/∂value·factor` for a plain sum, `G·S_n` with the running sums (`-oversample_thick/
/// polar/omega`), where term n's factor `c_n` also gets `G·(I_{n−1} + term_n)·S_{n+1}`.
struct Terms {
    running: bool,
    big_g: f64,
    /// `I_{n−1} + term_n` and `c_n` of every term that runs (running sums only).
    pre: Vec<f64>,
    cs: Vec<f64>,
    /// `S_n = Π_{m ≥ n} c_m` (`S_N = 1`).
    suffix: Vec<f64>,
    /// Terms walked so far.
    next: usize,
    /// The plain sum so far (water background included; no running sums).
    sum: f64,
}

impl Terms {
    fn new(p: usize, x: &Inputs<f64>, spec: &TileSpec, big_g: f64) -> Self {
        let running = spec.per_subpixel.iter().any(|&f| f);
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
        Terms { running, big_g, pre, cs, suffix, next: 0, sum: x.i_bg }
    }

    /// `∂L/∂I_bg`.
    fn i_bg_slope(&self) -> f64 {
        self.big_g * if self.running { self.suffix[0] } else { 1.0 }
    }

    /// `∂L/∂term` of the next term that runs, `term`; with running sums its factor's slope is
    /// added to `dc`.
    #[inline]
    fn slope(&mut self, term: f64, dc: &mut f64) -> f64 {
        if self.running {
            let n = self.next;
            self.next += 1;
            *dc += self.big_g * self.pre[n] * self.suffix[n + 1];
            self.big_g * self.suffix[n]
        } else {
            self.sum += term;
            self.big_g
        }
    }

    /// The pixel's intensity before the factors applied once (after the walk).
    fn intensity(&self, x: &Inputs<f64>) -> f64 {
        if self.running {
            self.pre.last().zip(self.cs.last()).map(|(v, c)| v * c).unwrap_or(x.i_bg)
        } else {
            self.sum
        }
    }
}

/// Adjoint of the terms of sub-pixel `o` of layer `t` of pixel `p` (every source and cell, and
/// the factors applied per sub-pixel), then of the sub-pixel's geometry.
#[allow(clippy::too_many_arguments)]
fn subpixel_terms_adjoint(
    p: usize,
    t: usize,
    o: usize,
    terms: &mut Terms,
    x: &Inputs<f64>,
    spec: &TileSpec,
    layout: &Layout,
    acc: &mut [f64],
) {
    let [per_thick, per_polar, per_omega] = spec.per_subpixel;
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
        let (dq, dc) = cells_adjoint(&sc, terms, x, spec, layout, acc);
        if terms.running && dc != 0.0 {
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

/// Adjoint of one evaluation's terms over every cell: into θ's cells, N, reciprocal vectors and
/// F; returns `q̄` and, with running sums, the slope of the evaluation's per-sub-pixel factor.
fn cells_adjoint(
    sc: &Scatter<f64>,
    terms: &mut Terms,
    x: &Inputs<f64>,
    spec: &TileSpec,
    layout: &Layout,
    acc: &mut [f64],
) -> ([f64; 3], f64) {
    let (mut dq, mut dc) = ([0.0; 3], 0.0);
    for k in 0..x.cells.len() {
        let hkl = miller(sc.q, k, x);
        let Some(term) = term_at(hkl, x, spec) else {
            continue;
        };
        let dterm = terms.slope(term.f_cell * term.f_cell * (term.f_latt * term.f_latt), &mut dc);
        if dterm == 0.0 {
            continue;
        }
        let dh = term_adjoint(&term, dterm, x, layout, acc);
        let cells_at = layout.cells_at() + 9 * k;
        let cell = &x.cells[k];
        for row in 0..3 {
            for c in 0..3 {
                acc[cells_at + 3 * row + c] += dh[row] * sc.q[c];
                dq[c] += dh[row] * cell[row][c];
            }
        }
    }
    (dq, dc)
}

/// Adjoint of `term = F_cell²·F_latt²` for `dterm = ∂L/∂term`: into N, the reciprocal vectors
/// and F; returns `h̄`.
fn term_adjoint(term: &Term, dterm: f64, x: &Inputs<f64>, layout: &Layout, acc: &mut [f64]) -> [f64; 3] {
    let Term { f_latt, dl_dh, dl_dn, dl_drecip, from, f_cell } = term;
    let d_latt = dterm * 2.0 * f_latt * f_cell * f_cell;
    let d_cell = dterm * 2.0 * f_cell * f_latt * f_latt;
    let mut dh = dl_dh.map(|v| v * d_latt);
    for i in 0..3 {
        acc[Layout::N + i] += d_latt * dl_dn[i];
        for j in 0..3 {
            acc[Layout::RECIP + 3 * i + j] += d_latt * dl_drecip[i][j];
        }
    }
    structure_adjoint(from, d_cell, &mut dh, x, layout, acc);
    dh
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
