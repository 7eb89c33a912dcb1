//! The discrete plan of a render, fixed once from the setup and the unrotated model.

use burn::tensor::backend::Backend;

use crate::crystal::CrystalGeometry;
use crate::detector::DetectorGeometry;
use crate::error::Result;
use crate::linalg::{scalar, to_f64};
use crate::params::Params;
use crate::setup::Setup;

use super::Plan;

/// The C program's auto-selected oversampling from `3·xtalsize_max/reciprocal_pixel_size`:
/// `ceil` converted to a C `int`, and 1 where that is ≤ 0. A NaN or a value beyond the `int`
/// range converts to `INT_MIN` on x86 (e.g. `-twotheta 90`, where the recomputed distance is
/// ~1e-17 m), which the C program then turns into 1; so do we.
fn c_auto_oversample(ratio: f64) -> usize {
    let r = ratio.ceil();
    if r.is_nan() || r > i32::MAX as f64 || r < 1.0 {
        1
    } else {
        r as usize
    }
}

/// Resolve the discrete plan: N from crystal size and clamping, oversample auto-selection,
/// interpolation auto mode, steps, and the pixel list.
pub(super) fn plan<B: Backend>(setup: &Setup, params: &mut Params<B>) -> Result<Plan> {
    let mut notes = Vec::new();
    let device = params.pixel.device();
    let crystal = CrystalGeometry::new(params);
    let lengths = crystal.lengths_m();
    let mut n = setup.crystal.n_cells;
    for i in 0..3 {
        let size = setup.crystal.sample_size_m[i];
        if size > 0.0 {
            n[i] = (size / lengths[i]).ceil();
        }
        if n[i] <= 1.0 {
            n[i] = 1.0;
        }
    }
    params.n_cells = n.map(|x| scalar::<B>(x, &device));
    let det = DetectorGeometry::new(&setup.detector, params)?;
    let xtal_max = (0..3).map(|i| lengths[i] * n[i]).fold(0.0, f64::max);
    let reciprocal_pixel = setup.beam.wavelength_m * to_f64(&det.distance) / setup.detector.pixel_m;
    let recommended = c_auto_oversample(3.0 * xtal_max / reciprocal_pixel);
    let oversample = match setup.sampling.oversample {
        Some(o) => o,
        None => {
            notes.push(format!("auto-selected {recommended}-fold oversampling"));
            recommended
        }
    };
    let hkls = setup.structure.reflections;
    let interpolate = hkls > 0
        && setup
            .structure
            .interpolate
            .unwrap_or(n.iter().any(|&x| x <= 2.0));
    let det_s = &setup.detector;
    let roi = setup.sampling.roi;
    let mut pixels = Vec::new();
    for s in 0..det_s.spixels {
        for f in 0..det_s.fpixels {
            let (fi, si) = (f as i64, s as i64);
            if fi < roi[0] || fi > roi[1] || si < roi[2] || si > roi[3] {
                continue;
            }
            let idx = s * det_s.fpixels + f;
            if let Some(mask) = &setup.sampling.mask {
                if !mask[idx] {
                    continue;
                }
            }
            pixels.push(idx);
        }
    }
    let work = crate::validate::Work {
        pixels: pixels.len(),
        oversample,
        layers: setup.detector.thick_steps,
        sources: setup.beam.sources.len(),
        phi_steps: setup.crystal.phi_steps,
        domains: setup.crystal.mosaic_umats.len(),
    };
    crate::validate::check_work(&work, setup.sampling.oversample.is_none())?;
    let steps = setup.steps(oversample);
    Ok(Plan {
        work,
        oversample,
        n_cells: n,
        interpolate,
        steps,
        pixels,
        notes,
    })
}

#[cfg(test)]
mod auto_oversample_tests {
    use super::c_auto_oversample;

    #[test]
    fn values_beyond_a_c_int_select_one_fold_like_the_c_program() {
        assert_eq!(c_auto_oversample(1.2), 2);
        assert_eq!(c_auto_oversample(0.0), 1);
        assert_eq!(c_auto_oversample(3.0e8), 300_000_000);
        assert_eq!(c_auto_oversample(2.4e16), 1);
        assert_eq!(c_auto_oversample(f64::INFINITY), 1);
        assert_eq!(c_auto_oversample(f64::NAN), 1);
    }
}
