//! Shared helpers of the golden-corpus suites (the per-backend suite of `tests/backends/mod.rs`
//! in `parity_f64`, `parity_f32`, `parity_flex_f32`, `cuda_f64`, `cuda_f32`, and
//! `tests/stdout_stats.rs`): where the corpus is, reading its manifest and
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
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::backend::Backend;
use burn::tensor::DType;
use nanobragg::kernel::RenderBackend;
use nanobragg::phi::{FreshPhiRotation, PhiRotation};
use nanobragg::simulate::{Image, Plan};
use nanobragg::stats::{image_stats, ImageStats};
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_cli::{parse_args, PhiCarryoverMode};
use nanobragg_parity::phi_cache::PhiCarryover;

mod metrics;
mod suite;

// Each binary uses a part of this module (stdout_stats neither the metrics nor the suite).
#[allow(unused_imports)]
pub use metrics::{compare, Bar, Metrics};
#[allow(unused_imports)]
pub use suite::run_parity_suite;

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

/// The φ rotation of a `-phi_carryover_mode`: the C program's carry-over cache for `c-parity`,
/// the spec's fresh rotation otherwise.
pub fn phi_rotation<B: Backend>(mode: PhiCarryoverMode) -> Box<dyn PhiRotation<B>> {
    match mode {
        PhiCarryoverMode::CParity => Box::new(PhiCarryover),
        PhiCarryoverMode::Spec => Box::new(FreshPhiRotation),
    }
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
    let policy = phi_rotation::<B>(cl.phi_carryover_mode);
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

