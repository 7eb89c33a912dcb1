//! Limited-memory BFGS on host vectors, with box bounds handled by an active set.
//!
//! The direction is the two-loop recursion `d = −H·g` over the last `memory` pairs
//! `(s, y)` (initial inverse Hessian `γ·I`, `γ = sᵀy/yᵀy`), restricted to the free variables:
//! a variable sitting on a bound with the gradient pushing outwards is held (its direction
//! component is 0) and the history is cleared whenever that active set changes. The step comes
//! from the strong-Wolfe line search on `(0, t_max]`, `t_max` being the largest step that keeps
//! every variable inside its bounds, so iterates never leave the box. A pair is kept only when
//! `sᵀy > 1e-10·|s|·|y|` (curvature condition), so `H` stays positive definite.

use std::ops::ControlFlow;

use crate::line_search::{strong_wolfe, LinePoint, LineSearchOptions};
use crate::error::Result;

/// Options of L-BFGS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsOptions {
    /// Number of `(s, y)` pairs kept (default 10).
    pub memory: usize,
    /// Line search.
    pub line_search: LineSearchOptions,
    /// Length (∞-norm, scaled units) of the first step along the steepest descent, before any
    /// curvature is known (default 1: one typical step / one standard error).
    pub first_step: f64,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        LbfgsOptions {
            memory: 10,
            line_search: LineSearchOptions::default(),
            first_step: 1.0,
        }
    }
}

/// State shown to the iteration hook.
#[derive(Debug, Clone)]
pub struct Iterate<'a> {
    /// Iteration number (0 = the start).
    pub iteration: usize,
    /// Current point (scaled units).
    pub z: &'a [f64],
    /// Objective value.
    pub f: f64,
    /// Projected gradient (0 for variables held on a bound).
    pub projected_gradient: &'a [f64],
}

/// Why a minimiser stopped on its own (the hook's stop rules come on top).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The hook asked to stop.
    Hook,
    /// No step decreasing the loss was found along the steepest descent either.
    LineSearchFailed,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// One curvature pair `(s, y, ρ)`: the step `s = z₊ − z`, the gradient change `y = g₊ − g` and
/// `ρ = 1/sᵀy`.
type Pair = (Vec<f64>, Vec<f64>, f64);

/// The box `[lower, upper]` (per variable, scaled units) that iterates never leave.
struct Bounds<'a> {
    lower: &'a [f64],
    upper: &'a [f64],
}

impl Bounds<'_> {
    /// `z` clamped into the box.
    fn clamp(&self, z: &[f64]) -> Vec<f64> {
        (0..z.len()).map(|i| z[i].clamp(self.lower[i], self.upper[i])).collect()
    }

    /// The active set: variables on a bound with the gradient `g` pushing them outwards.
    fn active(&self, z: &[f64], g: &[f64]) -> Vec<bool> {
        (0..z.len())
            .map(|i| (z[i] <= self.lower[i] && g[i] > 0.0) || (z[i] >= self.upper[i] && g[i] < 0.0))
            .collect()
    }

    /// Zero the components of `d` that would move a variable on a bound outwards.
    fn hold_on_bounds(&self, z: &[f64], d: &mut [f64]) {
        for i in 0..z.len() {
            if (z[i] >= self.upper[i] && d[i] > 0.0) || (z[i] <= self.lower[i] && d[i] < 0.0) {
                d[i] = 0.0;
            }
        }
    }

    /// The largest step `t ≥ 0` with `z + t·d` inside the box (∞ when no component is bounded).
    fn max_step(&self, z: &[f64], d: &[f64]) -> f64 {
        (0..z.len())
            .filter(|&i| d[i] != 0.0)
            .map(|i| {
                if d[i] > 0.0 { (self.upper[i] - z[i]) / d[i] } else { (self.lower[i] - z[i]) / d[i] }
            })
            .fold(f64::INFINITY, f64::min)
            .max(0.0)
    }

    /// The point `z + t·d`; at `t ≥ t_max` it is clamped, so rounding cannot leave the box.
    fn along(&self, z: &[f64], d: &[f64], t: f64, t_max: f64) -> Vec<f64> {
        (0..z.len())
            .map(|i| {
                let v = z[i] + t * d[i];
                if t >= t_max { v.clamp(self.lower[i], self.upper[i]) } else { v }
            })
            .collect()
    }
}

/// `g` with the components of held (active) variables set to 0.
fn projected(g: &[f64], active: &[bool]) -> Vec<f64> {
    g.iter().zip(active).map(|(&gi, &a)| if a { 0.0 } else { gi }).collect()
}

/// A point of the run: position (scaled units), value and gradient.
struct Point {
    z: Vec<f64>,
    f: f64,
    g: Vec<f64>,
}

/// The minimiser's state between iterations: the box, the options and the curvature history.
struct Lbfgs<'a> {
    bounds: Bounds<'a>,
    options: &'a LbfgsOptions,
    /// The last `memory` pairs, oldest first.
    history: Vec<Pair>,
}

impl Lbfgs<'_> {
    /// A downhill direction at `x` and its slope `dᵀg < 0`: the quasi-Newton direction with the
    /// outward components on bounds dropped or, when that is not downhill, the steepest descent
    /// `−pg` (the history is then cleared). `None` when `−pg` is not downhill either (`pg = 0`).
    fn descent_direction(&mut self, x: &Point, pg: &[f64], active: &[bool]) -> Option<(Vec<f64>, f64)> {
        let mut d = direction(pg, &self.history, active);
        self.bounds.hold_on_bounds(&x.z, &mut d);
        let slope0 = dot(&d, &x.g);
        if slope0 < 0.0 {
            return Some((d, slope0));
        }
        self.history.clear();
        let d: Vec<f64> = pg.iter().map(|x| -x).collect();
        let slope0 = dot(&d, &x.g);
        (slope0 < 0.0).then_some((d, slope0))
    }

    /// The first step tried along `d`: 1 (the quasi-Newton step) once curvature is known, else the
    /// step of ∞-norm `first_step`.
    fn first_trial_step(&self, d: &[f64]) -> f64 {
        if self.history.is_empty() {
            let dmax = d.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            self.options.first_step / dmax
        } else {
            1.0
        }
    }

    /// Keep the pair `(s, y)` if it satisfies the curvature condition `sᵀy > 1e-10·|s|·|y|`,
    /// dropping the oldest pair when `memory` are kept already.
    fn remember(&mut self, s: Vec<f64>, y: Vec<f64>) {
        let sy = dot(&s, &y);
        if sy > 1e-10 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() {
            if self.history.len() == self.options.memory.max(1) {
                self.history.remove(0);
            }
            self.history.push((s, y, 1.0 / sy));
        }
    }

    /// One iteration from `x`: a descent direction, the strong-Wolfe search along it (clamped to
    /// the box) and the new pair remembered. When the search finds no step, it is tried once more
    /// along the steepest descent with the history cleared. `None`: no step decreases the loss.
    fn step<E>(&mut self, eval: &mut E, x: &Point, pg: &[f64], active: &[bool]) -> Result<Option<Point>>
    where
        E: FnMut(&[f64]) -> Result<(f64, Vec<f64>)>,
    {
        loop {
            let Some((d, slope0)) = self.descent_direction(x, pg, active) else {
                return Ok(None);
            };
            let t_max = self.bounds.max_step(&x.z, &d);
            let t_init = self.first_trial_step(&d);
            let (accepted, best) = strong_wolfe(
                |t| {
                    let (ft, gt) = eval(&self.bounds.along(&x.z, &d, t, t_max))?;
                    let slope = if ft.is_finite() { dot(&gt, &d) } else { f64::NAN };
                    Ok(LinePoint { t, f: ft, slope, grad: gt })
                },
                x.f,
                slope0,
                t_init,
                t_max,
                &self.options.line_search,
            )?;
            match accepted.or(best) {
                Some(p) => {
                    let z = self.bounds.along(&x.z, &d, p.t, t_max);
                    let s = z.iter().zip(&x.z).map(|(a, b)| a - b).collect();
                    let y = p.grad.iter().zip(&x.g).map(|(a, b)| a - b).collect();
                    self.remember(s, y);
                    return Ok(Some(Point { z, f: p.f, g: p.grad }));
                }
                // The retry: an empty history makes the next direction the steepest descent.
                None if !self.history.is_empty() => self.history.clear(),
                None => return Ok(None),
            }
        }
    }
}

/// Minimise `f` from `z0` inside `[lower, upper]`. `eval(z)` returns `(f, ∇f)`; `hook` is
/// called at the start and after every iteration and stops the run with `Break`. Returns the
/// final point, value, gradient and why it stopped.
pub fn minimize<E, H>(
    mut eval: E,
    z0: &[f64],
    lower: &[f64],
    upper: &[f64],
    options: &LbfgsOptions,
    mut hook: H,
) -> Result<(Vec<f64>, f64, Vec<f64>, Exit)>
where
    E: FnMut(&[f64]) -> Result<(f64, Vec<f64>)>,
    H: FnMut(&Iterate<'_>) -> ControlFlow<()>,
{
    let mut lbfgs = Lbfgs { bounds: Bounds { lower, upper }, options, history: Vec::new() };
    let z = lbfgs.bounds.clamp(z0);
    let (f, g) = eval(&z)?;
    let mut x = Point { z, f, g };
    let mut prev_active: Vec<bool> = vec![false; z0.len()];
    let mut iteration = 0;
    loop {
        let active = lbfgs.bounds.active(&x.z, &x.g);
        let pg = projected(&x.g, &active);
        let state = Iterate { iteration, z: &x.z, f: x.f, projected_gradient: &pg };
        if hook(&state).is_break() {
            return Ok((x.z, x.f, x.g, Exit::Hook));
        }
        if active != prev_active {
            lbfgs.history.clear();
            prev_active = active.clone();
        }
        match lbfgs.step(&mut eval, &x, &pg, &active)? {
            Some(next) => x = next,
            None => return Ok((x.z, x.f, x.g, Exit::LineSearchFailed)),
        }
        iteration += 1;
    }
}

/// Two-loop recursion: `−H·g` over the free variables.
fn direction(g: &[f64], history: &[(Vec<f64>, Vec<f64>, f64)], active: &[bool]) -> Vec<f64> {
    let mut q: Vec<f64> = g.to_vec();
    let mask = |v: &mut Vec<f64>| {
        for (x, &a) in v.iter_mut().zip(active) {
            if a {
                *x = 0.0;
            }
        }
    };
    mask(&mut q);
    let mut alpha = vec![0.0; history.len()];
    for (k, (s, y, rho)) in history.iter().enumerate().rev() {
        alpha[k] = rho * dot(s, &q);
        for (qi, yi) in q.iter_mut().zip(y) {
            *qi -= alpha[k] * yi;
        }
    }
    if let Some((s, y, _)) = history.last() {
        let gamma = dot(s, y) / dot(y, y);
        for qi in q.iter_mut() {
            *qi *= gamma;
        }
    }
    for (k, (s, y, rho)) in history.iter().enumerate() {
        let beta = rho * dot(y, &q);
        for (qi, si) in q.iter_mut().zip(s) {
            *qi += (alpha[k] - beta) * si;
        }
    }
    mask(&mut q);
    q.iter().map(|x| -x).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock in 2-D, minimum at (1, 1).
    fn rosenbrock(z: &[f64]) -> Result<(f64, Vec<f64>)> {
        let (x, y) = (z[0], z[1]);
        let f = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
        let g = vec![-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)];
        Ok((f, g))
    }

    fn run(lower: [f64; 2], upper: [f64; 2]) -> (Vec<f64>, usize) {
        let mut iters = 0;
        let (z, _f, _g, exit) = minimize(
            rosenbrock,
            &[-1.2, 1.0],
            &lower,
            &upper,
            &LbfgsOptions::default(),
            |it| {
                iters = it.iteration;
                let gmax = it.projected_gradient.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                if gmax < 1e-9 || it.iteration > 500 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            },
        )
        .unwrap();
        assert_eq!(exit, Exit::Hook);
        (z, iters)
    }

    #[test]
    fn minimises_rosenbrock() {
        let (z, iters) = run([f64::NEG_INFINITY; 2], [f64::INFINITY; 2]);
        assert!((z[0] - 1.0).abs() < 1e-6 && (z[1] - 1.0).abs() < 1e-6, "{z:?}");
        assert!(iters < 100, "{iters} iterations");
    }

    #[test]
    fn stops_on_an_active_bound() {
        // With x ≤ 0.5 the constrained minimum is at x = 0.5, y = 0.25.
        let (z, _) = run([f64::NEG_INFINITY; 2], [0.5, f64::INFINITY]);
        assert!((z[0] - 0.5).abs() < 1e-9 && (z[1] - 0.25).abs() < 1e-6, "{z:?}");
    }
}
