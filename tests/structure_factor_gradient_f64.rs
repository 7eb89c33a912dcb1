//! `Simulator::loss_and_structure_factor_gradient`: ∂loss/∂F(h,k,l) over the whole grid and
//! ∂loss/∂default_F, against Richardson finite differences (the gradcheck) of single grid
//! entries, with nearest-neighbour lookup and with tricubic interpolation (f64).

mod gradient_scenes;

use std::path::PathBuf;

use burn::tensor::{DType, Tensor};
use burn_ndarray::{NdArray, NdArrayDevice};
use gradient_scenes::simulator;
use nanobragg::gradients::{Loss, ParamName};
use nanobragg::linalg::tensor;
use nanobragg::Simulator;
use nanobragg_parity::{evaluate, GradcheckConfig, ParamSet, AD};

type B = NdArray<f64>;

/// An HKL file over `[lo, hi]³` with uneven F = 50 + 20·sin(h + 2k + 3l), in a scratch folder.
fn hkl_file(tag: &str, lo: i32, hi: i32) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nanobragg-sf-grad-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("grid.hkl");
    let mut text = String::new();
    for h in lo..=hi {
        for k in lo..=hi {
            for l in lo..=hi {
                let f = 50.0 + 20.0 * ((h + 2 * k + 3 * l) as f64).sin();
                text.push_str(&format!("{h} {k} {l} {f}\n"));
            }
        }
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// A cubic 40 Å cell at λ = 1 Å, 24² pixels of 0.2 mm at 50 mm: the pixels reach |k|, |l| ≈ 2
/// along the edges and ≈ 2.8 in the corners.
fn scene(hkl: &PathBuf, interpolation: &str) -> String {
    format!(
        "-hkl {} {interpolation} -default_F 30 -cell 40 40 40 90 90 90 -misset 3 -2 1 -N 2 \
         -lambda 1 -distance 50 -pixel 0.2 -detpixels 24 -Xbeam 2.5 -Ybeam 2.3 -oversample 1",
        hkl.display()
    )
}

/// Richardson FD of the image sum with respect to grid entry `index` (or default_F), via the
/// gradcheck: the grid is the base tensor plus a one-hot times (F − F₀), so the closure stays a
/// tensor function of one scalar.
fn fd_of_entry(sim: &Simulator<AD<B>>, index: Option<usize>) -> (f64, f64) {
    let device = NdArrayDevice::Cpu;
    let base = sim.params.f_grid.clone().expect("grid");
    let n = base.dims()[0];
    let f0 = match index {
        Some(i) => base.to_data().convert::<f64>().into_vec::<f64>().unwrap()[i],
        None => nanobragg::linalg::to_f64(&sim.params.default_f),
    };
    let params = ParamSet::new().scalar("F", f0);
    let config = GradcheckConfig::new().rel_step(1e-3).abs_step(1e-3).rtol(1e-9).atol(1e-12);
    let report = evaluate::<B, 1, _>(&device, &params, &config, |p| {
        let mut pr = sim.params.clone();
        match index {
            Some(i) => {
                let mut hot = vec![0.0; n];
                hot[i] = 1.0;
                let hot: Tensor<AD<B>, 1> = tensor(hot, [n], &device);
                let base = base.clone().detach();
                pr.f_grid = Some(base + hot * (p["F"].clone() - f0));
            }
            None => pr.default_f = p["F"].clone(),
        }
        let image = sim.image_tensor_with(&pr).unwrap();
        assert_eq!(image.dtype(), DType::F64);
        image.sum()
    })
    .unwrap();
    let c = &report.components[0];
    (c.numeric, c.richardson_error)
}

/// The API's gradient for the three largest entries, one about 1 % of the largest, one untouched
/// entry and default_F, each against the FD of the image sum.
fn check(tag: &str, interpolation: &str, lo: i32, hi: i32, default_live: bool) {
    let hkl = hkl_file(tag, lo, hi);
    let args = scene(&hkl, interpolation);
    let mut sim = simulator::<AD<B>>(&args, &NdArrayDevice::Cpu);
    sim.options.tile_pixels = Some(100); // several tiles, the last one partial
    let (result, sf) = sim.loss_and_structure_factor_gradient(&Loss::Sum, &[ParamName::NA]).unwrap();
    assert_eq!(result.gradients.len(), 1, "only the requested parameter comes back");
    let c = sf.extent.counts();
    assert_eq!(sf.grid.len(), (c[0] * c[1] * c[2]) as usize);
    assert!(sf.grid.iter().all(|g| g.is_finite()));
    assert_eq!(sf.at(lo as i64 - 1, 0, 0), None);
    assert_eq!(sf.index(lo as i64, lo as i64, lo as i64 + 1), Some(1));

    let mut order: Vec<usize> = (0..sf.grid.len()).collect();
    order.sort_by(|&a, &b| sf.grid[b].abs().total_cmp(&sf.grid[a].abs()));
    let live = order.iter().take_while(|&&i| sf.grid[i] != 0.0).count();
    assert!(live >= 4, "{tag}: only {live} grid entries reach the image");
    let mut picks: Vec<Option<usize>> = order[..3].iter().map(|&i| Some(i)).collect();
    // One about a hundred times smaller than the largest (well above the FD's noise floor).
    let max = sf.grid[order[0]].abs();
    let small = order[..live].iter().min_by(|&&a, &&b| {
        (sf.grid[a].abs() - 1e-2 * max).abs().total_cmp(&(sf.grid[b].abs() - 1e-2 * max).abs())
    });
    picks.push(small.copied());
    if live < order.len() {
        picks.push(Some(order[live])); // an entry no pixel uses
    }
    picks.push(None); // default_F
    let fresh = simulator::<AD<B>>(&args, &NdArrayDevice::Cpu);
    for pick in picks {
        let api = pick.map_or(sf.default_f, |i| sf.grid[i]);
        let (fd, est) = fd_of_entry(&fresh, pick);
        let what = format!("{tag}: entry {pick:?}");
        println!("{what}: api {api:+.12e} FD {fd:+.12e} (± {est:.1e})");
        if fd == 0.0 {
            assert_eq!(api, 0.0, "{what}");
        } else {
            let rel = (api - fd).abs() / fd.abs();
            assert!(rel <= 1e-8, "{what}: api {api:e} vs FD {fd:e} (rel {rel:.2e})");
        }
        if pick.is_none() {
            assert_eq!(fd != 0.0, default_live, "{what}: default_F live?");
        }
    }
    std::fs::remove_dir_all(hkl.parent().unwrap()).ok();
}

/// Nearest-neighbour lookup on a grid [−1, 1]³ smaller than the indices reached: pixels with
/// |k| or |l| ≥ 1.5 take default_F, so its gradient is live too.
#[test]
fn grid_gradient_matches_finite_differences_with_nearest_lookup() {
    check("nearest", "-nointerpolate", -1, 1, true);
}

/// Tricubic interpolation on a grid [−5, 5]³ wide enough that no 4×4×4 window leaves it (the
/// pixels reach |k|, |l| ≈ 2.8 at the corners): default_F is unused (gradient 0), which also
/// shows that the interpolation never fell back to nearest lookup.
#[test]
fn grid_gradient_matches_finite_differences_with_tricubic_interpolation() {
    check("tricubic", "-interpolate", -5, 5, false);
}
