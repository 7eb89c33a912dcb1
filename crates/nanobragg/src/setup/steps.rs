//! The C program's count/range/step auto-selections: divergence and dispersion
//! ([`auto_steps`]), sensor layers ([`thickness_steps`]) and the φ sweep ([`phi_steps`]).
//! The three differ in their "range only" and "count only" branches, so they stay separate;
//! [`one_step_if_degenerate`] is the sanity check the first two share.

use crate::units;

/// The C program's count/range/step auto-selection for divergence and dispersion.
/// Returns (steps, range, step) after the sanity check that turns a degenerate sweep into one step.
pub fn auto_steps(steps: i64, range: f64, step: f64, nominal_range: f64) -> (usize, f64, f64) {
    let (mut n, mut r, mut s) = (steps, range, step);
    if n <= 0 {
        if r < 0.0 {
            if s <= 0.0 {
                n = 1;
                r = 0.0;
                s = 0.0;
            } else {
                r = s;
                n = 2;
            }
        } else if s <= 0.0 {
            s = r;
            n = 2;
        } else {
            n = (r / s).ceil() as i64;
        }
    } else if r < 0.0 {
        if s <= 0.0 {
            r = nominal_range;
            s = r / n as f64;
        } else {
            r = s;
            n = 2;
        }
    } else if s <= 0.0 {
        if n <= 1 {
            n = 2;
        }
        s = r / (n - 1) as f64;
    }
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
    let (mut tsteps, mut tthick) = (steps, thick);
    let tstep;
    if tsteps <= 0 {
        if tthick < 0.0 {
            tsteps = 1;
            tthick = 0.0;
            tstep = 0.0;
        } else {
            tsteps = 2;
            tstep = tthick / 2.0;
        }
    } else if tthick < 0.0 {
        tthick = 0.5e-6;
        tstep = tthick / tsteps as f64;
    } else {
        if tsteps <= 1 {
            tsteps = 2;
        }
        tstep = tthick / (tsteps - 1) as f64;
    }
    (tsteps, tthick, tstep)
}

/// The φ sweep from `-phisteps` (< 0: unset), the oscillation range and the φ step (rad; < 0:
/// unset). Returns (steps, oscillation rad, step rad); a count of 0 means 1, a count alone
/// sweeps 1°, and the result is not sanity-checked (the caller refuses unrenderable counts).
pub(super) fn phi_steps(steps: i64, osc: f64, step: f64) -> (i64, f64, f64) {
    let (mut n, mut osc, mut step) = (steps, osc, step);
    if n < 0 {
        if osc < 0.0 {
            if step <= 0.0 {
                n = 1;
                osc = 0.0;
                step = 0.0;
            } else {
                osc = step;
                n = 2;
            }
        } else if step <= 0.0 {
            n = 2;
            step = osc / 2.0;
        } else {
            n = (osc / step).ceil() as i64;
        }
    } else {
        if n == 0 {
            n = 1;
        }
        if osc < 0.0 {
            if step <= 0.0 {
                osc = units::deg(1.0);
                step = osc / n as f64;
            } else {
                osc = step;
                n = 2;
            }
        } else if step < 0.0 {
            step = osc / n as f64;
        }
    }
    (n, osc, step)
}
