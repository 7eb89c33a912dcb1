//! Plain f64 3-vector and 3×3 matrix helpers for the host-side geometry of [`super::frames`]
//! (matrices are row-major: `m[row][col]`).

/// A 3-vector.
pub type Vec3 = [f64; 3];
/// A 3×3 matrix, row-major.
pub type Mat3 = [[f64; 3]; 3];

/// The identity matrix.
pub const IDENTITY: Mat3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

/// `a · b`.
pub fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// `a × b`.
pub fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// `|a|`.
pub fn norm(a: Vec3) -> f64 {
    dot(a, a).sqrt()
}

/// `k·a`.
pub fn scale(a: Vec3, k: f64) -> Vec3 {
    [k * a[0], k * a[1], k * a[2]]
}

/// `a + b`.
pub fn add(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `a / |a|`, or `None` when `a` has zero length or is not finite.
pub fn unit(a: Vec3) -> Option<Vec3> {
    let n = norm(a);
    (n > 0.0 && n.is_finite()).then(|| scale(a, 1.0 / n))
}

/// `m · v`.
pub fn mat_vec(m: &Mat3, v: Vec3) -> Vec3 {
    [dot(m[0], v), dot(m[1], v), dot(m[2], v)]
}

/// `a · b`.
pub fn mat_mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            *x = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

/// `mᵀ`.
pub fn transpose(m: &Mat3) -> Mat3 {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in m.iter().enumerate() {
        for (j, x) in row.iter().enumerate() {
            out[j][i] = *x;
        }
    }
    out
}

/// `m⁻¹` by the adjugate, or `None` when `m` is singular (|det| below 1e-300) or not finite.
pub fn inverse(m: &Mat3) -> Option<Mat3> {
    let [r0, r1, r2] = *m;
    let det = dot(r0, cross(r1, r2));
    if !(det.abs() > 1e-300 && det.is_finite()) {
        return None;
    }
    // Columns of the inverse are the cross products of the rows, divided by the determinant.
    let cols = [cross(r1, r2), cross(r2, r0), cross(r0, r1)];
    Some(transpose(&cols.map(|c| scale(c, 1.0 / det))))
}

/// Right-handed rotation by `angle_rad` about `axis` (normalised here; Rodrigues' formula):
/// `R v = v cos θ + (k × v) sin θ + k (k·v)(1 − cos θ)`. `None` for a zero axis.
pub fn rotation(axis: Vec3, angle_rad: f64) -> Option<Mat3> {
    let k = unit(axis)?;
    let (s, c) = angle_rad.sin_cos();
    let t = 1.0 - c;
    Some([
        [
            c + k[0] * k[0] * t,
            k[0] * k[1] * t - k[2] * s,
            k[0] * k[2] * t + k[1] * s,
        ],
        [
            k[1] * k[0] * t + k[2] * s,
            c + k[1] * k[1] * t,
            k[1] * k[2] * t - k[0] * s,
        ],
        [
            k[2] * k[0] * t - k[1] * s,
            k[2] * k[1] * t + k[0] * s,
            c + k[2] * k[2] * t,
        ],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_is_right_handed_and_inverse_undoes_a_matrix() {
        let r = rotation([0.0, 0.0, 2.0], std::f64::consts::FRAC_PI_2).unwrap();
        let v = mat_vec(&r, [1.0, 0.0, 0.0]);
        assert!(
            (v[0]).abs() < 1e-15 && (v[1] - 1.0).abs() < 1e-15 && v[2] == 0.0,
            "{v:?}"
        );
        assert!(rotation([0.0; 3], 1.0).is_none());
        let m = [[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 4.0]];
        let p = mat_mul(&m, &inverse(&m).unwrap());
        for (i, row) in p.iter().enumerate() {
            for (j, x) in row.iter().enumerate() {
                assert!((x - f64::from(u8::from(i == j))).abs() < 1e-15, "{p:?}");
            }
        }
        assert!(inverse(&[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 0.0, 1.0]]).is_none());
        assert_eq!(transpose(&transpose(&m)), m);
    }
}
