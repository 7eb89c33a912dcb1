//! A downstream user gradchecks their own differentiable model with `nanobragg-parity`.
//!
//! The model: a Lorentzian diffraction peak sampled on a 1-D grid of q values,
//! `I(q) = A γ² / ((q - q0)² + γ²) + background`, with parameters `A`, `q0`, `γ > 0` and a
//! 2-element background polynomial. The output is a whole profile (a tensor), which the check
//! reduces to a scalar by a seeded random projection.
//!
//! Run it with `cargo run --release --example gradcheck_custom`; it prints the report table,
//! the JSON form for CI logs, and a finite-difference Hessian. `cargo test --release --example
//! gradcheck_custom` runs the same check as a test, via `gradcheck_tests!`.

use burn::tensor::{backend::Backend, DType, Tensor};
use burn_ndarray::NdArray;
use nanobragg_parity::{
    check, gradcheck_tests, hessian_fd, Bounds, GradcheckConfig, GradcheckError, ParamSet,
    ParamTensors, AD,
};

/// The user's model, generic over the backend like any Burn code.
fn lorentzian_profile<B: Backend>(p: &ParamTensors<B>) -> Tensor<B, 1> {
    let n = 32;
    // Constants must be built in the check's dtype: use `p.constant`, not `Tensor::from_floats`.
    let q = p.constant((0..n).map(|i| 0.05 * i as f64).collect(), [n]);
    let amplitude = p.tensor("amplitude");
    let q0 = p.tensor("q0");
    let gamma2 = p.tensor("gamma").powf_scalar(2.0);
    let background = p.tensor("background");
    let (b0, b1) = (
        background.clone().narrow(0, 0, 1),
        background.narrow(0, 1, 1),
    );
    let peak = amplitude * gamma2.clone() / ((q.clone() - q0).powf_scalar(2.0) + gamma2);
    peak + b0 + q * b1
}

/// The point to check at. Bounds keep finite differences inside the model's domain.
fn params() -> ParamSet {
    ParamSet::new()
        .scalar("amplitude", 3.0)
        .scalar("q0", 0.8)
        .scalar("gamma", 0.15)
        .with_bounds(Bounds::at_least(0.0))
        .vector("background", [0.2, -0.05])
}

/// A gradcheck test body: generic over the backend, returns `Result`.
fn lorentzian_gradient_is_correct<B: Backend>(device: &B::Device) -> Result<(), GradcheckError> {
    let config = GradcheckConfig::new().tol(1e-8);
    let report = check::<B, 1, _>(device, &params(), &config, |p: &ParamTensors<AD<B>>| {
        let y = lorentzian_profile(p);
        assert_eq!(y.dtype(), DType::F64);
        y
    })?;
    assert!(report.projected);
    Ok(())
}

// One test per backend for f64 (f32 tests would go in a different test binary).
gradcheck_tests!(f64: lorentzian_gradient_is_correct);

fn main() -> Result<(), GradcheckError> {
    type B = NdArray<f64>;
    let device = Default::default();
    let config = GradcheckConfig::new().tol(1e-8);

    // `check` returns Err(Failed(report)) / Err(IllConditioned(report)) on a bad verdict.
    let report = check::<B, 1, _>(&device, &params(), &config, lorentzian_profile)?;
    println!("{report}\n");
    println!("JSON for CI logs:\n{}\n", report.to_json());

    // Second-order information: Burn's autodiff is first order only, so the Hessian comes from
    // finite differences of autodiff gradients.
    let h = hessian_fd::<B, 1, _>(&device, &params(), &config, lorentzian_profile)?;
    println!(
        "Hessian of the projected profile (max asymmetry {:.1e}):",
        h.max_asymmetry()
    );
    for (label, row) in h.labels.iter().zip(&h.matrix) {
        let row: Vec<String> = row.iter().map(|v| format!("{v:>11.4e}")).collect();
        println!("{label:>13} {}", row.join(" "));
    }
    Ok(())
}
