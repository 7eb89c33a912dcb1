//! The crystal of a parameter set as a MOSFLM orientation ("A") matrix file.
//!
//! The A matrix holds λ·a*, λ·b*, λ·c* (Å⁻¹·Å, unitless) as its columns, after the misset
//! rotation and before any φ rotation, which is what `-mat` reads (see
//! [`nanobragg::io::matrix`]). A scene that uses the file must drop its `-misset`, which is
//! baked in. The file follows MOSFLM's layout: the A matrix, a zero misset line, the U matrix
//! (`A = λ·U·B` with B the reciprocal-cell matrix, a* along x, b* in the xy plane), the cell
//! (Å, deg) and a second zero misset line; nanoBragg reads only the first nine numbers.

use burn::tensor::backend::Backend;

use nanobragg::crystal::CrystalGeometry;
use nanobragg::linalg::{scalar, to_f64, to_vec};
use nanobragg::params::Params;
use nanobragg::units::RTD;

type M3 = [[f64; 3]; 3];

fn reciprocal_columns<B: Backend>(params: &Params<B>) -> M3 {
    let g = CrystalGeometry::new(params);
    let lambda_a = to_f64(&params.wavelength) * 1e10;
    let cols: Vec<Vec<f64>> = g.reciprocal.iter().map(to_vec).collect();
    let mut m = [[0.0; 3]; 3];
    for (j, col) in cols.iter().enumerate() {
        for i in 0..3 {
            m[i][j] = col[i] * lambda_a;
        }
    }
    m
}

/// The A matrix (rows x, y, z; columns λa*, λb*, λc*) of `params`.
pub fn mosflm_matrix<B: Backend>(params: &Params<B>) -> M3 {
    reciprocal_columns(params)
}

fn inverse(m: &M3) -> M3 {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let mut inv = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            let (r0, r1) = ((j + 1) % 3, (j + 2) % 3);
            let (c0, c1) = ((i + 1) % 3, (i + 2) % 3);
            inv[i][j] = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
        }
    }
    inv
}

fn cell_of<B: Backend>(params: &Params<B>) -> [f64; 6] {
    let g = CrystalGeometry::new(params);
    let v: Vec<[f64; 3]> = g
        .real
        .iter()
        .map(|t| {
            let x = to_vec(t);
            [x[0] * 1e10, x[1] * 1e10, x[2] * 1e10]
        })
        .collect();
    let len = |a: &[f64; 3]| (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
    let angle = |a: &[f64; 3], b: &[f64; 3]| {
        ((a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (len(a) * len(b))).acos() * RTD
    };
    [len(&v[0]), len(&v[1]), len(&v[2]), angle(&v[1], &v[2]), angle(&v[2], &v[0]), angle(&v[0], &v[1])]
}

/// The MOSFLM matrix file text for `params` (see the module documentation).
pub fn mosflm_matrix_text<B: Backend>(params: &Params<B>) -> String {
    let a = reciprocal_columns(params);
    let mut unrotated = params.clone();
    let device = params.wavelength.device();
    unrotated.misset = [0, 1, 2].map(|_| scalar::<B>(0.0, &device));
    let b = reciprocal_columns(&unrotated);
    let binv = inverse(&b);
    let mut u = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            u[i][j] = (0..3).map(|k| a[i][k] * binv[k][j]).sum();
        }
    }
    let cell = cell_of(params);
    let mut out = String::new();
    for row in &a {
        out += &format!("{:20.15} {:20.15} {:20.15}\n", row[0], row[1], row[2]);
    }
    out += "      0.000      0.000      0.000\n";
    for row in &u {
        out += &format!("{:15.10} {:15.10} {:15.10}\n", row[0], row[1], row[2]);
    }
    out += &format!(
        "{:12.6} {:12.6} {:12.6} {:12.6} {:12.6} {:12.6}\n",
        cell[0], cell[1], cell[2], cell[3], cell[4], cell[5]
    );
    out += "      0.000      0.000      0.000\n";
    out
}
