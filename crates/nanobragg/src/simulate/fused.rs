//! Tiles through the backend's fused kernel ([`crate::kernel`]): the packed inputs θ of a tile,
//! built with tensor ops from the parameters — on the render's device, or on the host for
//! backends where every small op is a kernel launch ([`RenderBackend::inputs_on_host`]).

use burn::tensor::{backend::Backend, Tensor, TensorPrimitive};
use burn_ndarray::{NdArray, NdArrayDevice};
use std::sync::Arc;

use super::{Model, ScanState, Simulator};
use crate::crystal::mosaic_cells;
use crate::error::Result;
use crate::kernel::{Engine, Pixels, RenderBackend, TileSpec};
use crate::linalg::{check_float_dtype, float_options};
use crate::params::Params;
use crate::polarization::source_frames;
use crate::structure_factors::GridExtent;

/// The backend host-side inputs are built on: f64 on the CPU, like the planner, whatever the
/// render dtype (θ is rounded once, when it is uploaded).
type Host = NdArray<f64>;

impl<B: RenderBackend> Simulator<B> {
    /// Whether tiles may go to the backend's fused kernel: the engine allows it and the scene
    /// is one the kernel covers (flat detector, the spec's φ rule).
    pub(super) fn fused_eligible(&self) -> bool {
        self.options.engine == Engine::Auto
            && B::has_fused_kernel()
            && !self.setup.detector.curved
            && self.phi_policy.is_fresh()
    }

    /// The tile through the fused kernel with θ built on the host, for backends that ask for it
    /// ([`RenderBackend::inputs_on_host`]): the parameters are read back in one transfer, the
    /// detector/crystal model and θ are computed by the same generic code on the CPU, and θ is
    /// uploaded in one transfer — instead of about a hundred tiny launches on the device. The
    /// F grid stays on the device and is appended there. `None` when the backend does not ask
    /// for it, the scene is not eligible, or the kernel declines the tile.
    pub(super) fn fused_tile_from_host(
        &self,
        p: &Params<B>,
        tile: &[usize],
        state: &mut ScanState,
    ) -> Result<Option<Tensor<B, 1>>> {
        if !(B::inputs_on_host() && self.fused_eligible()) {
            return Ok(None);
        }
        let host = p.to_host::<Host>(&NdArrayDevice::Cpu)?;
        let model = self.model(&host)?;
        let (parts, spec) = self.fused_inputs(&host, &model, tile, state, p.f_grid.is_some());
        let device = p.pixel.device();
        let head = Tensor::cat(parts, 0).into_data().convert::<B::FloatElem>();
        let head = Tensor::<B, 1>::from_data(head, float_options::<B>(&device));
        check_float_dtype(&head, "packed kernel inputs")?;
        let theta = match (&p.f_grid, spec.grid) {
            (Some(values), Some(_)) => Tensor::cat(vec![head, values.clone()], 0),
            _ => head,
        };
        Ok(self.run_fused(theta, spec, state))
    }

    /// The tile through the fused kernel with θ built by tensor ops on the render's device
    /// (the graph autodiff follows back to the parameters). `None` when the scene is not
    /// eligible, the backend builds θ on the host instead, or the kernel declines the tile.
    pub(super) fn fused_tile_on_device(
        &self,
        p: &Params<B>,
        m: &Model<B>,
        tile: &[usize],
        state: &mut ScanState,
    ) -> Option<Tensor<B, 1>> {
        if B::inputs_on_host() || !self.fused_eligible() {
            return None;
        }
        let (mut parts, spec) = self.fused_inputs(p, m, tile, state, p.f_grid.is_some());
        if let (Some(values), Some(_)) = (&p.f_grid, spec.grid) {
            parts.push(values.clone());
        }
        self.run_fused(Tensor::cat(parts, 0), spec, state)
    }

    /// Offer the tile to the backend's kernel; updates the scan state when it renders.
    fn run_fused(&self, theta: Tensor<B, 1>, spec: TileSpec, state: &mut ScanState) -> Option<Tensor<B, 1>> {
        let out = B::fused_tile(theta.into_primitive().tensor(), &Arc::new(spec))?;
        if !state.any_before {
            state.any_before = out.any_active;
        }
        Some(Tensor::from_primitive(TensorPrimitive::Float(out.values)))
    }

    /// The packed inputs θ of a tile ([`crate::kernel::Layout`]) up to the F grid, as the
    /// parts to concatenate (tensor ops from the parameters, on any backend `C`), and the
    /// tile's discrete description. `has_grid`: whether an F grid follows in θ.
    fn fused_inputs<C: Backend>(
        &self,
        p: &Params<C>,
        m: &Model<C>,
        tile: &[usize],
        state: &ScanState,
        has_grid: bool,
    ) -> (Vec<Tensor<C, 1>>, TileSpec) {
        let setup = &self.setup;
        let ds = &setup.detector;
        let samp = &setup.sampling;
        let s = m.inc_host.len();
        let cells = mosaic_cells(m.phi_cells.clone(), &m.umats);
        let k = cells.dims()[0];
        let thick_coeff = if ds.thick_m > 0.0 { ds.thick_step_m / ds.thick_m } else { 0.0 };
        let grid = match (has_grid, setup.structure.grid.as_ref()) {
            (true, Some(g)) => Some(GridExtent {
                min: [g.h_min as i64, g.k_min as i64, g.l_min as i64],
                max: [g.h_max as i64, g.k_max as i64, g.l_max as i64],
            }),
            _ => None,
        };
        let [a_star, b_star, c_star] = m.crystal.reciprocal.clone();
        let parts = vec![
            m.det.pix0.clone(),
            m.det.fdet.clone(),
            m.det.sdet.clone(),
            m.det.odet.clone(),
            m.det.close_distance.clone().reshape([1]),
            p.pixel.clone(),
            p.thickness.clone() * thick_coeff,
            p.mu.clone(),
            p.polarization_k.clone(),
            m.n_cells[0].clone(),
            m.n_cells[1].clone(),
            m.n_cells[2].clone(),
            p.default_f.clone(),
            m.scale.clone().reshape([1]),
            m.i_bg.clone().reshape([1]),
            a_star,
            b_star,
            c_star,
            m.lambda.clone().reshape([s]),
            cells.reshape([k * 9]),
        ];
        let (e_in, b_in) = source_frames(&m.inc_host, ds.axes.polar);
        let triples = |v: Vec<f64>| v.chunks(3).map(|c| [c[0], c[1], c[2]]).collect();
        let spec = TileSpec {
            pixels: Pixels::of(tile),
            fpixels: ds.fpixels,
            oversample: self.plan.oversample,
            layers: ds.thick_steps,
            thick: ds.thick_m > 0.0,
            point_pixel: ds.point_pixel,
            incident: m.inc_host.clone(),
            e_in: triples(e_in),
            b_in: triples(b_in),
            cells: k,
            shape: setup.crystal.shape,
            fudge: setup.crystal.fudge,
            n_value: self.plan.n_cells,
            dmin_m: samp.dmin_m,
            water_zero: samp.water_m == 0.0,
            per_subpixel: [samp.oversample_thick, samp.oversample_polar, samp.oversample_omega],
            nopolar: setup.beam.nopolar,
            grid,
            interpolate: state.interpolate && grid.is_some(),
        };
        (parts, spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::to_vec;
    use crate::scene::Scene;
    use crate::setup::Setup;
    use crate::RenderOptions;
    use std::path::Path;

    type Device = NdArray<f64>;

    /// A scene that exercises every part of θ: triclinic cell with misset, φ steps, mosaic
    /// domains, divergence (several sources), dispersion, a thick sensor, detector rotations,
    /// 2θ, water.
    pub(super) fn busy_scene_pub() -> Setup {
        busy_scene()
    }

    fn busy_scene() -> Setup {
        let mut s = Scene::builtin_default();
        s.crystal.cell = Some([70.0, 80.0, 90.0, 85.0, 95.0, 105.0]);
        s.crystal.mosaic_spread_deg = Some(0.4);
        s.crystal.mosaic_domains = Some(3);
        s.spindle.phi_start_deg = Some(2.0);
        s.spindle.osc_deg = Some(1.0);
        s.spindle.phi_steps = Some(2);
        s.beam.hdiv_range_mrad = Some(0.4);
        s.beam.hdiv_steps = Some(2);
        s.beam.dispersion_percent = Some(0.5);
        s.beam.disp_steps = Some(2);
        s.detector.fpixels = Some(16);
        s.detector.spixels = Some(12);
        s.detector.rotx_deg = Some(2.0);
        s.detector.twotheta_deg = Some(4.0);
        s.detector.abs_depth_um = Some(300.0);
        s.detector.thick_um = Some(100.0);
        s.detector.thick_steps = Some(2);
        s.sampling.water_um = Some(50.0);
        Setup::from_scene(&s, Path::new(".")).expect("scene sets up")
    }

    /// θ built on the host (parameters read back, model on `Host`) is θ built on the device.
    #[test]
    fn host_built_inputs_equal_device_built_inputs() {
        let sim = Simulator::<Device>::new(busy_scene(), &Default::default(), RenderOptions::default())
            .expect("simulator");
        let tile = &sim.plan.pixels;
        let state = sim.scan_start();
        let on_device = {
            let model = sim.model(&sim.params).expect("model");
            let (parts, spec) = sim.fused_inputs(&sim.params, &model, tile, &state, false);
            (to_vec(&Tensor::cat(parts, 0)), spec)
        };
        let host = sim.params.to_host::<Host>(&NdArrayDevice::Cpu).expect("host copy");
        let on_host = {
            let model = sim.model(&host).expect("model");
            let (parts, spec) = sim.fused_inputs(&host, &model, tile, &state, false);
            (to_vec(&Tensor::cat(parts, 0)), spec)
        };
        assert_eq!(on_device.1, on_host.1, "same tile description");
        assert!(on_device.1.cells == 6 && on_device.1.incident.len() == 4, "scene has φ·mosaic cells and sources");
        assert_eq!(on_device.0.len(), on_host.0.len());
        for (i, (d, h)) in on_device.0.iter().zip(&on_host.0).enumerate() {
            assert!(d.is_finite() && d == h, "θ[{i}]: device {d} host {h}");
        }
    }

    /// The host copy holds every parameter's value and leaves the F grid on the device.
    #[test]
    fn host_copy_of_parameters_keeps_every_value() {
        let sim = Simulator::<Device>::new(busy_scene(), &Default::default(), RenderOptions::default())
            .expect("simulator");
        let host = sim.params.to_host::<Host>(&NdArrayDevice::Cpu).expect("host copy");
        let device_values: Vec<f64> = sim.params.small_tensors().iter().flat_map(to_vec).collect();
        let host_values: Vec<f64> = host.small_tensors().iter().flat_map(to_vec).collect();
        assert_eq!(device_values, host_values);
        assert_eq!(to_vec(&host.fluence), vec![sim.setup.beam.fluence]);
        assert_eq!(to_vec(&host.thickness), vec![sim.setup.detector.thick_m]);
        assert!(host.f_grid.is_none());
    }
}

#[cfg(test)]
mod emu_probe {
    use super::*;
    use crate::kernel::real::Real;
    use crate::linalg::{tensor, to_vec};
    use crate::RenderOptions;

    #[test]
    fn emulated_cuda_adjoint_matches_cpu_adjoint() {
        for variant in 0..4 {
            let mut setup = if variant == 0 { super::tests::busy_scene_pub() } else {
                let mut s = crate::scene::Scene::builtin_default();
                s.crystal.cell = Some([60.0, 62.0, 64.0, 89.0, 91.0, 90.5]);
                s.crystal.misset_deg = Some([5.0, -8.0, 12.0]);
                s.crystal.n_cells = Some([4.0, 4.0, 4.0]);
                s.beam.wavelength_a = Some(1.5);
                s.detector.distance_mm = Some(80.0);
                s.detector.fpixels = Some(28);
                s.detector.spixels = Some(28);
                s.detector.xbeam_mm = Some(2.3);
                s.detector.ybeam_mm = Some(0.9);
                s.detector.rotx_deg = Some(2.0);
                s.detector.roty_deg = Some(-3.0);
                s.detector.rotz_deg = Some(4.0);
                s.detector.twotheta_deg = Some(7.0);
                s.sampling.oversample = Some(1);
                s.spindle.phi_start_deg = Some(3.0);
                s.spindle.osc_deg = Some(0.4);
                s.spindle.phi_steps = Some(2);
                s.crystal.mosaic_spread_deg = Some(0.3);
                s.crystal.mosaic_domains = Some(2);
                s.crystal.mosaic_seed = Some(7);
                if variant >= 2 {
                    s.detector.abs_depth_um = Some(300.0);
                    s.detector.thick_um = Some(120.0);
                    s.detector.thick_steps = Some(2);
                }
                if variant == 3 { s.sampling.water_um = Some(0.03); }
                crate::setup::Setup::from_scene(&s, std::path::Path::new(".")).unwrap()
            };
            let sim0 = Simulator::<Host>::new(setup.clone(), &NdArrayDevice::Cpu, RenderOptions::default()).unwrap();
            let _ = &mut setup;
            let sim = sim0;
            let tile = &sim.plan.pixels;
            let state = sim.scan_start();
            let model = sim.model(&sim.params).unwrap();
            let (parts, mut spec) = sim.fused_inputs(&sim.params, &model, tile, &state, false);
            let theta = to_vec(&Tensor::cat(parts, 0));
            let _ = variant;
            spec.per_subpixel = [false; 3];
            let n = tile.len();
            let grad: Vec<f64> = (0..n).map(|i| 1.0 + 0.3 * ((i as f64) * 0.7).sin()).collect();
            let th = tensor::<Host, 1>(theta.clone(), [theta.len()], &NdArrayDevice::Cpu);
            let gr = tensor::<Host, 1>(grad.clone(), [n], &NdArrayDevice::Cpu);
            let reference = <Host as RenderBackend>::fused_tile_backward(
                th.into_primitive().tensor(), &Arc::new(spec.clone()), gr.into_primitive().tensor());
            let reference = to_vec(&Tensor::<Host, 1>::from_primitive(TensorPrimitive::Float(reference)));
            let mut consts = vec![0.8 * (f64::EPSILON * 362_880.0).powf(0.125), spec.dmin_m, std::f64::consts::PI];
            consts.extend(<f64 as Real>::SIN_COEFFICIENTS);
            consts.resize(12, 0.0);
            for s in 0..spec.incident.len() {
                consts.extend(spec.incident[s]);
                consts.extend(spec.e_in[s]);
                consts.extend(spec.b_in[s]);
            }
            let nt = theta.len();
            let mut partial = vec![0.0; nt * n];
            let Pixels::Run { first, .. } = spec.pixels else { panic!() };
            for i in 0..n {
                super::super::emu::adjoint_kernel(&theta, &consts, &grad, &mut partial, i, first, 0, n,
                    spec.fpixels, spec.oversample, spec.layers, spec.incident.len(), spec.cells,
                    spec.thick, spec.point_pixel, spec.nopolar, 9);
            }
            let emu: Vec<f64> = (0..nt).map(|j| partial[j * n..(j + 1) * n].iter().sum()).collect();
            println!("cells {} sources {} layers {} os {}", spec.cells, spec.incident.len(), spec.layers, spec.oversample);
            for j in 0..nt {
                let (a, b) = (emu[j], reference[j]);
                if (a - b).abs() > 1e-9 * b.abs().max(1e-30) {
                    println!("θ[{j}] emu {a:+.9e} cpu {b:+.9e}");
                }
            }
        }
    }
}
