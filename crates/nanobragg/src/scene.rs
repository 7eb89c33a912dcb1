//! The scene: every input of a render as plain data, in the units a user types.
//!
//! A [`Scene`] is what the command line, a TOML file or library code describe. It holds no
//! tensors and does no physics: unset quantities are `None` and are resolved (defaults,
//! conventions, auto-selected step counts) by [`crate::setup::Setup::from_scene`]. Field
//! names carry their units (`_mm`, `_a` for Ångström, `_deg`, `_mrad`, `_um`).
//!
//! Serialised with serde; `nanobragg -scene file.toml` reads one and `-dump_scene` writes one.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod panels;
mod readout;
mod shots;
pub use panels::{PanelFrame, PanelGroup, PanelScene, MAX_AXIS_SKEW};
pub use readout::{panel_pixels, PanelPixels, PanelReadout, RawImage};
pub use shots::{Shot, ShotList, MAX_SHOTS};

/// Detector/beam axis convention (sets basis vectors, beam-centre mapping and pivot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Convention {
    /// MOSFLM (the C program's default): beam +X, fast +Z, slow −Y, pivot BEAM.
    #[default]
    Mosflm,
    /// XDS: beam +Z, fast +X, slow +Y, pivot SAMPLE.
    Xds,
    /// ADXV: beam +Z, fast +X, slow −Y, pivot BEAM.
    Adxv,
    /// DENZO: MOSFLM axes without the half-pixel shift, pivot BEAM.
    Denzo,
    /// DIALS: beam +Z, fast +X, slow +Y, pivot SAMPLE.
    Dials,
    /// User-supplied vectors (any `-*_vector`, `-spindle_axis`, `-twotheta_axis`, `-pix0_vector`).
    Custom,
}

/// Which point stays fixed when the detector is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pivot {
    /// The direct-beam spot stays at the beam centre.
    Beam,
    /// The point of closest approach to the sample stays fixed.
    Sample,
}

/// Lattice transform ("spot shape") model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LatticeShape {
    /// Parallelepiped crystal: product of three `sincg` grating functions (default).
    #[default]
    Square,
    /// Ellipsoidal crystal: `sinc3` of the fractional-index radius.
    Round,
    /// Gaussian spots in reciprocal space.
    Gauss,
    /// Flat-top spots clipped at the FWHM.
    Tophat,
    /// GAUSS spots set to exactly 0 where the exponent reaches 35 (cctbx simtbx's
    /// `Gauss_argchk`).
    #[serde(rename = "gauss_argchk")]
    GaussArgchk,
}

impl LatticeShape {
    /// The nanoBragg switch that selects this shape (the one definition: the CLI's flag table
    /// and the export of a scene to flags read it).
    pub const fn flag(self) -> &'static str {
        match self {
            LatticeShape::Square => "-square_xtal",
            LatticeShape::Round => "-round_xtal",
            LatticeShape::Gauss => "-gauss_xtal",
            LatticeShape::Tophat => "-tophat_spots",
            LatticeShape::GaussArgchk => "-gauss_argchk_xtal",
        }
    }
}

/// Crystal: cell, orientation, size, mosaicity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CrystalScene {
    /// Direct cell `a b c` (Å) `α β γ` (deg) from `-cell`. Zero/absent angles default to 90°,
    /// absent `b`, `c` to `a` (as the C program does).
    pub cell: Option<[f64; 6]>,
    /// MOSFLM A matrix file (`-mat`): reciprocal vectors scaled by λ (Å).
    pub mat_file: Option<PathBuf>,
    /// The crystal as DIALS gives it (`-expt`): `A = UB`, row-major, whose columns are a*, b*,
    /// c* in the lab frame (Å⁻¹, not scaled by λ; dxtbx's `Crystal.get_A`). Takes precedence
    /// over `cell` and `mat_file`.
    pub a_matrix_per_a: Option<[[f64; 3]; 3]>,
    /// Misset rotations about X, Y, Z applied to the reciprocal cell (deg), `-misset a b c`.
    pub misset_deg: Option<[f64; 3]>,
    /// `-misset random`: draw a uniformly random orientation with `misset_seed`.
    pub misset_random: bool,
    /// Seed of the random misset (`-misset_seed`, C default: the noise seed).
    pub misset_seed: Option<i64>,
    /// Unit cells along a, b, c (`-Na -Nb -Nc`, `-N`); values ≤ 1 are clamped to 1.
    pub n_cells: Option<[f64; 3]>,
    /// Crystal full widths along x, y, z (mm) (`-xtalsize`, `-samplesize`, `-sample_x` …);
    /// a positive width overrides the matching N as `ceil(width/|axis|)`; 0 = not given.
    pub sample_size_mm: [f64; 3],
    /// Lattice transform model.
    pub shape: LatticeShape,
    /// Shape scale factor (`-fudge`, default 1).
    pub fudge: Option<f64>,
    /// Isotropic mosaic spread (deg) (`-mosaic`, `-mosaici`, `-mosaic_spr`).
    pub mosaic_spread_deg: Option<f64>,
    /// Number of mosaic domains (`-mosaic_dom`).
    pub mosaic_domains: Option<i64>,
    /// Seed of the mosaic-domain generator (`-mosaic_seed`, default 12345678 → C's −12345678).
    pub mosaic_seed: Option<i64>,
}

/// Spindle rotation sweep (φ).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SpindleScene {
    /// Starting φ (deg), `-phi`.
    pub phi_start_deg: Option<f64>,
    /// Oscillation range (deg), `-osc`.
    pub osc_deg: Option<f64>,
    /// φ step (deg), `-phistep`.
    pub phi_step_deg: Option<f64>,
    /// Number of φ steps, `-phisteps`.
    pub phi_steps: Option<i64>,
}

/// Incident beam: wavelength, spectrum, divergence, polarization, intensity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BeamScene {
    /// Central wavelength (Å), `-lambda`/`-wave` (or from `-energy` eV: λ = 12398.42/E).
    pub wavelength_a: Option<f64>,
    /// Spectral width Δλ/λ (percent), `-dispersion`.
    pub dispersion_percent: Option<f64>,
    /// Number of wavelengths, `-dispsteps`.
    pub disp_steps: Option<i64>,
    /// Horizontal divergence range (mrad), `-hdivrange` (`-divergence` sets both).
    pub hdiv_range_mrad: Option<f64>,
    /// Vertical divergence range (mrad), `-vdivrange`.
    pub vdiv_range_mrad: Option<f64>,
    /// Horizontal divergence step (mrad), `-hdivstep`.
    pub hdiv_step_mrad: Option<f64>,
    /// Vertical divergence step (mrad), `-vdivstep`.
    pub vdiv_step_mrad: Option<f64>,
    /// Horizontal divergence step count, `-hdivsteps` (`-divsteps` sets both).
    pub hdiv_steps: Option<i64>,
    /// Vertical divergence step count, `-vdivsteps`.
    pub vdiv_steps: Option<i64>,
    /// Trim the divergence grid to an ellipse (`-round_div`, default) or keep the full raster (`-square_div`).
    pub round_div: Option<bool>,
    /// Source list file (`-sourcefile`): X Y Z weight λ columns.
    pub source_file: Option<PathBuf>,
    /// Kahn polarization factor K (`-polar`, default 0).
    pub polarization_k: Option<f64>,
    /// `-nopolar`: polarization factor forced to 1.
    pub nopolar: bool,
    /// Fluence (photons/m²), `-fluence`.
    pub fluence: Option<f64>,
    /// Flux (photons/s), `-flux`.
    pub flux: Option<f64>,
    /// Exposure (s), `-exposure`.
    pub exposure_s: Option<f64>,
    /// Beam size (mm), `-beamsize`.
    pub beamsize_mm: Option<f64>,
}

/// Detector: pixels, geometry, orientation, absorption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorScene {
    /// Axis convention.
    pub convention: Convention,
    /// Explicit pivot as the flags left it (last pivot-setting flag wins, as in C).
    pub pivot: Option<Pivot>,
    /// Pixel size (mm), `-pixel`, default 0.1.
    pub pixel_mm: Option<f64>,
    /// Fast-axis pixel count (`-detpixels_f`/`_x`, `-detpixels`).
    pub fpixels: Option<i64>,
    /// Slow-axis pixel count (`-detpixels_s`/`_y`, `-detpixels`).
    pub spixels: Option<i64>,
    /// Fast-axis detector size (mm), `-detsize_f`/`-detsize`, default 102.4.
    pub detsize_f_mm: Option<f64>,
    /// Slow-axis detector size (mm), `-detsize_s`/`-detsize`, default 102.4.
    pub detsize_s_mm: Option<f64>,
    /// Sample–detector distance along the beam (mm), `-distance`, default 100.
    pub distance_mm: Option<f64>,
    /// Sample–detector-plane distance along the normal (mm), `-close_distance`.
    pub close_distance_mm: Option<f64>,
    /// Beam centre (mm), `-Xbeam`.
    pub xbeam_mm: Option<f64>,
    /// Beam centre (mm), `-Ybeam`.
    pub ybeam_mm: Option<f64>,
    /// Near point (mm), `-Xclose`.
    pub xclose_mm: Option<f64>,
    /// Near point (mm), `-Yclose`.
    pub yclose_mm: Option<f64>,
    /// XDS origin (pixels), `-ORGX`.
    pub orgx_px: Option<f64>,
    /// XDS origin (pixels), `-ORGY`.
    pub orgy_px: Option<f64>,
    /// Rotation about lab X (deg), `-detector_rotx`.
    pub rotx_deg: Option<f64>,
    /// Rotation about lab Y (deg), `-detector_roty`.
    pub roty_deg: Option<f64>,
    /// Rotation about lab Z (deg), `-detector_rotz`.
    pub rotz_deg: Option<f64>,
    /// Detector 2θ swing about the 2θ axis (deg), `-twotheta`.
    pub twotheta_deg: Option<f64>,
    /// Translation of the detector (every panel) in the lab frame (mm), `-panel_shift`,
    /// applied after every other placement rule (see [`crate::detector`]'s motion).
    pub panel_shift_mm: Option<[f64; 3]>,
    /// Rotations of the detector (each panel) about its own fast, slow and normal axes through
    /// its centre (deg, in that order, axes fixed before the motion), `-panel_rot`.
    pub panel_rot_deg: Option<[f64; 3]>,
    /// Rotations of the panel's group as a rigid body about the group's fast, slow and normal
    /// axes through its pivot (deg, in that order), after `-panel_rot`, `-group_rot`. Without
    /// a group, the panel's own axes and centre.
    pub group_rot_deg: Option<[f64; 3]>,
    /// The group of the rendered panel (set by [`Scene::panel_scene`] from the panel's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<PanelGroup>,
    /// The readout of the rendered panel (gain, trusted range, mask, raw image offset; set by
    /// [`Scene::panel_scene`] from the panel's), for reading its measured image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readout: Option<PanelReadout>,
    /// Custom fast axis, `-fdet_vector`.
    pub fdet_vector: Option<[f64; 3]>,
    /// Custom slow axis, `-sdet_vector`.
    pub sdet_vector: Option<[f64; 3]>,
    /// Custom normal, `-odet_vector`.
    pub odet_vector: Option<[f64; 3]>,
    /// Custom beam direction, `-beam_vector`.
    pub beam_vector: Option<[f64; 3]>,
    /// Custom polarization (E-vector) axis, `-polar_vector`.
    pub polar_vector: Option<[f64; 3]>,
    /// Custom spindle axis, `-spindle_axis`.
    pub spindle_axis: Option<[f64; 3]>,
    /// Custom 2θ axis, `-twotheta_axis`.
    pub twotheta_axis: Option<[f64; 3]>,
    /// `-pix0_vector` (m). Accepted and recorded; like the C program, the origin is recomputed
    /// from the beam centre and pivot, so its value does not move the detector.
    pub pix0_vector_m: Option<[f64; 3]>,
    /// `-curved_det`: pixels on a sphere about the sample.
    pub curved_det: bool,
    /// `-point_pixel`: solid angle 1/R² without obliquity.
    pub point_pixel: bool,
    /// Attenuation depth (µm), `-detector_abs`; `Some(f64::INFINITY)` or `Some(0.0)` disables absorption.
    pub abs_depth_um: Option<f64>,
    /// Sensor thickness (µm), `-detector_thick`.
    pub thick_um: Option<f64>,
    /// Sensor layers, `-detector_thicksteps`/`-thicksteps`.
    pub thick_steps: Option<i64>,
    /// The panels of a multi-panel detector, in the lab frame (empty: the C program's single
    /// detector). Each renders as a one-panel scene ([`Scene::panel_scene`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub panels: Vec<PanelScene>,
}

/// Structure factors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StructureScene {
    /// HKL text file, `-hkl`.
    pub hkl_file: Option<PathBuf>,
    /// F for reflections outside the grid (and grid prefill), `-default_F`, default 0.
    pub default_f: Option<f64>,
    /// Tricubic interpolation: `Some(true)` `-interpolate`, `Some(false)` `-nointerpolate`,
    /// `None` auto (on when any N ≤ 2).
    pub interpolate: Option<bool>,
}

/// Sampling and region of interest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingScene {
    /// Sub-pixels per axis, `-oversample` (auto when absent).
    pub oversample: Option<i64>,
    /// `-oversample_thick`: capture fraction applied per sub-pixel to the running sum.
    pub oversample_thick: bool,
    /// `-oversample_polar`: polarization applied per sub-pixel to the running sum.
    pub oversample_polar: bool,
    /// `-oversample_omega`: solid angle applied per sub-pixel to the running sum.
    pub oversample_omega: bool,
    /// `-roi xmin xmax ymin ymax`: inclusive fast/slow pixel index limits.
    pub roi: Option<[i64; 4]>,
    /// Minimum d-spacing (Å), `-dmin`; 0 disables.
    pub dmin_a: Option<f64>,
    /// Water background droplet size (µm), `-water`.
    pub water_um: Option<f64>,
}

/// Which generator draws the Poisson noise image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NoiseRng {
    /// The C program's sequential `ran1` stream, byte-identical to nanoBragg
    /// ([`crate::random::noise`]); one host thread.
    #[default]
    C,
    /// Counter-based Philox4x32-10 keyed by seed, stream and pixel, drawn on the render's
    /// device ([`crate::random::counter`]): the same image for a seed whatever the threads or
    /// batch, not the C program's.
    Philox,
}

impl std::str::FromStr for NoiseRng {
    type Err = ();
    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        match s {
            "c" => Ok(NoiseRng::C),
            "philox" => Ok(NoiseRng::Philox),
            _ => Err(()),
        }
    }
}

/// Inputs read for their headers / mask, and outputs to write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct IoScene {
    /// SMV image whose header initialises geometry (`-img`).
    pub img_file: Option<PathBuf>,
    /// SMV mask: zero pixels are skipped (`-mask`); its header also initialises geometry.
    pub mask_file: Option<PathBuf>,
    /// Take only the mask's pixels, not its header's geometry (a shot list's `mask` key): the
    /// C program's `-mask` sets the beam centre, distance, pixel size and wavelength from the
    /// header, with BEAM_CENTER_Y flipped, so a mask whose header was copied from its image
    /// would move the beam centre by about a pixel. Default `false` (C semantics).
    pub mask_pixels_only: bool,
    /// Raw f32 image output, `-floatfile`/`-floatimage`.
    pub floatfile: Option<PathBuf>,
    /// Raw f64 image output (the render's values before rounding to f32), `-floatfile_f64`.
    pub floatfile_f64: Option<PathBuf>,
    /// SMV noiseless output, `-intfile`/`-intimage`.
    pub intfile: Option<PathBuf>,
    /// SMV Poisson-noise output, `-noisefile`/`-noiseimage`.
    pub noisefile: Option<PathBuf>,
    /// PGM output, `-pgmfile`/`-pgmimage`.
    pub pgmfile: Option<PathBuf>,
    /// PNG preview output, `-pngfile` (several panels: laid out as seen from the sample).
    pub pngfile: Option<PathBuf>,
    /// miniCBF output, `-cbffile`: the `-intfile` pixel values (scaled by `-scale`, offset by
    /// `-adc`) as signed 32-bit counts, so not saturated at 65535, with a Pilatus header.
    pub cbffile: Option<PathBuf>,
    /// Log-scaled PNG preview (`-png_log`).
    pub png_log: bool,
    /// PGM scale, `-pgmscale` (≤ 0: auto).
    pub pgm_scale: Option<f64>,
    /// SMV scale, `-scale` (≤ 0: auto 55000/max).
    pub int_scale: Option<f64>,
    /// ADC offset, `-adc`, default 40.
    pub adc_offset: Option<f64>,
    /// `-nonoise`: do not write the noise image.
    pub nonoise: bool,
    /// `-nopgm`: do not write the PGM.
    pub nopgm: bool,
    /// Noise seed, `-seed` (C uses its negative; default: negative wall-clock time).
    pub seed: Option<i64>,
    /// Generator of the noise image, `-noise_rng` (default: the C program's stream).
    pub noise_rng: NoiseRng,
    /// `-trace_pixel s f`: slow, fast.
    pub trace_pixel: Option<[i64; 2]>,
    /// `-printout`: verbose per-pixel prints.
    pub printout: bool,
    /// `-printout_pixel f s`: fast, slow.
    pub printout_pixel: Option<[i64; 2]>,
    /// Progress meter (`-progress` / `-noprogress`).
    pub progress: Option<bool>,
    /// `-stol`/`-4stol`/`-Q` file: read, not used (as in the C program).
    pub stol_file: Option<PathBuf>,
    /// `-stolout` file name: accepted, not written (as in the C program).
    pub stolout_file: Option<PathBuf>,
}

/// Every input of one render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Scene {
    /// Crystal cell, orientation, size and mosaicity.
    pub crystal: CrystalScene,
    /// φ sweep.
    pub spindle: SpindleScene,
    /// Incident beam.
    pub beam: BeamScene,
    /// Detector.
    pub detector: DetectorScene,
    /// Structure factors.
    pub structure: StructureScene,
    /// Sampling, ROI, background.
    pub sampling: SamplingScene,
    /// Input headers/masks and output files.
    pub io: IoScene,
}

impl Scene {
    /// The built-in default scene: a 100 Å cubic cell, 10×10×10 cells, λ = 1 Å,
    /// 256² pixels of 0.1 mm at 100 mm with a small misset, so that Bragg spots are visible.
    pub fn builtin_default() -> Self {
        let mut s = Scene::default();
        s.crystal.cell = Some([100.0, 100.0, 100.0, 90.0, 90.0, 90.0]);
        s.crystal.misset_deg = Some([10.0, 20.0, 30.0]);
        s.crystal.n_cells = Some([10.0, 10.0, 10.0]);
        s.structure.default_f = Some(100.0);
        s.beam.wavelength_a = Some(1.0);
        s.detector.pixel_mm = Some(0.1);
        s.detector.fpixels = Some(256);
        s.detector.spixels = Some(256);
        s.detector.distance_mm = Some(100.0);
        s
    }

    /// Parse a scene from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Serialise to TOML text.
    pub fn to_toml_string(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }
}
