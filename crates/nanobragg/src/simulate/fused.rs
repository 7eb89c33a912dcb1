//! Tiles through the backend's fused kernel ([`crate::kernel`]): the packed inputs θ of a tile,
//! built with tensor ops from the parameters — on the render's device, or on the host for
//! backends where every small op is a kernel launch ([`RenderBackend::inputs_on_host`]).

use burn::tensor::{backend::{AutodiffBackend, Backend}, Tensor, TensorPrimitive};
use std::sync::Arc;

use super::{Model, ScanState, Simulator};
use crate::crystal::mosaic_cells;
use crate::error::Result;
use crate::error::NanobraggError;
use crate::kernel::host_theta::{self, Host};
use super::host_pullback::{PullbackGraph, ThetaPullback};

use crate::kernel::{KernelId, PixelLoss, Pixels, RenderBackend, TileSpec};
use crate::linalg::{check_float_dtype, float_options, tensor, to_vec};
use crate::params::Params;
use crate::physics::polarization::source_frames;
use crate::physics::structure_factor::GridExtent;

impl<B: RenderBackend> Simulator<B> {
    /// The tile through the fused kernel with θ built on the host, for backends that ask for it
    /// ([`RenderBackend::inputs_on_host`]) and, on autodiff over such a backend, when no small
    /// parameter is tracked (a gradient through the F grid alone is kept: the grid is appended
    /// on the device). See [`Simulator::host_theta`]. `None` when the backend does not ask for
    /// it, the scene is not eligible, or the kernel declines the tile.
    pub(super) fn fused_tile_from_host(
        &self,
        p: &Params<B>,
        tile: &[usize],
        state: &mut ScanState,
    ) -> Result<Option<Tensor<B, 1>>> {
        let untracked = || {
            B::pullback_on_host()
                && !p.small_tensors().into_iter().any(|t| B::is_tracked(&t.into_primitive().tensor()))
        };
        let Some(kernel) = self.fused_kernel().filter(|_| B::inputs_on_host() || untracked()) else {
            return Ok(None);
        };
        self.untracked_host_tile(&packed_on_device(p), p.f_grid.as_ref(), tile, state, kernel)
    }

    /// The tile through `kernel` with θ built on the host from the packed small parameters with
    /// no graph ([`Host`]) and uploaded untracked, the F grid `grid` appended on the device.
    pub(super) fn untracked_host_tile(
        &self,
        packed: &[f64],
        grid: Option<&Tensor<B, 1>>,
        tile: &[usize],
        state: &mut ScanState,
        kernel: KernelId,
    ) -> Result<Option<Tensor<B, 1>>> {
        let (theta, spec) = self.host_theta(host_theta::leaf::<Host>(packed), grid.is_some(), tile, state, kernel)?;
        let head = upload::<B>(&theta, &self.params.pixel.device())?;
        Ok(self.run_fused(with_grid(head, grid, &spec), spec, state))
    }

    /// θ up to the F grid built on the host (f64) from `leaf`, the packed small parameters (in
    /// [`Params::small_tensors`] order) on a host backend `C` ([`Host`], or [`host_theta::HostAd`] for a
    /// graph to pull `θ̄` back through): the detector/crystal model and θ are computed by the
    /// same generic code on the CPU — instead of about a hundred tiny launches on the device.
    /// Returns θ and the tile's description for `kernel`. `has_grid`: whether an F grid
    /// follows θ's head.
    pub(super) fn host_theta<C: Backend>(
        &self,
        leaf: Tensor<C, 1>,
        has_grid: bool,
        tile: &[usize],
        state: &ScanState,
        kernel: KernelId,
    ) -> Result<(Tensor<C, 1>, TileSpec)> {
        let mut spec = None;
        let theta = host_theta::build(leaf, |leaf| {
            let host = self.params.unpack::<C>(leaf);
            let model = self.model(&host)?;
            let (parts, tile_spec) = self.fused_inputs(&host, &model, tile, state, has_grid, kernel);
            spec = Some(tile_spec);
            Ok(Tensor::cat(parts, 0))
        })?;
        let spec = spec.ok_or_else(|| NanobraggError::Scene("θ was built without a tile description".into()))?;
        Ok((theta, spec))
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
        let kernel = self.fused_kernel().filter(|_| !B::inputs_on_host())?;
        let (theta, spec) = self.device_theta(p, m, tile, state, kernel);
        self.run_fused(theta, spec, state)
    }

    /// θ of a tile built with tensor ops on the render's device, the F grid appended where the
    /// tile reads one, and the tile's description for `kernel`.
    fn device_theta(
        &self,
        p: &Params<B>,
        m: &Model<B>,
        tile: &[usize],
        state: &ScanState,
        kernel: KernelId,
    ) -> (Tensor<B, 1>, TileSpec) {
        let (parts, spec) = self.fused_inputs(p, m, tile, state, p.f_grid.is_some(), kernel);
        (with_grid(Tensor::cat(parts, 0), p.f_grid.as_ref(), &spec), spec)
    }

    /// Offer the tile to the backend's kernel; updates the scan state when it renders.
    pub(super) fn run_fused(&self, theta: Tensor<B, 1>, spec: TileSpec, state: &mut ScanState) -> Option<Tensor<B, 1>> {
        let out = B::fused_tile(theta.into_primitive().tensor(), &Arc::new(spec))?;
        state.any_before |= out.any_active;
        Some(Tensor::from_primitive(TensorPrimitive::Float(out.values)))
    }

    /// The packed inputs θ of a tile ([`crate::kernel::Layout`]) up to the F grid, as the
    /// parts to concatenate (tensor ops from the parameters, on any backend `C`), and the
    /// tile's discrete description for `kernel`. `has_grid`: whether an F grid follows in θ.
    fn fused_inputs<C: Backend>(
        &self,
        p: &Params<C>,
        m: &Model<C>,
        tile: &[usize],
        state: &ScanState,
        has_grid: bool,
        kernel: KernelId,
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
            kernel,
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

/// `theta`'s values on `B`'s device at `B`'s float dtype.
pub(super) fn upload<B: Backend>(theta: &Tensor<Host, 1>, device: &B::Device) -> Result<Tensor<B, 1>> {
    let data = theta.clone().into_data().convert::<B::FloatElem>();
    let head = Tensor::<B, 1>::from_data(data, float_options::<B>(device));
    check_float_dtype(&head, "packed kernel inputs")?;
    Ok(head)
}

/// θ's head followed by the F grid `grid`, where the tile reads one.
pub(super) fn with_grid<B: Backend>(head: Tensor<B, 1>, grid: Option<&Tensor<B, 1>>, spec: &TileSpec) -> Tensor<B, 1> {
    match (grid, spec.grid) {
        (Some(values), Some(_)) => Tensor::cat(vec![head, values.clone()], 0),
        _ => head,
    }
}

/// `p`'s small parameters packed in [`Params::small_tensors`] order, read back in one transfer.
pub(super) fn packed_on_device<B: Backend>(p: &Params<B>) -> Vec<f64> {
    let small: Vec<Tensor<B, 1>> = p.small_tensors().into_iter().map(|t| t.detach()).collect();
    to_vec(&Tensor::cat(small, 0))
}

/// A tile's loss, the gradients of its graph, and (θ built on the host) what turns them into
/// parameter gradients.
pub(crate) type TileLossGradients<B> = (f64, <B as AutodiffBackend>::Gradients, Option<ThetaPullback<B>>);

impl<B: AutodiffBackend + RenderBackend> Simulator<B> {
    /// A tile's loss and gradients from the kernel's one-pass loss and gradient
    /// ([`RenderBackend::fused_tile_loss_grad`]): θ is built with its graph (on the device, or
    /// on the host where the backend pulls `θ̄` back there), the kernel returns the loss and
    /// `θ̄`, and the backward pass of `Σ θ·θ̄` carries `θ̄` on to the parameters. `None` when the
    /// backend does not offer the pass, the scene is not eligible, or the kernel declines the
    /// tile (the caller then renders and differentiates it).
    pub(crate) fn tile_loss_gradients(
        &self,
        tile: &[usize],
        state: &mut ScanState,
        loss: &PixelLoss<'_>,
    ) -> Result<Option<TileLossGradients<B>>> {
        let Some(kernel) = self.fused_kernel().filter(|_| B::has_fused_loss_grad()) else {
            return Ok(None);
        };
        let (theta, spec, pullback) = if B::pullback_on_host() {
            let p = &self.params;
            let (theta, spec, pullback) = self.tracked_host_theta(packed_on_device(p), p.f_grid.as_ref(), tile, state, kernel, PullbackGraph::Kept)?;
            (theta, spec, Some(pullback))
        } else if B::inputs_on_host() {
            return Ok(None);
        } else {
            let model = self.model(&self.params)?;
            let (theta, spec) = self.device_theta(&self.params, &model, tile, state, kernel);
            (theta, spec, None)
        };
        let Some(out) = B::fused_tile_loss_grad(theta.clone().into_primitive().tensor(), &Arc::new(spec), loss) else {
            return Ok(None);
        };
        state.any_before |= out.any_active;
        let n = out.theta_grad.len();
        let theta_grad = tensor::<B, 1>(out.theta_grad, [n], &theta.device());
        let grads = (theta * theta_grad).sum().backward();
        Ok(Some((out.loss, grads, pullback)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::to_vec;
    use crate::scene::Scene;
    use crate::kernel::host_theta;
    use crate::setup::Setup;
    use crate::RenderOptions;
    use burn_autodiff::Autodiff;
    use burn_ndarray::{NdArray, NdArrayDevice};
    use std::path::Path;

    type Device = NdArray<f64>;
    type Host = NdArray<f64>;

    /// A scene that exercises every part of θ: triclinic cell with misset, φ steps, mosaic
    /// domains, divergence (several sources), dispersion, a thick sensor, detector rotations,
    /// 2θ, water.
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
            let (parts, spec) = sim.fused_inputs(&sim.params, &model, tile, &state, false, KernelId::CpuPixel);
            (to_vec(&Tensor::cat(parts, 0)), spec)
        };
        let host = sim.params.to_host::<Host>(&NdArrayDevice::Cpu).expect("host copy");
        let on_host = {
            let model = sim.model(&host).expect("model");
            let (parts, spec) = sim.fused_inputs(&host, &model, tile, &state, false, KernelId::CpuPixel);
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

    /// A tile rendered from parameters kept on the host ([`Simulator::tile_values_pullback_host`],
    /// set with [`Simulator::set_param`]) has the values and, through
    /// [`Simulator::pulled_gradients`], the per-user-unit gradients of the same tile rendered from
    /// `[1]` leaves set with [`Simulator::set_param`] on the device parameters (φ steps make the
    /// oscillation's map depend on the step count). The F grid's share is covered by
    /// `tests/objective_routes`.
    #[test]
    fn host_kept_parameters_give_the_leaves_values_and_gradients() {
        use crate::gradients::ParamName::{self, *};
        use crate::linalg::scalar;
        type Ad = Autodiff<NdArray<f64>>;
        let dev = NdArrayDevice::Cpu;
        let mut scene = Scene::builtin_default();
        scene.crystal.cell = Some([70.0, 80.0, 90.0, 85.0, 95.0, 105.0]);
        scene.crystal.misset_deg = Some([10.0, 5.0, 3.0]);
        scene.spindle.phi_start_deg = Some(2.0);
        scene.spindle.osc_deg = Some(1.0);
        scene.spindle.phi_steps = Some(2);
        scene.detector.fpixels = Some(10);
        scene.detector.spixels = Some(8);
        let setup = Setup::from_scene(&scene, Path::new(".")).expect("scene sets up");
        let sim = Simulator::<Ad>::new(setup, &dev, RenderOptions::default()).expect("simulator");
        let names: [(ParamName, f64); 4] = [(MissetX, 10.3), (DistanceMm, 99.0), (OscRange, 1.1), (WavelengthA, 1.02)];
        let tile = sim.plan.pixels.clone();
        let weights = |n: usize| Tensor::<Ad, 1>::from_data((0..n).map(|i| 1.0 + (i as f64).sin()).collect::<Vec<_>>().as_slice(), &dev);

        let mut host = sim.params.to_host::<NdArray<f64>>(&dev).expect("host copy");
        for (name, v) in names {
            sim.set_param(&mut host, name, scalar::<NdArray<f64>>(v, &dev)).expect("host parameter");
        }
        let mut routes = Vec::new();
        for graph in [PullbackGraph::Kept, PullbackGraph::Rebuilt] {
            let mut state = sim.scan_start();
            let (values, pullback) = sim
                .tile_values_pullback_host(&host, None, &tile, &mut state, graph)
                .expect("render")
                .expect("kernel takes the tile");
            let g = (values.clone() * weights(tile.len())).sum().backward();
            let got = sim.pulled_gradients(&pullback, &g, &names.map(|(n, _)| n)).expect("pulled gradients");
            routes.push((format!("{graph:?}"), to_vec(&values), got));
        }
        let mut state = sim.scan_start();
        let untracked = sim.tile_values_host(&host, None, &tile, &mut state).expect("render").expect("kernel takes the tile");

        let mut params = sim.params.clone();
        let leaves = names.map(|(name, v)| {
            let t = scalar::<Ad>(v, &dev).require_grad();
            sim.set_param(&mut params, name, t.clone()).expect("leaf parameter");
            t
        });
        let mut state = sim.scan_start();
        let want_values = sim.tile_values_with(&params, &tile, &mut state).expect("render");
        let g = (want_values.clone() * weights(tile.len())).sum().backward();
        let want: Vec<f64> = leaves.iter().map(|t| to_vec(&t.grad(&g).expect("leaf gradient"))[0]).collect();

        assert_eq!(to_vec(&untracked), to_vec(&want_values), "same image with no host graph");
        for (route, values, got) in routes {
            assert_eq!(values, to_vec(&want_values), "same image, host graph {route}");
            for ((name, _), (g, w)) in names.iter().zip(got.iter().zip(&want)) {
                assert!(*w != 0.0 && (g - w).abs() <= 1e-10 * w.abs(), "∂/∂{name:?}, host graph {route}: host {g:e} vs leaves {w:e}");
            }
        }
    }

    /// θ̄ pulled back through the host graph ([`host_theta::pullback`]) to the packed parameters
    /// equals autodiff through θ built from the same packed leaf by tensor ops.
    #[test]
    fn host_graph_pulls_back_theta_gradient_like_autodiff() {
        type Ad = Autodiff<NdArray<f64>>;
        let dev = NdArrayDevice::Cpu;
        let sim = Simulator::<Ad>::new(busy_scene(), &dev, RenderOptions::default()).expect("simulator");
        let tile = &sim.plan.pixels;
        let state = sim.scan_start();
        let packed: Vec<f64> = sim.params.small_tensors().iter().flat_map(to_vec).collect();
        let theta_of = |leaf: Tensor<Ad, 1>| -> crate::error::Result<Tensor<Ad, 1>> {
            let p = sim.params.unpack::<Ad>(leaf);
            let model = sim.model(&p)?;
            Ok(Tensor::cat(sim.fused_inputs(&p, &model, tile, &state, false, KernelId::CpuPixel).0, 0))
        };
        let leaf = Tensor::<Ad, 1>::from_data(packed.as_slice(), &dev).require_grad();
        let theta = theta_of(leaf.clone()).expect("θ");
        let n = theta.dims()[0];
        let upstream: Vec<f64> = (0..n).map(|i| 1.0 + 0.5 * (i as f64 * 0.37).sin()).collect();
        let up = Tensor::<Ad, 1>::from_data(upstream.as_slice(), &dev);
        let grads = (theta * up).sum().backward();
        let expected = to_vec(&leaf.grad(&grads).expect("packed gradient"));

        let host_leaf = host_theta::leaf::<Ad>(&packed).require_grad();
        let host_theta = host_theta::build(host_leaf.clone(), theta_of).expect("host θ");
        let got = to_vec(&host_theta::pullback(&host_leaf, &host_theta, upstream));
        assert_eq!(got.len(), packed.len());
        assert!(expected.iter().filter(|v| **v != 0.0).count() > packed.len() / 2, "most parameters reach θ");
        for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
            assert!((e - g).abs() <= 1e-12 * e.abs().max(1.0), "packed[{i}]: autodiff {e} host graph {g}");
        }
    }
}
