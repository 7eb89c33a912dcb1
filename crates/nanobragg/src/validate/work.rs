//! The work a render implies (evaluations, with checked arithmetic) and the memory its smallest
//! tile needs on each render path.

use super::{refuse, MAX_EVALUATIONS};
use crate::error::Result;

/// The factors of a render's work, each a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// Pixels rendered.
    pub pixels: usize,
    /// Sub-pixels per axis.
    pub oversample: usize,
    /// Sensor layers.
    pub layers: usize,
    /// Sources (divergence × dispersion points or source-file lines).
    pub sources: usize,
    /// φ steps.
    pub phi_steps: usize,
    /// Mosaic domains.
    pub domains: usize,
}

impl Work {
    /// Evaluations per pixel (layers × sub-pixels × sources × φ steps × domains), or `None` on
    /// overflow.
    pub fn per_pixel(&self) -> Option<usize> {
        self.oversample
            .checked_mul(self.oversample)?
            .checked_mul(self.layers)?
            .checked_mul(self.sources)?
            .checked_mul(self.phi_steps)?
            .checked_mul(self.domains)
    }

    /// Total evaluations, as a float (no overflow).
    pub fn total(&self) -> f64 {
        [self.pixels, self.oversample, self.oversample, self.layers, self.sources, self.phi_steps, self.domains]
            .iter()
            .map(|&x| x as f64)
            .product()
    }
}

/// Which render path's buffers a memory check counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryPath {
    /// The fused kernel's forward (a render).
    FusedForward,
    /// The fused kernel's one-pass loss and gradient.
    FusedGradient,
    /// The tensor-op reference path (render or autodiff): about 24 live `[E, K]` tensors.
    Tensor,
}

/// Live `[E, K]` intermediates of the tensor path (each one value per evaluation and cell).
pub const TENSOR_LIVE_INTERMEDIATES: usize = 24;

impl Work {
    /// Cells (φ steps × mosaic domains).
    pub fn cells(&self) -> usize {
        self.phi_steps.saturating_mul(self.domains)
    }

    /// Evaluations per pixel before the cells (layers × sub-pixels × sources), saturating.
    fn evaluations_per_pixel(&self) -> f64 {
        (self.layers as f64) * (self.oversample as f64).powi(2) * self.sources as f64
    }

    /// Bytes one pixel's evaluations hold at once on `path` (the memory model of a tile).
    pub fn bytes_per_pixel(&self, path: MemoryPath) -> f64 {
        use crate::kernel::cpu::{gradient_bytes_per_evaluation, FORWARD_BYTES_PER_EVALUATION};
        let per_evaluation = match path {
            MemoryPath::FusedForward => FORWARD_BYTES_PER_EVALUATION as f64,
            MemoryPath::FusedGradient => gradient_bytes_per_evaluation(self.cells()) as f64,
            MemoryPath::Tensor => (TENSOR_LIVE_INTERMEDIATES * 8) as f64 * self.cells() as f64,
        };
        self.evaluations_per_pixel() * per_evaluation
    }

}

/// Refuse a render one pixel of which would not fit `budget` bytes: tiles and kernel chunks
/// shrink down to one pixel before anything is refused, so only a scene with an enormous
/// amount of work per pixel ends here.
pub fn check_memory(work: &Work, path: MemoryPath, budget: usize) -> Result<()> {
    let smallest = work.bytes_per_pixel(path);
    if smallest <= budget as f64 {
        return Ok(());
    }
    Err(refuse(
        "scene",
        format!(
            "one pixel needs {:.3e} bytes ({} layers x {}^2 sub-pixels x {} sources x {} φ·mosaic cells), more than the tile budget of {} MiB: lower -oversample or the source, layer, φ or mosaic counts",
            smallest,
            work.layers,
            work.oversample,
            work.sources,
            work.cells(),
            budget >> 20
        ),
    ))
}

/// Refuse a render whose work overflows or exceeds [`MAX_EVALUATIONS`], with its figures and
/// a hint; `auto_oversample` says whether the oversampling was selected automatically.
pub fn check_work(work: &Work, auto_oversample: bool) -> Result<()> {
    let total = work.total();
    if work.per_pixel().is_some() && total <= MAX_EVALUATIONS {
        return Ok(());
    }
    let hint = if auto_oversample {
        format!(
            "the {}-fold oversampling was auto-selected from the crystal size; give -oversample N",
            work.oversample
        )
    } else {
        "lower -oversample, the source, φ, mosaic or layer counts, or the pixel count".to_string()
    };
    Err(refuse(
        "scene",
        format!(
            "needs {total:.3e} evaluations ({} pixels x {}^2 sub-pixels x {} layers x {} sources x {} φ steps x {} mosaic domains), more than the limit of {MAX_EVALUATIONS:e}: {hint}",
            work.pixels, work.oversample, work.layers, work.sources, work.phi_steps, work.domains
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_overflow_and_excess_are_refused_with_a_hint() {
        let w = Work { pixels: 64 * 64, oversample: 1 << 32, layers: 1, sources: 1, phi_steps: 1, domains: 1 };
        assert!(w.per_pixel().is_none());
        assert!(check_work(&w, false).unwrap_err().to_string().contains("-oversample"));
        let w = Work { oversample: 3000, ..w };
        check_work(&w, true).unwrap();
    }
}
