//! The semantic sampling rules of the C program (issue #3), proved on small scenes independently
//! of the golden images: every expectation below is derived by hand, in plain f64, from the
//! physics and from the C source (`nanoBragg.c`, main loop and the auto-selection block), never
//! from a value the engine just produced.
//!
//! f64 only (`NdArray<f64>`): this binary must never create another float dtype.
//! Run: `cargo test --release --test sampling_rules`.

use std::f64::consts::PI;
use std::path::Path;

use burn::tensor::{DType, Tensor};
use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::physics::lattice::grating::{grating, sincg};
use nanobragg::physics::lattice::round::sinc3_of_square;
use nanobragg::linalg::{scalar, tensor, to_vec};
use nanobragg::setup::auto_steps;
use nanobragg::{RenderOptions, Setup, Simulator};

type B = NdArray<f64>;
type AD = burn_autodiff::Autodiff<B>;
const DEV: NdArrayDevice = NdArrayDevice::Cpu;

/// The C program's constants (`nanoBragg.c`: `r_e_sqr`, `fluence`).
const C_R_E_SQR: f64 = 7.94079248018965e-30;
const C_FLUENCE: f64 = 125932015286227086360700780544.0;

// ---------------------------------------------------------------------------------------------
// helpers

#[path = "support/scratch.rs"]
mod scratch;

/// A fresh, empty directory for one test (relative inputs and the `Fdump.bin` probe look here,
/// so a stray `Fdump.bin` in the working directory cannot leak into a scene); removed when the
/// test passes.
fn scratch_dir(test: &str) -> scratch::Scratch {
    scratch::scratch_in_temp("nanobragg_sampling_rules", test)
}

fn setup(args: &str, base: &Path) -> Setup {
    let cl = nanobragg_cli::parse_args(args.split_whitespace().map(String::from))
        .unwrap_or_else(|e| panic!("parse {args}: {e}"));
    Setup::from_scene(&cl.scene, base).unwrap_or_else(|e| panic!("setup {args}: {e}"))
}

fn simulator(args: &str, base: &Path, options: RenderOptions) -> Simulator<B> {
    let sim = Simulator::<B>::new(setup(args, base), &DEV, options).unwrap();
    assert_eq!(
        sim.params.pixel.dtype(),
        DType::F64,
        "parameter tensors must be f64"
    );
    sim
}

/// Rendered image at f64 (index `slow·fpixels + fast`, 0 outside ROI), plus the scan notes.
/// Mirrors `Simulator::render` (same tiles, same scan state) without the f32 store.
fn render_f64(sim: &Simulator<B>) -> (Vec<f64>, Vec<String>) {
    let det = &sim.setup.detector;
    let mut out = vec![0.0; det.fpixels * det.spixels];
    let mut state = sim.scan_start();
    for tile in sim.plan.pixels.chunks(sim.tile_pixels()) {
        let v = sim.tile_values(tile, &mut state).unwrap();
        assert_eq!(v.dtype(), DType::F64, "rendered values must be f64");
        for (&i, x) in tile.iter().zip(to_vec(&v)) {
            out[i] = x;
        }
    }
    (out, state.notes)
}

fn render(args: &str, base: &Path) -> (Vec<f64>, Vec<String>, Simulator<B>) {
    let sim = simulator(args, base, RenderOptions::default());
    let (img, notes) = render_f64(&sim);
    (img, notes, sim)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

fn assert_rel(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        rel(got, want) <= tol,
        "{what}: got {got:.17e}, expected {want:.17e} (rel {:.3e} > {tol:e})",
        rel(got, want)
    );
}

fn dot3(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross3(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn norm3(a: [f64; 3]) -> f64 {
    dot3(a, a).sqrt()
}
fn unit3(a: [f64; 3]) -> [f64; 3] {
    let n = norm3(a);
    [a[0] / n, a[1] / n, a[2] / n]
}
fn axpy(acc: [f64; 3], s: f64, v: [f64; 3]) -> [f64; 3] {
    [acc[0] + s * v[0], acc[1] + s * v[1], acc[2] + s * v[2]]
}
fn vec3_of(t: &Tensor<B, 1>) -> [f64; 3] {
    let v = to_vec(t);
    [v[0], v[1], v[2]]
}

/// MOSFLM (the default convention) with `-Xbeam X -Ybeam Y` (mm), no rotations, as the C program
/// builds it: b = (1,0,0), f = (0,0,1), s = (0,−1,0), o = (1,0,0), Fbeam = Ybeam + ½ px,
/// Sbeam = Xbeam + ½ px, pix0 = −Fbeam·f − Sbeam·s + distance·b (all in m).
struct MosflmGeometry {
    pix0: [f64; 3],
    f: [f64; 3],
    s: [f64; 3],
    o: [f64; 3],
    pixel: f64,
    close: f64,
}

impl MosflmGeometry {
    fn new(distance_mm: f64, pixel_mm: f64, xbeam_mm: f64, ybeam_mm: f64) -> Self {
        let (d, px) = (distance_mm * 1e-3, pixel_mm * 1e-3);
        let (fbeam, sbeam) = (ybeam_mm * 1e-3 + 0.5 * px, xbeam_mm * 1e-3 + 0.5 * px);
        let (b, f, s, o) = (
            [1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0],
            [0.0, -1.0, 0.0],
            [1.0, 0.0, 0.0],
        );
        let pix0 = axpy(axpy([d * b[0], d * b[1], d * b[2]], -fbeam, f), -sbeam, s);
        MosflmGeometry {
            pix0,
            f,
            s,
            o,
            pixel: px,
            close: dot3(pix0, o),
        }
    }

    /// Check the engine's detector against this hand geometry (a precondition of the tests that
    /// use it, so a geometry change fails loudly instead of skewing the expectations).
    fn check_against(&self, sim: &Simulator<B>) {
        let det = sim.detector().unwrap();
        for (name, got, want) in [
            ("pix0", vec3_of(&det.pix0), self.pix0),
            ("fdet", vec3_of(&det.fdet), self.f),
            ("sdet", vec3_of(&det.sdet), self.s),
            ("odet", vec3_of(&det.odet), self.o),
        ] {
            for i in 0..3 {
                assert!(
                    (got[i] - want[i]).abs() <= 1e-15,
                    "{name}[{i}]: engine {} vs hand {}",
                    got[i],
                    want[i]
                );
            }
        }
    }

    /// Lab position of sub-pixel (subS, subF) of pixel (fast, slow) in sensor layer depth `odet`
    /// (m), exactly as the C loop builds it.
    fn position(
        &self,
        fast: usize,
        slow: usize,
        os: usize,
        sub_s: usize,
        sub_f: usize,
        odet: f64,
    ) -> [f64; 3] {
        let sub = self.pixel / os as f64;
        let fd = sub * (fast * os + sub_f) as f64 + sub / 2.0;
        let sd = sub * (slow * os + sub_s) as f64 + sub / 2.0;
        axpy(axpy(axpy(self.pix0, fd, self.f), sd, self.s), odet, self.o)
    }

    /// ω = pixel²/R²·close_distance/R.
    fn omega(&self, pos: [f64; 3]) -> f64 {
        let r = norm3(pos);
        self.pixel * self.pixel / r / r * self.close / r
    }
}

/// Kahn factor as the C `polarization_factor`: ½(1 + cos²2θ − K·cos2ψ·sin²2θ),
/// B_in = unit(p × i), E_in = unit(i × B_in), ψ = −atan2(d·B_in, d·E_in).
fn kahn(k: f64, incident: [f64; 3], diffracted: [f64; 3], axis: [f64; 3]) -> f64 {
    let c = dot3(incident, diffracted);
    let b_in = unit3(cross3(axis, incident));
    let e_in = unit3(cross3(incident, b_in));
    let psi = -(dot3(diffracted, b_in)).atan2(dot3(diffracted, e_in));
    0.5 * (1.0 + c * c - k * (2.0 * psi).cos() * (1.0 - c * c))
}

// ---------------------------------------------------------------------------------------------
// 1. steps normalisation

/// Two φ steps at the same angle double every term of the sum and double `steps`, so the image
/// equals the one-step image; and `steps` = sources × domains × φ steps × oversample².
#[test]
fn steps_normalisation_divides_by_sources_domains_phi_and_oversample_squared() {
    let base = scratch_dir("steps");
    let scene = "-default_F 100 -cell 70 80 90 90 90 90 -misset 10 20 30 -lambda 1.3 -N 5 \
                 -distance 60 -pixel 0.5 -detpixels 6 -oversample 1 -phi 5";
    // C: phisteps given, osc ≥ 0, phistep unset (< 0) → phistep = osc/phisteps = 0:
    // both steps are at φ0.
    let (one, _, sim1) = render(scene, &base);
    let (two, _, sim2) = render(&format!("{scene} -phisteps 2 -osc 0"), &base);
    assert_eq!(sim1.setup.crystal.phi_steps, 1);
    assert_eq!(sim2.setup.crystal.phi_steps, 2);
    assert_eq!(sim2.setup.crystal.phi_step_rad, 0.0);
    assert_eq!(sim1.plan.steps, 1);
    assert_eq!(sim2.plan.steps, 2);
    assert!(one.iter().all(|&v| v > 0.0), "scene must light every pixel");
    let spread =
        one.iter().cloned().fold(0.0, f64::max) / one.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread > 1.5, "scene must not be flat (max/min {spread})");
    for (i, (&a, &b)) in one.iter().zip(&two).enumerate() {
        assert_rel(b, a, 1e-12, &format!("pixel {i}: 2 identical φ steps vs 1"));
    }

    // steps for a scene with every factor: divergence 0.2 mrad × 3 steps each way gives a 3×3
    // grid; round_div trimming keeps points with 4·Σ (div² − step²/4·[even])/range² ≤ 1.1: with
    // range 2e-4 and div ∈ {−1e-4, 0, 1e-4}, the corners give 4·(0.25 + 0.25) = 2 (dropped),
    // the edges 4·0.25 = 1 and the centre 0 (kept) → 5 directions. × 3 wavelengths = 15 sources.
    // 4 mosaic domains, 2 φ steps, oversample 3 → 15·4·2·9 = 1080.
    let s = setup(
        "-default_F 1 -cell 50 50 50 90 90 90 -detpixels 4 -divergence 0.2 -divsteps 3 \
         -dispersion 2 -dispsteps 3 -mosaic 0.5 -mosaic_dom 4 -phisteps 2 -osc 0.1 -oversample 3",
        &base,
    );
    assert_eq!(s.beam.div_points, 5);
    assert_eq!(s.beam.sources.len(), 15);
    assert_eq!(s.crystal.mosaic_umats.len(), 4);
    assert_eq!(s.crystal.phi_steps, 2);
    assert_eq!(s.steps(3), 15 * 4 * 2 * 9);
    assert_eq!(s.steps(1), 15 * 4 * 2);
    let sim = Simulator::<B>::new(s, &DEV, RenderOptions::default()).unwrap();
    assert_eq!(sim.plan.oversample, 3);
    assert_eq!(sim.plan.steps, 1080);
}

// ---------------------------------------------------------------------------------------------
// 2. last-value vs per-sub-pixel factors

/// Scene for test 2: F_latt ≡ 1 (N = 1: the C skips sincg for N ≤ 1) and F = default_F, so every
/// term is F²; a short distance and big pixels make ω and the polarization vary strongly across
/// the 2×2 sub-pixels of an off-centre pixel.
const LAST_VALUE_SCENE: &str = "-default_F 10 -cell 100 100 100 90 90 90 -N 1 -lambda 1 \
    -distance 5 -pixel 1 -detpixels 4 -Xbeam 1.2 -Ybeam 1.5 -oversample 2 -polar 0.5";

/// Without `-oversample_omega` the C program multiplies the pixel by the solid angle it cached at
/// the FIRST sub-pixel (`if(omega_pixel == 0.0 || oversample_omega)`; omega_pixel is reset once
/// per pixel), not the last one nor the average (the spec's AT-SAM-002 says "last-computed": the
/// C code, which made the corpus, computes ω once and keeps it). With the flag, the running sum is
/// scaled after every term: I_n = (I_{n−1} + F²)·ω_n. Same for the polarization factor.
#[test]
fn oversample_factors_use_first_subpixel_value_unless_flagged_then_running_product() {
    let base = scratch_dir("last_value");
    let f2 = 100.0; // default_F²
    let (fast, slow, os) = (3usize, 0usize, 2usize);
    let idx = slow * 4 + fast;
    let geo = MosflmGeometry::new(5.0, 1.0, 1.2, 1.5);

    let (plain, _, sim) = render(LAST_VALUE_SCENE, &base);
    geo.check_against(&sim);
    assert_eq!(sim.plan.steps, 4, "1 source × 1 domain × 1 φ × 2²");
    let (with_omega, _, _) = render(&format!("{LAST_VALUE_SCENE} -oversample_omega"), &base);
    let (with_polar, _, _) = render(&format!("{LAST_VALUE_SCENE} -oversample_polar"), &base);
    let (with_both, _, _) = render(
        &format!("{LAST_VALUE_SCENE} -oversample_omega -oversample_polar"),
        &base,
    );

    // Sub-pixels in C loop order (subS outer, subF inner).
    let incident = [1.0, 0.0, 0.0]; // −(source direction) = beam
    let polar_axis = [0.0, 0.0, 1.0]; // MOSFLM polarization axis
    let mut omegas = Vec::new();
    let mut polars = Vec::new();
    for sub_s in 0..os {
        for sub_f in 0..os {
            let pos = geo.position(fast, slow, os, sub_s, sub_f, 0.0);
            omegas.push(geo.omega(pos));
            polars.push(kahn(0.5, incident, unit3(pos), polar_axis));
        }
    }
    // The pixel really is off-centre: the factors vary across its sub-pixels.
    let spread = |v: &[f64]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        (hi - lo) / hi
    };
    assert!(
        spread(&omegas) > 0.1 && rel(omegas[0], omegas[3]) > 0.01,
        "ω varies: {omegas:?}"
    );
    assert!(
        spread(&polars) > 0.01 && rel(polars[0], polars[3]) > 1e-3,
        "P varies: {polars:?}"
    );

    let scale = C_R_E_SQR * C_FLUENCE / 4.0;
    // Un-flagged: I = Σ F² = 4F², times ω and P of the first sub-pixel.
    let want_plain = scale * 4.0 * f2 * polars[0] * omegas[0];
    assert_rel(
        plain[idx],
        want_plain,
        1e-12,
        "un-flagged pixel = r_e²·Φ/steps·4F²·P₁·ω₁",
    );
    // ... and not with the last sub-pixel's or the mean factors.
    assert!(rel(plain[idx], scale * 4.0 * f2 * polars[3] * omegas[3]) > 1e-3);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(rel(plain[idx], scale * 4.0 * f2 * mean(&polars) * mean(&omegas)) > 1e-3);

    let running = |c: &[f64]| c.iter().fold(0.0, |i, &cn| (i + f2) * cn);
    // -oversample_omega: running product over ω, P still the first sub-pixel's.
    let i_omega = running(&omegas);
    assert_rel(
        with_omega[idx] / plain[idx],
        i_omega / (4.0 * f2 * omegas[0]),
        1e-12,
        "ratio omega-flagged / plain",
    );
    assert_rel(
        with_omega[idx],
        scale * i_omega * polars[0],
        1e-12,
        "omega-flagged pixel",
    );
    // It is a running product, not Σ F²·ω_n (the term-only product).
    let term_only: f64 = omegas.iter().map(|w| f2 * w).sum();
    assert!(rel(i_omega, term_only) > 0.1);
    // -oversample_polar: running product over P, ω the first sub-pixel's.
    let i_polar = running(&polars);
    assert_rel(
        with_polar[idx] / plain[idx],
        i_polar / (4.0 * f2 * polars[0]),
        1e-12,
        "ratio polar-flagged / plain",
    );
    // Both: I_n = (I_{n−1} + F²)·P_n·ω_n and no factor at the end.
    let both: Vec<f64> = polars.iter().zip(&omegas).map(|(p, w)| p * w).collect();
    assert_rel(
        with_both[idx],
        scale * running(&both),
        1e-12,
        "omega+polar-flagged pixel",
    );
}

// ---------------------------------------------------------------------------------------------
// 3. detector absorption layers

/// With `-detector_abs` (μ = 1/depth) and `-detector_thick T -detector_thicksteps n`, the C
/// program uses the layer step Δz = T/(n−1) (auto-selection branch "range and steps specified":
/// `detector_thickstep = detector_thick/(detector_thicksteps-1)`), while the spec (AT-ABS-001,
/// "Sampling & Accumulation") says Δz = thickness/steps and that the capture fractions sum to
/// 1 − exp(−thickness·μ/ρ). With the C's Δz the n layers span n·Δz = T·n/(n−1), so for constant ρ
/// the sum is 1 − exp(−n·Δz·μ/ρ). We test what the C does.
///
/// Layer t at depth t·Δz has capture f_t = exp(−t·Δz·μ/ρ_t) − exp(−(t+1)·Δz·μ/ρ_t) with
/// ρ_t = d_t·o evaluated at that layer's position. Without `-oversample_thick` the pixel is the
/// sum over all layers (Σ_t F², not divided by n: layers are not in `steps`) times the capture
/// fraction of the LAST layer (capture_fraction is reset per layer and cached at its first
/// sub-pixel); ω and P are those of layer 0. With the flag: I_t = (I_{t−1} + F²)·f_t.
#[test]
fn absorption_layers_capture_fractions_and_last_layer_rule() {
    let base = scratch_dir("absorption");
    let scene = "-default_F 10 -cell 100 100 100 90 90 90 -N 1 -lambda 1 -distance 5 -pixel 1 \
                 -detpixels 5 -Xbeam 2 -Ybeam 2 -oversample 1 -polar 0.5";
    let (depth_um, thick_um, n) = (300.0, 100.0, 4usize);
    let abs = format!(
        "{scene} -detector_abs {depth_um} -detector_thick {thick_um} -detector_thicksteps {n}"
    );
    let geo = MosflmGeometry::new(5.0, 1.0, 2.0, 2.0);
    let mu = 1.0 / (depth_um * 1e-6);
    let thick = thick_um * 1e-6;
    let dz = thick / (n - 1) as f64; // the C rule
    let dz_spec = thick / n as f64; // the spec's rule

    let (none, _, sim0) = render(scene, &base);
    geo.check_against(&sim0);
    let (plain, _, sim) = render(&abs, &base);
    let (flagged, _, _) = render(&format!("{abs} -oversample_thick"), &base);
    let d = &sim.setup.detector;
    assert_eq!(d.thick_steps, n);
    assert_rel(d.thick_step_m, dz, 1e-15, "layer step = T/(n−1)");
    assert_rel(d.mu_per_m, mu, 1e-15, "μ = 1/depth");
    assert_eq!(
        sim.plan.steps, sim0.plan.steps,
        "layers are not part of steps"
    );

    let captures = |fast: usize, slow: usize, step: f64| -> Vec<f64> {
        (0..n)
            .map(|t| {
                let pos = geo.position(fast, slow, 1, 0, 0, t as f64 * step);
                let rho = dot3(unit3(pos), geo.o);
                (-(t as f64) * step * mu / rho).exp() - (-((t + 1) as f64) * step * mu / rho).exp()
            })
            .collect()
    };

    // (2,2) is the near point (ρ = 1 in every layer); (4,0) is oblique (ρ < 1, varying by layer).
    for (fast, slow) in [(2usize, 2usize), (4, 0)] {
        let idx = slow * 5 + fast;
        let f = captures(fast, slow, dz);
        assert!(none[idx] > 0.0);
        // Un-flagged: pixel = (Σ_t F²)·f_last·(P, ω of layer 0) = n·f_last × the no-absorption pixel.
        let want = n as f64 * f[n - 1];
        assert_rel(
            plain[idx] / none[idx],
            want,
            1e-12,
            &format!("({fast},{slow}) un-flagged / no absorption"),
        );
        // Not the spec's Δz = T/n, not the first layer, not the total absorbed fraction.
        let f_spec = captures(fast, slow, dz_spec);
        assert!(rel(plain[idx] / none[idx], n as f64 * f_spec[n - 1]) > 1e-3);
        assert!(rel(plain[idx] / none[idx], n as f64 * f[0]) > 1e-3);
        assert!(rel(plain[idx] / none[idx], f.iter().sum::<f64>()) > 1e-3);
        // -oversample_thick: running product I_t = (I_{t−1} + F²)·f_t, no final capture factor.
        let running = f.iter().fold(0.0, |i, &c| (i + 1.0) * c); // in units of F²
        assert_rel(
            flagged[idx] / none[idx],
            running,
            1e-12,
            &format!("({fast},{slow}) thick-flagged / no absorption"),
        );
    }

    // The layer sum at the near point (ρ = 1): it telescopes to 1 − exp(−n·Δz·μ), with the C's
    // Δz (checked against the engine above through the last layer) that is not 1 − exp(−T·μ).
    let f = captures(2, 2, dz);
    let rho = dot3(unit3(geo.position(2, 2, 1, 0, 0, 0.0)), geo.o);
    assert!((rho - 1.0).abs() < 1e-15);
    let sum: f64 = f.iter().sum();
    assert_rel(
        sum,
        1.0 - (-(n as f64) * dz * mu).exp(),
        1e-12,
        "Σ capture fractions (C)",
    );
    assert!(
        rel(sum, 1.0 - (-thick * mu).exp()) > 0.05,
        "C layer span differs from the spec's 1 − exp(−Tμ/ρ)"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. count/range/step auto-selection

/// `auto_steps(count, range, step, nominal)` row by row against the C block for hdiv (the same
/// code is repeated for vdiv and dispersion), unset = −1:
/// - count ≤ 0: no range & no step → 1/0/0; step only → range = step, count 2; range only →
///   step = range, count 2; range & step → count = ceil(range/step).
/// - count > 0: neither → range = nominal, step = range/count (the spec's table says
///   range/(count−1); the C divides by count); step only → range = step, count 2; range only →
///   count coerced to ≥ 2, step = range/(count−1); all three → unchanged.
/// - sanity check: range ≤ 0, step ≤ 0 or count ≤ 0 → 1/0/0.
#[test]
fn divergence_and_dispersion_auto_selection_table() {
    // ((count, range, step) given, (count, range, step) expected), unset = −1.
    type Row = ((i64, f64, f64), (usize, f64, f64));
    let rows: [Row; 14] = [
        ((-1, -1.0, -1.0), (1, 0.0, 0.0)),
        ((0, -1.0, -1.0), (1, 0.0, 0.0)),
        ((-1, -1.0, 0.3), (2, 0.3, 0.3)),
        ((-1, 0.4, -1.0), (2, 0.4, 0.4)),
        ((-1, 1.0, 0.3), (4, 1.0, 0.3)),   // ceil(3.33…) = 4
        ((-1, 1.0, 0.25), (4, 1.0, 0.25)), // exact quotient: no rounding up
        ((5, -1.0, -1.0), (5, 1.0, 1.0 / 5.0)),
        ((5, -1.0, 0.3), (2, 0.3, 0.3)),
        ((5, 0.4, -1.0), (5, 0.4, 0.4 / 4.0)),
        ((1, 0.4, -1.0), (2, 0.4, 0.4 / 1.0)),
        ((3, 0.4, 0.1), (3, 0.4, 0.1)),
        // sanity check: zero range
        ((-1, 0.0, -1.0), (1, 0.0, 0.0)),
        ((5, 0.0, -1.0), (1, 0.0, 0.0)),
        ((-1, 0.0, 0.1), (1, 0.0, 0.0)), // count = ceil(0/0.1) = 0
    ];
    for ((n, r, s), (want_n, want_r, want_s)) in rows {
        let (gn, gr, gs) = auto_steps(n, r, s, 1.0);
        assert_eq!(gn, want_n, "count for ({n}, {r}, {s})");
        assert_eq!(gr, want_r, "range for ({n}, {r}, {s})");
        assert_rel(gs, want_s, 1e-15, &format!("step for ({n}, {r}, {s})"));
    }
    // The nominal range is used only in the count-only branch.
    assert_eq!(auto_steps(4, -1.0, -1.0, 2.0), (4, 2.0, 0.5));
    assert_eq!(auto_steps(-1, -1.0, -1.0, 2.0), (1, 0.0, 0.0));

    let base = scratch_dir("auto");
    // Dispersion through Setup: 10 % in 3 steps → dispstep = 0.1/(3−1) = 0.05,
    // λ_i = λ0·(1 + 0.05·i − 0.1/2) = λ0·(0.95, 1.00, 1.05).
    let scene =
        "-default_F 10 -cell 40 50 60 90 90 90 -misset 5 10 15 -N 5 -distance 40 -pixel 0.4 \
                 -detpixels 5 -oversample 1 -lambda 1.5";
    let s = setup(&format!("{scene} -dispersion 10 -dispsteps 3"), &base);
    assert_eq!(s.beam.sources.len(), 3);
    let lambda0 = 1.5e-10;
    for (src, factor) in s.beam.sources.iter().zip([0.95, 1.0, 1.05]) {
        let lambda = src.fixed_m
            + src.scale * s.beam.wavelength_m * (1.0 + s.beam.dispersion * src.disp_coeff);
        assert_rel(lambda, lambda0 * factor, 1e-12, "source wavelength");
        assert_eq!(
            src.direction,
            [-1.0, 0.0, 0.0],
            "no divergence: every source on −b"
        );
    }
    // ... and the render is the mean of the three monochromatic renders (steps = 3 sources; P and
    // ω do not depend on λ).
    let (poly, _, _) = render(&format!("{scene} -dispersion 10 -dispsteps 3"), &base);
    let mono: Vec<Vec<f64>> = [1.425, 1.5, 1.575]
        .iter()
        .map(|l| {
            render(
                &scene.replace("-lambda 1.5", &format!("-lambda {l}")),
                &base,
            )
            .0
        })
        .collect();
    for i in 0..poly.len() {
        let mean = (mono[0][i] + mono[1][i] + mono[2][i]) / 3.0;
        assert_rel(
            poly[i],
            mean,
            1e-9,
            &format!("pixel {i}: polychromatic = mean of monochromatic"),
        );
    }
    // Dispersion only (range, no count): step = range, count 2 → λ0·(0.95, 1.05).
    let s = setup(&format!("{scene} -dispersion 10"), &base);
    let lambdas: Vec<f64> = s
        .beam
        .sources
        .iter()
        .map(|src| src.scale * s.beam.wavelength_m * (1.0 + s.beam.dispersion * src.disp_coeff))
        .collect();
    assert_eq!(lambdas.len(), 2);
    assert_rel(lambdas[0], lambda0 * 0.95, 1e-12, "λ0(1 − 0.05)");
    assert_rel(lambdas[1], lambda0 * 1.05, 1e-12, "λ0(1 + 0.1 − 0.05)");

    // Thickness through Setup (C: detector_thick starts at 0, not −1; μ = 1/T when no -detector_abs).
    let t = 100e-6;
    let thick_rows: [(&str, usize, f64, f64); 6] = [
        ("", 1, 0.0, 0.0),
        ("-detector_abs 300", 1, 0.0, 0.0), // zero thickness
        ("-detector_abs 300 -detector_thicksteps 4", 1, 0.0, 0.0), // range 0 → step 0 → sanity
        ("-detector_abs 300 -detector_thick 100", 2, t, t / 2.0), // range only: n = 2, Δz = T/2
        (
            "-detector_abs 300 -detector_thick 100 -detector_thicksteps 4",
            4,
            t,
            t / 3.0,
        ),
        (
            "-detector_abs 300 -detector_thick 100 -detector_thicksteps 1",
            2,
            t,
            t / 1.0,
        ),
    ];
    for (flags, want_n, want_t, want_dz) in thick_rows {
        let d = setup(&format!("{scene} {flags}"), &base).detector;
        assert_eq!(d.thick_steps, want_n, "layers for `{flags}`");
        assert_rel(
            d.thick_m,
            want_t,
            1e-15,
            &format!("thickness for `{flags}`"),
        );
        assert_rel(
            d.thick_step_m,
            want_dz,
            1e-15,
            &format!("layer step for `{flags}`"),
        );
    }
    let d = setup(
        &format!("{scene} -detector_thick 100 -detector_thicksteps 3"),
        &base,
    )
    .detector;
    assert_rel(d.mu_per_m, 1.0 / t, 1e-15, "μ defaults to 1/thickness");
    assert_rel(d.thick_step_m, t / 2.0, 1e-15, "Δz = T/(3−1)");
}

// ---------------------------------------------------------------------------------------------
// 5. tricubic fallback

/// Integer-coefficient polynomial of degree ≤ 3 in each index: tricubic (Lagrange, 4 nodes)
/// interpolation reproduces it exactly; the nearest-neighbour value is F(h0, k0, l0).
fn poly_f(h: f64, k: f64, l: f64) -> f64 {
    200.0 + 6.0 * h + 4.0 * k * k - 2.0 * l + h * k * l
}

/// Fractional (h, k, l) of pixel (fast, slow) for a cubic cell `a` (Å) with no misset
/// (a ∥ x, b ∥ y, c ∥ z) and the beam along x: h = a·(d − i)/λ.
fn hkl_of(geo: &MosflmGeometry, fast: usize, slow: usize, a_ang: f64, lambda_ang: f64) -> [f64; 3] {
    let d = unit3(geo.position(fast, slow, 1, 0, 0, 0.0));
    let q = [
        (d[0] - 1.0) / lambda_ang,
        d[1] / lambda_ang,
        d[2] / lambda_ang,
    ];
    [a_ang * q[0], a_ang * q[1], a_ang * q[2]]
}

/// The first evaluation (scan order: slow, then fast) whose 4×4×4 window leaves the grid prints
/// the one-time warning, takes default_F, and switches interpolation off for the REST of the scan:
/// a later pixel whose window is inside the grid then gets the nearest-neighbour value. With the
/// out-of-range pixels excluded by -roi, interpolation stays on.
#[test]
fn tricubic_out_of_range_window_switches_interpolation_off_for_the_rest_of_the_scan() {
    let base = scratch_dir("tricubic");
    // Grid h, k, l ∈ [−4, 4] (range 9). C window test: outside iff x − x_min + 3 > range or
    // x − 2 < x_min, i.e. inside iff −2 ≤ x ≤ 2 for every index.
    let mut text = String::new();
    for h in -4..=4 {
        for k in -4..=4 {
            for l in -4..=4 {
                text.push_str(&format!(
                    "{h} {k} {l} {}\n",
                    poly_f(h as f64, k as f64, l as f64)
                ));
            }
        }
    }
    std::fs::write(base.join("grid.hkl"), text).unwrap();
    // Cell 130 Å, λ 1 Å, 1 mm pixels at 100 mm, beam at the centre of pixel (4,4): an offset of
    // m pixels gives |k| or |l| ≈ 1.3·m, so pixels 2+ away from the centre are outside the window
    // and pixel (0,0) — the first in scan order — is (k, l) ≈ (5.2, −5.2). N = 3 keeps F_latt ≠ 0
    // there (the C skips F when F_latt == 0), and -interpolate forces interpolation on (N > 2).
    let scene =
        "-hkl grid.hkl -default_F 7 -cell 130 130 130 90 90 90 -lambda 1 -N 3 -distance 100 \
                 -pixel 1 -detpixels 9 -Xbeam 4 -Ybeam 4 -oversample 1";
    let geo = MosflmGeometry::new(100.0, 1.0, 4.0, 4.0);
    let (first, probe) = ((0usize, 0usize), (5usize, 3usize)); // (fast, slow)
    let at = |(f, s): (usize, usize)| s * 9 + f;

    // Hand indices: pixel (0,0) is outside the window, the probe pixel inside, fractional.
    let hkl_first = hkl_of(&geo, first.0, first.1, 130.0, 1.0);
    assert!(
        hkl_first
            .iter()
            .any(|&x| x + 4.0 + 3.0 > 9.0 || x - 2.0 < -4.0),
        "{hkl_first:?}"
    );
    let [h, k, l] = hkl_of(&geo, probe.0, probe.1, 130.0, 1.0);
    for x in [h, k, l] {
        assert!(
            x + 4.0 + 3.0 <= 9.0 && x - 2.0 >= -4.0,
            "probe window inside: {h} {k} {l}"
        );
    }
    let (h0, k0, l0) = ((h - 0.5).ceil(), (k - 0.5).ceil(), (l - 0.5).ceil());
    let ratio_interp_over_nearest = (poly_f(h, k, l) / poly_f(h0, k0, l0)).powi(2);
    assert!(
        (ratio_interp_over_nearest - 1.0).abs() > 1e-2,
        "interpolated and nearest F must differ"
    );

    let (full, notes, sim) = render(&format!("{scene} -interpolate"), &base);
    geo.check_against(&sim);
    assert!(sim.plan.interpolate);
    let (nearest, nearest_notes, _) = render(&format!("{scene} -nointerpolate"), &base);
    let (roi, roi_notes, _) = render(&format!("{scene} -interpolate -roi 3 5 3 5"), &base);
    let (default_only, _, _) = render(&scene.replace("-hkl grid.hkl ", ""), &base);

    // One-time warning, in the render's notes (also through the public render()).
    let warnings = notes
        .iter()
        .filter(|n| n.contains("out of range for three point interpolation"))
        .count();
    assert_eq!(warnings, 1, "notes: {notes:?}");
    assert!(notes
        .iter()
        .any(|n| n.contains("further warnings will not be printed")));
    let image = sim.render().unwrap();
    assert_eq!(image.notes, notes);
    assert!(
        nearest_notes.is_empty() && roi_notes.is_empty(),
        "{nearest_notes:?} {roi_notes:?}"
    );

    // The first pixel took default_F.
    assert_rel(
        full[at(first)],
        default_only[at(first)],
        1e-12,
        "first out-of-window pixel uses default_F",
    );
    // The probe (later in the scan) gets the nearest-neighbour value ...
    assert_rel(
        full[at(probe)],
        nearest[at(probe)],
        1e-12,
        "after the fallback: nearest neighbour",
    );
    // ... while with the out-of-range pixels outside the ROI it is interpolated (exactly, for
    // this polynomial): roi/nearest = (F(h,k,l)/F(h0,k0,l0))².
    assert_rel(
        roi[at(probe)] / nearest[at(probe)],
        ratio_interp_over_nearest,
        1e-10,
        "ROI render interpolates",
    );
    assert!(rel(full[at(probe)], roi[at(probe)]) > 1e-3);

    // The switch is carried across tiles in scan order (one pixel per tile).
    let tiled = simulator(
        &format!("{scene} -interpolate"),
        &base,
        RenderOptions {
            tile_pixels: Some(1),
            ..RenderOptions::default()
        },
    );
    let (tiled_img, tiled_notes) = render_f64(&tiled);
    assert_eq!(tiled_notes, notes);
    for (i, (&a, &b)) in tiled_img.iter().zip(&full).enumerate() {
        assert_rel(
            a,
            b,
            1e-12,
            &format!("pixel {i}: 1-pixel tiles vs one tile"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6. sincg / grating at and between Bragg peaks

fn sign_power(h: i64, n: i64) -> f64 {
    if (h * (n - 1)).rem_euclid(2) == 0 {
        1.0
    } else {
        -1.0
    }
}

/// d/dh [sin(Nπh)/sin(πh)] = π·(N·cos(Nπh)·sin(πh) − sin(Nπh)·cos(πh))/sin²(πh).
fn grating_derivative(h: f64, n: f64) -> f64 {
    let (s, c) = (PI * h).sin_cos();
    let (sn, cn) = (n * PI * h).sin_cos();
    PI * (n * cn * s - sn * c) / (s * s)
}

/// At integer h the grating function is N·(−1)^{h(N−1)} (its limit: a maximum of |F_latt|, zero
/// slope); elsewhere it is sin(Nπh)/sin(πh). Values and autodiff gradients (w.r.t. h) are finite
/// and match the analytic ones.
#[test]
fn grating_at_and_between_bragg_peaks_values_and_gradients() {
    let ints = [0.0, 1.0, -3.0, 50.0];
    let fracs = [0.3, -2.7, 12.45, 50.1, 0.001, -0.499];
    for n in [4.0f64, 5.0, 7.0] {
        let nt = scalar::<B>(n, &DEV);
        let vals = to_vec(&grating(
            tensor::<B, 1>(ints.to_vec(), [ints.len()], &DEV),
            &nt,
            n,
        ));
        for (&h, &v) in ints.iter().zip(&vals) {
            let want = n * sign_power(h as i64, n as i64);
            assert_rel(v, want, 1e-12, &format!("grating({h}, {n})"));
        }
        let out = grating(tensor::<B, 1>(fracs.to_vec(), [fracs.len()], &DEV), &nt, n);
        assert_eq!(out.dtype(), DType::F64);
        for (&h, &v) in fracs.iter().zip(&to_vec(&out)) {
            let want = (n * PI * h).sin() / (PI * h).sin();
            assert_rel(v, want, 1e-12, &format!("grating({h}, {n})"));
        }

        // Gradients through Autodiff<NdArray<f64>>.
        let all: Vec<f64> = ints.iter().chain(&fracs).copied().collect();
        let h_ad = tensor::<AD, 1>(all.clone(), [all.len()], &DEV).require_grad();
        let n_ad = scalar::<AD>(n, &DEV);
        let grads = grating(h_ad.clone(), &n_ad, n).sum().backward();
        let g = to_vec(&h_ad.grad(&grads).expect("gradient w.r.t. h"));
        for (&h, &gv) in all.iter().zip(&g) {
            assert!(gv.is_finite(), "gradient at h = {h}, N = {n}: {gv}");
            if h.fract() == 0.0 {
                assert!(
                    gv.abs() <= 1e-9,
                    "peak centre h = {h}, N = {n}: slope {gv}, expected 0"
                );
            } else {
                let want = grating_derivative(h, n);
                assert!(
                    (gv - want).abs() <= 1e-9 * want.abs().max(1.0),
                    "d grating/dh at h = {h}, N = {n}: got {gv}, expected {want}"
                );
            }
        }
    }

    // sincg(x, N) = sin(Nx)/sin(x), with the value N at x = 0 (the C's special case) and the
    // limit N·(−1)^{k(N−1)} at x = kπ.
    let n = 5.0;
    let nt = scalar::<B>(n, &DEV);
    let xs = [0.0, 0.7, -2.1, 3.0 * PI];
    let v = to_vec(&sincg(tensor::<B, 1>(xs.to_vec(), [4], &DEV), &nt));
    assert_eq!(v[0], n);
    assert_rel(v[1], (n * 0.7f64).sin() / 0.7f64.sin(), 1e-12, "sincg(0.7)");
    assert_rel(
        v[2],
        (n * -2.1f64).sin() / (-2.1f64).sin(),
        1e-12,
        "sincg(−2.1)",
    );
    assert_rel(v[3], n * sign_power(3, 5), 1e-12, "sincg(3π)");

    // sinc3 (ROUND shape) from x²: 3(sin x/x − cos x)/x², and 1 at x = 0.
    let x = 1.3f64;
    let s3 = to_vec(&sinc3_of_square(tensor::<B, 1>(
        vec![0.0, x * x],
        [2],
        &DEV,
    )));
    assert_eq!(s3[0], 1.0);
    assert_rel(
        s3[1],
        3.0 * (x.sin() / x - x.cos()) / (x * x),
        1e-12,
        "sinc3(1.3)",
    );
}

// ---------------------------------------------------------------------------------------------
// GAUSS_ARGCHK: GAUSS where its exponent is below 35, exactly 0 beyond (cctbx simtbx's shape)

/// With a* = (0.01, 0, 0) Å⁻¹, N = 4 per axis and fudge 600, the GAUSS exponent at (Δh, 0, 0) is
/// `(0.01·Δh)²·64²·600/0.63`: 32.8 at Δh = 0.29 (F = 64·e^−32.8, as GAUSS) and 35.1 at Δh = 0.3
/// (F = 0, and no gradient). Scalar and tensor forms agree.
#[test]
fn gauss_argchk_is_gauss_below_exponent_35_and_zero_beyond() {
    use nanobragg::physics::lattice::{self, LatticeScalars, LatticeTensors};
    use nanobragg::scene::LatticeShape;
    let exponent = |dh: f64| (0.01 * dh).powi(2) * 4096.0 * 600.0 / 0.63;
    let h = [3.29, 3.3];
    assert!(exponent(0.29) < 35.0 && exponent(0.3) > 35.0);
    let want = [64.0 * (-exponent(0.29)).exp(), 0.0];

    let n = [4.0f64; 3].map(|v| tensor::<AD, 1>(vec![v], [1], &DEV).require_grad());
    let recip = [[0.01, 0.0, 0.0], [0.0, 0.01, 0.0], [0.0, 0.0, 0.01]];
    let reciprocal = recip.map(|r| tensor::<AD, 1>(r.to_vec(), [3], &DEV));
    let hkl = [h.to_vec(), vec![1.0; 2], vec![2.0; 2]].map(|v| tensor::<AD, 2>(v, [1, 2], &DEV));
    let inputs = LatticeTensors {
        hkl: [&hkl[0], &hkl[1], &hkl[2]],
        n: &n,
        n_value: [4.0; 3],
        reciprocal: &reciprocal,
        fudge: 600.0,
    };
    let argchk = lattice::tensor(LatticeShape::GaussArgchk, &inputs);
    let gauss = to_vec(&lattice::tensor(LatticeShape::Gauss, &inputs).inner());
    let values = to_vec(&argchk.clone().inner());
    assert_rel(values[0], want[0], 1e-12, "GAUSS_ARGCHK inside");
    assert_eq!(values[0], gauss[0], "GAUSS_ARGCHK is GAUSS inside");
    assert_eq!(values[1], 0.0, "GAUSS_ARGCHK beyond the limit");
    assert!(gauss[1] > 0.0, "GAUSS itself is not cut");
    // ∂F/∂Na: n3·e^−arg·(1/Na)·(1 − 2·arg) inside (arg ∝ n3²), nothing from beyond.
    let grads = argchk.sum().backward();
    let dna = to_vec(&n[0].grad(&grads).unwrap())[0];
    let expect_dna = want[0] / 4.0 * (1.0 - 2.0 * exponent(0.29));
    assert_rel(dna, expect_dna, 1e-10, "∂F/∂Na");

    for (i, &hv) in h.iter().enumerate() {
        let x = LatticeScalars { hkl: [hv, 1.0, 2.0], n: [4.0; 3], recip, fudge: 600.0, radius: 0.044, sign_m: [3.0; 3] };
        let g = lattice::value_grad(LatticeShape::GaussArgchk, &x);
        assert_rel(g.value, want[i], 1e-12, "scalar GAUSS_ARGCHK");
        if i == 1 {
            assert_eq!(g, Default::default(), "no slope beyond the limit");
        }
    }
}
