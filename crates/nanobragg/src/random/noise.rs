//! The Poisson noise image (`-noisefile`), exactly as the C program's `main()` makes it.

use super::deviates::Deviates;

/// Result of [`poisson_noise_image`].
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseResult {
    /// Detector counts, same length and fast-major order as the input (`index = slow·fpixels + fast`);
    /// pixels outside the region of interest are 0.
    pub pixels: Vec<u16>,
    /// Sum of the Poisson deviates over the region of interest, before the ADC offset and clipping
    /// (the C program prints it with `%.0f` as "... photons on noise image").
    pub photons_sum: f64,
    /// Number of pixels whose value (deviate + ADC offset) exceeded 65535 and was clipped.
    pub overloads: u64,
}

/// Convert a double to `unsigned short` the way the C program's `(unsigned short int) test` does as
/// compiled by GCC on x86-64 (`cvttsd2si` to a 32-bit integer, then the low 16 bits):
/// truncation toward zero, and negative values wrap modulo 65536 (−5.5 → 65531); NaN, ±∞ and values
/// outside the 32-bit range give 0. For 0 ≤ v < 65536 this is plain truncation.
fn c_double_to_u16(v: f64) -> u16 {
    const LIMIT: f64 = 2_147_483_648.0; // 2^31
    if !(-LIMIT..LIMIT).contains(&v) {
        0 // NaN or out of range: the "integer indefinite" value 0x8000_0000 has zero low bits
    } else {
        (v as i32) as u16
    }
}

/// The noise image from the float image, with a fresh generator: C `main()`'s noise loop.
///
/// * `float_image`: photons per pixel (the `-floatfile` image), fast-major, `fpixels` per row;
///   `spixels = float_image.len() / fpixels` full rows are processed (a trailing partial row and the
///   whole image when `fpixels == 0` are left at 0).
/// * `seed`: the stored noise seed, i.e. the **negated** `-seed` value (`-seed 123` → `-123`);
///   see [`super::Ran1::new`].
/// * `adc_offset`: added to every deviate before clipping (C default 40).
/// * `roi`: `(xmin, xmax, ymin, ymax)` in pixels, **inclusive**, x = fast and y = slow, as the C
///   program holds them after applying its defaults (`0, fpixels, 0, spixels`).
/// * `fpixels`: number of fast pixels per row.
///
/// Pixels are visited slow-then-fast over the whole image; each pixel inside the ROI draws
/// `poidev(float pixel)` (so the draw order is row by row over the ROI). The deviate (as double) is
/// added to the photon sum, then the ADC offset is added; values above 65535 are set to 65535 and
/// counted as overloads; the value is converted as `(unsigned short)` (truncation; see the private
/// conversion notes: negative values wrap modulo 65536 like the GCC-compiled C program, NaN gives 0).
pub fn poisson_noise_image(
    float_image: &[f32],
    seed: i64,
    adc_offset: f64,
    roi: (usize, usize, usize, usize),
    fpixels: usize,
) -> NoiseResult {
    poisson_noise_image_with(
        &mut Deviates::new(seed),
        float_image,
        adc_offset,
        roi,
        fpixels,
    )
}

/// [`poisson_noise_image`] drawing from existing deviate state (e.g. to reproduce the C program's
/// shared generator for a positive stored seed, see [`super::Ran1::reseed`]).
pub fn poisson_noise_image_with(
    dev: &mut Deviates,
    float_image: &[f32],
    adc_offset: f64,
    roi: (usize, usize, usize, usize),
    fpixels: usize,
) -> NoiseResult {
    noise_image_from(float_image, adc_offset, roi, fpixels, |_, photons| f64::from(dev.poidev(photons)))
}

/// The noise image from a deviate per pixel: C `main()`'s loop around the draw. `deviate(i,
/// photons)` is called for each pixel `i` (fast-major index) inside the inclusive `roi`, in scan
/// order (slow, then fast); the deviate is added to the photon sum, the ADC offset added,
/// values above 65535 clipped (and counted) and the result converted as `(unsigned short)`.
/// Shared by the C generator and the counter-based one ([`super::counter`]).
pub fn noise_image_from(
    float_image: &[f32],
    adc_offset: f64,
    roi: (usize, usize, usize, usize),
    fpixels: usize,
    mut deviate: impl FnMut(usize, f32) -> f64,
) -> NoiseResult {
    let (xmin, xmax, ymin, ymax) = roi;
    let mut pixels = vec![0u16; float_image.len()];
    let mut photons_sum = 0.0f64;
    let mut overloads = 0u64;
    if fpixels > 0 {
        for (spixel, row) in float_image.chunks_exact(fpixels).enumerate() {
            if spixel < ymin || spixel > ymax {
                continue;
            }
            let out_row = &mut pixels[spixel * fpixels..(spixel + 1) * fpixels];
            for (fpixel, (&photons, out)) in row.iter().zip(out_row.iter_mut()).enumerate() {
                if fpixel < xmin || fpixel > xmax {
                    continue;
                }
                let deviate = deviate(spixel * fpixels + fpixel, photons);
                photons_sum += deviate;
                let mut value = deviate + adc_offset;
                if value > 65535.0 {
                    value = 65535.0;
                    overloads += 1;
                }
                *out = c_double_to_u16(value);
            }
        }
    }
    NoiseResult {
        pixels,
        photons_sum,
        overloads,
    }
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // literals are the C program's %.9g / %.17g output
mod tests {
    use super::*;

    // Expected images were printed by a harness kept outside the repository
    // (/work/ref/build/harness.c; gcc 12.2, x86-64), built with
    //   gcc -O2 -w -o harness harness.c -lm
    // harness.c: `#define main nanobragg_reference_main`, `#include "nanoBragg.c"`, then runs main()'s
    // noise loop on the float values given:
    //   ./harness noise SEED ADC XMIN XMAX YMIN YMAX FPIXELS SPIXELS v0 v1 ...

    #[test]
    fn roi_overloads_and_all_poisson_branches_match_c() {
        // ./harness noise -77 40 1 4 1 2 6 4  0 0.5 3 11.9 12 50  1000 70000 2e6 -1 5 0.25
        //                                     100 65500 65494.5 1e6 2 7  9 9 9 9 9 9
        let img: [f32; 24] = [
            0.0, 0.5, 3.0, 11.9, 12.0, 50.0, //
            1000.0, 70000.0, 2e6, -1.0, 5.0, 0.25, //
            100.0, 65500.0, 65494.5, 1e6, 2.0, 7.0, //
            9.0, 9.0, 9.0, 9.0, 9.0, 9.0,
        ];
        let r = poisson_noise_image(&img, -77, 40.0, (1, 4, 1, 2), 6);
        let want: [u16; 24] = [
            0, 0, 0, 0, 0, 0, //
            0, 65535, 65535, 40, 41, 0, //
            0, 65535, 65245, 65535, 42, 0, //
            0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(r.pixels, want.to_vec());
        assert_eq!(r.photons_sum, 3201950.25);
        assert_eq!(r.overloads, 4);
        assert_eq!(format!("{:.0}", r.photons_sum), "3201950");
    }

    #[test]
    fn negative_adc_wraps_like_c() {
        // ./harness noise -5 -10.5 0 5 0 1 6 2  0 1 3 2.2 8 0  0.1 0.2 5 20 15 0
        let img: [f32; 12] = [0.0, 1.0, 3.0, 2.2, 8.0, 0.0, 0.1, 0.2, 5.0, 20.0, 15.0, 0.0];
        let r = poisson_noise_image(&img, -5, -10.5, (0, 5, 0, 1), 6);
        let want: [u16; 12] = [
            65526, 65530, 65529, 65529, 65533, 65526, 65526, 65526, 65532, 2, 2, 65526,
        ];
        assert_eq!(r.pixels, want.to_vec());
        assert_eq!(r.photons_sum, 49.0);
        assert_eq!(r.overloads, 0);
    }

    #[test]
    fn minus_one_quirk_nan_and_infinity_match_c() {
        // ./harness noise -3 0 0 3 0 1 4 2 -1 -1 4 -1  nan inf 2 -1
        let img: [f32; 8] = [-1.0, -1.0, 4.0, -1.0, f32::NAN, f32::INFINITY, 2.0, -1.0];
        let r = poisson_noise_image(&img, -3, 0.0, (0, 3, 0, 1), 4);
        assert_eq!(r.pixels, vec![101, 112, 2, 0, 0, 0, 2, 0]);
        assert!(r.photons_sum.is_nan());
        assert_eq!(r.overloads, 0);
    }

    #[test]
    fn degenerate_shapes_do_not_panic() {
        let img = [1.0f32; 7];
        assert_eq!(
            poisson_noise_image(&img, -1, 40.0, (0, 10, 0, 10), 0).pixels,
            vec![0; 7]
        );
        let r = poisson_noise_image(&img, -1, 40.0, (0, 10, 0, 10), 3);
        assert_eq!(r.pixels.len(), 7);
        assert_eq!(r.pixels[6], 0);
        let r = poisson_noise_image(&[], -1, 40.0, (0, 0, 0, 0), 4);
        assert!(r.pixels.is_empty() && r.photons_sum == 0.0 && r.overloads == 0);
        // Empty ROI (min > max): nothing drawn.
        let r = poisson_noise_image(&img, -1, 40.0, (2, 1, 0, 10), 3);
        assert_eq!(r.pixels, vec![0; 7]);
    }

    #[test]
    fn cast_semantics() {
        assert_eq!(c_double_to_u16(65535.0), 65535);
        assert_eq!(c_double_to_u16(41.999), 41);
        assert_eq!(c_double_to_u16(-0.5), 0);
        assert_eq!(c_double_to_u16(-5.5), 65531);
        assert_eq!(c_double_to_u16(-70000.3), 61072);
        assert_eq!(c_double_to_u16(-3e9), 0);
        assert_eq!(c_double_to_u16(3e9), 0);
        assert_eq!(c_double_to_u16(f64::NAN), 0);
        assert_eq!(c_double_to_u16(f64::NEG_INFINITY), 0);
    }
}
