//! The three scenes of the gradient suite (`tests/gradients_f64.rs`, `tests/gradients_f32.rs`)
//! and the parameters live on each, the lattice-shape scenes of the awkward-point suite
//! (`tests/gradients_awkward_f64.rs`), a simulator builder generic over the backend, and the
//! finite-difference check ([`fd`]).
//!
//! Every scene is a nanoBragg command line on a small detector (≤ 32²), so a whole gradcheck
//! of a scene takes seconds in release. The parameter lists name every input that changes the
//! image of that scene; see `docs/gradients.md` for the table of which scene checks what.
#![allow(dead_code)]

pub mod fd;

use nanobragg::kernel::RenderBackend;
use nanobragg::gradients::ParamName;
use nanobragg::{RenderOptions, Setup, Simulator};

/// One scene of the suite: a label, its command line and the parameters live on it.
pub struct Scene {
    /// Short label (`A`, `B`, `C`) used in reports and in `docs/gradients.md`.
    pub label: &'static str,
    /// nanoBragg flags.
    pub args: &'static str,
    /// Parameters whose derivative is checked on this scene.
    pub params: &'static [ParamName],
}

use ParamName::*;

/// Scene A: cubic cell (90° angles, zero misset, φ = 0), untilted detector, with a water
/// background and a two-wavelength spectrum (dispersion).
pub const SCENE_A: Scene = Scene {
    label: "A",
    args: "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 3 -pixel 0.1 \
        -distance 100 -detpixels 24 -Xbeam 1.25 -Ybeam 1.15 -oversample 1 \
        -water 0.03 -dispersion 2 -dispsteps 2",
    params: &[
        CellA, CellB, CellC, CellAlpha, CellBeta, CellGamma, MissetX, MissetY, MissetZ,
        PhiStart, NA, NB, NC, DistanceMm, BeamCenterS, BeamCenterF, DetectorRotx,
        DetectorRoty, DetectorRotz, DetectorTwotheta, PanelShiftX, PanelShiftY, PanelShiftZ,
        PanelRotF, PanelRotS, PanelRotO, GroupRotF, GroupRotS, GroupRotO, PixelSizeMm, WavelengthA, Dispersion,
        Fluence, PolarizationK, WaterUm, DefaultF,
    ],
};

/// Scene B: near-cubic cell with misset, detector rotations about X, Y and Z, 2θ and an
/// off-centre beam; two φ steps, two mosaic domains, a two-layer absorbing sensor and water.
pub const SCENE_B: Scene = Scene {
    label: "B",
    args: "-default_F 80 -cell 60 62 64 89 91 90.5 -misset 5 -8 12 -N 4 -lambda 1.5 \
        -pixel 0.1 -distance 80 -detpixels 28 -Xbeam 2.3 -Ybeam 0.9 -detector_rotx 2 \
        -detector_roty -3 -detector_rotz 4 -twotheta 7 -oversample 1 -phi 3 -osc 0.4 \
        -phisteps 2 -mosaic 0.3 -mosaic_domains 2 -mosaic_seed 7 -detector_abs 300 \
        -detector_thick 120 -detector_thicksteps 2 -water 0.03",
    params: &[
        CellA, CellB, CellC, CellAlpha, CellBeta, CellGamma, MissetX, MissetY, MissetZ,
        PhiStart, OscRange, MosaicSpread, NA, NB, NC, DistanceMm, BeamCenterS, BeamCenterF,
        DetectorRotx, DetectorRoty, DetectorRotz, DetectorTwotheta, PanelShiftX, PanelShiftY, PanelShiftZ,
        PanelRotF, PanelRotS, PanelRotO, GroupRotF, GroupRotS, GroupRotO, PixelSizeMm, WavelengthA,
        Fluence, PolarizationK, WaterUm, DetectorMu, DetectorThicknessUm, DefaultF,
    ],
};

/// Scene C: triclinic cell, three φ steps, three mosaic domains, oversample 2, a three-layer
/// absorbing sensor, Kahn factor 0.95 and a two-wavelength spectrum.
pub const SCENE_C: Scene = Scene {
    label: "C",
    args: "-default_F 60 -cell 45 52 58 82 97 104 -misset 20 -15 33 -N 3 -lambda 1.3 \
        -pixel 0.12 -distance 70 -detpixels 20 -Xbeam 1.3 -Ybeam 1.1 -oversample 2 \
        -phi 10 -osc 1.5 -phisteps 3 -mosaic 0.5 -mosaic_domains 3 -mosaic_seed 11 \
        -detector_abs 150 -detector_thick 200 -detector_thicksteps 3 -polar 0.95 \
        -dispersion 1 -dispsteps 2 -twotheta 10 -detector_rotz 3",
    params: &[
        CellA, CellB, CellC, CellAlpha, CellBeta, CellGamma, MissetX, MissetY, MissetZ,
        PhiStart, OscRange, MosaicSpread, NA, NB, NC, DistanceMm, BeamCenterS, BeamCenterF,
        DetectorRotx, DetectorRoty, DetectorRotz, DetectorTwotheta, PanelShiftX, PanelShiftY, PanelShiftZ,
        PanelRotF, PanelRotS, PanelRotO, GroupRotF, GroupRotS, GroupRotO, PixelSizeMm, WavelengthA,
        Dispersion, Fluence, PolarizationK, DetectorMu, DetectorThicknessUm, DefaultF,
    ],
};

/// All three scenes, in order.
pub const SCENES: [&Scene; 3] = [&SCENE_A, &SCENE_B, &SCENE_C];

/// The flags the lattice-shape scenes share: a triclinic cell with misset, a different N per
/// axis (so that each of ∂/∂N_a, ∂/∂N_b, ∂/∂N_c is its own), four reflections on a 32²
/// detector of 0.1 mm pixels (a spot spans several pixels), h, k and l all live.
macro_rules! shape_scene {
    ($shape:literal) => {
        concat!(
            "-default_F 60 -cell 45 52 58 82 97 104 -misset -30 62 -2 -Na 3 -Nb 4 -Nc 5 \
             -lambda 1.3 -pixel 0.1 -distance 70 -detpixels 32 -Xbeam 0.8 -Ybeam 2.4 \
             -oversample 1 ",
            $shape
        )
    };
}

/// Scene R: ROUND spots (`-round_xtal`, sinc3 of the radius in N-scaled index space), the
/// derivative in N of `n3·sinc3(π·sqrt(fudge·Σ(Δh·N)²))` above all; checked against finite
/// differences by `tests/gradients_awkward_f64.rs`. (The profile has a kink where the nearest
/// index changes, Δh = ±½, and is not 0 there: the beam centre, which moves every pixel across
/// such kinks, is left out — its finite difference cannot judge it, Richardson estimate ~7e-7.)
pub const SCENE_ROUND: Scene = Scene {
    label: "R",
    args: shape_scene!("-round_xtal -fudge 1.5"),
    params: &[NA, NB, NC, CellA, CellGamma, MissetZ, WavelengthA, DistanceMm],
};

/// Scene G: GAUSS_ARGCHK spots (`-gauss_argchk_xtal`), with `-fudge 60` so that over a third
/// of the image lies beyond the exponent limit of 35 (F_latt exactly 0 there); the Gaussian's
/// derivatives reach the cell both through h, k, l and through the reciprocal vectors.
/// Checked against finite differences by `tests/gradients_awkward_f64.rs`.
pub const SCENE_GAUSS_ARGCHK: Scene = Scene {
    label: "G",
    args: shape_scene!("-gauss_argchk_xtal -fudge 60"),
    params: &[
        NA, NB, NC, CellA, CellB, CellC, CellAlpha, CellBeta, CellGamma, MissetX, MissetY,
        MissetZ, WavelengthA, DistanceMm, BeamCenterS, BeamCenterF,
    ],
};

/// A simulator of `args` on `device` (spec φ mode unless the flags ask for c-parity).
pub fn simulator<B: RenderBackend>(args: &str, device: &B::Device) -> Simulator<B> {
    simulator_with(args, device, RenderOptions::default())
}

/// [`simulator`] with render options (e.g. the tensor-op engine).
pub fn simulator_with<B: RenderBackend>(
    args: &str,
    device: &B::Device,
    options: RenderOptions,
) -> Simulator<B> {
    let cl = nanobragg_cli::parse_args(args.split_whitespace().map(String::from))
        .unwrap_or_else(|e| panic!("scene flags: {e}"));
    let setup = Setup::from_scene(&cl.scene, std::path::Path::new("."))
        .unwrap_or_else(|e| panic!("scene setup: {e}"));
    let policy: Box<dyn nanobragg::phi::PhiRotation<B>> = match cl.phi_carryover_mode {
        nanobragg_cli::PhiCarryoverMode::CParity => {
            Box::new(nanobragg_parity::phi_cache::PhiCarryover)
        }
        nanobragg_cli::PhiCarryoverMode::Spec => Box::new(nanobragg::phi::FreshPhiRotation),
    };
    Simulator::with_phi_rotation(setup, device, options, policy)
        .unwrap_or_else(|e| panic!("simulator: {e}"))
}

/// A squared-error loss against a shifted copy of the image, so every pixel carries a
/// different upstream gradient.
pub fn perturbed_loss(image: &[f32]) -> nanobragg::gradients::Loss {
    let mean = image.iter().map(|&v| v as f64).sum::<f64>() / image.len() as f64;
    let target = image
        .iter()
        .enumerate()
        .map(|(i, &v)| (v as f64 * (1.0 + 0.3 * ((i as f64) * 0.7).sin()) + 0.1 * mean) as f32)
        .collect();
    nanobragg::gradients::Loss::SquaredError { target }
}
