#![cfg(feature = "cuda")]
mod gradient_scenes;
use burn_autodiff::Autodiff;
use burn_cuda::{Cuda, CudaDevice};
use burn_ndarray::{NdArray, NdArrayDevice};
use gradient_scenes::simulator_with;
type E = f32;
use nanobragg::gradients::{Loss, ParamName::*};
use nanobragg::kernel::Engine;
use nanobragg::RenderOptions;
const BASE: &str = "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 3 -pixel 0.1 -distance 100 -detpixels 24 -Xbeam 1.25 -Ybeam 1.15 -oversample 1";
#[test]
fn diag() {
    let (gpu, cpu) = (CudaDevice::default(), NdArrayDevice::Cpu);
    let extras = [
        ("base", ""),
        ("thick", "-detector_abs 300 -detector_thick 120 -detector_thicksteps 2"),
        ("thick1", "-detector_abs 300 -detector_thick 120 -detector_thicksteps 1"),
        ("mosaic", "-mosaic 0.3 -mosaic_domains 2 -mosaic_seed 7"),
        ("phi", "-phi 3 -osc 0.4 -phisteps 2"),
        ("geom", "-twotheta 7 -detector_rotx 2"),
        ("os2", "-oversample 2"),
        ("B", "-cell 60 62 64 89 91 90.5 -misset 5 -8 12 -N 4 -lambda 1.5 -distance 80 -detpixels 28 -Xbeam 2.3 -Ybeam 0.9 -detector_rotx 2 -detector_roty -3 -detector_rotz 4 -twotheta 7 -phi 3 -osc 0.4 -phisteps 2 -mosaic 0.3 -mosaic_domains 2 -mosaic_seed 7 -detector_abs 300 -detector_thick 120 -detector_thicksteps 2 -water 0.03"),
    ];
    let params = [CellA, CellC, MissetX, NA, DistanceMm, PixelSizeMm, WavelengthA, Fluence, DefaultF, PolarizationK, BeamCenterS, DetectorRoty];
    for (label, extra) in extras {
        let args = format!("{BASE} {extra}");
        let tensor = RenderOptions { engine: Engine::Tensor, ..RenderOptions::default() };
        let image = simulator_with::<NdArray<E>>(&args, &cpu, tensor).render().unwrap().data;
        let imgdiff = match simulator_with::<Cuda<E>>(&args, &gpu, RenderOptions::default()).render() {
            Ok(g) => image.iter().zip(&g.data).fold(0.0f64, |m, (a, b)| m.max((a - b).abs() as f64 / (a.abs() as f64).max(1e-3))),
            Err(e) => { println!("render error: {e}"); -1.0 }
        };
        let adimg = simulator_with::<Autodiff<Cuda<E>>>(&args, &gpu, RenderOptions::default()).render().unwrap().data;
        let addiff = image.iter().zip(&adimg).fold(0.0f64, |m, (a, b)| m.max((a - b).abs() as f64 / (a.abs() as f64).max(1e-3)));
        let nan = adimg.iter().any(|v| !v.is_finite());
        let loss = Loss::SquaredError { target: image.iter().enumerate().map(|(i, &v)| v * (1.0 + 0.3 * ((i as f32) * 0.7).sin())).collect() };
        let mut g = simulator_with::<Autodiff<Cuda<E>>>(&args, &gpu, RenderOptions::default());
        let mut c = simulator_with::<Autodiff<NdArray<E>>>(&args, &cpu, tensor);
        let a = g.loss_and_gradients(&loss, &params).unwrap();
        let b = c.loss_and_gradients(&loss, &params).unwrap();
        let line: Vec<String> = a.gradients.iter().zip(&b.gradients).map(|(x, y)| format!("{:?} {:.3e}", x.0, x.2 / y.2)).collect();
        println!("{label:7} img {imgdiff:.1e} adimg {addiff:.1e} nan {nan} loss {:.6e}/{:.6e} ratio: {}", a.loss, b.loss, line.join(" "));
    }
}
