//! Golden tests for `nanobragg::random`: noise images and random misset angles against the outputs
//! of the reference C program stored in the golden corpus.
//!
//! Corpus location: `$NANOBRAGG_GOLDEN`, default `<CARGO_MANIFEST_DIR>/../../../shared/golden`.
//! The tests fail (they do not skip) when the corpus or a required case is missing.

use std::fs;
use std::path::{Path, PathBuf};

use nanobragg::random::{poisson_noise_image, random_misset, random_misset_line};

/// Cases that must exist and carry a noise image.
const REQUIRED_NOISE_CASES: [&str; 5] = [
    "at014_noise_seed123",
    "io_bright_noise",
    "io_default",
    "io_pgmscale",
    "io_scale_adc",
];

fn golden_root() -> PathBuf {
    let root = std::env::var_os("NANOBRAGG_GOLDEN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden"));
    assert!(
        root.join("cases").is_dir(),
        "golden corpus not found at {} (set NANOBRAGG_GOLDEN)",
        root.display()
    );
    root
}

fn read_text(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn args_of(case: &Path) -> Vec<String> {
    read_text(&case.join("args.txt"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// `meta.txt` value for `key`.
fn meta_usize(case: &Path, key: &str) -> usize {
    let meta = read_text(&case.join("meta.txt"));
    meta.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{}: no {key} in meta.txt", case.display()))
}

/// C `atoi`/`atof`-like parse of the argument after the last flag matched the way the C program
/// matches it (`strstr(argv[i], flag)`).
fn last_value<T: std::str::FromStr>(args: &[String], flag: &str, offset: usize) -> Option<T> {
    let mut found = None;
    for (i, a) in args.iter().enumerate() {
        if a.contains(flag) && i + offset < args.len() {
            found = Some(args[i + offset].parse::<T>().unwrap_or_else(|_| {
                panic!(
                    "cannot parse value {offset} of {flag}: {:?}",
                    args[i + offset]
                )
            }));
        }
    }
    found
}

fn read_f32_le(path: &Path) -> Vec<f32> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert_eq!(bytes.len() % 4, 0, "{}", path.display());
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Data of a 512-byte-header little-endian unsigned-short SMV file.
fn read_smv_u16(path: &Path, fpixels: usize, spixels: usize) -> Vec<u16> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let header = String::from_utf8_lossy(&bytes[..512.min(bytes.len())]).into_owned();
    for key in [
        "HEADER_BYTES=512;".to_owned(),
        "BYTE_ORDER=little_endian;".to_owned(),
        "TYPE=unsigned_short;".to_owned(),
        format!("SIZE1={fpixels};"),
        format!("SIZE2={spixels};"),
    ] {
        assert!(
            header.contains(&key),
            "{}: header lacks {key}",
            path.display()
        );
    }
    assert_eq!(
        bytes.len(),
        512 + 2 * fpixels * spixels,
        "{}",
        path.display()
    );
    bytes[512..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

fn check_noise_case(case: &Path) {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let args = args_of(case);
    let fpixels = meta_usize(case, "fpixels");
    let spixels = meta_usize(case, "spixels");
    // The C program stores seed = -atoi(arg); without -seed it is time based and not reproducible.
    let cli_seed: i64 =
        last_value(&args, "-seed", 1).unwrap_or_else(|| panic!("{name}: no -seed in args.txt"));
    let adc: f64 = last_value(&args, "-adc", 1).unwrap_or(40.0);
    let roi = match last_value::<usize>(&args, "-roi", 1) {
        Some(xmin) => (
            xmin,
            last_value(&args, "-roi", 2).unwrap(),
            last_value(&args, "-roi", 3).unwrap(),
            last_value(&args, "-roi", 4).unwrap(),
        ),
        None => (0, fpixels, 0, spixels),
    };

    let float_image = read_f32_le(&case.join("float.bin"));
    assert_eq!(
        float_image.len(),
        fpixels * spixels,
        "{name}: float.bin size"
    );
    let golden = read_smv_u16(&case.join("noise.img"), fpixels, spixels);

    let result = poisson_noise_image(&float_image, -cli_seed, adc, roi, fpixels);

    let mismatches: Vec<usize> = (0..golden.len())
        .filter(|&i| golden[i] != result.pixels[i])
        .collect();
    assert!(
        mismatches.is_empty(),
        "{name}: {} of {} noise pixels differ; first at index {} (rust {} vs C {})",
        mismatches.len(),
        golden.len(),
        mismatches[0],
        result.pixels[mismatches[0]],
        golden[mismatches[0]]
    );

    let stdout = read_text(&case.join("stdout.txt"));
    let line = stdout
        .lines()
        .find(|l| l.contains("photons on noise image"))
        .unwrap_or_else(|| panic!("{name}: no noise summary in stdout.txt"));
    assert_eq!(
        format!(
            "{:.0} photons on noise image ({} overloads)",
            result.photons_sum, result.overloads
        ),
        line.trim(),
        "{name}: photon sum / overload summary"
    );
}

#[test]
fn noise_images_are_byte_identical_to_golden() {
    let cases = golden_root().join("cases");
    for name in REQUIRED_NOISE_CASES {
        let case = cases.join(name);
        assert!(
            case.join("noise.img").is_file(),
            "required golden case {name} has no noise.img"
        );
    }
    // Every case in the corpus that has a noise image (the required ones included).
    let mut checked = 0;
    let mut entries: Vec<PathBuf> = fs::read_dir(&cases)
        .expect("cannot list golden cases")
        .map(|e| e.expect("bad directory entry").path())
        .collect();
    entries.sort();
    for case in entries {
        if case.join("noise.img").is_file() {
            check_noise_case(&case);
            checked += 1;
        }
    }
    assert!(checked >= REQUIRED_NOISE_CASES.len());
}

#[test]
fn random_misset_angles_match_golden_stdout() {
    let cases = golden_root().join("cases");
    assert!(
        cases.join("at024_random_misset_12345").is_dir(),
        "required golden case at024_random_misset_12345 is missing"
    );
    let mut checked = 0;
    for entry in fs::read_dir(&cases).expect("cannot list golden cases") {
        let case = entry.expect("bad directory entry").path();
        let Ok(args_txt) = fs::read_to_string(case.join("args.txt")) else {
            continue;
        };
        let args: Vec<String> = args_txt.split_whitespace().map(str::to_owned).collect();
        let random = args
            .windows(2)
            .any(|w| w[0] == "-misset" && w[1].contains("rand"));
        if !random {
            continue;
        }
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        // Without -misset_seed the C misset seed is time based.
        let cli_seed: i64 = last_value(&args, "-misset_seed", 1)
            .unwrap_or_else(|| panic!("{name}: -misset random without -misset_seed"));
        let (_, angles) = random_misset(-cli_seed);
        let ours = random_misset_line(angles);
        let stdout = read_text(&case.join("stdout.txt"));
        let line = stdout
            .lines()
            .find(|l| l.starts_with("random orientation misset angles:"))
            .unwrap_or_else(|| panic!("{name}: no misset line in stdout.txt"));
        assert_eq!(ours, line.trim(), "{name}");
        checked += 1;
    }
    assert!(checked >= 1);
}
