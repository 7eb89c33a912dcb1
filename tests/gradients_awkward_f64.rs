//! Values and gradients at the awkward points, against analytic limits derived by hand (f64).
//!
//! Pixels are placed exactly on integer Miller indices:
//!
//! * **the direct beam**: with zero misset and the beam centre on a pixel centre, that pixel sees
//!   q = 0, so h = k = l = 0 for any cell, orientation and wavelength;
//! * **a Bragg peak**: a cubic cell (a = 100 Å, 90° angles, zero misset, φ = 0) has a* ∥ x,
//!   b* ∥ y, c* ∥ z; with the beam along +x the reflection (−1, 3, 0) is in diffracting position
//!   when `λq = d − i` is a unit-vector difference: `(1 − λ/a)² + (3λ/a)² = 1`, i.e. λ = a/5 =
//!   20 Å, with diffracted direction d = (0.8, 0.6, 0) (2θ = 36.87°). An untilted detector at
//!   D = 100 mm meets that ray at y = 75 mm, z = 0: in the MOSFLM convention pixel (slow 5,
//!   fast 7) of 0.1 mm pixels is there when `-Xbeam 75.5 -Ybeam 0.7` (`y = Xbeam − slow·p`,
//!   `z = fast·p − Ybeam`, from `Sbeam = Xbeam + p/2`, `Fbeam = Ybeam + p/2`).
//!
//! At these pixels the lattice factor sits at its maximum: F_latt = Na·Nb·Nc (each grating
//! sin(Nπh)/sin(πh) → N, with zero slope in h), so with one source, one φ step, one domain, no
//! oversampling and no absorption
//!
//! `I = r_e²·fluence·F²·(Na·Nb·Nc)²·Ω·P`, `Ω = p²·D/r³`, `P = ½(1 + cos²2θ − K·(E² − B²))`,
//!
//! where E and B are the components of d along E_in = z and B_in = y (polarization axis z), and
//! every derivative follows by hand: through Ω and P only for geometry (the lattice factor is
//! stationary), exactly 0 for cell, orientation, φ and wavelength, `2I/N` for N, `2I/F` for F,
//! `I/fluence`, and `−I·(E² − B²)/(2P)` for K (at K = 0). The r_e² used here is the
//! specification's constant. The renderer restricts to the one pixel with `-roi`, and
//! [`Simulator::loss_and_gradients`] gives I and its gradient.
//!
//! The lattice shapes other than SQUARE have no such closed-form points here; their hand-derived
//! derivatives (the CPU kernel's `cpu-pixel` path, forward and adjoint through
//! `physics::lattice`) are checked against Richardson finite differences at f64 instead, on
//! the scenes of `tests/gradient_scenes` (`SCENE_ROUND`: ∂/∂N_a, N_b, N_c of ROUND spots;
//! `SCENE_GAUSS_ARGCHK`: GAUSS_ARGCHK spots partly beyond the cut), with the rule of
//! `tests/gradients_f64.rs`: every component within 1e-6 relative of a non-zero FD.

mod gradient_scenes;

use std::collections::HashMap;
use std::f64::consts::PI;

use burn::tensor::DType;
use burn_ndarray::{NdArray, NdArrayDevice};
use gradient_scenes::fd::{check_scene, Outcome};
use gradient_scenes::{simulator, Scene, SCENE_GAUSS_ARGCHK, SCENE_ROUND};
use nanobragg::kernel::{Engine, KernelId};
use nanobragg::RenderOptions;
use nanobragg::gradients::{Loss, ParamName};
use nanobragg::Simulator;
use nanobragg_parity::AD;

use ParamName::*;

type B = NdArray<f64>;

/// Classical electron radius squared (m²), as the specification fixes it (spec-a-core.md and the
/// C program: 7.94079248018965e-30, 6e-7 above CODATA 2018).
const R_E_SQR: f64 = 7.94079248018965e-30;
/// Detector distance (mm), pixel size (mm) and the test pixel (slow, fast).
const D_MM: f64 = 100.0;
const P_MM: f64 = 0.1;
const SLOW: usize = 5;
const FAST: usize = 7;
/// Cell edge (Å) and default_F.
const A: f64 = 100.0;
const F: f64 = 100.0;

/// Flags common to the scenes: cubic cell, zero misset, φ = 0, K = 0, the one pixel only.
fn flags(n: u32, lambda: f64, xbeam: f64, ybeam: f64) -> String {
    format!(
        "-cell {A} {A} {A} 90 90 90 -misset 0 0 0 -phi 0 -N {n} -default_F {F} -lambda {lambda} \
         -distance {D_MM} -pixel {P_MM} -detpixels 16 -Xbeam {xbeam} -Ybeam {ybeam} \
         -oversample 1 -polar 0 -roi {FAST} {FAST} {SLOW} {SLOW}"
    )
}

/// The direct-beam pixel: beam centre on the centre of pixel (SLOW, FAST).
fn direct_beam(n: u32) -> String {
    flags(n, 1.0, SLOW as f64 * P_MM, FAST as f64 * P_MM)
}

/// The (−1, 3, 0) Bragg peak on pixel (SLOW, FAST): λ = a/5, beam centre 75 mm away.
fn bragg_peak(n: u32, fast: usize) -> String {
    let s = flags(n, A / 5.0, 75.0 + SLOW as f64 * P_MM, FAST as f64 * P_MM);
    s.replace(&format!("-roi {FAST} {FAST}"), &format!("-roi {fast} {fast}"))
}

/// The parameters checked at every awkward point.
const WRT: [ParamName; 26] = [
    CellA, CellB, CellC, CellAlpha, CellBeta, CellGamma, MissetX, MissetY, MissetZ, PhiStart,
    NA, NB, NC, DistanceMm, BeamCenterS, BeamCenterF, DetectorRotx, PixelSizeMm, WavelengthA,
    Dispersion, Fluence, PolarizationK, WaterUm, DefaultF, OscRange, MosaicSpread,
];

/// I and ∂I/∂p of the single rendered pixel; checks the render is f64 and everything finite.
fn pixel(args: &str) -> (f64, HashMap<ParamName, f64>, Simulator<AD<B>>) {
    let mut sim = simulator::<AD<B>>(args, &NdArrayDevice::Cpu);
    assert_eq!(sim.plan.pixels, vec![SLOW * 16 + roi_fast(args)], "one pixel rendered");
    assert_eq!(sim.plan.steps, 1, "one source, φ step, domain and sub-pixel");
    let image = sim.image_tensor_with(&sim.params.clone()).unwrap();
    assert_eq!(image.dtype(), DType::F64);
    let r = sim.loss_and_gradients(&Loss::Sum, &WRT).unwrap();
    assert!(r.loss.is_finite() && r.loss > 0.0, "I = {}", r.loss);
    let grads: HashMap<_, _> = r.gradients.iter().map(|&(n, _, g)| (n, g)).collect();
    for (n, g) in &grads {
        assert!(g.is_finite(), "∂I/∂{n} = {g}");
    }
    (r.loss, grads, sim)
}

/// The fast index of the ROI in `args`.
fn roi_fast(args: &str) -> usize {
    let w: Vec<&str> = args.split_whitespace().collect();
    let i = w.iter().position(|&x| x == "-roi").expect("-roi");
    w[i + 1].parse().unwrap()
}

fn assert_rel(got: f64, want: f64, tol: f64, what: &str) {
    let err = (got - want).abs() / want.abs();
    println!("{what}: {got:+.12e} (analytic {want:+.12e}, rel {err:.1e})");
    assert!(err <= tol, "{what}: got {got:e}, expected {want:e} (rel {err:.2e})");
}

/// Every parameter not in `nonzero` has derivative 0 (|g| ≤ 1e-10·I per unit).
fn assert_zero_except(i: f64, grads: &HashMap<ParamName, f64>, nonzero: &[ParamName], what: &str) {
    for (n, g) in grads {
        if !nonzero.contains(n) {
            assert!(g.abs() <= 1e-10 * i, "{what}: ∂I/∂{n} = {g:e}, expected 0 (I = {i:e})");
        }
    }
}

#[test]
fn direct_beam_pixel_value_and_gradients_equal_analytic_limits() {
    for n in [1u32, 3] {
        let (i, g, mut sim) = pixel(&direct_beam(n));
        let fluence = sim.param_value(Fluence).unwrap();
        assert_eq!(sim.param_value(PolarizationK).unwrap(), 0.0);
        let nn = n as f64;
        // q = 0: F_latt = N³, 2θ = 0 so P = 1, r = D so Ω = p²/D².
        let (p, d) = (P_MM * 1e-3, D_MM * 1e-3);
        let want = R_E_SQR * fluence * F * F * nn.powi(6) * p * p / (d * d);
        let what = format!("direct beam, N = {n}");
        assert_rel(i, want, 1e-12, &format!("{what}: I"));
        for axis in [NA, NB, NC] {
            assert_rel(g[&axis], 2.0 * i / nn, 1e-10, &format!("{what}: ∂I/∂{axis}"));
        }
        assert_rel(g[&DefaultF], 2.0 * i / F, 1e-10, &format!("{what}: ∂I/∂F"));
        assert_rel(g[&Fluence], i / fluence, 1e-10, &format!("{what}: ∂I/∂fluence"));
        assert_rel(g[&DistanceMm], -2.0 * i / D_MM, 1e-10, &format!("{what}: ∂I/∂D"));
        assert_rel(g[&PixelSizeMm], 2.0 * i / P_MM, 1e-10, &format!("{what}: ∂I/∂p"));
        let nonzero = [NA, NB, NC, DefaultF, Fluence, DistanceMm, PixelSizeMm];
        assert_zero_except(i, &g, &nonzero, &what);
    }
}

/// Ω, P and their derivatives at a pixel at lab offset (y, z) mm from the beam axis.
struct Geometry {
    r: f64,
    cos2t: f64,
    /// d·E_in (z) and d·B_in (y).
    e: f64,
    b: f64,
}

impl Geometry {
    fn at(y: f64, z: f64) -> Self {
        let r = (D_MM * D_MM + y * y + z * z).sqrt();
        Geometry { r, cos2t: D_MM / r, e: z / r, b: y / r }
    }
    /// Ω (sr) with lengths in metres.
    fn omega(&self) -> f64 {
        let (p, d, r) = (P_MM * 1e-3, D_MM * 1e-3, self.r * 1e-3);
        p * p * d / (r * r * r)
    }
    /// Kahn factor at K.
    fn polar(&self, k: f64) -> f64 {
        0.5 * (1.0 + self.cos2t * self.cos2t - k * (self.e * self.e - self.b * self.b))
    }
    /// ∂ln(Ω·P)/∂v at K = 0 for a pixel moving by (∂y/∂v, ∂z/∂v) with ∂D/∂v = dd (mm units).
    fn dlog(&self, y: f64, z: f64, dy: f64, dz: f64, dd: f64) -> f64 {
        let r2 = self.r * self.r;
        let dr = (D_MM * dd + y * dy + z * dz) / self.r;
        let d_omega = dd / D_MM - 3.0 * dr / self.r;
        let dc = dd / self.r - D_MM * dr / r2;
        d_omega + 2.0 * self.cos2t * dc / (1.0 + self.cos2t * self.cos2t)
    }
}

#[test]
fn bragg_peak_centre_value_and_gradients_equal_analytic_limits() {
    for n in [1u32, 3] {
        let (i, g, mut sim) = pixel(&bragg_peak(n, FAST));
        let fluence = sim.param_value(Fluence).unwrap();
        let nn = n as f64;
        let (y, z) = (75.0, 0.0);
        let geo = Geometry::at(y, z);
        assert_rel(geo.cos2t, 0.8, 1e-15, "cos 2θ of the (−1,3,0) ray");
        let want = R_E_SQR * fluence * F * F * nn.powi(6) * geo.omega() * geo.polar(0.0);
        let what = format!("(−1,3,0) peak centre, N = {n}");
        assert_rel(i, want, 1e-12, &format!("{what}: I"));
        for axis in [NA, NB, NC] {
            // The profile sin(Nπf)/sin(πf) at f = 0: value N, ∂/∂N = 1.
            assert_rel(g[&axis], 2.0 * i / nn, 1e-10, &format!("{what}: ∂I/∂{axis}"));
        }
        assert_rel(g[&DefaultF], 2.0 * i / F, 1e-10, &format!("{what}: ∂I/∂F"));
        assert_rel(g[&Fluence], i / fluence, 1e-10, &format!("{what}: ∂I/∂fluence"));
        // K = 0: ∂P/∂K = −(E² − B²)/2 = 0.18 here (E = 0, B = 0.6).
        let dk = -i * (geo.e * geo.e - geo.b * geo.b) / (2.0 * geo.polar(0.0));
        assert_rel(dk, i * 0.18 / 0.82, 1e-12, "hand value of ∂I/∂K");
        assert_rel(g[&PolarizationK], dk, 1e-10, &format!("{what}: ∂I/∂K at K = 0"));
        // Geometry: the lattice factor is stationary, only Ω and P move.
        // distance (BEAM pivot: the pixel keeps its lateral offset).
        let dd = i * geo.dlog(y, z, 0.0, 0.0, 1.0);
        assert_rel(g[&DistanceMm], dd, 1e-9, &format!("{what}: ∂I/∂D"));
        // pixel size: y = Xbeam − slow·p, z = fast·p − Ybeam, and Ω ∝ p².
        let dp = i * (2.0 / P_MM + geo.dlog(y, z, -(SLOW as f64), FAST as f64, 0.0));
        assert_rel(g[&PixelSizeMm], dp, 1e-9, &format!("{what}: ∂I/∂p"));
        // beam centre: ∂y/∂Xbeam = 1; ∂z/∂Ybeam = −1 at z = 0 (stationary).
        let dxb = i * geo.dlog(y, z, 1.0, 0.0, 0.0);
        assert_rel(g[&BeamCenterS], dxb, 1e-9, &format!("{what}: ∂I/∂Xbeam"));
        let nonzero = [NA, NB, NC, DefaultF, Fluence, PolarizationK, DistanceMm, PixelSizeMm, BeamCenterS];
        // Cell (90° angles), misset (0), φ (0), λ, rotation about the beam, water (0): all 0.
        assert_zero_except(i, &g, &nonzero, &what);
    }
}

/// N = 1 next to the peak: F_latt = 1 for every h, and ∂F_a/∂N_a = x·cot x with x = π(h − round h)
/// (the derivative of sin(Nx)/sin x at N = 1), the Miller indices computed here from the pixel's
/// direction. K = 0 with E ≠ 0 there.
#[test]
fn single_cell_off_peak_gradient_in_n_equals_x_cot_x() {
    let fast = FAST + 1;
    let (i, g, mut sim) = pixel(&bragg_peak(1, fast));
    let fluence = sim.param_value(Fluence).unwrap();
    let (y, z) = (75.0, P_MM); // one pixel further along +z
    let geo = Geometry::at(y, z);
    let want = R_E_SQR * fluence * F * F * geo.omega() * geo.polar(0.0);
    assert_rel(i, want, 1e-12, "N = 1 off peak: I");
    let lambda = A / 5.0;
    let d = [D_MM / geo.r, y / geo.r, z / geo.r];
    let hkl = [(d[0] - 1.0) / lambda * A, d[1] / lambda * A, d[2] / lambda * A];
    assert!((hkl[0] + 1.0).abs() < 1e-2 && (hkl[1] - 3.0).abs() < 1e-2 && hkl[2].abs() > 1e-3);
    for (axis, h) in [NA, NB, NC].into_iter().zip(hkl) {
        let x = PI * (h - h.round());
        let slope = if x == 0.0 { 1.0 } else { x / x.tan() };
        assert_rel(g[&axis], 2.0 * i * slope, 1e-8, &format!("N = 1: ∂I/∂{axis} (h = {h})"));
    }
    let dk = -i * (geo.e * geo.e - geo.b * geo.b) / (2.0 * geo.polar(0.0));
    assert_rel(g[&PolarizationK], dk, 1e-10, "N = 1 off peak: ∂I/∂K at K = 0");
}

/// Autodiff vs Richardson FD for every parameter of `scene`, rendered by the fused CPU kernel's
/// per-pixel path (whose lattice derivatives are the hand-derived ones of `physics::lattice`)
/// and by the tensor path; every component must pass.
fn assert_shape_scene_matches_fd(scene: &Scene) {
    let kernel = RenderOptions::default();
    let tensor = RenderOptions { engine: Engine::Tensor, ..RenderOptions::default() };
    let sim = simulator::<AD<B>>(scene.args, &NdArrayDevice::Cpu);
    assert_eq!(sim.fused_kernel(), Some(KernelId::CpuPixel), "scene {} runs on cpu-pixel", scene.label);
    let mut bad = Vec::new();
    for (path, options) in [("cpu-pixel", kernel), ("tensor", tensor)] {
        for r in check_scene(scene.args, scene.params, options) {
            println!("scene {} {path:>9} {r}", scene.label);
            if r.outcome() != Outcome::Pass {
                bad.push(format!("{path} {}: analytic {:e} FD {:e} rel {:.2e}", r.param, r.analytic, r.numeric, r.rel_error));
            }
        }
    }
    assert!(bad.is_empty(), "scene {}: gradients off: {bad:?}", scene.label);
}

#[test]
fn round_spots_gradients_in_n_match_richardson_fd() {
    assert_shape_scene_matches_fd(&SCENE_ROUND);
}

#[test]
fn gauss_argchk_spots_gradients_match_richardson_fd() {
    assert_shape_scene_matches_fd(&SCENE_GAUSS_ARGCHK);
}
