//! The scattering vector `q = (d − i)/λ` (m⁻¹) of a detector position, computed so that it keeps
//! its relative precision at small scattering angles.
//!
//! With `d = p/r` the unit vector to the position `p` (`r = |p|`) and `i` the incident unit
//! vector, write `p = a·i + p⊥` (`a = p·i`). Then
//!
//! `d − i = p⊥/r − i·|p⊥|²/(r·(r + a))`,
//!
//! because `a/r − 1 = (a² − r²)/(r·(r + a)) = −|p⊥|²/(r·(r + a))`. The direct form `p/r − i`
//! subtracts two numbers close to 1 in the beam direction: at 2θ ≈ 1 mrad the component along
//! the beam is 5e-7 and f32 keeps about one digit of it (Miller indices along the beam, and all
//! their derivatives, inherit the error). The split form has no such subtraction when `i` is
//! along a lab axis (the usual case), and loses only `eps·|p|` otherwise. It is used up to
//! 2θ = 120° (`r + a ≥ r/2`); beyond, where nothing cancels, the direct form is used.

use burn::tensor::{backend::Backend, Tensor};

use crate::linalg::dot;

/// `q = (d − i)/λ` `[P,T,O,S,3]` for positions `p` `[P,T,O,3]` with norms `r` `[P,T,O,1]`,
/// incident unit vectors `inc` `[1,1,1,S,3]` and wavelengths `lambda` `[1,1,1,S,1]` (m).
pub fn scattering_vector<B: Backend>(
    p: &Tensor<B, 4>,
    r: &Tensor<B, 4>,
    inc: &Tensor<B, 5>,
    lambda: &Tensor<B, 5>,
) -> Tensor<B, 5> {
    let p5 = p.clone().unsqueeze_dim::<5>(3); // [P,T,O,1,3]
    let r5 = r.clone().unsqueeze_dim::<5>(3); // [P,T,O,1,1]
    let a = dot(&p5, inc); // [P,T,O,S,1]
    let perp = p5.clone() - a.clone() * inc.clone(); // [P,T,O,S,3]
    let perp2 = dot(&perp, &perp);
    let denom = r5.clone() + a; // r + p·i, [P,T,O,S,1]
    let r_s = r5.clone().expand(denom.dims());
    let split_ok = denom.clone().greater_equal(r_s.clone() * 0.5);
    let safe_denom = denom.mask_where(split_ok.clone().bool_not(), r_s);
    let split = perp / r5.clone() - inc.clone() * (perp2 / (r5.clone() * safe_denom));
    let direct = p5 / r5 - inc.clone();
    let dims = split.dims();
    let diff = direct.expand(dims).mask_where(split_ok.expand(dims), split);
    diff / lambda.clone()
}
