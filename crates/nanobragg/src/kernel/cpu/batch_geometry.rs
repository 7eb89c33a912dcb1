//! Sub-pixel geometry and scattering of a chunk of pixels as structure-of-arrays (f64), and the
//! adjoint back to θ's detector entries and wavelengths, for the vectorised backward pass
//! ([`super::batch_adjoint`]). The square roots and divisions run in loops over independent
//! elements (SIMD); each reduction keeps [`W`] partial sums. Same formulas as
//! [`super::pixel::subpixel`], [`super::pixel::scatter`] and [`super::adjoint::subpixel_adjoint`],
//! with one reciprocal of r and of λ in place of their divisions (values agree to an ulp or so).
//!
//! Sub-pixel `j = i·L·O + t·O + o` (pixel i, layer t, sub-pixel o); evaluation `e = s·n + j` of
//! source s (source-major, n sub-pixels).

use super::simd::simd_dispatch;
use super::Inputs;
use crate::kernel::{Layout, TileSpec};

/// Partial sums per reduction (two AVX2 registers or one AVX-512 register of f64).
const W: usize = 8;

/// Geometry of every sub-pixel of a chunk and the scattering of every evaluation.
#[derive(Debug)]
pub struct Geometry {
    /// Sub-pixels.
    pub n: usize,
    /// Detector-plane coordinates (m) along fast, slow and normal.
    coord: [Vec<f64>; 3],
    /// `∂(fast, slow coordinate)/∂(pixel size)`.
    along: [Vec<f64>; 2],
    /// Layer index as a float.
    layer: Vec<f64>,
    /// Distance |pos| (m).
    pub r: Vec<f64>,
    /// 1/|pos|.
    inv_r: Vec<f64>,
    /// Unit vector to the sub-pixel.
    d: [Vec<f64>; 3],
    /// `q = (d − i)/λ` per evaluation (m⁻¹).
    q: [Vec<f64>; 3],
    /// Whether d_min keeps the evaluation.
    pub active: Vec<bool>,
}

impl Geometry {
    /// Geometry of the sub-pixels of `pixels` and the scattering of every source.
    pub fn new(pixels: &[usize], x: &Inputs<f64>, spec: &TileSpec) -> Self {
        simd_dispatch! {
            fn build(pixels: &[usize], x: &Inputs<f64>, spec: &TileSpec) -> Geometry => Geometry::new_body
        }
        build(pixels, x, spec)
    }

    #[inline(always)]
    fn new_body(pixels: &[usize], x: &Inputs<f64>, spec: &TileSpec) -> Self {
        let n = pixels.len() * spec.layers * spec.oversample * spec.oversample;
        let (coord, along, layer) = plane_coordinates(pixels, n, x, spec);
        let pos = positions(&coord, n, x);
        let (r, inv_r, d) = directions(&pos, n);
        let (q, active) = scattering(&pos, &r, &inv_r, n, x, spec);
        Geometry { n, coord, along, layer, r, inv_r, d, q, active }
    }

    /// Unit vector to sub-pixel `j`.
    pub fn d(&self, j: usize) -> [f64; 3] {
        [self.d[0][j], self.d[1][j], self.d[2][j]]
    }

    /// `q` of evaluation `e`, axis `axis`.
    pub fn q(&self, axis: usize, e: usize) -> f64 {
        self.q[axis][e]
    }

    /// Adjoint of the geometry: `q̄` per evaluation, and per sub-pixel the `d̄` and `r̄` the
    /// per-pixel factors already contributed, into θ's wavelengths and detector entries.
    pub fn adjoint(&self, dq: &[Vec<f64>; 3], dd: [Vec<f64>; 3], dr: &[f64], x: &Inputs<f64>, acc: &mut [f64]) {
        simd_dispatch! {
            fn pull_back(
                geo: &Geometry,
                dq: &[Vec<f64>; 3],
                dd: [Vec<f64>; 3],
                dr: &[f64],
                x: &Inputs<f64>,
                acc: &mut [f64],
            ) => Geometry::adjoint_body
        }
        pull_back(self, dq, dd, dr, x, acc)
    }

    #[inline(always)]
    fn adjoint_body(&self, dq: &[Vec<f64>; 3], mut dd: [Vec<f64>; 3], dr: &[f64], x: &Inputs<f64>, acc: &mut [f64]) {
        let n = self.n;
        for (s, &lambda) in x.lambda.iter().enumerate() {
            let at = s * n..(s + 1) * n;
            let (q, g) = ([0, 1, 2].map(|a| &self.q[a][at.clone()]), [0, 1, 2].map(|a| &dq[a][at.clone()]));
            let dot = lane_sum(n, |j| g[0][j] * q[0][j] + g[1][j] * q[1][j] + g[2][j] * q[2][j]);
            acc[Layout::LAMBDA + s] -= dot / lambda;
            let inv_lambda = 1.0 / lambda;
            for a in 0..3 {
                for (dd, g) in dd[a].iter_mut().zip(g[a]) {
                    *dd += g * inv_lambda;
                }
            }
        }
        // p̄ = (d̄ − d(d·d̄))/r + r̄·d
        let (d, inv_r, dr) = ([0, 1, 2].map(|a| &self.d[a][..n]), &self.inv_r[..n], &dr[..n]);
        let [ddx, ddy, ddz] = &mut dd;
        let (ddx, ddy, ddz) = (&mut ddx[..n], &mut ddy[..n], &mut ddz[..n]);
        for j in 0..n {
            let along = d[0][j] * ddx[j] + d[1][j] * ddy[j] + d[2][j] * ddz[j];
            ddx[j] = (ddx[j] - d[0][j] * along) * inv_r[j] + dr[j] * d[0][j];
            ddy[j] = (ddy[j] - d[1][j] * along) * inv_r[j] + dr[j] * d[1][j];
            ddz[j] = (ddz[j] - d[2][j] * along) * inv_r[j] + dr[j] * d[2][j];
        }
        let dpos = dd;
        let [fc, sc, oc] = [0, 1, 2].map(|k| &self.coord[k][..n]);
        for a in 0..3 {
            let p = &dpos[a][..n];
            acc[Layout::PIX0 + a] += lane_sum(n, |j| p[j]);
            acc[Layout::FDET + a] += lane_sum(n, |j| fc[j] * p[j]);
            acc[Layout::SDET + a] += lane_sum(n, |j| sc[j] * p[j]);
            acc[Layout::ODET + a] += lane_sum(n, |j| oc[j] * p[j]);
        }
        let dot = |v: [f64; 3], j: usize| v[0] * dpos[0][j] + v[1] * dpos[1][j] + v[2] * dpos[2][j];
        let (af, as_, t) = (&self.along[0][..n], &self.along[1][..n], &self.layer[..n]);
        acc[Layout::PIXEL] += lane_sum(n, |j| dot(x.fdet, j) * af[j] + dot(x.sdet, j) * as_[j]);
        acc[Layout::LAYER] += lane_sum(n, |j| dot(x.odet, j) * t[j]);
    }
}

/// `Σ_{j<n} f(j)` with [`W`] partial sums (independent additions, so it vectorises).
#[inline(always)]
fn lane_sum(n: usize, f: impl Fn(usize) -> f64) -> f64 {
    let mut part = [0.0; W];
    let full = n - n % W;
    for base in (0..full).step_by(W) {
        for (l, p) in part.iter_mut().enumerate() {
            *p += f(base + l);
        }
    }
    part.iter().sum::<f64>() + (full..n).map(f).sum::<f64>()
}

/// Detector-plane coordinates of the `n` sub-pixels of `pixels` (fast, slow, normal), their
/// `∂(fast, slow)/∂(pixel size)` and their layer indices.
#[inline(always)]
fn plane_coordinates(
    pixels: &[usize],
    n: usize,
    x: &Inputs<f64>,
    spec: &TileSpec,
) -> ([Vec<f64>; 3], [Vec<f64>; 2], Vec<f64>) {
    let os = spec.oversample;
    let (osf, inv_os) = (os as f64, 1.0 / os as f64);
    let sub = x.pixel / osf;
    let half = sub / 2.0;
    let mut coord = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    let mut along = [vec![0.0; n], vec![0.0; n]];
    let mut layer = vec![0.0; n];
    let mut j = 0;
    for &p in pixels {
        let (fast, slow) = ((p % spec.fpixels) as f64 * osf, (p / spec.fpixels) as f64 * osf);
        for t in 0..spec.layers {
            // Sub-pixel o = so·os + fo (slow-major).
            for so in 0..os {
                for fo in 0..os {
                    let (cf, cs) = (fast + fo as f64, slow + so as f64);
                    coord[0][j] = cf * sub + half;
                    coord[1][j] = cs * sub + half;
                    coord[2][j] = t as f64 * x.layer;
                    along[0][j] = (cf + 0.5) * inv_os;
                    along[1][j] = (cs + 0.5) * inv_os;
                    layer[j] = t as f64;
                    j += 1;
                }
            }
        }
    }
    (coord, along, layer)
}

/// Positions `pix0 + f·fdet + s·sdet + o·odet` of `n` sub-pixels from their coordinates.
#[inline(always)]
fn positions(coord: &[Vec<f64>; 3], n: usize, x: &Inputs<f64>) -> [Vec<f64>; 3] {
    let mut pos = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    let (fc, sc, oc) = (&coord[0][..n], &coord[1][..n], &coord[2][..n]);
    for (a, pos) in pos.iter_mut().enumerate() {
        let pos = &mut pos[..n];
        for j in 0..n {
            pos[j] = x.pix0[a] + fc[j] * x.fdet[a] + sc[j] * x.sdet[a] + oc[j] * x.odet[a];
        }
    }
    pos
}

/// Distances `r`, their reciprocals and the unit vectors `d = p/r` of `n` positions.
#[inline(always)]
fn directions(pos: &[Vec<f64>; 3], n: usize) -> (Vec<f64>, Vec<f64>, [Vec<f64>; 3]) {
    let (px, py, pz) = (&pos[0][..n], &pos[1][..n], &pos[2][..n]);
    let (mut r, mut inv_r) = (vec![0.0; n], vec![0.0; n]);
    let mut d = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    {
        let (r, inv_r) = (&mut r[..n], &mut inv_r[..n]);
        let [dx, dy, dz] = &mut d;
        let (dx, dy, dz) = (&mut dx[..n], &mut dy[..n], &mut dz[..n]);
        for j in 0..n {
            r[j] = (px[j] * px[j] + py[j] * py[j] + pz[j] * pz[j]).sqrt();
            inv_r[j] = 1.0 / r[j];
            dx[j] = px[j] * inv_r[j];
            dy[j] = py[j] * inv_r[j];
            dz[j] = pz[j] * inv_r[j];
        }
    }
    (r, inv_r, d)
}

/// `q = (d − i)/λ` of every source at `n` positions (split form of
/// [`crate::physics::scattering`], evaluation `e = s·n + j`) and whether d_min keeps it.
#[inline(always)]
fn scattering(
    pos: &[Vec<f64>; 3],
    r: &[f64],
    inv_r: &[f64],
    n: usize,
    x: &Inputs<f64>,
    spec: &TileSpec,
) -> ([Vec<f64>; 3], Vec<bool>) {
    let (px, py, pz) = (&pos[0][..n], &pos[1][..n], &pos[2][..n]);
    let sources = x.lambda.len();
    let mut q = [vec![0.0; n * sources], vec![0.0; n * sources], vec![0.0; n * sources]];
    let mut active = vec![true; n * sources];
    for s in 0..sources {
        let (inc, inv_lambda) = (x.incident[s], 1.0 / x.lambda[s]);
        let [qx, qy, qz] = &mut q;
        let at = s * n..(s + 1) * n;
        let (qx, qy, qz) = (&mut qx[at.clone()], &mut qy[at.clone()], &mut qz[at.clone()]);
        let (r, inv_r) = (&r[..n], &inv_r[..n]);
        for j in 0..n {
            let (p, r, inv_r) = ([px[j], py[j], pz[j]], r[j], inv_r[j]);
            let a = p[0] * inc[0] + p[1] * inc[1] + p[2] * inc[2];
            let mut perp = [0.0; 3];
            for i in 0..3 {
                perp[i] = p[i] - a * inc[i];
            }
            let perp2 = perp[0] * perp[0] + perp[1] * perp[1] + perp[2] * perp[2];
            let denom = r + a;
            let split = denom >= r * 0.5;
            let along = perp2 * inv_r / denom;
            let mut diff = [0.0; 3];
            for i in 0..3 {
                diff[i] = if split { perp[i] * inv_r - inc[i] * along } else { p[i] * inv_r - inc[i] };
            }
            qx[j] = diff[0] * inv_lambda;
            qy[j] = diff[1] * inv_lambda;
            qz[j] = diff[2] * inv_lambda;
        }
        if spec.dmin_m > 0.0 {
            for (j, active) in active[at].iter_mut().enumerate() {
                *active = (qx[j] * qx[j] + qy[j] * qy[j] + qz[j] * qz[j]).sqrt() * 0.5 * spec.dmin_m <= 0.5;
            }
        }
    }
    (q, active)
}
