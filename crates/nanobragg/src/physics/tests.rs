//! The scalar forms of the solid angle, the capture fraction and the Kahn factor equal their
//! tensor forms, and their hand-derived adjoints equal the tensor forms' autodiff gradients
//! (f64).

use burn::tensor::Tensor;
use burn_autodiff::Autodiff;
use burn_ndarray::NdArray;

use super::{capture, polarization, solid_angle};
use crate::linalg::{tensor, to_f64, to_vec};

type B = NdArray<f64>;
type AD = Autodiff<B>;

/// A tensor of `values` that requires grad.
fn leaf<const D: usize>(values: &[f64], shape: [usize; D]) -> Tensor<AD, D> {
    tensor::<AD, D>(values.to_vec(), shape, &Default::default()).require_grad()
}

/// `got` equals `want` to `rel` relative (exactly where `want` is 0).
fn assert_close(got: &[f64], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= rel * w.abs(), "{what}: {got:?} vs {want:?}");
    }
}

/// Pixels with and without area.
#[test]
fn solid_angle_scalar_form_and_adjoint_match_the_tensor_form() {
    let (pixel, close) = (1.2e-4, 0.07);
    for point_pixel in [false, true] {
        for r in [0.07, 0.0913] {
            let (rt, pt, ct) = (leaf(&[r], [1, 1, 1, 1]), leaf(&[pixel], [1]), leaf(&[close], [1]));
            let omega_t = solid_angle::tensor(&rt, &pt, &ct, point_pixel);
            let grads = omega_t.backward();
            let omega = solid_angle::value(r, pixel, close, point_pixel);
            assert_close(&[omega], &[to_f64(&omega_t)], 1e-15, "Ω");
            let g = solid_angle::adjoint(r, omega, 1.0, pixel, close, point_pixel);
            let of = |t: Option<Tensor<B, 1>>| t.map_or(0.0, |t| to_f64(&t));
            assert_close(&[g.r], &[to_f64(&rt.grad(&grads).unwrap())], 1e-14, "∂Ω/∂r");
            assert_close(&[g.pixel, g.close], &[of(pt.grad(&grads)), of(ct.grad(&grads))], 1e-14, "∂Ω/∂(pixel, close)");
        }
    }
}

/// The front layer and a deeper one, along an oblique ray.
#[test]
fn capture_scalar_form_and_adjoint_match_the_tensor_form() {
    let (d, odet, layer, mu) = ([0.8, 0.36, 0.48], [0.96, 0.0, 0.28], 6.0e-5, 1.0 / 1.5e-4);
    for t in [0usize, 2] {
        let (dt, ot) = (leaf(&d, [1, 1, 1, 3]), leaf(&odet, [3]));
        let (lt, mt) = (leaf(&[layer], [1]), leaf(&[mu], [1]));
        let layers = tensor::<AD, 4>(vec![t as f64], [1, 1, 1, 1], &Default::default());
        let c_t = capture::tensor(&dt, &ot, layers, lt.clone(), &mt);
        let grads = c_t.backward();
        let c = capture::value(t, d, odet, layer, mu);
        assert_close(&[c], &[to_f64(&c_t)], 1e-14, "capture");
        let g = capture::adjoint(t, d, odet, layer, mu, 1.0);
        assert_close(&g.d, &to_vec(&dt.grad(&grads).unwrap()), 1e-13, "∂c/∂d");
        assert_close(&g.odet, &to_vec(&ot.grad(&grads).unwrap()), 1e-13, "∂c/∂odet");
        let (dl, dm) = (to_f64(&lt.grad(&grads).unwrap()), to_f64(&mt.grad(&grads).unwrap()));
        assert_close(&[g.layer, g.mu], &[dl, dm], 1e-13, "∂c/∂(layer, μ)");
    }
}

/// K = 0 and K = 0.95.
#[test]
fn kahn_scalar_form_and_adjoint_match_the_tensor_form() {
    let (inc, d) = ([1.0, 0.0, 0.0], [0.8, 0.36, 0.48]);
    let frames = polarization::source_frames(&[inc], [0.0, 0.0, 1.0]);
    let e_in = [frames.0[0], frames.0[1], frames.0[2]];
    let b_in = [frames.1[0], frames.1[1], frames.1[2]];
    for k in [0.0, 0.95] {
        let (dt, kt) = (leaf(&d, [1, 1, 1, 1, 3]), leaf(&[k], [1]));
        let it = tensor::<AD, 5>(inc.to_vec(), [1, 1, 1, 1, 3], &Default::default());
        let p_t = polarization::kahn_factor(&dt, &it, &frames, &kt);
        let grads = p_t.backward();
        let p = polarization::value(d, inc, e_in, b_in, k);
        assert_close(&[p], &[to_f64(&p_t)], 1e-15, "P");
        let g = polarization::adjoint(d, inc, e_in, b_in, k, 1.0);
        assert_close(&g.d, &to_vec(&dt.grad(&grads).unwrap()), 1e-14, "∂P/∂d");
        assert_close(&[g.k], &[to_f64(&kt.grad(&grads).unwrap())], 1e-14, "∂P/∂K");
    }
}
