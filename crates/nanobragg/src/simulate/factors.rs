//! Lattice and structure factors of the evaluations' Miller indices.

use burn::tensor::{Bool, ElementConversion, Int, Tensor};

use crate::kernel::RenderBackend;
use crate::params::Params;
use crate::physics::lattice::{self, nearest_index, LatticeTensors};
use crate::physics::structure_factor::{nearest, tricubic, GridExtent};

use super::{Model, ScanState, Simulator};

impl<B: RenderBackend> Simulator<B> {
    /// F_latt of every evaluation ([`crate::physics::lattice`]).
    pub(super) fn lattice_factor(
        &self,
        m: &Model<B>,
        h: &Tensor<B, 2>,
        k: &Tensor<B, 2>,
        l: &Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        let inputs = LatticeTensors {
            hkl: [h, k, l],
            n: &m.n_cells,
            n_value: self.plan.n_cells,
            reciprocal: &m.crystal.reciprocal,
            fudge: self.setup.crystal.fudge,
        };
        lattice::tensor(self.setup.crystal.shape, &inputs)
    }

    /// F_cell for every evaluation: nearest neighbour, or tricubic while the scan state still
    /// allows it. The first evaluation (in loop order, among those that run) whose 4×4×4 window
    /// leaves the grid takes default_F and switches interpolation off for the rest of the scan.
    pub(super) fn structure_factor(
        &self,
        p: &Params<B>,
        hkl: [&Tensor<B, 2>; 3],
        active: &Tensor<B, 1, Bool>,
        runs_f_latt: Option<Tensor<B, 2, Bool>>,
        state: &mut ScanState,
    ) -> Tensor<B, 2> {
        let grid = self.setup.structure.grid.as_ref();
        let extent = grid.map(|g| GridExtent {
            min: [g.h_min as i64, g.k_min as i64, g.l_min as i64],
            max: [g.h_max as i64, g.k_max as i64, g.l_max as i64],
        });
        let lookup = match (p.f_grid.as_ref(), extent) {
            (Some(v), Some(e)) => Some((v, e)),
            _ => None,
        };
        let hkl0 = hkl.map(|x| nearest_index(x.clone()));
        let near = nearest(hkl0.clone(), lookup, &p.default_f);
        let (Some((values, extent)), true) = (lookup, state.interpolate) else {
            return near;
        };
        let (interp, outside) = tricubic(hkl, values, extent);
        let [e, k] = near.dims();
        let device = near.device();
        let mut runs = active.clone().reshape([e, 1]).expand([e, k]);
        if let Some(r) = runs_f_latt {
            runs = runs.bool_and(r);
        }
        let hits = outside.bool_and(runs);
        let order = Tensor::<B, 1, Int>::arange(0..(e * k) as i64, &device).reshape([e, k]);
        let big = (e * k) as i64;
        let first = order.clone().mask_fill(hits.bool_not(), big).min().into_scalar().elem::<i64>();
        if first >= big {
            return interp;
        }
        state.interpolate = false;
        let at = |t: &Tensor<B, 2>| {
            let v = t.clone().reshape([e * k]).narrow(0, first as usize, 1);
            crate::linalg::to_f64(&v)
        };
        let (hf, kf, lf) = (at(hkl[0]), at(hkl[1]), at(hkl[2]));
        let (h0, k0, l0) = (at(&hkl0[0]), at(&hkl0[1]), at(&hkl0[2]));
        use crate::io::cfmt::format_g;
        state.notes.push(format!(
            "WARNING: out of range for three point interpolation: h,k,l,h0,k0,l0: {},{},{},{},{},{} ",
            format_g(hf, 6), format_g(kf, 6), format_g(lf, 6), h0 as i64, k0 as i64, l0 as i64
        ));
        state.notes.push("WARNING: further warnings will not be printed! ".into());
        let before = order.clone().lower_elem(first);
        let at_first = order.equal_elem(first);
        let default = p.default_f.clone().reshape([1, 1]).expand([e, k]);
        near.mask_where(before, interp).mask_where(at_first, default)
    }
}
