//! The noise image (`-noisefile`): the C program's `ran1` stream on the host (default,
//! byte-identical), or with `-noise_rng philox` the counter-based generator drawn on the
//! render's device ([`nanobragg::random::counter`]), keyed by `-seed` and the shot's index.

use std::path::{Path, PathBuf};

use nanobragg::io::Roi;
use nanobragg::kernel::RenderBackend;
use nanobragg::random::counter::{counter_noise_image, CounterKey};
use nanobragg::random::noise::NoiseResult;
use nanobragg::scene::{IoScene, NoiseRng};

use crate::run::{Failure, Rendered};

/// `roi` as the noise loop's inclusive `(xmin, xmax, ymin, ymax)`.
fn bounds(roi: &Roi) -> (usize, usize, usize, usize) {
    (roi.fast_min, roi.fast_max, roi.slow_min, roi.slow_max)
}

/// The seed `-seed` names, or the clock's (C: `-seed` default).
fn seed(io: &IoScene) -> i64 {
    io.seed.unwrap_or_else(nanobragg::setup::time_seed)
}

/// With `-noise_rng philox` and noise on: the noise image of `image` (photons, fast-major)
/// drawn on `device`, stream `stream`; `None` otherwise (the C stream runs at write time).
pub fn counter_noise<B: RenderBackend>(
    io: &IoScene,
    image: &[f32],
    fpixels: usize,
    roi: &Roi,
    stream: u32,
    device: &B::Device,
) -> Result<Option<NoiseResult>, String> {
    if io.nonoise || io.noise_rng != NoiseRng::Philox {
        return Ok(None);
    }
    // One reading of the clock: the seed printed is the seed drawn with.
    let seed = seed(io);
    let key = CounterKey { seed: seed as u64, stream };
    say!("noise: philox seed {seed} stream {stream}");
    let adc = io.adc_offset.unwrap_or(crate::outputs::DEFAULT_ADC);
    counter_noise_image::<B>(image, key, adc, bounds(roi), fpixels, device)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Write the noise image: the counter-drawn one of the render where there is one, else the C
/// program's stream from the float image.
pub fn write_noise(io: &IoScene, r: &Rendered, roi: &Roi, adc: f64) -> Result<(), Failure> {
    let noise = match &r.counter_noise {
        Some(n) => n.clone(),
        None => nanobragg::random::noise::poisson_noise_image(&r.image.data, -seed(io), adc, bounds(roi), r.image.fpixels),
    };
    say!("{:.0} photons on noise image ({} overloads)", noise.photons_sum, noise.overloads);
    let path: PathBuf = io.noisefile.clone().unwrap_or_else(|| Path::new("noiseimage.img").to_path_buf());
    say!("writing {} as 2-byte integers", path.display());
    nanobragg::io::smv::write_smv(&path, &r.header, &noise.pixels)
        .map_err(|e| Failure::Runtime(format!("-noisefile: {e}")))
}
