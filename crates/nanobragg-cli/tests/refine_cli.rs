//! `nanobragg refine`: fits a scene to an image the binary itself rendered, prints the table
//! and writes the refined scene; usage errors exit 2 with a message.

use std::path::Path;
use std::process::{Command, Output};

#[path = "../../../tests/support/scratch.rs"]
mod scratch_dir;

/// The test's folder, removed when it passes.
fn scratch(name: &str) -> scratch_dir::Scratch {
    scratch_dir::scratch_in_temp("nanobragg-refine-cli", name)
}

fn run(dir: &Path, args: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nanobragg"))
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .unwrap()
}

const SCENE: &str = "-cell 48 52 56 88 91 93 -misset 12 -25 31 -N 4 -default_F 100 -lambda 1 \
    -pixel 0.2 -detpixels 32 -oversample 1 -fluence 2e30 -Xbeam 3.0 -Ybeam 3.4";

#[test]
fn refine_recovers_the_distance_of_a_rendered_image_and_writes_the_scene() {
    let dir = scratch("distance");
    let made = run(&dir, &format!("{SCENE} -distance 60 -floatfile target.bin -nonoise -nopgm -noprogress"));
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let out = run(
        &dir,
        &format!("refine {SCENE} -distance 60.8 -target target.bin -refine distance_mm -loss l2 -refined_scene r.toml -refined_mat r.mat"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("distance_mm") && stdout.contains("refined model as nanoBragg flags"), "{stdout}");
    let scene = nanobragg::Scene::from_toml_str(&std::fs::read_to_string(dir.join("r.toml")).unwrap()).unwrap();
    let d = scene.detector.distance_mm.unwrap();
    assert!((d - 60.0).abs() < 1e-4, "refined distance {d}\n{stdout}");
    assert!(std::fs::read_to_string(dir.join("r.mat")).unwrap().lines().count() >= 9);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refine_without_target_or_names_is_a_usage_error() {
    let dir = scratch("usage");
    for (args, expect) in [
        (format!("refine {SCENE} -refine distance_mm"), "-target"),
        (format!("refine {SCENE} -target t.bin"), "-refine"),
        (format!("refine {SCENE} -target t.bin -refine nonsense"), "unknown parameter"),
        (format!("refine {SCENE} -target t.bin -refine scale -loss sum"), "poisson, l2[:sigma] or huber[:c]"),
    ] {
        let out = run(&dir, &args);
        assert_eq!(out.status.code(), Some(2), "{args}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{args}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `grad`, `refine` and `ensemble` share one backend dispatch: a backend they do not run on
/// (flex renders only) is refused with exit 2, naming the flag and the command, before any
/// input is read (the target and shot list here do not exist).
#[test]
fn gradient_commands_refuse_a_backend_without_gradients_naming_the_command() {
    let dir = scratch("backend");
    for (command, more) in [
        ("grad", "-wrt distance_mm"),
        ("refine", "-target missing.bin -refine distance_mm"),
        ("ensemble", "-shots missing.toml -hkl missing.hkl"),
    ] {
        let args = format!("{command} {SCENE} {more} -backend flex");
        let out = run(&dir, &args);
        assert_eq!(out.status.code(), Some(2), "{args}");
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or_default();
        assert!(first.contains(&format!("-backend flex: nanobragg {command} runs on ndarray")), "{args}: {err}");
    }
}
