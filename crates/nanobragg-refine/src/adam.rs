//! Adam (burn-optim's) on the scaled variables.
//!
//! The scaled variables are one `[n]` tensor held as a `Param` (a Burn module) on the
//! simulator's autodiff backend; every iteration registers the host gradient for that
//! parameter in a `GradientsParams` and lets `burn::optim::Adam` take the step. After the step
//! the variables are clamped into their bounds. The learning rate is in scaled units (one
//! typical step or one standard error, see [`crate::Scaling`]) and decays geometrically.

use nanobragg::kernel::RenderBackend;
use std::ops::ControlFlow;

use burn::module::Param;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

use crate::lbfgs::{Exit, Iterate};
use crate::error::Result;
use nanobragg::linalg::{tensor, to_vec};

/// Options of Adam.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamOptions {
    /// Learning rate (scaled units per iteration, default 5: Adam moves each variable by about
    /// this much per step, so with Fisher scaling it covers ~170 standard errors in all).
    pub learning_rate: f64,
    /// Multiplier of the learning rate after every iteration (default 0.97).
    pub decay: f64,
    /// First-moment decay β₁ (default 0.9).
    pub beta_1: f32,
    /// Second-moment decay β₂ (default 0.999).
    pub beta_2: f32,
    /// ε of the update denominator (default 1e-8).
    pub epsilon: f32,
}

impl Default for AdamOptions {
    fn default() -> Self {
        AdamOptions {
            learning_rate: 5.0,
            decay: 0.97,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
        }
    }
}

/// Minimise with Adam from `z0` inside `[lower, upper]` on `device`; `eval` and `hook` as for
/// [`crate::lbfgs::minimize`] (Adam never stops on its own: the hook's rules end it).
pub fn minimize<B, E, H>(
    device: &B::Device,
    mut eval: E,
    z0: &[f64],
    lower: &[f64],
    upper: &[f64],
    options: &AdamOptions,
    mut hook: H,
) -> Result<(Vec<f64>, f64, Vec<f64>, Exit)>
where
    B: AutodiffBackend + RenderBackend,
    E: FnMut(&[f64]) -> Result<(f64, Vec<f64>)>,
    H: FnMut(&Iterate<'_>) -> ControlFlow<()>,
{
    let n = z0.len();
    let clamp = |z: Vec<f64>| -> Vec<f64> { (0..n).map(|i| z[i].clamp(lower[i], upper[i])).collect() };
    let mut z = clamp(z0.to_vec());
    let mut module: Param<Tensor<B, 1>> = Param::from_tensor(tensor::<B, 1>(z.clone(), [n], device));
    let mut optim = AdamConfig::new()
        .with_beta_1(options.beta_1)
        .with_beta_2(options.beta_2)
        .with_epsilon(options.epsilon)
        .init::<B, Param<Tensor<B, 1>>>();
    let mut lr = options.learning_rate;
    let mut iteration = 0;
    loop {
        let (f, g) = eval(&z)?;
        let pg: Vec<f64> = (0..n)
            .map(|i| {
                let held = (z[i] <= lower[i] && g[i] > 0.0) || (z[i] >= upper[i] && g[i] < 0.0);
                if held { 0.0 } else { g[i] }
            })
            .collect();
        let state = Iterate { iteration, z: &z, f, projected_gradient: &pg };
        if hook(&state).is_break() || !f.is_finite() {
            return Ok((z, f, g, Exit::Hook));
        }
        let mut grads = GradientsParams::new();
        grads.register::<B::InnerBackend, 1>(module.id, tensor::<B, 1>(pg, [n], device).inner());
        module = optim.step(lr, module, grads);
        z = clamp(to_vec(&module.val()));
        module = Param::initialized(module.id, tensor::<B, 1>(z.clone(), [n], device));
        lr *= options.decay;
        iteration += 1;
    }
}
