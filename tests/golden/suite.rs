//! A parity suite: every case of the corpus rendered on one backend, scored against a [`Bar`],
//! one line printed per case and a summary line; the suite fails when a case outside the
//! deferral table misses the bar.

use std::fmt::Write as _;
use std::time::Instant;

use burn::tensor::DType;
use nanobragg::kernel::RenderBackend;

use super::{
    golden_dir, is_reference_only, load_cases, load_deferrals, render_case, Bar, Case, Deferral,
    Metrics,
};
use super::metrics::compare;

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
        self.metrics.is_some_and(|m| m.meets(bar))
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
    println!("{label}: {} cases from {}, bar {}", cases.len(), golden_dir().display(), bar.describe());
    let mut results = Vec::new();
    for case in &cases {
        let deferral = deferrals.get(&case.name).cloned();
        let (res, notes) = score_case::<B>(label, case, deferral, expected, device);
        println!("{}", case_line(case, &res, bar, &notes));
        results.push(res);
    }
    summarize(label, &results, bar, suite_start);
}

/// Render `case` on `B` and compare it with the C image; the notes of the render come back
/// beside the result. Panics if the parameter tensors are not of the `expected` dtype.
fn score_case<B: RenderBackend>(
    label: &str,
    case: &Case,
    deferral: Option<Deferral>,
    expected: DType,
    device: &B::Device,
) -> (CaseResult, Vec<String>) {
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
    (res, notes)
}

/// The printed line of one case: status, size, time, metrics or error, deferral and notes.
fn case_line(case: &Case, res: &CaseResult, bar: Bar, notes: &[String]) -> String {
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
    for n in notes {
        let _ = write!(line, "  ({n})");
    }
    line
}

/// Print the summary line and panic if a case outside the deferral table misses the bar.
fn summarize(label: &str, results: &[CaseResult], bar: Bar, suite_start: Instant) {
    let n = results.len();
    let meeting = |b: Bar| results.iter().filter(|r| r.meets(b)).count();
    let (exact, pass) = (meeting(Bar::F64), meeting(Bar::F32));
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
