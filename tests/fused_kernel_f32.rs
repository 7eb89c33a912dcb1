//! The fused CPU kernel at f32 (NdArray and Flex) against the tensor-op reference path at f64:
//! the vectorised path's polynomial sine and reduced arguments keep every image within 3e-5 of
//! the image maximum of the f64 reference. The f64 images come from this executable run again
//! in a child process (one float dtype per device per process, see `docs/architecture.md`).
//!
//! The f32 tensor path is compared too, at its own accuracy (1e-3 of the image maximum): it
//! takes the backend's sine of unreduced arguments, which on some CPUs is the less accurate of
//! the two f32 paths (seen on an AVX2 machine, NdArray: 1.8e-4 on `point_pixel_dmin`, where the
//! fused kernel is within 1.2e-5 of f64; the test compared the two f32 paths until then).

mod child_reference;
mod fused_kernel;
mod gradient_scenes;

use std::collections::BTreeMap;

use burn::tensor::DType;
use burn_ndarray::{NdArray, NdArrayDevice};
use fused_kernel::{flags, max_rel, SCENES};
use gradient_scenes::simulator_with;
use nanobragg::kernel::{Engine, RenderBackend};
use nanobragg::RenderOptions;

/// Set to `f64` in the child process that renders the reference images.
const REFERENCE_ENV: &str = "NANOBRAGG_FUSED_REFERENCE";
/// Prefix of the child's output lines that carry a reference image.
const LINE_TAG: &str = "F64-IMAGE ";

fn options(engine: Engine) -> RenderOptions {
    RenderOptions {
        engine,
        keep_f64: true,
        ..RenderOptions::default()
    }
}

/// Child-process side: prints each scene's f64 tensor-path image as a JSON line. Does nothing
/// unless [`REFERENCE_ENV`] is `f64` (so `--include-ignored` cannot mix dtypes here).
#[test]
#[ignore = "run by the fused_images_* tests in a child process"]
fn emit_f64_reference_images() {
    if std::env::var(REFERENCE_ENV).as_deref() != Ok("f64") {
        println!("{REFERENCE_ENV} is not f64: nothing to do");
        return;
    }
    let device = NdArrayDevice::Cpu;
    nanobragg_parity::assert_default_dtype::<NdArray<f64>>(&device);
    for (label, template) in SCENES {
        let sim = simulator_with::<NdArray<f64>>(&flags(template), &device, options(Engine::Tensor));
        assert_eq!(sim.params.pixel.dtype(), DType::F64);
        let image = sim.render().expect("f64 tensor render");
        let json = serde_json::json!({ "scene": label, "image": image.data_f64 });
        println!("{LINE_TAG}{json}");
    }
}

/// Runs this test executable again for [`emit_f64_reference_images`] and parses its lines.
fn f64_reference() -> BTreeMap<String, Vec<f64>> {
    let mut refs = BTreeMap::new();
    for v in child_reference::f64_lines("emit_f64_reference_images", REFERENCE_ENV, LINE_TAG) {
        let image = v["image"]
            .as_array()
            .expect("image array")
            .iter()
            .map(|p| p.as_f64().expect("number"))
            .collect();
        refs.insert(v["scene"].as_str().expect("scene label").to_string(), image);
    }
    assert_eq!(refs.len(), SCENES.len(), "the child printed {} of {} images", refs.len(), SCENES.len());
    refs
}

fn compare<B: RenderBackend>(device: &B::Device, backend: &str) {
    let reference = f64_reference();
    for (label, template) in SCENES {
        let args = flags(template);
        let fused = simulator_with::<B>(&args, device, options(Engine::Auto));
        let tensor = simulator_with::<B>(&args, device, options(Engine::Tensor));
        assert_eq!(fused.params.pixel.dtype(), DType::F32);
        let a = fused.render().expect("fused render");
        let b = tensor.render().expect("tensor render");
        let truth = &reference[*label];
        let fused_rel = max_rel(&a.data_f64, truth);
        let tensor_rel = max_rel(&b.data_f64, truth);
        println!("{backend} {label:24} fused vs f64 {fused_rel:.2e}  tensor f32 vs f64 {tensor_rel:.2e}");
        assert!(fused_rel <= 3e-5, "{backend} {label}: fused f32 vs f64 tensor path max_rel {fused_rel:.3e}");
        assert!(tensor_rel <= 1e-3, "{backend} {label}: f32 tensor path vs f64 max_rel {tensor_rel:.3e}");
    }
}

#[test]
fn fused_images_match_f64_tensor_path_at_f32_on_ndarray() {
    compare::<NdArray<f32>>(&NdArrayDevice::Cpu, "ndarray");
}

#[test]
fn fused_images_match_f64_tensor_path_at_f32_on_flex() {
    compare::<burn_flex::Flex>(&burn_flex::FlexDevice, "flex");
}
