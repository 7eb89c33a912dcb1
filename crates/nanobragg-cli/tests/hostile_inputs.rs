//! Wrong, extreme and corrupt inputs through the binary: every one either renders a finite image
//! or is refused with one line naming the input, a non-zero exit, no panic, and no output file
//! touched (docs/reliability.md lists the classes and what the C program does with each).

mod common;

use common::{listing, read_f32, run, run_args, scratch, stderr, stdout, write_f32};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::process::Output;

/// The scene of the issue that found these defects (64×64 pixels, raw float output only).
const B: &str = "-cell 100 100 100 90 90 90 -N 5 -default_F 100 -lambda 1 -distance 100 \
                 -detpixels 64 -floatfile out.bin -nonoise -nopgm";

/// Refused: non-zero exit, no panic or abort, one line naming `expect`, nothing written.
fn assert_refused(o: &Output, dir: &Path, case: &str, expect: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "{case}: expected a refusal, got success");
    assert_eq!(o.status.code(), Some(1), "{case}: exit {:?} (a signal is an abort): {err}", o.status);
    assert!(!err.contains("panicked"), "{case}: panic: {err}");
    assert!(err.contains(expect), "{case}: stderr {err:?} should mention {expect:?}");
    assert_eq!(err.lines().filter(|l| l.starts_with("nanobragg: error")).count(), 1, "{case}: {err}");
    for f in ["out.bin", "floatimage.bin", "intimage.img"] {
        assert!(!dir.join(f).exists(), "{case}: {f} was written despite the error");
    }
}

/// Input files the cases below name.
fn write_inputs(dir: &Path) {
    let files: [(&str, &[u8]); 7] = [
        ("zero.mat", b"0 0 0\n0 0 0\n0 0 0\n"),
        ("singular.mat", b"0.01 0 0\n0.01 0 0\n0 0 0.01\n"),
        ("nan.hkl", b"0 0 0 nan\n1 0 0 100\n"),
        ("inf.hkl", b"0 0 0 inf\n1 0 0 100\n"),
        ("lambda0.txt", b"0 0 10 1 0\n"),
        ("origin.txt", b"0 0 0 1 1e-10\n"),
        ("nan.toml", b"[beam]\nwavelength_a = nan\n"),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    // An SMV header that says WAVELENGTH=0 (the -img header sets λ when -lambda is absent).
    let mut smv = b"{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER=little_endian;\nTYPE=unsigned_short;\n\
SIZE1=64;\nSIZE2=64;\nPIXEL_SIZE=0.1;\nDISTANCE=100;\nWAVELENGTH=0;\n}\n"
        .to_vec();
    smv.resize(512, b' ');
    smv.resize(512 + 64 * 64 * 2, 0);
    std::fs::write(dir.join("lambda0.img"), smv).unwrap();
}

#[test]
fn degenerate_and_extreme_renders_are_refused_naming_the_input() {
    let no_lambda = B.replace("-lambda 1 ", "");
    let cases: Vec<(String, &str)> = vec![
        (format!("{B} -lambda 0"), "-lambda"),
        (format!("{B} -pixel 1e300"), "-pixel"),
        (format!("{B} -distance -5"), "-distance"),
        (format!("{B} -cell 1e300 1e300 1e300 90 90 90"), "-cell"),
        (format!("{B} -cell 100 100 100 90 90 180"), "gamma = 180"),
        (format!("{B} -cell 100 100 100 90 -90 90"), "beta = -90"),
        (format!("{B} -cell -100 100 100 90 90 90"), "a = -100"),
        (format!("{B} -cell 100 100 100 170 170 170"), "degenerate cell"),
        (format!("{B} -mat zero.mat"), "-mat"),
        (format!("{B} -mat singular.mat"), "singular"),
        (format!("{B} -dispersion 250 -dispsteps 3"), "-dispersion"),
        (format!("{B} -mosaic 1e308 -mosaic_dom 5"), "-mosaic"),
        (format!("{B} -hkl nan.hkl"), "nan.hkl:1"),
        (format!("{B} -hkl inf.hkl"), "inf.hkl:1"),
        (format!("{B} -oversample 4294967296"), "-oversample"),
        (format!("{B} -oversample 9223372036854775807"), "-oversample"),
        (format!("{B} -N 1000000000"), "auto-selected"),
        (format!("{B} -sourcefile lambda0.txt"), "lambda0.txt:1"),
        (format!("{B} -sourcefile origin.txt"), "origin.txt:1"),
        (format!("{no_lambda} -img lambda0.img"), "WAVELENGTH"),
        (format!("{no_lambda} -scene nan.toml"), "beam.wavelength_a"),
        (B.replace("-default_F 100", "-default_F 0"), "empty image"),
        (B.replace("-detpixels 64", "-detsize 0"), "0 x 0 pixels"),
        (format!("{B} -roi 40 10 0 63"), "-roi"),
        (format!("{B} -hkl /dev/zero"), "/dev/zero"),
        (format!("{B} -fdet_vector 0 0 0"), "-fdet_vector"),
    ];
    let dir = scratch("refused");
    write_inputs(&dir);
    for (args, expect) in &cases {
        let o = run(&dir, args);
        assert_refused(&o, &dir, args, expect);
    }
}

#[test]
fn grad_and_refine_refuse_degenerate_geometry_without_panicking() {
    let dir = scratch("grad-degenerate");
    for extra in ["-lambda 0", "-pixel 1e300", "-cell 1e300 1e300 1e300 90 90 90", "-distance 1e-3"] {
        let o = run(&dir, &format!("grad {B} {extra} -wrt cell_a,distance_mm"));
        assert_refused(&o, &dir, extra, "error");
    }
    write_f32(&dir.join("t.bin"), &[1.0; 64 * 64]);
    let o = run(&dir, &format!("refine {B} -lambda 0 -refine cell_a -target t.bin"));
    assert_refused(&o, &dir, "refine -lambda 0", "-lambda");
}

#[test]
fn a_tiny_distance_gives_finite_gradients() {
    let dir = scratch("grad-tiny");
    let o = run(&dir, &format!("grad {B} -distance 1e-300 -wrt cell_a"));
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(json["loss"].as_f64().is_some_and(f64::is_finite), "{json}");
    assert!(json["gradients"]["cell_a"].as_f64().is_some_and(f64::is_finite), "{json}");
}

#[test]
fn grad_and_refine_refuse_bad_targets() {
    let dir = scratch("targets");
    let mut nan = vec![1.0f32; 64 * 64];
    nan[100] = f32::NAN;
    write_f32(&dir.join("nan.bin"), &nan);
    write_f32(&dir.join("zero.bin"), &[0.0; 64 * 64]);
    write_f32(&dir.join("small.bin"), &[1.0; 100]);
    for (target, expect) in [("nan.bin", "pixel 100 is NaN"), ("zero.bin", "every pixel is 0"), ("small.bin", "expected 4096 pixels")] {
        let o = run(&dir, &format!("grad {B} -wrt cell_a -loss l2:{target}"));
        assert_refused(&o, &dir, target, expect);
        let o = run(&dir, &format!("refine {B} -refine cell_a -target {target}"));
        assert_refused(&o, &dir, target, target);
        assert!(!dir.join("refined_scene.toml").exists());
    }
}

#[test]
fn twotheta_90_auto_selects_one_fold_like_the_c_program() {
    let dir = scratch("twotheta");
    let o = run(&dir, &format!("{B} -twotheta 90"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("auto-selected 1-fold oversampling"), "{}", stdout(&o));
    assert!(read_f32(&dir.join("out.bin")).iter().all(|v| v.is_finite()));
}

#[test]
fn heavy_oversampling_renders_within_a_memory_limit() {
    // 64 pixels x 10^6 sub-pixels: one 256-pixel chunk of evaluations would be 2.3 GB.
    let dir = scratch("oversample");
    let cmd = format!(
        "ulimit -v 1500000 && exec {} {}",
        common::bin(),
        B.replace("-detpixels 64", "-detpixels 8") + " -oversample 1000"
    );
    let o = std::process::Command::new("sh").arg("-c").arg(cmd).current_dir(&dir).output().unwrap();
    assert!(o.status.success(), "{:?}: {}", o.status, stderr(&o));
    let img = read_f32(&dir.join("out.bin"));
    assert!(img.iter().all(|v| v.is_finite()) && img.iter().any(|&v| v > 0.0));
}

#[test]
fn a_file_name_that_is_not_utf8_is_written_byte_for_byte() {
    let dir = scratch("non-utf8");
    let name = OsString::from_vec(b"o\xffut.bin".to_vec());
    let mut args: Vec<OsString> = B.split_whitespace().map(OsString::from).collect();
    let at = args.iter().position(|a| a == "out.bin").unwrap();
    args[at] = name.clone();
    let o = run_args(&dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(dir.join(&name)).unwrap().len(), 64 * 64 * 4);
}

#[test]
fn an_unwritable_output_is_refused_before_the_render_replaces_anything() {
    let dir = scratch("plan");
    std::fs::write(dir.join("keep.bin"), b"KEEP").unwrap();
    std::fs::write(dir.join("in.hkl"), b"0 0 0 10\n").unwrap();
    std::fs::create_dir(dir.join("folder")).unwrap();
    let base = B.replace("-floatfile out.bin", "-floatfile keep.bin");
    let cases = [
        ("-intfile /nonexistent/x.img", "-intfile /nonexistent/x.img: folder /nonexistent does not exist"),
        ("-intfile keep.bin", "is also the output file of -floatfile"),
        ("-intfile in.hkl -hkl in.hkl", "is also the input file of -hkl"),
        ("-intfile folder", "-intfile folder: is a folder"),
    ];
    for (extra, expect) in cases {
        let o = run(&dir, &format!("{base} {extra}"));
        assert!(!o.status.success(), "{extra}");
        assert!(stderr(&o).contains(expect), "{extra}: {}", stderr(&o));
        assert_eq!(std::fs::read(dir.join("keep.bin")).unwrap(), b"KEEP", "{extra}");
    }
    assert_eq!(listing(&dir), ["folder", "in.hkl", "keep.bin"], "no temporary or probe file left");
}

#[test]
fn outputs_follow_symlinks_keep_permissions_and_reach_devices() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("special");
    std::fs::write(dir.join("real.bin"), b"old").unwrap();
    std::fs::set_permissions(dir.join("real.bin"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("real.bin", dir.join("link.bin")).unwrap();
    let args = B.replace("-floatfile out.bin", "-floatfile link.bin -intfile /dev/stdout");
    let o = run(&dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(dir.join("link.bin")).unwrap().file_type().is_symlink());
    let real = std::fs::metadata(dir.join("real.bin")).unwrap();
    assert_eq!(real.len(), 64 * 64 * 4);
    assert_eq!(real.permissions().mode() & 0o777, 0o640);
    // The SMV image went to standard output, after the report lines.
    let header = o.stdout.windows(13).position(|w| w == b"HEADER_BYTES=").expect("SMV on stdout");
    assert!(o.stdout.len() >= header + 64 * 64 * 2);
}

#[test]
fn long_paths_are_shortened_in_messages() {
    let dir = scratch("long");
    let long = format!("{}/f.bin", "x".repeat(300));
    let o = run(&dir, &B.replace("out.bin", &long));
    assert_refused(&o, &dir, "long path", "…");
    assert!(stderr(&o).lines().all(|l| l.chars().count() < 400), "{}", stderr(&o));
}

#[test]
fn a_fifo_output_is_written_in_place() {
    let dir = scratch("fifo");
    let fifo = dir.join("pipe.bin");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let o = run(&dir, &B.replace("out.bin", "pipe.bin"));
    if !o.status.success() {
        // Release the reader (it waits for a writer) before failing.
        drop(std::fs::OpenOptions::new().write(true).open(&fifo));
        panic!("{}", stderr(&o));
    }
    assert_eq!(reader.join().unwrap().len(), 64 * 64 * 4);
    assert_eq!(listing(&dir), ["intimage.img", "pipe.bin"], "no temporary left beside the FIFO");
}
