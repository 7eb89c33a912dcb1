//! The kernel coverage checks, written once and run per backend (`tests/kernel_capabilities.rs`
//! on `NdArray<f64>`, `tests/cuda_f64.rs` on `Cuda<f64>`). Every [`Capability`] a scene can
//! require has a scene here that exercises it (the `match` in [`scene`] has no wildcard: a new
//! capability does not compile without one); a kernel that implements every capability of a
//! scene renders it — image and gradients — like the tensor-op reference path on the same
//! backend, and a kernel that declines one is refused that scene, naming what it lacks.
#![allow(dead_code)]

use burn::tensor::backend::AutodiffBackend;
use enumset::EnumSet;
use nanobragg::gradients::ParamName;
use nanobragg::kernel::capability::{describe, Capability};
use nanobragg::kernel::{Engine, RenderBackend};
use nanobragg::RenderOptions;

use crate::fused_kernel::{flags, max_rel};
use crate::gradient_scenes::{perturbed_loss, simulator_with};

/// A small triclinic scene; each capability's scene adds the flags that turn it on.
const BASE: &str = "-default_F 100 -cell 70 80 90 85 95 105 -misset 10 5 3 -N 4 -lambda 1.5 \
                    -distance 80 -detpixels 12 -pixel 0.4";

/// A grid scene: F from an HKL file (|h|, |k|, |l| ≤ 8).
const GRID: &str = "-hkl {hkl} -cell 40 42 44 90 90 90 -misset 5 7 9 -N 4 -lambda 1.2 \
                    -distance 60 -detpixels 12 -pixel 1.0";

/// Flags of a scene that requires `c`.
pub fn scene(c: Capability) -> String {
    use Capability::*;
    let extra = match c {
        SquareLattice => "",
        RoundLattice => "-round_xtal -fudge 1.5",
        GaussLattice => "-gauss_xtal",
        // Large enough that part of the image lies beyond the exponent limit of 35.
        GaussArgchkLattice => "-gauss_argchk_xtal -fudge 200",
        TophatLattice => "-tophat_spots",
        HklGrid => return flags(&format!("{GRID} -nointerpolate")),
        TricubicF => return flags(&format!("{GRID} -interpolate")),
        ThickSensor => "-detector_abs 300 -detector_thick 120 -detector_thicksteps 3",
        PointPixel => "-point_pixel",
        Unpolarized => "-nopolar",
        PerSubpixelCapture => "-oversample 2 -detector_abs 300 -detector_thick 120 -detector_thicksteps 2 -oversample_thick",
        PerSubpixelPolarization => "-oversample 2 -oversample_polar",
        PerSubpixelSolidAngle => "-oversample 2 -oversample_omega",
        ResolutionCut => "-dmin 6",
        WaterBackground => "-water 20",
        PixelSubset => "-roi 2 9 1 8",
        Oversampling => "-oversample 2",
        SeveralSources => "-divergence 0.3 -divsteps 2 -dispersion 2 -dispsteps 2",
        MosaicDomains => "-mosaic 0.5 -mosaic_dom 3",
        PhiSteps => "-phi 0.5 -osc 1 -phisteps 3",
        CurvedDetector => "-curved_det",
        PhiCarryOver => "-phi 0 -osc 1 -phisteps 2 -phi_carryover_mode c-parity",
    };
    format!("{BASE} {extra}")
}

/// Render options on `engine`, keeping the f64 values.
pub fn options(engine: Engine) -> RenderOptions {
    RenderOptions { engine, keep_f64: true, ..RenderOptions::default() }
}

/// Each capability's scene requires it.
pub fn scenes_require_their_capability<B: RenderBackend>(device: &B::Device) {
    for c in EnumSet::<Capability>::all() {
        let sim = simulator_with::<B>(&scene(c), device, options(Engine::Auto));
        let required = sim.required_capabilities();
        assert!(required.contains(c), "{c:?}: its scene requires only {}", describe(required));
    }
}

/// Every kernel of `B` renders the scenes it implements like the tensor path (max relative
/// difference `tol`) and is refused the others; the default engine matches the tensor path.
pub fn kernels_render_like_the_tensor_path<B: RenderBackend>(device: &B::Device, tol: f64) {
    for c in EnumSet::<Capability>::all() {
        let args = scene(c);
        let reference = simulator_with::<B>(&args, device, options(Engine::Tensor)).render().expect("tensor render");
        let auto = simulator_with::<B>(&args, device, options(Engine::Auto)).render().expect("auto render");
        let rel = max_rel(&auto.data_f64, &reference.data_f64);
        assert!(rel <= tol, "{c:?}: the default engine vs tensor max_rel {rel:.3e}");
        for k in B::kernels() {
            let sim = simulator_with::<B>(&args, device, options(Engine::Kernel(k.kernel)));
            let (name, required) = (k.kernel.name(), sim.required_capabilities());
            match sim.render() {
                Ok(image) if k.covers(required) => {
                    let rel = max_rel(&image.data_f64, &reference.data_f64);
                    println!("{c:?} {name}: max_rel {rel:.2e}");
                    assert!(rel <= tol, "{c:?} on {name}: max_rel {rel:.3e} vs the tensor path");
                    assert_eq!(image.notes, reference.notes, "{c:?} on {name}: warnings differ");
                }
                Ok(_) => panic!("{c:?}: {name} rendered a scene needing {}", describe(k.missing(required))),
                Err(e) if !k.covers(required) => {
                    let m = e.to_string();
                    for missing in k.missing(required) {
                        assert!(m.contains(missing.describe()), "{c:?}: refusal {m:?} does not name {missing:?}");
                    }
                }
                Err(e) => panic!("{c:?}: {name} refused a scene it implements: {e}"),
            }
        }
    }
}

/// Parameters whose gradients every capability scene has.
const WRT: &[ParamName] = &[
    ParamName::CellA,
    ParamName::CellGamma,
    ParamName::MissetY,
    ParamName::NB,
    ParamName::DistanceMm,
    ParamName::Fluence,
    ParamName::DetectorRotx,
    ParamName::PixelSizeMm,
    ParamName::WavelengthA,
    ParamName::PolarizationK,
];

/// Every kernel of `AD` gives the tensor path's loss and gradients (relative `tol`) on the
/// scenes it implements and is refused the others; `B` renders the target images.
pub fn kernels_differentiate_like_the_tensor_path<AD, B>(device: &B::Device, tol: f64)
where
    AD: AutodiffBackend<Device = B::Device> + RenderBackend,
    B: RenderBackend,
{
    for c in EnumSet::<Capability>::all() {
        let args = scene(c);
        let image = simulator_with::<B>(&args, device, options(Engine::Tensor)).render().expect("render").data;
        let loss = perturbed_loss(&image);
        let mut reference = simulator_with::<AD>(&args, device, options(Engine::Tensor));
        let want = reference.loss_and_gradients(&loss, WRT).expect("tensor gradients");
        let scale = want.gradients.iter().fold(0.0f64, |m, g| m.max(g.2.abs()));
        for k in AD::kernels() {
            let mut sim = simulator_with::<AD>(&args, device, options(Engine::Kernel(k.kernel)));
            let name = k.kernel.name();
            if !k.covers(sim.required_capabilities()) {
                assert!(sim.loss_and_gradients(&loss, WRT).is_err(), "{c:?}: {name} was not refused");
                continue;
            }
            let got = sim.loss_and_gradients(&loss, WRT).expect("kernel gradients");
            assert!((got.loss - want.loss).abs() <= tol * want.loss.abs(), "{c:?} on {name}: loss");
            for (g, w) in got.gradients.iter().zip(&want.gradients) {
                let err = (g.2 - w.2).abs();
                assert!(
                    err <= tol * w.2.abs() + 1e-12 * scale,
                    "{c:?} on {name}, {:?}: {:.9e} vs tensor {:.9e}",
                    g.0,
                    g.2,
                    w.2
                );
            }
        }
    }
}

/// A grid scene whose pixels reach beyond the grid (|h|, |k|, |l| ≤ 2; indices to about 3.5):
/// F from the nearest entry inside it, `default_F` outside, so both gradients are live.
const SMALL_GRID: &str = "-hkl {small_hkl} -nointerpolate -default_F 30 -cell 40 42 44 90 90 90 \
                          -misset 5 7 9 -N 4 -lambda 1.2 -distance 60 -detpixels 12 -pixel 1.0";

/// Every kernel of `AD` that implements nearest-entry grids gives the tensor path's gradient
/// with respect to every grid entry and `default_F` (relative `tol` of the largest), with
/// entries inside and outside the grid reached.
pub fn kernels_differentiate_structure_factors_like_the_tensor_path<AD, B>(device: &B::Device, tol: f64)
where
    AD: AutodiffBackend<Device = B::Device> + RenderBackend,
    B: RenderBackend,
{
    let args = flags(SMALL_GRID);
    let image = simulator_with::<B>(&args, device, options(Engine::Tensor)).render().expect("render").data;
    let loss = perturbed_loss(&image);
    let mut reference = simulator_with::<AD>(&args, device, options(Engine::Tensor));
    let (_, want) = reference.loss_and_structure_factor_gradient(&loss, &[]).expect("tensor gradients");
    let live = want.grid.iter().filter(|g| **g != 0.0).count();
    assert!(live >= 10, "only {live} grid entries reach the image");
    assert!(want.default_f != 0.0, "no pixel reaches beyond the grid");
    let scale = want.grid.iter().fold(want.default_f.abs(), |m, g| m.max(g.abs()));
    let mut checked = 0;
    for k in AD::kernels() {
        let mut sim = simulator_with::<AD>(&args, device, options(Engine::Kernel(k.kernel)));
        if !k.covers(sim.required_capabilities()) {
            continue;
        }
        let name = k.kernel.name();
        let (_, got) = sim.loss_and_structure_factor_gradient(&loss, &[]).expect("kernel gradients");
        let err = (got.default_f - want.default_f).abs();
        assert!(err <= tol * scale, "{name}: ∂/∂default_F {:.9e} vs tensor {:.9e}", got.default_f, want.default_f);
        for (i, (g, w)) in got.grid.iter().zip(&want.grid).enumerate() {
            assert!((g - w).abs() <= tol * scale, "{name}, grid entry {i}: {g:.9e} vs tensor {w:.9e}");
        }
        checked += 1;
    }
    assert!(checked > 0, "no kernel implements nearest-entry grids");
}
