//! F of one lattice term in the CUDA kernels: the nearest entry of the HKL grid (θ's last
//! entries, [`Layout::grid_at`](crate::kernel::Layout::grid_at)) or `default_F` outside it —
//! the rule of [`crate::physics::structure_factor::grid_entry`] (nearest index `⌈x − ½⌉`, the
//! C program's rounding), on the grid's first indices and counts in the constants
//! ([`C_GRID`]), which hold exact integers at f32 and f64 alike.

use super::C_GRID;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// The grid entry nearest to the fractional indices `(h, k, l)`: `(inside, flat)`, `flat` the
/// entry's offset from the grid's first entry (h slowest, l fastest), 0 when outside.
#[cube]
pub(super) fn grid_entry<F: Float>(consts: &Array<F>, h: F, k: F, l: F) -> (bool, usize) {
    let half = F::new(0.5);
    let zero = F::new(0.0);
    let ih = F::ceil(h - half) - consts[C_GRID];
    let ik = F::ceil(k - half) - consts[C_GRID + 1];
    let il = F::ceil(l - half) - consts[C_GRID + 2];
    let nh = consts[C_GRID + 3];
    let nk = consts[C_GRID + 4];
    let nl = consts[C_GRID + 5];
    // NaN indices fail every comparison: outside.
    let inside = ih >= zero && ih < nh && ik >= zero && ik < nk && il >= zero && il < nl;
    let mut flat = 0usize;
    if inside {
        flat = (usize::cast_from(ih) * usize::cast_from(nk) + usize::cast_from(ik)) * usize::cast_from(nl)
            + usize::cast_from(il);
    }
    (inside, flat)
}

/// F of the term at `(h, k, l)` and the grid entry it came from (`(F, inside, flat)`, see
/// [`grid_entry`]): the entry's value from θ (`grid_at` its first grid entry) inside the grid,
/// `default_f` outside.
#[cube]
pub(super) fn structure_factor<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    h: F,
    k: F,
    l: F,
    default_f: F,
    #[comptime] grid_at: usize,
) -> (F, bool, usize) {
    let (inside, flat) = grid_entry::<F>(consts, h, k, l);
    let mut f = default_f;
    if inside {
        f = theta[grid_at + flat];
    }
    (f, inside, flat)
}
