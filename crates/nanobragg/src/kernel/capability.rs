//! What a scene asks of a renderer, and what each fused kernel implements.
//!
//! Every scene feature that changes the per-evaluation physics or the loops around it is a
//! [`Capability`]. The renderer derives the set a scene requires
//! ([`crate::Simulator::required_capabilities`]) and offers its tiles to a fused kernel only if
//! that set is a subset of what the kernel [`Coverage::implements`]; otherwise the tensor-op
//! reference path renders them. Each kernel declares, for *every* capability, whether it
//! implements or declines it: a capability added to this enum without a decision in each
//! kernel's [`Coverage`] fails `tests/kernel_capabilities.rs` (coverage fails closed), and a
//! kernel that declines a capability is never offered a scene that needs it.

use enumset::{EnumSet, EnumSetType};

/// A scene feature a renderer must implement to render the scene correctly.
#[derive(EnumSetType, Debug, Hash)]
pub enum Capability {
    /// SQUARE lattice transform: the product of three gratings (`-square_xtal`, the default).
    SquareLattice,
    /// ROUND lattice transform (`-round_xtal`).
    RoundLattice,
    /// GAUSS lattice transform (`-gauss_xtal`).
    GaussLattice,
    /// GAUSS lattice transform cut to 0 beyond exponent 35 (`-gauss_argchk_xtal`).
    GaussArgchkLattice,
    /// TOPHAT lattice transform (`-tophat_spots`).
    TophatLattice,
    /// Structure factors looked up in a loaded HKL grid (`-hkl`, `-Fdump`), nearest index.
    HklGrid,
    /// Tricubic interpolation of F in the grid (`-interpolate`, or the automatic choice).
    TricubicF,
    /// A sensor with a thickness: capture fraction per layer (`-detector_thick`).
    ThickSensor,
    /// Solid angle `1/r²` (`-point_pixel`).
    PointPixel,
    /// No polarization factor (`-nopolar`).
    Unpolarized,
    /// Capture fraction applied per sub-pixel (`-oversample_thick`).
    PerSubpixelCapture,
    /// Polarization applied per sub-pixel (`-oversample_polar`).
    PerSubpixelPolarization,
    /// Solid angle applied per sub-pixel (`-oversample_omega`).
    PerSubpixelSolidAngle,
    /// Resolution cut d_min (`-dmin`).
    ResolutionCut,
    /// Water background (`-water`).
    WaterBackground,
    /// Rendered pixels that are not one contiguous run (`-roi`, `-mask`).
    PixelSubset,
    /// More than one sub-pixel per axis (`-oversample`).
    Oversampling,
    /// More than one source (divergence, dispersion, `-sourcefile`).
    SeveralSources,
    /// More than one mosaic domain (`-mosaic_dom`).
    MosaicDomains,
    /// More than one φ step (`-phisteps`).
    PhiSteps,
    /// Curved detector: every pixel at the same distance (`-curved_det`).
    CurvedDetector,
    /// A φ-rotation policy other than the spec's fresh rotation (the φ = 0 carry-over).
    PhiCarryOver,
}

impl Capability {
    /// The capability in words, with the flag that turns it on.
    pub fn describe(self) -> &'static str {
        use Capability::*;
        match self {
            SquareLattice => "SQUARE lattice transform (-square_xtal)",
            RoundLattice => "ROUND lattice transform (-round_xtal)",
            GaussLattice => "GAUSS lattice transform (-gauss_xtal)",
            GaussArgchkLattice => "GAUSS_ARGCHK lattice transform (-gauss_argchk_xtal)",
            TophatLattice => "TOPHAT lattice transform (-tophat_spots)",
            HklGrid => "structure factors from an HKL grid (-hkl)",
            TricubicF => "tricubic interpolation of F (-interpolate)",
            ThickSensor => "sensor thickness (-detector_thick)",
            PointPixel => "point-pixel solid angle (-point_pixel)",
            Unpolarized => "no polarization factor (-nopolar)",
            PerSubpixelCapture => "capture fraction per sub-pixel (-oversample_thick)",
            PerSubpixelPolarization => "polarization per sub-pixel (-oversample_polar)",
            PerSubpixelSolidAngle => "solid angle per sub-pixel (-oversample_omega)",
            ResolutionCut => "resolution cut (-dmin)",
            WaterBackground => "water background (-water)",
            PixelSubset => "a subset of pixels (-roi, -mask)",
            Oversampling => "sub-pixels (-oversample)",
            SeveralSources => "several sources (divergence, dispersion, -sourcefile)",
            MosaicDomains => "several mosaic domains (-mosaic_dom)",
            PhiSteps => "several φ steps (-phisteps)",
            CurvedDetector => "curved detector (-curved_det)",
            PhiCarryOver => "the φ = 0 carry-over policy",
        }
    }
}

/// Groups of capabilities the kernels' declarations share. A kernel still decides every
/// capability: a new one belongs to no group until someone puts it in one or in a kernel's
/// own list.
pub mod groups {
    use super::Capability::*;
    use super::Capability;
    use enumset::{enum_set, EnumSet};

    /// The SQUARE grating with the factors applied once per pixel, and the loops over sensor
    /// layers, sub-pixels, sources and (φ, mosaic) cells: what every fused kernel implements.
    pub const SQUARE_ONCE_PER_PIXEL: EnumSet<Capability> = enum_set!(
        SquareLattice
            | ThickSensor
            | PointPixel
            | Unpolarized
            | ResolutionCut
            | WaterBackground
            | Oversampling
            | SeveralSources
            | MosaicDomains
            | PhiSteps
    );
    /// The lattice transforms other than SQUARE.
    pub const OTHER_LATTICES: EnumSet<Capability> = enum_set!(RoundLattice | GaussLattice | GaussArgchkLattice | TophatLattice);
    /// Capture fraction, polarization or solid angle per sub-pixel.
    pub const PER_SUBPIXEL_FACTORS: EnumSet<Capability> =
        enum_set!(PerSubpixelCapture | PerSubpixelPolarization | PerSubpixelSolidAngle);
    /// Scan-level rules only the tensor path implements.
    pub const TENSOR_PATH_ONLY: EnumSet<Capability> = enum_set!(CurvedDetector | PhiCarryOver);
}

/// A list of capabilities in words, for messages.
pub fn describe(set: EnumSet<Capability>) -> String {
    set.iter().map(Capability::describe).collect::<Vec<_>>().join(", ")
}

/// The fused kernels of this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelId {
    /// The CPU kernel's vectorised lane loops ([`super::cpu::batch`] and its adjoint).
    CpuBatch,
    /// The CPU kernel's scalar per-pixel path and its adjoint ([`super::cpu::PIXEL`]).
    CpuPixel,
    /// The CubeCL forward and adjoint kernels on CUDA.
    Cuda,
}

impl KernelId {
    /// Short name (`cpu-batch`, `cpu-pixel`, `cuda`).
    pub fn name(self) -> &'static str {
        match self {
            KernelId::CpuBatch => "cpu-batch",
            KernelId::CpuPixel => "cpu-pixel",
            KernelId::Cuda => "cuda",
        }
    }
}

/// What one fused kernel (forward and backward together) does with each capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// The kernel.
    pub kernel: KernelId,
    /// Capabilities it implements (checked against the tensor path by the capability test).
    pub implements: EnumSet<Capability>,
    /// Capabilities it declines: scenes requiring one go elsewhere.
    pub declines: EnumSet<Capability>,
}

impl Coverage {
    /// Whether the kernel implements everything in `required`.
    pub fn covers(&self, required: EnumSet<Capability>) -> bool {
        required.is_subset(self.implements)
    }

    /// The capabilities of `required` the kernel does not implement.
    pub fn missing(&self, required: EnumSet<Capability>) -> EnumSet<Capability> {
        required - self.implements
    }

    /// Capabilities on which the kernel has no decision (must be empty).
    pub fn undeclared(&self) -> EnumSet<Capability> {
        EnumSet::all() - self.implements - self.declines
    }

    /// Capabilities declared both implemented and declined (must be empty).
    pub fn contradictions(&self) -> EnumSet<Capability> {
        self.implements & self.declines
    }
}

/// Every fused kernel built into this crate (the CUDA one with the `cuda` feature).
pub fn all_kernels() -> Vec<&'static Coverage> {
    #[cfg_attr(not(feature = "cuda"), allow(unused_mut))]
    let mut all = vec![&super::cpu::BATCH, &super::cpu::PIXEL];
    #[cfg(feature = "cuda")]
    all.push(&super::cuda::COVERAGE);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_sets_report_missing_and_undeclared_capabilities() {
        let c = Coverage {
            kernel: KernelId::CpuPixel,
            implements: Capability::SquareLattice | Capability::HklGrid,
            declines: Capability::CurvedDetector | Capability::HklGrid,
        };
        assert!(c.covers(EnumSet::only(Capability::SquareLattice)));
        assert!(!c.covers(Capability::SquareLattice | Capability::PointPixel));
        assert_eq!(c.missing(Capability::SquareLattice | Capability::PointPixel), EnumSet::only(Capability::PointPixel));
        assert_eq!(c.contradictions(), EnumSet::only(Capability::HklGrid));
        assert!(c.undeclared().contains(Capability::PointPixel));
        assert!(!c.undeclared().contains(Capability::CurvedDetector));
    }
}
