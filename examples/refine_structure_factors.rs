//! Refine structure factors F(hkl) and an overall scale from several noisy still images taken
//! at different spindle angles φ, the geometry known.
//!
//! The truth: a triclinic cell (30, 32, 34 Å; 88, 92, 95°) of 5³ cells, mosaic 0.3° with 10
//! domains, λ = 1 Å, a 96² detector of 0.2 mm pixels at 60 mm, a little water; F(hkl) on the
//! grid −7 ≤ h, k, l ≤ 7 drawn uniformly from 30 … 170 (seed 7). Four images at φ = 0°, 20°,
//! 40°, 60°, each with the brightest pixel near 10⁴ photons and Poisson noise (C generator,
//! seeds 101 …). The start: every F = 100, scale 1.
//!
//! Refined: the scale and every F with at least 20 expected photons over the four images at
//! the start (which reflections are excited depends on the geometry only); the others stay at
//! 100 and contribute under 20 photons each. The Poisson losses of the four images are summed
//! ([`nanobragg_refine::Joint`]); L-BFGS on variables scaled by the diagonal of the summed
//! Fisher information. The scale is determined by the water background (Bragg intensity only
//! fixes s·F²). Each F is bounded below by 1: F and −F give the same image, and at F = 0 the
//! Fisher information about F vanishes (a weak reflection can end on that bound).
//!
//! Output: counts of refined reflections, the scale, R = Σ|F − F_true| / ΣF_true, how many
//! refined F lie within 2σ and 3σ of the truth, a sample of reflections, timings, and in
//! `--out DIR` (default `refine_sf_out`) `refined.hkl` (h k l F σ) and `loss_curve.png`.
//!
//! ```sh
//! cargo run --release --example refine_structure_factors -- [--out DIR]
//! ```

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::io::png::write_rgb_png;
use nanobragg_refine::{plot, Joint, LossKind, Objective, Observation, ParamSpec, RefineOptions, Variable};
use nanobragg::scene::Scene;
use nanobragg::units::DEFAULT_FLUENCE;
use nanobragg_parity::projection::SplitMix64;
use nanobragg::{RenderOptions, Setup, Simulator};

type B = Autodiff<NdArray<f64>>;

const RANGE: i32 = 7;
const PHI_DEG: [f64; 4] = [0.0, 20.0, 40.0, 60.0];
const MIN_PHOTONS: f64 = 20.0;

fn scene(hkl: &Path, phi: f64, fluence: f64) -> Scene {
    let mut s = Scene::default();
    s.crystal.cell = Some([30.0, 32.0, 34.0, 88.0, 92.0, 95.0]);
    s.crystal.misset_deg = Some([5.0, 10.0, 15.0]);
    s.crystal.n_cells = Some([5.0; 3]);
    s.crystal.mosaic_spread_deg = Some(0.3);
    s.crystal.mosaic_domains = Some(10);
    s.structure.hkl_file = Some(hkl.to_path_buf());
    s.structure.interpolate = Some(false);
    s.beam.wavelength_a = Some(1.0);
    s.beam.fluence = Some(fluence);
    s.spindle.phi_start_deg = Some(phi);
    s.detector.pixel_mm = Some(0.2);
    s.detector.fpixels = Some(96);
    s.detector.spixels = Some(96);
    s.detector.distance_mm = Some(60.0);
    s.detector.xbeam_mm = Some(9.0);
    s.detector.ybeam_mm = Some(10.2);
    s.sampling.oversample = Some(1);
    s.sampling.water_um = Some(0.01);
    s
}

fn simulator(scene: &Scene) -> Simulator<B> {
    let setup = Setup::from_scene(scene, Path::new(".")).expect("scene resolves");
    Simulator::new(setup, &NdArrayDevice::Cpu, RenderOptions::default()).expect("simulator")
}

fn all_hkl() -> Vec<[i32; 3]> {
    let r = -RANGE..=RANGE;
    r.clone()
        .flat_map(|h| r.clone().flat_map(move |k| (-RANGE..=RANGE).map(move |l| [h, k, l])))
        .collect()
}

fn write_hkl(path: &Path, rows: &[([i32; 3], f64)]) {
    let text: String = rows.iter().map(|([h, k, l], f)| format!("{h} {k} {l} {f:.6}\n")).collect();
    std::fs::write(path, text).expect("write hkl");
}

fn main() {
    let mut out = PathBuf::from("refine_sf_out");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = PathBuf::from(args.next().expect("--out DIR")),
            other => panic!("unknown argument {other} (use --out DIR)"),
        }
    }
    std::fs::create_dir_all(&out).expect("output directory");
    let clock = Instant::now();

    // Truth and start structure factors.
    let mut rng = SplitMix64::new(7);
    let truth_f: Vec<([i32; 3], f64)> = all_hkl().into_iter().map(|hkl| (hkl, 30.0 + 140.0 * rng.next_unit())).collect();
    let (true_hkl, start_hkl) = (out.join("true.hkl"), out.join("start.hkl"));
    write_hkl(&true_hkl, &truth_f);
    write_hkl(&start_hkl, &truth_f.iter().map(|(h, _)| (*h, 100.0)).collect::<Vec<_>>());

    // Fluence: the brightest pixel of the first image near 1e4 photons.
    let probe = simulator(&scene(&true_hkl, PHI_DEG[0], DEFAULT_FLUENCE)).render().expect("render");
    let max = probe.data.iter().copied().fold(0.0f32, f32::max) as f64;
    let fluence = DEFAULT_FLUENCE * 1e4 / max;
    let counts: Vec<Vec<f64>> = PHI_DEG
        .iter()
        .enumerate()
        .map(|(i, &phi)| {
            let img = simulator(&scene(&true_hkl, phi, fluence)).render().expect("render");
            Observation::simulated(&img, 101 + i as i32).expect("noisy image").counts
        })
        .collect();

    // Which reflections are seen: expected photons F·(∂Σμ/∂F)/2 at the start, from the
    // gradient of Σμ (a Poisson loss against zero counts).
    let everything: Vec<ParamSpec> = all_hkl().into_iter().map(|h| ParamSpec::new(Variable::StructureFactor(h))).collect();
    let mut photons = vec![0.0; everything.len()];
    for &phi in &PHI_DEG {
        let sim = simulator(&scene(&start_hkl, phi, fluence));
        let zeros = Observation::new(vec![0.0; 96 * 96]);
        let mut probe = Objective::new(sim, everything.clone(), zeros, LossKind::Poisson).expect("objective");
        let x = probe.start().to_vec();
        let (_, g) = probe.value_and_gradient(&x).expect("gradient");
        for (p, (gi, xi)) in photons.iter_mut().zip(g.iter().zip(&x)) {
            *p += 0.5 * gi * xi;
        }
    }
    let seen: Vec<usize> = (0..photons.len()).filter(|&i| photons[i] >= MIN_PHOTONS).collect();
    let mut specs: Vec<ParamSpec> = seen.iter().map(|&i| everything[i].bounds(1.0, f64::INFINITY)).collect();
    specs.push(ParamSpec::scale());
    println!(
        "{} images at φ = {PHI_DEG:?}°, fluence {fluence:.3e}; {} of {} grid reflections expected to give ≥ {MIN_PHOTONS} photons at the start: refining those and the scale",
        PHI_DEG.len(),
        seen.len(),
        everything.len()
    );

    let parts: Vec<Objective<B>> = PHI_DEG
        .iter()
        .zip(&counts)
        .map(|(&phi, y)| {
            let sim = simulator(&scene(&start_hkl, phi, fluence));
            Objective::new(sim, specs.clone(), Observation::new(y.clone()), LossKind::Poisson).expect("objective")
        })
        .collect();
    let mut joint = Joint::new(parts).expect("joint");
    let refine_clock = Instant::now();
    let r = joint
        .refine(&RefineOptions::default(), |log| {
            if log.iteration % 10 == 0 {
                println!("iteration {:>4}  loss {:.8e}  |g| {:.3e}  {:.1} s", log.iteration, log.loss, log.gradient_norm, log.elapsed_s);
            }
            ControlFlow::Continue(())
        })
        .expect("refinement");
    let refine_s = refine_clock.elapsed().as_secs_f64();
    let u = joint.uncertainties(&r.values).expect("uncertainties");
    println!(
        "stopped after {} iterations, {} evaluations ({}); loss {:.6e} → {:.6e}",
        r.iterations, r.evaluations, r.stop.describe(), r.start_loss, r.loss
    );

    let n = seen.len();
    let truth: Vec<f64> = seen.iter().map(|&i| truth_f[i].1).collect();
    let z: Vec<f64> = (0..n).map(|k| (r.values[k] - truth[k]) / u.std_errors[k]).collect();
    let r_start: f64 = truth.iter().map(|t| (100.0 - t).abs()).sum::<f64>() / truth.iter().sum::<f64>();
    let r_end: f64 = (0..n).map(|k| (r.values[k] - truth[k]).abs()).sum::<f64>() / truth.iter().sum::<f64>();
    let within = |m: f64| z.iter().filter(|v| v.abs() <= m).count();
    let mut abs_z: Vec<f64> = z.iter().map(|v| v.abs()).collect();
    abs_z.sort_by(f64::total_cmp);
    println!(
        "scale: refined {:.5} ± {:.5} (true 1)\nR(F) over the {n} refined reflections: start {:.3}, refined {:.4}\n\
         within 2σ: {} ({:.1} %), within 3σ: {} ({:.1} %), median |error|/σ {:.2} (0.67 expected)",
        r.values[n],
        u.std_errors[n],
        r_start,
        r_end,
        within(2.0),
        100.0 * within(2.0) as f64 / n as f64,
        within(3.0),
        100.0 * within(3.0) as f64 / n as f64,
        abs_z[n / 2]
    );
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| photons[seen[b]].total_cmp(&photons[seen[a]]));
    println!("\n{:<14} {:>10} {:>8} {:>8} {:>9} {:>8} {:>7}", "reflection", "photons", "true", "refined", "error", "σ", "err/σ");
    for &k in order.iter().take(8).chain(order.iter().rev().take(4)) {
        println!(
            "{:<14} {:>10.0} {:>8.2} {:>8.2} {:>+9.3} {:>8.3} {:>+7.2}",
            r.variables[k].name(),
            photons[seen[k]],
            truth[k],
            r.values[k],
            r.values[k] - truth[k],
            u.std_errors[k],
            z[k]
        );
    }
    let rows: String = (0..n)
        .map(|k| {
            let [h, kk, l] = all_hkl()[seen[k]];
            format!("{h} {kk} {l} {:.4} {:.4}\n", r.values[k], u.std_errors[k])
        })
        .collect();
    std::fs::write(out.join("refined.hkl"), rows).expect("write");
    let losses: Vec<f64> = r.history.iter().map(|h| h.loss).collect();
    write_rgb_png(&out.join("loss_curve.png"), &plot::loss_curve(&losses, 480, 320), 480, 320).expect("png");
    println!(
        "\nrefinement {refine_s:.1} s (scaling included), total {:.1} s; files in {}",
        clock.elapsed().as_secs_f64(),
        out.display()
    );
}
