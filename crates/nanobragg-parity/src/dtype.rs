//! Float dtype helpers: expected dtype of a backend, machine epsilon, rounding to a dtype.
//!
//! Burn fixes a device's *default* float dtype with the first tensor created on it in the
//! process (`burn::tensor::get_device_settings`). `NdArray<f32>` and `NdArray<f64>` share the
//! same device, so once an `f32` tensor exists, tensors created "by default" on `NdArray<f64>`
//! are silently `f32`. This crate therefore builds every tensor with an **explicit** dtype and
//! checks the dtype of everything it gets back.

use burn::tensor::{backend::Backend, bf16, f16, DType, Element, FloatDType, Tensor};

use crate::GradcheckError;

/// The float dtype a backend's element type asks for (`B::FloatElem`), e.g. `F64` for
/// `NdArray<f64>`. This is the dtype a check runs in unless the config overrides it.
pub fn expected_dtype<B: Backend>() -> DType {
    <B::FloatElem as Element>::dtype()
}

/// The dtype that tensors created *without* an explicit dtype currently get on `device`.
///
/// Calling this locks the device's defaults if nothing did before.
pub fn default_float_dtype<B: Backend>(device: &B::Device) -> DType {
    burn::tensor::get_device_settings::<B>(device)
        .float_dtype
        .into()
}

/// Panic unless a default-created float tensor on `device` has `B`'s own float dtype.
///
/// The test macro calls this first, so a test binary that mixes `f32` and `f64` backends fails
/// loudly instead of computing in the wrong precision.
pub fn assert_default_dtype<B: Backend>(device: &B::Device) {
    let probe = Tensor::<B, 1>::zeros([1], device);
    let expected = expected_dtype::<B>();
    assert_eq!(
        probe.dtype(),
        expected,
        "backend `{}` creates {:?} tensors by default but its float element is {:?}: another \
         dtype locked this device's defaults first. Put f32 and f64 gradcheck tests in separate \
         test binaries (files under tests/).",
        B::name(device),
        probe.dtype(),
        expected
    );
}

/// Machine epsilon of a float dtype (`Flex32` counts as `f16` precision, as in Burn).
pub(crate) fn epsilon(dtype: DType) -> f64 {
    FloatDType::from(dtype).finfo().epsilon
}

/// Round an `f64` to the nearest value representable in `dtype`, back as `f64`.
pub(crate) fn round_to(dtype: DType, x: f64) -> f64 {
    match dtype {
        DType::F64 => x,
        DType::F32 | DType::Flex32 => x as f32 as f64,
        DType::F16 => f16::from_f64(x).to_f64(),
        DType::BF16 => bf16::from_f64(x).to_f64(),
        _ => x,
    }
}

/// Error unless `dtype` is a float dtype the backend supports on `device`.
pub(crate) fn check_supported<B: Backend>(
    device: &B::Device,
    dtype: DType,
) -> Result<(), GradcheckError> {
    let float = matches!(
        dtype,
        DType::F64 | DType::F32 | DType::Flex32 | DType::F16 | DType::BF16
    );
    // A backend's own float element is supported by construction (burn-cuda does not list F64
    // in `supports_dtype`, yet `Cuda<f64>` computes in f64); other dtypes must be listed.
    let native = dtype == <B::FloatElem as burn::tensor::Element>::dtype();
    if !float || !(native || B::supports_dtype(device, dtype)) {
        return Err(GradcheckError::UnsupportedDType {
            dtype,
            backend: B::name(device),
        });
    }
    Ok(())
}

/// Error unless `actual == expected`.
pub(crate) fn ensure(
    what: impl FnOnce() -> String,
    expected: DType,
    actual: DType,
) -> Result<(), GradcheckError> {
    if actual == expected {
        Ok(())
    } else {
        Err(GradcheckError::DTypeMismatch {
            what: what(),
            expected,
            actual,
        })
    }
}
