//! Random rotations: mosaic-domain orientation matrices, the `-misset random` orientation, and the
//! conversion of a rotation matrix to misset angles.
//!
//! Matrices are `[f64; 9]` in row-major order, applied as `new = U · v`:
//! `new_x = u[0]·x + u[1]·y + u[2]·z`, and so on, exactly as the C program stores them.

use super::ran1::Ran1;

/// The C program's default mosaic seed (the stored, negative value; `-mosaic_seed N` stores `-N`).
pub const DEFAULT_MOSAIC_SEED: i64 = -12_345_678;

/// The spherical-cap parameter `main()` passes for `-misset random`: the literal `90.0`, which the
/// rotation function interprets **in radians** (not degrees). The rotation angle is therefore
/// `90 · (1 − r²)^(1/3)` radians, i.e. up to ~14 full turns; the orientation is still random, but not
/// the "90° cap" the C comments describe. Reproduced as is.
pub const RANDOM_MISSET_CAP: f64 = 90.0;

/// One random rotation on a spherical cap, C `mosaic_rotation_umat`.
///
/// `mosaicity_rad` is the cap parameter in **radians** (the C program passes the `-mosaic` spread in
/// degrees converted to radians). As in C it is first rounded to `f32`.
///
/// Draws three uniforms `r1, r2, r3` mapped to [−1, 1] (in double). The axis is
/// `(sqrt(1−r2²)·sin(π r1), sqrt(1−r2²)·cos(π r1), r2)` and the angle is
/// `mosaicity · (1 − r3²)^(1/3)`, evaluated in `f32` (`powf`) as C does. The returned matrix is the
/// axis–angle (Rodrigues) rotation, row-major, applied as `new = U·v`.
pub fn mosaic_rotation_umat(mosaicity_rad: f64, rng: &mut Ran1) -> [f64; 9] {
    let (axis, angle) = mosaic_axis_angle(mosaicity_rad, rng);
    rodrigues(axis, angle)
}

/// The axis (unit vector) and angle (rad) of one [`mosaic_rotation_umat`] draw, with the angle
/// exactly as the C program computes it (`f32` spread times an `f32` `powf`).
pub fn mosaic_axis_angle(mosaicity_rad: f64, rng: &mut Ran1) -> ([f64; 3], f64) {
    let mosaicity = mosaicity_rad as f32;
    let r1 = 2.0 * f64::from(rng.next_f32()) - 1.0;
    let r2 = 2.0 * f64::from(rng.next_f32()) - 1.0;
    let r3 = 2.0 * f64::from(rng.next_f32()) - 1.0;

    let xyrad = (1.0 - r2 * r2).sqrt();
    let third = (1.0f64 / 3.0) as f32;
    let angle = f64::from(mosaicity * ((1.0 - r3 * r3) as f32).powf(third));

    let (sin_phi, cos_phi) = (std::f64::consts::PI * r1).sin_cos();
    ([xyrad * sin_phi, xyrad * cos_phi, r2], angle)
}

/// Axes and angles of the mosaic domains as `main()` draws them (see [`mosaic_domains`]); domain 0
/// is the identity (angle 0). Lets a differentiable renderer rebuild the matrices from the spread.
pub fn mosaic_domain_axes(spread_rad: f64, n_domains: usize, seed: i64) -> Vec<([f64; 3], f64)> {
    mosaic_domain_axes_with(spread_rad, n_domains, &mut Ran1::new(seed))
}

/// [`mosaic_domain_axes`] drawing from an existing stream.
pub fn mosaic_domain_axes_with(
    spread_rad: f64,
    n_domains: usize,
    rng: &mut Ran1,
) -> Vec<([f64; 3], f64)> {
    let mut domains: Vec<([f64; 3], f64)> = (0..n_domains)
        .map(|_| mosaic_axis_angle(spread_rad, rng))
        .collect();
    if let Some(first) = domains.first_mut() {
        *first = ([0.0, 0.0, 1.0], 0.0);
    }
    domains
}

/// Rotation by `angle` (radians) about the unit vector `axis`:
/// `U = cos·I + (1−cos)·a aᵀ + sin·[a]ₓ`, with the products grouped as the C program groups them so
/// that the result is bit-identical.
fn rodrigues(axis: [f64; 3], angle: f64) -> [f64; 9] {
    let [ax, ay, az] = axis;
    let c = angle.cos();
    let s = angle.sin();
    let omc = 1.0 - c;
    let omc_x = omc * ax;
    let omc_y = omc * ay;
    let xy = omc_x * ay;
    let xz = omc_x * az;
    let yz = omc_y * az;
    [
        c + omc * (ax * ax),
        xy - s * az,
        xz + s * ay,
        xy + s * az,
        c + omc * (ay * ay),
        yz - s * ax,
        xz - s * ay,
        yz + s * ax,
        c + omc * (az * az),
    ]
}

/// The mosaic domains exactly as `main()` builds them: one [`mosaic_rotation_umat`] draw per domain
/// (domain 0 included, three uniforms each), after which domain 0 is replaced by the identity.
///
/// * `spread_rad`: mosaic spread in **radians** (the C program converts `-mosaic` degrees with
///   `deg / (180/π)`).
/// * `n_domains`: number of domains (`main()` always has at least 1; 0 returns an empty vector).
/// * `seed`: the stored (negative) seed, default [`DEFAULT_MOSAIC_SEED`]; see [`Ran1::new`].
///
/// Note that `main()` makes these draws even for a zero spread (then every matrix is the identity).
pub fn mosaic_domains(spread_rad: f64, n_domains: usize, seed: i64) -> Vec<[f64; 9]> {
    mosaic_domains_with(spread_rad, n_domains, &mut Ran1::new(seed))
}

/// [`mosaic_domains`] drawing from an existing stream (for reproducing the C program's shared
/// generator state, see [`Ran1::reseed`]).
pub fn mosaic_domains_with(spread_rad: f64, n_domains: usize, rng: &mut Ran1) -> Vec<[f64; 9]> {
    // Domain 0's (axis, 0) gives exactly the identity matrix.
    mosaic_domain_axes_with(spread_rad, n_domains, rng)
        .into_iter()
        .map(|(axis, angle)| rodrigues(axis, angle))
        .collect()
}

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
    let mut x = [umat[0], umat[1], umat[2]];
    let mut y = [umat[3], umat[4], umat[5]];
    let mut z = [umat[6], umat[7], umat[8]];

    let (mx, my, mz) = (norm(x), norm(y), norm(z));
    scale_down(&mut x, mx);
    scale_down(&mut y, my);
    scale_down(&mut z, mz);

    // Two or more empty rows: fill all but one with identity rows (the checks run in this order and
    // use the original lengths, so three empty rows become the identity).
    if mx >= 0.0 && my <= 0.0 && mz <= 0.0 {
        y = [0.0, 1.0, 0.0];
        z = [0.0, 0.0, 1.0];
    }
    if mx <= 0.0 && my >= 0.0 && mz <= 0.0 {
        x = [1.0, 0.0, 0.0];
        z = [0.0, 0.0, 1.0];
    }
    if mx <= 0.0 && my <= 0.0 && mz >= 0.0 {
        x = [1.0, 0.0, 0.0];
        y = [0.0, 1.0, 0.0];
    }

    // An empty row becomes the cross product of the other two; done twice, each time with all three
    // cross products taken before any substitution.
    for _ in 0..2 {
        let xcy = unit_cross(x, y);
        let ycz = unit_cross(y, z);
        let zcx = unit_cross(z, x);
        if mx <= 0.0 {
            x = ycz;
        }
        if my <= 0.0 {
            y = zcx;
        }
        if mz <= 0.0 {
            z = xcy;
        }
    }

    let (nx, ny, nz) = (norm(x), norm(y), norm(z));
    scale_down(&mut x, nx);
    scale_down(&mut y, ny);
    scale_down(&mut z, nz);

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

#[cfg(test)]
#[allow(clippy::excessive_precision)] // literals are the C program's %.9g / %.17g output
mod tests {
    use super::*;

    // Expected values were printed (`%.17g`) by the reference C functions through a harness kept
    // outside the repository (/work/ref/build/harness.c; gcc 12.2, x86-64), built with
    //   gcc -O2 -w -o harness harness.c -lm
    // harness.c: `#define main nanobragg_reference_main`, `#include "nanoBragg.c"`, then calls the
    // functions the way `main()` does.

    /// Degrees to radians the way the C program converts `-mosaic` (`deg / RTD`, `RTD = 180·(1/π)`).
    fn c_deg2rad(deg: f64) -> f64 {
        deg / (180.0 * std::f64::consts::FRAC_1_PI)
    }

    /// `./harness mosaic 0.5 10 -12345678`: spread = atof("0.5")/RTD, 10 domains, default mosaic seed,
    /// one `mosaic_rotation_umat(spread, ...)` per domain, domain 0 then set to the identity.
    const C_MOSAIC_05_10_DEFAULT_SEED: [[f64; 9]; 10] = [
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        [
            0.99996592089784464,
            -0.0079751680914580177,
            0.0021339486494309119,
            0.0079761872189555976,
            0.99996807949662869,
            -0.0004694946988297568,
            -0.0021301362335746331,
            0.00048649947281547405,
            0.99999761291609557,
        ],
        [
            0.9999914359922164,
            0.0028416441030047652,
            0.0030088205358383916,
            -0.0028584857919053165,
            0.99998018943075295,
            0.0056080125724695118,
            -0.0029928249535347059,
            -0.0056165652161582636,
            0.99997974839192127,
        ],
        [
            0.99997328100466476,
            -0.00099578238670063046,
            0.0072419399475676565,
            0.0010300984016003182,
            0.99998825298719207,
            -0.0047363260979907647,
            -0.0072371385263002878,
            0.0047436594588803225,
            0.99996256005957007,
        ],
        [
            0.99996509119611998,
            -0.0016282258045581355,
            0.0081954420176585819,
            0.0016459680557773309,
            0.99999631558174207,
            -0.0021586134670812376,
            -0.0081918971120732067,
            0.0021720275482311219,
            0.99996408691414251,
        ],
        [
            0.99998589524135251,
            0.0037957612205673482,
            -0.0037150390451717204,
            -0.0038023927620379969,
            0.99999118734089121,
            -0.0017796207005509295,
            0.0037082512905565589,
            0.0017937216370065348,
            0.99999151568153566,
        ],
        [
            0.99996701804364463,
            -0.00038732452182708207,
            -0.0081125091442817623,
            0.00036688104931052333,
            0.99999675414043532,
            -0.0025213303808365325,
            0.0081134593853004911,
            0.0025182708965605558,
            0.99996391439316179,
        ],
        [
            0.99996499970604147,
            0.0078370160693505674,
            -0.0029292562238809505,
            -0.0078300633148573415,
            0.99996651815571314,
            0.0023775357042736746,
            0.0029477909325000555,
            -0.0023545162281266734,
            0.99999288336565162,
        ],
        [
            0.99996897425329623,
            -0.0017602816686193273,
            -0.0076780166226527273,
            0.0017666062023813799,
            0.99999810579238668,
            0.00081701540029498209,
            0.0076765639016630662,
            -0.00083055408356968975,
            0.99997018982896579,
        ],
        [
            0.99997744257511512,
            -0.0043669675796463372,
            0.0051033258852056108,
            0.0043589279271912459,
            0.9999892430100884,
            0.0015854373011193932,
            -0.0051101945420741115,
            -0.0015631565080139391,
            0.99998572112479367,
        ],
    ];

    fn assert_close9(got: &[f64; 9], want: &[f64; 9], tol: f64) {
        for i in 0..9 {
            assert!(
                (got[i] - want[i]).abs() <= tol,
                "element {i}: {} vs {}",
                got[i],
                want[i]
            );
        }
    }

    #[test]
    fn mosaic_domains_match_c_to_1e12() {
        let got = mosaic_domains(c_deg2rad(0.5), 10, DEFAULT_MOSAIC_SEED);
        assert_eq!(got.len(), 10);
        for (g, w) in got.iter().zip(C_MOSAIC_05_10_DEFAULT_SEED.iter()) {
            assert_close9(g, w, 1e-12);
        }
    }

    #[test]
    fn mosaic_domains_are_bit_identical_to_c() {
        let got = mosaic_domains(c_deg2rad(0.5), 10, DEFAULT_MOSAIC_SEED);
        assert_eq!(got, C_MOSAIC_05_10_DEFAULT_SEED.to_vec());
    }

    #[test]
    fn raw_umats_match_c() {
        // ./harness umat 0.01 -3 2 ; ./harness umat 3.0 -3 1   (raw draws, no identity override)
        let mut r = Ran1::new(-3);
        assert_eq!(
            mosaic_rotation_umat(0.01, &mut r),
            [
                0.99997413896072429,
                -0.0010606182693758772,
                -0.0071131215823179907,
                0.001022805439045441,
                0.99998533914254162,
                -0.0053174588865264162,
                0.0071186570918980886,
                0.0053100460320703253,
                0.99996056328854555
            ]
        );
        assert_eq!(
            mosaic_rotation_umat(0.01, &mut r),
            [
                0.99998960574725126,
                0.0041451973852997884,
                0.0018988775879282835,
                -0.0041429317034316019,
                0.99999070334220874,
                -0.0011955526150264064,
                -0.001903815736286959,
                0.001187673267990384,
                0.99999748245575637
            ]
        );
        assert_eq!(
            mosaic_rotation_umat(3.0, &mut Ran1::new(-3)),
            [
                -0.22676968245917661,
                -0.94847768027974499,
                -0.22128172343986771,
                -0.84524891217296183,
                0.30453315286266791,
                -0.43910572221043542,
                0.48386959770974358,
                0.08746227082963845,
                -0.87075861384974762
            ]
        );
    }

    #[test]
    fn mosaic_domain_edge_cases() {
        assert!(mosaic_domains(0.01, 0, -1).is_empty());
        let one = mosaic_domains(0.01, 1, -1);
        assert_eq!(one, vec![[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]]);
        // Zero spread: identity rotations, still consuming three draws each.
        let mut r = Ran1::new(-1);
        for u in mosaic_domains_with(0.0, 4, &mut r) {
            for (i, v) in u.iter().enumerate() {
                assert_eq!(v.abs(), if i % 4 == 0 { 1.0 } else { 0.0 });
            }
        }
        let mut fresh = Ran1::new(-1);
        (0..12).for_each(|_| {
            fresh.next_f32();
        });
        assert_eq!(r, fresh);
        // Non-finite spread: no panic.
        let _ = mosaic_domains(f64::NAN, 3, -1);
        let _ = mosaic_domains(f64::INFINITY, 3, -1);
    }

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
        let rtd = 180.0 * std::f64::consts::FRAC_1_PI;
        let printed = format!(
            "{:.6} {:.6} {:.6}",
            angles[0] * rtd,
            angles[1] * rtd,
            angles[2] * rtd
        );
        assert_eq!(printed, "105.720755 -34.951318 -97.823571");

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
