//! Byte-identity of our file readers/writers against the golden files written by the C nanoBragg.
//!
//! The corpus is found via the `NANOBRAGG_GOLDEN` environment variable, defaulting to
//! `<CARGO_MANIFEST_DIR>/../../../shared/golden`. A missing corpus is a test failure, not a skip.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nanobragg::io::{
    fdump_bytes, format_g, int_image, intfile_auto_scale, parse_smv, pgm_auto_scale, pgm_bytes,
    pgm_pixels, read_fdump, read_float_image, read_hkl, read_mosflm_matrix, read_smv,
    read_sourcefile, smv_bytes, smv_header_bytes, Roi, SmvHeaderValues,
};

fn golden_dir() -> PathBuf {
    let dir = match std::env::var_os("NANOBRAGG_GOLDEN") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden"),
    };
    assert!(
        dir.join("cases").is_dir(),
        "golden corpus not found at {} (set NANOBRAGG_GOLDEN to the folder holding cases/)",
        dir.display()
    );
    dir
}

fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(golden_dir().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no golden cases");
    v
}

fn name(case: &Path) -> String {
    case.file_name().unwrap().to_string_lossy().into_owned()
}

fn args(case: &Path) -> Vec<String> {
    std::fs::read_to_string(case.join("args.txt"))
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The numbers following flag `flag` (exact token match).
fn arg_values(args: &[String], flag: &str, n: usize) -> Option<Vec<f64>> {
    let i = args.iter().position(|a| a == flag)?;
    Some(
        args[i + 1..i + 1 + n]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect(),
    )
}

fn meta(case: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(case.join("meta.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.split_once(": ")
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn dims(case: &Path) -> (usize, usize) {
    let m = meta(case);
    (m["fpixels"].parse().unwrap(), m["spixels"].parse().unwrap())
}

fn stdout_line(case: &Path, prefix: &str) -> Option<String> {
    std::fs::read_to_string(case.join("stdout.txt"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(prefix))
        .map(String::from)
}

/// The C program's ROI (inclusive; default covers the detector).
fn roi(args: &[String], f: usize, s: usize) -> Roi {
    match arg_values(args, "-roi", 4) {
        Some(v) => Roi {
            fast_min: v[0] as usize,
            fast_max: v[1] as usize,
            slow_min: v[2] as usize,
            slow_max: v[3] as usize,
        },
        None => Roi::full(f, s),
    }
}

/// The C statistics of the pixels inside the ROI (no mask in the I/O cases).
struct CStats {
    max_i: f64,
    mean: f64,
    rms: f64,
    rmsd: f64,
}

/// The pixels of `img` (`f` fast pixels a row) inside `roi`, in f64.
fn roi_pixels<'a>(img: &'a [f32], f: usize, roi: &'a Roi) -> impl Iterator<Item = f64> + 'a {
    img.iter()
        .enumerate()
        .filter(move |(i, _)| roi.contains(i % f, i / f))
        .map(|(_, &v)| v as f64)
}

/// The C statistics: max_I (from 0), mean, rms and rmsd (n − 1 denominators, n at least 2).
fn c_stats(img: &[f32], f: usize, roi: &Roi) -> CStats {
    let (mut max_i, mut sum, mut sumsqr, mut n) = (0.0f64, 0.0f64, 0.0f64, 0i64);
    for v in roi_pixels(img, f, roi) {
        if v > max_i {
            max_i = v;
        }
        sum += v;
        sumsqr += v * v;
        n += 1;
    }
    let mean = sum / n.max(1) as f64;
    let rms = (sumsqr / (n.max(2) - 1) as f64).sqrt();
    let ss = roi_pixels(img, f, roi).fold(0.0f64, |ss, v| ss + (v - mean) * (v - mean));
    let rmsd = (ss / (n.max(2) - 1) as f64).sqrt();
    CStats { max_i, mean, rms, rmsd }
}

/// A case whose folder holds the C program's output `file`, with the float image and what the
/// C program derives from it before writing that file: the ROI and the statistics.
struct FloatCase {
    name: String,
    dir: PathBuf,
    /// The C program's output file.
    file: PathBuf,
    args: Vec<String>,
    fpixels: usize,
    spixels: usize,
    image: Vec<f32>,
    roi: Roi,
    stats: CStats,
}

impl FloatCase {
    /// Every case of the corpus that has `file`.
    fn all_with(file: &str) -> Vec<FloatCase> {
        cases()
            .into_iter()
            .filter(|case| case.join(file).exists())
            .map(|case| {
                let args = args(&case);
                let (f, s) = dims(&case);
                let image = read_float_image(&case.join("float.bin"), f * s).unwrap();
                let roi = roi(&args, f, s);
                let stats = c_stats(&image, f, &roi);
                FloatCase {
                    name: name(&case),
                    file: case.join(file),
                    dir: case,
                    args,
                    fpixels: f,
                    spixels: s,
                    image,
                    roi,
                    stats,
                }
            })
            .collect()
    }

    /// The value of a one-number flag, or `default`.
    fn flag(&self, flag: &str, default: f64) -> f64 {
        arg_values(&self.args, flag, 1).map_or(default, |v| v[0])
    }

    /// The C program's `-intfile` scale (`-scale`, else automatic).
    fn intfile_scale(&self) -> f64 {
        intfile_auto_scale(self.flag("-scale", 0.0), self.stats.max_i)
    }

    /// The C program's stdout line starting with `prefix` is `expected`.
    fn assert_stdout(&self, prefix: &str, expected: String) {
        assert_eq!(stdout_line(&self.dir, prefix).unwrap(), expected, "{}", self.name);
    }

    /// `ours` is byte for byte the C program's file.
    fn assert_identical(&self, ours: &[u8]) {
        let golden = std::fs::read(&self.file).unwrap();
        assert_eq!(ours.len(), golden.len(), "{}", self.name);
        let diffs = ours.iter().zip(&golden).filter(|(x, y)| x != y).count();
        assert_eq!(diffs, 0, "{}: {diffs} bytes differ", self.name);
    }
}

#[test]
fn smv_headers_rebuild_byte_identical() {
    let mut checked = 0;
    for case in cases() {
        for file in ["int.img", "noise.img", "header.img"] {
            let p = case.join(file);
            if !p.exists() {
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            let img = read_smv(&p).unwrap();
            let v = SmvHeaderValues::from_header(&img.header, &p).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&smv_header_bytes(&v)),
                String::from_utf8_lossy(&bytes[..512]),
                "{}",
                p.display()
            );
            assert_eq!(
                smv_bytes(&v, &img.data),
                bytes,
                "{}: full file rebuild",
                p.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} SMV files checked");
}

#[test]
fn int_img_byte_identical() {
    let cases = FloatCase::all_with("int.img");
    for c in &cases {
        let g = |x: f64| format_g(x, 6);
        let st = &c.stats;
        c.assert_stdout("mean=", format!("mean= {} rms= {} rmsd= {}", g(st.mean), g(st.rms), g(st.rmsd)));
        let scale = c.intfile_scale();
        c.assert_stdout("intfile_scale = ", format!("intfile_scale = {}", g(scale)));
        let data = int_image(&c.image, c.fpixels, scale, c.flag("-adc", 40.0), &c.roi);
        // Header values come from the golden header itself (geometry is not this module's job).
        let golden = std::fs::read(&c.file).unwrap();
        let header = parse_smv(&golden, &c.file).unwrap().header;
        let v = SmvHeaderValues::from_header(&header, &c.file).unwrap();
        c.assert_identical(&smv_bytes(&v, &data));
    }
    assert!(cases.len() >= 5, "only {} int.img files checked", cases.len());
}

#[test]
fn pgm_byte_identical() {
    let cases = FloatCase::all_with("image.pgm");
    for c in &cases {
        let scale = pgm_auto_scale(c.flag("-pgmscale", 0.0), c.stats.rmsd, c.intfile_scale());
        c.assert_stdout("pgm_scale = ", format!("pgm_scale = {}", format_g(scale, 6)));
        let (f, s) = (c.fpixels, c.spixels);
        c.assert_identical(&pgm_bytes(f, s, scale, &pgm_pixels(&c.image, f, scale, &c.roi)));
    }
    assert!(cases.len() >= 5, "only {} PGM files checked", cases.len());
}

#[test]
fn fdump_byte_identical_and_roundtrip() {
    let case = golden_dir().join("cases/fdump_cache");
    // pre_run_args: -hkl source.hkl, no -default_F (0)
    assert!(meta(&case)["pre_run_args"].contains("-hkl source.hkl"));
    let hkl = read_hkl(&case.join("source.hkl"), 0.0).unwrap();
    let golden = std::fs::read(case.join("Fdump.bin")).unwrap();
    let ours = fdump_bytes(&hkl.grid);
    assert_eq!(ours.len(), golden.len());
    assert!(ours == golden, "Fdump.bin bytes differ");
    assert_eq!(read_fdump(&case.join("Fdump.bin")).unwrap(), hkl.grid);
    let g = &hkl.grid;
    assert_eq!(
        (g.h_min, g.h_max, g.k_min, g.k_max, g.l_min, g.l_max),
        (-6, 6, -6, 6, -6, 6)
    );
}

#[test]
fn hkl_files_parse_with_default_f() {
    let mut checked = 0;
    for case in cases() {
        let a = args(&case);
        let Some(i) = a.iter().position(|x| x == "-hkl") else {
            continue;
        };
        let default_f = arg_values(&a, "-default_F", 1).map_or(0.0, |v| v[0]);
        let path = case.join(&a[i + 1]);
        let d = read_hkl(&path, default_f).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Vec<f64>> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split_whitespace().map(|t| t.parse().unwrap()).collect())
            .collect();
        assert_eq!(d.reflections, lines.len(), "{}", path.display());
        let mut listed = std::collections::HashSet::new();
        for l in &lines {
            let (h, k, l_, f) = (l[0] as i32, l[1] as i32, l[2] as i32, l[3]);
            listed.insert((h, k, l_));
            assert_eq!(d.grid.get(h, k, l_), Some(f));
        }
        let g = &d.grid;
        for h in g.h_min..=g.h_max {
            for k in g.k_min..=g.k_max {
                for l in g.l_min..=g.l_max {
                    if !listed.contains(&(h, k, l)) {
                        assert_eq!(
                            g.get(h, k, l),
                            Some(default_f),
                            "{} ({h},{k},{l})",
                            path.display()
                        );
                    }
                }
            }
        }
        if name(&case) == "hkl_sparse_default_f" {
            assert_eq!(default_f, 30.0);
            assert!(listed.len() < g.values.len());
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} HKL files checked");
}

#[test]
fn mosflm_matrix_matches_c_trace() {
    let case = golden_dir().join("cases/mat_A");
    let m = read_mosflm_matrix(&case.join("A.mat")).unwrap();
    let fmt = |v: [f64; 3]| {
        format!(
            "[{}, {}, {}]",
            format_g(v[0], 6),
            format_g(v[1], 6),
            format_g(v[2], 6)
        )
    };
    for (axis, v) in [("a_star", m.a_star), ("b_star", m.b_star), ("c_star", m.c_star)] {
        let prefix = format!("TRACE:   {axis} (raw) = ");
        assert_eq!(stdout_line(&case, &prefix).unwrap(), format!("{prefix}{}", fmt(v)));
    }
}

#[test]
fn source_files_parse() {
    let s = read_sourcefile(&golden_dir().join("cases/src_three_lambdas/sources.txt")).unwrap();
    assert_eq!(s.len(), 3);
    let lambdas: Vec<f64> = s.iter().map(|e| e.lambda.unwrap()).collect();
    assert_eq!(lambdas, vec![1.0e-10, 1.03e-10, 0.97e-10]);
    assert!(s
        .iter()
        .all(|e| e.x == Some(-10.0) && e.weight == Some(1.0)));
    let s = read_sourcefile(&golden_dir().join("cases/src_two_weights/sources.txt")).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(
        (s[1].y, s[1].z, s[1].weight),
        (Some(0.02), Some(0.01), Some(3.0))
    );
}

#[test]
fn input_smv_files_parse() {
    let mask = read_smv(&golden_dir().join("cases/mask_block/mask.img")).unwrap();
    let h = &mask.header;
    assert_eq!((h.fpixels, h.spixels, h.header_bytes), (128, 128, 512));
    assert_eq!(mask.data.len(), 128 * 128);
    assert!(mask.data.contains(&0) && mask.data.iter().any(|&v| v != 0));
    assert_eq!(h.value_of("PIXEL_SIZE"), Some(0.1));
    assert_eq!(h.value_of("DISTANCE"), Some(100.0));
    assert_eq!(h.value_of("CLOSE_DISTANCE"), None);
    assert_eq!(h.value_of("WAVELENGTH"), Some(1.0));
    assert_eq!(h.value_of("BEAM_CENTER_X"), Some(6.4));
    assert_eq!(h.value_of("BEAM_CENTER_Y"), Some(5.0));
    assert_eq!(h.value_of("PHI"), None);

    let img = read_smv(&golden_dir().join("cases/img_header/header.img")).unwrap();
    let h = &img.header;
    assert_eq!((h.fpixels, h.spixels), (96, 96));
    assert_eq!(h.value_of("PIXEL_SIZE"), Some(0.12));
    assert_eq!(h.value_of("DISTANCE"), Some(120.0)); // via CLOSE_DISTANCE, equal here
    assert_eq!(h.value_of("WAVELENGTH"), Some(1.3));
    assert_eq!(h.value_of("ORGY"), Some(42.6667));
    assert_eq!(h.value_of("PHI"), Some(3.0));
    assert_eq!(h.value_of("OSC_RANGE"), Some(2.0));
    assert_eq!(h.value_of("TWOTHETA"), Some(0.0));
}

#[test]
fn float_images_match_manifest() {
    let manifest = std::fs::read_to_string(golden_dir().join("manifest.tsv")).unwrap();
    let mut checked = 0;
    for row in manifest.lines().skip(1) {
        let c: Vec<&str> = row.split('\t').collect();
        let case = golden_dir().join("cases").join(c[0]);
        let (f, s): (usize, usize) = (c[1].parse().unwrap(), c[2].parse().unwrap());
        let img = read_float_image(&case.join("float.bin"), f * s).unwrap();
        assert!(read_float_image(&case.join("float.bin"), f * s + 1).is_err());
        let sum: f64 = img.iter().map(|&v| v as f64).sum();
        let want_sum: f64 = c[4].parse().unwrap();
        assert!(
            (sum - want_sum).abs() <= 1e-9 * want_sum.abs().max(1.0),
            "{}: sum {sum} vs {want_sum}",
            c[0]
        );
        let (mut max, mut arg) = (f32::NEG_INFINITY, 0);
        for (i, &v) in img.iter().enumerate() {
            if v > max {
                max = v;
                arg = i;
            }
        }
        let want_max: f64 = c[5].parse().unwrap();
        assert!(
            (max as f64 - want_max).abs() <= 1e-9 * want_max.abs().max(1.0),
            "{}",
            c[0]
        );
        assert_eq!(
            (arg % f, arg / f),
            (c[6].parse().unwrap(), c[7].parse().unwrap()),
            "{}",
            c[0]
        );
        assert_eq!(
            img.iter().filter(|&&v| v != 0.0).count(),
            c[8].parse::<usize>().unwrap(),
            "{}",
            c[0]
        );
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} float images checked");
}
