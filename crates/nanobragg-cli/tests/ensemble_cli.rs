//! `nanobragg ensemble`: structure factors shared by many stills refined against their images.
//! The data are rendered by `nanobragg batch` from a known F set (each shot's noisy SMV
//! image); the ensemble starts from F 25 % off and each shot's misset 0.03° off.
//!
//! * one process: F moves towards the truth, every output is written and sound;
//! * a run restarted from its checkpoint writes the same files as one that did not stop;
//! * with the `mpi` feature, 2 ranks give the single-process loss and gradient at the start,
//!   and loss and F after 5 iterations, to 1e-10 relative; a rank whose shot cannot be read
//!   stops the job within seconds, naming the rank and the shot;
//! * bad inputs are refused before anything is written.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{run, scratch, stderr, stdout};

const SCENE: &str = "-cell 30 34 38 90 90 90 -N 4 -lambda 1 -distance 60 -detpixels 32 -pixel 0.3 \
    -oversample 1 -fluence 2e29 -nopgm -noprogress";
const SHOTS: usize = 12;
const GRID: [i32; 3] = [3, 3, 4];

/// splitmix64, for reproducible values without a dependency.
fn uniform(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn indices() -> Vec<[i32; 3]> {
    let [h, k, l] = GRID;
    (-h..=h).flat_map(|a| (-k..=k).flat_map(move |b| (-l..=l).map(move |c| [a, b, c]))).collect()
}

/// The true F and the start (25 % off at random).
fn truth_and_start() -> (Vec<f64>, Vec<f64>) {
    let n = indices().len() as u64;
    let truth: Vec<f64> = (0..n).map(|i| 20.0 + 180.0 * uniform(i)).collect();
    let start = truth.iter().enumerate().map(|(i, f)| f * (0.75 + 0.5 * uniform(n + i as u64))).collect();
    (truth, start)
}

fn write_hkl(path: &Path, f: &[f64]) {
    let text: String = indices().iter().zip(f).map(|([h, k, l], v)| format!("{h} {k} {l} {v}\n")).collect();
    std::fs::write(path, text).unwrap();
}

fn misset(i: usize) -> [f64; 3] {
    [0, 1, 2].map(|a| 360.0 * uniform(1000 + 3 * i as u64 + a) - 180.0)
}

/// Render the shots from the truth (`batch`) and write the ensemble's list: each shot's
/// misset 0.03° off, its noisy image; `missing` names a shot whose image is not there.
fn experiment(dir: &Path, missing: Option<usize>) {
    let (truth, start) = truth_and_start();
    write_hkl(&dir.join("truth.hkl"), &truth);
    write_hkl(&dir.join("start.hkl"), &start);
    std::fs::create_dir_all(dir.join("images")).unwrap();
    let (mut render, mut refine) = (String::new(), String::new());
    for i in 0..SHOTS {
        let m = misset(i);
        writeln!(render, "[[shot]]\nname = \"s{i:02}\"\nmisset_deg = [{}, {}, {}]\nseed = {}\n", m[0], m[1], m[2], 100 + i).unwrap();
        let image = if missing == Some(i) { "images/gone.img".to_string() } else { format!("images/s{i:02}.noise.img") };
        writeln!(refine, "[[shot]]\nname = \"s{i:02}\"\nmisset_deg = [{}, {}, {}]\nimage = \"{image}\"\n", m[0] + 0.03, m[1] - 0.02, m[2] + 0.01).unwrap();
    }
    std::fs::write(dir.join("render.toml"), render).unwrap();
    std::fs::write(dir.join("shots.toml"), refine).unwrap();
    let out = run(dir, &format!("batch -shots render.toml -outdir images {SCENE} -hkl truth.hkl"));
    assert!(out.status.success(), "{}", stderr(&out));
}

fn ensemble_args(outdir: &str, extra: &str) -> String {
    format!("ensemble {SCENE} -hkl start.hkl -shots shots.toml -outdir {outdir} -refine_shot misset_x,misset_y,misset_z {extra}")
}

/// `h k l F [σ]` lines.
fn read_hkl(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.split_whitespace().map(|t| t.parse::<f64>().unwrap()).collect())
        .collect()
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    cov / (a.iter().map(|x| (x - ma).powi(2)).sum::<f64>() * b.iter().map(|y| (y - mb).powi(2)).sum::<f64>()).sqrt()
}

#[test]
fn an_ensemble_moves_the_observed_structure_factors_towards_the_truth_and_writes_its_files() {
    let dir = scratch("ensemble");
    experiment(&dir, None);
    std::fs::create_dir(dir.join("out")).unwrap();
    let out = run(&dir, &ensemble_args("out", "-cycles 2"));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("cycle 1:") && text.contains("cycle 2:") && text.contains("wrote refined.hkl"), "{text}");
    let refined = read_hkl(&dir.join("out/refined.hkl"));
    let with_sigma = read_hkl(&dir.join("out/refined_sigma.hkl"));
    assert_eq!((refined.len(), with_sigma.len()), (indices().len(), indices().len()));
    let (truth, start) = truth_and_start();
    let observed: Vec<usize> = (0..truth.len()).filter(|&i| with_sigma[i][4].is_finite()).collect();
    assert!(observed.len() > 20, "{} reflections observed", observed.len());
    for (i, row) in refined.iter().enumerate() {
        assert_eq!(row[..3], indices()[i].map(f64::from), "line {i}");
        assert_eq!(row[3], with_sigma[i][3], "line {i}: the two files agree");
        if !observed.contains(&i) {
            assert_eq!(row[3], start[i], "an unobserved F stays at its start");
        }
    }
    // The structure factors measured to 10 % (weak ones may fall towards 0, with a σ to match).
    let precise: Vec<usize> = observed.iter().copied().filter(|&i| with_sigma[i][4] < 0.1 * truth[i]).collect();
    let pick = |v: &dyn Fn(usize) -> f64| precise.iter().map(|&i| v(i)).collect::<Vec<f64>>();
    let (cc0, cc1) = (correlation(&pick(&|i| start[i]), &pick(&|i| truth[i])), correlation(&pick(&|i| refined[i][3]), &pick(&|i| truth[i])));
    assert!(precise.len() * 2 > observed.len(), "{} of {} observed F measured to 10 %", precise.len(), observed.len());
    assert!(cc1 > cc0 + 0.03 && cc1 > 0.99, "CC with the truth {cc0:.4} -> {cc1:.4}");
    let shots: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("out/shots.json")).unwrap()).unwrap();
    let shots = shots.as_array().unwrap();
    assert_eq!(shots.len(), SHOTS);
    let mut closer = 0;
    for s in shots {
        let i = s["index"].as_u64().unwrap() as usize;
        assert_eq!(s["name"], format!("s{i:02}"));
        let m = misset(i);
        let off = (s["misset_x"].as_f64().unwrap() - m[0]).abs() + (s["misset_y"].as_f64().unwrap() - m[1]).abs() + (s["misset_z"].as_f64().unwrap() - m[2]).abs();
        closer += usize::from(off < 0.06);
    }
    assert!(closer * 4 >= SHOTS * 3, "only {closer} of {SHOTS} shots' missets moved towards the truth");
    assert!(dir.join("out/checkpoint.json").exists());
}

/// `-schedule shots` (per-shot refinement) with F held at the truth: the structure factors are
/// written unchanged with no σ, and each shot's misset comes back near the truth with a σ
/// that covers its error for most shots.
#[test]
fn per_shot_refinement_holds_the_structure_factors_and_reports_each_shots_sigma() {
    let dir = scratch("ensemble-shots");
    experiment(&dir, None);
    std::fs::create_dir(dir.join("out")).unwrap();
    let out = run(&dir, &ensemble_args("out", "-schedule shots").replace("-hkl start.hkl", "-hkl truth.hkl"));
    assert!(out.status.success(), "{}", stderr(&out));
    let (truth, _) = truth_and_start();
    let with_sigma = read_hkl(&dir.join("out/refined_sigma.hkl"));
    for (i, row) in with_sigma.iter().enumerate() {
        assert!(row[3] == truth[i] && row[4].is_nan(), "line {i}: {row:?}");
    }
    let shots: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("out/shots.json")).unwrap()).unwrap();
    let mut z = Vec::new();
    for s in shots.as_array().unwrap() {
        let m = misset(s["index"].as_u64().unwrap() as usize);
        for (a, name) in ["misset_x", "misset_y", "misset_z"].iter().enumerate() {
            let sigma = s[format!("sigma_{name}")].as_f64().unwrap_or_else(|| panic!("no σ: {s}"));
            assert!(sigma > 0.0 && sigma.is_finite(), "{name} σ {sigma}");
            z.push((s[*name].as_f64().unwrap() - m[a]) / sigma);
        }
    }
    let within = z.iter().filter(|z| z.abs() <= 2.0).count();
    assert!(within * 10 >= z.len() * 8, "{within} of {} missets within 2σ: {z:?}", z.len());
}

#[test]
fn a_run_restarted_from_its_checkpoint_writes_what_the_uninterrupted_run_writes() {
    let dir = scratch("ensemble-restart");
    experiment(&dir, None);
    for d in ["whole", "part"] {
        std::fs::create_dir(dir.join(d)).unwrap();
    }
    let whole = run(&dir, &ensemble_args("whole", "-cycles 3"));
    assert!(whole.status.success(), "{}", stderr(&whole));
    let first = run(&dir, &ensemble_args("part", "-cycles 2 -checkpoint_every 1"));
    assert!(first.status.success(), "{}", stderr(&first));
    let rest = run(&dir, &ensemble_args("part", "-cycles 3 -restart part/checkpoint.json"));
    assert!(rest.status.success(), "{}", stderr(&rest));
    assert!(stdout(&rest).contains("cycles 3..=3") && !stdout(&rest).contains("cycle 1:"), "{}", stdout(&rest));
    for f in ["refined.hkl", "refined_sigma.hkl", "shots.json", "checkpoint.json"] {
        assert!(std::fs::read(dir.join("whole").join(f)).unwrap() == std::fs::read(dir.join("part").join(f)).unwrap(), "{f} differs");
    }
}

#[test]
fn bad_inputs_are_refused_before_anything_is_written() {
    let dir = scratch("ensemble-refuse");
    experiment(&dir, Some(3));
    std::fs::create_dir(dir.join("out")).unwrap();
    std::fs::write(dir.join("other.json"), "{\"cycle\":1}").unwrap();
    for (args, want) in [
        (format!("ensemble {SCENE} -shots shots.toml -outdir out"), "-hkl"),
        (format!("ensemble {SCENE} -hkl start.hkl -outdir out"), "-shots"),
        (format!("ensemble {SCENE} -hkl start.hkl -shots shots.toml -outdir nowhere"), "-outdir"),
        (ensemble_args("out", "-cycles 1"), "shot 3 (s03)"),
        (ensemble_args("out", "-cycles 1 -refine_shot cell_q"), "-refine_shot"),
        (format!("{SCENE} -hkl start.hkl -cycles 2"), "belong to nanobragg ensemble"),
    ] {
        let out = run(&dir, &args);
        assert!(!out.status.success(), "{args}: accepted");
        assert!(stderr(&out).contains(want), "{args}: {}", stderr(&out));
        // One prefix each: the shot and "refinement failed" are not repeated by each layer.
        for once in ["shot 3 (s03)", "refinement failed"] {
            assert!(stderr(&out).matches(once).count() <= 1, "{args}: {once:?} repeated: {}", stderr(&out));
        }
        assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0, "{args}: wrote a file");
    }
    let skip = run(&dir, &ensemble_args("out", "-cycles 1 -skip_bad_shots"));
    assert!(skip.status.success(), "{}", stderr(&skip));
    assert!(stderr(&skip).contains("shot 3 (s03) left out"), "{}", stderr(&skip));
    assert!(stdout(&skip).contains(&format!("ensemble: {} shots", SHOTS - 1)), "{}", stdout(&skip));
    let restart = run(&dir, &ensemble_args("out", "-cycles 2 -skip_bad_shots -restart other.json"));
    assert!(!restart.status.success() && stderr(&restart).contains("-restart other.json"), "{}", stderr(&restart));
}

/// A copy of the SMV image `from` with every pixel 0: a mask that keeps no pixel; and one of
/// its first 16 slow rows alone (`SIZE2=16`): a mask the detector's 32 × 32 pixels do not fit.
fn write_bad_masks(from: &Path, empty: &Path, small: &Path) {
    let mut bytes = std::fs::read(from).unwrap();
    let text = String::from_utf8_lossy(&bytes[..512]).to_string();
    let header: usize = text.split("HEADER_BYTES=").nth(1).and_then(|t| t.split(';').next()).unwrap().trim().parse().unwrap();
    bytes[header..].fill(0);
    std::fs::write(empty, &bytes).unwrap();
    let head = String::from_utf8_lossy(&bytes[..header]).replacen("SIZE2=32;", "SIZE2=16;", 1);
    assert_eq!(head.len(), header, "the header keeps its size");
    let mut half = head.into_bytes();
    half.extend(std::iter::repeat_n(1u8, 16 * 32 * 2));
    std::fs::write(small, half).unwrap();
}

#[test]
fn a_shots_mask_key_selects_the_pixels_it_renders_and_fits() {
    let dir = scratch("ensemble-mask");
    experiment(&dir, None);
    std::fs::create_dir(dir.join("out")).unwrap();
    write_bad_masks(&dir.join("images/s02.noise.img"), &dir.join("empty.mask.img"), &dir.join("small.mask.img"));
    let list = std::fs::read_to_string(dir.join("shots.toml")).unwrap();
    let with_mask = |mask: &str| list.replacen("image = \"images/s02.noise.img\"", &format!("image = \"images/s02.noise.img\"\nmask = \"{mask}\""), 1);
    for (mask, want) in [
        ("empty.mask.img", "no pixels left after ROI and mask"),
        ("gone.mask.img", "gone.mask.img"),
        ("small.mask.img", "small.mask.img: mask has 512 pixels but the detector has 32x32"),
    ] {
        std::fs::write(dir.join("shots.toml"), with_mask(mask)).unwrap();
        let out = run(&dir, &ensemble_args("out", "-cycles 1"));
        assert!(!out.status.success(), "{mask}: accepted");
        assert!(stderr(&out).contains("shot 2 (s02)") && stderr(&out).contains(want), "{mask}: {}", stderr(&out));
        assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0, "{mask}: wrote a file");
    }
}

/// `mpirun -np 2` of the binary (as root where the tests run as root).
#[cfg(feature = "mpi")]
fn mpirun(dir: &Path, args: &str) -> std::process::Output {
    std::process::Command::new("mpirun")
        .args(["--oversubscribe", "-np", "2", common::bin()])
        .args(args.split_whitespace())
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .current_dir(dir)
        .output()
        .expect("mpirun (apt-get install openmpi-bin)")
}

#[cfg(feature = "mpi")]
#[test]
fn two_mpi_ranks_give_the_single_process_loss_gradient_and_structure_factors_to_1e_10() {
    let dir = scratch("ensemble-mpi");
    experiment(&dir, None);
    for d in ["one", "two"] {
        std::fs::create_dir(dir.join(d)).unwrap();
    }
    let one = run(&dir, &ensemble_args("one", "-max_iter 5"));
    assert!(one.status.success(), "{}", stderr(&one));
    let two = mpirun(&dir, &ensemble_args("two", "-max_iter 5"));
    assert!(two.status.success(), "{}{}", stdout(&two), stderr(&two));
    assert!(stdout(&two).contains("on 2 rank(s)"), "{}", stdout(&two));
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-10 * a.abs().max(b.abs()).max(1.0);
    // "start: loss L, |∂loss/∂F|∞ G" and "cycle 1: loss L, …"
    let numbers = |o: &std::process::Output, head: &str| -> Vec<f64> {
        let text = stdout(o);
        let line = text.lines().find(|l| l.starts_with(head)).unwrap_or_else(|| panic!("no '{head}' line: {text}")).to_string();
        line.split(|c: char| c == ' ' || c == ',').filter_map(|t| t.parse::<f64>().ok()).collect()
    };
    for head in ["start:", "cycle 1:"] {
        let (a, b) = (numbers(&one, head), numbers(&two, head));
        assert!(close(a[0], b[0]) && (head != "start:" || close(a[1], b[1])), "{head} one process {a:?}, two ranks {b:?}");
    }
    let (a, b) = (read_hkl(&dir.join("one/refined.hkl")), read_hkl(&dir.join("two/refined.hkl")));
    let moved = a.iter().zip(read_hkl(&dir.join("start.hkl"))).filter(|(x, s)| x[3] != s[3]).count();
    assert!(moved > 20, "only {moved} F moved in 5 iterations");
    for (x, y) in a.iter().zip(&b) {
        assert!(close(x[3], y[3]), "F{:?}: one process {}, two ranks {}", &x[..3], x[3], y[3]);
    }
}

#[cfg(feature = "mpi")]
#[test]
fn a_rank_that_cannot_read_its_shot_stops_the_job_within_seconds_naming_it() {
    let dir = scratch("ensemble-mpi-fail");
    experiment(&dir, Some(SHOTS - 1));
    std::fs::create_dir(dir.join("out")).unwrap();
    let clock = std::time::Instant::now();
    let out = mpirun(&dir, &ensemble_args("out", "-cycles 1"));
    let took = clock.elapsed();
    assert!(!out.status.success(), "the job succeeded without shot {}", SHOTS - 1);
    let err = stderr(&out);
    assert!(err.contains(&format!("rank 1: shot {} (s{:02})", SHOTS - 1, SHOTS - 1)), "{err}");
    assert!(took < std::time::Duration::from_secs(60), "took {took:?}");
    assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0, "wrote a file");
}
