//! PNG previews of simulated images, for people to look at (not a C program format).
//!
//! Output: 8-bit greyscale PNG, `fpixels` wide and `spixels` high, row `slow`, column `fast` (the first pixel
//! of the float image is the top-left corner). Scaling:
//! 1. each pixel value `v` (photons) is transformed: `v` itself, or `ln(1 + max(v, 0))` when
//!    [`PngPreviewOptions::log_scale`] is set;
//! 2. black = the 0th percentile (minimum) of the transformed finite values, white = their
//!    [`PngPreviewOptions::percentile`]-th percentile (nearest rank; default 99.5, so the brightest 0.5 % of
//!    pixels saturate and a few hot Bragg spots do not turn everything else black);
//! 3. `byte = round(255 * (t - black) / (white - black))`, clamped to `0..=255`. NaN pixels are black. When
//!    white <= black (e.g. a constant image), pixels above black are white and the rest black.

use std::path::Path;

use super::atomic::write_atomic;
use super::IoError;

/// Options of the PNG preview.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PngPreviewOptions {
    /// Percentile (in `(0, 100]`) of the (transformed) pixel values mapped to white. Default 99.5.
    pub percentile: f64,
    /// Map `ln(1 + max(v, 0))` instead of `v`. Default false.
    pub log_scale: bool,
}

impl Default for PngPreviewOptions {
    fn default() -> Self {
        PngPreviewOptions {
            percentile: 99.5,
            log_scale: false,
        }
    }
}

/// Encode a preview PNG of a fast-major image (`f32` or `f64` pixels) in memory. `path` is used only in error
/// messages. Errors when `image.len() != fpixels * spixels`, a dimension is 0 or exceeds `u32`, or the
/// percentile is outside `(0, 100]`.
pub fn png_preview_bytes<T: Copy + Into<f64>>(
    image: &[T],
    fpixels: usize,
    spixels: usize,
    opts: &PngPreviewOptions,
    path: &Path,
) -> Result<Vec<u8>, IoError> {
    if fpixels == 0 || spixels == 0 || fpixels > u32::MAX as usize || spixels > u32::MAX as usize {
        return Err(IoError::invalid(
            path,
            format!("cannot make a {fpixels}x{spixels} PNG"),
        ));
    }
    if fpixels.checked_mul(spixels) != Some(image.len()) {
        return Err(IoError::invalid(
            path,
            format!("{} pixels for a {fpixels}x{spixels} image", image.len()),
        ));
    }
    if !(opts.percentile > 0.0 && opts.percentile <= 100.0) {
        return Err(IoError::invalid(
            path,
            format!("percentile {} outside (0, 100]", opts.percentile),
        ));
    }
    let transform = |v: f64| {
        if opts.log_scale {
            v.max(0.0).ln_1p()
        } else {
            v
        }
    };
    let t: Vec<f64> = image.iter().map(|&v| transform(v.into())).collect();
    let mut finite: Vec<f64> = t.iter().copied().filter(|v| v.is_finite()).collect();
    finite.sort_by(f64::total_cmp);
    let (black, white) = if finite.is_empty() {
        (0.0, 0.0)
    } else {
        let n = finite.len();
        let rank = ((opts.percentile / 100.0) * n as f64).ceil() as usize;
        (finite[0], finite[rank.clamp(1, n) - 1])
    };
    let bytes: Vec<u8> = t
        .iter()
        .map(|&v| {
            if v.is_nan() {
                0
            } else if white > black {
                (255.0 * (v - black) / (white - black))
                    .round()
                    .clamp(0.0, 255.0) as u8
            } else if v > black {
                255
            } else {
                0
            }
        })
        .collect();
    let mut out = Vec::new();
    let mut enc = ::png::Encoder::new(&mut out, fpixels as u32, spixels as u32);
    enc.set_color(::png::ColorType::Grayscale);
    enc.set_depth(::png::BitDepth::Eight);
    let encoded = enc.write_header().and_then(|mut w| {
        w.write_image_data(&bytes)?;
        w.finish()
    });
    encoded.map_err(|e| IoError::invalid(path, format!("PNG encoding failed: {e}")))?;
    Ok(out)
}

/// Write a preview PNG (see [`png_preview_bytes`] and the module documentation) atomically.
pub fn write_png_preview<T: Copy + Into<f64>>(
    path: &Path,
    image: &[T],
    fpixels: usize,
    spixels: usize,
    opts: &PngPreviewOptions,
) -> Result<(), IoError> {
    let bytes = png_preview_bytes(image, fpixels, spixels, opts, path)?;
    write_atomic(path, &bytes)
}

/// Write 8-bit RGB pixels (`3·width·height` bytes, row-major from the top-left) as a PNG,
/// atomically. For pictures drawn by the caller (plots, signed residual maps).
pub fn write_rgb_png(path: &Path, rgb: &[u8], width: usize, height: usize) -> Result<(), IoError> {
    if width == 0 || height == 0 || width > u32::MAX as usize || height > u32::MAX as usize {
        return Err(IoError::invalid(path, format!("cannot make a {width}x{height} PNG")));
    }
    if rgb.len() != 3 * width * height {
        return Err(IoError::invalid(
            path,
            format!("{} bytes for a {width}x{height} RGB image", rgb.len()),
        ));
    }
    let mut out = Vec::new();
    let mut enc = ::png::Encoder::new(&mut out, width as u32, height as u32);
    enc.set_color(::png::ColorType::Rgb);
    enc.set_depth(::png::BitDepth::Eight);
    let encoded = enc.write_header().and_then(|mut w| {
        w.write_image_data(rgb)?;
        w.finish()
    });
    encoded.map_err(|e| IoError::invalid(path, format!("PNG encoding failed: {e}")))?;
    write_atomic(path, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let dec = ::png::Decoder::new(bytes);
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, ::png::ColorType::Grayscale);
        assert_eq!(info.bit_depth, ::png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn linear_percentile_scaling() {
        // 200 pixels 0..199 plus one hot pixel: 99.5th percentile (nearest rank) of 201 values is rank 200.
        let mut img: Vec<f32> = (0..200).map(|v| v as f32).collect();
        img.push(1e6);
        img.push(f32::NAN);
        img.extend([0.0f32; 4]);
        let b = png_preview_bytes(
            &img,
            2,
            103,
            &PngPreviewOptions::default(),
            Path::new("p.png"),
        )
        .unwrap();
        let (w, h, px) = decode(&b);
        assert_eq!((w, h), (2, 103));
        assert_eq!(px[0], 0);
        assert_eq!(px[199], 255);
        assert_eq!(px[200], 255);
        assert_eq!(px[201], 0);
        assert_eq!(px[100], (255.0f64 * 100.0 / 199.0).round() as u8);
    }

    #[test]
    fn log_and_constant_and_errors() {
        let img = [0.0f64, (1.0f64).exp() - 1.0, (2.0f64).exp() - 1.0, -5.0];
        let opts = PngPreviewOptions {
            percentile: 100.0,
            log_scale: true,
        };
        let (_, _, px) = decode(&png_preview_bytes(&img, 4, 1, &opts, Path::new("p.png")).unwrap());
        assert_eq!(px, vec![0, 128, 255, 0]);
        let (_, _, px) = decode(
            &png_preview_bytes(
                &[3.0f32; 4],
                2,
                2,
                &PngPreviewOptions::default(),
                Path::new("p"),
            )
            .unwrap(),
        );
        assert_eq!(px, vec![0; 4]);
        let p = Path::new("p.png");
        assert!(png_preview_bytes(&[1.0f32; 3], 2, 2, &PngPreviewOptions::default(), p).is_err());
        assert!(png_preview_bytes::<f32>(&[], 0, 0, &PngPreviewOptions::default(), p).is_err());
        let bad = PngPreviewOptions {
            percentile: 0.0,
            log_scale: false,
        };
        assert!(png_preview_bytes(&[1.0f32; 4], 2, 2, &bad, p).is_err());
        let dir = std::env::temp_dir().join(format!("nanobragg-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("x.png");
        write_png_preview(&f, &[1.0f32, 2.0], 2, 1, &PngPreviewOptions::default()).unwrap();
        assert_eq!(decode(&std::fs::read(&f).unwrap()).2, vec![0, 255]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
