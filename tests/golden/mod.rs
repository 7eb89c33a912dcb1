//! Shared helpers of the golden-corpus parity suites (`tests/parity_f64.rs`,
//! `tests/parity_f32.rs`, `tests/stdout_stats.rs`): where the corpus is, reading its manifest and
//! cases, rendering a case with the library, the comparison metrics and bars, the deferral
//! table and the result lines. See `docs/parity.md`.
//!
//! The corpus is `$NANOBRAGG_GOLDEN`, or `<workspace>/../shared/golden`. It is read-only: the
//! library only reads input files (hkl, mat, mask, img, sources.txt, Fdump.bin) from the case
//! folder and the suites write nothing.
//!
//! Each suite is one `#[test]` that runs every case in sequence, prints one line per case and a
//! summary line, and asserts at the end. A missing corpus, or one with fewer cases than
//! `manifest.tsv` lists, fails the suite (it never skips).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nanobragg::kernel::RenderBackend;
use burn::tensor::DType;
use nanobragg::simulate::{Image, Plan};
use nanobragg::stats::{image_stats, ImageStats};
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_cli::{parse_args, PhiCarryoverMode};

/// f64 bar: max |Δ| ≤ this × max |C image|.
pub const F64_MAX_REL: f64 = 1e-5;
/// f64 bar: Pearson correlation ≥ this.
pub const F64_MIN_CORR: f64 = 0.99999;
/// f32 bar: Pearson correlation ≥ this.
pub const F32_MIN_CORR: f64 = 0.9999;
/// f32 bar: |Σ ours / Σ C − 1| ≤ this.
pub const F32_MAX_SUM_DEV: f64 = 1e-3;
/// Issues a deferral may name (the features not yet in the engine).
pub const DEFERRAL_ISSUES: &[&str] = &["#3", "#4", "#7"];

/// The corpus root: `$NANOBRAGG_GOLDEN`, else `<CARGO_MANIFEST_DIR>/../shared/golden`.
pub fn golden_dir() -> PathBuf {
    match std::env::var_os("NANOBRAGG_GOLDEN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/golden"),
    }
}

/// One row of `manifest.tsv`.
#[derive(Debug, Clone)]
pub struct ManifestRow {
    pub name: String,
    pub fpixels: usize,
    pub spixels: usize,
    /// Sum of `float.bin` in f64.
    pub sum: f64,
    /// Maximum of `float.bin`.
    pub max: f64,
}

/// Read `manifest.tsv` (header row, then `name fpixels spixels args sum max ...`).
pub fn read_manifest(root: &Path) -> Vec<ManifestRow> {
    let path = root.join("manifest.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("golden corpus: cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{}: no column `{name}`", path.display()))
    };
    let (c_name, c_f, c_s, c_sum, c_max) =
        (col("name"), col("fpixels"), col("spixels"), col("sum"), col("max"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let get = |i: usize| {
                *f.get(i)
                    .unwrap_or_else(|| panic!("{}: short row `{l}`", path.display()))
            };
            let num = |i: usize| -> f64 {
                get(i)
                    .parse()
                    .unwrap_or_else(|_| panic!("{}: bad number in row `{l}`", path.display()))
            };
            ManifestRow {
                name: get(c_name).to_string(),
                fpixels: num(c_f) as usize,
                spixels: num(c_s) as usize,
                sum: num(c_sum),
                max: num(c_max),
            }
        })
        .collect()
}

/// One case folder of the corpus.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    /// `args.txt`, split on whitespace (the corpus has no quoted arguments).
    pub args: Vec<String>,
    pub fpixels: usize,
    pub spixels: usize,
    /// `meta.txt` as key → value.
    pub meta: BTreeMap<String, String>,
}

impl Case {
    /// The C image (`float.bin`, little-endian f32, fast-major).
    pub fn reference(&self) -> Vec<f32> {
        let path = self.dir.join("float.bin");
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
        assert_eq!(
            bytes.len(),
            4 * self.fpixels * self.spixels,
            "{}: size does not match {}x{} pixels",
            path.display(),
            self.fpixels,
            self.spixels
        );
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// The C program's stdout (`stdout.txt`).
    pub fn stdout(&self) -> String {
        let path = self.dir.join("stdout.txt");
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The arguments the engine runs with: `args.txt`, plus `-phi_carryover_mode c-parity` for
    /// the single-thread φ = 0 carry-over cases (as `shared/tools/parity_score.py` does).
    pub fn run_args(&self) -> Vec<String> {
        let mut args = self.args.clone();
        let single_thread = self
            .meta
            .get("binary")
            .map(|b| b.ends_with("_1t"))
            .unwrap_or(false);
        if self.name.starts_with("phi0_carryover") && single_thread {
            args.extend(["-phi_carryover_mode".to_string(), "c-parity".to_string()]);
        }
        args
    }
}

/// Load every case of the corpus, sorted by name. Panics (fails the suite) if the corpus is
/// missing, a manifest case has no readable folder, or there are fewer cases than the manifest
/// lists.
pub fn load_cases() -> Vec<Case> {
    let root = golden_dir();
    assert!(
        root.join("manifest.tsv").is_file(),
        "golden corpus not found at {} (set NANOBRAGG_GOLDEN); the parity suites never skip",
        root.display()
    );
    let manifest = read_manifest(&root);
    assert!(!manifest.is_empty(), "{}/manifest.tsv lists no case", root.display());
    let mut cases = Vec::new();
    for row in &manifest {
        let dir = root.join("cases").join(&row.name);
        let args_path = dir.join("args.txt");
        let args_text = std::fs::read_to_string(&args_path).unwrap_or_else(|e| {
            panic!("golden case {}: cannot read {}: {e}", row.name, args_path.display())
        });
        let meta_text = std::fs::read_to_string(dir.join("meta.txt")).unwrap_or_default();
        let meta = meta_text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        cases.push(Case {
            name: row.name.clone(),
            dir,
            args: args_text.split_whitespace().map(str::to_string).collect(),
            fpixels: row.fpixels,
            spixels: row.spixels,
            meta,
        });
    }
    // Case folders the manifest does not list are an inconsistency of the corpus too.
    let listed: BTreeSet<&str> = manifest.iter().map(|r| r.name.as_str()).collect();
    let on_disk: Vec<String> = std::fs::read_dir(root.join("cases"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("args.txt").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let unlisted: Vec<&String> = on_disk.iter().filter(|n| !listed.contains(n.as_str())).collect();
    assert!(
        unlisted.is_empty(),
        "case folders not in manifest.tsv: {unlisted:?}"
    );
    assert_eq!(
        cases.len(),
        manifest.len(),
        "golden corpus yields fewer cases than manifest.tsv lists"
    );
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// An entry of `tests/deferred_cases.tsv`.
#[derive(Debug, Clone)]
pub struct Deferral {
    pub case: String,
    pub issue: String,
    pub feature: String,
}

/// Cases kept in the table for good: `*_omp` come from the OpenMP build, whose φ = 0
/// carry-over depends on the thread schedule (references, not scored).
pub fn is_reference_only(name: &str) -> bool {
    name.ends_with("_omp")
}

/// Path of the checked-in deferral table.
/// `$NANOBRAGG_DEFERRALS`, else `<workspace>/tests/deferred_cases.tsv` (the variable lets a test
/// binary carried to another machine find the table).
pub fn deferral_table_path() -> PathBuf {
    match std::env::var_os("NANOBRAGG_DEFERRALS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/deferred_cases.tsv"),
    }
}

/// Read the deferral table (`case<TAB>issue<TAB>feature`; `#` lines and blank lines ignored).
/// Panics on a malformed row, an issue outside [`DEFERRAL_ISSUES`], a duplicate, or a case
/// the corpus does not have (a stale entry).
pub fn load_deferrals(cases: &[Case]) -> BTreeMap<String, Deferral> {
    let path = deferral_table_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    let mut table = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        assert!(
            f.len() == 3 && f.iter().all(|s| !s.trim().is_empty()),
            "{}:{}: expected `case<TAB>issue<TAB>feature`, got `{line}`",
            path.display(),
            i + 1
        );
        let (case, issue, feature) = (f[0].trim(), f[1].trim(), f[2].trim());
        assert!(
            DEFERRAL_ISSUES.contains(&issue),
            "{}:{}: case {case} names issue {issue}; a deferral may only name {DEFERRAL_ISSUES:?}",
            path.display(),
            i + 1
        );
        assert!(
            names.contains(case),
            "{}:{}: deferred case {case} is not in the golden corpus (stale entry)",
            path.display(),
            i + 1
        );
        let prev = table.insert(
            case.to_string(),
            Deferral {
                case: case.to_string(),
                issue: issue.to_string(),
                feature: feature.to_string(),
            },
        );
        assert!(prev.is_none(), "{}: case {case} listed twice", path.display());
    }
    table
}

/// Our render of one case.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub image: Image,
    pub plan: Plan,
    pub stats: ImageStats,
    /// Float dtype of the parameter tensors the render ran in.
    pub dtype: DType,
    /// Wall time of setup + render (s).
    pub seconds: f64,
    /// Remarks (e.g. a requested mode the engine does not have yet).
    pub notes: Vec<String>,
}

/// Parse the case's arguments, resolve the scene against the case folder and render on `B`.
pub fn render_case<B: RenderBackend>(case: &Case, device: &B::Device) -> Result<Rendered, String> {
    let start = Instant::now();
    let cl = parse_args(case.run_args()).map_err(|e| format!("parse: {e}"))?;
    let setup = Setup::from_scene(&cl.scene, &case.dir).map_err(|e| format!("setup: {e}"))?;
    let options = RenderOptions {
        tile_pixels: cl.tile_pixels,
        ..RenderOptions::default()
    };
    let notes = Vec::new();
    let policy: Box<dyn nanobragg::phi::PhiRotation<B>> = match cl.phi_carryover_mode {
        PhiCarryoverMode::CParity => Box::new(nanobragg_parity::phi_cache::PhiCarryover),
        PhiCarryoverMode::Spec => Box::new(nanobragg::phi::FreshPhiRotation),
    };
    let sim = Simulator::<B>::with_phi_rotation(setup, device, options, policy)
        .map_err(|e| format!("setup: {e}"))?;
    let dtype = sim.params.pixel.dtype();
    let image = sim.render().map_err(|e| format!("render: {e}"))?;
    let s = &sim.setup;
    let stats = image_stats(
        &image,
        &sim.plan.pixels,
        s.sampling.roi,
        s.detector.pixel_m,
        sim.plan.oversample,
    );
    Ok(Rendered {
        image,
        plan: sim.plan.clone(),
        stats,
        dtype,
        seconds: start.elapsed().as_secs_f64(),
        notes,
    })
}

/// How our image compares with the C image.
#[derive(Debug, Clone, Copy)]
pub struct Metrics {
    /// Pearson correlation (1 when both images are constant and agree, 0 if constant and not).
    pub corr: f64,
    /// max |ours − C| / max |C| (max |C| taken as 1 for an all-zero image).
    pub max_rel: f64,
    /// Σ ours / Σ C (1 when both sums are 0).
    pub sum_ratio: f64,
    /// max |ours − C| in photons.
    pub max_abs: f64,
    /// Both images have their maximum at the same pixel.
    pub argmax_same: bool,
}

impl Metrics {
    /// The f64 bar: max |Δ| ≤ 1e-5 × max |C| and correlation ≥ 0.99999.
    pub fn exact_f64(&self) -> bool {
        self.max_rel <= F64_MAX_REL && self.corr >= F64_MIN_CORR
    }
    /// The f32 bar: correlation ≥ 0.9999 and |sum ratio − 1| ≤ 1e-3.
    pub fn pass_f32(&self) -> bool {
        self.corr >= F32_MIN_CORR && (self.sum_ratio - 1.0).abs() <= F32_MAX_SUM_DEV
    }
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Compare `ours` with the C image `c` (same layout), in f64 — the same figures as
/// `shared/tools/parity_score.py`.
pub fn compare(c: &[f32], ours: &[f32]) -> Result<Metrics, String> {
    if c.len() != ours.len() {
        return Err(format!("{} pixels, C has {}", ours.len(), c.len()));
    }
    if let Some(i) = ours.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "non-finite pixel {} at index {i} ({} in all)",
            ours[i],
            ours.iter().filter(|x| !x.is_finite()).count()
        ));
    }
    let n = c.len().max(1) as f64;
    let (mut csum, mut psum, mut cmax, mut dmax) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (&a, &b) in c.iter().zip(ours) {
        let (a, b) = (a as f64, b as f64);
        csum += a;
        psum += b;
        cmax = cmax.max(a.abs());
        dmax = dmax.max((a - b).abs());
    }
    let max_rel = dmax / if cmax > 0.0 { cmax } else { 1.0 };
    let sum_ratio = if csum != 0.0 {
        psum / csum
    } else if psum == 0.0 {
        1.0
    } else {
        f64::INFINITY
    };
    let (cm, pm) = (csum / n, psum / n);
    let (mut sxy, mut sxx, mut syy) = (0.0f64, 0.0f64, 0.0f64);
    for (&a, &b) in c.iter().zip(ours) {
        let (x, y) = (a as f64 - cm, b as f64 - pm);
        sxy += x * y;
        sxx += x * x;
        syy += y * y;
    }
    let corr = if sxx > 0.0 && syy > 0.0 {
        sxy / (sxx * syy).sqrt()
    } else if max_rel < 1e-6 {
        1.0
    } else {
        0.0
    };
    Ok(Metrics {
        corr,
        max_rel,
        sum_ratio,
        max_abs: dmax,
        argmax_same: argmax(c) == argmax(ours),
    })
}

/// Which bar a parity suite requires of every case not in the deferral table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bar {
    F64,
    F32,
}

/// Outcome of one case in a parity suite.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub metrics: Option<Metrics>,
    pub error: Option<String>,
    pub deferral: Option<Deferral>,
    pub seconds: f64,
}

impl CaseResult {
    pub fn meets(&self, bar: Bar) -> bool {
        match (self.metrics, bar) {
            (Some(m), Bar::F64) => m.exact_f64(),
            (Some(m), Bar::F32) => m.pass_f32(),
            (None, _) => false,
        }
    }
}

fn metrics_text(m: &Metrics) -> String {
    format!(
        "corr={:.8} max_rel={:.2e} max_abs={:.3e} sum_ratio={:.8} argmax={}",
        m.corr,
        m.max_rel,
        m.max_abs,
        m.sum_ratio,
        if m.argmax_same { "same" } else { "DIFFERS" }
    )
}

/// Run every case on `B` and score it against `bar`; prints one line per case, then
/// `cases N, exact(f64) E, pass(f32) P, deferred D, failed F`, and panics if a case outside
/// the deferral table misses the bar (or errors). `expected` is the dtype the parameter tensors
/// must have (checked for every case: a wrong dtype is a harness error and panics at once).
pub fn run_parity_suite<B: RenderBackend>(label: &str, bar: Bar, expected: DType, device: &B::Device) {
    let suite_start = Instant::now();
    let cases = load_cases();
    let deferrals = load_deferrals(&cases);
    println!(
        "{label}: {} cases from {}, bar {}",
        cases.len(),
        golden_dir().display(),
        match bar {
            Bar::F64 => "f64 (max|Δ| ≤ 1e-5·max(C), corr ≥ 0.99999)",
            Bar::F32 => "f32 (corr ≥ 0.9999, |sum ratio − 1| ≤ 1e-3)",
        }
    );
    let mut results = Vec::new();
    for case in &cases {
        let deferral = deferrals.get(&case.name).cloned();
        let (metrics, error, seconds, notes) = match render_case::<B>(case, device) {
            Ok(r) => {
                assert_eq!(
                    r.dtype, expected,
                    "{label}/{}: parameter tensors are {:?}, not {:?} (a device's default dtype \
                     is fixed by the first tensor of the process: keep f32 and f64 suites in \
                     separate test binaries)",
                    case.name, r.dtype, expected
                );
                match compare(&case.reference(), &r.image.data) {
                    Ok(m) => (Some(m), None, r.seconds, r.notes),
                    Err(e) => (None, Some(e), r.seconds, r.notes),
                }
            }
            Err(e) => (None, Some(e), 0.0, Vec::new()),
        };
        let res = CaseResult {
            name: case.name.clone(),
            metrics,
            error,
            deferral,
            seconds,
        };
        let ok = res.meets(bar);
        let status = match (&res.deferral, ok) {
            (None, true) => "PASS",
            (None, false) => "FAIL",
            (Some(_), _) => "DEFER",
        };
        let mut line = format!(
            "  {status:5} {:34} {:>4}x{:<4} {:6.2}s  ",
            case.name, case.fpixels, case.spixels, res.seconds
        );
        match (&res.metrics, &res.error) {
            (Some(m), _) => line.push_str(&metrics_text(m)),
            (None, Some(e)) => {
                let _ = write!(line, "ERROR {e}");
            }
            (None, None) => {}
        }
        if let Some(d) = &res.deferral {
            let _ = write!(line, "  [{} {}]", d.issue, d.feature);
            if is_reference_only(&case.name) {
                line.push_str("  (reference only, never scored)");
            } else if ok {
                line.push_str("  deferred but passing — remove from table");
            }
        }
        for n in &notes {
            let _ = write!(line, "  ({n})");
        }
        println!("{line}");
        results.push(res);
    }
    let n = results.len();
    let exact = results
        .iter()
        .filter(|r| r.metrics.map(|m| m.exact_f64()).unwrap_or(false))
        .count();
    let pass = results
        .iter()
        .filter(|r| r.metrics.map(|m| m.pass_f32()).unwrap_or(false))
        .count();
    let deferred = results.iter().filter(|r| r.deferral.is_some()).count();
    let failed: Vec<&CaseResult> = results
        .iter()
        .filter(|r| r.deferral.is_none() && !r.meets(bar))
        .collect();
    println!(
        "{label}: cases {n}, exact(f64) {exact}, pass(f32) {pass}, deferred {deferred}, failed {} \
         ({:.1}s)",
        failed.len(),
        suite_start.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "{label}: {} case(s) outside tests/deferred_cases.tsv miss the bar: {}",
        failed.len(),
        failed
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
}
