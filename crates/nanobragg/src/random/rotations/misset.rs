//! Rotation matrix → misset angles (C `umat2misset`) and the `-misset random` orientation.

use super::mosaic::mosaic_rotation_umat;
use crate::random::ran1::Ran1;
use crate::units::RTD;

/// The spherical-cap parameter `main()` passes for `-misset random`: the literal `90.0`, which the
/// rotation function interprets **in radians** (not degrees). The rotation angle is therefore
/// `90 · (1 − r²)^(1/3)` radians, i.e. up to ~14 full turns; the orientation is still random, but not
/// the "90° cap" the C comments describe. Reproduced as is.
pub const RANDOM_MISSET_CAP: f64 = 90.0;

fn norm(v: [f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

/// Divide by the length if it is positive (NaN lengths leave the vector unchanged, as in C).
fn scale_down(v: &mut [f64; 3], len: f64) {
    if len > 0.0 {
        v.iter_mut().for_each(|c| *c /= len);
    }
}

fn unit_cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    let mut c = [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ];
    let len = norm(c);
    scale_down(&mut c, len);
    c
}

/// Misset angles `[rotx, roty, rotz]` in **radians** of a rotation matrix (row-major, `new = U·v`),
/// C `umat2misset`; the C program prints them multiplied by `180/π`.
///
/// The rows are normalised; rows of zero length are replaced (two or three zero rows: by identity
/// rows; one: by the normalised cross product of the other two), the rows are normalised again, and
/// then, with `z = (uzx, uzy, uzz)` the last row:
/// * if `uzx² < 1`: `rotx = atan2(uzy, uzz)`, `roty = atan2(−uzx, sqrt(uzy²+uzz²))`,
///   `rotz = atan2(uyx, uxx)`;
/// * otherwise (gimbal lock): `rotx = π`, `roty = π/2` (even for `uzx = −1`, a C quirk),
///   `rotz = atan2(uxy, −uyy)`.
///
/// Never panics. NaN entries propagate as in C: e.g. an all-NaN matrix takes the gimbal-lock branch
/// (`uzx² < 1` is false) and gives `[π, π/2, NaN]`.
pub fn umat2misset(umat: &[f64; 9]) -> [f64; 3] {
    let mut rows = [
        [umat[0], umat[1], umat[2]],
        [umat[3], umat[4], umat[5]],
        [umat[6], umat[7], umat[8]],
    ];
    let lengths = normalize_rows(&mut rows);
    replace_empty_rows(&mut rows, lengths);
    normalize_rows(&mut rows);
    angles_of(rows)
}

/// Divide each row by its length (see [`scale_down`]); returns the lengths before the division.
fn normalize_rows(rows: &mut [[f64; 3]; 3]) -> [f64; 3] {
    let lengths = rows.map(norm);
    for (row, &len) in rows.iter_mut().zip(&lengths) {
        scale_down(row, len);
    }
    lengths
}

/// The C program's repair of rows whose original length (`lengths`) is not positive.
fn replace_empty_rows(rows: &mut [[f64; 3]; 3], lengths: [f64; 3]) {
    let [mx, my, mz] = lengths;
    let [x, y, z] = rows;

    // Two or more empty rows: fill all but one with identity rows (the checks run in this order and
    // use the original lengths, so three empty rows become the identity).
    if mx >= 0.0 && my <= 0.0 && mz <= 0.0 {
        *y = [0.0, 1.0, 0.0];
        *z = [0.0, 0.0, 1.0];
    }
    if mx <= 0.0 && my >= 0.0 && mz <= 0.0 {
        *x = [1.0, 0.0, 0.0];
        *z = [0.0, 0.0, 1.0];
    }
    if mx <= 0.0 && my <= 0.0 && mz >= 0.0 {
        *x = [1.0, 0.0, 0.0];
        *y = [0.0, 1.0, 0.0];
    }

    // An empty row becomes the cross product of the other two; done twice, each time with all three
    // cross products taken before any substitution.
    for _ in 0..2 {
        let xcy = unit_cross(*x, *y);
        let ycz = unit_cross(*y, *z);
        let zcx = unit_cross(*z, *x);
        if mx <= 0.0 {
            *x = ycz;
        }
        if my <= 0.0 {
            *y = zcx;
        }
        if mz <= 0.0 {
            *z = xcy;
        }
    }
}

/// The angles of normalised rows `x, y, z` (see [`umat2misset`]: the regular case and the gimbal
/// lock).
fn angles_of([x, y, z]: [[f64; 3]; 3]) -> [f64; 3] {
    let [uxx, uxy, _] = x;
    let [uyx, uyy, _] = y;
    let [uzx, uzy, uzz] = z;
    if uzx * uzx < 1.0 {
        [
            uzy.atan2(uzz),
            (-uzx).atan2((uzy * uzy + uzz * uzz).sqrt()),
            uyx.atan2(uxx),
        ]
    } else {
        let quarter_pi = 1.0f64.atan2(1.0);
        [quarter_pi * 4.0, quarter_pi * 2.0, uxy.atan2(-uyy)]
    }
}

/// The `-misset random` orientation as `main()` computes it: one [`mosaic_rotation_umat`] draw with
/// cap [`RANDOM_MISSET_CAP`] (90.0 **radians**, see there) from a fresh stream `seed`, then
/// [`umat2misset`].
///
/// `seed` is the stored (negative) misset seed: `-misset_seed 12345` → `-12345`. Note the C default
/// is *not* `-seed`: the misset seed is initialised from the time-based default before the
/// command line is read, so without `-misset_seed` it is time-dependent even when `-seed` is given.
///
/// Returns the matrix and the angles `[rotx, roty, rotz]` in **radians**. `main()` prints the angles
/// in degrees (`%f`) as "random orientation misset angles" and then applies the orientation through
/// these angles (as an ordinary `-misset`), not through the matrix.
pub fn random_misset(seed: i64) -> ([f64; 9], [f64; 3]) {
    let umat = mosaic_rotation_umat(RANDOM_MISSET_CAP, &mut Ran1::new(seed));
    let angles = umat2misset(&umat);
    (umat, angles)
}

/// The line `main()` prints for `-misset random`: the [`random_misset`] angles (rad) in degrees,
/// `%f` each.
pub fn random_misset_line(angles: [f64; 3]) -> String {
    let [x, y, z] = angles.map(|a| a * RTD);
    format!("random orientation misset angles: {x:.6} {y:.6} {z:.6} deg")
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // literals are the C program's %.9g / %.17g output
mod tests {
    use super::*;
    use super::super::fixtures::assert_close9;
    use super::super::mosaic::mosaic_domains;

    // Expected values: see `super::super::fixtures` (printed by the reference C functions).

    #[test]
    fn random_misset_matches_c() {
        // ./harness misset -12345   (mosaic_rotation_umat(90.0, umat, &seed); umat2misset)
        // C printed: "random orientation misset angles: 105.720755 -34.951318 -97.823571 deg",
        // identical to golden case at024_random_misset_12345 (-misset random -misset_seed 12345).
        let (umat, angles) = random_misset(-12345);
        assert_eq!(
            umat,
            [
                -0.11157185802898434,
                -0.19336190353327237,
                -0.9747629941467566,
                -0.81200982706876235,
                0.58320038697461762,
                -0.022745315482872119,
                0.57288023289315815,
                0.78897939320025712,
                -0.22208051662771988
            ]
        );
        assert_eq!(
            angles,
            [
                1.8451752577429177,
                -0.61001558335036155,
                -1.7073434076993237
            ]
        );
        assert_eq!(
            random_misset_line(angles),
            "random orientation misset angles: 105.720755 -34.951318 -97.823571 deg"
        );

        // ./harness misset -1
        let (umat, angles) = random_misset(-1);
        assert_eq!(
            umat,
            [
                0.9327774194498154,
                -0.31764665564308092,
                -0.17037279102987399,
                0.29629849875686243,
                0.94486523544206824,
                -0.13941623466237568,
                0.20526442799221875,
                0.079563113386612414,
                0.9754671832456776
            ]
        );
        assert_eq!(
            angles,
            [
                0.081383955370810321,
                -0.20673388068880616,
                0.30757148560872183
            ]
        );
    }

    #[test]
    fn umat2misset_matches_c_including_degenerate_inputs() {
        // ./harness u2m <9 numbers>, compared bit for bit (signs of zero included)
        let pi = std::f64::consts::PI;
        let half_pi = std::f64::consts::FRAC_PI_2;
        let quarter_pi = std::f64::consts::FRAC_PI_4; // C printed 0.78539816339744828
        let cases: [([f64; 9], [f64; 3]); 12] = [
            ([0.0; 9], [0.0, -0.0, 0.0]),
            ([0., 0., 0., 0., 1., 0., 0., 0., 1.], [0.0, -0.0, 0.0]),
            ([1., 0., 0., 0., 0., 0., 0., 0., 1.], [0.0, -0.0, 0.0]),
            ([1., 0., 0., 0., 1., 0., 0., 0., 0.], [0.0, -0.0, 0.0]),
            ([2., 0., 0., 0., 0., 0., 0., 0., 0.], [0.0, -0.0, 0.0]),
            ([0., 0., 0., 0., 0., 0., 0., 0., 3.], [0.0, -0.0, 0.0]),
            ([0., 0., -1., 0., 1., 0., 1., 0., 0.], [pi, half_pi, pi]),
            (
                [0., 1., 0., -1., 0., 0., 0., 0., 0.],
                [-0.0, -0.0, -half_pi],
            ),
            ([0., 0., 1., 0., 1., 0., -1., 0., 0.], [pi, half_pi, pi]),
            (
                [2., 0.1, 0.3, -0.2, 3., 0.5, 0.1, -0.4, 5.],
                [
                    -0.079829985712237317,
                    -0.019933664930468907,
                    -0.066335558875776204,
                ],
            ),
            ([0.5; 9], [quarter_pi, -0.61547970867038737, quarter_pi]),
            (
                [1., 2., 3., 4., 5., 6., 7., 8., 9.],
                [
                    0.72664234068172562,
                    -0.52656972939037883,
                    1.0405097987661243,
                ],
            ),
        ];
        for (m, want) in cases {
            let got = umat2misset(&m);
            let bits = |a: [f64; 3]| a.map(f64::to_bits);
            assert_eq!(bits(got), bits(want), "{m:?}: {got:?} vs {want:?}");
        }
        // ./harness u2m nan nan nan nan nan nan nan nan nan  -> pi, pi/2, nan
        let m = umat2misset(&[f64::NAN; 9]);
        assert_eq!((m[0], m[1]), (pi, half_pi));
        assert!(m[2].is_nan());
        // ./harness u2m 1 0 0 0 1 0 0 0 nan  -> nan, nan, 0
        let m = umat2misset(&[1., 0., 0., 0., 1., 0., 0., 0., f64::NAN]);
        assert!(m[0].is_nan() && m[1].is_nan());
        assert_eq!(m[2].to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn umat2misset_inverts_small_mosaic_rotations() {
        // Round trip through the misset convention R = Rz·Ry·Rx (applied as new = U·v).
        for u in mosaic_domains(0.2, 20, -77).iter().skip(1) {
            let [rx, ry, rz] = umat2misset(u);
            let (sx, cx, sy, cy, sz, cz) =
                (rx.sin(), rx.cos(), ry.sin(), ry.cos(), rz.sin(), rz.cos());
            let r = [
                cy * cz,
                cz * sy * sx - sz * cx,
                cz * sy * cx + sz * sx,
                cy * sz,
                sz * sy * sx + cz * cx,
                sz * sy * cx - cz * sx,
                -sy,
                cy * sx,
                cy * cx,
            ];
            assert_close9(&r, u, 1e-12);
        }
    }
}
