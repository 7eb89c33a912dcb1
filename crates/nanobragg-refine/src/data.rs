//! The measured image a model is fitted to, and the per-pixel losses.

use nanobragg::random::noise::poisson_noise_image;
use nanobragg::Image;

use crate::error::{RefineError, Result};

/// A measured image and what to compare it with, all fast-major (`slow·fpixels + fast`) over
/// the full detector.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Measured photons per pixel (counts, with any ADC offset already removed).
    pub counts: Vec<f64>,
    /// Known background added to the model (photons per pixel), if any: `μ = s·I + b`.
    pub background: Option<Vec<f64>>,
    /// Pixels used (`true`); `None`: every pixel the scene renders (its ROI and `-mask`).
    pub mask: Option<Vec<bool>>,
}

impl Observation {
    /// Counts only: no background, no extra mask.
    pub fn new(counts: Vec<f64>) -> Self {
        Observation {
            counts,
            background: None,
            mask: None,
        }
    }

    /// Synthetic measured counts: the rendered `image` (photons per pixel) with Poisson noise,
    /// drawn over the whole detector as the C program draws its `-noisefile` image for
    /// `-seed seed` (no ADC offset). Refused when a pixel would exceed the 16-bit counts
    /// (65535) and be clipped, which would bias a fit.
    pub fn simulated(image: &Image, seed: i32) -> Result<Self> {
        let (fpixels, spixels) = (image.fpixels, image.spixels);
        if fpixels == 0 || spixels == 0 || image.data.len() != fpixels * spixels {
            return Err(RefineError::Refinement(format!(
                "the rendered image has {} values for {fpixels}×{spixels} pixels",
                image.data.len()
            )));
        }
        let roi = (0, fpixels - 1, 0, spixels - 1);
        let noise = poisson_noise_image(&image.data, -i64::from(seed), 0.0, roi, fpixels);
        if noise.overloads > 0 {
            return Err(RefineError::Refinement(format!(
                "{} pixels of the noisy image exceed 65535 counts (lower the fluence)",
                noise.overloads
            )));
        }
        Ok(Observation::new(noise.pixels.iter().map(|&c| f64::from(c)).collect()))
    }

    /// Add a known background image.
    pub fn with_background(mut self, background: Vec<f64>) -> Self {
        self.background = Some(background);
        self
    }

    /// Use only the pixels where `mask` is true.
    pub fn with_mask(mut self, mask: Vec<bool>) -> Self {
        self.mask = Some(mask);
        self
    }

    /// Check the image sizes against a detector of `pixels` pixels.
    pub fn check(&self, pixels: usize) -> Result<()> {
        let bad = |what: &str, n: usize| {
            Err(RefineError::Refinement(format!(
                "{what} has {n} pixels, the detector {pixels}"
            )))
        };
        if self.counts.len() != pixels {
            return bad("the measured image", self.counts.len());
        }
        // All zeros is allowed here (a probe of Σμ's gradient); the CLI refuses it as a target.
        nanobragg::validate::check_image("the measured image", &self.counts, true)?;
        if let Some(b) = &self.background {
            if b.len() != pixels {
                return bad("the background image", b.len());
            }
            nanobragg::validate::check_image("the background image", b, true)?;
        }
        if let Some(m) = &self.mask {
            if m.len() != pixels {
                return bad("the mask", m.len());
            }
        }
        Ok(())
    }
}

/// The data term of the loss, a sum over the used pixels of a per-pixel negative
/// log-likelihood (up to a constant).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossKind {
    /// Poisson: the deviance form `μ − y − y·ln(μ/y)` (`μ` for `y = 0`), which is the negative
    /// log-likelihood `μ − y ln μ` plus a constant, ≥ 0, and ≈ χ²/2 at a good fit.
    /// `μ ≤ 0` where `y > 0` is an infinite loss.
    Poisson,
    /// Gaussian with a fixed per-pixel σ (photons): `½((μ − y)/σ)²`.
    SquaredError {
        /// Noise σ (photons per pixel), > 0.
        sigma: f64,
    },
    /// Robust Poisson: Huber's function of the deviance residual `r = ±√(2D)` (`D` the
    /// [`LossKind::Poisson`] deviance): `D` where `|r| ≤ c`, `c·|r| − c²/2` beyond, so a pixel
    /// far from the model (a bad shoebox, a zinger) pulls on the fit with a bounded force
    /// instead of one that grows with its residual. Continuous with its slope at `|r| = c`.
    PoissonHuber {
        /// The residual (in σ, as `r` is ≈ N(0, 1) at a good fit with many counts) where the
        /// loss turns linear, > 0; 1.345 gives 95 % of the Poisson fit's efficiency on clean
        /// data with many counts.
        c: f64,
    },
}

/// Huber's threshold that keeps 95 % of the Gaussian (here: Poisson) fit's efficiency on clean
/// data.
pub const HUBER_C: f64 = 1.345;

impl LossKind {
    /// Per-pixel loss and its derivative with respect to μ.
    pub fn pixel(self, mu: f64, y: f64) -> (f64, f64) {
        match self {
            LossKind::Poisson => {
                if y > 0.0 {
                    if mu <= 0.0 {
                        return (f64::INFINITY, f64::NAN);
                    }
                    (mu - y - y * (mu / y).ln(), 1.0 - y / mu)
                } else {
                    (mu, 1.0)
                }
            }
            LossKind::SquaredError { sigma } => {
                let r = (mu - y) / sigma;
                (0.5 * r * r, r / sigma)
            }
            LossKind::PoissonHuber { c } => {
                let (deviance, slope) = LossKind::Poisson.pixel(mu, y);
                let r = (2.0 * deviance).sqrt();
                if !(r > c) {
                    return (deviance, slope);
                }
                // d(c·√(2D))/dμ = c·D′/√(2D).
                (c * r - 0.5 * c * c, c * slope / r)
            }
        }
    }

    /// Weight of a pixel in the Fisher information `Σ w·(∂μ/∂θ_i)(∂μ/∂θ_j)`: `1/μ` for Poisson,
    /// `1/σ²` for the Gaussian.
    pub fn fisher_weight(self, mu: f64) -> f64 {
        match self {
            LossKind::Poisson => {
                if mu > 0.0 {
                    1.0 / mu
                } else {
                    0.0
                }
            }
            LossKind::SquaredError { sigma } => 1.0 / (sigma * sigma),
            // The Poisson weight: the Fisher information at the model, where a pixel's expected
            // residual is within c (the robust loss changes the fit's outliers, not the model's
            // information).
            LossKind::PoissonHuber { .. } => LossKind::Poisson.fisher_weight(mu),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_pixel_loss_is_zero_at_the_data_and_its_derivative_matches() {
        let (l, d) = LossKind::Poisson.pixel(7.0, 7.0);
        assert_eq!(l, 0.0);
        assert_eq!(d, 0.0);
        let h = 1e-6;
        let (lp, _) = LossKind::Poisson.pixel(5.0 + h, 7.0);
        let (lm, _) = LossKind::Poisson.pixel(5.0 - h, 7.0);
        let (_, d) = LossKind::Poisson.pixel(5.0, 7.0);
        assert!(((lp - lm) / (2.0 * h) - d).abs() < 1e-8);
        assert_eq!(LossKind::Poisson.pixel(3.0, 0.0), (3.0, 1.0));
        assert!(LossKind::Poisson.pixel(0.0, 2.0).0.is_infinite());
    }

    fn image(data: Vec<f32>) -> Image {
        Image { fpixels: 2, spixels: 2, data, data_f64: Vec::new(), notes: Vec::new() }
    }

    #[test]
    fn simulated_counts_follow_the_seed_and_refuse_clipping() {
        let bright = image(vec![0.0, 5.0, 100.0, 1000.0]);
        let a = Observation::simulated(&bright, 7).unwrap();
        assert_eq!(a, Observation::simulated(&bright, 7).unwrap());
        assert_eq!(a.counts[0], 0.0);
        assert!(a.counts.iter().all(|c| c.fract() == 0.0 && *c >= 0.0));
        assert!(Observation::simulated(&image(vec![1e6; 4]), 7).is_err());
        assert!(Observation::simulated(&image(vec![1.0; 3]), 7).is_err());
    }

    /// The robust loss is the Poisson deviance where the deviance residual is within c, linear
    /// in the residual beyond (so its slope is the Poisson slope times c/|r|), and its slope
    /// matches central differences on both sides of the threshold and at a zero count.
    #[test]
    fn poisson_huber_is_the_deviance_inside_c_and_linear_in_the_residual_beyond() {
        let huber = LossKind::PoissonHuber { c: HUBER_C };
        assert_eq!(huber.pixel(110.0, 100.0), LossKind::Poisson.pixel(110.0, 100.0));
        let (d, slope) = LossKind::Poisson.pixel(400.0, 100.0);
        let r = (2.0 * d).sqrt();
        assert!(r > 10.0 * HUBER_C);
        let (l, dl) = huber.pixel(400.0, 100.0);
        assert!((l - (HUBER_C * r - 0.5 * HUBER_C * HUBER_C)).abs() < 1e-12 * l);
        assert!(l < 0.2 * d && dl > 0.0 && dl < 0.2 * slope, "bounded pull: {l} < {d}, {dl} < {slope}");
        for (mu, y) in [(110.0, 100.0), (400.0, 100.0), (30.0, 100.0), (5.0, 0.0), (0.2, 0.0)] {
            let h = 1e-6 * mu;
            let fd = (huber.pixel(mu + h, y).0 - huber.pixel(mu - h, y).0) / (2.0 * h);
            let (_, d) = huber.pixel(mu, y);
            assert!((fd - d).abs() <= 1e-6 * d.abs().max(1e-3), "μ = {mu}, y = {y}: slope {d} vs {fd}");
        }
        // Continuous at the threshold: just inside and just outside |r| = c agree.
        let y = 100.0f64;
        let mu_c = {
            let (mut lo, mut hi) = (y, 2.0 * y);
            for _ in 0..200 {
                let mid = 0.5 * (lo + hi);
                if (2.0 * LossKind::Poisson.pixel(mid, y).0).sqrt() > HUBER_C { hi = mid } else { lo = mid }
            }
            lo
        };
        let (inside, outside) = (huber.pixel(mu_c, y), huber.pixel(mu_c * (1.0 + 1e-12), y));
        assert!((inside.0 - outside.0).abs() < 1e-9 && (inside.1 - outside.1).abs() < 1e-9);
        assert!(LossKind::PoissonHuber { c: 1.0 }.pixel(0.0, 2.0).0.is_infinite());
    }

    #[test]
    fn squared_error_is_half_chi_square() {
        let (l, d) = LossKind::SquaredError { sigma: 2.0 }.pixel(5.0, 1.0);
        assert_eq!(l, 2.0);
        assert_eq!(d, 1.0);
    }
}
