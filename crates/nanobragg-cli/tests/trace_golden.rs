//! `-trace_pixel` against the C program's traces of the same pixel (`../shared/golden`):
//! every per-pixel `TRACE_C` / `TRACE_C_PHI` line in the same order with the same keys, and
//! every value within 1e-9 relative at f64 (vectors relative to their length); the
//! detector block's shared keys likewise (except `beam_center_m`, where the C program prints the
//! metre value divided by 1000 once more — see docs/debugging.md). At f32 the same lines agree
//! to 1e-4, which shows the trace follows the render's dtype.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Golden case `name`: under `$NANOBRAGG_GOLDEN/cases`, else `../shared/golden` beside the workspace.
fn golden_case(name: &str) -> PathBuf {
    let root = match std::env::var_os("NANOBRAGG_GOLDEN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden"),
    };
    let dir = root.join("cases").join(name);
    assert!(dir.is_dir(), "golden case {} not found (set NANOBRAGG_GOLDEN)", dir.display());
    dir
}

/// Copy a golden case into a scratch folder (the golden tree is read-only in CI).
fn scratch_copy(name: &str, tag: &str) -> PathBuf {
    let src = golden_case(name);
    let dir = std::env::temp_dir().join(format!("nanobragg-trace-{}-{name}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let to = dir.join(entry.file_name());
        std::fs::copy(entry.path(), &to).unwrap();
        let mut perm = std::fs::metadata(&to).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        std::fs::set_permissions(&to, perm).unwrap();
    }
    dir
}

fn our_trace(case: &str, slow: usize, fast: usize, dtype: &str) -> Vec<String> {
    let dir = scratch_copy(case, dtype);
    let args = std::fs::read_to_string(dir.join("args.txt")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nanobragg"))
        .args(args.split_whitespace())
        .args(["-trace_pixel", &slow.to_string(), &fast.to_string(), "-dtype", dtype])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("TRACE_C"))
        .map(String::from)
        .collect()
}

/// A trace line split into its key and the numbers it holds.
#[derive(Debug)]
struct Line {
    key: String,
    numbers: Vec<f64>,
}

fn numbers(text: &str) -> Vec<f64> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | ';' | '=' | ':' | ','))
        .filter_map(|w| w.parse::<f64>().ok())
        .collect()
}

/// Per-pixel lines (`TRACE_C: key v…` and `TRACE_C_PHI k=v…`).
fn pixel_lines(lines: &[String]) -> Vec<Line> {
    lines
        .iter()
        .filter_map(|l| {
            if let Some(rest) = l.strip_prefix("TRACE_C: ") {
                let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
                Some(Line { key: key.to_string(), numbers: numbers(value) })
            } else if let Some(rest) = l.strip_prefix("TRACE_C_PHI ") {
                let keys: Vec<&str> = rest.split_whitespace().map(|kv| kv.split('=').next().unwrap()).collect();
                Some(Line { key: format!("PHI {}", keys.join(",")), numbers: numbers(rest) })
            } else {
                None
            }
        })
        .collect()
}

/// Detector-block lines (`TRACE_C:key=value`), keyed.
fn detector_lines(lines: &[String]) -> Vec<Line> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("TRACE_C:"))
        .filter(|rest| !rest.starts_with(' '))
        .filter_map(|rest| rest.split_once('='))
        .map(|(k, v)| Line { key: k.to_string(), numbers: numbers(v) })
        .collect()
}

/// Largest deviation of `ours` from `c` relative to the size of `c` (a vector's length).
fn rel_dev(ours: &[f64], c: &[f64]) -> f64 {
    let scale = c.iter().map(|x| x * x).sum::<f64>().sqrt();
    let worst = ours.iter().zip(c).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    if scale == 0.0 {
        worst
    } else {
        worst / scale
    }
}

fn compare(case: &str, slow: usize, fast: usize, trace_file: &str, dtype: &str, tol: f64) {
    let c_text = std::fs::read_to_string(golden_case(case).join(trace_file)).unwrap();
    let c_lines: Vec<String> = c_text.lines().map(String::from).collect();
    let ours = our_trace(case, slow, fast, dtype);

    let (cp, op) = (pixel_lines(&c_lines), pixel_lines(&ours));
    assert_eq!(
        cp.iter().map(|l| &l.key).collect::<Vec<_>>(),
        op.iter().map(|l| &l.key).collect::<Vec<_>>(),
        "{case}: per-pixel keys differ"
    );
    let mut worst = (0.0, String::new());
    for (c, o) in cp.iter().zip(&op) {
        assert_eq!(c.numbers.len(), o.numbers.len(), "{case}: {} holds other values", c.key);
        let dev = rel_dev(&o.numbers, &c.numbers);
        if dev > worst.0 {
            worst = (dev, c.key.clone());
        }
        assert!(
            dev <= tol,
            "{case} ({dtype}): {} ours {:?} C {:?} (rel {dev:.2e})",
            c.key,
            o.numbers,
            c.numbers
        );
    }
    println!("{case} {dtype}: {} per-pixel lines, worst rel {:.2e} ({})", cp.len(), worst.0, worst.1);

    let (cd, od) = (detector_lines(&c_lines), detector_lines(&ours));
    let mut shared = 0;
    for c in cd.iter().filter(|c| c.key != "beam_center_m") {
        let Some(o) = od.iter().find(|o| o.key == c.key) else {
            continue;
        };
        shared += 1;
        assert_eq!(c.numbers.len(), o.numbers.len(), "{case}: {} holds other values", c.key);
        let dev = rel_dev(&o.numbers, &c.numbers);
        assert!(dev <= tol, "{case}: detector {} ours {:?} C {:?}", c.key, o.numbers, c.numbers);
    }
    assert!(shared >= 20, "{case}: only {shared} detector keys in common");
}

#[test]
fn abs_basic_trace_matches_c_at_f64() {
    compare("abs_basic", 42, 106, "trace_s42_f106.txt", "f64", 1e-9);
}

#[test]
fn mosaic_trace_matches_c_at_f64() {
    compare("mosaic_05_10", 29, 53, "trace_s29_f53.txt", "f64", 1e-9);
}

#[test]
fn f32_trace_follows_the_render_dtype() {
    compare("abs_basic", 42, 106, "trace_s42_f106.txt", "f32", 1e-4);
}

#[test]
fn trace_off_the_detector_prints_nothing() {
    let lines = our_trace("abs_basic", 4000, 4000, "f64");
    assert!(lines.iter().all(|l| !l.starts_with("TRACE_C: ")), "{lines:?}");
}

/// `-printout_pixel f s` prints the C program's per-pixel block; its values are checked against
/// the C trace of the same pixel (the last evaluation's Miller indices and F_latt, the factors)
/// and the C float image.
#[test]
fn printout_pixel_reports_the_c_values() {
    let dir = scratch_copy("abs_basic", "printout");
    let args = std::fs::read_to_string(dir.join("args.txt")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nanobragg"))
        .args(args.split_whitespace())
        .args(["-printout_pixel", "106", "42", "-floatfile", "ours.bin"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let block: Vec<&str> = text.lines().skip_while(|l| !l.contains(" : stol = ")).collect();
    assert!(block.len() >= 14, "no printout block in {text}");
    assert_eq!(block[0].split(':').next().unwrap(), " 106   42 ");
    let c_text = std::fs::read_to_string(golden_case("abs_basic").join("trace_s42_f106.txt")).unwrap();
    let c = pixel_lines(&c_text.lines().map(String::from).collect::<Vec<_>>());
    let last = |key: &str| c.iter().rev().find(|l| l.key == key).unwrap().numbers.clone();
    let value_after = |line: &str, tag: &str| -> f64 {
        line.split(tag).nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap()
    };
    let [h0, k0, l0] = [0, 1, 2].map(|i| last("hkl_rounded")[i] as i64);
    assert!(block[2].ends_with(&format!("hkl0= {h0} {k0} {l0}")), "{}", block[2]);
    let f_latt = value_after(block[3], "F_latt=");
    assert!((f_latt / last("F_latt")[0] - 1.0).abs() < 1e-5, "{}", block[3]);
    for (row, key) in [(5, "polar"), (6, "omega_pixel"), (7, "capture_fraction")] {
        let ours: f64 = block[row].split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!((ours / last(key)[0] - 1.0).abs() < 1e-9, "{} vs C {key}", block[row]);
    }
    let pixel: f64 = block[8].split_whitespace().nth(1).unwrap().parse().unwrap();
    let golden = std::fs::read(golden_case("abs_basic").join("float.bin")).unwrap();
    let at = 4 * (42 * 128 + 106);
    let c_pixel = f32::from_le_bytes(golden[at..at + 4].try_into().unwrap()) as f64;
    assert!((pixel / c_pixel - 1.0).abs() < 1e-7, "pixel {pixel} vs C {c_pixel}");
    let _ = std::fs::remove_dir_all(&dir);
}
