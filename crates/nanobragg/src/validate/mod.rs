//! One validation layer for every input: a [`Scene`](crate::Scene) as the user wrote it (flags,
//! a scene file or the library), the [`Setup`](crate::Setup) resolved from it, and the amount of
//! work and memory its [`Plan`](crate::simulate::Plan) implies.
//!
//! The rule: an input either renders a finite image or is refused here, before any tensor is
//! built or any file written, with one line naming the input (flag and scene key, or file and
//! key) and the problem. Where the C program is well defined we accept what it accepts; where it
//! silently produces NaN or garbage (λ = 0, a degenerate cell, a singular matrix, a detector of
//! zero pixels) we refuse.
//!
//! * [`check_scene`] — numbers as given: every number finite (whatever its key), lengths and
//!   sizes positive, cell angles in (0°, 180°), direction vectors non-zero, ROI ordered.
//! * [`check_setup`] — resolved values: every source's wavelength (after `-dispersion`) positive,
//!   a cell with volume, a regular `-mat` matrix, finite mosaic rotations, a detector with pixels.
//! * [`check_work`] — the number of evaluations a render needs, with checked arithmetic (no
//!   overflow of `oversample²`), refused above [`MAX_EVALUATIONS`] with a hint;
//!   [`check_memory`] — the bytes one pixel needs on the render path taken, against the budget.
//! * [`check_rendered`] — the safety net: every rendered pixel finite.
//! * [`check_image`] — measured images given to a loss (targets, backgrounds).
//!
//! docs/reliability.md lists every class of hostile input with what the C program does.

use crate::error::{NanobraggError, Result};

mod scene;
mod setup;
mod work;

pub use scene::check_scene;
pub use setup::check_setup;
pub use work::{check_memory, check_work, MemoryPath, Work, TENSOR_LIVE_INTERMEDIATES};

/// The most grating evaluations (pixels × layers × sub-pixels × sources × φ steps × mosaic
/// domains) a render may ask for: 10¹⁵, days of work on any machine. A scene above this is
/// refused with its figures instead of running for months (the C program hangs).
pub const MAX_EVALUATIONS: f64 = 1e15;

/// The most pixels a detector may have: 2²⁷ (11585² — beyond any detector built; a 16M Eiger
/// has 2²⁴). The image, its pixel list and a noise image stay within a few GiB.
pub const MAX_PIXELS: usize = 1 << 27;

/// The most sources (divergence × dispersion points, or source-file lines): 2²⁰.
pub const MAX_SOURCES: usize = 1 << 20;

/// The most crystal orientations (φ steps × mosaic domains): 2²⁰.
pub const MAX_CELLS: usize = 1 << 20;

/// The largest cell edge accepted (Å): 1 m, far beyond any crystal, small enough that cell
/// volumes and reciprocal vectors stay finite in f64.
pub(crate) const MAX_CELL_A: f64 = 1e10;

/// A number as messages show it: plain, or in exponent form when very large or small.
pub(crate) fn num(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// An input refused: names it and says why.
pub(crate) fn refuse(input: impl Into<String>, problem: impl Into<String>) -> NanobraggError {
    NanobraggError::Invalid {
        input: input.into(),
        problem: problem.into(),
    }
}

/// A measured image given to a loss (`what` names it, e.g. `-target t.img`): every pixel
/// finite, and, for a target (`may_be_zero` false), not every pixel zero — a fit to an empty
/// image has no information and would "converge" anywhere.
pub fn check_image<T: Copy + Into<f64>>(what: &str, values: &[T], may_be_zero: bool) -> Result<()> {
    if let Some((i, v)) = values.iter().map(|&v| v.into()).enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(refuse(what, format!("pixel {i} is {v}: every pixel must be a finite number")));
    }
    if !may_be_zero && values.iter().all(|&v| v.into() == 0.0) {
        return Err(refuse(what, "every pixel is 0: there is nothing to fit"));
    }
    Ok(())
}

/// The safety net after a render: every pixel (as stored, f32) finite. A scene that passed the
/// checks above but whose numbers still overflow somewhere is refused here, before any output
/// file is written, rather than leaving a NaN image with exit status 0.
pub fn check_rendered(data: &[f32], fpixels: usize) -> Result<()> {
    match data.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(refuse(
            "scene",
            format!(
                "the render gives {} at pixel (slow {}, fast {}): its numbers are outside what the physics can represent in floating point (check the sizes, distances and wavelengths given)",
                data[i],
                i / fpixels.max(1),
                i % fpixels.max(1)
            ),
        )),
    }
}
