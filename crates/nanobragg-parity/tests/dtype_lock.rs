//! The hazard the one-dtype-per-binary rule exists for, and how the library copes with it.
//!
//! One `#[test]` only: the order of tensor creation in this process is the point.

use burn::tensor::{DType, Tensor};
use nanobragg_parity::{
    assert_default_dtype, backends::NdArray, check, default_float_dtype, GradcheckConfig,
    GradcheckError, ParamSet,
};

#[test]
fn f32_tensor_first_locks_device_default_and_checks_stay_f64() {
    let device = Default::default();
    // An f32 tensor first: the shared CPU device's default float dtype becomes f32 ...
    let first = Tensor::<NdArray<f32>, 1>::zeros([1], &device);
    assert_eq!(first.dtype(), DType::F32);
    // ... so NdArray<f64> now silently creates f32 tensors by default.
    let silent = Tensor::<NdArray<f64>, 1>::zeros([1], &device);
    assert_eq!(silent.dtype(), DType::F32);
    assert_eq!(default_float_dtype::<NdArray<f64>>(&device), DType::F32);
    // The macro's guard notices.
    let guard = std::panic::catch_unwind(|| assert_default_dtype::<NdArray<f64>>(&device));
    assert!(
        guard.is_err(),
        "assert_default_dtype must reject a mixed binary"
    );

    // A check still runs in f64, because every tensor it builds has an explicit dtype.
    let params = ParamSet::new().scalar("x", 0.7);
    let config = GradcheckConfig::new().tol(1e-9);
    let report =
        check::<NdArray<f64>, 1, _>(&device, &params, &config, |p| p["x"].clone().sin()).unwrap();
    assert_eq!(report.dtype, DType::F64);
    assert!((report.components[0].numeric - 0.7f64.cos()).abs() < 1e-9);

    // A closure that creates a constant with the device default (f32) is caught, either by the
    // dtype check or by the backend refusing mixed-dtype arithmetic.
    let mixed = std::panic::catch_unwind(|| {
        check::<NdArray<f64>, 1, _>(&device, &params, &config, |p| {
            p["x"].clone() * Tensor::ones([1], p.device())
        })
    });
    match mixed {
        Ok(Err(GradcheckError::DTypeMismatch { .. })) | Err(_) => {}
        Ok(other) => panic!("mixed dtypes went unnoticed: {other:?}"),
    }
    // The safe way: `ParamTensors::constant` uses the check's dtype.
    check::<NdArray<f64>, 1, _>(&device, &params, &config, |p| {
        p["x"].clone() * p.constant(vec![2.0], [1])
    })
    .unwrap();
}
