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

/// Millimetres → metres.
pub fn mm(x: f64) -> f64 {
    x / 1000.0
}
/// Ångström → metres.
pub fn angstrom(x: f64) -> f64 {
    x / 1.0e10
}
/// Degrees → radians, as the C program converts (`x / RTD`).
pub fn deg(x: f64) -> f64 {
    x / RTD
}
/// Milliradians → radians.
pub fn mrad(x: f64) -> f64 {
    x / 1000.0
}
/// Micrometres → metres.
pub fn um(x: f64) -> f64 {
    x * 1e-6
}
