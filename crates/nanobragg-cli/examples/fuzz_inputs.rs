//! Long fuzzing run of every input parser and of the whole command line (not part of the test
//! suite: docs/reliability.md records the runs). Each target feeds proptest-generated inputs to
//! the code a user's input reaches and fails on the first panic (proptest catches it and shrinks
//! the input); an abort (memory) would end the process before the count is printed.
//!
//! ```sh
//! cargo run --release -p nanobragg-cli --example fuzz_inputs -- all 1000000
//! cargo run --release -p nanobragg-cli --example fuzz_inputs -- argv 1000000
//! ```
//!
//! Targets: `hkl`, `fdump`, `matrix`, `sourcefile`, `smv`, `float`, `scene` (TOML text through
//! validation and planning) and `argv` (an argument vector through parsing, validation,
//! planning and, where the scene is small, a render), or `all`.

#[path = "../tests/common/strategies.rs"]
mod strategies;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::io;
use nanobragg::{RenderOptions, Scene, Setup, Simulator};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestRunner};

/// Tokens of the text formats: numbers of every kind, words, separators.
fn text_token() -> impl Strategy<Value = String> {
    let special = vec![
        "0", "-0", "1", "-1", "100", "1e308", "-1e308", "1e-320", "nan", "NaN", "inf", "-inf",
        "2147483647", "2147483648", "-2147483649", "9223372036854775808", "1.5", ".", "-", "#",
        "#comment", "abc", "0x10", "1,5", "é", "\u{0}", "\t", ";", ":", "1e", "e5",
    ];
    prop_oneof![
        4 => select(special).prop_map(String::from),
        3 => any::<f64>().prop_map(|x| x.to_string()),
        3 => (-300i64..300).prop_map(|x| x.to_string()),
        1 => "[ -~]{0,8}",
    ]
}

/// Text of lines of tokens, or arbitrary bytes.
fn text_bytes() -> impl Strategy<Value = Vec<u8>> {
    let line = proptest::collection::vec(text_token(), 0..7).prop_map(|t| t.join(" "));
    prop_oneof![
        4 => proptest::collection::vec(line, 0..12).prop_map(|l| l.join("\n").into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..256),
    ]
}

/// An SMV file: a header of `KEY=VALUE;` entries (known keys, hostile values) and pixel bytes.
fn smv_bytes() -> impl Strategy<Value = Vec<u8>> {
    let keys = vec![
        "HEADER_BYTES", "SIZE1", "SIZE2", "BYTE_ORDER", "TYPE", "PIXEL_SIZE", "DISTANCE",
        "CLOSE_DISTANCE", "WAVELENGTH", "BEAM_CENTER_X", "BEAM_CENTER_Y", "ORGX", "ORGY", "PHI",
        "OSC_RANGE", "DIM",
    ];
    let value = prop_oneof![
        text_token(),
        select(vec!["512", "1024", "4", "little_endian", "big_endian", "unsigned_short"]).prop_map(String::from),
    ];
    let entry = (select(keys), value).prop_map(|(k, v)| format!("{k}={v};\n"));
    (proptest::collection::vec(entry, 0..16), 0usize..1200, any::<bool>()).prop_map(|(entries, data, pad)| {
        let mut bytes = format!("{{\nHEADER_BYTES=512;\n{}}}\n", entries.concat()).into_bytes();
        if pad && bytes.len() < 512 {
            bytes.resize(512, b' ');
        }
        bytes.extend((0..data).map(|i| (i * 37 % 251) as u8));
        bytes
    })
}

/// An Fdump file: a header of six integers and a payload near the size it implies.
fn fdump_bytes() -> impl Strategy<Value = Vec<u8>> {
    let bound = prop_oneof![3 => -4i64..4, 1 => any::<i32>().prop_map(i64::from)];
    (proptest::collection::vec(bound, 6), -16i64..16, any::<u8>()).prop_map(|(b, delta, fill)| {
        let mut bytes = format!("{} {} {} {} {} {}\n\x0c", b[0], b[1], b[2], b[3], b[4], b[5]).into_bytes();
        let points: i64 = (0..3).map(|a| (b[2 * a + 1] - b[2 * a] + 2).clamp(0, 64)).product();
        let len = (points * 8 + delta).clamp(0, 1 << 20) as usize;
        bytes.extend(std::iter::repeat_n(fill, len));
        bytes
    })
}

/// The shape of a scene key's value.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Float,
    Int,
    Floats(usize),
    Ints(usize),
}

/// A TOML value of `kind` with hostile contents (sometimes of the wrong kind).
fn toml_value(kind: Kind) -> BoxedStrategy<String> {
    let float = prop_oneof![
        3 => select(vec!["0.0", "-1.0", "1.0", "2.0", "8.0", "100.0", "90.0", "180.0", "1e300", "-1e300", "1e-300", "nan", "inf", "-inf"])
            .prop_map(String::from),
        2 => any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| format!("{x:e}")),
        2 => (-1000i64..1000).prop_map(|x| format!("{x}.5")),
    ];
    let int = prop_oneof![
        3 => select(vec!["-1", "0", "1", "2", "4", "8", "100", "4294967296", "-9223372036854775808", "9223372036854775807"])
            .prop_map(String::from),
        2 => (-1000i64..1000).prop_map(|x| x.to_string()),
    ];
    let list = |s: BoxedStrategy<String>, n: usize| proptest::collection::vec(s, n).prop_map(|v| format!("[{}]", v.join(", ")));
    let right = match kind {
        Kind::Float => float.boxed(),
        Kind::Int => int.boxed(),
        Kind::Floats(n) => list(float.boxed(), n).boxed(),
        Kind::Ints(n) => list(int.boxed(), n).boxed(),
    };
    prop_oneof![9 => right, 1 => "\"[a-z]{0,4}\"".boxed()].boxed()
}

/// Scene TOML: known sections and keys with hostile values, sometimes over a valid base.
fn scene_text() -> impl Strategy<Value = String> {
    use Kind::*;
    let keys = vec![
        ("crystal", "cell", Floats(6)), ("crystal", "n_cells", Floats(3)), ("crystal", "misset_deg", Floats(3)),
        ("crystal", "mosaic_spread_deg", Float), ("crystal", "mosaic_domains", Int), ("crystal", "sample_size_mm", Floats(3)),
        ("crystal", "fudge", Float), ("beam", "wavelength_a", Float), ("beam", "dispersion_percent", Float),
        ("beam", "disp_steps", Int), ("beam", "fluence", Float), ("beam", "hdiv_range_mrad", Float), ("beam", "hdiv_steps", Int),
        ("beam", "polarization_k", Float), ("detector", "pixel_mm", Float), ("detector", "fpixels", Int),
        ("detector", "spixels", Int), ("detector", "distance_mm", Float), ("detector", "twotheta_deg", Float),
        ("detector", "rotx_deg", Float), ("detector", "fdet_vector", Floats(3)), ("detector", "thick_um", Float),
        ("detector", "thick_steps", Int), ("detector", "abs_depth_um", Float), ("sampling", "oversample", Int),
        ("sampling", "roi", Ints(4)), ("sampling", "dmin_a", Float), ("sampling", "water_um", Float),
        ("spindle", "phi_steps", Int), ("spindle", "osc_deg", Float), ("structure", "default_f", Float),
    ];
    let entry = select(keys).prop_flat_map(|(section, key, kind)| toml_value(kind).prop_map(move |v| (section, key, v)));
    (proptest::collection::vec(entry, 0..10), any::<bool>()).prop_map(|(entries, base)| {
        // TOML allows a table and a key once each: group by section, the last value of a key wins.
        let mut tables: std::collections::BTreeMap<&str, std::collections::BTreeMap<&str, String>> =
            Default::default();
        if base {
            let valid = [
                ("crystal", "cell", "[100.0, 100.0, 100.0, 90.0, 90.0, 90.0]"),
                ("crystal", "n_cells", "[3.0, 3.0, 3.0]"),
                ("structure", "default_f", "10.0"),
                ("detector", "fpixels", "4"),
                ("detector", "spixels", "4"),
            ];
            for (section, key, v) in valid {
                tables.entry(section).or_default().insert(key, v.to_string());
            }
        }
        for (section, key, v) in entries {
            tables.entry(section).or_default().insert(key, v);
        }
        let mut text = String::new();
        for (section, keys) in tables {
            text.push_str(&format!("[{section}]\n"));
            for (key, v) in keys {
                text.push_str(&format!("{key} = {v}\n"));
            }
        }
        text
    })
}

/// An argument vector: well-formed flag occurrences mixed with hostile tokens, often on top of
/// a small valid scene so that validation, planning and the render are reached.
fn argv() -> impl Strategy<Value = Vec<String>> {
    let piece = prop_oneof![
        4 => strategies::well_formed_occurrence(),
        1 => strategies::token().prop_map(|t| vec![t]),
    ];
    (proptest::collection::vec(piece, 0..8), any::<bool>()).prop_map(|(pieces, base)| {
        let mut args: Vec<String> = Vec::new();
        if base {
            args.extend("-default_scene -detpixels 4 -N 2".split(' ').map(String::from));
        }
        args.extend(pieces.concat());
        args
    })
}

/// How far the inputs of a target got: parsed, resolved (`Setup`), planned (`Simulator`), rendered.
static REACHED: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

fn reached(stage: usize) {
    REACHED[stage].fetch_add(1, Ordering::Relaxed);
}

/// Validate, plan and (when cheap) render a scene; errors are fine, panics are not.
fn exercise_scene(scene: &Scene, dir: &Path) {
    reached(0);
    let Ok(setup) = Setup::from_scene(scene, dir) else { return };
    reached(1);
    if setup.detector.fpixels * setup.detector.spixels > 4096 {
        return;
    }
    let device = NdArrayDevice::Cpu;
    let Ok(sim) = Simulator::<NdArray<f64>>::new(setup, &device, RenderOptions::default()) else { return };
    reached(2);
    if sim.plan.work.total() <= 2e4 && sim.render().is_ok() {
        reached(3);
    }
}

/// Feed `cases` inputs of `strategy` to `f`; a panic fails (proptest reports the shrunk input).
fn fuzz<S: Strategy>(cases: u32, strategy: S, f: impl Fn(S::Value)) -> Result<(), String> {
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner
        .run(&strategy, |v| {
            f(v);
            Ok(())
        })
        .map_err(|e| e.to_string())
}

fn run_target(name: &str, cases: u32, dir: &Path) -> Result<(), String> {
    let p = dir.join("input");
    let result = match name {
        "hkl" => fuzz(cases, text_bytes(), |b| drop(io::parse_hkl(&b, &p, 0.0))),
        "fdump" => fuzz(cases, fdump_bytes(), |b| drop(io::parse_fdump(&b, &p))),
        "matrix" => fuzz(cases, text_bytes(), |b| drop(io::parse_mosflm_matrix(&b, &p))),
        "sourcefile" => fuzz(cases, text_bytes(), |b| drop(io::parse_sourcefile(&b, &p))),
        "smv" => fuzz(cases, smv_bytes(), |b| drop(io::parse_smv(&b, &p))),
        "float" => fuzz(cases, (proptest::collection::vec(any::<u8>(), 0..64), 0usize..20), |(b, n)| {
            drop(io::parse_float_image(&b, n, &p))
        }),
        "scene" => fuzz(cases, scene_text(), |text| {
            if let Ok(scene) = Scene::from_toml_str(&text) {
                exercise_scene(&scene, dir);
            }
        }),
        "argv" => fuzz(cases, argv(), |args| {
            if let Ok(cl) = nanobragg_cli::parse_args(args) {
                exercise_scene(&cl.scene, dir);
            }
        }),
        other => return Err(format!("unknown target '{other}'")),
    };
    result.map_err(|e| format!("{name}: {e}"))
}

const TARGETS: [&str; 8] = ["hkl", "fdump", "matrix", "sourcefile", "smv", "float", "scene", "argv"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let target = args.first().map(String::as_str).unwrap_or("all");
    let cases: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("nanobragg-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    // Panics are caught and reported by proptest; keep their messages off the terminal.
    std::panic::set_hook(Box::new(|_| {}));
    let targets: Vec<&str> = if target == "all" { TARGETS.to_vec() } else { vec![target] };
    let mut failed = false;
    for t in targets {
        let clock = Instant::now();
        REACHED.iter().for_each(|r| r.store(0, Ordering::Relaxed));
        match run_target(t, cases, &dir) {
            Ok(()) => {
                let [p, s, m, r] = [0, 1, 2, 3].map(|i| REACHED[i].load(Ordering::Relaxed));
                let stages = if p > 0 { format!("; parsed {p}, resolved {s}, planned {m}, rendered {r}") } else { String::new() };
                println!("{t}: {cases} inputs, 0 panics ({:.1} s){stages}", clock.elapsed().as_secs_f64())
            }
            Err(e) => {
                println!("{t}: PANIC {e}");
                failed = true;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if failed {
        std::process::exit(1);
    }
}
