//! Functions under test, shared by the f64 and f32 test binaries (code only: no tensor is
//! created here at load time, so sharing this module does not mix dtypes).
#![allow(dead_code)]

use burn::tensor::{activation::relu, backend::Backend, ops::FloatTensor, Tensor, TensorPrimitive};
use burn_autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{unary, Backward, Ops, OpsKind},
    Autodiff,
};
use nanobragg_parity::ParamTensors;

/// `sin` with a hand-written backward registered through burn-autodiff's custom backward
/// mechanism (`Backward` + `OpsKind`, as in the Burn book's custom-kernel chapter).
/// `WRONG = true` plants a bug: the backward multiplies by `sin(x)` instead of `cos(x)`.
#[derive(Debug)]
struct SinBackward<const WRONG: bool>;

impl<B: Backend, const WRONG: bool> Backward<B, 1> for SinBackward<WRONG> {
    /// The forward input, needed to evaluate the derivative.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let x = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            let derivative = if WRONG {
                B::float_sin(x)
            } else {
                B::float_cos(x)
            };
            B::float_mul(grad, derivative)
        });
    }
}

fn custom_sin<B: Backend, C: CheckpointStrategy, const WRONG: bool>(
    x: Tensor<Autodiff<B, C>, 1>,
) -> Tensor<Autodiff<B, C>, 1> {
    let x = x.into_primitive().tensor();
    let out = match SinBackward::<WRONG>
        .prepare::<C>([x.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let state = x.primitive.clone();
            prep.finish(state, B::float_sin(x.primitive))
        }
        OpsKind::UnTracked(prep) => prep.finish(B::float_sin(x.primitive)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// Custom-backward `sin` with a correct backward.
pub fn sin_custom_correct<B: Backend>(x: Tensor<Autodiff<B>, 1>) -> Tensor<Autodiff<B>, 1> {
    custom_sin::<B, _, false>(x)
}

/// Custom-backward `sin` whose backward is deliberately wrong (`sin` instead of `cos`).
pub fn sin_custom_wrong<B: Backend>(x: Tensor<Autodiff<B>, 1>) -> Tensor<Autodiff<B>, 1> {
    custom_sin::<B, _, true>(x)
}

/// `Rz(a) · Ry(b) · Rx(c)` from `angles = [a, b, c]`, built from tensor ops only.
pub fn rotation<B: Backend>(angles: Tensor<B, 1>) -> Tensor<B, 2> {
    let angle = |i: usize| angles.clone().narrow(0, i, 1);
    let zero = angle(0).zeros_like();
    let one = zero.clone().ones_like();
    let matrix = |entries: [Tensor<B, 1>; 9]| Tensor::cat(entries.to_vec(), 0).reshape([3, 3]);
    let (ca, sa) = (angle(0).cos(), angle(0).sin());
    let (cb, sb) = (angle(1).cos(), angle(1).sin());
    let (cc, sc) = (angle(2).cos(), angle(2).sin());
    let z = zero.clone();
    #[rustfmt::skip]
    let rz = matrix([
        ca.clone(), -sa.clone(), z.clone(),
        sa, ca, z.clone(),
        z.clone(), z.clone(), one.clone(),
    ]);
    #[rustfmt::skip]
    let ry = matrix([
        cb.clone(), z.clone(), sb.clone(),
        z.clone(), one.clone(), z.clone(),
        -sb, z.clone(), cb,
    ]);
    #[rustfmt::skip]
    let rx = matrix([
        one, z.clone(), z.clone(),
        z.clone(), cc.clone(), -sc.clone(),
        z, sc, cc,
    ]);
    rz.matmul(ry).matmul(rx)
}

/// `R(angles) · v`: a 3-vector output (reduced by the random projection).
pub fn rotate<B: Backend>(p: &ParamTensors<B>) -> Tensor<B, 1> {
    rotation(p.tensor("angles"))
        .matmul(p.tensor("v").reshape([3, 1]))
        .reshape([3])
}

/// An 8×6 "detector image": a Gaussian spot at (`center[0]`, `center[1]`) of width `sigma`
/// and height `amplitude`.
pub fn gaussian_spot<B: Backend>(p: &ParamTensors<B>) -> Tensor<B, 2> {
    let (rows, cols) = (8usize, 6usize);
    let ys: Vec<f64> = (0..rows * cols).map(|k| (k / cols) as f64).collect();
    let xs: Vec<f64> = (0..rows * cols).map(|k| (k % cols) as f64).collect();
    let ys = p.constant(ys, [rows, cols]);
    let xs = p.constant(xs, [rows, cols]);
    let c = p.tensor("center");
    let cy = c.clone().narrow(0, 0, 1).reshape([1, 1]);
    let cx = c.narrow(0, 1, 1).reshape([1, 1]);
    let sigma = p.tensor("sigma").reshape([1, 1]);
    let amplitude = p.tensor("amplitude").reshape([1, 1]);
    let r2 = (ys - cy).powf_scalar(2.0) + (xs - cx).powf_scalar(2.0);
    let two_s2 = sigma.powf_scalar(2.0).mul_scalar(2.0);
    (r2.neg() / two_s2).exp() * amplitude
}

/// `relu(x)`: kink at 0 where Burn's derivative is 0 but the central difference is 1/2.
pub fn relu_of<B: Backend>(p: &ParamTensors<B>) -> Tensor<B, 1> {
    relu(p.tensor("x"))
}
