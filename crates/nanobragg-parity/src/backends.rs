//! Backend aliases the test macro instantiates (re-exported so downstream crates need no extra
//! dependency).

/// CPU backend, generic over the float element (`f64` or `f32`).
pub type NdArray<F> = burn_ndarray::NdArray<F>;

/// CUDA backend (feature `cuda`), generic over the float element.
#[cfg(feature = "cuda")]
pub type Cuda<F> = burn_cuda::Cuda<F, i32>;

/// The autodiff decorator every check runs under.
pub type Autodiff<B> = burn_autodiff::Autodiff<B>;
