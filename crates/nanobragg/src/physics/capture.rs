//! Capture fraction: the share of the diffracted beam absorbed in one layer of a thick sensor.
//!
//! A sensor of attenuation `μ` (m⁻¹) is cut into layers of thickness `s` along its normal `o`.
//! A ray along the unit vector `d` crosses the normal at `ρ = d·o` (the obliquity; path length
//! `s/ρ` per layer), so layer `t` (from the front, t = 0, 1, …) captures
//!
//! `c_t = e^{−t·μs/ρ} − e^{−(t+1)·μs/ρ}`.
//!
//! Derivatives (used by the fused kernels' adjoints), with `m = μs`, `a = e^{−tm/ρ}`,
//! `b = e^{−(t+1)m/ρ}`: `∂c/∂m = −(t/ρ)·a + ((t+1)/ρ)·b`, `∂c/∂ρ = m/ρ²·(t·a − (t+1)·b)`,
//! and `ρ = d·o` passes `ρ̄` on as `ρ̄·o` to `d` and `ρ̄·d` to `o`.

use burn::tensor::{backend::Backend, Tensor};

use crate::kernel::real::{dot3, Real};
use crate::linalg::dot;

/// Capture fractions `[P,T,O,1]` of layers `layers` (indices `[1,T,1,1]`) of thickness
/// `layer_step` (`[1]`, m) and attenuation `mu` (`[1]`, m⁻¹), along unit directions `d`
/// `[P,T,O,3]`, for the detector normal `odet` (`[3]`).
pub fn tensor<B: Backend>(
    d: &Tensor<B, 4>,
    odet: &Tensor<B, 1>,
    layers: Tensor<B, 4>,
    layer_step: Tensor<B, 1>,
    mu: &Tensor<B, 1>,
) -> Tensor<B, 4> {
    let rho = dot(d, &odet.clone().reshape([1, 1, 1, 3]));
    let mu_step = (layer_step * mu.clone()).reshape([1, 1, 1, 1]);
    let a = (layers.clone() * mu_step.clone() / rho.clone()).neg().exp();
    let b = ((layers + 1.0) * mu_step / rho).neg().exp();
    a - b
}

/// Capture fraction of layer `t` along `d` (scalar form): `layer` is the layer thickness `s`.
#[inline(always)]
pub fn value<T: Real>(t: usize, d: [T; 3], odet: [T; 3], layer: T, mu: T) -> T {
    let rho = dot3(d, odet);
    let mu_step = layer * mu;
    let ti = T::of(t as f64);
    (-(ti * mu_step / rho)).exp() - (-((ti + T::ONE) * mu_step / rho)).exp()
}

/// `c̄ = ∂L/∂c` taken back to the inputs of [`value`].
#[derive(Debug, Clone, Copy)]
pub struct CaptureGrad<T> {
    /// `∂L/∂d`.
    pub d: [T; 3],
    /// `∂L/∂odet`.
    pub odet: [T; 3],
    /// `∂L/∂layer`.
    pub layer: T,
    /// `∂L/∂μ`.
    pub mu: T,
}

/// Adjoint of [`value`] for `d_capture = c̄`.
#[inline(always)]
pub fn adjoint<T: Real>(t: usize, d: [T; 3], odet: [T; 3], layer: T, mu: T, d_capture: T) -> CaptureGrad<T> {
    let rho = dot3(d, odet);
    let ms = layer * mu;
    let ti = T::of(t as f64);
    let ea = (-(ti * ms / rho)).exp();
    let eb = (-((ti + T::ONE) * ms / rho)).exp();
    let dms = d_capture * (-(ti / rho) * ea + ((ti + T::ONE) / rho) * eb);
    let drho = d_capture * ms / (rho * rho) * (ti * ea - (ti + T::ONE) * eb);
    // (Loops, not `array::map`, so that the kernels' lane loops can inline it.)
    let (mut dd, mut dodet) = ([T::ZERO; 3], [T::ZERO; 3]);
    for i in 0..3 {
        dd[i] = drho * odet[i];
        dodet[i] = drho * d[i];
    }
    CaptureGrad { d: dd, odet: dodet, layer: dms * mu, mu: dms * layer }
}
