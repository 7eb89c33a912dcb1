//! Evaluation engine: builds parameter tensors, runs the closure, projects, reads back.
//!
//! Shared by [`crate::check`] (first-order gradcheck) and [`crate::second_order`].

use std::cell::Cell;

use burn::tensor::{backend::Backend, DType, Tensor, TensorData};
use burn_autodiff::Autodiff;

use crate::{
    dtype::{ensure, round_to},
    finite_difference::Sample,
    params::{ParamSet, ParamTensors},
    projection::projection_weights,
    GradcheckError,
};

/// The autodiff backend every check runs on.
pub type AD<B> = Autodiff<B>;

/// The function under check: the parameters, as autodiff tensors of the check's dtype, to an
/// output of any rank `D` (reduced to a scalar by a seeded random projection).
///
/// Every such closure implements it; it names the bound that [`check`](crate::check()),
/// [`evaluate`](crate::evaluate), [`gradient`](crate::gradient) and
/// [`hessian_fd`](crate::hessian_fd) share.
pub trait CheckFn<B: Backend, const D: usize>:
    Fn(&ParamTensors<AD<B>>) -> Tensor<AD<B>, D>
{
}

impl<B: Backend, const D: usize, F> CheckFn<B, D> for F where
    F: Fn(&ParamTensors<AD<B>>) -> Tensor<AD<B>, D>
{
}

pub(crate) struct Engine<'a, B: Backend, const D: usize, F> {
    device: B::Device,
    dtype: DType,
    f: &'a F,
    weights: Tensor<AD<B>, D>,
    pub(crate) shape: [usize; D],
    pub(crate) projected: bool,
    pub(crate) evaluations: Cell<usize>,
}

impl<'a, B, const D: usize, F> Engine<'a, B, D, F>
where
    B: Backend,
    F: CheckFn<B, D>,
{
    /// Evaluate `f` at `x0` once to learn the output shape and build the projection weights.
    /// Returns the engine and `f(x0)`.
    pub(crate) fn new(
        device: &B::Device,
        dtype: DType,
        f: &'a F,
        seed: u64,
        x0: &ParamSet,
    ) -> Result<(Self, Sample), GradcheckError> {
        let tensors = build_tensors::<B>(device, dtype, x0, false)?;
        let out = f(&tensors);
        ensure(|| "closure output".into(), dtype, out.dtype())?;
        let shape: [usize; D] = out.dims();
        let n: usize = shape.iter().product();
        if n == 0 {
            return Err(GradcheckError::BadOutput(format!(
                "empty output of shape {shape:?}"
            )));
        }
        let weights = Tensor::<AD<B>, D>::from_data(
            TensorData::new(projection_weights(n, seed), shape),
            (device, dtype),
        );
        ensure(|| "projection weights".into(), dtype, weights.dtype())?;
        let engine = Engine {
            device: device.clone(),
            dtype,
            f,
            weights,
            shape,
            projected: n > 1,
            evaluations: Cell::new(1),
        };
        let f0 = engine.read(out, "the base point")?;
        Ok((engine, f0))
    }

    fn output(&self, tensors: &ParamTensors<AD<B>>) -> Result<Tensor<AD<B>, D>, GradcheckError> {
        self.evaluations.set(self.evaluations.get() + 1);
        let out = (self.f)(tensors);
        ensure(|| "closure output".into(), self.dtype, out.dtype())?;
        let shape: [usize; D] = out.dims();
        if shape != self.shape {
            return Err(GradcheckError::BadOutput(format!(
                "shape changed from {:?} to {shape:?}",
                self.shape
            )));
        }
        Ok(out)
    }

    /// Projected value and magnitude `Σ|w y|`, read back in one transfer.
    fn read(&self, out: Tensor<AD<B>, D>, at: &str) -> Result<Sample, GradcheckError> {
        let wy = out * self.weights.clone();
        let both = Tensor::cat(vec![wy.clone().sum(), wy.abs().sum()], 0);
        let data = both.into_data();
        let mut it = data.iter::<f64>();
        let (value, magnitude) = (it.next().unwrap_or(f64::NAN), it.next().unwrap_or(f64::NAN));
        if !value.is_finite() || !magnitude.is_finite() {
            return Err(GradcheckError::NonFinite {
                at: at.to_string(),
                value,
            });
        }
        Ok(Sample { value, magnitude })
    }

    /// `f` at `params` (no grad), projected.
    pub(crate) fn eval(&self, params: &ParamSet, at: &str) -> Result<Sample, GradcheckError> {
        let tensors = build_tensors::<B>(&self.device, self.dtype, params, false)?;
        let out = self.output(&tensors)?;
        self.read(out, at)
    }

    /// Autodiff gradient of the projected scalar at `params`, flattened in component order.
    /// A parameter the output does not depend on gets zeros.
    pub(crate) fn gradient(&self, params: &ParamSet) -> Result<Vec<f64>, GradcheckError> {
        let tensors = build_tensors::<B>(&self.device, self.dtype, params, true)?;
        let out = self.output(&tensors)?;
        let scalar = (out * self.weights.clone()).sum();
        let grads = scalar.backward();
        let mut flat = Vec::with_capacity(params.num_components());
        for (p, (name, t)) in params.params().iter().zip(tensors.iter()) {
            match t.grad(&grads) {
                Some(g) => {
                    ensure(|| format!("gradient of `{name}`"), self.dtype, g.dtype())?;
                    let g: Vec<f64> = g.into_data().iter::<f64>().collect();
                    if g.len() != p.values.len() {
                        return Err(GradcheckError::BadOutput(format!(
                            "gradient of `{name}` has {} elements, expected {}",
                            g.len(),
                            p.values.len()
                        )));
                    }
                    flat.extend(g);
                }
                None => flat.extend(std::iter::repeat_n(0.0, p.values.len())),
            }
        }
        Ok(flat)
    }

    pub(crate) fn round(&self, x: f64) -> f64 {
        round_to(self.dtype, x)
    }
}

/// One rank-1 tensor per parameter, with the requested dtype (checked).
pub(crate) fn build_tensors<B: Backend>(
    device: &B::Device,
    dtype: DType,
    params: &ParamSet,
    require_grad: bool,
) -> Result<ParamTensors<AD<B>>, GradcheckError> {
    let mut names = Vec::with_capacity(params.len());
    let mut tensors = Vec::with_capacity(params.len());
    for p in params.params() {
        let n = p.values.len();
        let t =
            Tensor::<AD<B>, 1>::from_data(TensorData::new(p.values.clone(), [n]), (device, dtype));
        ensure(|| format!("parameter `{}`", p.name), dtype, t.dtype())?;
        names.push(p.name.clone());
        tensors.push(if require_grad { t.require_grad() } else { t });
    }
    Ok(ParamTensors::new(names, tensors, device.clone(), dtype))
}
