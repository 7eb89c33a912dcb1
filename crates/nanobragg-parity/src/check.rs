//! The gradcheck entry points: [`check`], [`evaluate`] and [`gradient`].

use burn::tensor::backend::Backend;

use crate::{
    base_point::{BasePoint, ComponentPlan},
    config::ResolvedConfig,
    engine::{CheckFn, AD},
    finite_difference::{richardson, FdEstimate},
    params::ParamSet,
    report::{ComponentReport, GradReport, Verdict},
    GradcheckConfig, GradcheckError,
};

/// Run a gradcheck and turn a bad verdict into an error.
///
/// Returns `Ok(report)` when every component passed (or when some are ill-conditioned and
/// [`GradcheckConfig::ill_conditioned_is_error`] is off), `Err(GradcheckError::Failed)` when a
/// component failed and `Err(GradcheckError::IllConditioned)` when none failed but some could
/// not be decided. See [`evaluate`] for the procedure.
///
/// ```
/// use burn_ndarray::NdArray;
/// use nanobragg_parity::{check, GradcheckConfig, ParamSet};
///
/// let device = Default::default();
/// let params = ParamSet::new().scalar("x", 0.7);
/// let report = check::<NdArray<f64>, 1, _>(&device, &params, &GradcheckConfig::new().tol(1e-9), |p| {
///     p["x"].clone().sin()
/// })
/// .unwrap();
/// assert!(report.is_pass());
/// ```
pub fn check<B, const D: usize, F>(
    device: &B::Device,
    params: &ParamSet,
    config: &GradcheckConfig,
    f: F,
) -> Result<GradReport, GradcheckError>
where
    B: Backend,
    F: CheckFn<B, D>,
{
    let report = evaluate::<B, D, F>(device, params, config, f)?;
    match report.verdict {
        Verdict::Fail => Err(GradcheckError::Failed(Box::new(report))),
        Verdict::IllConditioned if report.config.ill_conditioned_is_error => {
            Err(GradcheckError::IllConditioned(Box::new(report)))
        }
        _ => Ok(report),
    }
}

/// Compare the autodiff gradient of `f` with finite differences and return the report,
/// whatever the verdict (errors only for invalid input, dtype mismatches, non-finite values).
///
/// Procedure:
/// 1. The dtype is `config.dtype` or `B::FloatElem`'s; parameter values are rounded to it.
/// 2. `f` is evaluated once at the base point; its output (any rank `D`) is reduced to a scalar
///    by a seeded random projection (see [`crate::projection`]).
/// 3. The analytic gradient is the autodiff gradient of that scalar under `Autodiff<B>`.
/// 4. For each component, a Richardson-extrapolated finite difference (central, or one-sided
///    near a bound) gives the numeric derivative and its error estimate (see
///    [`crate::finite_difference`]); other components stay at the base point.
/// 5. Each component gets a [`Verdict`] (see [`crate::report`]).
pub fn evaluate<B, const D: usize, F>(
    device: &B::Device,
    params: &ParamSet,
    config: &GradcheckConfig,
    f: F,
) -> Result<GradReport, GradcheckError>
where
    B: Backend,
    F: CheckFn<B, D>,
{
    let base = BasePoint::<B, D, F>::new(device, params, config, &f)?;
    let analytic = base.engine.gradient(&base.x0)?;
    let labels = base.x0.labels();
    let mut components = Vec::with_capacity(labels.len());
    for (k, label) in labels.into_iter().enumerate() {
        let c = base.plan(k, &label)?;
        let mut point = base.x0.clone();
        let fd = richardson(
            c.x,
            c.plan,
            |v| base.engine.round(v),
            base.eps,
            |at| {
                if at == c.x {
                    return Ok(base.f0);
                }
                point.set_component(k, at);
                base.engine.eval(&point, &format!("{label} = {at:e}"))
            },
        )?;
        components.push(component_report(&base.cfg, &c, label, analytic[k], &fd));
    }

    Ok(GradReport {
        backend: <AD<B> as Backend>::name(device),
        dtype: base.dtype,
        output_shape: base.engine.shape.to_vec(),
        projected: base.engine.projected,
        value: base.f0.value,
        config: base.cfg,
        evaluations: base.engine.evaluations.get(),
        verdict: GradReport::overall(&components),
        components,
    })
}

/// One component's line of the report: the analytic value `a` against the finite difference
/// `fd`, their errors, the tolerance and the verdict.
fn component_report(
    cfg: &ResolvedConfig,
    c: &ComponentPlan<'_>,
    label: String,
    a: f64,
    fd: &FdEstimate,
) -> ComponentReport {
    let numeric = fd.richardson;
    let abs_error = (a - numeric).abs();
    let scale = a.abs().max(numeric.abs());
    let tolerance = cfg.tolerance(numeric);
    let error_estimate = fd.error_estimate();
    ComponentReport {
        param: c.param.name.clone(),
        index: c.index,
        label,
        x: c.x,
        scheme: c.plan.scheme,
        step: c.plan.step,
        analytic: a,
        numeric,
        fd_coarse: fd.coarse,
        fd_fine: fd.fine,
        abs_error,
        rel_error: if scale > 0.0 { abs_error / scale } else { 0.0 },
        tolerance,
        richardson_error: fd.richardson_error,
        roundoff_error: fd.roundoff_error,
        error_estimate,
        verdict: Verdict::decide(a, numeric, tolerance, error_estimate),
    }
}

/// The autodiff gradient of `f` (projected like in [`check`]) at `params`, flattened in
/// component order (see [`ParamSet::labels`]). Useful for custom checks, e.g. finite
/// differences of gradients (second-order information, see [`crate::second_order`]).
pub fn gradient<B, const D: usize, F>(
    device: &B::Device,
    params: &ParamSet,
    config: &GradcheckConfig,
    f: F,
) -> Result<Vec<f64>, GradcheckError>
where
    B: Backend,
    F: CheckFn<B, D>,
{
    let base = BasePoint::<B, D, F>::new(device, params, config, &f)?;
    base.engine.gradient(&base.x0)
}
