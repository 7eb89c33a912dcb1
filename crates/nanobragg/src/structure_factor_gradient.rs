//! `∂loss/∂F(h, k, l)` for the whole structure-factor grid, through the tiled loss gradient.
//!
//! The grid `Params::f_grid` is one tensor over `[h_min..=h_max] × [k_min..=k_max] ×
//! [l_min..=l_max]` (l fastest); it takes part in the render through the nearest-neighbour
//! lookup or the tricubic weights, so one backward pass per tile gives the gradient of every
//! entry at once. F outside the grid is `default_F` (the parameter `default_f`).
//!
//! ```no_run
//! # use burn_autodiff::Autodiff; use burn_ndarray::{NdArray, NdArrayDevice};
//! # use nanobragg::{gradients::Loss, RenderOptions, Setup, Simulator};
//! # fn demo(setup: Setup) -> nanobragg::Result<()> {
//! let mut sim = Simulator::<Autodiff<NdArray<f64>>>::new(setup, &NdArrayDevice::Cpu, RenderOptions::default())?;
//! let (result, sf) = sim.loss_and_structure_factor_gradient(&Loss::Sum, &[])?;
//! println!("loss {} ∂loss/∂F(1,2,3) = {:?}, ∂loss/∂default_F = {}", result.loss, sf.at(1, 2, 3), sf.default_f);
//! # Ok(()) }
//! ```

use burn::tensor::backend::AutodiffBackend;

use crate::error::{NanobraggError, Result};
use crate::gradients::{GradientResult, Loss, ParamName};
use crate::simulate::Simulator;
use crate::physics::structure_factor::GridExtent;

/// Gradient of a loss with respect to every structure factor of the grid and to `default_F`
/// (per unit of F).
#[derive(Debug, Clone, PartialEq)]
pub struct StructureFactorGradient {
    /// Inclusive index ranges of the grid.
    pub extent: GridExtent,
    /// `∂loss/∂F(h, k, l)`, flattened h-major, then k, l fastest (as `Params::f_grid`).
    pub grid: Vec<f64>,
    /// `∂loss/∂default_F` (F of every index outside the grid, and of a failed interpolation).
    pub default_f: f64,
}

impl StructureFactorGradient {
    /// Position of `(h, k, l)` in [`StructureFactorGradient::grid`], if inside the grid.
    pub fn index(&self, h: i64, k: i64, l: i64) -> Option<usize> {
        let c = self.extent.counts();
        let rel = [h, k, l]
            .iter()
            .zip(self.extent.min)
            .map(|(&x, m)| x - m)
            .collect::<Vec<_>>();
        if (0..3).any(|i| rel[i] < 0 || rel[i] >= c[i]) {
            return None;
        }
        Some(((rel[0] * c[1] + rel[1]) * c[2] + rel[2]) as usize)
    }

    /// `∂loss/∂F(h, k, l)`, or `None` outside the grid.
    pub fn at(&self, h: i64, k: i64, l: i64) -> Option<f64> {
        self.index(h, k, l).map(|i| self.grid[i])
    }
}

impl<B: AutodiffBackend + crate::kernel::RenderBackend> Simulator<B> {
    /// As [`Simulator::loss_and_gradients`] (same loss, same tiles, same `wrt` gradients), plus
    /// the gradient with respect to the whole structure-factor grid and `default_F`.
    /// Errors when no grid is loaded (`-hkl` or `Fdump.bin`).
    pub fn loss_and_structure_factor_gradient(
        &mut self,
        loss: &Loss,
        wrt: &[ParamName],
    ) -> Result<(GradientResult, StructureFactorGradient)> {
        let extent = self
            .setup
            .structure
            .grid
            .as_ref()
            .map(|g| GridExtent {
                min: [g.h_min as i64, g.k_min as i64, g.l_min as i64],
                max: [g.h_max as i64, g.k_max as i64, g.l_max as i64],
            })
            .ok_or_else(|| {
                NanobraggError::Scene(
                    "no structure-factor grid: give -hkl (or an Fdump.bin) to differentiate F(hkl)"
                        .into(),
                )
            })?;
        let mut names = wrt.to_vec();
        let extra = !names.contains(&ParamName::DefaultF);
        if extra {
            names.push(ParamName::DefaultF);
        }
        let (mut result, grid) = self.accumulate(loss, &names, true)?;
        let default_f = result
            .gradients
            .iter()
            .find(|g| g.0 == ParamName::DefaultF)
            .map(|g| g.2)
            .expect("default_f requested");
        if extra {
            result.gradients.pop();
        }
        Ok((
            result,
            StructureFactorGradient {
                extent,
                grid: grid.expect("grid requested"),
                default_f,
            },
        ))
    }
}
