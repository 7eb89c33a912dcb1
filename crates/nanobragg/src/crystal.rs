//! Crystal setup as tensor ops: reciprocal ↔ real-space cell, misset, φ and mosaic rotations.
//!
//! Conventions: reciprocal vectors in Å⁻¹, real-space vectors in metres after conversion;
//! misset rotations (X, then Y, then Z) act on the reciprocal vectors; the φ rotation about the
//! spindle and the mosaic rotation `U·v` act on the real-space vectors.

use burn::tensor::{backend::Backend, Tensor};

use crate::linalg::{cross, dot, norm, rotate_xyz, rows, scalar, tensor, to_f64, vec3};
use crate::params::Params;

/// The unrotated (φ = 0, mosaic = identity) crystal.
#[derive(Debug, Clone)]
pub struct CrystalGeometry<B: Backend> {
    /// Real-space a, b, c (m), each `[3]`.
    pub real: [Tensor<B, 1>; 3],
    /// Reciprocal a*, b*, c* (Å⁻¹), each `[3]`, regenerated from the real-space cell.
    pub reciprocal: [Tensor<B, 1>; 3],
    /// Cell volume (Å³) `[1]`.
    pub volume: Tensor<B, 1>,
}

impl<B: Backend> CrystalGeometry<B> {
    /// Build the cell from `-cell` parameters, a MOSFLM matrix (scaled by `1e-10/λ0`) or a
    /// DIALS crystal's a*, b*, c* (Å⁻¹, unscaled).
    pub fn new(p: &Params<B>) -> Self {
        let device = p.wavelength.device();
        let [mx, my, mz] = &p.misset;
        let (stars, user_cell) = match &p.matrix {
            Some(m) if p.matrix_times_wavelength => {
                let scale = p.wavelength.clone().recip() * 1e-10;
                (m.clone().map(|v| v * scale.clone()), None)
            }
            Some(m) => (m.clone(), None),
            None => {
                let [a, b, c] = p.cell_lengths.clone();
                let [al, be, ga] = p.cell_angles.clone();
                let (sa, sb, sg) = (al.clone().sin(), be.clone().sin(), ga.clone().sin());
                let (ca, cb, cg) = (al.clone().cos(), be.clone().cos(), ga.clone().cos());
                let aavg = (al.clone() + be.clone() + ga.clone()) / 2.0;
                let skew = aavg.clone().sin()
                    * (aavg.clone() - al).sin()
                    * (aavg.clone() - be).sin()
                    * (aavg - ga).sin();
                let v = (a.clone() * b.clone() * c.clone()) * skew.abs().sqrt() * 2.0;
                let vstar = v.clone().recip();
                let a_len = b.clone() * c.clone() * sa.clone() * vstar.clone();
                let b_len = c.clone() * a.clone() * sb.clone() * vstar.clone();
                let c_len = a.clone() * b.clone() * sg.clone() * vstar.clone();
                let cos_as = (cb.clone() * cg.clone() - ca.clone()) / (sb.clone() * sg.clone());
                let cos_bs = (cg.clone() * ca.clone() - cb.clone()) / (sg.clone() * sa.clone());
                let cos_gs = (ca * cb - cg) / (sa * sb);
                let sin_gs = c.clone() * vstar / (a_len.clone() * b_len.clone());
                let zero = scalar::<B>(0.0, &device);
                let a_star = Tensor::cat(vec![a_len, zero.clone(), zero.clone()], 0);
                let b_star = Tensor::cat(
                    vec![b_len.clone() * cos_gs.clone(), b_len * sin_gs.clone(), zero.clone()],
                    0,
                );
                let c_star = Tensor::cat(
                    vec![
                        c_len.clone() * cos_bs.clone(),
                        c_len.clone() * (cos_as - cos_bs * cos_gs) / sin_gs.clone(),
                        c_len * v.clone() / (a.clone() * b.clone() * c.clone() * sin_gs),
                    ],
                    0,
                );
                ([a_star, b_star, c_star], Some(([a, b, c], v)))
            }
        };
        // The three vectors go through each step together, as the rows of one `[3, 3]` batch
        // (the same arithmetic per vector as one at a time, a third of the graph's ops).
        let stars = rotate_xyz(&Tensor::stack::<2>(stars.to_vec(), 0), mx, my, mz);
        // Rows b×c, c×a, a×b of the rows a, b, c of `m`.
        let pair_crosses = |m: &Tensor<B, 2>| {
            let row = |i: usize| m.clone().narrow(0, i, 1);
            cross(&Tensor::cat(vec![row(1), row(2), row(0)], 0), &Tensor::cat(vec![row(2), row(0), row(1)], 0))
        };
        let mut crosses = pair_crosses(&stars);
        let mut vstar = dot(&stars.clone().narrow(0, 0, 1), &crosses.clone().narrow(0, 0, 1)).reshape([1]);
        if let Some(([a, b, c], v)) = user_cell {
            // Force |b*×c*| = a/V etc. so the given lengths are reproduced exactly.
            let magnitudes = Tensor::cat(vec![a / v.clone(), b / v.clone(), c / v.clone()], 0).reshape([3, 1]);
            crosses = crosses.clone() / norm(&crosses) * magnitudes;
            vstar = v.recip();
        }
        let volume = vstar.clone().recip();
        let real = crosses * volume.clone().reshape([1, 1]);
        let reciprocal = pair_crosses(&real) * vstar.reshape([1, 1]);
        let three = |m: &Tensor<B, 2>| {
            let r = rows(m);
            [r[0].clone(), r[1].clone(), r[2].clone()]
        };
        CrystalGeometry {
            real: three(&(real * 1e-10)),
            reciprocal: three(&reciprocal),
            volume,
        }
    }

    /// |a|, |b|, |c| in metres (host values, for discrete choices such as N from crystal size).
    pub fn lengths_m(&self) -> [f64; 3] {
        self.real.clone().map(|v| to_f64(&norm(&v)))
    }

    /// Rows a, b, c of the unrotated cell as a `[3, 3]` matrix (m).
    pub fn cell_matrix(&self) -> Tensor<B, 2> {
        Tensor::stack::<2>(self.real.to_vec(), 0)
    }
}

/// Cells rotated by every φ step about the spindle: `[Φ, 3, 3]` (rows a, b, c in metres),
/// with φ_i = φ0 + i·Δφ.
pub fn phi_rotated_cells<B: Backend>(
    cell: &Tensor<B, 2>,
    spindle: [f64; 3],
    phi_start: &Tensor<B, 1>,
    phi_step: &Tensor<B, 1>,
    steps: usize,
) -> Tensor<B, 3> {
    let device = cell.device();
    let idx = tensor::<B, 1>((0..steps).map(|i| i as f64).collect(), [steps], &device);
    let phi = (idx * phi_step.clone() + phi_start.clone()).reshape([steps, 1, 1]);
    let (s, c) = (phi.clone().sin(), phi.cos());
    let u = vec3::<B>(spindle, &device).reshape([1, 1, 3]);
    let v = cell.clone().unsqueeze_dim::<3>(0); // [1, 3, 3]
    let u_dot_v = dot(&u, &v); // [1, 3, 1]
    let u_cross_v = cross(&u.clone().expand([1, 3, 3]), &v);
    v * c.clone() + u_cross_v * s + u * u_dot_v * (c.neg() + 1.0)
}

/// Apply mosaic domain rotations: `[Φ, 3, 3]` × `[M, 3, 3]` → `[Φ·M, 3, 3]` with
/// `a_{φm} = U_m · a_φ`.
pub fn mosaic_cells<B: Backend>(phi_cells: Tensor<B, 3>, umats: &Tensor<B, 3>) -> Tensor<B, 3> {
    let [np, _, _] = phi_cells.dims();
    let [nm, _, _] = umats.dims();
    // new[φ,m,i,k] = Σ_j cell[φ,i,j]·U[m,k,j], elementwise (no matmul: see linalg::outer_dot3).
    let lhs = phi_cells.reshape([np, 1, 3, 1, 3]);
    let rhs = umats.clone().reshape([1, nm, 1, 3, 3]);
    (lhs * rhs).sum_dim(4).reshape([np * nm, 3, 3])
}
