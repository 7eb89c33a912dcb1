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
/// file is written, rather than leaving a NaN image with exit status 0. `values[i]` is the value
/// of detector pixel `pixels[i]` (`slow·fpixels + fast`); a renderer checks each tile as it
/// arrives, while it is in cache.
pub fn check_rendered(values: &[f32], pixels: &[usize], fpixels: usize) -> Result<()> {
    // Exponent bits all set: Inf or NaN. The or-reduction over a block vectorises (an early
    // exit per value would not); only a block that has one is searched.
    let non_finite = |v: &f32| v.to_bits() & 0x7f80_0000 == 0x7f80_0000;
    let first = values
        .chunks(4096)
        .enumerate()
        .find(|(_, block)| block.iter().fold(false, |any, v| any | non_finite(v)))
        .and_then(|(b, block)| block.iter().position(non_finite).map(|i| b * 4096 + i));
    match first {
        None => Ok(()),
        Some(i) => {
            let (pixel, fpixels) = (pixels.get(i).copied().unwrap_or(i), fpixels.max(1));
            Err(refuse(
                "scene",
                format!(
                    "the render gives {} at pixel (slow {}, fast {}): its numbers are outside what the physics can represent in floating point (check the sizes, distances and wavelengths given)",
                    values[i],
                    pixel / fpixels,
                    pixel % fpixels
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_non_finite_pixel_is_named_by_slow_and_fast() {
        let pixels: Vec<usize> = (0..100 * 100).collect();
        let mut data = vec![1.0f32; 100 * 100];
        check_rendered(&data, &pixels, 100).unwrap();
        data[5 * 100 + 7] = f32::INFINITY;
        data[9000] = f32::NAN;
        let m = check_rendered(&data, &pixels, 100).unwrap_err().to_string();
        assert!(m.contains("inf at pixel (slow 5, fast 7)"), "{m}");
        data[507] = 1.0;
        let m = check_rendered(&data, &pixels, 100).unwrap_err().to_string();
        assert!(m.contains("NaN at pixel (slow 90, fast 0)"), "{m}");
        // A tile of scattered pixels: the value at position i is pixel pixels[i].
        let m = check_rendered(&[1.0, f32::NAN], &[3, 250], 100).unwrap_err().to_string();
        assert!(m.contains("(slow 2, fast 50)"), "{m}");
    }

    #[test]
    fn images_for_a_loss_must_be_finite_and_a_target_not_empty() {
        assert!(check_image("t", &[0.0f32, f32::NAN], true).unwrap_err().to_string().contains("pixel 1 is NaN"));
        assert!(check_image("t", &[0.0f64; 4], false).unwrap_err().to_string().contains("every pixel is 0"));
        check_image("t", &[0.0f64; 4], true).unwrap();
    }
}
