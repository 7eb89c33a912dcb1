mod gradient_scenes;
use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};
use gradient_scenes::{simulator_with, SCENES};
use nanobragg::gradients::Loss;
use nanobragg::kernel::Engine;
use nanobragg::RenderOptions;
#[test]
fn probe() {
    let cpu = NdArrayDevice::Cpu;
    for scene in SCENES {
        let tensor = RenderOptions { engine: Engine::Tensor, ..RenderOptions::default() };
        let image = simulator_with::<NdArray<f32>>(scene.args, &cpu, tensor).render().unwrap().data;
        let mean = image.iter().map(|&v| v as f64).sum::<f64>() / image.len() as f64;
        let target = image.iter().enumerate().map(|(i, &v)| (v as f64 * (1.0 + 0.3 * ((i as f64) * 0.7).sin()) + 0.1 * mean) as f32).collect();
        let loss = Loss::SquaredError { target };
        let mut a = simulator_with::<Autodiff<NdArray<f32>>>(scene.args, &cpu, RenderOptions::default());
        let mut b = simulator_with::<Autodiff<NdArray<f32>>>(scene.args, &cpu, tensor);
        let ga = a.loss_and_gradients(&loss, scene.params).unwrap();
        let gb = b.loss_and_gradients(&loss, scene.params).unwrap();
        for (x, y) in ga.gradients.iter().zip(&gb.gradients) {
            println!("{} {:?} fused {:+.6e} tensor {:+.6e}", scene.label, x.0, x.2, y.2);
        }
    }
}
