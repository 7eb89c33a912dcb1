//! The C program's float → 16-bit conversion before it writes `-intfile`: the automatic scale
//! and the rounding of each pixel.

use crate::io::Roi;

/// The C program's automatic `-intfile` scale: `intfile_scale` itself when `> 0`; otherwise
/// `55000 / max_i` when `max_i > 0`, else 1. `max_i` is the float image maximum (photons) over the pixels the
/// C statistics cover (inside the ROI, unmasked), starting from 0.
pub fn intfile_auto_scale(intfile_scale: f64, max_i: f64) -> f64 {
    if intfile_scale <= 0.0 {
        if max_i > 0.0 {
            55000.0 / max_i
        } else {
            1.0
        }
    } else {
        intfile_scale
    }
}

/// The C program's float → `-intfile` pixel conversion. For each pixel inside `roi`:
/// `t = f64(value) * scale + adc` (in f64), clamped to `[0, 65535]`, then `floorf(t + 0.5)`: the sum
/// `t + 0.5` is computed in f64, **rounded to f32** (C passes it to `floorf`), floored, and converted to u16
/// (NaN gives 0). Pixels outside `roi` are 0. `float_image` is fast-major with `fpixels` pixels per row;
/// `scale` is the final scale (see [`intfile_auto_scale`]) and `adc` the ADC offset (C default 40).
pub fn int_image(float_image: &[f32], fpixels: usize, scale: f64, adc: f64, roi: &Roi) -> Vec<u16> {
    roi.map_inside(float_image, fpixels, |v| count(v, scale, adc, 65535.0) as u16)
}

/// [`int_image`]'s conversion into signed 32-bit counts (the `-cbffile` pixels): the same
/// rounding, clamped to `[0, i32::MAX]` instead of 65535.
pub fn int_counts(float_image: &[f32], fpixels: usize, scale: f64, adc: f64, roi: &Roi) -> Vec<i32> {
    roi.map_inside(float_image, fpixels, |v| count(v, scale, adc, i32::MAX as f64) as i32)
}

/// One pixel as the C program converts it: `floorf(f32(clamp(v·scale + adc, 0, max) + ½))`
/// (NaN stays NaN and becomes 0 in the integer cast).
fn count(v: f32, scale: f64, adc: f64, max: f64) -> f64 {
    let t = (v as f64 * scale + adc).clamp(0.0, max);
    ((t + 0.5) as f32).floor() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_image_rules() {
        let roi = Roi::full(4, 1);
        let f = [0.0f32, 1.0, 1e9, -5.0];
        assert_eq!(int_image(&f, 4, 1.0, 40.0, &roi), vec![40, 41, 65535, 35]);
        assert_eq!(
            int_image(&[f32::NAN, -100.0], 2, 1.0, 40.0, &Roi::full(2, 1)),
            vec![0, 0]
        );
        // round half up via floorf(x+0.5)
        assert_eq!(
            int_image(&[0.5, 1.5, 2.49], 3, 1.0, 0.0, &Roi::full(3, 1)),
            vec![1, 2, 2]
        );
        // f64 sum rounded to f32 before floorf: 2.4999999999 + 0.5 -> 3.0f
        assert_eq!(
            int_image(&[1.0], 1, 2.4999999999, 0.0, &Roi::full(1, 1)),
            vec![3]
        );
        // ROI (inclusive)
        let roi = Roi {
            fast_min: 1,
            fast_max: 1,
            slow_min: 1,
            slow_max: 1,
        };
        assert_eq!(
            int_image(&[1.0; 6], 3, 1.0, 0.0, &roi),
            vec![0, 0, 0, 0, 1, 0]
        );
        assert_eq!(int_image(&[1.0; 3], 0, 1.0, 0.0, &roi), vec![0, 0, 0]);
        assert_eq!(intfile_auto_scale(0.0, 127.5), 55000.0 / 127.5);
        assert_eq!(intfile_auto_scale(-1.0, 0.0), 1.0);
        assert_eq!(intfile_auto_scale(500.0, 127.5), 500.0);
    }
}
