//! The shots of a list hold one F grid between them, not one each: objectives built from
//! clones of one setup refine structure factors without copying the grid (the setup's grid is
//! shared, the simulator's grid tensor is dropped, each evaluation's grid leaf is temporary).
//! Its own binary: the resident set it measures is the process's.

#[path = "support/scratch.rs"]
mod scratch;

use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::gradients::ParamName::MissetX;
use nanobragg::setup::resolve_structure;
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_refine::{LossKind, Objective, Observation, ParamSpec, Variable};

type B = Autodiff<NdArray<f64>>;

#[path = "support/memory.rs"]
mod memory;
use memory::resident_bytes;

#[test]
fn objectives_cloned_from_one_setup_share_its_structure_factor_grid() {
    let dir = scratch::scratch_in_temp("nanobragg-grid-memory", "grid");
    // 64³ entries: 2.1 MB of f64 per copy of the grid.
    let mut text = String::with_capacity(64 * 64 * 64 * 16);
    for h in -32i32..32 {
        for k in -32..32 {
            for l in -32..32 {
                text.push_str(&format!("{h} {k} {l} {}\n", 50 + (h + 2 * k + 3 * l).rem_euclid(50)));
            }
        }
    }
    std::fs::write(dir.join("f.hkl"), text).unwrap();
    let args = "-hkl f.hkl -cell 48 52 56 88 91 93 -misset 12 -25 31 -N 4 -lambda 1 -distance 60 \
        -pixel 0.4 -detpixels 8 -oversample 1 -fluence 2e30";
    let scene = nanobragg_cli::parse_args(args.split_whitespace().map(String::from)).unwrap().scene;
    let structure = resolve_structure(&scene, &dir).unwrap();
    let specs = vec![
        ParamSpec::new(MissetX),
        ParamSpec::new(Variable::StructureFactor([0, 0, 1])),
        ParamSpec::new(Variable::StructureFactor([1, -2, 3])),
    ];
    let objective = || {
        let setup = Setup::from_scene_with_structure(&scene, &dir, structure.clone()).unwrap();
        let sim = Simulator::<B>::new(setup, &NdArrayDevice::Cpu, RenderOptions::default()).unwrap();
        let mut o = Objective::new(sim, specs.clone(), Observation::new(vec![1.0; 64]), LossKind::Poisson).unwrap();
        let x = o.start().to_vec();
        let (loss, grad) = o.value_and_gradient(&x).unwrap();
        assert!(loss.is_finite() && grad.iter().all(|g| g.is_finite()));
        o
    };
    let mut kept = vec![objective(), objective()];
    let before = resident_bytes();
    kept.extend((0..60).map(|_| objective()));
    let grown = resident_bytes().saturating_sub(before) as f64 / 1e6;
    // A copy of the grid values and a grid tensor per objective would be ~250 MB.
    assert!(grown < 40.0, "60 objectives over one grid hold {grown:.1} MB");
    assert_eq!(kept.len(), 62);
}
