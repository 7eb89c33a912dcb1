//! Mosaic-domain rotations as `main()` draws them: one random rotation on a spherical cap per
//! domain (axis and angle from three uniforms, then the axis–angle matrix), domain 0 the identity.

use crate::random::ran1::Ran1;

/// The C program's default mosaic seed (the stored, negative value; `-mosaic_seed N` stores `-N`).
pub const DEFAULT_MOSAIC_SEED: i64 = -12_345_678;

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

#[cfg(test)]
#[allow(clippy::excessive_precision)] // literals are the C program's %.9g / %.17g output
mod tests {
    use super::*;
    use super::super::fixtures::assert_close9;

    // Expected values: see `super::super::fixtures` (printed by the reference C functions).

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
}
