//! The fused CPU kernel against the tensor-op reference path at f32 (NdArray and Flex): the
//! vectorised path's polynomial sine and reduced arguments keep every image within 3e-5 of the
//! image maximum of the reference (the f32 tensor path itself is within ~1e-4 of the C program).

mod fused_kernel;
mod gradient_scenes;

use burn::tensor::DType;
use burn_ndarray::{NdArray, NdArrayDevice};
use fused_kernel::{flags, max_rel, SCENES};
use gradient_scenes::simulator_with;
use nanobragg::kernel::{Engine, RenderBackend};
use nanobragg::RenderOptions;

fn options(engine: Engine) -> RenderOptions {
    RenderOptions {
        engine,
        keep_f64: true,
        ..RenderOptions::default()
    }
}

fn compare<B: RenderBackend>(device: &B::Device, backend: &str) {
    for (label, template) in SCENES {
        let args = flags(template);
        let fused = simulator_with::<B>(&args, device, options(Engine::Auto));
        let reference = simulator_with::<B>(&args, device, options(Engine::Tensor));
        assert_eq!(fused.params.pixel.dtype(), DType::F32);
        let a = fused.render().expect("fused render");
        let b = reference.render().expect("tensor render");
        let rel = max_rel(&a.data_f64, &b.data_f64);
        println!("{backend} {label:24} max_rel {rel:.2e}");
        assert!(rel <= 3e-5, "{backend} {label}: fused vs tensor max_rel {rel:.3e}");
    }
}

#[test]
fn fused_images_match_tensor_path_at_f32_on_ndarray() {
    compare::<NdArray<f32>>(&NdArrayDevice::Cpu, "ndarray");
}

#[test]
fn fused_images_match_tensor_path_at_f32_on_flex() {
    compare::<burn_flex::Flex>(&burn_flex::FlexDevice, "flex");
}
