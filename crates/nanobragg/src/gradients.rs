//! Differentiable parameters: names, units, and memory-bounded loss gradients.
//!
//! A [`ParamName`] selects one continuous input of a scene in the units a user types (degrees,
//! mm, Å, µm); [`Simulator::loss_and_gradients`] renders tile by tile under `Autodiff<B>`,
//! calls `backward()` on every tile's share of the loss and accumulates the gradients, so peak
//! memory is that of one tile whatever the detector size.

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

use crate::error::{NanobraggError, Result};
use crate::linalg::{tensor, to_f64, to_vec};
use crate::params::Params;
use crate::simulate::Simulator;
use crate::registry::ToInternal;

pub use crate::registry::ParamName;

/// A loss that is a sum over rendered pixels.
#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    /// Σ I (the sum of the float image).
    Sum,
    /// Σ (I − target)²; `target` is a full fast-major image.
    SquaredError {
        /// Target image.
        target: Vec<f32>,
    },
    /// Poisson negative log-likelihood Σ (μ − y·ln μ) with μ = I + background, y = target
    /// (constant terms dropped); μ is clamped at 1e-30 inside the logarithm.
    Poisson {
        /// Observed counts.
        target: Vec<f32>,
        /// Background added to the model, if any.
        background: Option<Vec<f32>>,
    },
}

impl Loss {
    /// Refuse a target (or background) with a non-finite pixel.
    pub fn check(&self) -> Result<()> {
        use crate::validate::check_image;
        match self {
            Loss::Sum => Ok(()),
            Loss::SquaredError { target } => check_image("the loss target", target, true),
            Loss::Poisson { target, background } => {
                check_image("the loss target", target, true)?;
                background.as_deref().map_or(Ok(()), |b| check_image("the loss background", b, true))
            }
        }
    }

    /// The loss term of detector pixel `index` (`slow·fpixels + fast`) at value `value`, and
    /// its slope `∂/∂value` — the same function as [`Loss::tile_tensor`], for kernels that take
    /// a pixelwise loss ([`crate::kernel::PixelLoss`]).
    pub fn pixel(&self, index: usize, value: f64) -> (f64, f64) {
        match self {
            Loss::Sum => (value, 1.0),
            Loss::SquaredError { target } => {
                let d = value - target[index] as f64;
                (d * d, 2.0 * d)
            }
            Loss::Poisson { target, background } => {
                let mu = value + background.as_ref().map_or(0.0, |b| b[index] as f64);
                let y = target[index] as f64;
                // ln of μ clamped at 1e-30: no slope through the clamp.
                let slope = if mu >= POISSON_FLOOR { 1.0 - y / mu } else { 1.0 };
                (mu - y * mu.max(POISSON_FLOOR).ln(), slope)
            }
        }
    }

    /// The loss over rendered values `[P]` of the detector pixels `tile` as a tensor `[1]`, for
    /// autodiff.
    pub fn tile_tensor<B: burn::tensor::backend::Backend>(&self, values: Tensor<B, 1>, tile: &[usize]) -> Tensor<B, 1> {
        let device = values.device();
        let gather = |img: &[f32]| tensor::<B, 1>(tile.iter().map(|&i| img[i] as f64).collect(), [tile.len()], &device);
        match self {
            Loss::Sum => values.sum(),
            Loss::SquaredError { target } => (values - gather(target)).powi_scalar(2).sum(),
            Loss::Poisson { target, background } => {
                let mu = match background {
                    Some(b) => values + gather(b),
                    None => values,
                };
                let y = gather(target);
                (mu.clone() - y * mu.clamp_min(POISSON_FLOOR).log()).sum()
            }
        }
    }
}

/// The floor of μ inside the Poisson loss's logarithm.
const POISSON_FLOOR: f64 = 1e-30;

/// Loss value and gradients with respect to the requested parameters, in the parameters' units.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientResult {
    /// Loss value.
    pub loss: f64,
    /// `(parameter, value in its unit, ∂loss/∂parameter per unit)`.
    pub gradients: Vec<(ParamName, f64, f64)>,
}

/// The tensor of `name` in `p` and its user → internal map (see [`crate::registry`]), or why
/// this scene does not have it as a free input.
fn slot<B: burn::tensor::backend::Backend>(
    p: &mut Params<B>,
    name: ParamName,
) -> Result<(&mut Tensor<B, 1>, ToInternal)> {
    let row = name.info();
    match p.field_mut(row.field) {
        Some(t) => Ok((t, row.to_internal)),
        None => Err(NanobraggError::Scene(format!("{name}: {}", row.unavailable))),
    }
}

impl<B: burn::tensor::backend::Backend> Simulator<B> {
    /// φ steps per oscillation of this scene (the φ step is `osc / steps`, see
    /// [`ToInternal::PerPhiStep`]).
    fn osc_per_step(&self) -> f64 {
        let c = &self.setup.crystal;
        if c.osc_rad > 0.0 && c.phi_step_rad > 0.0 {
            c.osc_rad / c.phi_step_rad
        } else {
            c.phi_steps.max(1) as f64
        }
    }

    /// The current value of `name`, in its user unit.
    pub fn param_value(&mut self, name: ParamName) -> Result<f64> {
        let per = self.osc_per_step();
        let (t, map) = slot(&mut self.params, name)?;
        Ok(map.user(to_f64(t), per))
    }

    /// Parameters equal to the simulator's, with `name` replaced by `value` (user unit, `[1]`);
    /// the conversion to internal units is a tensor op, so gradients reach `value`.
    pub fn params_with(&self, name: ParamName, value: Tensor<B, 1>) -> Result<Params<B>> {
        let mut p = self.params.clone();
        self.set_param(&mut p, name, value)?;
        Ok(p)
    }

    /// Set `name` in `p` (this scene's parameters on any backend `C`, e.g. a host copy from
    /// [`Params::to_host`]) to `value` (user unit, `[1]`), through the same user → internal map
    /// as [`Simulator::params_with`].
    pub fn set_param<C: burn::tensor::backend::Backend>(&self, p: &mut Params<C>, name: ParamName, value: Tensor<C, 1>) -> Result<()> {
        let per = self.osc_per_step();
        let (t, map) = slot(p, name)?;
        *t = map.apply(value, per);
        Ok(())
    }
}

impl<B: AutodiffBackend + crate::kernel::RenderBackend> Simulator<B> {
    /// `∂/∂name` per user unit of each of `names`, from the gradients `grads` of a graph that
    /// holds a tile rendered by [`Simulator::tile_values_pullback`] (θ̄ pulled back through the
    /// host graph, then through each parameter's user → internal map at the value θ was built
    /// from).
    pub fn pulled_gradients(
        &self,
        pullback: &crate::simulate::ThetaPullback<B>,
        grads: &B::Gradients,
        names: &[ParamName],
    ) -> Result<Vec<f64>> {
        let internal = pullback.gradients(self, grads)?;
        self.pulled_user_gradients(pullback, internal, names)
    }

    /// `names`' gradients (user units) from the small parameters' gradients `internal` that
    /// `pullback` pulled back.
    pub(crate) fn pulled_user_gradients(
        &self,
        pullback: &crate::simulate::ThetaPullback<B>,
        mut internal: Params<burn_ndarray::NdArray<f64>>,
        names: &[ParamName],
    ) -> Result<Vec<f64>> {
        let per = self.osc_per_step();
        let mut values = pullback.values(&self.params);
        names
            .iter()
            .map(|&name| {
                let (value, map) = slot(&mut values, name)?;
                let user = map.user(to_f64(value), per);
                Ok(to_f64(slot(&mut internal, name)?.0) * map.derivative(user, per))
            })
            .collect()
    }

    /// The loss over all rendered pixels and its gradient with respect to `wrt`, computed tile
    /// by tile (one graph and one backward pass per tile, gradients summed on the host).
    pub fn loss_and_gradients(&mut self, loss: &Loss, wrt: &[ParamName]) -> Result<GradientResult> {
        Ok(self.accumulate(loss, wrt, false)?.0)
    }

    /// [`Simulator::loss_and_gradients`], plus (when `grid`) `∂loss/∂F` for every entry of the
    /// structure-factor grid `Params::f_grid` (flattened like it), summed over the tiles.
    pub(crate) fn accumulate(
        &mut self,
        loss: &Loss,
        wrt: &[ParamName],
        grid: bool,
    ) -> Result<(GradientResult, Option<Vec<f64>>)> {
        loss.check()?;
        self.check_memory(true)?;
        let per = self.osc_per_step();
        let mut values = Vec::with_capacity(wrt.len());
        for &name in wrt {
            let (t, map) = slot(&mut self.params, name)?;
            let user = map.user(to_f64(t), per);
            values.push((name, user, map.derivative(user, per)));
            *t = t.clone().detach().require_grad();
        }
        let mut grid_grad = match (grid, self.params.f_grid.as_mut()) {
            (false, _) => None,
            (true, Some(f)) => {
                *f = f.clone().detach().require_grad();
                Some(vec![0.0; f.dims()[0]])
            }
            (true, None) => {
                return Err(NanobraggError::Scene(
                    "no structure-factor grid: give -hkl (or an Fdump.bin) to differentiate F(hkl)"
                        .into(),
                ))
            }
        };
        let mut total_loss = 0.0;
        let mut grads = vec![0.0; wrt.len()];
        let mut state = self.scan_start();
        // One tile's indices at a time (not a copy of the whole list: memory stays per tile).
        let (count, per_tile) = (self.plan.pixels.len(), self.tile_pixels());
        for start in (0..count).step_by(per_tile) {
            let tile = self.plan.pixels[start..(start + per_tile).min(count)].to_vec();
            let tile = tile.as_slice();
            let pixel_loss = |i: usize, value: f64| loss.pixel(tile[i], value);
            let (tile_loss, g, pullback) = match self.tile_loss_gradients(tile, &mut state, &pixel_loss)? {
                Some(step) => step,
                None => {
                    let (model_values, pullback) = match self.tile_values_pullback(&self.params, tile, &mut state)? {
                        Some((values, pullback)) => (values, Some(pullback)),
                        None => (self.tile_values(tile, &mut state)?, None),
                    };
                    let tile_loss = loss.tile_tensor(model_values, tile);
                    (to_f64(&tile_loss), tile_loss.backward(), pullback)
                }
            };
            total_loss += tile_loss;
            // θ built on the host: the parameters are not in the tile's graph; θ̄ is pulled
            // back to them on the host.
            let mut pulled = pullback.map(|pb| pb.gradients(self, &g)).transpose()?;
            for (k, &name) in wrt.iter().enumerate() {
                if let Some(host) = pulled.as_mut() {
                    grads[k] += to_f64(slot(host, name)?.0);
                } else if let Some(gt) = slot(&mut self.params, name)?.0.grad(&g) {
                    grads[k] += to_vec(&gt)[0];
                }
            }
            if let (Some(acc), Some(f)) = (grid_grad.as_mut(), self.params.f_grid.as_ref()) {
                if let Some(gt) = f.grad(&g) {
                    acc.iter_mut().zip(to_vec(&gt)).for_each(|(a, x)| *a += x);
                }
            }
        }
        let result = GradientResult {
            loss: total_loss,
            gradients: values
                .into_iter()
                .zip(grads)
                .map(|((name, v, factor), g)| (name, v, g * factor))
                .collect(),
        };
        Ok((result, grid_grad))
    }
}
