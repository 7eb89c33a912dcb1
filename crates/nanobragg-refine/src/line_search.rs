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

/// The zoom phase's next trial step between `lo.t` and `hi.t`: the cubic interpolant's minimiser,
/// or the midpoint when `hi` is not finite, the cubic has no minimiser, or it lies within 10% of
/// the interval's width from either end (safeguard).
fn zoom_trial(lo: &LinePoint, hi: &LinePoint) -> f64 {
    let (a, b) = (lo.t, hi.t);
    let (left, right) = (a.min(b), a.max(b));
    let guard = 0.1 * (b - a).abs();
    let t = if hi.f.is_finite() && hi.slope.is_finite() {
        cubic_min(a, lo.f, lo.slope, b, hi.f, hi.slope).unwrap_or(0.5 * (a + b))
    } else {
        0.5 * (a + b)
    };
    if t > left + guard && t < right - guard {
        t
    } else {
        0.5 * (a + b)
    }
}

/// How the bracketing phase ended.
enum Bracket {
    /// A point satisfying the strong-Wolfe conditions (or at `t_max`, still descending).
    Accepted(LinePoint),
    /// An interval known to hold an acceptable step; `lo` is the end with the lower value.
    Interval { lo: LinePoint, hi: LinePoint },
    /// `max_evaluations` spent.
    Exhausted,
}

/// One search along a direction: `φ`, its value and slope at 0, the evaluations spent and the best
/// point seen (finite, below `φ(0)`).
struct Search<'o, F> {
    phi: F,
    f0: f64,
    slope0: f64,
    options: &'o LineSearchOptions,
    evals: usize,
    best: Option<LinePoint>,
}

impl<F> Search<'_, F>
where
    F: FnMut(f64) -> Result<LinePoint>,
{
    /// Sufficient decrease: `φ(t) ≤ φ(0) + c1·t·φ'(0)` (false for a non-finite `φ(t)`).
    fn armijo(&self, p: &LinePoint) -> bool {
        p.f.is_finite() && p.f <= self.f0 + self.options.c1 * p.t * self.slope0
    }

    /// Curvature: `|φ'(t)| ≤ c2·|φ'(0)|`.
    fn curvature(&self, p: &LinePoint) -> bool {
        p.slope.abs() <= -self.options.c2 * self.slope0
    }

    /// `max_evaluations` spent.
    fn exhausted(&self) -> bool {
        self.evals >= self.options.max_evaluations
    }

    /// `φ(t)`, counted, and kept as the best point if it is.
    fn eval(&mut self, t: f64) -> Result<LinePoint> {
        let p = (self.phi)(t)?;
        self.evals += 1;
        if p.f.is_finite() && p.f < self.f0 && self.best.as_ref().is_none_or(|b| p.f < b.f) {
            self.best = Some(p.clone());
        }
        Ok(p)
    }

    /// Bracketing phase (Algorithm 3.5): grow the step by `expansion` from `t_init` up to `t_max`
    /// until a point is accepted or an interval holding one is found.
    fn bracket(&mut self, t_init: f64, t_max: f64) -> Result<Bracket> {
        let mut prev = LinePoint { t: 0.0, f: self.f0, slope: self.slope0, grad: Vec::new() };
        let mut t = t_init.min(t_max);
        loop {
            if self.exhausted() {
                return Ok(Bracket::Exhausted);
            }
            let p = self.eval(t)?;
            if !self.armijo(&p) || (self.evals > 1 && p.f >= prev.f) {
                return Ok(Bracket::Interval { lo: prev, hi: p });
            }
            if self.curvature(&p) {
                return Ok(Bracket::Accepted(p));
            }
            if p.slope >= 0.0 {
                return Ok(Bracket::Interval { lo: p, hi: prev });
            }
            if t >= t_max {
                return Ok(Bracket::Accepted(p));
            }
            t = (t * self.options.expansion).min(t_max);
            prev = p;
        }
    }

    /// Zoom phase (Algorithm 3.6): shrink `[lo, hi]` around an acceptable point until one is found,
    /// the interval is below rounding, or the evaluations are spent (`None`).
    fn zoom(&mut self, mut lo: LinePoint, mut hi: LinePoint) -> Result<Option<LinePoint>> {
        while !self.exhausted() {
            let (a, b) = (lo.t, hi.t);
            if (b - a).abs() <= 1e-14 * a.abs().max(b.abs()).max(1e-300) {
                break;
            }
            let p = self.eval(zoom_trial(&lo, &hi))?;
            if !self.armijo(&p) || p.f >= lo.f {
                hi = p;
            } else {
                if self.curvature(&p) {
                    return Ok(Some(p));
                }
                if p.slope * (hi.t - lo.t) >= 0.0 {
                    hi = lo;
                }
                lo = p;
            }
        }
        Ok(None)
    }
}

/// Search along a direction. `phi(t)` evaluates the objective at `z + t·d`; `f0`, `slope0`
/// are `φ(0)` and `φ'(0) < 0`. Returns the accepted point, or `None` after
/// `max_evaluations` without one (then the best finite point with decrease, if any, is
/// returned as the second value).
pub fn strong_wolfe<F>(
    phi: F,
    f0: f64,
    slope0: f64,
    t_init: f64,
    t_max: f64,
    options: &LineSearchOptions,
) -> Result<(Option<LinePoint>, Option<LinePoint>)>
where
    F: FnMut(f64) -> Result<LinePoint>,
{
    let mut search = Search { phi, f0, slope0, options, evals: 0, best: None };
    let accepted = match search.bracket(t_init, t_max)? {
        Bracket::Accepted(p) => Some(p),
        Bracket::Interval { lo, hi } => search.zoom(lo, hi)?,
        Bracket::Exhausted => None,
    };
    Ok((accepted, search.best))
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
