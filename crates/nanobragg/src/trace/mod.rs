//! Looking inside a render: per-pixel reports gathered from the same tensor computation as the
//! image, and their formatting as the C program's `TRACE_C` and `-printout` lines.
//!
//! A [`RenderObserver`] passed to [`crate::Simulator::render_observed`] chooses which pixels to
//! probe. The renderer then keeps the intermediate tensors of those pixels' tiles (positions,
//! scattering vectors, Miller indices, lattice and structure factors, polarization, solid angle,
//! absorption, intensity), copies them to the host once per tile at f64 and hands one
//! [`PixelReport`] per probed pixel to the observer. Nothing is recomputed on the side: the values
//! are those the image was made of, on whatever backend and dtype rendered it.
//!
//! Units are the C program's: metres, m⁻¹ for scattering vectors, Å⁻¹ for reciprocal vectors,
//! steradians, photons.

mod c_lines;
mod geometry;
pub(crate) mod probe;

pub use c_lines::{pixel_trace_lines, printout_lines};
pub use geometry::detector_trace_lines;
pub(crate) use probe::{SceneProbe, TileProbe};

/// One number as the C program's traces print it (`%.15g`).
fn g15(x: f64) -> String {
    crate::io::cfmt::format_g(x, 15)
}

/// Three numbers in [`g15`], space-separated.
fn vec15(v: [f64; 3]) -> String {
    format!("{} {} {}", g15(v[0]), g15(v[1]), g15(v[2]))
}

/// Which pixels a render reports on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProbeSelection {
    /// None (a plain render).
    #[default]
    None,
    /// These pixels, by index `slow·fpixels + fast` (each rendered as a tile of its own).
    Pixels(Vec<usize>),
    /// Every rendered pixel (tile by tile; slow on large detectors).
    All,
}

/// Receives what a render reports: probed pixels in scan order, and progress.
pub trait RenderObserver {
    /// Pixels to probe.
    fn selection(&self) -> ProbeSelection {
        ProbeSelection::None
    }
    /// Called for every probed pixel, in scan order, as soon as its tile is rendered.
    fn pixel(&mut self, _report: &PixelReport) {}
    /// Called after every tile with the number of pixels rendered so far and the total.
    fn progress(&mut self, _done: usize, _total: usize) {}
}

/// An observer that asks for nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl RenderObserver for NoObserver {}

/// Scene-wide values the traces print (host copies of the render's tensors).
#[derive(Debug, Clone, PartialEq)]
pub struct SceneValues {
    /// Corner of pixel (0, 0) from the sample (m).
    pub pix0: [f64; 3],
    /// Detector fast axis.
    pub fdet: [f64; 3],
    /// Detector slow axis.
    pub sdet: [f64; 3],
    /// Detector normal.
    pub odet: [f64; 3],
    /// Sample-to-plane distance along the normal (m).
    pub close_distance: f64,
    /// Unrotated reciprocal vectors a*, b*, c* (Å⁻¹).
    pub reciprocal: [[f64; 3]; 3],
    /// Incident unit vector of each source.
    pub incident: Vec<[f64; 3]>,
    /// Wavelength of each source (m).
    pub lambda_m: Vec<f64>,
    /// φ of each step (deg).
    pub phi_deg: Vec<f64>,
    /// Mosaic domains per φ step.
    pub domains: usize,
    /// Fluence (photons/m²).
    pub fluence: f64,
    /// Normalisation count (sources × domains × φ steps × oversample²).
    pub steps: usize,
    /// Whether capture fraction, polarization and solid angle are applied per sub-pixel.
    pub oversample_flags: [bool; 3],
    /// Whether the lattice factor is the parallelepiped (SQUARE) one, whose axis factors exist.
    pub square_lattice: bool,
    /// Water droplet size (m); with none, evaluations whose F_latt is 0 stop early in C.
    pub water_m: f64,
    /// Central wavelength λ0 (m).
    pub lambda0_m: f64,
}

/// One sub-pixel sample (a sensor layer × sub-pixel), in loop order.
#[derive(Debug, Clone, PartialEq)]
pub struct SubpixelValues {
    /// Position on the detector (m, lab frame).
    pub position: [f64; 3],
    /// Distance from the sample (m).
    pub airpath: f64,
    /// Solid angle of this sample's pixel footprint (sr).
    pub omega: f64,
    /// Unit diffracted direction.
    pub diffracted: [f64; 3],
    /// Fraction of photons absorbed in this layer.
    pub capture: f64,
}

/// One φ step × mosaic domain of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct StepValues {
    /// Rotated real-space a, b, c (m).
    pub cell_m: [[f64; 3]; 3],
    /// Fractional Miller indices.
    pub hkl: [f64; 3],
    /// Lattice factor per axis (SQUARE shape only; 1 for an axis with N ≤ 1).
    pub f_latt_axes: Option<[f64; 3]>,
    /// Lattice factor.
    pub f_latt: f64,
    /// Structure factor used.
    pub f_cell: f64,
}

/// One evaluation: a sub-pixel sample and a source, with its φ × mosaic steps.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationValues {
    /// Index into [`PixelReport::subpixels`].
    pub subpixel: usize,
    /// Source index.
    pub source: usize,
    /// Scattering vector (m⁻¹).
    pub scattering: [f64; 3],
    /// Whether the evaluation ran (not culled by `-dmin`).
    pub active: bool,
    /// Kahn polarization factor of this evaluation.
    pub polar: f64,
    /// Steps in φ-major, domain-minor order.
    pub steps: Vec<StepValues>,
}

/// Everything one pixel's value was computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelReport {
    /// Fast pixel index.
    pub fast: usize,
    /// Slow pixel index.
    pub slow: usize,
    /// Scene-wide values.
    pub scene: std::sync::Arc<SceneValues>,
    /// Sensor layer × sub-pixel samples, layer-major then sub-pixel slow-major.
    pub subpixels: Vec<SubpixelValues>,
    /// Evaluations, sub-pixel-major then source.
    pub evaluations: Vec<EvaluationValues>,
    /// Accumulated intensity before scaling (includes the water background).
    pub intensity: f64,
    /// The capture fraction, polarization and solid angle applied once to the pixel (the C
    /// program's last-value rules), or the last per-sub-pixel value where oversampled.
    pub factors: [f64; 3],
    /// The pixel value (photons), at the render's precision.
    pub value: f64,
}
