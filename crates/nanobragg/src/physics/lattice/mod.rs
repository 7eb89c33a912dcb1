//! Lattice transforms F_latt (the "spot shape") of fractional Miller indices: one file per
//! shape, each holding its constants, its tensor form and its scalar form with the hand-derived
//! derivatives; this module dispatches on [`LatticeShape`].
//!
//! With fractional indices h, k, l, N cells per axis and `n3 = Na·Nb·Nc`:
//! - SQUARE ([`square`]): `F = g(h, Na)·g(k, Nb)·g(l, Nc)`, g the [`grating`];
//! - ROUND ([`round`]): `F = n3·0.723601254558268·sinc3(π·sqrt(fudge·Σ(Δh·N)²))`;
//! - GAUSS ([`gauss`]): `F = n3·exp(−fudge·Δr*²/0.63)`;
//! - GAUSS_ARGCHK ([`gauss_argchk`]): GAUSS where its exponent is below 35, else 0;
//! - TOPHAT ([`tophat`]): `F = n3` where `fudge·Δr*² < 0.3969`, else 0;
//!
//! with Δh = h − h0, h0 = ceil(h − ½) (the C program's rounding, [`nearest_index`]) and
//! `Δr*² = |Δh·a* + Δk·b* + Δl·c*|²·n3²` (a*, b*, c* in Å⁻¹).
//!
//! Adding a shape: a file here with `tensor` and `value_grad`, one arm in each `match` below,
//! the scene's variant and flag ([`LatticeShape`]) with its capability, and each fused kernel's
//! decision (docs/architecture.md, "Adding a lattice shape").

pub mod gauss;
pub mod gauss_argchk;
pub mod grating;
pub mod round;
pub mod square;
pub mod tophat;

use burn::tensor::{backend::Backend, Tensor};

use crate::kernel::capability::Capability;
use crate::scene::LatticeShape;

/// What a shape's tensor form reads: the evaluations' fractional indices `[E, K]` each, N per
/// axis (`[1]` each), N's host values, the reciprocal vectors (`[3]` each, Å⁻¹) and `fudge`.
pub struct LatticeTensors<'a, B: Backend> {
    /// h, k, l.
    pub hkl: [&'a Tensor<B, 2>; 3],
    /// Na, Nb, Nc.
    pub n: &'a [Tensor<B, 1>; 3],
    /// Host values of Na, Nb, Nc (they fix the grating's sign).
    pub n_value: [f64; 3],
    /// a*, b*, c* (Å⁻¹).
    pub reciprocal: &'a [Tensor<B, 1>; 3],
    /// The shape's radius scale (`-fudge`).
    pub fudge: f64,
}

impl<B: Backend> LatticeTensors<'_, B> {
    /// `Na·Nb·Nc` as `[1, 1]`.
    fn n3(&self) -> Tensor<B, 2> {
        let [na, nb, nc] = self.n;
        (na.clone() * nb.clone() * nc.clone()).reshape([1, 1])
    }

    /// Offsets from the nearest whole index, Δh, Δk, Δl.
    fn offsets(&self) -> [Tensor<B, 2>; 3] {
        self.hkl.map(|x| x.clone() - nearest_index(x.clone()))
    }

    /// `Δr*² = |Δh·a* + Δk·b* + Δl·c*|²·n3²`.
    fn reciprocal_radius2(&self) -> Tensor<B, 2> {
        let [dh, dk, dl] = self.offsets();
        let [a, b, c] = self.reciprocal;
        let comp = |i: usize| {
            let pick = |v: &Tensor<B, 1>| v.clone().narrow(0, i, 1).reshape([1, 1]);
            dh.clone() * pick(a) + dk.clone() * pick(b) + dl.clone() * pick(c)
        };
        (comp(0).powi_scalar(2) + comp(1).powi_scalar(2) + comp(2).powi_scalar(2))
            * self.n3().powi_scalar(2)
    }
}

/// What a shape's scalar form reads (f64): as [`LatticeTensors`] for one evaluation, with the
/// grating's series radius and signs.
#[derive(Debug, Clone, Copy)]
pub struct LatticeScalars {
    /// h, k, l.
    pub hkl: [f64; 3],
    /// Na, Nb, Nc.
    pub n: [f64; 3],
    /// a*, b*, c* (Å⁻¹), one row each.
    pub recip: [[f64; 3]; 3],
    /// `-fudge`.
    pub fudge: f64,
    /// The grating's series radius ([`grating::series_radius`]).
    pub radius: f64,
    /// `round(N) − 1` per axis (the grating's sign).
    pub sign_m: [f64; 3],
}

impl LatticeScalars {
    fn n3(&self) -> f64 {
        self.n[0] * self.n[1] * self.n[2]
    }

    /// `∂n3/∂N` per axis.
    fn dn3(&self) -> [f64; 3] {
        let n = self.n;
        [n[1] * n[2], n[0] * n[2], n[0] * n[1]]
    }

    /// Offsets from the nearest whole index.
    fn offsets(&self) -> [f64; 3] {
        self.hkl.map(|x| x - (x - 0.5).ceil())
    }

    /// `(Δh·a* + Δk·b* + Δl·c*, its squared length)`.
    fn reciprocal_offset(&self) -> ([f64; 3], f64) {
        let f = self.offsets();
        let r = &self.recip;
        let comp = [0, 1, 2].map(|j| f[0] * r[0][j] + f[1] * r[1][j] + f[2] * r[2][j]);
        (comp, comp[0] * comp[0] + comp[1] * comp[1] + comp[2] * comp[2])
    }

    /// Pull `∂F/∂(Δr*²)` back to `∂F/∂(h, k, l)` and `∂F/∂(a*, b*, c*)` (the offsets are
    /// piecewise h − const).
    fn pull_back_radius2(&self, df_dr2: f64) -> ([f64; 3], [[f64; 3]; 3]) {
        let (comp, _) = self.reciprocal_offset();
        let n3 = self.n3();
        let f = self.offsets();
        let dcomp = comp.map(|c| df_dr2 * 2.0 * c * n3 * n3);
        let d_hkl = [0, 1, 2].map(|i| (0..3).map(|j| dcomp[j] * self.recip[i][j]).sum());
        let d_recip = [0, 1, 2].map(|i| [0, 1, 2].map(|j| dcomp[j] * f[i]));
        (d_hkl, d_recip)
    }
}

/// F_latt with its derivatives in h, k, l, N and the reciprocal vectors.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LatticeGrad {
    /// F_latt.
    pub value: f64,
    /// `∂F/∂(h, k, l)`.
    pub d_hkl: [f64; 3],
    /// `∂F/∂(Na, Nb, Nc)`.
    pub d_n: [f64; 3],
    /// `∂F/∂(a*, b*, c*)`, one row each.
    pub d_recip: [[f64; 3]; 3],
}

/// Nearest whole index as the C program rounds it: `ceil(x − ½)`.
pub fn nearest_index<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    (x - 0.5).ceil()
}

/// F_latt of every evaluation, `[E, K]` (tensor form).
pub fn tensor<B: Backend>(shape: LatticeShape, x: &LatticeTensors<'_, B>) -> Tensor<B, 2> {
    match shape {
        LatticeShape::Square => square::tensor(x),
        LatticeShape::Round => round::tensor(x),
        LatticeShape::Gauss => gauss::tensor(x),
        LatticeShape::GaussArgchk => gauss_argchk::tensor(x),
        LatticeShape::Tophat => tophat::tensor(x),
    }
}

/// F_latt of one evaluation with its derivatives (scalar form).
pub fn value_grad(shape: LatticeShape, x: &LatticeScalars) -> LatticeGrad {
    match shape {
        LatticeShape::Square => square::value_grad(x),
        LatticeShape::Round => round::value_grad(x),
        LatticeShape::Gauss => gauss::value_grad(x),
        LatticeShape::GaussArgchk => gauss_argchk::value_grad(x),
        LatticeShape::Tophat => tophat::value_grad(x),
    }
}

/// The renderer capability a shape requires of a fused kernel
/// ([`crate::kernel::capability`]).
pub fn capability(shape: LatticeShape) -> Capability {
    match shape {
        LatticeShape::Square => Capability::SquareLattice,
        LatticeShape::Round => Capability::RoundLattice,
        LatticeShape::Gauss => Capability::GaussLattice,
        LatticeShape::GaussArgchk => Capability::GaussArgchkLattice,
        LatticeShape::Tophat => Capability::TophatLattice,
    }
}
