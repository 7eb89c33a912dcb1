//! One pixel of the fused forward pass, in the C program's loop order: layers, sub-pixels
//! (slow-major), sources, then (φ, mosaic) cells.

use super::factors::{capture, kahn, lattice, solid_angle, structure};
use crate::physics::structure_factor::LeftGrid;
use super::Inputs;
use crate::kernel::real::{dot3, Real};
use crate::kernel::capability::groups::{OTHER_LATTICES, PER_SUBPIXEL_FACTORS, SQUARE_ONCE_PER_PIXEL, TENSOR_PATH_ONLY};
use crate::kernel::capability::{Capability, Coverage, KernelId};
use crate::kernel::TileSpec;
use enumset::enum_set_union;

/// What the scalar per-pixel path (this forward and its adjoint) implements: every
/// capability a tile can carry. The curved detector and the φ carry-over are scan-level rules
/// of the tensor path.
pub const PIXEL: Coverage = Coverage {
    kernel: KernelId::CpuPixel,
    implements: enum_set_union!(
        SQUARE_ONCE_PER_PIXEL,
        OTHER_LATTICES,
        PER_SUBPIXEL_FACTORS,
        Capability::HklGrid,
        Capability::TricubicF,
        Capability::PixelSubset
    ),
    declines: TENSOR_PATH_ONLY,
};

/// Geometry of one (layer, sub-pixel) position.
#[derive(Debug, Clone, Copy)]
pub struct SubPixel<T> {
    /// Detector-plane coordinates along fast, slow and normal (m).
    pub coord: [T; 3],
    /// Position (m).
    pub pos: [T; 3],
    /// |pos|.
    pub r: T,
    /// Unit vector to the position.
    pub d: [T; 3],
    /// Solid angle.
    pub omega: T,
    /// Capture fraction of the layer (1 without thickness).
    pub capture: T,
}

/// Position of layer `t`, sub-pixel `o` of pixel `p` (as [`crate::simulate`] builds it).
#[inline(always)]
pub fn subpixel<T: Real>(p: usize, t: usize, o: usize, x: &Inputs<T>, spec: &TileSpec) -> SubPixel<T> {
    let os = spec.oversample;
    let (fast, slow) = (p % spec.fpixels, p / spec.fpixels);
    let sub = x.pixel / T::of(os as f64);
    let half = sub / T::of(2.0);
    let at = |pix: usize, s: usize| (T::of(pix as f64) * T::of(os as f64) + T::of(s as f64)) * sub + half;
    let fc = at(fast, o % os);
    let sc = at(slow, o / os);
    let oc = T::of(t as f64) * x.layer;
    let pos = [0, 1, 2].map(|i| x.pix0[i] + fc * x.fdet[i] + sc * x.sdet[i] + oc * x.odet[i]);
    let r = dot3(pos, pos).sqrt();
    let d = pos.map(|v| v / r);
    let omega = solid_angle(r, x, spec);
    let capture = if spec.thick { capture(t, d, x) } else { T::ONE };
    SubPixel {
        coord: [fc, sc, oc],
        pos,
        r,
        d,
        omega,
        capture,
    }
}

/// Scattering of one sub-pixel position by source `s`.
#[derive(Debug, Clone, Copy)]
pub struct Scatter<T> {
    /// `q = (d − i)/λ` (m⁻¹).
    pub q: [T; 3],
    /// Not culled by d_min.
    pub active: bool,
    /// Kahn factor.
    pub polar: T,
}

/// `q` (split form, see [`crate::physics::scattering`]), d_min test and Kahn factor.
#[inline(always)]
pub fn scatter<T: Real>(g: &SubPixel<T>, s: usize, x: &Inputs<T>, spec: &TileSpec) -> Scatter<T> {
    let inc = x.incident[s];
    let a = dot3(g.pos, inc);
    let perp = [0, 1, 2].map(|i| g.pos[i] - a * inc[i]);
    let perp2 = dot3(perp, perp);
    let denom = g.r + a;
    let diff = if denom >= g.r * T::of(0.5) {
        let along = perp2 / (g.r * denom);
        [0, 1, 2].map(|i| perp[i] / g.r - inc[i] * along)
    } else {
        [0, 1, 2].map(|i| g.pos[i] / g.r - inc[i])
    };
    let lambda = x.lambda[s];
    let q = diff.map(|v| v / lambda);
    let active = spec.dmin_m <= 0.0 || (dot3(q, q).sqrt() * T::of(0.5)).to_f64() * spec.dmin_m <= 0.5;
    let polar = kahn(g.d, s, x);
    Scatter { q, active, polar }
}

/// Miller indices of `q` in cell `k`.
#[inline(always)]
pub fn miller<T: Real>(q: [T; 3], k: usize, x: &Inputs<T>) -> [T; 3] {
    x.cells[k].map(|row| q[0] * row[0] + q[1] * row[1] + q[2] * row[2])
}

/// Intensity before the per-pixel factors, and those factors' product.
#[derive(Debug, Clone, Copy)]
pub struct PixelResult {
    /// Σ F_cell²·F_latt² (+ background), with per-sub-pixel factors folded in.
    pub intensity: f64,
    /// `scale` times the factors applied once per pixel.
    pub factor: f64,
    /// Whether any evaluation ran the φ loop.
    pub any_active: bool,
}

/// Render pixel `p`.
pub fn render<T: Real>(p: usize, x: &Inputs<T>, spec: &TileSpec) -> Result<PixelResult, LeftGrid> {
    let [per_thick, per_polar, per_omega] = spec.per_subpixel;
    let running = per_thick || per_polar || per_omega;
    let no = spec.oversample * spec.oversample;
    let mut acc = if running { x.i_bg.to_f64() } else { 0.0 };
    let (mut first_polar, mut capture_last, mut omega_first) = (None, 1.0, 1.0);
    for t in 0..spec.layers {
        for o in 0..no {
            let g = subpixel(p, t, o, x, spec);
            if t == 0 && o == 0 {
                omega_first = g.omega.to_f64();
            }
            if t + 1 == spec.layers && o == 0 {
                capture_last = g.capture.to_f64();
            }
            for s in 0..x.lambda.len() {
                let sc = scatter(&g, s, x, spec);
                if !sc.active {
                    continue;
                }
                if first_polar.is_none() {
                    first_polar = Some(sc.polar.to_f64());
                }
                let mut c = 1.0;
                if per_thick {
                    c *= g.capture.to_f64();
                }
                if per_polar {
                    c *= sc.polar.to_f64();
                }
                if per_omega {
                    c *= g.omega.to_f64();
                }
                let mut sum = 0.0;
                for k in 0..x.cells.len() {
                    let hkl = miller(sc.q, k, x);
                    let f_latt = lattice(hkl, x, spec);
                    if spec.water_zero && f_latt == T::ZERO {
                        continue;
                    }
                    let f_cell = structure(hkl, x, spec)?;
                    let term = (f_cell * f_cell * (f_latt * f_latt)).to_f64();
                    if running {
                        acc = (acc + term) * c;
                    } else {
                        sum += term;
                    }
                }
                acc += sum;
            }
        }
    }
    let intensity = if running { acc } else { acc + x.i_bg.to_f64() };
    let mut factor = x.scale.to_f64();
    if !per_thick {
        factor *= capture_last;
    }
    if !per_polar && !spec.nopolar {
        factor *= first_polar.unwrap_or(0.0);
    }
    if !per_omega {
        factor *= omega_first;
    }
    Ok(PixelResult {
        intensity,
        factor,
        any_active: first_polar.is_some(),
    })
}
