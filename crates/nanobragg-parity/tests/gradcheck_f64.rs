//! Gradcheck tests in f64 (this binary must not create f32 tensors: see `gradcheck_f32.rs`).

mod common;

use std::cell::Cell;

use burn::tensor::{backend::Backend, DType, FloatDType};
use nanobragg_parity::{
    check, evaluate, hessian_fd, Bounds, GradReport, GradcheckConfig, GradcheckError, ParamSet,
    Scheme, Verdict,
};

fn tight() -> GradcheckConfig {
    GradcheckConfig::new().tol(1e-9)
}

fn sin_matches_cos_to_1e9<B: Backend>(device: &B::Device) -> Result<(), GradcheckError> {
    let xs = [-1.3, 0.2, 0.7, 2.5];
    let params = ParamSet::new().vector("x", xs);
    let report = check::<B, 1, _>(device, &params, &tight(), |p| {
        let y = p["x"].clone().sin();
        assert_eq!(y.dtype(), DType::F64);
        y.sum() // a scalar: no projection, so ∂f/∂x_i = cos(x_i)
    })?;
    assert_eq!(report.dtype, DType::F64);
    for (c, x) in report.components.iter().zip(xs) {
        assert!((c.numeric - f64::cos(x)).abs() < 1e-9, "{c:?}");
        assert!((c.analytic - f64::cos(x)).abs() < 1e-12, "{c:?}");
    }
    Ok(())
}

fn exp_matches_exp_to_1e9<B: Backend>(device: &B::Device) -> Result<(), GradcheckError> {
    let params = ParamSet::new().scalar("a", -2.0).scalar("b", 1.5);
    let report = check::<B, 1, _>(device, &params, &tight(), |p| {
        let y = p["a"].clone().exp() + p["b"].clone().exp();
        assert_eq!(y.dtype(), DType::F64);
        y
    })?;
    assert!(!report.projected, "one-element output is used as is");
    assert!((report.value - (f64::exp(-2.0) + f64::exp(1.5))).abs() < 1e-15);
    assert!((report.component("b").unwrap().numeric - f64::exp(1.5)).abs() < 1e-9);
    Ok(())
}

fn rotation_of_vector_matches_to_1e9<B: Backend>(device: &B::Device) -> Result<(), GradcheckError> {
    let params = ParamSet::new()
        .vector("angles", [0.3, -1.1, 2.0])
        .vector("v", [1.0, -2.0, 0.5]);
    let report = check::<B, 1, _>(device, &params, &tight(), |p| {
        let y = common::rotate(p);
        assert_eq!(y.dtype(), DType::F64);
        y
    })?;
    assert!(report.projected);
    assert_eq!(report.output_shape, vec![3]);
    assert_eq!(report.components.len(), 6);
    Ok(())
}

fn gaussian_image_is_checked_through_random_projection<B: Backend>(
    device: &B::Device,
) -> Result<(), GradcheckError> {
    let params = ParamSet::new()
        .vector("center", [3.4, 2.2])
        .scalar("sigma", 1.7)
        .with_bounds(Bounds::at_least(0.1))
        .scalar("amplitude", 2.0);
    let report = check::<B, 2, _>(device, &params, &tight(), common::gaussian_spot)?;
    assert_eq!(report.output_shape, vec![8, 6]);
    assert!(report.projected);
    Ok(())
}

fn custom_backward_with_correct_derivative_passes<B: Backend>(
    device: &B::Device,
) -> Result<(), GradcheckError> {
    let params = ParamSet::new().vector("x", [0.1, 1.2, -2.0]);
    check::<B, 1, _>(device, &params, &tight(), |p| {
        common::sin_custom_correct(p.tensor("x"))
    })?;
    Ok(())
}

fn wrong_custom_backward_fails<B: Backend>(device: &B::Device) {
    let params = ParamSet::new().vector("x", [0.1, 1.2, -2.0]);
    let err = check::<B, 1, _>(device, &params, &GradcheckConfig::new(), |p| {
        common::sin_custom_wrong(p.tensor("x")).sum()
    })
    .unwrap_err();
    let GradcheckError::Failed(report) = &err else {
        panic!("expected Failed, got {err}");
    };
    assert_eq!(report.failures().count(), 3, "{report}");
    for c in &report.components {
        assert!(
            (c.analytic - c.x.sin()).abs() < 1e-12,
            "backward planted sin(x)"
        );
        assert!(
            (c.numeric - c.x.cos()).abs() < 1e-9,
            "FD still finds cos(x)"
        );
    }
    let text = err.to_string();
    assert!(text.contains("FAIL") && text.contains("x[2]"), "{text}");
}

fn kink_of_abs_inside_stencil_fails<B: Backend>(device: &B::Device) {
    // |x| at x = 1e-4 with h = 2^-10 ≈ 1e-3: the stencil straddles the kink at 0.
    let params = ParamSet::new().scalar("x", 1e-4);
    let config = GradcheckConfig::new()
        .abs_step(2f64.powi(-10))
        .rel_step(0.0);
    let report = evaluate::<B, 1, _>(device, &params, &config, |p| p["x"].clone().abs()).unwrap();
    let c = &report.components[0];
    assert_eq!(c.verdict, Verdict::Fail, "{report}");
    assert_eq!(c.analytic, 1.0);
    assert!(c.numeric < 0.5, "{report}");
}

fn relu_kink_at_zero_fails<B: Backend>(device: &B::Device) {
    // Burn's relu'(0) = 0, while the central difference sees the average slope 1/2.
    let params = ParamSet::new().scalar("x", 0.0);
    let err =
        check::<B, 1, _>(device, &params, &GradcheckConfig::new(), common::relu_of).unwrap_err();
    let GradcheckError::Failed(report) = err else {
        panic!("expected Failed, got {err}");
    };
    assert!(
        (report.components[0].numeric - 0.5).abs() < 1e-12,
        "{report}"
    );
    assert_eq!(report.components[0].analytic, 0.0);
}

fn abs_exactly_at_kink_is_a_blind_spot_of_central_differences<B: Backend>(
    device: &B::Device,
) -> Result<(), GradcheckError> {
    // Documented limitation: for a symmetric kink both sides cancel, so the central difference
    // (0) agrees with Burn's subgradient sign(0) = 0. Never check *at* a kink.
    let params = ParamSet::new().scalar("x", 0.0);
    let report = check::<B, 1, _>(device, &params, &tight(), |p| p["x"].clone().abs())?;
    assert_eq!(report.components[0].numeric, 0.0);
    Ok(())
}

fn one_sided_stencils_at_bounds_never_leave_the_domain<B: Backend>(
    device: &B::Device,
) -> Result<(), GradcheckError> {
    for (x, scheme) in [(1.0, Scheme::Forward), (2.0, Scheme::Backward)] {
        let params = ParamSet::new()
            .scalar("s", x)
            .with_bounds(Bounds::new(1.0, 2.0));
        let (lo, hi) = (Cell::new(f64::INFINITY), Cell::new(f64::NEG_INFINITY));
        let report = check::<B, 1, _>(device, &params, &tight(), |p| {
            let s = p.tensor("s");
            let v = s.to_data().iter::<f64>().next().unwrap();
            lo.set(lo.get().min(v));
            hi.set(hi.get().max(v));
            s.clone().exp() * s.sin()
        })?;
        let c = &report.components[0];
        assert_eq!(c.scheme, scheme);
        assert!(
            lo.get() >= 1.0 && hi.get() <= 2.0,
            "evaluated outside [1, 2]"
        );
        assert!((c.numeric - x.exp() * (x.sin() + x.cos())).abs() < 1e-9);
    }
    Ok(())
}

fn step_shrinks_to_fit_narrow_bounds<B: Backend>(device: &B::Device) -> Result<(), GradcheckError> {
    let params = ParamSet::new()
        .scalar("t", 0.5)
        .with_bounds(Bounds::new(0.5, 0.5 + 1e-4));
    let config = GradcheckConfig::new().abs_step(2f64.powi(-8)).tol(1e-8);
    let report = check::<B, 1, _>(device, &params, &config, |p| {
        p["t"].clone().powf_scalar(3.0)
    })?;
    let c = &report.components[0];
    assert_eq!(c.scheme, Scheme::Forward);
    assert!(2.0 * c.step <= 1e-4, "{report}");
    Ok(())
}

fn unused_parameter_gets_zero_gradient_and_passes<B: Backend>(
    device: &B::Device,
) -> Result<(), GradcheckError> {
    let params = ParamSet::new().scalar("used", 0.4).scalar("unused", 3.0);
    let report = check::<B, 1, _>(device, &params, &tight(), |p| p["used"].clone().tanh())?;
    let c = report.component("unused").unwrap();
    assert_eq!((c.analytic, c.numeric), (0.0, 0.0));
    Ok(())
}

fn too_large_step_is_ill_conditioned_not_failed<B: Backend>(device: &B::Device) {
    // Truncation error of D(h/2) with h = 1/2 dwarfs the tolerance: the Richardson estimate
    // says the finite difference cannot judge at 1e-9, so the verdict is not Fail.
    let params = ParamSet::new().scalar("x", 1.0);
    let config = tight().abs_step(0.5);
    let err = check::<B, 1, _>(device, &params, &config, |p| p["x"].clone().exp()).unwrap_err();
    let GradcheckError::IllConditioned(report) = &err else {
        panic!("expected IllConditioned, got {err}");
    };
    assert!(report.components[0].richardson_error > 1e-4);
    assert!(err.to_string().contains("ill-conditioned"));
}

fn report_round_trips_through_json_and_prints_a_table<B: Backend>(device: &B::Device) {
    let params = ParamSet::new()
        .vector("angles", [0.3, -1.1, 2.0])
        .vector("v", [1.0, -2.0, 0.5]);
    let report = evaluate::<B, 1, _>(device, &params, &tight(), common::rotate).unwrap();
    let json = report.to_json();
    assert_eq!(GradReport::from_json(&json).unwrap(), report);
    let value: serde_json::Value = serde_json::from_str(&report.to_json_pretty()).unwrap();
    assert_eq!(value["verdict"], "pass");
    assert_eq!(value["dtype"], "F64");
    assert_eq!(value["components"][4]["label"], "v[1]");
    assert!(value["components"][0]["richardson_error"].is_f64());
    let table = report.to_string();
    for needle in [
        "angles[2]",
        "analytic",
        "numeric",
        "richardson",
        "verdict: pass",
    ] {
        assert!(table.contains(needle), "missing {needle:?} in\n{table}");
    }
}

fn reports_are_deterministic_and_seeded<B: Backend>(device: &B::Device) {
    let params = ParamSet::new()
        .vector("center", [3.4, 2.2])
        .scalar("sigma", 1.7)
        .scalar("amplitude", 2.0);
    let run = |seed| {
        evaluate::<B, 2, _>(device, &params, &tight().seed(seed), common::gaussian_spot).unwrap()
    };
    let (a, b, c) = (run(1), run(1), run(2));
    assert_eq!(a, b);
    assert_ne!(a.value, c.value, "another seed projects differently");
    assert!(c.is_pass(), "{c}");
}

fn invalid_inputs_are_rejected<B: Backend>(device: &B::Device) {
    let f = |p: &nanobragg_parity::ParamTensors<nanobragg_parity::AD<B>>| p["x"].clone();
    let run =
        |params: ParamSet, config: GradcheckConfig| check::<B, 1, _>(device, &params, &config, f);
    let cfg = GradcheckConfig::new;
    assert!(matches!(
        run(ParamSet::new(), cfg()),
        Err(GradcheckError::NoParams)
    ));
    let out_of_bounds = ParamSet::new()
        .scalar("x", 3.0)
        .with_bounds(Bounds::at_most(1.0));
    assert!(matches!(
        run(out_of_bounds, cfg()),
        Err(GradcheckError::InvalidParam { .. })
    ));
    let duplicate = ParamSet::new().scalar("x", 1.0).scalar("x", 2.0);
    assert!(matches!(
        run(duplicate, cfg()),
        Err(GradcheckError::InvalidParam { .. })
    ));
    let nan = ParamSet::new().scalar("x", f64::NAN);
    assert!(matches!(
        run(nan, cfg()),
        Err(GradcheckError::InvalidParam { .. })
    ));
    let no_room = ParamSet::new()
        .scalar("x", 1.0)
        .with_bounds(Bounds::new(1.0, 1.0 + 1e-15));
    assert!(matches!(
        run(no_room, cfg()),
        Err(GradcheckError::InvalidParam { .. })
    ));
    let ok = || ParamSet::new().scalar("x", 1.0);
    assert!(matches!(
        run(ok(), cfg().atol(-1.0)),
        Err(GradcheckError::InvalidConfig(_))
    ));
    assert!(matches!(
        run(ok(), cfg().dtype(DType::I32)),
        Err(GradcheckError::UnsupportedDType { .. })
    ));
    // A NaN produced by the closure at a stencil point is an error, not a verdict.
    let params = ParamSet::new().scalar("x", 0.0);
    let err = check::<B, 1, _>(device, &params, &cfg(), |p| p["x"].clone().sqrt()).unwrap_err();
    assert!(matches!(err, GradcheckError::NonFinite { .. }), "{err}");
}

fn closure_output_in_another_dtype_is_an_error<B: Backend>(device: &B::Device) {
    let params = ParamSet::new().scalar("x", 0.5);
    let err = check::<B, 1, _>(device, &params, &GradcheckConfig::new(), |p| {
        p["x"].clone().cast(FloatDType::F32)
    })
    .unwrap_err();
    match err {
        GradcheckError::DTypeMismatch {
            expected, actual, ..
        } => {
            assert_eq!((expected, actual), (DType::F64, DType::F32));
        }
        other => panic!("expected DTypeMismatch, got {other}"),
    }
}

fn hessian_by_finite_differences_of_gradients<B: Backend>(device: &B::Device) {
    // f(x, y, z) = x² y + x sin z
    let (x, y, z) = (0.8, -1.3, 0.4);
    let params = ParamSet::new().vector("p", [x, y, z]);
    let h = hessian_fd::<B, 1, _>(device, &params, &GradcheckConfig::new(), |p| {
        let t = p.tensor("p");
        let (x, y, z) = (
            t.clone().narrow(0, 0, 1),
            t.clone().narrow(0, 1, 1),
            t.narrow(0, 2, 1),
        );
        x.clone().powf_scalar(2.0) * y + x * z.sin()
    })
    .unwrap();
    let exact = [
        [2.0 * y, 2.0 * x, z.cos()],
        [2.0 * x, 0.0, 0.0],
        [z.cos(), 0.0, -x * z.sin()],
    ];
    for (i, row) in exact.iter().enumerate() {
        for (j, &want) in row.iter().enumerate() {
            assert!(
                (h.get(i, j) - want).abs() < 1e-8,
                "H[{i}][{j}] = {}",
                h.get(i, j)
            );
        }
    }
    assert!(h.max_asymmetry() < 1e-8);
    assert_eq!(h.labels, ["p[0]", "p[1]", "p[2]"]);
}

nanobragg_parity::gradcheck_tests!(f64:
    sin_matches_cos_to_1e9,
    exp_matches_exp_to_1e9,
    rotation_of_vector_matches_to_1e9,
    gaussian_image_is_checked_through_random_projection,
    custom_backward_with_correct_derivative_passes,
    wrong_custom_backward_fails,
    kink_of_abs_inside_stencil_fails,
    relu_kink_at_zero_fails,
    abs_exactly_at_kink_is_a_blind_spot_of_central_differences,
    one_sided_stencils_at_bounds_never_leave_the_domain,
    step_shrinks_to_fit_narrow_bounds,
    unused_parameter_gets_zero_gradient_and_passes,
    too_large_step_is_ill_conditioned_not_failed,
    report_round_trips_through_json_and_prints_a_table,
    reports_are_deterministic_and_seeded,
    invalid_inputs_are_rejected,
    closure_output_in_another_dtype_is_an_error,
    hessian_by_finite_differences_of_gradients,
);
