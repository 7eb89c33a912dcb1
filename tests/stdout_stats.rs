//! The statistics the CLI prints — `max_I = %g  at %g %g` (maximum and the position of its
//! pixel's last sub-pixel, m) and `mean= %g rms= %g rmsd= %g` — match the numbers in each golden
//! case's `stdout.txt`.
//!
//! Every case is rendered at f64 (`NdArray<f64>`), its statistics computed with
//! `nanobragg::stats::image_stats` exactly as the CLI does, formatted with
//! `nanobragg::io::cfmt::format_g(x, 6)` (C's `%g`, as the CLI prints them) and parsed back.
//! Each of the six numbers must agree with the C program's printed value to 1e-6 relative
//! (|ours − C| ≤ 1e-6 · max(|ours|, |C|)). Both sides carry 6 significant digits, and one unit
//! of the 6th digit is more than 1e-6 relative, so in effect the printed `%g` strings must be
//! identical. Cases in `tests/deferred_cases.tsv` are run and printed but not scored.
//!
//! Run: `cargo test --release --test stdout_stats -- --nocapture`.

mod golden;

use std::time::Instant;

use burn::tensor::DType;
use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::io::cfmt::format_g;
use nanobragg::stats::ImageStats;

type B = NdArray<f64>;

const REL_TOL: f64 = 1e-6;
const NAMES: [&str; 6] = ["max_I", "fast", "slow", "mean", "rms", "rmsd"];

/// The six numbers of the C report, as printed (last occurrence of each line).
fn c_stats(stdout: &str) -> Result<[String; 6], String> {
    let max_line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("max_I ="))
        .ok_or("no `max_I =` line in stdout.txt")?;
    let mean_line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("mean="))
        .ok_or("no `mean=` line in stdout.txt")?;
    // "max_I = 105.374  at 0.0106833 0.00428333"
    let t: Vec<&str> = max_line.split_whitespace().collect();
    if t.len() != 6 || t[1] != "=" || t[3] != "at" {
        return Err(format!("unexpected line `{max_line}`"));
    }
    // "mean= 1.5107 rms= 7.59835 rmsd= 7.44665"
    let u: Vec<&str> = mean_line.split_whitespace().collect();
    if u.len() != 6 || u[0] != "mean=" || u[2] != "rms=" || u[4] != "rmsd=" {
        return Err(format!("unexpected line `{mean_line}`"));
    }
    Ok([t[2], t[4], t[5], u[1], u[3], u[5]].map(str::to_string))
}

fn ours(s: &ImageStats) -> [String; 6] {
    [s.max, s.max_fdet_m, s.max_sdet_m, s.mean, s.rms, s.rmsd].map(|x| format_g(x, 6))
}

fn agree(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) if x.is_finite() && y.is_finite() => {
            (x - y).abs() <= REL_TOL * x.abs().max(y.abs())
        }
        _ => a == b, // nan / inf: the spelling must match
    }
}

#[test]
fn cli_statistics_match_c_stdout() {
    let start = Instant::now();
    let device = NdArrayDevice::Cpu;
    nanobragg_parity::assert_default_dtype::<B>(&device);
    let cases = golden::load_cases();
    let deferrals = golden::load_deferrals(&cases);
    println!("stdout_stats: {} cases, f64, tolerance {REL_TOL:e} relative", cases.len());
    let (mut matched, mut deferred, mut failed) = (0usize, 0usize, Vec::new());
    for case in &cases {
        let deferral = deferrals.get(&case.name);
        let outcome: Result<(Vec<String>, f64), String> = golden::render_case::<B>(case, &device)
            .and_then(|r| {
                assert_eq!(
                    r.dtype,
                    DType::F64,
                    "{}: parameter tensors are {:?}, not F64",
                    case.name,
                    r.dtype
                );
                let c = c_stats(&case.stdout())?;
                let o = ours(&r.stats);
                let diffs = (0..6)
                    .filter(|&i| !agree(&o[i], &c[i]))
                    .map(|i| format!("{}: ours {} C {}", NAMES[i], o[i], c[i]))
                    .collect();
                Ok((diffs, r.seconds))
            });
        let (status, detail, ok) = match &outcome {
            Ok((d, _)) if d.is_empty() => ("OK", String::new(), true),
            Ok((d, _)) => ("DIFF", d.join("; "), false),
            Err(e) => ("ERROR", e.clone(), false),
        };
        let secs = outcome.as_ref().map(|o| o.1).unwrap_or(0.0);
        let mut line = format!("  {status:5} {:34} {secs:6.2}s  {detail}", case.name);
        if let Some(d) = deferral {
            line.push_str(&format!("  [deferred {} {}]", d.issue, d.feature));
            if golden::is_reference_only(&case.name) {
                line.push_str("  (reference only, never scored)");
            } else if ok {
                line.push_str("  deferred but passing — remove from table");
            }
            deferred += 1;
        } else if ok {
            matched += 1;
        } else {
            failed.push(case.name.clone());
        }
        println!("{line}");
    }
    println!(
        "stdout_stats: cases {}, matched {matched}, deferred {deferred}, failed {} ({:.1}s)",
        cases.len(),
        failed.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "statistics differ from stdout.txt for {} case(s): {}",
        failed.len(),
        failed.join(", ")
    );
}
