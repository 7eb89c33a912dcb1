//! Finite-difference derivatives with Richardson extrapolation and error estimates.
//!
//! Pure `f64` numerics, independent of Burn; [`crate::check`] feeds it closure evaluations.
//!
//! # Stencils
//!
//! All stencils are second order, `D(h) = f'(x) + c h² + O(h³)`:
//!
//! * central: `D(h) = (f(x+h) - f(x-h)) / 2h` (reach `x ± h`),
//! * forward: `D(h) = (-3 f(x) + 4 f(x+h) - f(x+2h)) / 2h` (reach `[x, x+2h]`),
//! * backward: `D(h) = (3 f(x) - 4 f(x-h) + f(x-2h)) / 2h` (reach `[x-2h, x]`).
//!
//! Central is used whenever `[x-h, x+h]` lies inside the parameter's bounds; otherwise the
//! one-sided stencil pointing away from the nearer bound, with `h` halved until it fits.
//!
//! # Richardson extrapolation and the error estimate
//!
//! With `D₁ = D(h)` and `D₂ = D(h/2)`, the extrapolated value is `R = (4 D₂ - D₁) / 3`, which
//! cancels the `h²` term. Since `D₁ - D₂ ≈ ¾ c h²` and the error of `D₂` is `≈ ¼ c h²`,
//! `|D₂ - D₁| / 3` estimates the error of `D₂`; it is a conservative estimate of the error of
//! `R` and — because round-off noise in `D₁` and `D₂` is independent — it also grows when
//! round-off dominates. This is the **Richardson error estimate** in the report.
//!
//! To that we add a **round-off floor**, because `D₁` and `D₂` can agree by luck (identical
//! rounding) even when round-off dominates. With `R = Σ c_k f(x_k)`, it is
//! `u·sqrt(Σ (c_k m_k)²) + |R|·Σ |c_k| δ_k`, where `u = eps/2` is the dtype's unit round-off,
//! `m_k` the magnitude of the terms summed into `f(x_k)` (for projected outputs
//! `Σ |w_i y_i|`), and `δ_k` how far `x_k` moved when rounded to the dtype. The first term is
//! the typical (root-sum-square) size of one rounding per evaluation, not a worst-case bound;
//! the second is the first-order effect of inexact steps.
//!
//! The **error estimate** used for verdicts is `|D₂ - D₁| + floor`, i.e. three times the
//! Richardson estimate plus the round-off floor. The factor 3 matters when round-off noise
//! (independent per evaluation, standard deviation `σ`) dominates: the noise of `R` is then
//! `≈ 1.9 σ/h` (central) while `|D₂ - D₁| / 3` only sees `≈ 0.53 σ/h`; `|D₂ - D₁|` covers it.
//! When truncation dominates, `|D₂ - D₁|` over-estimates the error of `R` (which is `O(h⁴)`),
//! erring towards "ill-conditioned" rather than a false "fail".
//!
//! The floor only sees the closure's *output*: if the closure reduces a tensor itself (e.g.
//! `.sum()`), cancellation inside that reduction is invisible to it. Return the unreduced
//! tensor and let the check project it.
//!
//! # Steps
//!
//! The base step `h` is rounded to the nearest power of two and the point `x` to the dtype, so
//! `x ± h`, `x ± h/2`, ... are exactly representable except across a binade boundary (where
//! `δ_k` accounts for it).

use serde::{Deserialize, Serialize};

use crate::params::Bounds;

/// Which stencil was used for a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scheme {
    /// Symmetric `x ± h`.
    Central,
    /// One-sided `x, x+h, x+2h` (near a lower bound).
    Forward,
    /// One-sided `x, x-h, x-2h` (near an upper bound).
    Backward,
}

impl Scheme {
    /// `(offset in units of h, weight in units of 1/h)` of `D(h)`.
    pub fn stencil(self) -> &'static [(f64, f64)] {
        match self {
            Scheme::Central => &[(-1.0, -0.5), (1.0, 0.5)],
            Scheme::Forward => &[(0.0, -1.5), (1.0, 2.0), (2.0, -0.5)],
            Scheme::Backward => &[(0.0, 1.5), (-1.0, -2.0), (-2.0, 0.5)],
        }
    }

    /// `(reach below x, reach above x)` in units of h.
    pub fn reach(self) -> (f64, f64) {
        match self {
            Scheme::Central => (1.0, 1.0),
            Scheme::Forward => (0.0, 2.0),
            Scheme::Backward => (2.0, 0.0),
        }
    }

    /// Short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Central => "central",
            Scheme::Forward => "forward",
            Scheme::Backward => "backward",
        }
    }
}

/// Stencil and step chosen for one component.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepPlan {
    /// The stencil.
    pub scheme: Scheme,
    /// The (power-of-two) step `h`; `D(h/2)` is evaluated too.
    pub step: f64,
}

/// Nearest power of two (in log scale) to `h > 0`.
pub fn pow2_nearest(h: f64) -> f64 {
    2f64.powi(h.log2().round() as i32)
}

/// Largest power of two `<= h` (`h > 0`).
pub fn pow2_floor(h: f64) -> f64 {
    2f64.powi(h.log2().floor() as i32)
}

/// Choose stencil and step at `x` for a base step, within `bounds`.
///
/// `min_step` is the smallest acceptable step (below it the bounds leave no room for a finite
/// difference that round-off would not swamp); returns `Err(reason)` then.
pub fn plan_step(
    x: f64,
    base_step: f64,
    bounds: &Bounds,
    min_step: f64,
) -> Result<StepPlan, String> {
    let h = pow2_nearest(base_step);
    if !(h > 0.0 && h.is_finite()) {
        return Err(format!("step {base_step} at {x} is not a positive finite number"));
    }
    let fits = |s: Scheme, h: f64| {
        let (below, above) = s.reach();
        x - below * h >= bounds.lo() && x + above * h <= bounds.hi()
    };
    for scheme in [Scheme::Central, Scheme::Forward, Scheme::Backward] {
        if fits(scheme, h) {
            return Ok(StepPlan { scheme, step: h });
        }
    }
    // Neither fits: go one-sided towards the larger room, with a smaller step.
    let (up, down) = (bounds.hi() - x, x - bounds.lo());
    let (scheme, room) = if up >= down {
        (Scheme::Forward, up)
    } else {
        (Scheme::Backward, down)
    };
    let h = pow2_floor(room / 2.0);
    if h.is_nan() || h < min_step || !fits(scheme, h) {
        return Err(format!(
            "bounds [{}, {}] leave no room for a finite-difference step at {x}",
            bounds.lo(),
            bounds.hi()
        ));
    }
    Ok(StepPlan { scheme, step: h })
}

/// One function evaluation: the value and a bound on the magnitude of the terms summed into it
/// (`|value|` for a plain scalar), used for the round-off floor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// `f(x)`.
    pub value: f64,
    /// `>= |f(x)|`, magnitude scale for round-off.
    pub magnitude: f64,
}

impl Sample {
    /// A plain scalar evaluation (`magnitude = |value|`).
    pub fn scalar(value: f64) -> Self {
        Sample {
            value,
            magnitude: value.abs(),
        }
    }
}

/// Result of a Richardson-extrapolated finite difference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FdEstimate {
    /// `D(h)`.
    pub coarse: f64,
    /// `D(h/2)`.
    pub fine: f64,
    /// `R = (4 D(h/2) - D(h)) / 3`, the numeric derivative reported.
    pub richardson: f64,
    /// `|D(h/2) - D(h)| / 3`.
    pub richardson_error: f64,
    /// First-order round-off floor (see module docs).
    pub roundoff_error: f64,
    /// Number of distinct closure evaluations used (including `f(x)` for one-sided stencils).
    pub evaluations: usize,
}

impl FdEstimate {
    /// `3·richardson_error + roundoff_error = |D(h/2) - D(h)| + roundoff_error`: how far the
    /// numeric value may be from `f'(x)` (see the module docs for the factor 3).
    pub fn error_estimate(&self) -> f64 {
        3.0 * self.richardson_error + self.roundoff_error
    }
}

/// Richardson-extrapolated derivative at `x` (already representable in the dtype).
///
/// * `round` maps an `f64` point to the nearest representable value of the dtype,
/// * `eps` is the dtype's machine epsilon,
/// * `eval(point)` evaluates the function; its errors are passed through.
pub fn richardson<E>(
    x: f64,
    plan: StepPlan,
    round: impl Fn(f64) -> f64,
    eps: f64,
    mut eval: impl FnMut(f64) -> Result<Sample, E>,
) -> Result<FdEstimate, E> {
    let h = plan.step;
    // (exact target offset, rounded point, combined coefficient of R, sample)
    struct Point {
        offset: f64,
        delta: f64,
        coef: f64,
        sample: Sample,
    }
    let mut points: Vec<Point> = Vec::new();
    let (mut coarse, mut fine) = (0.0, 0.0);
    for (scale, r_weight) in [(1.0, -1.0 / 3.0), (0.5, 4.0 / 3.0)] {
        let s = h * scale;
        for &(o, w) in plan.scheme.stencil() {
            let offset = o * s;
            let c = w / s;
            let idx = match points.iter().position(|p| p.offset == offset) {
                Some(i) => i,
                None => {
                    let target = x + offset;
                    let at = round(target);
                    let sample = eval(at)?;
                    points.push(Point {
                        offset,
                        delta: (at - target).abs(),
                        coef: 0.0,
                        sample,
                    });
                    points.len() - 1
                }
            };
            let p = &mut points[idx];
            p.coef += r_weight * c;
            if scale == 1.0 {
                coarse += c * p.sample.value;
            } else {
                fine += c * p.sample.value;
            }
        }
    }
    let richardson = (4.0 * fine - coarse) / 3.0;
    let unit_roundoff = eps / 2.0;
    let noise: f64 = points
        .iter()
        .map(|p| (p.coef * unit_roundoff * p.sample.magnitude).powi(2))
        .sum();
    let step_rounding: f64 = points
        .iter()
        .map(|p| p.coef.abs() * richardson.abs() * p.delta)
        .sum();
    let roundoff_error = noise.sqrt() + step_rounding;
    Ok(FdEstimate {
        coarse,
        fine,
        richardson,
        richardson_error: (fine - coarse).abs() / 3.0,
        roundoff_error,
        evaluations: points.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd(f: impl Fn(f64) -> f64, x: f64, plan: StepPlan) -> FdEstimate {
        richardson::<()>(x, plan, |v| v, f64::EPSILON, |v| Ok(Sample::scalar(f(v)))).unwrap()
    }

    #[test]
    fn central_richardson_is_fourth_order_accurate() {
        let plan = StepPlan {
            scheme: Scheme::Central,
            step: 2f64.powi(-8),
        };
        let e = fd(f64::exp, 0.3, plan);
        let exact = 0.3f64.exp();
        assert!((e.coarse - exact).abs() > 1e-6, "D(h) is only second order");
        assert!((e.richardson - exact).abs() < 1e-11);
        assert!((e.richardson - exact).abs() <= e.error_estimate());
        assert_eq!(e.evaluations, 4);
    }

    #[test]
    fn one_sided_stencils_match_exact_derivative() {
        for scheme in [Scheme::Forward, Scheme::Backward] {
            let plan = StepPlan {
                scheme,
                step: 2f64.powi(-10),
            };
            let e = fd(f64::sin, 1.1, plan);
            assert!(
                (e.richardson - 1.1f64.cos()).abs() < 1e-10,
                "{scheme:?}: {e:?}"
            );
            assert!((e.richardson - 1.1f64.cos()).abs() <= e.error_estimate());
            // f(x), f(x±h/2), f(x±h), f(x±2h): f(x±h) is shared by both levels.
            assert_eq!(e.evaluations, 4);
        }
    }

    #[test]
    fn steps_are_powers_of_two() {
        assert_eq!(pow2_nearest(6.0e-6), 2f64.powi(-17));
        assert_eq!(pow2_nearest(1.0), 1.0);
        assert_eq!(pow2_floor(0.7), 0.5);
    }

    #[test]
    fn plan_prefers_central_then_one_sided_near_bounds() {
        let h = 2f64.powi(-10);
        let free = plan_step(0.5, h, &Bounds::UNBOUNDED, 1e-12).unwrap();
        assert_eq!(free.scheme, Scheme::Central);
        assert_eq!(free.step, h);
        let at_lower = plan_step(0.0, h, &Bounds::at_least(0.0), 1e-12).unwrap();
        assert_eq!(at_lower.scheme, Scheme::Forward);
        let at_upper = plan_step(1.0, h, &Bounds::at_most(1.0), 1e-12).unwrap();
        assert_eq!(at_upper.scheme, Scheme::Backward);
        // Interval narrower than 2h: one-sided with a smaller step that fits.
        let tight = plan_step(0.0, h, &Bounds::new(0.0, h), 1e-12).unwrap();
        assert_eq!(tight.scheme, Scheme::Forward);
        assert!(2.0 * tight.step <= h);
        assert!(plan_step(0.0, h, &Bounds::new(0.0, 1e-14), 1e-12).is_err());
        assert!(plan_step(0.0, 0.0, &Bounds::UNBOUNDED, 1e-12).is_err());
    }

    #[test]
    fn roundoff_floor_grows_as_step_shrinks() {
        let f = |x: f64| 1e6 + x;
        let big = fd(
            f,
            0.0,
            StepPlan {
                scheme: Scheme::Central,
                step: 2f64.powi(-4),
            },
        );
        let small = fd(
            f,
            0.0,
            StepPlan {
                scheme: Scheme::Central,
                step: 2f64.powi(-30),
            },
        );
        assert!(small.roundoff_error > 1e3 * big.roundoff_error);
    }
}
