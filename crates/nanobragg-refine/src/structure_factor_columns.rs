//! The Jacobian columns `∂μ/∂F_i` of many structure factors from a few forward renders.
//!
//! With nearest-neighbour lookup every sub-sample of a pixel reads one reflection's F, so
//! `μ_p = b_p + Σ_i d_i(p)` with `d_i(p) = s·F_i²·A_pi ≥ 0`, and `∂μ_p/∂F_i = 2·d_i(p)/F_i`.
//! Setting a set G of structure factors to 0 removes exactly `Σ_{i∈G} d_i(p)` from each pixel.
//!
//! The m structure factors get the codes 1..=m. For each bit k of the codes two renders set to 0
//! the factors whose code has that bit set (removing `E_k(p)`) and those whose bit is clear
//! (removing `Ē_k(p)`), so that `E_k + Ē_k = D`, everything the factors put in the pixel:
//! `2·⌈log₂(m + 1)⌉` renders instead of one per factor. Each pixel then reads as
//! - dark: D at rounding level, every column 0 there;
//! - one reflection: every bit's pair is `(D, 0)` or `(0, D)`, and the bits spell its code;
//! - two reflections a, b: where their codes differ, `{E_k, Ē_k} = {d_a, d_b}`; both codes and
//!   both shares are read off, unless `d_a ≈ d_b`;
//! - anything else (three or more reflections, a tie): every reflection whose code fits the
//!   pixel's bits (a bit set only where `E_k > 0`, clear only where `Ē_k > 0`), which includes
//!   each one present, takes its whole column from its own render, `2(μ − μ|F_i=0)/F_i`.
//!
//! "At rounding level" is `TOLERANCE · ε · μ_p` (ε of the backend's float type): a reflection
//! adding less than that to a pixel is read as absent there, a change of the Fisher information
//! far below its own rounding.

use std::collections::BTreeSet;

use burn::tensor::{Element, FloatDType};
use nanobragg::kernel::RenderBackend;
use burn::tensor::backend::AutodiffBackend;

use crate::error::Result;
use crate::objective::Objective;

/// Rounding allowance in units of ε·μ: a render's sum over sub-samples rounds each term.
const TOLERANCE: f64 = 1e4;

/// `∂μ/∂F_i` over the used pixels `pixels`, for each variable index `i` of `members` (structure
/// factors, nearest-neighbour lookup, `x[i] ≠ 0`), from `center`, the whole image's μ at `x`.
pub(crate) fn structure_factor_columns<B: AutodiffBackend + RenderBackend>(
    objective: &mut Objective<B>,
    x: &[f64],
    center: &[f64],
    pixels: &[usize],
    members: &[usize],
) -> Result<Vec<Vec<f64>>> {
    let m = members.len();
    let bits = (usize::BITS - m.leading_zeros()) as usize;
    if m <= 2 * bits {
        return own_render_columns(objective, x, center, pixels, members);
    }
    // Per bit k, the factors whose code has bit k set, then those whose bit is clear.
    let groups: Vec<Vec<usize>> = (0..bits)
        .flat_map(|k| {
            [true, false].map(|set| {
                members.iter().enumerate().filter(|&(j, _)| ((j + 1) >> k & 1 == 1) == set).map(|(_, &i)| i).collect()
            })
        })
        .collect();
    let mut removed_by = removed(objective, x, center, pixels, &groups)?.into_iter();
    let mut by_bit = Vec::with_capacity(bits);
    while let (Some(on), Some(off)) = (removed_by.next(), removed_by.next()) {
        by_bit.push([on, off]);
    }
    let epsilon = FloatDType::from(<B::FloatElem as Element>::dtype()).finfo().epsilon;
    let mut columns = vec![vec![0.0; pixels.len()]; m];
    let mut own_render = BTreeSet::new();
    for (q, &p) in pixels.iter().enumerate() {
        let e: Vec<(f64, f64)> = by_bit.iter().map(|[on, off]| (on[q], off[q])).collect();
        let tol = TOLERANCE * epsilon * center[p].abs();
        match read_pixel(&e, tol).filter(|shares| shares.iter().all(|&(code, _)| (1..=m).contains(&code))) {
            Some(shares) => {
                for (code, d) in shares {
                    columns[code - 1][q] = 2.0 * d / x[members[code - 1]];
                }
            }
            None => own_render.extend((1..=m).filter(|&code| fits(code, &e, tol)).map(|code| code - 1)),
        }
    }
    let own: Vec<usize> = own_render.into_iter().collect();
    let singles: Vec<usize> = own.iter().map(|&j| members[j]).collect();
    for (j, column) in own.into_iter().zip(own_render_columns(objective, x, center, pixels, &singles)?) {
        columns[j] = column;
    }
    Ok(columns)
}

/// `2(μ − μ|F_i=0)/F_i` over the used pixels for each variable `i` of `members`: one render
/// each with that variable set to 0 (one batch, [`Objective::models`]).
fn own_render_columns<B: AutodiffBackend + RenderBackend>(
    objective: &mut Objective<B>,
    x: &[f64],
    center: &[f64],
    pixels: &[usize],
    members: &[usize],
) -> Result<Vec<Vec<f64>>> {
    let groups: Vec<Vec<usize>> = members.iter().map(|&i| vec![i]).collect();
    let removed = removed(objective, x, center, pixels, &groups)?;
    Ok(members.iter().zip(removed).map(|(&i, d)| d.into_iter().map(|d| 2.0 * d / x[i]).collect()).collect())
}

/// What setting each group of variables of `groups` to 0 removes from μ at each used pixel
/// (one render a group, one batch): `μ(x) − μ(x with x_i = 0 for i in the group)`, `center`
/// being the whole image's μ at `x`.
fn removed<B: AutodiffBackend + RenderBackend>(
    objective: &mut Objective<B>,
    x: &[f64],
    center: &[f64],
    pixels: &[usize],
    groups: &[Vec<usize>],
) -> Result<Vec<Vec<f64>>> {
    let zeroed: Vec<Vec<f64>> = groups
        .iter()
        .map(|group| {
            let mut xz = x.to_vec();
            group.iter().for_each(|&i| xz[i] = 0.0);
            xz
        })
        .collect();
    let mut removed = Vec::with_capacity(groups.len());
    objective.models_each(&zeroed, |model| {
        removed.push(pixels.iter().map(|&p| center[p] - model.mu[p]).collect());
        Ok(())
    })?;
    Ok(removed)
}

/// The reflections in a pixel and their shares `d`, from its removed intensities `(E_k, Ē_k)`
/// per bit: none when dark, one or two `(code, d)`; `None` when it cannot be read that way.
fn read_pixel(e: &[(f64, f64)], tol: f64) -> Option<Vec<(usize, f64)>> {
    let d = e[0].0 + e[0].1;
    if d.abs() <= 4.0 * tol {
        return Some(Vec::new());
    }
    let near = |a: f64, b: f64| (a - b).abs() <= tol;
    let (mut a, mut b) = (0usize, 0usize);
    let mut share_a: Option<f64> = None;
    for (k, &(on, off)) in e.iter().enumerate() {
        if !near(on + off, d) {
            return None;
        }
        let bit = 1 << k;
        if near(off, 0.0) {
            (a, b) = (a | bit, b | bit);
        } else if !near(on, 0.0) {
            // The reflections differ at this bit: `a` is the one with it set where they first do.
            match share_a {
                None => {
                    share_a = Some(on);
                    a |= bit;
                }
                Some(s) if near(on, s) => a |= bit,
                Some(s) if near(off, s) => b |= bit,
                Some(_) => return None,
            }
        }
    }
    match share_a {
        None => Some(vec![(a, d)]),
        Some(s) if near(s, d - s) => None,
        Some(s) => Some(vec![(a, s), (b, d - s)]),
    }
}

/// Whether a reflection with code `code` may be in a pixel: each of its set bits removed
/// something (`E_k > 0`) and each clear bit too (`Ē_k > 0`).
fn fits(code: usize, e: &[(f64, f64)], tol: f64) -> bool {
    e.iter().enumerate().all(|(k, &(on, off))| if code >> k & 1 == 1 { on > tol } else { off > tol })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Removed intensities of a pixel holding `shares` (code, d), over `bits` bits.
    fn shares_removed(shares: &[(usize, f64)], bits: usize) -> Vec<(f64, f64)> {
        (0..bits)
            .map(|k| {
                let on: f64 = shares.iter().filter(|(c, _)| c >> k & 1 == 1).map(|(_, d)| d).sum();
                let off: f64 = shares.iter().filter(|(c, _)| c >> k & 1 == 0).map(|(_, d)| d).sum();
                (on, off)
            })
            .collect()
    }

    #[test]
    fn a_pixel_of_one_or_two_reflections_reads_back_their_codes_and_shares() {
        assert_eq!(read_pixel(&shares_removed(&[], 5), 1e-9), Some(vec![]));
        assert_eq!(read_pixel(&shares_removed(&[(19, 3.5)], 5), 1e-9), Some(vec![(19, 3.5)]));
        let two = read_pixel(&shares_removed(&[(6, 1.25), (25, 7.0)], 5), 1e-9).unwrap();
        let mut two = two.clone();
        two.sort_by_key(|s| s.0);
        assert_eq!(two, vec![(6, 1.25), (25, 7.0)]);
    }

    #[test]
    fn three_reflections_or_a_tie_are_not_read_and_every_one_present_fits() {
        let three = shares_removed(&[(3, 1.0), (12, 2.0), (21, 4.0)], 5);
        assert_eq!(read_pixel(&three, 1e-9), None);
        let tie = shares_removed(&[(5, 2.0), (10, 2.0)], 5);
        assert_eq!(read_pixel(&tie, 1e-9), None);
        for code in [3, 12, 21] {
            assert!(fits(code, &three, 1e-9));
        }
        for code in [5, 10] {
            assert!(fits(code, &tie, 1e-9));
        }
        // Bits 2..5 removed nothing from a pixel of codes 1 and 2: code 4 is not in it.
        let low = shares_removed(&[(1, 1.0), (2, 2.0), (3, 4.0)], 5);
        assert!(fits(3, &low, 1e-9) && !fits(4, &low, 1e-9) && !fits(9, &low, 1e-9));
    }
}
