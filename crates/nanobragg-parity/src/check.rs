//! The gradcheck entry points: [`check`], [`evaluate`] and [`gradient`].

use burn::tensor::{backend::Backend, Tensor};

use crate::{
    dtype::{check_supported, epsilon, expected_dtype, round_to},
    engine::{Engine, AD},
    finite_difference::{plan_step, richardson},
    params::{ParamSet, ParamTensors},
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
    F: Fn(&ParamTensors<AD<B>>) -> Tensor<AD<B>, D>,
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
    F: Fn(&ParamTensors<AD<B>>) -> Tensor<AD<B>, D>,
{
    let dtype = config.dtype.unwrap_or_else(expected_dtype::<B>);
    check_supported::<B>(device, dtype)?;
    let cfg = config.resolve(dtype)?;
    params.validate()?;
    let x0 = params.map_values(|v| round_to(dtype, v));
    x0.validate()?;
    let eps = epsilon(dtype);

    let (engine, f0) = Engine::<B, D, F>::new(device, dtype, &f, cfg.projection_seed, &x0)?;
    let analytic = engine.gradient(&x0)?;

    let labels = x0.labels();
    let mut components = Vec::with_capacity(labels.len());
    for (k, label) in labels.into_iter().enumerate() {
        let (p, i) = x0.locate(k);
        let param = &x0.params()[p];
        let x = param.values[i];
        let min_step = 16.0 * eps * x.abs().max(f64::MIN_POSITIVE.sqrt());
        let plan = plan_step(x, cfg.base_step(x), &param.bounds, min_step).map_err(|reason| {
            GradcheckError::InvalidParam {
                name: param.name.clone(),
                reason: format!("{label}: {reason}"),
            }
        })?;
        let mut point = x0.clone();
        let fd = richardson(
            x,
            plan,
            |v| engine.round(v),
            eps,
            |at| {
                if at == x {
                    return Ok(f0);
                }
                point.set_component(k, at);
                engine.eval(&point, &format!("{label} = {at:e}"))
            },
        )?;

        let a = analytic[k];
        let numeric = fd.richardson;
        let abs_error = (a - numeric).abs();
        let scale = a.abs().max(numeric.abs());
        let tolerance = cfg.tolerance(numeric);
        let error_estimate = fd.error_estimate();
        components.push(ComponentReport {
            param: param.name.clone(),
            index: i,
            label,
            x,
            scheme: plan.scheme,
            step: plan.step,
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
        });
    }

    Ok(GradReport {
        backend: <AD<B> as Backend>::name(device),
        dtype,
        output_shape: engine.shape.to_vec(),
        projected: engine.projected,
        value: f0.value,
        config: cfg,
        evaluations: engine.evaluations.get(),
        verdict: GradReport::overall(&components),
        components,
    })
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
    F: Fn(&ParamTensors<AD<B>>) -> Tensor<AD<B>, D>,
{
    let dtype = config.dtype.unwrap_or_else(expected_dtype::<B>);
    check_supported::<B>(device, dtype)?;
    let cfg = config.resolve(dtype)?;
    params.validate()?;
    let x0 = params.map_values(|v| round_to(dtype, v));
    let (engine, _) = Engine::<B, D, F>::new(device, dtype, &f, cfg.projection_seed, &x0)?;
    engine.gradient(&x0)
}
