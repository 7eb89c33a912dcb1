//! Binary PGM (P5) output, byte-identical to the C program's `-pgmfile`.
//!
//! Layout: `"P5\n<fpixels> <spixels>\n# pixels scaled by <pgm_scale %g>\n255\n"`, then one byte per pixel,
//! fast-major. Pixel byte = `(unsigned char) min(255, value * pgm_scale)` computed in f64 — truncation toward
//! zero, as C converts. Like gcc on x86-64 (convert to a 32-bit int, keep the low byte), a negative product
//! wraps (`-1.5` → 255) and NaN gives 0; [`pgm_pixels`] reproduces this. Pixels outside the ROI are 0.

use std::path::Path;

use super::atomic::write_atomic;
use super::cfmt::format_g;
use super::{IoError, Roi};

/// The C program's automatic PGM scale: `pgm_scale` itself when `> 0`; otherwise `250 / (5 * rmsd)` when
/// `rmsd > 0`, else `intfile_scale` (the final `-intfile` scale).
///
/// `rmsd` must be computed as the C program does: `avg = sum / n` over the pixels inside the ROI and unmasked
/// (n forced to at least 1), then `rmsd = sqrt(sum((v - avg)^2) / (m - 1))` over **all** pixels inside the ROI
/// (masked ones included, with their value 0), `m` = that count forced to at least 2; sums in f64 in fast-major
/// order.
pub fn pgm_auto_scale(pgm_scale: f64, rmsd: f64, intfile_scale: f64) -> f64 {
    if pgm_scale <= 0.0 {
        if rmsd > 0.0 {
            250.0 / (5.0 * rmsd)
        } else {
            intfile_scale
        }
    } else {
        pgm_scale
    }
}

/// The C program's float → PGM byte conversion (see the module documentation). `float_image` is fast-major
/// with `fpixels` pixels per row; pixels outside `roi` are 0.
pub fn pgm_pixels(float_image: &[f32], fpixels: usize, scale: f64, roi: &Roi) -> Vec<u8> {
    roi.map_inside(float_image, fpixels, |v| {
        let mut t = v as f64 * scale;
        if t > 255.0 {
            t = 255.0;
        }
        (t as i32) as u8
    })
}

/// A complete PGM file: header (with `scale` printed by `%g` in the comment line) followed by `pixels` as
/// given.
pub fn pgm_bytes(fpixels: usize, spixels: usize, scale: f64, pixels: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "P5\n{fpixels} {spixels}\n# pixels scaled by {}\n255\n",
        format_g(scale, 6)
    )
    .into_bytes();
    out.extend_from_slice(pixels);
    out
}

/// Write a PGM file from bytes already converted (see [`pgm_bytes`]), atomically. `scale` only goes into the
/// comment line. Errors when `pixels.len() != fpixels * spixels`.
pub fn write_pgm(
    path: &Path,
    fpixels: usize,
    spixels: usize,
    scale: f64,
    pixels: &[u8],
) -> Result<(), IoError> {
    if fpixels.checked_mul(spixels) != Some(pixels.len()) {
        return Err(IoError::invalid(
            path,
            format!(
                "{} pixel bytes for a {fpixels}x{spixels} PGM image",
                pixels.len()
            ),
        ));
    }
    write_atomic(path, &pgm_bytes(fpixels, spixels, scale, pixels))
}

/// Convert a float image with [`pgm_pixels`] and write it with [`write_pgm`]: the C program's `-pgmfile`.
/// `scale` is the final PGM scale (see [`pgm_auto_scale`]).
pub fn write_pgm_from_float(
    path: &Path,
    float_image: &[f32],
    fpixels: usize,
    spixels: usize,
    scale: f64,
    roi: &Roi,
) -> Result<(), IoError> {
    write_pgm(
        path,
        fpixels,
        spixels,
        scale,
        &pgm_pixels(float_image, fpixels, scale, roi),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_rules() {
        let f = [0.0f32, 0.99, 1.0, 2.6, 1000.0, -0.5, -1.5, f32::NAN];
        let px = pgm_pixels(&f, 4, 100.0, &Roi::full(4, 2));
        assert_eq!(px, vec![0, 99, 100, 255, 255, 206, 106, 0]);
        let px = pgm_pixels(&[1.0, -0.004, -0.01, 300.0], 4, 1.0, &Roi::full(4, 1));
        assert_eq!(px, vec![1, 0, 0, 255]);
        let px = pgm_pixels(&[-1.5], 1, 1.0, &Roi::full(1, 1));
        assert_eq!(px, vec![255]);
        let roi = Roi {
            fast_min: 1,
            fast_max: 2,
            slow_min: 0,
            slow_max: 0,
        };
        assert_eq!(
            pgm_pixels(&[1.0; 8], 4, 3.0, &roi),
            vec![0, 3, 3, 0, 0, 0, 0, 0]
        );
        let b = pgm_bytes(2, 1, 6.219815, &[1, 2]);
        assert_eq!(b, b"P5\n2 1\n# pixels scaled by 6.21981\n255\n\x01\x02");
        assert_eq!(pgm_auto_scale(0.0, 8.0, 3.0), 250.0 / 40.0);
        assert_eq!(pgm_auto_scale(0.0, 0.0, 3.0), 3.0);
        assert_eq!(pgm_auto_scale(2.0, 8.0, 3.0), 2.0);
    }

    #[test]
    fn write_checks_size() {
        let e = write_pgm(Path::new("/tmp/never.pgm"), 2, 2, 1.0, &[0; 3]).unwrap_err();
        assert!(matches!(e, IoError::InvalidInput { .. }));
    }
}
