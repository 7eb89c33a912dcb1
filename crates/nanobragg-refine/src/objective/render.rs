//! Model images: forward renders with no gradient, one at a time or several launched before
//! any is read.
//!
//! Where the objective keeps the parameters on the host ([`RenderBackend::pullback_on_host`],
//! a GPU), θ is built there with no graph and every read waits for the device's queue, so
//! [`Objective::models`] launches the renders of a batch (a Jacobian's finite differences, the
//! structure-factor columns' renders) before reading the first: one wait a batch instead of
//! one a render.

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;
use nanobragg::kernel::RenderBackend;
use nanobragg::linalg::to_vec;

use super::{release_forward_graphs, ModelImage, Objective};
use crate::error::Result;

/// Rendered values a batch of [`Objective::models`] may hold on the device before reading
/// them (2^24 values: 128 MB in f64).
const HELD_VALUES: usize = 1 << 24;

impl<B: AutodiffBackend + RenderBackend> Objective<B> {
    /// The model image at `x` (one forward render, no gradient).
    pub fn model(&mut self, x: &[f64]) -> Result<ModelImage> {
        let mut images = self.models(std::slice::from_ref(&x.to_vec()))?;
        Ok(images.pop().expect("one image per value vector"))
    }

    /// The model images at each of `xs` (forward renders, no gradient), in order: see
    /// [`Objective::models_each`].
    pub fn models(&mut self, xs: &[Vec<f64>]) -> Result<Vec<ModelImage>> {
        let mut images = Vec::with_capacity(xs.len());
        self.models_each(xs, |image| {
            images.push(image);
            Ok(())
        })?;
        Ok(images)
    }

    /// `each` of the model images at each of `xs` (forward renders, no gradient), in order, one
    /// image held at a time. Where the parameters are kept on the host, the renders of a batch
    /// (at most 2^24 rendered values held on the device) are all launched before the
    /// first is read; one by one otherwise.
    pub fn models_each(&mut self, xs: &[Vec<f64>], mut each: impl FnMut(ModelImage) -> Result<()>) -> Result<()> {
        let batch = match self.host_base {
            Some(_) => (HELD_VALUES / self.pixels.len().max(1)).max(1),
            None => 1,
        };
        for chunk in xs.chunks(batch) {
            let launched = chunk.iter().map(|x| self.launch_model(x)).collect::<Result<Vec<_>>>()?;
            for (x, tiles) in chunk.iter().zip(launched) {
                each(self.read_model(x, tiles))?;
            }
        }
        release_forward_graphs::<B>(&self.sim.params.pixel.device());
        Ok(())
    }

    /// The tiles of the model at `x`, rendered (launched; not read).
    fn launch_model(&mut self, x: &[f64]) -> Result<Vec<Tensor<B, 1>>> {
        self.renders += 1;
        // Where the parameters are kept on the host, θ is built from them there (no device
        // parameter tensors to set and read back); the device parameters only where no
        // kernel takes a tile.
        let host = match &self.host_base {
            Some(base) => Some((self.host_params_at(x, base)?, self.grid_leaf_at(x, false))),
            None => None,
        };
        let mut params = None;
        let mut state = self.sim.scan_start();
        let mut tiles = Vec::new();
        for tile in self.pixels.chunks(self.sim.tile_pixels()) {
            let fused = match &host {
                Some((h, grid)) => self.sim.tile_values_host(h, grid.as_ref(), tile, &mut state)?,
                None => None,
            };
            tiles.push(match fused {
                Some(values) => values,
                None => {
                    let p = match &params {
                        Some(p) => p,
                        None => params.insert(self.params_at(x, false, false)?.0),
                    };
                    self.sim.tile_values_with(p, tile, &mut state)?
                }
            });
        }
        Ok(tiles)
    }

    /// The model image at `x` from its rendered tiles (read here).
    fn read_model(&self, x: &[f64], tiles: Vec<Tensor<B, 1>>) -> ModelImage {
        let s = self.scale_of(x);
        let det = &self.sim.setup.detector;
        let size = det.fpixels * det.spixels;
        let mut intensity = vec![0.0; size];
        let mut mu = vec![0.0; size];
        for (tile, values) in self.pixels.chunks(self.sim.tile_pixels()).zip(tiles) {
            for (&idx, i) in tile.iter().zip(to_vec(&values.inner())) {
                let b = self.observation.background.as_ref().map_or(0.0, |b| b[idx]);
                intensity[idx] = i;
                mu[idx] = s * i + b;
            }
        }
        ModelImage { intensity, mu }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{LossKind, Observation};
    use crate::spec::ParamSpec;
    use burn_autodiff::Autodiff;
    use burn_ndarray::{NdArray, NdArrayDevice};
    use nanobragg::gradients::ParamName::{DistanceMm, MissetX};
    use nanobragg::{RenderOptions, Scene, Setup, Simulator};
    use std::path::Path;

    type Ad = Autodiff<NdArray<f64>>;

    /// An objective on the CPU over misset and distance, with the parameters kept on the host
    /// (as on a GPU: batched renders, the host pull-back with rebuilt graphs) or not.
    fn objective(on_host: bool) -> Objective<Ad> {
        let dev = NdArrayDevice::Cpu;
        let mut scene = Scene::builtin_default();
        scene.crystal.misset_deg = Some([10.0, 5.0, 3.0]);
        scene.detector.fpixels = Some(12);
        scene.detector.spixels = Some(10);
        let setup = Setup::from_scene(&scene, Path::new(".")).expect("scene sets up");
        let sim = Simulator::<Ad>::new(setup, &dev, RenderOptions::default()).expect("simulator");
        let counts: Vec<f64> = sim.render().expect("render").data.iter().map(|&v| (1.2 * v as f64).round()).collect();
        let specs = vec![ParamSpec::new(MissetX), ParamSpec::new(DistanceMm)];
        let mut objective = Objective::new(sim, specs, Observation::new(counts), LossKind::Poisson).expect("objective");
        if on_host {
            objective.keep_parameters_on_host().expect("host copy");
        }
        objective
    }

    /// Renders launched as a batch from host-kept parameters give the images of renders one
    /// at a time from the device parameters; staged evaluations (host graphs rebuilt for the
    /// pull-back) give the `[1]` leaves' loss and gradient.
    #[test]
    fn host_kept_batches_and_stages_match_the_device_parameters() {
        let xs: Vec<Vec<f64>> = (0..5).map(|j| vec![10.0 + 0.1 * j as f64, 100.0 - 0.5 * j as f64]).collect();
        let (mut device, mut host) = (objective(false), objective(true));
        let want: Vec<ModelImage> = xs.iter().map(|x| device.model(x).expect("model")).collect();
        let got = host.models(&xs).expect("models");
        for (j, (g, w)) in got.iter().zip(&want).enumerate() {
            let scale = w.mu.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(scale > 0.0);
            for (a, b) in g.mu.iter().zip(&w.mu) {
                assert!((a - b).abs() <= 1e-12 * scale, "render {j}: {a:e} vs {b:e}");
            }
        }
        for x in &xs {
            let (want_loss, want) = device.value_and_gradient(x).expect("leaves");
            let mut staged = host.stage_render(x).expect("render");
            host.stage_weigh(&mut staged).expect("weigh");
            host.stage_backward(&mut staged).expect("backward");
            let (loss, grad) = host.stage_finish(staged).expect("finish");
            assert!((loss - want_loss).abs() <= 1e-12 * want_loss.abs(), "loss {loss:e} vs {want_loss:e}");
            for (g, w) in grad.iter().zip(&want) {
                assert!(*w != 0.0 && (g - w).abs() <= 1e-10 * w.abs(), "gradient {g:e} vs leaves {w:e}");
            }
        }
    }
}
