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
    let n = z0.len();
    let mut z: Vec<f64> = (0..n).map(|i| z0[i].clamp(lower[i], upper[i])).collect();
    let (mut f, mut g) = eval(&z)?;
    let mut history: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new();
    let mut prev_active: Vec<bool> = vec![false; n];
    let mut iteration = 0;
    loop {
        let active: Vec<bool> = (0..n)
            .map(|i| (z[i] <= lower[i] && g[i] > 0.0) || (z[i] >= upper[i] && g[i] < 0.0))
            .collect();
        let pg: Vec<f64> = (0..n).map(|i| if active[i] { 0.0 } else { g[i] }).collect();
        let state = Iterate { iteration, z: &z, f, projected_gradient: &pg };
        if hook(&state).is_break() {
            return Ok((z, f, g, Exit::Hook));
        }
        if active != prev_active {
            history.clear();
            prev_active = active.clone();
        }
        let mut tries = 0;
        loop {
            tries += 1;
            let mut d = direction(&pg, &history, &active);
            // A variable on a bound cannot move outwards: drop that component.
            for i in 0..n {
                if (z[i] >= upper[i] && d[i] > 0.0) || (z[i] <= lower[i] && d[i] < 0.0) {
                    d[i] = 0.0;
                }
            }
            let slope0 = dot(&d, &g);
            let (d, slope0) = if slope0 < 0.0 {
                (d, slope0)
            } else {
                history.clear();
                let d: Vec<f64> = pg.iter().map(|x| -x).collect();
                let s = dot(&d, &g);
                (d, s)
            };
            if !(slope0 < 0.0) {
                // Zero projected gradient: nothing to do but let the hook decide.
                return Ok((z, f, g, Exit::LineSearchFailed));
            }
            let t_max = (0..n)
                .filter(|&i| d[i] != 0.0)
                .map(|i| if d[i] > 0.0 { (upper[i] - z[i]) / d[i] } else { (lower[i] - z[i]) / d[i] })
                .fold(f64::INFINITY, f64::min)
                .max(0.0);
            let t_init = if history.is_empty() {
                let dmax = d.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                options.first_step / dmax
            } else {
                1.0
            };
            let at = |t: f64| -> Vec<f64> {
                (0..n)
                    .map(|i| {
                        let v = z[i] + t * d[i];
                        if t >= t_max { v.clamp(lower[i], upper[i]) } else { v }
                    })
                    .collect()
            };
            let (accepted, best) = strong_wolfe(
                |t| {
                    let (ft, gt) = eval(&at(t))?;
                    let slope = if ft.is_finite() { dot(&gt, &d) } else { f64::NAN };
                    Ok(LinePoint { t, f: ft, slope, grad: gt })
                },
                f,
                slope0,
                t_init,
                t_max,
                &options.line_search,
            )?;
            let Some(p) = accepted.or(best) else {
                if history.is_empty() || tries > 1 {
                    return Ok((z, f, g, Exit::LineSearchFailed));
                }
                history.clear();
                continue;
            };
            let z_new = at(p.t);
            let s: Vec<f64> = z_new.iter().zip(&z).map(|(a, b)| a - b).collect();
            let y: Vec<f64> = p.grad.iter().zip(&g).map(|(a, b)| a - b).collect();
            let sy = dot(&s, &y);
            if sy > 1e-10 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() {
                if history.len() == options.memory.max(1) {
                    history.remove(0);
                }
                history.push((s, y, 1.0 / sy));
            }
            z = z_new;
            f = p.f;
            g = p.grad;
            break;
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
