//! What every entry point ([`check`](crate::check), [`evaluate`](crate::evaluate),
//! [`gradient`](crate::gradient), [`hessian_fd`](crate::hessian_fd)) does first: resolve the
//! dtype and the settings, validate the parameters and round them to the dtype (the base point),
//! and evaluate the closure there once; then, per component, the stencil and step of its finite
//! difference.

use burn::tensor::{backend::Backend, DType};

use crate::{
    config::ResolvedConfig,
    dtype::{check_supported, epsilon, expected_dtype, round_to},
    engine::{CheckFn, Engine},
    finite_difference::{plan_step, Sample, StepPlan},
    params::{Param, ParamSet},
    GradcheckConfig, GradcheckError,
};

/// The base point of a check and the engine that evaluates the closure around it.
pub(crate) struct BasePoint<'a, B: Backend, const D: usize, F> {
    /// The dtype of every tensor of the check.
    pub(crate) dtype: DType,
    /// The settings, resolved for that dtype.
    pub(crate) cfg: ResolvedConfig,
    /// The parameters, rounded to the dtype and validated.
    pub(crate) x0: ParamSet,
    /// The dtype's machine epsilon.
    pub(crate) eps: f64,
    /// Evaluates the closure (projected) and its autodiff gradient.
    pub(crate) engine: Engine<'a, B, D, F>,
    /// The closure's projected value at `x0`.
    pub(crate) f0: Sample,
}

/// Where component `k` of the base point sits and how its finite difference steps.
pub(crate) struct ComponentPlan<'p> {
    /// The parameter the component belongs to.
    pub(crate) param: &'p Param,
    /// The component's index within that parameter.
    pub(crate) index: usize,
    /// The component's value at the base point.
    pub(crate) x: f64,
    /// Stencil and step.
    pub(crate) plan: StepPlan,
}

impl<'a, B, const D: usize, F> BasePoint<'a, B, D, F>
where
    B: Backend,
    F: CheckFn<B, D>,
{
    /// Resolve the dtype (`config.dtype` or `B::FloatElem`'s) and the settings, validate
    /// `params`, round them to the dtype (validated again), and evaluate `f` there once.
    pub(crate) fn new(
        device: &B::Device,
        params: &ParamSet,
        config: &GradcheckConfig,
        f: &'a F,
    ) -> Result<Self, GradcheckError> {
        let dtype = config.dtype.unwrap_or_else(expected_dtype::<B>);
        check_supported::<B>(device, dtype)?;
        let cfg = config.resolve(dtype)?;
        params.validate()?;
        let x0 = params.map_values(|v| round_to(dtype, v));
        x0.validate()?;
        let eps = epsilon(dtype);
        let (engine, f0) = Engine::<B, D, F>::new(device, dtype, f, cfg.projection_seed, &x0)?;
        Ok(BasePoint { dtype, cfg, x0, eps, engine, f0 })
    }

    /// The stencil and step of flattened component `k` (named `label` in errors): the base step
    /// of the settings, within the parameter's bounds, no smaller than 16 ulp of the value.
    pub(crate) fn plan(&self, k: usize, label: &str) -> Result<ComponentPlan<'_>, GradcheckError> {
        let (p, index) = self.x0.locate(k);
        let param = &self.x0.params()[p];
        let x = param.values[index];
        let min_step = 16.0 * self.eps * x.abs().max(f64::MIN_POSITIVE.sqrt());
        let plan = plan_step(x, self.cfg.base_step(x), &param.bounds, min_step).map_err(|reason| {
            GradcheckError::InvalidParam {
                name: param.name.clone(),
                reason: format!("{label}: {reason}"),
            }
        })?;
        Ok(ComponentPlan { param, index, x, plan })
    }
}
