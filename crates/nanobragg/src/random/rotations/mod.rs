//! Random rotations: mosaic-domain orientation matrices, the `-misset random` orientation, and the
//! conversion of a rotation matrix to misset angles.
//!
//! Matrices are `[f64; 9]` in row-major order, applied as `new = U · v`:
//! `new_x = u[0]·x + u[1]·y + u[2]·z`, and so on, exactly as the C program stores them.
//!
//! `mosaic.rs` draws the mosaic domains (and the rotation of one draw); `misset.rs` turns a
//! rotation matrix into misset angles and draws the `-misset random` orientation. Everything
//! public is re-exported here.

mod misset;
mod mosaic;

pub use misset::{random_misset, random_misset_line, umat2misset, RANDOM_MISSET_CAP};
pub use mosaic::{
    mosaic_axis_angle, mosaic_domain_axes, mosaic_domain_axes_with, mosaic_domains,
    mosaic_domains_with, mosaic_rotation_umat, DEFAULT_MOSAIC_SEED,
};

/// What the tests of the submodules share.
///
/// Expected values were printed (`%.17g`) by the reference C functions through a harness kept
/// outside the repository (/work/ref/build/harness.c; gcc 12.2, x86-64), built with
///   gcc -O2 -w -o harness harness.c -lm
/// harness.c: `#define main nanobragg_reference_main`, `#include "nanoBragg.c"`, then calls the
/// functions the way `main()` does.
#[cfg(test)]
mod fixtures {
    /// Assert that two row-major 3×3 matrices agree element by element to `tol`.
    pub(super) fn assert_close9(got: &[f64; 9], want: &[f64; 9], tol: f64) {
        for i in 0..9 {
            assert!(
                (got[i] - want[i]).abs() <= tol,
                "element {i}: {} vs {}",
                got[i],
                want[i]
            );
        }
    }
}
