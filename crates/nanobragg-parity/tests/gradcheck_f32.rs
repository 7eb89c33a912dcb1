//! Gradcheck tests in f32. A separate binary from `gradcheck_f64.rs` on purpose: the first
//! tensor created in a process fixes the device's default float dtype.

mod common;

use burn::tensor::{backend::Backend, DType, FloatDType};
use nanobragg_parity::{check, evaluate, GradcheckConfig, GradcheckError, ParamSet, Verdict};

fn sin_passes_at_f32_tolerance<B: Backend>(device: &B::Device) -> Result<(), GradcheckError> {
    let params = ParamSet::new().vector("x", [-1.3, 0.2, 0.7, 2.5]);
    let report = check::<B, 1, _>(device, &params, &GradcheckConfig::new(), |p| {
        let y = p["x"].clone().sin();
        assert_eq!(y.dtype(), DType::F32);
        y // unreduced: the check projects it and sees every element's magnitude
    })?;
    assert_eq!(report.dtype, DType::F32);
    assert_eq!(report.config.rtol, 1e-3, "f32 default tolerance");
    // Parameter values are rounded to f32 before anything is evaluated.
    assert_eq!(report.components[2].x, 0.7f32 as f64);
    Ok(())
}

fn rotation_passes_at_f32_tolerance<B: Backend>(device: &B::Device) -> Result<(), GradcheckError> {
    let params = ParamSet::new()
        .vector("angles", [0.3, -1.1, 2.0])
        .vector("v", [1.0, -2.0, 0.5]);
    check::<B, 1, _>(device, &params, &GradcheckConfig::new(), |p| {
        let y = common::rotate(p);
        assert_eq!(y.dtype(), DType::F32);
        y
    })?;
    Ok(())
}

fn gaussian_image_passes_at_f32_tolerance<B: Backend>(
    device: &B::Device,
) -> Result<(), GradcheckError> {
    let params = ParamSet::new()
        .vector("center", [3.4, 2.2])
        .scalar("sigma", 1.7)
        .scalar("amplitude", 2.0);
    check::<B, 2, _>(
        device,
        &params,
        &GradcheckConfig::new(),
        common::gaussian_spot,
    )?;
    Ok(())
}

fn wrong_custom_backward_fails_in_f32<B: Backend>(device: &B::Device) {
    let params = ParamSet::new().vector("x", [0.1, 1.2, -2.0]);
    let err = check::<B, 1, _>(device, &params, &GradcheckConfig::new(), |p| {
        common::sin_custom_wrong(p.tensor("x")).sum()
    })
    .unwrap_err();
    let GradcheckError::Failed(report) = err else {
        panic!("expected Failed, got {err}");
    };
    assert_eq!(report.failures().count(), 3, "{report}");
}

fn roundoff_swamped_difference_is_ill_conditioned<B: Backend>(device: &B::Device) {
    // f(x) = x² + 10⁶ in f32: one ulp of f is 0.0625 while f(x+h) - f(x-h) ≈ 2h·2x ≈ 0.008,
    // so the finite difference is pure round-off. The report must say so instead of
    // passing or failing.
    let params = ParamSet::new().scalar("x", 0.5);
    let f = |p: &nanobragg_parity::ParamTensors<nanobragg_parity::AD<B>>| {
        p["x"].clone().powf_scalar(2.0).add_scalar(1.0e6)
    };
    let err = check::<B, 1, _>(device, &params, &GradcheckConfig::new(), f).unwrap_err();
    let GradcheckError::IllConditioned(report) = &err else {
        panic!("expected IllConditioned, got {err}");
    };
    let c = &report.components[0];
    assert_eq!(c.verdict, Verdict::IllConditioned);
    assert_eq!(c.analytic, 1.0, "autodiff is exact here");
    assert!(c.error_estimate > 100.0 * c.tolerance, "{report}");
    assert!(err.to_string().contains("ill-conditioned"), "{err}");

    // Same function, opting out of the error: the report still carries the verdict.
    let config = GradcheckConfig::new().ill_conditioned_is_error(false);
    let report = check::<B, 1, _>(device, &params, &config, f).unwrap();
    assert_eq!(report.verdict, Verdict::IllConditioned);
    assert!(!report.is_pass());
}

fn explicit_f64_dtype_on_f32_backend_builds_f64_tensors<B: Backend>(device: &B::Device) {
    // The device default is f32 here, but the check builds its tensors with an explicit dtype.
    let params = ParamSet::new().scalar("x", 0.7);
    let config = GradcheckConfig::new().dtype(DType::F64).tol(1e-9);
    let report = evaluate::<B, 1, _>(device, &params, &config, |p| {
        assert_eq!(p["x"].dtype(), DType::F64);
        p["x"].clone().sin()
    })
    .unwrap();
    assert_eq!(report.dtype, DType::F64);
    assert!(report.is_pass(), "{report}");
    assert!((report.components[0].numeric - 0.7f64.cos()).abs() < 1e-9);
}

fn closure_output_in_another_dtype_is_an_error<B: Backend>(device: &B::Device) {
    let params = ParamSet::new().scalar("x", 0.5);
    let err = check::<B, 1, _>(device, &params, &GradcheckConfig::new(), |p| {
        p["x"].clone().cast(FloatDType::F64)
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            GradcheckError::DTypeMismatch {
                expected: DType::F32,
                actual: DType::F64,
                ..
            }
        ),
        "{err}"
    );
}

nanobragg_parity::gradcheck_tests!(f32:
    sin_passes_at_f32_tolerance,
    rotation_passes_at_f32_tolerance,
    gaussian_image_passes_at_f32_tolerance,
    wrong_custom_backward_fails_in_f32,
    roundoff_swamped_difference_is_ill_conditioned,
    explicit_f64_dtype_on_f32_backend_builds_f64_tensors,
    closure_output_in_another_dtype_is_an_error,
);
