//! The tensors a probed tile keeps, and their conversion to host [`PixelReport`]s.

use std::sync::Arc;

use burn::tensor::{backend::Backend, Tensor};

use crate::simulate::Intermediates;

use super::{EvaluationValues, PixelReport, SceneValues, StepValues, SubpixelValues};

/// Scene-wide tensors of a probed render, with the host values that need no tensor.
pub(crate) struct SceneProbe<B: Backend> {
    pub pix0: Tensor<B, 1>,
    pub fdet: Tensor<B, 1>,
    pub sdet: Tensor<B, 1>,
    pub odet: Tensor<B, 1>,
    pub close_distance: Tensor<B, 1>,
    pub reciprocal: [Tensor<B, 1>; 3],
    /// `[S, 3]`.
    pub incident: Tensor<B, 2>,
    /// `[S]` (m).
    pub lambda: Tensor<B, 1>,
    pub fluence: Tensor<B, 1>,
    pub wavelength: Tensor<B, 1>,
    pub phi_deg: Vec<f64>,
    pub domains: usize,
    pub steps: usize,
    pub oversample_flags: [bool; 3],
    pub square_lattice: bool,
    pub water_m: f64,
}

impl<B: Backend> SceneProbe<B> {
    pub fn values(self) -> SceneValues {
        let v3 = |t: Tensor<B, 1>| to3(&host(t));
        let incident = host(self.incident.reshape([-1]));
        SceneValues {
            pix0: v3(self.pix0),
            fdet: v3(self.fdet),
            sdet: v3(self.sdet),
            odet: v3(self.odet),
            close_distance: host(self.close_distance)[0],
            reciprocal: self.reciprocal.map(v3),
            incident: incident.chunks(3).map(to3).collect(),
            lambda_m: host(self.lambda),
            phi_deg: self.phi_deg,
            domains: self.domains,
            fluence: host(self.fluence)[0],
            steps: self.steps,
            oversample_flags: self.oversample_flags,
            square_lattice: self.square_lattice,
            water_m: self.water_m,
            lambda0_m: host(self.wavelength)[0],
        }
    }
}

/// A probed tile of P pixels: the intermediates its values were computed from (T layers,
/// O sub-pixels, S sources, K steps; E = P·T·O·S evaluations) and the values `[P]`.
pub(crate) struct TileProbe<B: Backend> {
    pub kept: Intermediates<B>,
    pub value: Tensor<B, 1>,
}

/// Loop extents of a tile.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TileDims {
    pub layers: usize,
    pub subpixels: usize,
    pub sources: usize,
    pub steps: usize,
}

/// A probed tile's tensors copied to the host, flattened.
struct TileHost {
    position: Vec<f64>,
    airpath: Vec<f64>,
    omega: Vec<f64>,
    diffracted: Vec<f64>,
    capture: Vec<f64>,
    scattering: Vec<f64>,
    active: Vec<f64>,
    polar: Vec<f64>,
    base_cells: Vec<f64>,
    overrides: Vec<(Vec<f64>, Vec<f64>)>,
    hkl: [Vec<f64>; 3],
    axes: Option<[Vec<f64>; 3]>,
    f_latt: Vec<f64>,
    f_cell: Vec<f64>,
    intensity: Vec<f64>,
    factors: [Option<Vec<f64>>; 3],
    value: Vec<f64>,
}

impl<B: Backend> TileProbe<B> {
    /// One report per pixel of `tile` (indices `slow·fpixels + fast`).
    pub fn reports(
        self,
        tile: &[usize],
        fpixels: usize,
        dims: TileDims,
        scene: &Arc<SceneValues>,
    ) -> Vec<PixelReport> {
        let h = self.into_host();
        let mut out = Vec::with_capacity(tile.len());
        for (p, &idx) in tile.iter().enumerate() {
            let subs = h.subpixels(p, dims);
            let evaluations = h.evaluations(p, dims);
            let factors = h.pixel_factors(p, &subs, &evaluations, scene.oversample_flags);
            out.push(PixelReport {
                fast: idx % fpixels,
                slow: idx / fpixels,
                scene: scene.clone(),
                factors,
                subpixels: subs,
                evaluations,
                intensity: h.intensity[p],
                value: h.value[p],
            });
        }
        out
    }

    /// Every kept tensor copied to the host as a flat f64 vector.
    fn into_host(self) -> TileHost {
        let Intermediates { samples, evaluations, steps, intensity, factors } = self.kept;
        TileHost {
            position: flat(samples.position),
            airpath: flat(samples.airpath),
            omega: flat(samples.omega),
            diffracted: flat(samples.diffracted),
            capture: flat(samples.capture),
            scattering: flat(evaluations.scattering),
            active: host(evaluations.active.float()),
            polar: flat(evaluations.polar),
            base_cells: flat(steps.cells),
            overrides: steps
                .cell_overrides
                .into_iter()
                .map(|(sel, cells)| (host(sel.float()), flat(cells)))
                .collect(),
            hkl: steps.hkl.map(flat),
            axes: steps.f_latt_axes.map(|a| a.map(flat)),
            f_latt: flat(steps.f_latt),
            f_cell: flat(steps.f_cell),
            intensity: host(intensity),
            factors: factors.map(|f| f.map(host)),
            value: host(self.value),
        }
    }
}

impl TileHost {
    /// The sensor layer × sub-pixel samples of pixel `p`.
    fn subpixels(&self, p: usize, dims: TileDims) -> Vec<SubpixelValues> {
        let samples = dims.layers * dims.subpixels; // per pixel
        (0..samples)
            .map(|i| {
                let s = p * samples + i;
                SubpixelValues {
                    position: to3(&self.position[3 * s..]),
                    airpath: self.airpath[s],
                    omega: self.omega[s],
                    diffracted: to3(&self.diffracted[3 * s..]),
                    capture: self.capture[s],
                }
            })
            .collect()
    }

    /// The evaluations (sub-pixel sample × source) of pixel `p`, with their steps.
    fn evaluations(&self, p: usize, dims: TileDims) -> Vec<EvaluationValues> {
        let TileDims { layers, subpixels, sources, .. } = dims;
        let evals = layers * subpixels * sources; // per pixel
        (0..evals)
            .map(|j| {
                let e = p * evals + j;
                EvaluationValues {
                    subpixel: j / sources,
                    source: j % sources,
                    scattering: to3(&self.scattering[3 * e..]),
                    active: self.active[e] != 0.0,
                    polar: self.polar[e],
                    steps: self.steps(e, dims.steps),
                }
            })
            .collect()
    }

    /// The φ × mosaic steps of evaluation `e`, with the cells its φ policy chose.
    fn steps(&self, e: usize, steps: usize) -> Vec<StepValues> {
        let mut cells = &self.base_cells;
        for (sel, alt) in &self.overrides {
            if sel[e] != 0.0 {
                cells = alt;
            }
        }
        let (hkl, axes) = (&self.hkl, &self.axes);
        (0..steps)
            .map(|k| {
                let ek = e * steps + k;
                let c = &cells[9 * k..9 * k + 9];
                StepValues {
                    cell_m: [to3(&c[0..]), to3(&c[3..]), to3(&c[6..])],
                    hkl: [hkl[0][ek], hkl[1][ek], hkl[2][ek]],
                    f_latt_axes: axes.as_ref().map(|a| [a[0][ek], a[1][ek], a[2][ek]]),
                    f_latt: self.f_latt[ek],
                    f_cell: self.f_cell[ek],
                }
            })
            .collect()
    }

    /// Capture, polarization and solid angle of pixel `p`: applied once, or the last
    /// per-sub-pixel value where oversampled, or 1.
    fn pixel_factors(
        &self,
        p: usize,
        subs: &[SubpixelValues],
        evaluations: &[EvaluationValues],
        flags: [bool; 3],
    ) -> [f64; 3] {
        let [cap, pol, om] = &self.factors;
        let last_sub = subs.last().expect("at least one sub-pixel");
        let last_polar = evaluations
            .iter()
            .rev()
            .find(|e| e.active)
            .map_or(1.0, |e| e.polar);
        let factor = |f: &Option<Vec<f64>>, oversampled: bool, last: f64| match f {
            Some(v) => v[p],
            None if oversampled => last,
            None => 1.0,
        };
        [
            factor(cap, flags[0], last_sub.capture),
            factor(pol, flags[1], last_polar),
            factor(om, flags[2], last_sub.omega),
        ]
    }
}

/// A tensor's values on the host, as f64 (row-major).
fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .expect("converted to f64")
}

/// [`host`] of a tensor of any rank, flattened first.
fn flat<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    host(t.reshape([-1]))
}

fn to3(v: &[f64]) -> [f64; 3] {
    [v[0], v[1], v[2]]
}
