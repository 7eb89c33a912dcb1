//! Strong-Wolfe line search (Nocedal & Wright, *Numerical Optimization*, 2nd ed., Algorithms
//! 3.5 and 3.6) with safeguarded cubic interpolation, on a step interval `(0, t_max]`.
//!
//! Along a direction `d` with `φ(t) = f(z + t·d)`, a step `t` is accepted when
//! `φ(t) ≤ φ(0) + c1·t·φ'(0)` (sufficient decrease) and `|φ'(t)| ≤ c2·|φ'(0)|` (curvature), or
//! when `t = t_max` (a bound is reached) with sufficient decrease and `φ'(t) < 0`. A non-finite
//! `φ(t)` (an impossible model) counts as "too far" and the step is bisected.

use crate::error::Result;

/// One evaluation along the line: the step, the value, the directional derivative, the
/// gradient vector.
#[derive(Debug, Clone)]
pub struct LinePoint {
    /// Step length.
    pub t: f64,
    /// `φ(t)`.
    pub f: f64,
    /// `φ'(t) = ∇f·d` (NaN when `f` is not finite).
    pub slope: f64,
    /// `∇f` at `z + t·d`.
    pub grad: Vec<f64>,
}

/// Options of the line search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineSearchOptions {
    /// Sufficient-decrease constant (default 1e-4).
    pub c1: f64,
    /// Curvature constant (default 0.9, the usual choice for quasi-Newton directions).
    pub c2: f64,
    /// Evaluations allowed per search (default 25).
    pub max_evaluations: usize,
    /// Growth factor of the step while bracketing (default 4).
    pub expansion: f64,
}

impl Default for LineSearchOptions {
    fn default() -> Self {
        LineSearchOptions {
            c1: 1e-4,
            c2: 0.9,
            max_evaluations: 25,
            expansion: 4.0,
        }
    }
}

/// Minimiser of the cubic through `(a, fa, da)` and `(b, fb, db)`, if it exists.
fn cubic_min(a: f64, fa: f64, da: f64, b: f64, fb: f64, db: f64) -> Option<f64> {
    let d1 = da + db - 3.0 * (fa - fb) / (a - b);
    let disc = d1 * d1 - da * db;
    if !(disc >= 0.0) {
        return None;
    }
    let d2 = (b - a).signum() * disc.sqrt();
    let t = b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2);
    t.is_finite().then_some(t)
}

/// Search along a direction. `phi(t)` evaluates the objective at `z + t·d`; `f0`, `slope0`
/// are `φ(0)` and `φ'(0) < 0`. Returns the accepted point, or `None` after
/// `max_evaluations` without one (then the best finite point with decrease, if any, is
/// returned as the second value).
pub fn strong_wolfe<F>(
    mut phi: F,
    f0: f64,
    slope0: f64,
    t_init: f64,
    t_max: f64,
    options: &LineSearchOptions,
) -> Result<(Option<LinePoint>, Option<LinePoint>)>
where
    F: FnMut(f64) -> Result<LinePoint>,
{
    let LineSearchOptions { c1, c2, max_evaluations, expansion } = *options;
    let armijo = |p: &LinePoint| p.f.is_finite() && p.f <= f0 + c1 * p.t * slope0;
    let curvature = |p: &LinePoint| p.slope.abs() <= -c2 * slope0;
    let mut best: Option<LinePoint> = None;
    let note_best = |p: &LinePoint, best: &mut Option<LinePoint>| {
        if p.f.is_finite() && p.f < f0 && best.as_ref().is_none_or(|b| p.f < b.f) {
            *best = Some(p.clone());
        }
    };
    let mut evals = 0;
    let mut prev = LinePoint { t: 0.0, f: f0, slope: slope0, grad: Vec::new() };
    let mut t = t_init.min(t_max);
    // Bracketing phase: returns (lo, hi) with lo the better end.
    let (mut lo, mut hi) = loop {
        if evals >= max_evaluations {
            return Ok((None, best));
        }
        let p = phi(t)?;
        evals += 1;
        note_best(&p, &mut best);
        if !armijo(&p) || (evals > 1 && p.f >= prev.f) {
            break (prev, p);
        }
        if curvature(&p) {
            return Ok((Some(p), best));
        }
        if p.slope >= 0.0 {
            break (p, prev);
        }
        if t >= t_max {
            return Ok((Some(p), best));
        }
        let next = (t * expansion).min(t_max);
        prev = p;
        t = next;
    };
    // Zoom phase.
    while evals < max_evaluations {
        let (a, b) = (lo.t, hi.t);
        let width = (b - a).abs();
        if width <= 1e-14 * a.abs().max(b.abs()).max(1e-300) {
            break;
        }
        let (left, right) = (a.min(b), a.max(b));
        let guard = 0.1 * width;
        let mut t = if hi.f.is_finite() && hi.slope.is_finite() {
            cubic_min(a, lo.f, lo.slope, b, hi.f, hi.slope).unwrap_or(0.5 * (a + b))
        } else {
            0.5 * (a + b)
        };
        if !(t > left + guard && t < right - guard) {
            t = 0.5 * (a + b);
        }
        let p = phi(t)?;
        evals += 1;
        note_best(&p, &mut best);
        if !armijo(&p) || p.f >= lo.f {
            hi = p;
        } else {
            if curvature(&p) {
                return Ok((Some(p), best));
            }
            if p.slope * (hi.t - lo.t) >= 0.0 {
                hi = lo;
            }
            lo = p;
        }
    }
    Ok((None, best))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quadratic(t: f64) -> LinePoint {
        // φ(t) = (t − 3)², d = 1
        LinePoint { t, f: (t - 3.0).powi(2), slope: 2.0 * (t - 3.0), grad: vec![2.0 * (t - 3.0)] }
    }

    #[test]
    fn finds_a_wolfe_point_on_a_quadratic_from_a_short_and_a_long_first_step() {
        for t0 in [0.01, 1.0, 50.0] {
            let (p, _) = strong_wolfe(|t| Ok(quadratic(t)), 9.0, -6.0, t0, f64::INFINITY, &Default::default())
                .unwrap();
            let p = p.expect("accepted");
            assert!(p.f <= 9.0 - 1e-4 * p.t * 6.0, "t0 {t0}: {p:?}");
            assert!(p.slope.abs() <= 0.9 * 6.0, "t0 {t0}: {p:?}");
        }
    }

    #[test]
    fn stops_at_the_bound_when_still_descending() {
        let (p, _) = strong_wolfe(|t| Ok(quadratic(t)), 9.0, -6.0, 1.0, 0.5, &Default::default()).unwrap();
        assert_eq!(p.unwrap().t, 0.5);
    }

    #[test]
    fn bisects_through_non_finite_values() {
        let phi = |t: f64| {
            if t > 4.0 {
                Ok(LinePoint { t, f: f64::INFINITY, slope: f64::NAN, grad: vec![] })
            } else {
                Ok(quadratic(t))
            }
        };
        let (p, _) = strong_wolfe(phi, 9.0, -6.0, 100.0, f64::INFINITY, &Default::default()).unwrap();
        let p = p.unwrap();
        assert!(p.f.is_finite() && p.t < 4.0);
    }
}
