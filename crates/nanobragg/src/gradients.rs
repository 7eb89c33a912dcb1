//! Differentiable parameters: names, units, and memory-bounded loss gradients.
//!
//! A [`ParamName`] selects one continuous input of a scene in the units a user types (degrees,
//! mm, Å, µm); [`Simulator::loss_and_gradients`] renders tile by tile under `Autodiff<B>`,
//! calls `backward()` on every tile's share of the loss and accumulates the gradients, so peak
//! memory is that of one tile whatever the detector size.

use std::fmt;
use std::str::FromStr;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

use crate::error::{NanobraggError, Result};
use crate::linalg::{tensor, to_f64, to_vec};
use crate::params::Params;
use crate::simulate::Simulator;
use crate::units::RTD;

/// A differentiable scalar input, named as on the `nanobragg grad -wrt` command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ParamName {
    CellA,
    CellB,
    CellC,
    CellAlpha,
    CellBeta,
    CellGamma,
    MissetX,
    MissetY,
    MissetZ,
    PhiStart,
    OscRange,
    MosaicSpread,
    NA,
    NB,
    NC,
    DistanceMm,
    BeamCenterS,
    BeamCenterF,
    DetectorRotx,
    DetectorRoty,
    DetectorRotz,
    DetectorTwotheta,
    PixelSizeMm,
    WavelengthA,
    Dispersion,
    Fluence,
    PolarizationK,
    WaterUm,
    DetectorMu,
    DetectorThicknessUm,
    DefaultF,
}

/// Every parameter name with its unit, in `-h` order.
pub const ALL_PARAMS: [(ParamName, &str, &str); 31] = [
    (ParamName::CellA, "cell_a", "Å"),
    (ParamName::CellB, "cell_b", "Å"),
    (ParamName::CellC, "cell_c", "Å"),
    (ParamName::CellAlpha, "cell_alpha", "deg"),
    (ParamName::CellBeta, "cell_beta", "deg"),
    (ParamName::CellGamma, "cell_gamma", "deg"),
    (ParamName::MissetX, "misset_x", "deg"),
    (ParamName::MissetY, "misset_y", "deg"),
    (ParamName::MissetZ, "misset_z", "deg"),
    (ParamName::PhiStart, "phi_start", "deg"),
    (ParamName::OscRange, "osc_range", "deg"),
    (ParamName::MosaicSpread, "mosaic_spread", "deg"),
    (ParamName::NA, "N_a", "cells"),
    (ParamName::NB, "N_b", "cells"),
    (ParamName::NC, "N_c", "cells"),
    (ParamName::DistanceMm, "distance_mm", "mm"),
    (ParamName::BeamCenterS, "beam_center_s", "mm (the -Xbeam value)"),
    (ParamName::BeamCenterF, "beam_center_f", "mm (the -Ybeam value)"),
    (ParamName::DetectorRotx, "detector_rotx", "deg"),
    (ParamName::DetectorRoty, "detector_roty", "deg"),
    (ParamName::DetectorRotz, "detector_rotz", "deg"),
    (ParamName::DetectorTwotheta, "detector_twotheta", "deg"),
    (ParamName::PixelSizeMm, "pixel_size_mm", "mm"),
    (ParamName::WavelengthA, "wavelength_a", "Å"),
    (ParamName::Dispersion, "dispersion", "percent"),
    (ParamName::Fluence, "fluence", "photons/m²"),
    (ParamName::PolarizationK, "polarization_k", "Kahn factor"),
    (ParamName::WaterUm, "water_um", "µm"),
    (ParamName::DetectorMu, "detector_abs_um", "µm attenuation depth"),
    (ParamName::DetectorThicknessUm, "detector_thick_um", "µm"),
    (ParamName::DefaultF, "default_f", "F units"),
];

impl ParamName {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        ALL_PARAMS.iter().find(|p| p.0 == self).map(|p| p.1).unwrap_or("?")
    }

    /// The unit of the value and of the derivative's denominator.
    pub fn unit(self) -> &'static str {
        ALL_PARAMS.iter().find(|p| p.0 == self).map(|p| p.2).unwrap_or("?")
    }
}

impl fmt::Display for ParamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ParamName {
    type Err = NanobraggError;
    fn from_str(s: &str) -> Result<Self> {
        ALL_PARAMS
            .iter()
            .find(|p| p.1 == s)
            .map(|p| p.0)
            .ok_or_else(|| {
                NanobraggError::Scene(format!(
                    "unknown parameter '{s}' (known: {})",
                    ALL_PARAMS.iter().map(|p| p.1).collect::<Vec<_>>().join(", ")
                ))
            })
    }
}

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

/// How the internal (SI, radian) value of a [`Params`] tensor follows from the user's value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ToInternal {
    /// `internal = user · factor` (unit conversions: deg → rad, mm → m, …).
    Scale(f64),
    /// `internal = c / user`: the attenuation depth L (µm) gives μ = 1e6 / L (m⁻¹).
    Reciprocal(f64),
}

impl ToInternal {
    /// The user value of an internal value.
    fn user(self, internal: f64) -> f64 {
        match self {
            ToInternal::Scale(f) => internal / f,
            ToInternal::Reciprocal(c) => c / internal,
        }
    }

    /// `d(internal)/d(user)` at `user`.
    fn derivative(self, user: f64) -> f64 {
        match self {
            ToInternal::Scale(f) => f,
            ToInternal::Reciprocal(c) => -c / (user * user),
        }
    }

    /// The internal tensor of a user-value tensor, as tensor ops (so gradients reach `user`).
    fn apply<B: burn::tensor::backend::Backend>(self, user: Tensor<B, 1>) -> Tensor<B, 1> {
        match self {
            ToInternal::Scale(f) => user * f,
            ToInternal::Reciprocal(c) => user.recip() * c,
        }
    }
}

/// How a parameter maps to a tensor of [`Params`]: the tensor and the user → internal map.
fn slot<B: burn::tensor::backend::Backend>(
    p: &mut Params<B>,
    name: ParamName,
    osc_per_step: f64,
) -> Result<(&mut Tensor<B, 1>, ToInternal)> {
    let deg = 1.0 / RTD;
    let cell_only = |p: &Params<B>| {
        if p.matrix.is_some() {
            Err(NanobraggError::Scene(format!(
                "{name}: the cell comes from -mat; give -cell to refine cell parameters"
            )))
        } else {
            Ok(())
        }
    };
    Ok(match name {
        ParamName::CellA | ParamName::CellB | ParamName::CellC => {
            cell_only(p)?;
            let i = name as usize - ParamName::CellA as usize;
            (&mut p.cell_lengths[i], 1.0)
        }
        ParamName::CellAlpha | ParamName::CellBeta | ParamName::CellGamma => {
            cell_only(p)?;
            let i = name as usize - ParamName::CellAlpha as usize;
            (&mut p.cell_angles[i], deg)
        }
        ParamName::MissetX | ParamName::MissetY | ParamName::MissetZ => {
            let i = name as usize - ParamName::MissetX as usize;
            (&mut p.misset[i], deg)
        }
        ParamName::PhiStart => (&mut p.phi_start, deg),
        ParamName::OscRange => (&mut p.phi_step, deg / osc_per_step),
        ParamName::MosaicSpread => (&mut p.mosaic_spread, deg),
        ParamName::NA | ParamName::NB | ParamName::NC => {
            let i = name as usize - ParamName::NA as usize;
            (&mut p.n_cells[i], 1.0)
        }
        ParamName::DistanceMm => {
            if p.close_distance.is_some() {
                return Err(NanobraggError::Scene(
                    "distance_mm: the distance is set by -close_distance here".into(),
                ));
            }
            (&mut p.distance, 1e-3)
        }
        ParamName::BeamCenterS | ParamName::BeamCenterF => {
            let field = if name == ParamName::BeamCenterS { &mut p.xbeam } else { &mut p.ybeam };
            if field.is_none() {
                return Err(NanobraggError::Scene(format!(
                    "{name}: give the beam centre explicitly (-Xbeam/-Ybeam) to refine it"
                )));
            }
            (field.as_mut().expect("checked"), 1e-3)
        }
        ParamName::DetectorRotx | ParamName::DetectorRoty | ParamName::DetectorRotz => {
            let i = name as usize - ParamName::DetectorRotx as usize;
            (&mut p.rot[i], deg)
        }
        ParamName::DetectorTwotheta => (&mut p.twotheta, deg),
        ParamName::PixelSizeMm => (&mut p.pixel, 1e-3),
        ParamName::WavelengthA => (&mut p.wavelength, 1e-10),
        ParamName::Dispersion => (&mut p.dispersion, 1e-2),
        ParamName::Fluence => (&mut p.fluence, 1.0),
        ParamName::PolarizationK => (&mut p.polarization_k, 1.0),
        ParamName::WaterUm => (&mut p.water, 1e-6),
        ParamName::DetectorMu => {
            if to_f64(&p.mu) <= 0.0 {
                return Err(NanobraggError::Scene(
                    "detector_abs_um: absorption is off (give -detector_abs <um> and \
                     -detector_thick <um>)"
                        .into(),
                ));
            }
            return Ok((&mut p.mu, ToInternal::Reciprocal(1e6)));
        }
        ParamName::DetectorThicknessUm => (&mut p.thickness, 1e-6),
        ParamName::DefaultF => (&mut p.default_f, 1.0),
    })
    .map(|(t, f)| (t, ToInternal::Scale(f)))
}

impl<B: burn::tensor::backend::Backend> Simulator<B> {
    /// `internal = user · factor` for `name` in this scene (φ step per degree of oscillation …).
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
        let (t, map) = slot(&mut self.params, name, per)?;
        Ok(map.user(to_f64(t)))
    }

    /// Parameters equal to the simulator's, with `name` replaced by `value` (user unit, `[1]`);
    /// the conversion to internal units is a tensor op, so gradients reach `value`.
    pub fn params_with(&self, name: ParamName, value: Tensor<B, 1>) -> Result<Params<B>> {
        let mut p = self.params.clone();
        let (t, map) = slot(&mut p, name, self.osc_per_step())?;
        *t = map.apply(value);
        Ok(p)
    }
}

impl<B: AutodiffBackend + crate::kernel::RenderBackend> Simulator<B> {
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
            let (t, map) = slot(&mut self.params, name, per)?;
            let user = map.user(to_f64(t));
            values.push((name, user, map.derivative(user)));
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
                    let (model_values, pullback) = match self.tile_values_pullback(tile, &mut state)? {
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
            let mut pulled = pullback.map(|pb| pb.gradients(&g, &self.params));
            for (k, &name) in wrt.iter().enumerate() {
                if let Some(host) = pulled.as_mut() {
                    grads[k] += to_f64(slot(host, name, per)?.0);
                } else if let Some(gt) = slot(&mut self.params, name, per)?.0.grad(&g) {
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
