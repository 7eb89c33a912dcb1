//! The fused CPU kernel against the tensor-op reference path at f64: images on every scene of
//! `tests/fused_kernel/mod.rs`, and the gradients of a loss with respect to every parameter of
//! the gradient suite's scenes A, B and C (hand-written backward vs autodiff through tensor
//! ops), plus the structure-factor grid gradient.

mod fused_kernel;
mod gradient_scenes;

use burn::tensor::DType;
use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};
use fused_kernel::{flags, max_rel, SCENES};
use gradient_scenes::{perturbed_loss, simulator_with, SCENE_A, SCENE_B, SCENE_C};
use nanobragg::gradients::Loss;
use nanobragg::kernel::Engine;
use nanobragg::RenderOptions;

type B = NdArray<f64>;
type AD = Autodiff<NdArray<f64>>;

fn options(engine: Engine) -> RenderOptions {
    RenderOptions {
        engine,
        keep_f64: true,
        ..RenderOptions::default()
    }
}

#[test]
fn fused_images_match_tensor_path_at_f64() {
    let device = NdArrayDevice::Cpu;
    for (label, template) in SCENES {
        let args = flags(template);
        let fused = simulator_with::<B>(&args, &device, options(Engine::Auto));
        let reference = simulator_with::<B>(&args, &device, options(Engine::Tensor));
        assert_eq!(fused.params.pixel.dtype(), DType::F64);
        let a = fused.render().expect("fused render");
        let b = reference.render().expect("tensor render");
        let rel = max_rel(&a.data_f64, &b.data_f64);
        println!("{label:24} max_rel {rel:.2e}");
        assert!(rel <= 1e-12, "{label}: fused vs tensor max_rel {rel:.3e}");
        assert_eq!(a.notes, b.notes, "{label}: warnings differ");
    }
}

/// The loss of `args` (against its own tensor-path image, see [`perturbed_loss`]) and the scene's
/// simulators on the fused and the tensor-op engine, under autodiff.
fn loss_and_engines(args: &str) -> (Loss, nanobragg::Simulator<AD>, nanobragg::Simulator<AD>) {
    let device = NdArrayDevice::Cpu;
    let image = simulator_with::<B>(args, &device, options(Engine::Tensor))
        .render()
        .expect("render")
        .data;
    (
        perturbed_loss(&image),
        simulator_with::<AD>(args, &device, options(Engine::Auto)),
        simulator_with::<AD>(args, &device, options(Engine::Tensor)),
    )
}

#[test]
fn fused_gradients_match_tensor_path_at_f64() {
    for scene in [&SCENE_A, &SCENE_B, &SCENE_C] {
        let (loss, mut fused, mut reference) = loss_and_engines(scene.args);
        let a = fused.loss_and_gradients(&loss, scene.params).expect("fused gradients");
        let b = reference.loss_and_gradients(&loss, scene.params).expect("tensor gradients");
        assert!((a.loss - b.loss).abs() <= 1e-12 * b.loss.abs(), "scene {}: loss", scene.label);
        let scale = b.gradients.iter().fold(0.0f64, |m, g| m.max(g.2.abs()));
        for (ga, gb) in a.gradients.iter().zip(&b.gradients) {
            let err = (ga.2 - gb.2).abs();
            println!("scene {} {:?}: fused {:.6e} tensor {:.6e}", scene.label, ga.0, ga.2, gb.2);
            assert!(
                err <= 1e-9 * gb.2.abs() + 1e-12 * scale,
                "scene {} {:?}: fused {:.9e} vs tensor {:.9e}",
                scene.label,
                ga.0,
                ga.2,
                gb.2
            );
        }
    }
}

#[test]
fn fused_gradients_match_tensor_path_on_every_kernel_branch() {
    use nanobragg::gradients::ParamName::*;
    let params = [
        CellA, CellGamma, MissetY, PhiStart, NA, NC, DistanceMm, DetectorRotz, DetectorRoty,
        DetectorTwotheta, PixelSizeMm, WavelengthA, Fluence, PolarizationK, DefaultF,
    ];
    for (label, template) in SCENES {
        if label.contains("leaves_grid") {
            continue; // rendered by the tensor path whichever engine is asked for
        }
        let args = flags(template);
        let (loss, mut fused, mut reference) = loss_and_engines(&args);
        let a = fused.loss_and_gradients(&loss, &params).expect("fused gradients");
        let b = reference.loss_and_gradients(&loss, &params).expect("tensor gradients");
        let scale = b.gradients.iter().fold(0.0f64, |m, g| m.max(g.2.abs()));
        for (ga, gb) in a.gradients.iter().zip(&b.gradients) {
            let err = (ga.2 - gb.2).abs();
            println!("{label:24} {:?}: rel {:.2e}", ga.0, err / gb.2.abs().max(1e-300));
            // These scenes take the default beam centre, which moves with the pixel size: the
            // pixel-size derivative is then a difference of large terms (about 1e-8 relative
            // agreement; every other parameter agrees to 1e-11 or better).
            assert!(
                err <= 1e-7 * gb.2.abs() + 1e-11 * scale,
                "{label} {:?}: fused {:.9e} vs tensor {:.9e}",
                ga.0,
                ga.2,
                gb.2
            );
        }
        println!("{label:24} {} gradients agree", params.len());
    }
}

#[test]
fn fused_structure_factor_gradient_matches_tensor_path() {
    for template in [SCENES[11].1, SCENES[12].1] {
        let args = flags(template);
        let (loss, mut fused, mut reference) = loss_and_engines(&args);
        let (_, a) = fused.loss_and_structure_factor_gradient(&loss, &[]).expect("fused");
        let (_, b) = reference.loss_and_structure_factor_gradient(&loss, &[]).expect("tensor");
        assert!((a.default_f - b.default_f).abs() <= 1e-10 * b.default_f.abs().max(1e-30));
        let (ga, gb) = (&a.grid, &b.grid);
        let scale = gb.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.0);
        let worst = ga.iter().zip(gb).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(worst <= 1e-10 * scale, "{template}: grid gradient differs by {worst:.3e} of {scale:.3e}");
    }
}

/// `loss_and_gradients` takes the kernel's one-pass loss and gradient (each pixel's gradient
/// terms weighted by the loss's slope at its value); the same loss built with tensor ops on the
/// image that the kernel renders under autodiff (its render, then its custom backward step)
/// must give the same loss and gradients — for every kind of loss.
#[test]
fn one_pass_loss_gradient_matches_render_then_backward() {
    use burn::tensor::Tensor;
    let device = NdArrayDevice::Cpu;
    for scene in [&SCENE_A, &SCENE_B, &SCENE_C] {
        let image = simulator_with::<B>(scene.args, &device, options(Engine::Auto)).render().expect("render").data;
        let mean = image.iter().map(|&v| v as f64).sum::<f64>() / image.len() as f64;
        let Loss::SquaredError { target } = perturbed_loss(&image) else { unreachable!() };
        let losses = [
            Loss::Sum,
            Loss::SquaredError { target: target.clone() },
            Loss::Poisson { target, background: Some(vec![(0.2 * mean) as f32; image.len()]) },
        ];
        for loss in &losses {
            // The parameters as leaves in user units (their round trip moves some values by an
            // ulp; both routes then start from the same values).
            let mut sim = simulator_with::<AD>(scene.args, &device, options(Engine::Auto));
            let mut leaves = Vec::new();
            for &name in scene.params {
                let value = sim.param_value(name).expect("value");
                let leaf = Tensor::<AD, 1>::from_floats([value], &device).require_grad();
                sim.params = sim.params_with(name, leaf.clone()).expect("params");
                leaves.push(leaf);
            }
            let values = sim.image_tensor_with(&sim.params.clone()).expect("image under autodiff");
            let total = loss.tile_tensor(values, &sim.plan.pixels);
            let b_loss = total.clone().into_scalar();
            let grads = total.backward();
            let a = sim.loss_and_gradients(loss, scene.params).expect("one-pass gradients");

            let kind = format!("scene {} {:?}", scene.label, std::mem::discriminant(loss));
            assert!((a.loss - b_loss).abs() <= 1e-12 * b_loss.abs(), "{kind}: loss {} vs {b_loss}", a.loss);
            let b: Vec<f64> = leaves
                .iter()
                .map(|l| l.grad(&grads).map_or(0.0, |g| g.into_scalar()))
                .collect();
            let scale = b.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            assert!(scale > 0.0, "{kind}: no gradient");
            for ((name, _, ga), gb) in a.gradients.iter().zip(&b) {
                assert!(
                    (ga - gb).abs() <= 1e-10 * gb.abs() + 1e-12 * scale,
                    "{kind} {name:?}: one pass {ga:.12e} vs render then backward {gb:.12e}"
                );
            }
        }
    }
}

/// The vectorised loops compiled for each instruction set this CPU has (portable, AVX2,
/// AVX-512) give the same images and one-pass gradients, bit for bit: they perform the same
/// operations in the same order (every fused multiply-add is written out), only the vector width
/// differs. Run on the vectorised path's scenes (nearest grid and `default_F`, mosaic and φ) and
/// on gradient scene B.
#[test]
fn every_simd_level_gives_identical_images_and_gradients() {
    use nanobragg::kernel::cpu::{limit_simd, Simd};
    let device = NdArrayDevice::Cpu;
    let levels: Vec<Simd> =
        [Simd::Portable, Simd::Avx2, Simd::Avx512].into_iter().filter(|&l| l <= Simd::detected()).collect();
    let grid = flags(SCENES.iter().find(|(label, _)| *label == "nearest_grid").expect("scene").1);
    let mosaic = flags(SCENES.iter().find(|(label, _)| *label == "mosaic_phi").expect("scene").1);
    let mut outputs = Vec::new();
    for &level in &levels {
        limit_simd(level);
        let images: Vec<Vec<f64>> = [&grid, &mosaic]
            .map(|args| simulator_with::<B>(args, &device, options(Engine::Auto)).render().expect("render").data_f64)
            .into();
        let mut sim = simulator_with::<AD>(SCENE_B.args, &device, options(Engine::Auto));
        let image = simulator_with::<B>(SCENE_B.args, &device, options(Engine::Auto)).render().expect("render").data;
        let grads = sim.loss_and_gradients(&perturbed_loss(&image), SCENE_B.params).expect("gradients");
        let gradients: Vec<f64> = grads.gradients.iter().map(|(_, _, g)| *g).collect();
        outputs.push((level, images, grads.loss, gradients));
    }
    limit_simd(Simd::Avx512);
    println!("levels compared: {levels:?}");
    let (widest, images, loss, gradients) = outputs.last().expect("at least the portable level");
    assert!(gradients.iter().any(|&g| g != 0.0), "no gradient");
    for (level, other_images, other_loss, other_gradients) in &outputs {
        assert_eq!(other_images, images, "{level:?} vs {widest:?}: images differ");
        assert_eq!(other_loss, loss, "{level:?} vs {widest:?}: loss differs");
        assert_eq!(other_gradients, gradients, "{level:?} vs {widest:?}: gradients differ");
    }
}

/// The fused kernel's loss and gradients have the same bits on 1, 2, 5 and 16 threads: its
/// reductions add per-block partial sums in a fixed order, so that a refinement takes the same
/// steps on a 2-core laptop and a 16-core node (and MPI ranks agree with one process).
#[test]
fn fused_loss_and_gradients_have_the_same_bits_on_any_number_of_threads() {
    use nanobragg::gradients::ParamName::*;
    // 96² pixels, three wavelengths, and the grid scene: many chunks per tile on either path.
    let big = SCENE_A.args.replace("-detpixels 24", "-detpixels 96").replace("-dispsteps 2", "-dispsteps 3");
    for args in [big, flags(SCENES[11].1)] {
        let (loss, mut fused, _) = loss_and_engines(&args);
        let params = [CellA, MissetX, DistanceMm, WavelengthA, DefaultF];
        let mut on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let r = pool.install(|| fused.loss_and_gradients(&loss, &params).expect("fused gradients"));
            let bits: Vec<u64> = std::iter::once(r.loss).chain(r.gradients.iter().map(|g| g.2)).map(f64::to_bits).collect();
            bits
        };
        let one = on(1);
        for threads in [2, 5, 16] {
            assert_eq!(on(threads), one, "{args}: {threads} threads");
        }
    }
}
