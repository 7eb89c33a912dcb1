//! Small 3-vector algebra as Burn tensor ops, so gradients reach detector and crystal setup.
//!
//! Vectors are tensors whose last dimension has size 3 (`[3]` for one vector, `[N, 3]` for a
//! batch); scalars are `[1]` tensors broadcast against them.

use std::any::Any;

use burn::tensor::{backend::Backend, Element, Tensor, TensorCreationOptions, TensorData, TensorPrimitive};
use burn_ndarray::NdArrayTensor;

/// Creation options carrying the backend's float dtype explicitly (never the device default).
pub fn float_options<B: Backend>(device: &B::Device) -> TensorCreationOptions<B> {
    TensorCreationOptions::new(device.clone()).with_dtype(<B::FloatElem as Element>::dtype())
}

/// `Ok` when `t` carries the backend's float dtype; otherwise the dtype-mismatch error naming
/// `what` (guards against the default-dtype trap).
pub fn check_float_dtype<B: Backend, const D: usize>(t: &Tensor<B, D>, what: &'static str) -> crate::error::Result<()> {
    let requested = <B::FloatElem as Element>::dtype();
    let got = t.dtype();
    if got == requested {
        Ok(())
    } else {
        Err(crate::error::NanobraggError::DtypeMismatch { what, requested, got })
    }
}

/// A `[1]` tensor holding `x`, at the backend's float dtype.
pub fn scalar<B: Backend>(x: f64, device: &B::Device) -> Tensor<B, 1> {
    Tensor::from_data(TensorData::new(vec![x], [1]), float_options::<B>(device))
}

/// `t / d` with a backward pass at the tensor's precision. Burn 0.21's autodiff differentiates
/// `Tensor / scalar` with the scalar rounded to f32 (`1.0 / rhs.elem::<f32>()` in
/// `float_div_scalar`'s backward): an f64 gradient through `x / 6.0` or `x / RTD` is off by up
/// to ~3e-8 relative. Dividing by a constant `[1, …]` tensor gives the same forward values (one
/// IEEE division per element) and an f64 backward. Use it for every division by a constant on
/// a differentiable path (a division by a power of two is exact either way).
pub fn div_exact<B: Backend, const D: usize>(t: Tensor<B, D>, d: f64) -> Tensor<B, D> {
    let divisor = tensor::<B, D>(vec![d], [1; D], &t.device());
    t / divisor
}

/// A `[3]` tensor holding `v`.
pub fn vec3<B: Backend>(v: [f64; 3], device: &B::Device) -> Tensor<B, 1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [3]), float_options::<B>(device))
}

/// A tensor of any shape from host values.
pub fn tensor<B: Backend, const D: usize>(
    values: Vec<f64>,
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(values, shape), float_options::<B>(device))
}

/// Component `i` (0, 1, 2) of vectors along the last dimension, keeping that dimension (size 1).
pub fn comp<B: Backend, const D: usize>(v: &Tensor<B, D>, i: usize) -> Tensor<B, D> {
    v.clone().narrow(D - 1, i, 1)
}

/// Dot product along the last dimension (kept, size 1).
pub fn dot<B: Backend, const D: usize>(a: &Tensor<B, D>, b: &Tensor<B, D>) -> Tensor<B, D> {
    (a.clone() * b.clone()).sum_dim(D - 1)
}

/// `a · bᵀ` for `a` `[E, 3]` and `b` `[K, 3]` → `[E, K]`, as three broadcast multiply-adds.
///
/// Used instead of `matmul` for the 3-long contractions of the renderer: GPU matmul kernels may
/// take f32 inputs through reduced-precision (TF32) tensor-core paths, which costs Miller
/// indices three decimal digits; elementwise ops keep full f32 on every backend.
pub fn outer_dot3<B: Backend>(a: &Tensor<B, 2>, b: &Tensor<B, 2>) -> Tensor<B, 2> {
    let [e, _] = a.dims();
    let [k, _] = b.dims();
    let term = |c: usize| {
        a.clone().narrow(1, c, 1).expand([e, k]) * b.clone().narrow(1, c, 1).reshape([1, k])
    };
    term(0) + term(1) + term(2)
}

/// Euclidean norm along the last dimension (kept, size 1).
pub fn norm<B: Backend, const D: usize>(a: &Tensor<B, D>) -> Tensor<B, D> {
    dot(a, a).sqrt()
}

/// Cross product `a × b` along the last dimension.
pub fn cross<B: Backend, const D: usize>(a: &Tensor<B, D>, b: &Tensor<B, D>) -> Tensor<B, D> {
    let (ax, ay, az) = (comp(a, 0), comp(a, 1), comp(a, 2));
    let (bx, by, bz) = (comp(b, 0), comp(b, 1), comp(b, 2));
    Tensor::cat(
        vec![
            ay.clone() * bz.clone() - az.clone() * by.clone(),
            az * bx.clone() - ax.clone() * bz,
            ax * by - ay * bx,
        ],
        D - 1,
    )
}

/// `a / |a|` (the C program's `unitize`, without its zero-length special case).
pub fn unit<B: Backend, const D: usize>(a: &Tensor<B, D>) -> Tensor<B, D> {
    a.clone() / norm(a)
}

/// The rows of a batch of vectors `[N, 3]`, each `[3]`.
pub fn rows<B: Backend>(batch: &Tensor<B, 2>) -> Vec<Tensor<B, 1>> {
    (0..batch.dims()[0]).map(|i| batch.clone().narrow(0, i, 1).reshape([3])).collect()
}

/// A `[1]` tensor (an angle, a scalar) reshaped to broadcast against `D`-dimensional vectors.
fn broadcast_scalar<B: Backend, const D: usize>(t: &Tensor<B, 1>) -> Tensor<B, D> {
    t.clone().reshape([1; D])
}

/// Rotate the vectors `v` (last dimension 3: one `[3]` vector or a batch `[N, 3]`) about the
/// unit `axis` (`[3]`) by `angle` (`[1]`, rad), right-handed (Rodrigues):
/// `v cos φ + (u × v) sin φ + u (u·v)(1 − cos φ)`. A batch takes the ops of one vector.
pub fn rotate_axis<B: Backend, const D: usize>(
    v: &Tensor<B, D>,
    axis: &Tensor<B, 1>,
    angle: &Tensor<B, 1>,
) -> Tensor<B, D> {
    let mut shape = [1; D];
    shape[D - 1] = 3;
    let axis: Tensor<B, D> = axis.clone().reshape(shape);
    let (s, c) = (broadcast_scalar::<B, D>(&angle.clone().sin()), broadcast_scalar::<B, D>(&angle.clone().cos()));
    let along = axis.clone() * dot(&axis, v) * (c.clone().neg() + 1.0);
    along + v.clone() * c + cross(&axis.expand(v.dims()), v) * s
}

/// Rotate the vectors `v` (`[3]` or `[N, 3]`) about lab X, then Y, then Z by the given angles
/// (`[1]` each, rad), as the C `rotate`. A batch takes the ops of one vector.
pub fn rotate_xyz<B: Backend, const D: usize>(
    v: &Tensor<B, D>,
    rx: &Tensor<B, 1>,
    ry: &Tensor<B, 1>,
    rz: &Tensor<B, 1>,
) -> Tensor<B, D> {
    let (x, y, z) = (comp(v, 0), comp(v, 1), comp(v, 2));
    let sin_cos = |angle: &Tensor<B, 1>| {
        (broadcast_scalar::<B, D>(&angle.clone().sin()), broadcast_scalar::<B, D>(&angle.clone().cos()))
    };
    // about X
    let (s, c) = sin_cos(rx);
    let (y, z) = (y.clone() * c.clone() - z.clone() * s.clone(), y * s + z * c);
    // about Y
    let (s, c) = sin_cos(ry);
    let (x, z) = (x.clone() * c.clone() + z.clone() * s.clone(), z * c - x * s);
    // about Z
    let (s, c) = sin_cos(rz);
    let (x, y) = (x.clone() * c.clone() - y.clone() * s.clone(), x * s + y * c);
    Tensor::cat(vec![x, y, z], D - 1)
}

/// Host-side f64 Rodrigues rotation (for quantities no gradient needs, e.g. divergence grids).
pub fn rotate_axis_f64(v: [f64; 3], axis: [f64; 3], phi: f64) -> [f64; 3] {
    let (s, c) = phi.sin_cos();
    let d = (axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2]) * (1.0 - c);
    [
        axis[0] * d + v[0] * c + (-axis[2] * v[1] + axis[1] * v[2]) * s,
        axis[1] * d + v[1] * c + (axis[2] * v[0] - axis[0] * v[2]) * s,
        axis[2] * d + v[2] * c + (-axis[1] * v[0] + axis[0] * v[1]) * s,
    ]
}

/// Host-side unit vector; a zero vector is returned unchanged (as the C `unitize`).
pub fn unit_f64(v: [f64; 3]) -> [f64; 3] {
    let m = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if m == 0.0 {
        v
    } else {
        [v[0] / m, v[1] / m, v[2] / m]
    }
}

/// Host-side dot product.
pub fn dot_f64(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Host-side cross product.
pub fn cross_f64(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Read a tensor back to host f64 values (row-major). NdArray tensors are read in one copy
/// ([`ndarray_values`]); read an autodiff tensor through `t.clone().inner()` to get that path.
pub fn to_vec<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Vec<f64> {
    if let TensorPrimitive::Float(p) = t.clone().into_primitive() {
        if let Some(values) = ndarray_values::<f64>(&p) {
            return values;
        }
    }
    t.to_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .expect("converted tensor data is f64")
}

/// The values of a burn-ndarray float tensor of element `T` in standard layout, copied in one
/// piece; `None` for any other tensor (read it through `into_data`).
///
/// Why not `into_data`: in burn-ndarray 0.21 it iterates element by element over a
/// dynamic-rank view whenever the array is shared (as every tensor autodiff also keeps is),
/// about 20 ns a value. With a 227k-entry F grid in the kernel's inputs that was more than half
/// of an ensemble's time on the CPU.
pub fn ndarray_values<T: 'static>(primitive: &dyn Any) -> Option<Vec<T>> {
    let values: Box<dyn Any> = match primitive.downcast_ref::<NdArrayTensor>()? {
        NdArrayTensor::F64(s) => Box::new(s.view().as_slice()?.to_vec()),
        NdArrayTensor::F32(s) => Box::new(s.view().as_slice()?.to_vec()),
        _ => return None,
    };
    values.downcast::<Vec<T>>().ok().map(|v| *v)
}

/// Read a `[1]` tensor back as f64.
pub fn to_f64<B: Backend, const D: usize>(t: &Tensor<B, D>) -> f64 {
    to_vec(t)[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_autodiff::Autodiff;
    use burn_ndarray::NdArray;

    type AD = Autodiff<NdArray<f64>>;

    /// The gradient of `x / d` through [`div_exact`] is `1/d` at f64 (Burn's own
    /// `Tensor / scalar` gives `1/(d as f32)`), and the forward value is the IEEE quotient.
    #[test]
    fn div_exact_differentiates_at_f64() {
        let device = Default::default();
        for d in [6.0, 3.0, RTD_FOR_TEST, 1.0e10] {
            let x = scalar::<AD>(1.7, &device).require_grad();
            let y = div_exact(x.clone(), d);
            assert_eq!(to_f64(&y), 1.7 / d);
            let g = to_f64(&x.grad(&y.backward()).expect("gradient reaches x"));
            assert!((g - 1.0 / d).abs() <= 1e-15 / d, "d = {d}: {g:e} vs {:e}", 1.0 / d);
        }
    }

    const RTD_FOR_TEST: f64 = crate::units::RTD;

    /// [`to_vec`] reads shared, sliced and transposed NdArray tensors (and autodiff ones, by
    /// the generic path) in row-major order: the one-copy read agrees with the index formula.
    #[test]
    fn to_vec_reads_every_layout_in_row_major_order() {
        let device = Default::default();
        let values: Vec<f64> = (0..12).map(|i| i as f64 * 1.5 - 4.0).collect();
        let m = Tensor::<NdArray<f64>, 1>::from_data(values.as_slice(), &device).reshape([3, 4]);
        let _shared = m.clone();
        assert_eq!(to_vec(&m), values);
        let sliced = m.clone().slice([1..3, 0..4]);
        assert_eq!(to_vec(&sliced), values[4..].to_vec());
        let transposed = m.clone().transpose();
        let want: Vec<f64> = (0..4).flat_map(|c| (0..3).map(move |r| (r * 4 + c) as f64 * 1.5 - 4.0)).collect();
        assert_eq!(to_vec(&transposed), want);
        let tracked = Tensor::<AD, 1>::from_data(values.as_slice(), &device).require_grad();
        assert_eq!(to_vec(&(tracked * 2.0)), values.iter().map(|v| v * 2.0).collect::<Vec<_>>());
    }

    /// [`ndarray_values`] answers only for an NdArray tensor of the asked element type (f64
    /// only here: an f32 tensor would fix the device's default dtype for this test process).
    #[test]
    fn ndarray_values_reads_only_its_own_element_type() {
        let device = Default::default();
        let t = Tensor::<NdArray<f64>, 1>::from_data([1.0f64, 2.0].as_slice(), &device);
        let p = t.into_primitive().tensor();
        assert_eq!(ndarray_values::<f64>(&p), Some(vec![1.0, 2.0]));
        assert_eq!(ndarray_values::<f32>(&p), None);
        assert_eq!(ndarray_values::<f64>(&3.0f64), None);
    }
}
