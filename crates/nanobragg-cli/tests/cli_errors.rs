//! The binary's contract on bad input: a one-line error naming the flag or file (and line), a
//! non-zero exit, no panic, and no output file left behind. `-h` prints usage and exits 0.

mod common;

use common::{run, scratch, stderr};
use std::path::Path;
use std::process::Output;

const SCENE: &str = "-cell 100 100 100 90 90 90 -N 2 -lambda 1 -distance 100 -detpixels 8 \
                     -floatfile out.bin -intfile out.img -nonoise -nopgm";

fn assert_clean_failure(o: &Output, dir: &Path, expect: &str) {
    assert!(!o.status.success(), "expected failure, got success");
    let err = stderr(o);
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(err.contains(expect), "stderr {err:?} should mention {expect:?}");
    for f in ["out.bin", "out.img", "floatimage.bin", "intimage.img"] {
        assert!(!dir.join(f).exists(), "{f} was written despite the error");
    }
}

#[test]
fn help_prints_usage_and_exits_zero() {
    let dir = scratch("help");
    let o = run(&dir, "-h");
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("-hkl") && out.contains("-floatfile") && out.contains("cell_a"));
}

#[test]
fn unknown_flag_is_named_and_exits_2() {
    let dir = scratch("unknown");
    let o = run(&dir, &format!("{SCENE} -default_F 1 -foo 3"));
    assert_eq!(o.status.code(), Some(2));
    assert_clean_failure(&o, &dir, "-foo");
}

#[test]
fn missing_value_names_the_flag() {
    let dir = scratch("missing");
    let o = run(&dir, &format!("{SCENE} -default_F"));
    assert_clean_failure(&o, &dir, "-default_F");
}

#[test]
fn malformed_hkl_names_file_and_line() {
    let dir = scratch("hkl");
    std::fs::write(dir.join("bad.hkl"), "0 0 0 10\n1 0 0\n").unwrap();
    let o = run(&dir, &format!("{SCENE} -hkl bad.hkl"));
    assert_clean_failure(&o, &dir, "bad.hkl");
    assert!(stderr(&o).contains(":2"), "line number missing: {}", stderr(&o));
}

#[test]
fn short_matrix_names_the_file() {
    let dir = scratch("mat");
    std::fs::write(dir.join("short.mat"), "0.01 0 0\n0 0.01 0\n").unwrap();
    let o = run(
        &dir,
        "-mat short.mat -default_F 1 -N 2 -lambda 1 -detpixels 8 -floatfile out.bin -nonoise -nopgm",
    );
    assert_clean_failure(&o, &dir, "short.mat");
}

#[test]
fn missing_input_file_names_it() {
    let dir = scratch("nofile");
    let o = run(&dir, &format!("{SCENE} -hkl nowhere.hkl"));
    assert_clean_failure(&o, &dir, "nowhere.hkl");
}

#[test]
fn no_structure_factors_is_an_error() {
    let dir = scratch("nof");
    let o = run(&dir, SCENE);
    assert_clean_failure(&o, &dir, "structure factors");
}

#[test]
fn beam_parallel_to_detector_is_impossible_geometry() {
    let dir = scratch("geom");
    let o = run(&dir, &format!("{SCENE} -default_F 1 -detector_roty 90"));
    assert_clean_failure(&o, &dir, "geometry");
}

#[test]
fn malformed_source_file_names_file_and_line() {
    let dir = scratch("src");
    std::fs::write(dir.join("sources.txt"), "-10 0 0 1 1e-10\n# comment\n").unwrap();
    let o = run(&dir, &format!("{SCENE} -default_F 1 -sourcefile sources.txt"));
    assert_clean_failure(&o, &dir, "sources.txt");
}

#[test]
fn a_good_command_writes_its_outputs() {
    let dir = scratch("good");
    let o = run(&dir, &format!("{SCENE} -default_F 1"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(dir.join("out.bin")).unwrap().len(), 8 * 8 * 4);
    assert_eq!(std::fs::metadata(dir.join("out.img")).unwrap().len(), 512 + 8 * 8 * 2);
}
