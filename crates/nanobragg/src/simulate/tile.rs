//! One tile of pixels through the tensor-op reference path.

use burn::tensor::{backend::Backend, Bool, Int, Tensor, TensorData};

use crate::crystal::mosaic_cells;
use crate::detector::DetectorGeometry;
use crate::error::Result;
use crate::kernel::RenderBackend;
use crate::lattice::grating;
use crate::linalg::{dot, float_options, norm, outer_dot3, tensor, to_f64};
use crate::params::Params;
use crate::phi::EvaluationContext;
use crate::polarization::{kahn_factor, source_frames};
use crate::scattering::scattering_vector;
use crate::scene::LatticeShape;
use crate::trace::TileProbe;

use super::{phi_angles, Model, ScanState, Simulator};

impl<B: RenderBackend> Simulator<B> {
    /// Intensities `[P]` of the pixels `tile` (indices `slow·fpixels + fast`), updating the
    /// scan state carried to the next tile.
    pub(super) fn tile_intensity(
        &self,
        p: &Params<B>,
        m: &Model<B>,
        tile: &[usize],
        state: &mut ScanState,
        probe: Option<&mut Option<TileProbe<B>>>,
    ) -> Result<Tensor<B, 1>> {
        let any_before = state.any_before;
        if probe.is_none() {
            if let Some(values) = self.fused_tile_on_device(p, m, tile, state) {
                return Ok(values);
            }
        }
        let setup = &self.setup;
        let ds = &setup.detector;
        let samp = &setup.sampling;
        let device = p.pixel.device();
        let np = tile.len();
        let os = self.plan.oversample;
        let (nt, no, ns) = (ds.thick_steps, os * os, setup.beam.sources.len());

        // Sub-pixel centres on the detector plane (m): [P, 1, O, 1].
        let fast: Vec<f64> = tile.iter().map(|&i| (i % ds.fpixels) as f64).collect();
        let slow: Vec<f64> = tile.iter().map(|&i| (i / ds.fpixels) as f64).collect();
        let sub_f: Vec<f64> = (0..no).map(|o| (o % os) as f64).collect();
        let sub_s: Vec<f64> = (0..no).map(|o| (o / os) as f64).collect();
        let subpixel = p.pixel.clone() / os as f64;
        let coord = |pix: Vec<f64>, sub: Vec<f64>| {
            let pix = tensor::<B, 4>(pix, [np, 1, 1, 1], &device) * os as f64;
            let sub = tensor::<B, 4>(sub, [1, 1, no, 1], &device);
            let half = subpixel.clone().reshape([1, 1, 1, 1]) / 2.0;
            (pix + sub) * subpixel.clone().reshape([1, 1, 1, 1]) + half
        };
        let fdet = coord(fast, sub_f);
        let sdet = coord(slow, sub_s);
        let thick_coeff = if ds.thick_m > 0.0 { ds.thick_step_m / ds.thick_m } else { 0.0 };
        let layer_step = p.thickness.clone() * thick_coeff;
        let layers = tensor::<B, 4>((0..nt).map(|t| t as f64).collect(), [1, nt, 1, 1], &device);
        let odet = layers.clone() * layer_step.clone().reshape([1, 1, 1, 1]);
        let v4 = |v: &Tensor<B, 1>| v.clone().reshape([1, 1, 1, 3]);
        let mut pos = v4(&m.det.pix0)
            + fdet * v4(&m.det.fdet)
            + sdet * v4(&m.det.sdet)
            + odet * v4(&m.det.odet);
        if ds.curved {
            pos = curved_position(pos, &m.det);
        }
        let pos = pos.expand([np, nt, no, 3]);
        let r = norm(&pos); // [P,T,O,1]
        let probing = probe.is_some();
        let kept_pos = probing.then(|| (pos.clone(), r.clone()));
        let d = pos.clone() / r.clone();
        let omega = if ds.point_pixel {
            r.clone().powi_scalar(2).recip()
        } else {
            let pix2 = p.pixel.clone().powi_scalar(2).reshape([1, 1, 1, 1]);
            pix2 * m.det.close_distance.clone().reshape([1, 1, 1, 1]) / r.clone().powi_scalar(3)
        };
        let capture = if ds.thick_m > 0.0 {
            let rho = dot(&d, &v4(&m.det.odet));
            let mu_step = (layer_step * p.mu.clone()).reshape([1, 1, 1, 1]);
            let a = (layers.clone() * mu_step.clone() / rho.clone()).neg().exp();
            let b = ((layers + 1.0) * mu_step / rho).neg().exp();
            a - b
        } else {
            Tensor::ones([np, nt, no, 1], float_options::<B>(&device))
        };

        // Scattering vectors [P,T,O,S,3] and d_min culling.
        let d5 = d.clone().unsqueeze_dim::<5>(3); // [P,T,O,1,3]
        let q = scattering_vector(&pos, &r, &m.inc, &m.lambda);
        let ne = np * nt * no * ns;
        let q = q.reshape([ne, 3]);
        let active: Tensor<B, 1, Bool> = if samp.dmin_m > 0.0 {
            let stol = norm(&q).reshape([ne]) * 0.5;
            // culled when stol > 0 and dmin > 0.5/stol, i.e. stol·dmin > 0.5
            stol.mul_scalar(samp.dmin_m).lower_equal_elem(0.5)
        } else {
            Tensor::<B, 1, Int>::ones([ne], &device).equal_elem(1)
        };
        let polar = kahn_factor(
            &d5,
            &m.inc,
            &source_frames(&m.inc_host, ds.axes.polar),
            &p.polarization_k,
        ); // [P,T,O,S,1]

        // Cells per (φ, domain): evaluate the φ policy for this tile.
        let context = EvaluationContext {
            active: active.clone().reshape([np, nt * no * ns]),
            any_before,
        };
        let phi_rad = phi_angles(p, self.setup.crystal.phi_steps);
        let cells = self.phi_policy.cells(
            m.phi_cells.clone(),
            m.crystal.cell_matrix(),
            &phi_rad,
            &context,
        );
        let miller = |table: &Tensor<B, 3>| -> [Tensor<B, 2>; 3] {
            let k = table.dims()[0];
            [0, 1, 2].map(|row| {
                let axis = table.clone().narrow(1, row, 1).reshape([k, 3]);
                outer_dot3(&q, &axis) // [E, K]
            })
        };
        let base_table = mosaic_cells(cells.base, &m.umats); // [K,3,3]
        let mut hkl = miller(&base_table);
        let mut kept_overrides = Vec::new();
        for over in cells.overrides {
            let sel = over.evaluations.reshape([np * nt * no, 1]);
            let sel = sel.expand([np * nt * no, ns]).reshape([ne, 1]);
            let table = mosaic_cells(over.cells, &m.umats);
            let alt = miller(&table);
            hkl = [0, 1, 2].map(|i| {
                let k = hkl[i].dims()[1];
                hkl[i].clone().mask_where(sel.clone().expand([ne, k]), alt[i].clone())
            });
            if probing {
                kept_overrides.push((sel.reshape([ne]), table));
            }
        }
        let [h, k, l] = hkl;
        let kk = h.dims()[1];

        let f_latt = self.lattice_factor(m, &h, &k, &l);
        let f_latt_axes = (probing && self.setup.crystal.shape == LatticeShape::Square).then(|| {
            let [na, nb, nc] = &m.n_cells;
            let nv = self.plan.n_cells;
            [grating(h.clone(), na, nv[0]), grating(k.clone(), nb, nv[1]), grating(l.clone(), nc, nv[2])]
        });
        let runs_f_latt = if samp.water_m == 0.0 {
            Some(f_latt.clone().not_equal_elem(0.0))
        } else {
            None
        };
        let f_cell = self.structure_factor(p, [&h, &k, &l], &active, runs_f_latt, state);
        let kept_f = probing.then(|| (f_cell.clone(), f_latt.clone(), [h.clone(), k.clone(), l.clone()]));
        let term = f_cell.powi_scalar(2) * f_latt.clone().powi_scalar(2); // [E,K]
        let active_f = active.clone().float().reshape([ne, 1]);

        let sum_order = nt * no * ns;
        let flags = (samp.oversample_thick, samp.oversample_polar, samp.oversample_omega);
        let i_bg = m.i_bg.clone().reshape([1]);
        let intensity = if flags == (false, false, false) {
            let per_eval = (term * active_f).sum_dim(1).reshape([np, sum_order]);
            per_eval.sum_dim(1).reshape([np]) + i_bg
        } else {
            // Running sum: I ← (I + term)·c after every term that is not skipped.
            let mut c5 = Tensor::<B, 5>::ones([np, nt, no, ns, 1], float_options::<B>(&device));
            if flags.0 {
                c5 = c5 * capture.clone().unsqueeze_dim::<5>(3);
            }
            if flags.1 {
                c5 = c5 * polar.clone();
            }
            if flags.2 {
                c5 = c5 * omega.clone().unsqueeze_dim::<5>(3);
            }
            let c = c5.reshape([ne, 1]).expand([ne, kk]);
            let mut runs = active.clone().reshape([ne, 1]).expand([ne, kk]);
            if samp.water_m == 0.0 {
                runs = runs.bool_and(f_latt.not_equal_elem(0.0));
            }
            let c = c.mask_fill(runs.clone().bool_not(), 1.0);
            let term = term.mask_fill(runs.bool_not(), 0.0);
            let len = sum_order * kk;
            let c = c.reshape([np, len]);
            let term = term.reshape([np, len]);
            let suffix = c.flip([1]).cumprod(1).flip([1]); // Π_{m ≥ n} c_m
            let first = suffix.clone().narrow(1, 0, 1).reshape([np]);
            (term * suffix).sum_dim(1).reshape([np]) + first * i_bg
        };

        // Factors applied once per pixel (C: values of the first sub-pixel / evaluation).
        let mut factor = m.scale.clone().reshape([1]).expand([np]);
        let mut applied: [Option<Tensor<B, 1>>; 3] = [None, None, None];
        if !flags.0 {
            let last_layer = capture.clone().narrow(1, nt - 1, 1).narrow(2, 0, 1).reshape([np]);
            factor = factor * last_layer.clone();
            applied[0] = Some(last_layer);
        }
        if !flags.1 {
            let pol = if setup.beam.nopolar {
                None
            } else {
                Some(first_active(polar.clone().reshape([np, sum_order]), &context.active))
            };
            if let Some(pol) = pol {
                factor = factor * pol.clone();
                applied[1] = Some(pol);
            }
        }
        if !flags.2 {
            let first = omega.clone().narrow(1, 0, 1).narrow(2, 0, 1).reshape([np]);
            factor = factor * first.clone();
            applied[2] = Some(first);
        }
        if !any_before {
            state.any_before = to_f64(&active.clone().float().sum()) > 0.0;
        }
        let value = intensity.clone() * factor;
        if let (Some(slot), Some((position, airpath)), Some((f_cell, f_latt, hkl))) =
            (probe, kept_pos, kept_f)
        {
            *slot = Some(TileProbe {
                position,
                airpath,
                omega,
                diffracted: d,
                capture,
                scattering: q,
                active,
                polar,
                cells: base_table,
                cell_overrides: kept_overrides,
                hkl,
                f_latt_axes,
                f_latt,
                f_cell,
                intensity,
                factors: applied,
                value: value.clone(),
            });
        }
        Ok(value)
    }
}

/// The C program's curved detector: the planar position's lab y and z components, divided by
/// the distance, are used as angles to swing `distance·b` about the slow then the fast axis.
fn curved_position<B: Backend>(pos: Tensor<B, 4>, det: &DetectorGeometry<B>) -> Tensor<B, 4> {
    let dist = det.distance.clone().reshape([1, 1, 1, 1]);
    let ang1 = pos.clone().narrow(3, 1, 1) / dist.clone();
    let ang2 = pos.narrow(3, 2, 1) / dist.clone();
    let v = det.beam.clone().reshape([1, 1, 1, 3]) * dist;
    let v = rotate_batched(v, &det.sdet, ang1);
    rotate_batched(v, &det.fdet, ang2)
}

/// Rodrigues rotation of vectors `v` `[..,3]` about a fixed unit axis by per-element angles `[..,1]`.
fn rotate_batched<B: Backend>(v: Tensor<B, 4>, axis: &Tensor<B, 1>, angle: Tensor<B, 4>) -> Tensor<B, 4> {
    let u = axis.clone().reshape([1, 1, 1, 3]);
    let dims = angle.dims();
    let v = v.expand([dims[0], dims[1], dims[2], 3]);
    let (s, c) = (angle.clone().sin(), angle.cos());
    let along = u.clone() * dot(&u.clone().expand([dims[0], dims[1], dims[2], 3]), &v) * (c.clone().neg() + 1.0);
    along + v.clone() * c + crate::linalg::cross(&u.expand([dims[0], dims[1], dims[2], 3]), &v) * s
}

/// Value of `x` `[P, N]` at the first `true` of `active` `[P, N]` per row; 0 where none is.
fn first_active<B: Backend>(x: Tensor<B, 2>, active: &Tensor<B, 2, Bool>) -> Tensor<B, 1> {
    let [p, n] = x.dims();
    let device = x.device();
    let rank = Tensor::<B, 2>::from_data(
        TensorData::new((0..n).map(|j| (n - j) as f64).collect::<Vec<_>>(), [1, n]),
        float_options::<B>(&device),
    );
    let score = active.clone().float() * rank;
    let idx = score.clone().argmax(1); // [P,1]
    let any = score.max_dim(1).greater_elem(0.0).reshape([p]);
    let picked = x.gather(1, idx).reshape([p]);
    picked.mask_fill(any.bool_not(), 0.0)
}
