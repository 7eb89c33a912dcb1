//! `nanobragg grad` against finite differences of `nanobragg` renders, for every named parameter.
//!
//! One scene on a 12×12 detector makes every parameter of `nanobragg grad -h` live: a triclinic
//! cell with misset, two φ steps, two mosaic domains, a two-wavelength spectrum, a two-layer
//! absorbing sensor, Kahn factor 0.95, water, a rotated detector with 2θ and an explicit beam
//! centre. N is given as reals through a `-scene` TOML file (`-N` takes integers, as in C).
//!
//! For each parameter the image sum S (read from `-floatfile_f64`, the render's f64 values) is
//! rendered at x ± h and x ± h/2 by separate CLI runs with the flag's value changed; the central
//! differences are Richardson-extrapolated, `(4·D(h/2) − D(h))/3`. Of four step sizes the one
//! whose own error estimate (Richardson, round-off and input rounding, see [`finite_difference`])
//! is smallest relative to the result is kept (the choice never looks at the gradient under test). `nanobragg grad -wrt <all>` (default `-loss
//! sum`, `-dtype f64`) must agree within 1e-5 relative, and its loss must equal S.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use nanobragg::registry::PARAMETERS;

/// Relative agreement required between `nanobragg grad` and the finite differences.
const MAX_REL_ERROR: f64 = 1e-5;
/// Relative steps tried (the step is `rel·|x|`; no parameter of the scene is 0).
const REL_STEPS: [f64; 4] = [1e-2, 1e-3, 1e-4, 1e-5];

/// The scene's flags (values are numbers so they can be perturbed), without N.
fn base_flags() -> Vec<(&'static str, Vec<f64>)> {
    vec![
        ("-cell", vec![45.0, 52.0, 58.0, 82.0, 97.0, 104.0]),
        ("-misset", vec![20.0, -15.0, 33.0]),
        ("-lambda", vec![1.3]),
        ("-dispersion", vec![1.0]),
        ("-dispsteps", vec![2.0]),
        ("-pixel", vec![0.12]),
        ("-distance", vec![70.0]),
        ("-detpixels", vec![12.0]),
        ("-Xbeam", vec![0.7]),
        ("-Ybeam", vec![0.6]),
        ("-oversample", vec![1.0]),
        ("-phi", vec![10.0]),
        ("-osc", vec![1.5]),
        ("-phisteps", vec![2.0]),
        ("-mosaic", vec![0.5]),
        ("-mosaic_domains", vec![2.0]),
        ("-mosaic_seed", vec![11.0]),
        ("-detector_abs", vec![150.0]),
        ("-detector_thick", vec![200.0]),
        ("-detector_thicksteps", vec![2.0]),
        ("-polar", vec![0.95]),
        ("-twotheta", vec![10.0]),
        ("-detector_rotx", vec![1.0]),
        ("-detector_roty", vec![2.0]),
        ("-detector_rotz", vec![3.0]),
        ("-panel_shift", vec![0.05, -0.03, 0.2]),
        ("-panel_rot", vec![0.5, -0.4, 0.3]),
        ("-group_rot", vec![-0.3, 0.2, 0.6]),
        ("-water", vec![0.03]),
        ("-fluence", vec![1.25e29]),
        ("-default_F", vec![60.0]),
    ]
}

/// Where a parameter's value lives: a flag's value, or an entry of `n_cells` in the TOML.
enum Slot {
    Flag(&'static str, usize),
    NCells(usize),
}

/// The slot of each `-wrt` name (the flag whose value the parameter is, in the same unit).
fn slot(name: &str) -> Slot {
    use Slot::*;
    match name {
        "cell_a" => Flag("-cell", 0),
        "cell_b" => Flag("-cell", 1),
        "cell_c" => Flag("-cell", 2),
        "cell_alpha" => Flag("-cell", 3),
        "cell_beta" => Flag("-cell", 4),
        "cell_gamma" => Flag("-cell", 5),
        "misset_x" => Flag("-misset", 0),
        "misset_y" => Flag("-misset", 1),
        "misset_z" => Flag("-misset", 2),
        "phi_start" => Flag("-phi", 0),
        "osc_range" => Flag("-osc", 0),
        "mosaic_spread" => Flag("-mosaic", 0),
        "N_a" => NCells(0),
        "N_b" => NCells(1),
        "N_c" => NCells(2),
        "distance_mm" => Flag("-distance", 0),
        "beam_center_s" => Flag("-Xbeam", 0),
        "beam_center_f" => Flag("-Ybeam", 0),
        "detector_rotx" => Flag("-detector_rotx", 0),
        "detector_roty" => Flag("-detector_roty", 0),
        "detector_rotz" => Flag("-detector_rotz", 0),
        "detector_twotheta" => Flag("-twotheta", 0),
        "panel_shift_x" => Flag("-panel_shift", 0),
        "panel_shift_y" => Flag("-panel_shift", 1),
        "panel_shift_z" => Flag("-panel_shift", 2),
        "panel_rot_f" => Flag("-panel_rot", 0),
        "panel_rot_s" => Flag("-panel_rot", 1),
        "panel_rot_o" => Flag("-panel_rot", 2),
        "group_rot_f" => Flag("-group_rot", 0),
        "group_rot_s" => Flag("-group_rot", 1),
        "group_rot_o" => Flag("-group_rot", 2),
        "pixel_size_mm" => Flag("-pixel", 0),
        "wavelength_a" => Flag("-lambda", 0),
        "dispersion" => Flag("-dispersion", 0),
        "fluence" => Flag("-fluence", 0),
        "polarization_k" => Flag("-polar", 0),
        "water_um" => Flag("-water", 0),
        "detector_abs_um" => Flag("-detector_abs", 0),
        "detector_thick_um" => Flag("-detector_thick", 0),
        "default_f" => Flag("-default_F", 0),
        other => panic!("no CLI slot for parameter {other}: add it to this test"),
    }
}

/// A scene: flags and the three N.
#[derive(Clone)]
struct Scene {
    flags: Vec<(&'static str, Vec<f64>)>,
    n_cells: [f64; 3],
}

impl Scene {
    fn get(&self, s: &Slot) -> f64 {
        match *s {
            Slot::Flag(f, i) => self.flags.iter().find(|x| x.0 == f).expect("flag").1[i],
            Slot::NCells(i) => self.n_cells[i],
        }
    }

    fn with(&self, s: &Slot, v: f64) -> Scene {
        let mut out = self.clone();
        match *s {
            Slot::Flag(f, i) => out.flags.iter_mut().find(|x| x.0 == f).expect("flag").1[i] = v,
            Slot::NCells(i) => out.n_cells[i] = v,
        }
        out
    }

    /// The command line (`-scene` file written into `dir`); values printed round-trip exact.
    fn args(&self, dir: &Path, tag: &str) -> Vec<String> {
        let toml = dir.join(format!("{tag}.toml"));
        let [a, b, c] = self.n_cells;
        std::fs::write(&toml, format!("[crystal]\nn_cells = [{a:?}, {b:?}, {c:?}]\n")).unwrap();
        let mut args = vec!["-scene".to_string(), toml.display().to_string()];
        for (flag, values) in &self.flags {
            args.push(flag.to_string());
            args.extend(values.iter().map(|v| format!("{v:?}")));
        }
        args
    }
}

#[path = "../../../tests/support/scratch.rs"]
mod scratch_dir;

/// A scratch folder for one test run (the CLI writes its default outputs into the cwd),
/// removed when the test passes.
fn scratch() -> scratch_dir::Scratch {
    scratch_dir::scratch_in_temp("nanobragg-grad-cli-fd", "run")
}

fn run(dir: &Path, args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nanobragg"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run nanobragg");
    assert!(
        out.status.success(),
        "nanobragg {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Σ of the image rendered by the CLI, read from its f64 output.
fn image_sum(dir: &Path, scene: &Scene) -> f64 {
    let mut args = scene.args(dir, "render");
    let out = dir.join("render_f64.bin");
    args.extend(["-floatfile_f64", out.to_str().unwrap(), "-nopgm", "-nonoise"].map(String::from));
    run(dir, &args);
    let values = nanobragg::io::float_image::read_float64_image(&out, 144).unwrap();
    values.iter().sum()
}

/// Relative precision with which the renderer takes a flag's value: f64, except the mosaic spread,
/// which the C program (and so the CLI, for identical domains) turns into domain angles in f32 —
/// renders see the spread on a staircase of relative steps 6e-8, an input error no Richardson
/// estimate can see, so it is added to the estimate (the selection then takes a large step).
fn input_precision(name: &str) -> f64 {
    if name == "mosaic_spread" {
        f32::EPSILON as f64
    } else {
        f64::EPSILON
    }
}

/// Richardson-extrapolated central difference of the image sum in `slot` at relative step `rel`,
/// with its error estimate: `|D(h/2) − D(h)|/3`, plus round-off `3·ε·|S₀|/h` (S₀ the sum at x),
/// plus the input rounding `ε_in·|x|/h·|D|`.
fn finite_difference(
    dir: &Path,
    scene: &Scene,
    s0: f64,
    slot: &Slot,
    rel: f64,
    eps_in: f64,
) -> (f64, f64) {
    let x = scene.get(slot);
    let d = |h: f64| {
        let (up, down) = (x + h, x - h);
        let fu = image_sum(dir, &scene.with(slot, up));
        let fd = image_sum(dir, &scene.with(slot, down));
        (fu - fd) / (up - down)
    };
    let h = rel * x.abs();
    let (coarse, fine) = (d(h), d(h / 2.0));
    let value = (4.0 * fine - coarse) / 3.0;
    let roundoff = 3.0 * f64::EPSILON * s0.abs() / h;
    let input = eps_in * x.abs() / h * value.abs();
    (value, (fine - coarse).abs() / 3.0 + roundoff + input)
}

#[test]
fn grad_matches_finite_differences_of_cli_renders_for_every_parameter() {
    let dir = scratch();
    let scene = Scene { flags: base_flags(), n_cells: [3.0, 4.0, 3.0] };
    let names: Vec<&str> = PARAMETERS.iter().map(|p| p.key).collect();

    let mut args = vec!["grad".to_string()];
    args.extend(scene.args(&dir, "grad"));
    args.extend(["-wrt".to_string(), names.join(",")]);
    let json: serde_json::Value = serde_json::from_str(run(&dir, &args).trim()).expect("grad JSON");
    let grads: BTreeMap<String, f64> = json["gradients"]
        .as_object()
        .expect("gradients")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().expect("number")))
        .collect();
    assert_eq!(grads.len(), names.len(), "one gradient per -wrt name");

    let sum = image_sum(&dir, &scene);
    let loss = json["loss"].as_f64().expect("loss");
    assert!((loss - sum).abs() <= 1e-12 * sum, "grad loss {loss} vs render sum {sum}");

    let mut bad = Vec::new();
    for name in names {
        let slot = slot(name);
        let (fd, est) = REL_STEPS
            .iter()
            .map(|&rel| finite_difference(&dir, &scene, sum, &slot, rel, input_precision(name)))
            .min_by(|a, b| (a.1 / a.0.abs()).total_cmp(&(b.1 / b.0.abs())))
            .unwrap();
        let g = grads[name];
        let rel = (g - fd).abs() / fd.abs();
        println!("{name:>20} grad {g:+.10e} FD {fd:+.10e} (± {est:.1e}) rel {rel:.2e}");
        if !(rel <= MAX_REL_ERROR) || fd == 0.0 {
            bad.push(format!("{name}: grad {g:e}, FD {fd:e}, rel {rel:.2e}"));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(bad.is_empty(), "nanobragg grad vs CLI finite differences: {bad:?}");
}
