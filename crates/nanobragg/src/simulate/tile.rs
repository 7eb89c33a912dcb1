//! One tile of pixels through the tensor-op reference path.

use burn::tensor::{backend::Backend, Bool, Int, Tensor, TensorData};

use crate::crystal::mosaic_cells;
use crate::detector::DetectorGeometry;
use crate::kernel::RenderBackend;
use crate::physics::lattice::grating::grating;
use crate::linalg::{dot, float_options, norm, outer_dot3, tensor, to_f64};
use crate::params::Params;
use crate::phi::EvaluationContext;
use crate::physics::polarization::{kahn_factor, source_frames};
use crate::physics::{capture, solid_angle};
use crate::physics::scattering::scattering_vector;
use crate::scene::LatticeShape;

use super::{phi_angles, Model, ScanState, Simulator};

/// Loop extents of a tile: P pixels, T sensor layers, O sub-pixels, S sources.
#[derive(Debug, Clone, Copy)]
struct Extents {
    np: usize,
    nt: usize,
    no: usize,
    ns: usize,
}

impl Extents {
    /// Evaluations per pixel (T·O·S), the C program's summation order.
    fn per_pixel(&self) -> usize {
        self.nt * self.no * self.ns
    }

    /// Evaluations E = P·T·O·S.
    fn ne(&self) -> usize {
        self.np * self.per_pixel()
    }
}

/// Sensor layer indices `[1,T,1,1]` and the layer thickness `[1]` (m).
struct Layers<B: Backend> {
    index: Tensor<B, 4>,
    step: Tensor<B, 1>,
}

/// Per sub-pixel sample (sensor layer × sub-pixel) of a tile, `[P,T,O,·]`.
pub(crate) struct Samples<B: Backend> {
    /// Positions on the detector `[P,T,O,3]` (m).
    pub(crate) position: Tensor<B, 4>,
    /// Distances from the sample `[P,T,O,1]` (m).
    pub(crate) airpath: Tensor<B, 4>,
    /// Unit diffracted directions `[P,T,O,3]`.
    pub(crate) diffracted: Tensor<B, 4>,
    /// Solid angles `[P,T,O,1]` (sr).
    pub(crate) omega: Tensor<B, 4>,
    /// Capture fractions `[P,T,O,1]`.
    pub(crate) capture: Tensor<B, 4>,
}

/// Per evaluation (sample × source) of a tile.
pub(crate) struct Evaluations<B: Backend> {
    /// Scattering vectors `[E,3]` (m⁻¹).
    pub(crate) scattering: Tensor<B, 2>,
    /// Evaluations that run (not culled by `-dmin`) `[E]`.
    pub(crate) active: Tensor<B, 1, Bool>,
    /// Kahn polarization factors `[P,T,O,S,1]`.
    pub(crate) polar: Tensor<B, 5>,
}

/// Per evaluation × step (φ step × mosaic domain), `[E,K]`.
pub(crate) struct Steps<B: Backend> {
    /// Cells per step `[K,3,3]` (m) for evaluations the φ policy does not override…
    pub(crate) cells: Tensor<B, 3>,
    /// …and its substitutions: evaluations `[E]` and their cells `[K,3,3]` (kept on request).
    pub(crate) cell_overrides: Vec<(Tensor<B, 1, Bool>, Tensor<B, 3>)>,
    /// Fractional Miller indices h, k, l.
    pub(crate) hkl: [Tensor<B, 2>; 3],
    /// Lattice factor per axis (SQUARE shape, kept on request).
    pub(crate) f_latt_axes: Option<[Tensor<B, 2>; 3]>,
    /// Lattice factor.
    pub(crate) f_latt: Tensor<B, 2>,
    /// Structure factor.
    pub(crate) f_cell: Tensor<B, 2>,
}

/// What a tile's value was computed from, kept on request (see [`crate::trace`]).
pub(crate) struct Intermediates<B: Backend> {
    pub(crate) samples: Samples<B>,
    pub(crate) evaluations: Evaluations<B>,
    pub(crate) steps: Steps<B>,
    /// Accumulated intensity `[P]` before scaling (water background included).
    pub(crate) intensity: Tensor<B, 1>,
    /// Capture fraction, polarization and solid angle applied once per pixel, `[P]` each
    /// (None where applied per sub-pixel or not at all).
    pub(crate) factors: [Option<Tensor<B, 1>>; 3],
}

impl<B: RenderBackend> Simulator<B> {
    /// Intensities `[P]` of the pixels `tile` (indices `slow·fpixels + fast`), updating the
    /// scan state carried to the next tile: the fused kernel where there is one, else
    /// [`Simulator::tensor_tile`].
    pub(super) fn tile_intensity(
        &self,
        p: &Params<B>,
        m: &Model<B>,
        tile: &[usize],
        state: &mut ScanState,
    ) -> Tensor<B, 1> {
        match self.fused_tile_on_device(p, m, tile, state) {
            Some(values) => values,
            None => self.tensor_tile(p, m, tile, state, false).0,
        }
    }

    /// As [`Simulator::tile_intensity`] through tensor ops, with the tile's intermediates when
    /// `keep` is on.
    pub(super) fn tensor_tile(
        &self,
        p: &Params<B>,
        m: &Model<B>,
        tile: &[usize],
        state: &mut ScanState,
        keep: bool,
    ) -> (Tensor<B, 1>, Option<Intermediates<B>>) {
        let any_before = state.any_before;
        let os = self.plan.oversample;
        let ds = &self.setup.detector;
        let x = Extents { np: tile.len(), nt: ds.thick_steps, no: os * os, ns: self.setup.beam.sources.len() };
        let (position, layers) = self.subpixel_positions(p, m, tile, x);
        let samples = self.samples(p, m, position, layers, x);
        let evaluations = self.evaluations(p, m, &samples, x);
        let steps = self.steps(p, m, &evaluations, any_before, x, keep, state);
        let intensity = self.sum_intensity(m, &samples, &evaluations, &steps, x);
        let (factor, factors) = self.pixel_factors(m, &samples, &evaluations, x);
        if !any_before {
            state.any_before = to_f64(&evaluations.active.clone().float().sum()) > 0.0;
        }
        let value = intensity.clone() * factor;
        let kept = keep.then(|| Intermediates { samples, evaluations, steps, intensity, factors });
        (value, kept)
    }

    /// Sub-pixel positions `[P,T,O,3]` (m, lab frame) of the pixels `tile`, with the sensor
    /// layers they were stepped through.
    fn subpixel_positions(&self, p: &Params<B>, m: &Model<B>, tile: &[usize], x: Extents) -> (Tensor<B, 4>, Layers<B>) {
        let ds = &self.setup.detector;
        let device = p.pixel.device();
        let os = self.plan.oversample;
        let Extents { np, nt, no, .. } = x;
        // Sub-pixel centres on the detector plane (m): [P, 1, O, 1].
        let fast: Vec<f64> = tile.iter().map(|&i| (i % ds.fpixels) as f64).collect();
        let slow: Vec<f64> = tile.iter().map(|&i| (i / ds.fpixels) as f64).collect();
        let sub_f: Vec<f64> = (0..no).map(|o| (o % os) as f64).collect();
        let sub_s: Vec<f64> = (0..no).map(|o| (o / os) as f64).collect();
        let subpixel = crate::linalg::div_exact(p.pixel.clone(), os as f64);
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
        (pos.expand([np, nt, no, 3]), Layers { index: layers, step: layer_step })
    }

    /// Distance, direction, solid angle and capture fraction of every sample.
    fn samples(&self, p: &Params<B>, m: &Model<B>, pos: Tensor<B, 4>, layers: Layers<B>, x: Extents) -> Samples<B> {
        let ds = &self.setup.detector;
        let r = norm(&pos); // [P,T,O,1]
        let d = pos.clone() / r.clone();
        let omega = solid_angle::tensor(&r, &p.pixel, &m.det.close_distance, ds.point_pixel);
        let capture = if ds.thick_m > 0.0 {
            capture::tensor(&d, &m.det.odet, layers.index, layers.step, &p.mu)
        } else {
            Tensor::ones([x.np, x.nt, x.no, 1], float_options::<B>(&p.pixel.device()))
        };
        Samples { position: pos, airpath: r, diffracted: d, omega, capture }
    }

    /// Scattering vectors, `-dmin` culling and polarization of every evaluation.
    fn evaluations(&self, p: &Params<B>, m: &Model<B>, s: &Samples<B>, x: Extents) -> Evaluations<B> {
        let samp = &self.setup.sampling;
        let ne = x.ne();
        let d5 = s.diffracted.clone().unsqueeze_dim::<5>(3); // [P,T,O,1,3]
        let q = scattering_vector(&s.position, &s.airpath, &m.inc, &m.lambda);
        let q = q.reshape([ne, 3]);
        let active: Tensor<B, 1, Bool> = if samp.dmin_m > 0.0 {
            let stol = norm(&q).reshape([ne]) * 0.5;
            // culled when stol > 0 and dmin > 0.5/stol, i.e. stol·dmin > 0.5
            stol.mul_scalar(samp.dmin_m).lower_equal_elem(0.5)
        } else {
            Tensor::<B, 1, Int>::ones([ne], &p.pixel.device()).equal_elem(1)
        };
        let polar = kahn_factor(
            &d5,
            &m.inc,
            &source_frames(&m.inc_host, self.setup.detector.axes.polar),
            &p.polarization_k,
        ); // [P,T,O,S,1]
        Evaluations { scattering: q, active, polar }
    }

    /// Cells per (φ, domain) from the φ policy, Miller indices, lattice and structure factors of
    /// every evaluation × step. With `keep`, also the policy's overrides and the SQUARE axis
    /// factors.
    #[allow(clippy::too_many_arguments)]
    fn steps(
        &self,
        p: &Params<B>,
        m: &Model<B>,
        e: &Evaluations<B>,
        any_before: bool,
        x: Extents,
        keep: bool,
        state: &mut ScanState,
    ) -> Steps<B> {
        let ne = x.ne();
        let context = EvaluationContext { active: e.active.clone().reshape([x.np, x.per_pixel()]), any_before };
        let phi_rad = phi_angles(p, self.setup.crystal.phi_steps);
        let cells = self.phi_policy.cells(m.phi_cells.clone(), m.crystal.cell_matrix(), &phi_rad, &context);
        let miller = |table: &Tensor<B, 3>| -> [Tensor<B, 2>; 3] {
            let k = table.dims()[0];
            [0, 1, 2].map(|row| {
                let axis = table.clone().narrow(1, row, 1).reshape([k, 3]);
                outer_dot3(&e.scattering, &axis) // [E, K]
            })
        };
        let base_table = mosaic_cells(cells.base, &m.umats); // [K,3,3]
        let mut hkl = miller(&base_table);
        let mut kept_overrides = Vec::new();
        let samples = x.np * x.nt * x.no;
        for over in cells.overrides {
            let sel = over.evaluations.reshape([samples, 1]);
            let sel = sel.expand([samples, x.ns]).reshape([ne, 1]);
            let table = mosaic_cells(over.cells, &m.umats);
            let alt = miller(&table);
            hkl = [0, 1, 2].map(|i| {
                let k = hkl[i].dims()[1];
                hkl[i].clone().mask_where(sel.clone().expand([ne, k]), alt[i].clone())
            });
            if keep {
                kept_overrides.push((sel.reshape([ne]), table));
            }
        }
        let [h, k, l] = &hkl;
        let f_latt = self.lattice_factor(m, h, k, l);
        let f_latt_axes = (keep && self.setup.crystal.shape == LatticeShape::Square).then(|| {
            let [na, nb, nc] = &m.n_cells;
            let nv = self.plan.n_cells;
            [grating(h.clone(), na, nv[0]), grating(k.clone(), nb, nv[1]), grating(l.clone(), nc, nv[2])]
        });
        let runs_f_latt = if self.setup.sampling.water_m == 0.0 {
            Some(f_latt.clone().not_equal_elem(0.0))
        } else {
            None
        };
        let f_cell = self.structure_factor(p, [h, k, l], &e.active, runs_f_latt, state);
        Steps { cells: base_table, cell_overrides: kept_overrides, hkl, f_latt_axes, f_latt, f_cell }
    }

    /// Accumulated intensity `[P]` before scaling (water background included): the plain sum
    /// where no factor is applied per sub-pixel, else the C program's running sum.
    fn sum_intensity(&self, m: &Model<B>, s: &Samples<B>, e: &Evaluations<B>, st: &Steps<B>, x: Extents) -> Tensor<B, 1> {
        let samp = &self.setup.sampling;
        let Extents { np, nt, no, ns } = x;
        let ne = x.ne();
        let term = st.f_cell.clone().powi_scalar(2) * st.f_latt.clone().powi_scalar(2); // [E,K]
        let active_f = e.active.clone().float().reshape([ne, 1]);
        let sum_order = x.per_pixel();
        let flags = (samp.oversample_thick, samp.oversample_polar, samp.oversample_omega);
        let i_bg = m.i_bg.clone().reshape([1]);
        if flags == (false, false, false) {
            let per_eval = (term * active_f).sum_dim(1).reshape([np, sum_order]);
            return per_eval.sum_dim(1).reshape([np]) + i_bg;
        }
        // Running sum: I ← (I + term)·c after every term that is not skipped.
        let kk = term.dims()[1];
        let device = term.device();
        let mut c5 = Tensor::<B, 5>::ones([np, nt, no, ns, 1], float_options::<B>(&device));
        if flags.0 {
            c5 = c5 * s.capture.clone().unsqueeze_dim::<5>(3);
        }
        if flags.1 {
            c5 = c5 * e.polar.clone();
        }
        if flags.2 {
            c5 = c5 * s.omega.clone().unsqueeze_dim::<5>(3);
        }
        let c = c5.reshape([ne, 1]).expand([ne, kk]);
        let mut runs = e.active.clone().reshape([ne, 1]).expand([ne, kk]);
        if samp.water_m == 0.0 {
            runs = runs.bool_and(st.f_latt.clone().not_equal_elem(0.0));
        }
        let c = c.mask_fill(runs.clone().bool_not(), 1.0);
        let term = term.mask_fill(runs.bool_not(), 0.0);
        let len = sum_order * kk;
        let c = c.reshape([np, len]);
        let term = term.reshape([np, len]);
        let suffix = c.flip([1]).cumprod(1).flip([1]); // Π_{m ≥ n} c_m
        let first = suffix.clone().narrow(1, 0, 1).reshape([np]);
        (term * suffix).sum_dim(1).reshape([np]) + first * i_bg
    }

    /// The scale times the factors applied once per pixel (C: values of the first sub-pixel /
    /// evaluation), `[P]`, with those factors (capture, polarization, solid angle; None where
    /// applied per sub-pixel or not at all).
    fn pixel_factors(
        &self,
        m: &Model<B>,
        s: &Samples<B>,
        e: &Evaluations<B>,
        x: Extents,
    ) -> (Tensor<B, 1>, [Option<Tensor<B, 1>>; 3]) {
        let samp = &self.setup.sampling;
        let Extents { np, nt, .. } = x;
        let mut factor = m.scale.clone().reshape([1]).expand([np]);
        let mut applied: [Option<Tensor<B, 1>>; 3] = [None, None, None];
        if !samp.oversample_thick {
            let last_layer = s.capture.clone().narrow(1, nt - 1, 1).narrow(2, 0, 1).reshape([np]);
            factor = factor * last_layer.clone();
            applied[0] = Some(last_layer);
        }
        if !samp.oversample_polar && !self.setup.beam.nopolar {
            let active = e.active.clone().reshape([np, x.per_pixel()]);
            let pol = first_active(e.polar.clone().reshape([np, x.per_pixel()]), &active);
            factor = factor * pol.clone();
            applied[1] = Some(pol);
        }
        if !samp.oversample_omega {
            let first = s.omega.clone().narrow(1, 0, 1).narrow(2, 0, 1).reshape([np]);
            factor = factor * first.clone();
            applied[2] = Some(first);
        }
        (factor, applied)
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
