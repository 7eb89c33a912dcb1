//! Image statistics as the C program reports them.
//!
//! Over rendered pixels (inside the ROI and unmasked): the maximum (first strictly greater value in
//! scan order, starting from 0) and the sub-pixel position where it was last set, the mean, and
//! `rms = sqrt(Σx²/(N−1))`. The RMSD about the mean runs over every pixel of the ROI — masked ones
//! included, as the C program's second pass does not consult the mask. Values are the stored f32
//! pixels, summed in f64.

use crate::simulate::Image;

/// Statistics of a float image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageStats {
    /// Maximum pixel value (photons).
    pub max: f64,
    /// Fast index of the maximum.
    pub max_fast: usize,
    /// Slow index of the maximum.
    pub max_slow: usize,
    /// Fast coordinate (m) of the last sub-pixel of the maximum pixel, as the C program prints it.
    pub max_fdet_m: f64,
    /// Slow coordinate (m) of that sub-pixel.
    pub max_sdet_m: f64,
    /// Mean over rendered pixels.
    pub mean: f64,
    /// Root mean square over rendered pixels (N − 1 denominator).
    pub rms: f64,
    /// Root mean square deviation from the mean over the ROI (N − 1 denominator).
    pub rmsd: f64,
    /// Number of rendered pixels.
    pub count: usize,
}

/// Compute the statistics of `image` whose rendered pixels are `pixels` (scan order), with the
/// inclusive `roi` (xmin, xmax, ymin, ymax), pixel size (m) and oversampling.
pub fn image_stats(
    image: &Image,
    pixels: &[usize],
    roi: [i64; 4],
    pixel_m: f64,
    oversample: usize,
) -> ImageStats {
    let (mut max, mut max_idx) = (0.0f64, None);
    let (mut sum, mut sumsqr) = (0.0f64, 0.0f64);
    for &i in pixels {
        let v = image.data[i] as f64;
        if v > max {
            max = v;
            max_idx = Some(i);
        }
        sum += v;
        sumsqr += v * v;
    }
    let n = pixels.len();
    let mean = sum / n.max(1) as f64;
    let rms = (sumsqr / (n.max(2) - 1) as f64).sqrt();
    let (mut dev, mut m) = (0.0f64, 0usize);
    for s in 0..image.spixels {
        for f in 0..image.fpixels {
            let (fi, si) = (f as i64, s as i64);
            if fi < roi[0] || fi > roi[1] || si < roi[2] || si > roi[3] {
                continue;
            }
            let d = image.data[s * image.fpixels + f] as f64 - mean;
            dev += d * d;
            m += 1;
        }
    }
    let rmsd = (dev / (m.max(2) - 1) as f64).sqrt();
    let sub = pixel_m / oversample as f64;
    let last = |p: usize| sub * (p * oversample + oversample - 1) as f64 + sub / 2.0;
    let (max_fast, max_slow) = max_idx
        .map(|i| (i % image.fpixels, i / image.fpixels))
        .unwrap_or((0, 0));
    ImageStats {
        max,
        max_fast,
        max_slow,
        max_fdet_m: if max_idx.is_some() { last(max_fast) } else { 0.0 },
        max_sdet_m: if max_idx.is_some() { last(max_slow) } else { 0.0 },
        mean,
        rms,
        rmsd,
        count: n,
    }
}
