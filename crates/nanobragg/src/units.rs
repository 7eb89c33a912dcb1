//! Physical constants and unit conversions (SI inside the engine).

/// Classical electron radius squared r_e² (m²).
pub const R_E_SQR: f64 = 7.94079248018965e-30;
/// Avogadro's number (mol⁻¹).
pub const AVOGADRO: f64 = 6.02214179e23;
/// Forward-scattering amplitude of water used by the background term.
pub const WATER_F: f64 = 2.57;
/// Molecular weight of water (g/mol).
pub const WATER_MW: f64 = 18.0;
/// ħc in eV·Å used to turn an energy into a wavelength: λ(Å) = 12398.42 / E(eV).
pub const EV_ANGSTROM: f64 = 12398.42;
/// Default fluence (photons/m²) of the C program.
pub const DEFAULT_FLUENCE: f64 = 125932015286227086360700780544.0;
/// Distance of generated sources from the sample (m).
pub const SOURCE_DISTANCE_M: f64 = 10.0;
/// Degrees per radian as the C program computes it (`180·(1/π)`).
pub const RTD: f64 = 180.0 * std::f64::consts::FRAC_1_PI;

/// A linear unit: how a user value (as typed) becomes the engine's SI value (metres, radians),
/// written as the C program converts (`x/1000` is not bit-for-bit `x·1e-3`). The one
/// definition of each conversion: the setup, the gradients and the parameter registry use it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Linear {
    /// Already in the engine's unit (Å for cell lengths, cells, photons/m², F).
    One,
    /// `si = user / d`.
    Div(f64),
    /// `si = user · f`.
    Mul(f64),
}

impl Linear {
    /// The SI value of `user`.
    pub fn to_si(self, user: f64) -> f64 {
        match self {
            Linear::One => user,
            Linear::Div(d) => user / d,
            Linear::Mul(f) => user * f,
        }
    }

    /// The user value of `si`.
    pub fn from_si(self, si: f64) -> f64 {
        match self {
            Linear::One => si,
            Linear::Div(d) => si * d,
            Linear::Mul(f) => si / f,
        }
    }

    /// `d(si)/d(user)`.
    pub fn derivative(self) -> f64 {
        match self {
            Linear::One => 1.0,
            Linear::Div(d) => 1.0 / d,
            Linear::Mul(f) => f,
        }
    }

    /// [`Linear::to_si`] as a tensor op (gradients reach `user`).
    pub fn to_si_tensor<B: burn::tensor::backend::Backend>(self, user: burn::tensor::Tensor<B, 1>) -> burn::tensor::Tensor<B, 1> {
        match self {
            Linear::One => user,
            Linear::Div(d) => crate::linalg::div_exact(user, d),
            Linear::Mul(f) => user * f,
        }
    }
}

/// Millimetres.
pub const MILLIMETRE: Linear = Linear::Div(1000.0);
/// Ångström.
pub const ANGSTROM: Linear = Linear::Div(1.0e10);
/// Degrees, as the C program converts (`x / RTD`).
pub const DEGREE: Linear = Linear::Div(RTD);
/// Milliradians.
pub const MILLIRADIAN: Linear = Linear::Div(1000.0);
/// Micrometres.
pub const MICROMETRE: Linear = Linear::Mul(1e-6);
/// Percent (a fraction).
pub const PERCENT: Linear = Linear::Div(100.0);

/// Millimetres → metres.
pub fn mm(x: f64) -> f64 {
    MILLIMETRE.to_si(x)
}
/// Ångström → metres.
pub fn angstrom(x: f64) -> f64 {
    ANGSTROM.to_si(x)
}
/// Degrees → radians, as the C program converts (`x / RTD`).
pub fn deg(x: f64) -> f64 {
    DEGREE.to_si(x)
}
/// Milliradians → radians.
pub fn mrad(x: f64) -> f64 {
    MILLIRADIAN.to_si(x)
}
/// Micrometres → metres.
pub fn um(x: f64) -> f64 {
    MICROMETRE.to_si(x)
}
/// Percent → fraction.
pub fn percent(x: f64) -> f64 {
    PERCENT.to_si(x)
}
