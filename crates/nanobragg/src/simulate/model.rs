//! What a render derives from the parameters once (not per tile): detector and crystal
//! geometry, φ-rotated cells, mosaic domains, sources, scale and background.

use burn::tensor::{backend::Backend, Tensor};

use crate::crystal::{phi_rotated_cells, CrystalGeometry};
use crate::detector::DetectorGeometry;
use crate::error::Result;
use crate::kernel::RenderBackend;
use crate::linalg::{tensor, to_f64};
use crate::params::Params;
use crate::units::{AVOGADRO, R_E_SQR, WATER_F, WATER_MW};

use super::Simulator;

/// Everything derived from the parameters once per render (not per tile).
pub(super) struct Model<B: Backend> {
    pub(super) det: DetectorGeometry<B>,
    pub(super) crystal: CrystalGeometry<B>,
    /// Cells per φ step `[Φ, 3, 3]` before mosaic.
    pub(super) phi_cells: Tensor<B, 3>,
    pub(super) umats: Tensor<B, 3>,
    /// Incident unit vectors `[1,1,1,S,3]`.
    pub(super) inc: Tensor<B, 5>,
    pub(super) inc_host: Vec<[f64; 3]>,
    /// Wavelengths `[1,1,1,S,1]` (m).
    pub(super) lambda: Tensor<B, 5>,
    /// `r_e²·fluence/steps` `[1]`.
    pub(super) scale: Tensor<B, 1>,
    /// Water background I_bg `[1]`.
    pub(super) i_bg: Tensor<B, 1>,
    pub(super) n_cells: [Tensor<B, 1>; 3],
}

impl<B: RenderBackend> Simulator<B> {
    pub(super) fn model<C: Backend>(&self, p: &Params<C>) -> Result<Model<C>> {
        let device = p.pixel.device();
        let det = DetectorGeometry::new(&self.setup.detector, p)?;
        let crystal = CrystalGeometry::new(p);
        let c = &self.setup.crystal;
        let phi_cells = phi_rotated_cells(
            &crystal.cell_matrix(),
            self.setup.detector.axes.spindle,
            &p.phi_start,
            &p.phi_step,
            c.phi_steps,
        );
        let umats = mosaic_matrices(&c.mosaic_axes, &p.mosaic_spread);
        let sources = &self.setup.beam.sources;
        let s = sources.len();
        let inc_host: Vec<[f64; 3]> = sources
            .iter()
            .map(|src| src.direction.map(|x| -x))
            .collect();
        let inc = tensor::<C, 5>(
            inc_host.iter().flat_map(|v| v.iter().copied()).collect(),
            [1, 1, 1, s, 3],
            &device,
        );
        let fixed = tensor::<C, 1>(sources.iter().map(|x| x.fixed_m).collect(), [s], &device);
        let scale_l = tensor::<C, 1>(sources.iter().map(|x| x.scale).collect(), [s], &device);
        let coeff = tensor::<C, 1>(sources.iter().map(|x| x.disp_coeff).collect(), [s], &device);
        let lambda = fixed
            + scale_l * p.wavelength.clone() * (coeff * p.dispersion.clone() + 1.0);
        let lambda = lambda.reshape([1, 1, 1, s, 1]);
        let scale = p.fluence.clone() * (R_E_SQR / self.plan.steps as f64);
        let i_bg = p.fluence.clone()
            * p.water.clone().powi_scalar(3)
            * (WATER_F * WATER_F * R_E_SQR * 1e6 * AVOGADRO / WATER_MW);
        Ok(Model {
            det,
            crystal,
            phi_cells,
            umats,
            inc,
            inc_host,
            lambda,
            scale,
            i_bg,
            n_cells: p.n_cells.clone(),
        })
    }
}

/// φ of each step (rad), as the C program computes it: `φ0 + i·Δφ`.
pub fn phi_angles<B: Backend>(p: &Params<B>, steps: usize) -> Vec<f64> {
    let phi0 = to_f64(&p.phi_start);
    let step = to_f64(&p.phi_step);
    (0..steps).map(|i| phi0 + step * i as f64).collect()
}

/// Mosaic domain matrices `[M, 3, 3]` (new = U·v): rotations by `spread·ratio` about fixed axes.
fn mosaic_matrices<B: Backend>(axes: &[([f64; 3], f64)], spread: &Tensor<B, 1>) -> Tensor<B, 3> {
    let device = spread.device();
    let m = axes.len();
    let mut outer = Vec::with_capacity(9 * m);
    let mut skew = Vec::with_capacity(9 * m);
    let mut eye = Vec::with_capacity(9 * m);
    for (u, _) in axes {
        for i in 0..3 {
            for j in 0..3 {
                outer.push(u[i] * u[j]);
                eye.push(if i == j { 1.0 } else { 0.0 });
            }
        }
        skew.extend([0.0, -u[2], u[1], u[2], 0.0, -u[0], -u[1], u[0], 0.0]);
    }
    let ratio = tensor::<B, 1>(axes.iter().map(|a| a.1).collect(), [m], &device);
    let angle = (ratio * spread.clone()).reshape([m, 1, 1]);
    let (s, c) = (angle.clone().sin(), angle.cos());
    tensor::<B, 3>(eye, [m, 3, 3], &device) * c.clone()
        + tensor::<B, 3>(outer, [m, 3, 3], &device) * (c.neg() + 1.0)
        + tensor::<B, 3>(skew, [m, 3, 3], &device) * s
}
