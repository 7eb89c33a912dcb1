//! The C program's count/range/step auto-selections: divergence and dispersion
//! ([`auto_steps`]), sensor layers ([`thickness_steps`]) and the φ sweep ([`phi_steps`]).
//! The three differ in their "range only" and "count only" branches, so they stay separate; they
//! share the rule for no range and no step ([`nominal_span`]), the first two the rule for a count
//! and a range without a step ([`endpoints`]) and the sanity check ([`one_step_if_degenerate`]).

use crate::units;

/// A count set (`Some`, ≥ 1) or unset (`None`).
type Count = Option<i64>;

/// No range and no step: a count alone spans `nominal_range` in `count` steps (step
/// `nominal_range / count`); nothing at all is one step of range 0 and step 0.
fn nominal_span(count: Count, nominal_range: f64) -> (i64, f64, f64) {
    match count {
        None => (1, 0.0, 0.0),
        Some(n) => (n, nominal_range, nominal_range / n as f64),
    }
}

/// A count and a range, no step: at least two steps, from the start to the end of the range
/// (step `range / (count − 1)`).
fn endpoints(n: i64, range: f64) -> (i64, f64, f64) {
    let n = n.max(2);
    (n, range, range / (n - 1) as f64)
}

/// The C program's count/range/step auto-selection for divergence and dispersion (count ≤ 0 and
/// range < 0 unset; step ≤ 0 unset). A step without a range gives two steps one step apart.
/// Returns (steps, range, step) after the sanity check that turns a degenerate sweep into one step.
pub fn auto_steps(steps: i64, range: f64, step: f64, nominal_range: f64) -> (usize, f64, f64) {
    let count = (steps > 0).then_some(steps);
    let (n, r, s) = if range < 0.0 {
        if step <= 0.0 {
            nominal_span(count, nominal_range)
        } else {
            (2, step, step)
        }
    } else {
        match count {
            None if step <= 0.0 => (2, range, range),
            None => ((range / step).ceil() as i64, range, step),
            Some(n) if step <= 0.0 => endpoints(n, range),
            Some(n) => (n, range, step),
        }
    };
    one_step_if_degenerate(n, r, s)
}

/// The sanity check after an auto-selection: a sweep with no positive range, step or count
/// becomes one step of range 0 and step 0; otherwise `(count, range, step)` unchanged.
pub(super) fn one_step_if_degenerate(n: i64, range: f64, step: f64) -> (usize, f64, f64) {
    if range <= 0.0 || step <= 0.0 || n <= 0 {
        (1, 0.0, 0.0)
    } else {
        (n as usize, range, step)
    }
}

/// Sensor layers from `-detector_thicksteps` (≤ 0: unset) and the thickness (m; < 0: unset).
/// Returns (layers, thickness m, layer step m) *before* [`one_step_if_degenerate`], which the
/// caller applies after the attenuation default. Unlike divergence, a thickness alone gives two
/// layers half a thickness apart, and a count alone a 0.5 µm sensor.
pub(super) fn thickness_steps(steps: i64, thick: f64) -> (i64, f64, f64) {
    let count = (steps > 0).then_some(steps);
    if thick < 0.0 {
        return nominal_span(count, 0.5e-6);
    }
    match count {
        None => (2, thick, thick / 2.0),
        Some(n) => endpoints(n, thick),
    }
}

/// The φ sweep from `-phisteps` (< 0: unset), the oscillation range and the φ step (rad; < 0:
/// unset). Returns (steps, oscillation rad, step rad); a count of 0 means 1, a count alone
/// sweeps 1°, and the result is not sanity-checked (the caller refuses unrenderable counts).
pub(super) fn phi_steps(steps: i64, osc: f64, step: f64) -> (i64, f64, f64) {
    let count = (steps >= 0).then_some(steps.max(1));
    if osc < 0.0 {
        return if step <= 0.0 {
            nominal_span(count, units::deg(1.0))
        } else {
            (2, step, step)
        };
    }
    match count {
        None if step <= 0.0 => (2, osc, osc / 2.0),
        None => ((osc / step).ceil() as i64, osc, step),
        Some(n) if step < 0.0 => (n, osc, osc / n as f64),
        Some(n) => (n, osc, step),
    }
}
