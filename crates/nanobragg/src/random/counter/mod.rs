//! Throughput noise: Poisson deviates from a counter-based generator, drawn on the device.
//!
//! The C program's noise ([`super::noise`]) draws from one sequential `ran1` stream in scan
//! order, so it runs on one host thread and a pixel's count depends on every pixel before it.
//! Here a pixel's count is a pure function of its mean and its key — the seed, a stream (a
//! shot's index in its list) and the pixel's detector index `slow·fpixels + fast` — through
//! Philox4x32-10 ([`philox`]) and a Poisson sampler ([`poisson`]). Any thread may draw any
//! pixel: the image is the same for a seed whatever the thread count, tile size, batch
//! composition or device (up to the last bit of `exp`/`ln` in the device's math library; the
//! integer stream is identical). Selected explicitly (`-noise_rng philox`); the drop-in
//! default stays the C program's stream, byte for byte.
//!
//! On CUDA the deviates are drawn by a kernel ([`crate::kernel::RenderBackend::counter_poisson`]);
//! on other backends by the host form here, one rayon task per chunk of pixels.

pub mod philox;
pub mod poisson;

pub use poisson::{poisson_deviate, CounterKey};

use super::noise::{noise_image_from, NoiseResult};
use crate::error::{NanobraggError, Result};
use crate::kernel::RenderBackend;
use burn::tensor::Tensor;
use rayon::prelude::*;

/// The detector indices of the means a draw receives, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterPixels {
    /// Consecutive pixels from `first` (a whole image: `first = 0`).
    Run {
        /// Detector index of the first mean.
        first: u32,
    },
    /// One detector index per mean (a sparse pixel set: ROI, mask, shoeboxes).
    List(Vec<u32>),
}

impl CounterPixels {
    /// The pixels `indices`, as a run where they are consecutive. Refused when an index does
    /// not fit the generator's 32-bit pixel counter.
    pub fn of(indices: &[usize]) -> Result<Self> {
        let list = indices
            .iter()
            .map(|&p| u32::try_from(p))
            .collect::<std::result::Result<Vec<u32>, _>>()
            .map_err(|_| invalid("the detector has more than 2³² pixels"))?;
        let consecutive = list.windows(2).all(|w| w[0].checked_add(1) == Some(w[1]));
        Ok(match (consecutive, list.first()) {
            (true, Some(&first)) => CounterPixels::Run { first },
            (true, None) => CounterPixels::Run { first: 0 },
            (false, _) => CounterPixels::List(list),
        })
    }

    /// Detector index of mean `i`.
    pub fn at(&self, i: usize) -> u32 {
        match self {
            CounterPixels::Run { first } => first + i as u32,
            CounterPixels::List(list) => list[i],
        }
    }

    /// Whether `n` means fit these pixels (a list of `n`, or a run that stays inside 2³²).
    fn fits(&self, n: usize) -> bool {
        match self {
            CounterPixels::Run { first } => u64::from(*first) + n as u64 <= 1 << 32,
            CounterPixels::List(list) => list.len() == n,
        }
    }
}

fn invalid(problem: &str) -> NanobraggError {
    NanobraggError::Invalid { input: "-noise_rng philox".into(), problem: problem.into() }
}

/// Poisson deviates of `means` (photons; `[N]`, the pixels `pixels` in order) under `key`, on
/// the backend's device: its kernel where it has one, else drawn on the host and uploaded.
/// Means ≤ 0 give 0; the result is finite where the means are (see [`poisson`]).
pub fn poisson_deviates<B: RenderBackend>(
    means: Tensor<B, 1>,
    pixels: &CounterPixels,
    key: CounterKey,
) -> Result<Tensor<B, 1>> {
    let n = means.dims()[0];
    if !pixels.fits(n) {
        return Err(invalid(&format!("{n} means but the pixel list does not match them")));
    }
    crate::linalg::check_float_dtype(&means, "noise means")?;
    let device = means.device();
    if let Some(drawn) = B::counter_poisson(means.clone().into_primitive().tensor(), pixels, key) {
        return Ok(Tensor::from_primitive(burn::tensor::TensorPrimitive::Float(drawn)));
    }
    let host = poisson_deviates_host(&crate::linalg::to_vec(&means), pixels, key);
    Ok(crate::linalg::tensor(host, [n], &device))
}

/// Pixels per rayon task of [`poisson_deviates_host`].
const HOST_CHUNK: usize = 4096;

/// The host form of [`poisson_deviates`]: the same deviates, any thread count.
pub fn poisson_deviates_host(means: &[f64], pixels: &CounterPixels, key: CounterKey) -> Vec<f64> {
    let mut out = vec![0.0; means.len()];
    out.par_chunks_mut(HOST_CHUNK).zip(means.par_chunks(HOST_CHUNK)).enumerate().for_each(
        |(c, (out, means))| {
            for (j, (o, &m)) in out.iter_mut().zip(means).enumerate() {
                *o = poisson_deviate(m, key, pixels.at(c * HOST_CHUNK + j));
            }
        },
    );
    out
}

/// The noise image of a float image (photons, fast-major, `fpixels` per row) drawn from the
/// counter-based generator on `device` (on the host where the backend has no kernel for it), converted as the C program converts its deviates
/// (ADC offset, clipping at 65535 counted as overloads, pixels outside the inclusive `roi`
/// `(xmin, xmax, ymin, ymax)` left 0; see [`super::noise::poisson_noise_image`]).
pub fn counter_noise_image<B: RenderBackend>(
    float_image: &[f32],
    key: CounterKey,
    adc_offset: f64,
    roi: (usize, usize, usize, usize),
    fpixels: usize,
    device: &B::Device,
) -> Result<NoiseResult> {
    let run = CounterPixels::Run { first: 0 };
    if !run.fits(float_image.len()) {
        return Err(invalid("the detector has more than 2³² pixels"));
    }
    let deviates = if B::has_counter_poisson() {
        let means = crate::linalg::tensor::<B, 1>(
            float_image.iter().map(|&v| f64::from(v)).collect(),
            [float_image.len()],
            device,
        );
        crate::linalg::to_vec(&poisson_deviates(means, &run, key)?)
    } else {
        let means: Vec<f64> = float_image.iter().map(|&v| f64::from(v)).collect();
        poisson_deviates_host(&means, &run, key)
    };
    Ok(noise_image_from(float_image, adc_offset, roi, fpixels, |i, _| deviates[i]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_ndarray::NdArray;

    const KEY: CounterKey = CounterKey { seed: 99, stream: 0 };

    #[test]
    fn thread_count_and_chunking_do_not_change_the_deviates() {
        let means: Vec<f64> = (0..20_000).map(|i| (i % 97) as f64 * 3.3).collect();
        let pixels = CounterPixels::Run { first: 0 };
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let four = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        let a = one.install(|| poisson_deviates_host(&means, &pixels, KEY));
        let b = four.install(|| poisson_deviates_host(&means, &pixels, KEY));
        assert_eq!(a, b);
        // A part drawn on its own (a tile, a sparse set) equals the same pixels of the whole.
        let part: Vec<usize> = (5_000..5_300).chain([17, 19_999]).collect();
        let sparse = CounterPixels::of(&part).unwrap();
        let part_means: Vec<f64> = part.iter().map(|&p| means[p]).collect();
        let drawn = poisson_deviates_host(&part_means, &sparse, KEY);
        for (j, &p) in part.iter().enumerate() {
            assert_eq!(drawn[j], a[p], "pixel {p}");
        }
    }

    #[test]
    fn the_backend_route_equals_the_scalar_form() {
        let device = Default::default();
        let means: Vec<f64> = (0..500).map(|i| i as f64 * 0.7).collect();
        let t = crate::linalg::tensor::<NdArray<f64>, 1>(means.clone(), [500], &device);
        let drawn = crate::linalg::to_vec(&poisson_deviates(t, &CounterPixels::Run { first: 40 }, KEY).unwrap());
        for (i, (&d, &m)) in drawn.iter().zip(&means).enumerate() {
            assert_eq!(d, poisson_deviate(m, KEY, 40 + i as u32));
        }
    }

    #[test]
    fn runs_and_lists_are_told_apart() {
        assert_eq!(CounterPixels::of(&[3, 4, 5]).unwrap(), CounterPixels::Run { first: 3 });
        assert_eq!(CounterPixels::of(&[3, 5]).unwrap(), CounterPixels::List(vec![3, 5]));
        assert!(CounterPixels::of(&[1 << 33]).is_err());
        assert!(!CounterPixels::List(vec![1]).fits(2));
        assert!(!CounterPixels::Run { first: u32::MAX }.fits(2));
    }
}
