//! nanoBragg-compatible command-line parsing.
//!
//! One table, [`flag_table`], lists every flag: its names (the first is the one shown in help,
//! the others are synonyms), how many values it takes ([`Arity`]), its help group and text, and
//! a setter that writes the values into a [`CommandLine`]. [`parse_args`] and
//! [`crate::help::usage`] are both driven by that table, so they cannot drift apart.
//!
//! # Semantics (those of the C program's argument loop)
//!
//! * Flags are applied left to right; a later flag overwrites what an earlier one set.
//!   Flags that set several fields (`-N`, `-detpixels`, `-detsize`, `-divergence`,
//!   `-divsteps`, `-samplesize`) overwrite all of them.
//! * [`DetectorScene::pivot`](nanobragg::scene::DetectorScene::pivot) records the *last*
//!   pivot-setting flag: `-Xbeam -Ybeam -distance` and the conventions `-mosflm -adxv -denzo
//!   -dials` set BEAM; `-Xclose -Yclose -ORGX -ORGY -close_distance -twotheta
//!   -twotheta_axis` and `-xds` set SAMPLE; `-pivot beam|sample` sets what it says. (The
//!   resolver later forces a named convention's own pivot, as the C program does.)
//! * Values are stored as typed, in the user's units (mm, Å, deg, mrad, µm, %). The only
//!   conversions are `-energy E` (eV) → `wavelength_a = 12398.42 / E` and `-misset random`.
//! * Seeds (`-seed`, `-mosaic_seed`, `-misset_seed`) are stored as typed; the C program
//!   negates them internally.
//! * `-scene file.toml` is loaded *first*, wherever it stands (the last one given wins);
//!   every other flag then applies on top of it.
//!
//! # Deliberate differences from the C program
//!
//! * An unknown flag, a missing value, a value that is not a number (where one is needed)
//!   and a stray positional argument are errors ([`CliError`]); the C program ignores the
//!   first and reads `atof`/`atoi` garbage as 0.
//! * Flags are matched by their exact names. The C program matches most flags with
//!   `strstr`, so it also accepts longer spellings; the ones it documents or that appear in
//!   practice are listed here as synonyms (`-matrix`, `-wavelength`, `-detector_absorb`,
//!   `-mosaic_domains`, `-sample_density`).
//! * Integer flags take integers (`64` or `64.0`); `1e3` or `64.5`, which C's `atoi` would read
//!   as 1 or 64, are refused rather than silently truncated.
//! * A value slot never swallows a known flag: `-floatfile -nopgm` is a missing value, not a
//!   file named `-nopgm`.
//!
//! # C quirks reproduced
//!
//! * `-twotheta_axis x y z` is also matched by the C program's `-twotheta` test (a `strstr`
//!   prefix match), so besides setting the axis (and convention CUSTOM) it sets
//!   `twotheta_deg = x`, the axis's *first component*, and pivot SAMPLE. A `-twotheta`
//!   given after it wins.
//! * `-printout_pixel f s` is also matched by the `-printout` test, so it turns printing on.
//! * `-cell` reads up to six values and stops at the first token that is not a number (or is
//!   a known flag); the values not given keep what they were (unset, i.e. 0, unless a
//!   `-scene` file set them), and the resolver fills them in (b, c ← a; angles ← 90°). The C
//!   program stops at the first token beginning with `-`, silently dropping a negative value
//!   and reading the rest as unknown flags; here `-90` is a value, which the resolver then
//!   refuses as an angle outside (0°, 180°).
//! * `-polar K` re-enables polarization after `-nopolar`; `-pgmfile`/`-pgmscale` re-enable
//!   the PGM after `-nopgm`; `-noisefile` re-enables noise after `-nonoise`.
//! * `-misset random` and `-misset a b c` override each other in order.
//! * `-density`, `-MW`, `-molecules` and `-coherent` are accepted and have no effect (the C
//!   program reads them into variables it never uses). `-source_distance` is commented out
//!   in the C program and is an unknown flag here too.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use nanobragg::scene::{Convention, LatticeShape, Pivot, Scene};

use crate::error::{CliError, Result};

/// Floating-point precision of the render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DType {
    /// 32-bit floats (`-dtype f32`).
    F32,
    /// 64-bit floats (`-dtype f64`, the default; what the C program uses).
    #[default]
    F64,
}

impl FromStr for DType {
    type Err = ();
    /// `f32` or `f64` (ASCII case-insensitive).
    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(DType::F32),
            "f64" => Ok(DType::F64),
            _ => Err(()),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        })
    }
}

/// How the φ = 0 step of a φ sweep is evaluated (see `docs/c-quirks.md`, "φ = 0 carry-over").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PhiCarryoverMode {
    /// As the spec says: every φ step, φ = 0 included, uses its own rotation (the default).
    #[default]
    Spec,
    /// Reproduce the C program's φ cache: a φ = 0 step reuses the orientation left by the
    /// previous φ step in loop order (`-phi_carryover_mode c-parity`).
    CParity,
}

impl FromStr for PhiCarryoverMode {
    type Err = ();
    /// `spec` or `c-parity` (ASCII case-insensitive).
    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "spec" => Ok(PhiCarryoverMode::Spec),
            "c-parity" => Ok(PhiCarryoverMode::CParity),
            _ => Err(()),
        }
    }
}

impl fmt::Display for PhiCarryoverMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PhiCarryoverMode::Spec => "spec",
            PhiCarryoverMode::CParity => "c-parity",
        })
    }
}

/// Everything a command line says: the scene plus the options of this implementation.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandLine {
    /// The scene: `-scene` file (if any) with every other flag applied on top.
    /// Without `-scene` it starts from [`Scene::default`] (all unset: C defaults apply).
    pub scene: Scene,
    /// Float precision, `-dtype f32|f64` (default f64).
    pub dtype: DType,
    /// Burn backend name, `-backend NAME` (default `ndarray`).
    pub backend: String,
    /// `-scene file.toml`: the scene file loaded before all other flags.
    pub scene_file: Option<PathBuf>,
    /// `-dump_scene out.toml`: where to write the final scene.
    pub dump_scene: Option<PathBuf>,
    /// `-h`, `-help`, `--help`: print usage.
    pub help: bool,
    /// `-phi_carryover_mode spec|c-parity` (default spec).
    pub phi_carryover_mode: PhiCarryoverMode,
    /// `-tile_pixels N`: pixels per render tile (default: the renderer's choice).
    pub tile_pixels: Option<usize>,
    /// `-engine auto|tensor`: fused kernel or the tensor-op reference path.
    pub engine: nanobragg::kernel::Engine,
    /// `-wrt a,b,...` (`nanobragg grad`): parameters to differentiate with respect to.
    pub wrt: Vec<String>,
    /// `-loss sum|l2:target.bin|poisson:target.bin` (`nanobragg grad`), default `sum`;
    /// `-loss poisson|l2[:sigma]` (`nanobragg refine`), default `poisson`.
    pub loss: Option<String>,
    /// `nanobragg refine` options (`-target`, `-refine`, …).
    pub refine: RefineArgs,
}

/// Options of `nanobragg refine`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RefineArgs {
    /// `-target file`: the measured image (SMV `.img`/`.smv`, ADC offset removed, or raw f32).
    pub target: Option<PathBuf>,
    /// `-refine a,b,...`: parameters to refine (gradient parameter names, plus `scale`).
    pub names: Vec<String>,
    /// `-background file.bin`: known background (raw f32 photons) added to the model.
    pub background: Option<PathBuf>,
    /// `-optimizer lbfgs|adam` (default lbfgs).
    pub optimizer: Option<String>,
    /// `-max_iter N`: iteration limit (default 200).
    pub max_iter: Option<usize>,
    /// `-refined_scene out.toml`: where to write the refined scene (default: the `-dump_scene`
    /// file, else refined_scene.toml).
    pub refined_scene: Option<PathBuf>,
    /// `-refined_mat out.mat`: also write the refined orientation as a MOSFLM A matrix.
    pub refined_mat: Option<PathBuf>,
}

impl Default for CommandLine {
    fn default() -> Self {
        CommandLine {
            scene: Scene::default(),
            dtype: DType::F64,
            backend: "ndarray".to_string(),
            scene_file: None,
            dump_scene: None,
            help: false,
            phi_carryover_mode: PhiCarryoverMode::Spec,
            tile_pixels: None,
            engine: nanobragg::kernel::Engine::Auto,
            wrt: Vec::new(),
            loss: None,
            refine: RefineArgs::default(),
        }
    }
}

/// How many values follow a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// No value.
    Switch,
    /// Exactly this many values.
    Values(usize),
    /// `-cell`: one to six values; reading stops at the first token that is not a number or
    /// is a known flag (negative numbers are values, unlike in the C program).
    Cell,
    /// `-misset`: one value containing `rand` (random orientation), else three angles.
    Misset,
}

/// The groups of the usage text, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagGroup {
    /// Input files and structure factors.
    Input,
    /// Crystal cell, orientation, size, shape, mosaicity.
    Crystal,
    /// Incident beam: wavelength, spectrum, divergence, polarization, intensity.
    Beam,
    /// Detector geometry, conventions, orientation, absorption.
    Detector,
    /// Spindle sweep, oversampling, region of interest, resolution, background.
    Sampling,
    /// Output images, scaling, noise, diagnostics.
    Output,
    /// Options of this implementation (not in the C program).
    Ours,
}

impl FlagGroup {
    /// Every group, in display order.
    pub const ALL: [FlagGroup; 7] = [
        FlagGroup::Input,
        FlagGroup::Crystal,
        FlagGroup::Beam,
        FlagGroup::Detector,
        FlagGroup::Sampling,
        FlagGroup::Output,
        FlagGroup::Ours,
    ];

    /// Heading of the group in the usage text.
    pub fn title(self) -> &'static str {
        match self {
            FlagGroup::Input => "Input files and structure factors",
            FlagGroup::Crystal => "Crystal",
            FlagGroup::Beam => "Beam",
            FlagGroup::Detector => "Detector",
            FlagGroup::Sampling => "Sampling",
            FlagGroup::Output => "Output",
            FlagGroup::Ours => "Options of this implementation (not in nanoBragg)",
        }
    }
}

/// Writes one flag occurrence's values into the command line.
type Setter = fn(&mut CommandLine, &Values<'_>) -> Result<()>;

/// One entry of the flag table.
#[derive(Clone, Copy)]
pub struct FlagSpec {
    /// Accepted spellings; the first is the primary name, the rest are synonyms.
    pub names: &'static [&'static str],
    /// Number of values taken.
    pub arity: Arity,
    /// Usage-text group.
    pub group: FlagGroup,
    /// Value placeholders for the usage text, e.g. `<mm>`; empty for a switch.
    pub values: &'static str,
    /// One-line description with units and default.
    pub help: &'static str,
    apply: Setter,
}

impl fmt::Debug for FlagSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlagSpec")
            .field("names", &self.names)
            .field("arity", &self.arity)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl FlagSpec {
    /// The primary name (shown first in the usage text).
    pub fn name(&self) -> &'static str {
        self.names[0]
    }
}

/// The values of one flag occurrence, with the flag as typed (for error messages).
///
/// `raw` holds the values as they came from the OS (file names need not be UTF-8); `text`
/// the same values as text, with anything that is not UTF-8 replaced (numbers and names).
struct Values<'a> {
    flag: &'a str,
    raw: &'a [OsString],
    text: &'a [String],
}

impl Values<'_> {
    fn len(&self) -> usize {
        self.text.len()
    }

    fn str(&self, i: usize) -> &str {
        self.text[i].as_str()
    }

    fn f64(&self, i: usize) -> Result<f64> {
        parse_f64(self.str(i)).ok_or_else(|| CliError::InvalidNumber {
            flag: self.flag.to_string(),
            value: self.str(i).to_string(),
        })
    }

    fn int(&self, i: usize) -> Result<i64> {
        parse_int(self.str(i)).ok_or_else(|| CliError::InvalidInteger {
            flag: self.flag.to_string(),
            value: self.str(i).to_string(),
        })
    }

    fn vec3(&self) -> Result<[f64; 3]> {
        Ok([self.f64(0)?, self.f64(1)?, self.f64(2)?])
    }

    /// A file name, taken byte for byte as given (it need not be UTF-8).
    fn path(&self, i: usize) -> Result<PathBuf> {
        if self.raw[i].is_empty() {
            return Err(self.invalid(i, "a file name"));
        }
        Ok(PathBuf::from(&self.raw[i]))
    }

    fn invalid(&self, i: usize, expected: &str) -> CliError {
        CliError::InvalidValue {
            flag: self.flag.to_string(),
            value: self.str(i).to_string(),
            expected: expected.to_string(),
        }
    }
}

/// A finite number as C's `atof` would read it from a well-formed token.
fn parse_f64(s: &str) -> Option<f64> {
    let t = s.trim();
    let v: f64 = t.parse().ok()?;
    v.is_finite().then_some(v)
}

/// An integer: `64`, `+64`, `-3`, or with a zero fraction (`64.`, `64.00`), which C's `atoi`
/// reads as the same integer. Anything `atoi` would truncate differently is refused.
fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let (whole, frac) = t.split_once('.')?;
    if !frac.bytes().all(|b| b == b'0') {
        return None;
    }
    whole.parse::<i64>().ok()
}

/// `n_cells` with unset entries at the C default (1).
fn n_cells(c: &mut CommandLine) -> &mut [f64; 3] {
    c.scene.crystal.n_cells.get_or_insert([1.0; 3])
}

macro_rules! flag {
    ($names:expr, $arity:expr, $group:ident, $values:expr, $help:expr, $apply:expr $(,)?) => {
        FlagSpec {
            names: &$names,
            arity: $arity,
            group: FlagGroup::$group,
            values: $values,
            help: $help,
            apply: $apply,
        }
    };
}

use Arity::{Switch, Values as V};

/// The flag table: every flag the parser accepts, in usage order.
static FLAGS: &[FlagSpec] = &[
    // ---------------------------------------------------------------- input files
    flag!(["-hkl"], V(1), Input, "<file>",
        "text file of h k l F (P1 structure factors)",
        |c, v| { c.scene.structure.hkl_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-mat", "-matrix"], V(1), Input, "<file>",
        "MOSFLM-style A matrix: reciprocal cell vectors scaled by 1/lambda; alternative to -cell",
        |c, v| { c.scene.crystal.mat_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-default_F"], V(1), Input, "<F>",
        "structure factor of reflections outside the -hkl grid (default 0)",
        |c, v| { c.scene.structure.default_f = Some(v.f64(0)?); Ok(()) }),
    flag!(["-interpolate"], Switch, Input, "",
        "force tricubic interpolation of F between Bragg peaks (default: on if any N <= 2)",
        |c, _| { c.scene.structure.interpolate = Some(true); Ok(()) }),
    flag!(["-nointerpolate"], Switch, Input, "",
        "disable interpolation of F between Bragg peaks",
        |c, _| { c.scene.structure.interpolate = Some(false); Ok(()) }),
    flag!(["-img"], V(1), Input, "<file>",
        "SMV image whose header initialises the geometry (pixels, distance, beam centre, lambda, phi, 2theta)",
        |c, v| { c.scene.io.img_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-mask"], V(1), Input, "<file>",
        "SMV mask: pixels that are 0 are skipped; its header also initialises the geometry",
        |c, v| { c.scene.io.mask_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-sourcefile"], V(1), Input, "<file>",
        "source list, columns X Y Z weight lambda(m) (default: one source on the beam axis)",
        |c, v| { c.scene.beam.source_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-stol", "-4stol", "-Q"], V(1), Input, "<file>",
        "S(Q) table: accepted and recorded, not used (as in nanoBragg)",
        |c, v| { c.scene.io.stol_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-stolout"], V(1), Input, "<file>",
        "S(Q) output file name: accepted and recorded, not written (as in nanoBragg)",
        |c, v| { c.scene.io.stolout_file = Some(v.path(0)?); Ok(()) }),
    // ---------------------------------------------------------------- crystal
    flag!(["-cell"], Arity::Cell, Crystal, "<a> <b> <c> <alpha> <beta> <gamma>",
        "unit cell (A, deg); alternative to -mat. Missing b, c default to a, missing angles to 90",
        |c, v| {
            let mut cell = c.scene.crystal.cell.unwrap_or([0.0; 6]);
            for (k, slot) in cell.iter_mut().enumerate().take(v.len()) {
                *slot = v.f64(k)?;
            }
            c.scene.crystal.cell = Some(cell);
            Ok(())
        }),
    flag!(["-misset"], Arity::Misset, Crystal, "<rotx> <roty> <rotz> | random",
        "crystal rotations about lab x, y, z (deg), or a random orientation (default 0 0 0)",
        |c, v| {
            if v.len() == 1 {
                c.scene.crystal.misset_random = true;
                c.scene.crystal.misset_deg = None;
            } else {
                c.scene.crystal.misset_deg = Some(v.vec3()?);
                c.scene.crystal.misset_random = false;
            }
            Ok(())
        }),
    flag!(["-misset_seed"], V(1), Crystal, "<int>",
        "seed of -misset random (default: the noise seed)",
        |c, v| { c.scene.crystal.misset_seed = Some(v.int(0)?); Ok(()) }),
    flag!(["-N"], V(1), Crystal, "<int>",
        "unit cells along a, b and c (default 1; values <= 1 count as 1)",
        |c, v| { let n = v.int(0)? as f64; *n_cells(c) = [n; 3]; Ok(()) }),
    flag!(["-Na"], V(1), Crystal, "<int>", "unit cells along a (default 1)",
        |c, v| { let n = v.int(0)? as f64; n_cells(c)[0] = n; Ok(()) }),
    flag!(["-Nb"], V(1), Crystal, "<int>", "unit cells along b (default 1)",
        |c, v| { let n = v.int(0)? as f64; n_cells(c)[1] = n; Ok(()) }),
    flag!(["-Nc"], V(1), Crystal, "<int>", "unit cells along c (default 1)",
        |c, v| { let n = v.int(0)? as f64; n_cells(c)[2] = n; Ok(()) }),
    flag!(["-xtalsize", "-xtal_size", "-samplesize", "-sample_size"], V(1), Crystal, "<mm>",
        "crystal full width in x, y and z (mm); overrides -N (default: from N)",
        |c, v| { let w = v.f64(0)?; c.scene.crystal.sample_size_mm = [w; 3]; Ok(()) }),
    flag!(["-xtal_thick", "-xtal_x", "-sample_thick", "-sample_x"], V(1), Crystal, "<mm>",
        "crystal full width along x, the beam (mm)",
        |c, v| { c.scene.crystal.sample_size_mm[0] = v.f64(0)?; Ok(()) }),
    flag!(["-xtal_width", "-xtal_y", "-sample_width", "-sample_y", "-width"], V(1), Crystal, "<mm>",
        "crystal full width along y (mm)",
        |c, v| { c.scene.crystal.sample_size_mm[1] = v.f64(0)?; Ok(()) }),
    flag!(["-xtal_height", "-xtal_z", "-sample_height", "-sample_z", "-height"], V(1), Crystal, "<mm>",
        "crystal full width along z (mm)",
        |c, v| { c.scene.crystal.sample_size_mm[2] = v.f64(0)?; Ok(()) }),
    flag!(["-square_xtal"], Switch, Crystal, "",
        "parallelepiped crystal: sincg lattice transform (default)",
        |c, _| { c.scene.crystal.shape = LatticeShape::Square; Ok(()) }),
    flag!(["-round_xtal"], Switch, Crystal, "",
        "ellipsoidal crystal: sinc3 lattice transform",
        |c, _| { c.scene.crystal.shape = LatticeShape::Round; Ok(()) }),
    flag!(["-gauss_xtal"], Switch, Crystal, "",
        "Gaussian spots: no inter-Bragg maxima",
        |c, _| { c.scene.crystal.shape = LatticeShape::Gauss; Ok(()) }),
    flag!(["-tophat_spots", "-binary_spots"], Switch, Crystal, "",
        "flat-top spots clipped at the FWHM: no inter-Bragg maxima",
        |c, _| { c.scene.crystal.shape = LatticeShape::Tophat; Ok(()) }),
    flag!(["-fudge"], V(1), Crystal, "<factor>",
        "scale of the spot-shape argument (default 1)",
        |c, v| { c.scene.crystal.fudge = Some(v.f64(0)?); Ok(()) }),
    flag!(["-mosaic", "-mosaici", "-mosaic_spr"], V(1), Crystal, "<deg>",
        "isotropic mosaic spread (deg; 90 for a powder) (default 0)",
        |c, v| { c.scene.crystal.mosaic_spread_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-mosaic_dom", "-mosaic_domains"], V(1), Crystal, "<int>",
        "number of randomly oriented mosaic domains (default: 10 with a spread, else 1)",
        |c, v| { c.scene.crystal.mosaic_domains = Some(v.int(0)?); Ok(()) }),
    flag!(["-mosaic_seed"], V(1), Crystal, "<int>",
        "seed of the mosaic-domain generator (default 12345678)",
        |c, v| { c.scene.crystal.mosaic_seed = Some(v.int(0)?); Ok(()) }),
    flag!(["-density", "-sample_density"], V(1), Crystal, "<g/cm^3>",
        "crystal density: accepted, no effect (as in nanoBragg)",
        |_, v| { v.f64(0)?; Ok(()) }),
    flag!(["-MW", "-molecules"], V(1), Crystal, "<g/mol>",
        "molecular weight: accepted, no effect (as in nanoBragg)",
        |_, v| { v.f64(0)?; Ok(()) }),
    // ---------------------------------------------------------------- beam
    flag!(["-lambda", "-wave", "-wavelength"], V(1), Beam, "<A>",
        "central wavelength (A) (default 1)",
        |c, v| { c.scene.beam.wavelength_a = Some(v.f64(0)?); Ok(()) }),
    flag!(["-energy"], V(1), Beam, "<eV>",
        "central photon energy (eV); sets lambda = 12398.42/E A",
        |c, v| {
            let e = v.f64(0)?;
            if e <= 0.0 {
                return Err(v.invalid(0, "a positive energy in eV"));
            }
            c.scene.beam.wavelength_a = Some(12398.42 / e);
            Ok(())
        }),
    flag!(["-dispersion"], V(1), Beam, "<percent>",
        "spectral width delta-lambda/lambda (%) (default 0)",
        |c, v| { c.scene.beam.dispersion_percent = Some(v.f64(0)?); Ok(()) }),
    flag!(["-dispsteps"], V(1), Beam, "<int>",
        "number of wavelengths across the dispersion (default: auto)",
        |c, v| { c.scene.beam.disp_steps = Some(v.int(0)?); Ok(()) }),
    flag!(["-divergence"], V(1), Beam, "<mrad>",
        "horizontal and vertical divergence range (mrad) (default 0)",
        |c, v| {
            let d = v.f64(0)?;
            c.scene.beam.hdiv_range_mrad = Some(d);
            c.scene.beam.vdiv_range_mrad = Some(d);
            Ok(())
        }),
    flag!(["-hdivrange"], V(1), Beam, "<mrad>", "horizontal divergence range (mrad) (default 0)",
        |c, v| { c.scene.beam.hdiv_range_mrad = Some(v.f64(0)?); Ok(()) }),
    flag!(["-vdivrange"], V(1), Beam, "<mrad>", "vertical divergence range (mrad) (default 0)",
        |c, v| { c.scene.beam.vdiv_range_mrad = Some(v.f64(0)?); Ok(()) }),
    flag!(["-hdivstep"], V(1), Beam, "<mrad>", "horizontal divergence step (mrad) (default: auto)",
        |c, v| { c.scene.beam.hdiv_step_mrad = Some(v.f64(0)?); Ok(()) }),
    flag!(["-vdivstep"], V(1), Beam, "<mrad>", "vertical divergence step (mrad) (default: auto)",
        |c, v| { c.scene.beam.vdiv_step_mrad = Some(v.f64(0)?); Ok(()) }),
    flag!(["-hdivsteps"], V(1), Beam, "<int>", "horizontal divergence step count (default: auto)",
        |c, v| { c.scene.beam.hdiv_steps = Some(v.int(0)?); Ok(()) }),
    flag!(["-vdivsteps"], V(1), Beam, "<int>", "vertical divergence step count (default: auto)",
        |c, v| { c.scene.beam.vdiv_steps = Some(v.int(0)?); Ok(()) }),
    flag!(["-divsteps"], V(1), Beam, "<int>", "horizontal and vertical divergence step counts",
        |c, v| {
            let n = v.int(0)?;
            c.scene.beam.hdiv_steps = Some(n);
            c.scene.beam.vdiv_steps = Some(n);
            Ok(())
        }),
    flag!(["-round_div"], Switch, Beam, "",
        "trim the divergence grid to an ellipse (default)",
        |c, _| { c.scene.beam.round_div = Some(true); Ok(()) }),
    flag!(["-square_div"], Switch, Beam, "",
        "keep the full rectangular divergence grid",
        |c, _| { c.scene.beam.round_div = Some(false); Ok(()) }),
    flag!(["-polar"], V(1), Beam, "<K>",
        "Kahn polarization factor (default 0); re-enables polarization after -nopolar",
        |c, v| {
            c.scene.beam.polarization_k = Some(v.f64(0)?);
            c.scene.beam.nopolar = false;
            Ok(())
        }),
    flag!(["-nopolar"], Switch, Beam, "",
        "no polarization correction (factor 1)",
        |c, _| { c.scene.beam.nopolar = true; Ok(()) }),
    flag!(["-fluence"], V(1), Beam, "<photons/m^2>",
        "incident fluence (default 1.25932e29)",
        |c, v| { c.scene.beam.fluence = Some(v.f64(0)?); Ok(()) }),
    flag!(["-flux"], V(1), Beam, "<photons/s>",
        "incident flux; with -exposure and -beamsize sets fluence = flux*exposure/beamsize^2 (default 0)",
        |c, v| { c.scene.beam.flux = Some(v.f64(0)?); Ok(()) }),
    flag!(["-exposure"], V(1), Beam, "<s>", "exposure time (s) (default 1)",
        |c, v| { c.scene.beam.exposure_s = Some(v.f64(0)?); Ok(()) }),
    flag!(["-beamsize"], V(1), Beam, "<mm>",
        "beam size (mm); also clips the crystal's y and z widths (default 0.1)",
        |c, v| { c.scene.beam.beamsize_mm = Some(v.f64(0)?); Ok(()) }),
    flag!(["-coherent"], Switch, Beam, "",
        "coherent sources: accepted, no effect (as in nanoBragg)",
        |_, _| Ok(())),
    // ---------------------------------------------------------------- detector
    flag!(["-pixel"], V(1), Detector, "<mm>", "pixel size (mm) (default 0.1)",
        |c, v| { c.scene.detector.pixel_mm = Some(v.f64(0)?); Ok(()) }),
    flag!(["-detpixels"], V(1), Detector, "<int>",
        "pixels along fast and slow axes (default: detsize/pixel = 1024)",
        |c, v| {
            let n = v.int(0)?;
            c.scene.detector.fpixels = Some(n);
            c.scene.detector.spixels = Some(n);
            Ok(())
        }),
    flag!(["-detpixels_f", "-detpixels_x"], V(1), Detector, "<int>", "pixels along the fast axis",
        |c, v| { c.scene.detector.fpixels = Some(v.int(0)?); Ok(()) }),
    flag!(["-detpixels_s", "-detpixels_y"], V(1), Detector, "<int>", "pixels along the slow axis",
        |c, v| { c.scene.detector.spixels = Some(v.int(0)?); Ok(()) }),
    flag!(["-detsize"], V(1), Detector, "<mm>",
        "detector side along fast and slow (mm) (default 102.4; pixel counts take precedence)",
        |c, v| {
            let s = v.f64(0)?;
            c.scene.detector.detsize_f_mm = Some(s);
            c.scene.detector.detsize_s_mm = Some(s);
            Ok(())
        }),
    flag!(["-detsize_f"], V(1), Detector, "<mm>", "detector side along the fast axis (mm)",
        |c, v| { c.scene.detector.detsize_f_mm = Some(v.f64(0)?); Ok(()) }),
    flag!(["-detsize_s"], V(1), Detector, "<mm>", "detector side along the slow axis (mm)",
        |c, v| { c.scene.detector.detsize_s_mm = Some(v.f64(0)?); Ok(()) }),
    flag!(["-distance"], V(1), Detector, "<mm>",
        "sample to detector centre along the beam (mm) (default 100); sets pivot BEAM",
        |c, v| {
            c.scene.detector.distance_mm = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Beam);
            Ok(())
        }),
    flag!(["-close_distance"], V(1), Detector, "<mm>",
        "sample to detector plane along its normal (mm); sets pivot SAMPLE",
        |c, v| {
            c.scene.detector.close_distance_mm = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-Xbeam"], V(1), Detector, "<mm>",
        "direct-beam position (mm) (default: detector centre); sets pivot BEAM",
        |c, v| {
            c.scene.detector.xbeam_mm = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Beam);
            Ok(())
        }),
    flag!(["-Ybeam"], V(1), Detector, "<mm>",
        "direct-beam position (mm) (default: detector centre); sets pivot BEAM",
        |c, v| {
            c.scene.detector.ybeam_mm = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Beam);
            Ok(())
        }),
    flag!(["-Xclose"], V(1), Detector, "<mm>",
        "point of closest approach on the detector (mm); sets pivot SAMPLE",
        |c, v| {
            c.scene.detector.xclose_mm = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-Yclose"], V(1), Detector, "<mm>",
        "point of closest approach on the detector (mm); sets pivot SAMPLE",
        |c, v| {
            c.scene.detector.yclose_mm = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-ORGX"], V(1), Detector, "<pixels>",
        "XDS-style beam centre, fast (pixels); sets pivot SAMPLE",
        |c, v| {
            c.scene.detector.orgx_px = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-ORGY"], V(1), Detector, "<pixels>",
        "XDS-style beam centre, slow (pixels); sets pivot SAMPLE",
        |c, v| {
            c.scene.detector.orgy_px = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-pivot"], V(1), Detector, "beam|sample",
        "point held fixed by detector rotations (default: the convention's)",
        |c, v| {
            let p = match v.str(0).trim().to_ascii_lowercase().as_str() {
                "beam" => Pivot::Beam,
                "sample" => Pivot::Sample,
                _ => return Err(v.invalid(0, "beam or sample")),
            };
            c.scene.detector.pivot = Some(p);
            Ok(())
        }),
    flag!(["-mosflm"], Switch, Detector, "",
        "MOSFLM convention: beam +x, fast +z, slow -y, pivot BEAM (default)",
        |c, _| { set_convention(c, Convention::Mosflm, Pivot::Beam); Ok(()) }),
    flag!(["-xds"], Switch, Detector, "",
        "XDS convention: beam +z, fast +x, slow +y, pivot SAMPLE",
        |c, _| { set_convention(c, Convention::Xds, Pivot::Sample); Ok(()) }),
    flag!(["-adxv"], Switch, Detector, "",
        "ADXV convention: beam +z, fast +x, slow -y, pivot BEAM",
        |c, _| { set_convention(c, Convention::Adxv, Pivot::Beam); Ok(()) }),
    flag!(["-denzo"], Switch, Detector, "",
        "DENZO convention: MOSFLM axes without the half-pixel shift, pivot BEAM",
        |c, _| { set_convention(c, Convention::Denzo, Pivot::Beam); Ok(()) }),
    flag!(["-dials"], Switch, Detector, "",
        "DIALS convention: beam +z, fast +x, slow +y (the flag records pivot BEAM, as nanoBragg's does)",
        |c, _| { set_convention(c, Convention::Dials, Pivot::Beam); Ok(()) }),
    flag!(["-fdet_vector"], V(3), Detector, "<x> <y> <z>",
        "fast-axis unit vector (default: the convention's, MOSFLM 0 0 1); sets convention CUSTOM",
        |c, v| { c.scene.detector.fdet_vector = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-sdet_vector"], V(3), Detector, "<x> <y> <z>",
        "slow-axis unit vector (MOSFLM 0 -1 0); sets convention CUSTOM",
        |c, v| { c.scene.detector.sdet_vector = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-odet_vector"], V(3), Detector, "<x> <y> <z>",
        "detector normal, away from the sample (MOSFLM 1 0 0); sets convention CUSTOM",
        |c, v| { c.scene.detector.odet_vector = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-beam_vector"], V(3), Detector, "<x> <y> <z>",
        "x-ray beam direction (MOSFLM 1 0 0); sets convention CUSTOM",
        |c, v| { c.scene.detector.beam_vector = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-polar_vector"], V(3), Detector, "<x> <y> <z>",
        "E-vector polarization axis (MOSFLM 0 0 1); sets convention CUSTOM",
        |c, v| { c.scene.detector.polar_vector = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-spindle_axis"], V(3), Detector, "<x> <y> <z>",
        "right-handed phi rotation axis (MOSFLM 0 0 1); sets convention CUSTOM",
        |c, v| { c.scene.detector.spindle_axis = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-twotheta_axis"], V(3), Detector, "<x> <y> <z>",
        "2theta rotation axis (MOSFLM 0 0 -1); sets convention CUSTOM. nanoBragg quirk kept: also sets -twotheta to x and pivot SAMPLE",
        |c, v| {
            let axis = custom_vec(c, v)?;
            c.scene.detector.twotheta_axis = Some(axis);
            // C quirk: strstr(argv[i], "-twotheta") also matches "-twotheta_axis".
            c.scene.detector.twotheta_deg = Some(axis[0]);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-pix0_vector"], V(3), Detector, "<x> <y> <z>",
        "sample to first pixel (m): recorded but, as in nanoBragg, recomputed from the beam centre; sets convention CUSTOM",
        |c, v| { c.scene.detector.pix0_vector_m = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-detector_rotx"], V(1), Detector, "<deg>", "detector rotation about lab x (deg) (default 0)",
        |c, v| { c.scene.detector.rotx_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-detector_roty"], V(1), Detector, "<deg>", "detector rotation about lab y (deg) (default 0)",
        |c, v| { c.scene.detector.roty_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-detector_rotz"], V(1), Detector, "<deg>", "detector rotation about lab z (deg) (default 0)",
        |c, v| { c.scene.detector.rotz_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-twotheta"], V(1), Detector, "<deg>",
        "detector rotation about the 2theta axis (deg) (default 0); sets pivot SAMPLE",
        |c, v| {
            c.scene.detector.twotheta_deg = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-curved_det"], Switch, Detector, "",
        "pixels on a sphere about the sample: all equidistant",
        |c, _| { c.scene.detector.curved_det = true; Ok(()) }),
    flag!(["-point_pixel"], Switch, Detector, "",
        "solid angle 1/R^2 without the obliquity factor",
        |c, _| { c.scene.detector.point_pixel = true; Ok(()) }),
    flag!(["-detector_abs", "-detector_absorb"], V(1), Detector, "<um>|inf|0",
        "sensor attenuation depth (um); 'inf' or 0 disable absorption (default: disabled)",
        |c, v| {
            let depth = if v.str(0).to_ascii_lowercase().contains("inf") {
                f64::INFINITY
            } else {
                v.f64(0)?
            };
            c.scene.detector.abs_depth_um = Some(depth);
            if depth.is_infinite() || depth == 0.0 {
                // C: `-detector_abs inf|0` also zeroes the thickness given so far; a later
                // `-detector_thick` sets it again (with μ = 0: an all-zero image).
                c.scene.detector.thick_um = Some(0.0);
            }
            Ok(())
        }),
    flag!(["-detector_thick"], V(1), Detector, "<um>", "sensor thickness (um) (default 0)",
        |c, v| { c.scene.detector.thick_um = Some(v.f64(0)?); Ok(()) }),
    flag!(["-detector_thicksteps", "-thicksteps"], V(1), Detector, "<int>",
        "layers through the sensor thickness (default 1)",
        |c, v| { c.scene.detector.thick_steps = Some(v.int(0)?); Ok(()) }),
    // ---------------------------------------------------------------- sampling
    flag!(["-phi"], V(1), Sampling, "<deg>", "starting spindle angle (deg) (default 0)",
        |c, v| { c.scene.spindle.phi_start_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-osc"], V(1), Sampling, "<deg>", "oscillation range (deg) (default 0)",
        |c, v| { c.scene.spindle.osc_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-phistep"], V(1), Sampling, "<deg>", "spindle step (deg) (default: auto)",
        |c, v| { c.scene.spindle.phi_step_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-phisteps"], V(1), Sampling, "<int>", "number of spindle steps (default: auto)",
        |c, v| { c.scene.spindle.phi_steps = Some(v.int(0)?); Ok(()) }),
    flag!(["-oversample"], V(1), Sampling, "<int>",
        "sub-pixels per pixel axis (default: auto from crystal size)",
        |c, v| { c.scene.sampling.oversample = Some(v.int(0)?); Ok(()) }),
    flag!(["-oversample_thick"], Switch, Sampling, "",
        "apply the absorption capture fraction per sub-pixel (not the default)",
        |c, _| { c.scene.sampling.oversample_thick = true; Ok(()) }),
    flag!(["-oversample_polar"], Switch, Sampling, "",
        "apply polarization per sub-pixel (not the default)",
        |c, _| { c.scene.sampling.oversample_polar = true; Ok(()) }),
    flag!(["-oversample_omega"], Switch, Sampling, "",
        "apply the solid angle per sub-pixel (not the default)",
        |c, _| { c.scene.sampling.oversample_omega = true; Ok(()) }),
    flag!(["-roi"], V(4), Sampling, "<xmin> <xmax> <ymin> <ymax>",
        "render only fast pixels xmin..=xmax, slow pixels ymin..=ymax (default: all)",
        |c, v| {
            c.scene.sampling.roi = Some([v.int(0)?, v.int(1)?, v.int(2)?, v.int(3)?]);
            Ok(())
        }),
    flag!(["-dmin"], V(1), Sampling, "<A>",
        "skip contributions with d-spacing below this (A) (default 0: off)",
        |c, v| { c.scene.sampling.dmin_a = Some(v.f64(0)?); Ok(()) }),
    flag!(["-water"], V(1), Sampling, "<um>",
        "water background: droplet size (um) (default 0: none)",
        |c, v| { c.scene.sampling.water_um = Some(v.f64(0)?); Ok(()) }),
    // ---------------------------------------------------------------- output
    flag!(["-floatfile", "-floatimage"], V(1), Output, "<file>",
        "raw 4-byte float image, fast-major",
        |c, v| { c.scene.io.floatfile = Some(v.path(0)?); Ok(()) }),
    flag!(["-intfile", "-intimage"], V(1), Output, "<file>",
        "noiseless SMV image (unsigned short, scaled by -scale, offset by -adc)",
        |c, v| { c.scene.io.intfile = Some(v.path(0)?); Ok(()) }),
    flag!(["-noisefile", "-noiseimage"], V(1), Output, "<file>",
        "SMV image with Poisson noise; re-enables noise after -nonoise",
        |c, v| {
            c.scene.io.noisefile = Some(v.path(0)?);
            c.scene.io.nonoise = false;
            Ok(())
        }),
    flag!(["-pgmfile", "-pgmimage"], V(1), Output, "<file>",
        "8-bit PGM image; re-enables the PGM after -nopgm",
        |c, v| {
            c.scene.io.pgmfile = Some(v.path(0)?);
            c.scene.io.nopgm = false;
            Ok(())
        }),
    flag!(["-scale"], V(1), Output, "<factor>",
        "scale of the -intfile pixels (default <= 0: auto, max pixel -> 55000)",
        |c, v| { c.scene.io.int_scale = Some(v.f64(0)?); Ok(()) }),
    flag!(["-adc"], V(1), Output, "<counts>",
        "offset added to SMV and noise pixels (default 40)",
        |c, v| { c.scene.io.adc_offset = Some(v.f64(0)?); Ok(()) }),
    flag!(["-pgmscale"], V(1), Output, "<factor>",
        "scale of the PGM pixels (default <= 0: auto); re-enables the PGM after -nopgm",
        |c, v| {
            c.scene.io.pgm_scale = Some(v.f64(0)?);
            c.scene.io.nopgm = false;
            Ok(())
        }),
    flag!(["-nopgm"], Switch, Output, "", "do not write the PGM image",
        |c, _| { c.scene.io.nopgm = true; Ok(()) }),
    flag!(["-nonoise"], Switch, Output, "", "do not write the noise image",
        |c, _| { c.scene.io.nonoise = true; Ok(()) }),
    flag!(["-seed"], V(1), Output, "<int>",
        "seed of the Poisson noise (default: from the clock)",
        |c, v| { c.scene.io.seed = Some(v.int(0)?); Ok(()) }),
    flag!(["-printout"], Switch, Output, "", "print pixel values to the screen",
        |c, _| { c.scene.io.printout = true; Ok(()) }),
    flag!(["-printout_pixel"], V(2), Output, "<fast> <slow>",
        "limit -printout to one pixel (turns -printout on, as in nanoBragg)",
        |c, v| {
            c.scene.io.printout_pixel = Some([v.int(0)?, v.int(1)?]);
            c.scene.io.printout = true;
            Ok(())
        }),
    flag!(["-trace_pixel", "-dump_pixel"], V(2), Output, "<slow> <fast>",
        "print an instrumented trace of one pixel",
        |c, v| { c.scene.io.trace_pixel = Some([v.int(0)?, v.int(1)?]); Ok(()) }),
    flag!(["-progress"], Switch, Output, "", "show the progress meter (default)",
        |c, _| { c.scene.io.progress = Some(true); Ok(()) }),
    flag!(["-noprogress"], Switch, Output, "", "hide the progress meter",
        |c, _| { c.scene.io.progress = Some(false); Ok(()) }),
    // ---------------------------------------------------------------- ours
    flag!(["-h", "-help", "--help"], Switch, Ours, "", "print this help and exit",
        |c, _| { c.help = true; Ok(()) }),
    flag!(["-dtype"], V(1), Ours, "f32|f64", "float precision of the render (default f64)",
        |c, v| {
            c.dtype = v.str(0).trim().parse().map_err(|_| v.invalid(0, "f32 or f64"))?;
            Ok(())
        }),
    flag!(["-backend"], V(1), Ours, "<name>", "Burn backend: ndarray (default), flex (f32 only), cuda (built with --features cuda)",
        |c, v| {
            let name = v.str(0).trim();
            if name.is_empty() {
                return Err(v.invalid(0, "a backend name"));
            }
            c.backend = name.to_string();
            Ok(())
        }),
    flag!(["-wrt"], V(1), Ours, "<name,name,...>",
        "nanobragg grad: parameters to differentiate with respect to (names and units: see GRADIENT PARAMETERS)",
        |c, v| {
            c.wrt = v.str(0).split(',').filter(|s| !s.is_empty()).map(String::from).collect();
            Ok(())
        }),
    flag!(["-loss"], V(1), Ours, "sum|l2:target.bin|poisson:target.bin",
        "nanobragg grad: loss over the rendered pixels (default sum = the sum of the float image); nanobragg refine: poisson (default) or l2[:sigma]",
        |c, v| { c.loss = Some(v.str(0).to_string()); Ok(()) }),
    flag!(["-target"], V(1), Ours, "<file.img|file.bin>",
        "nanobragg refine: measured image, SMV (ADC offset -adc removed) or raw 4-byte floats",
        |c, v| { c.refine.target = Some(v.path(0)?); Ok(()) }),
    flag!(["-refine"], V(1), Ours, "<name,name,...>",
        "nanobragg refine: parameters to refine (GRADIENT PARAMETERS names, and scale)",
        |c, v| {
            c.refine.names = v.str(0).split(',').filter(|s| !s.is_empty()).map(String::from).collect();
            Ok(())
        }),
    flag!(["-background"], V(1), Ours, "<file.bin>",
        "nanobragg refine: known background (raw 4-byte floats, photons) added to the model",
        |c, v| { c.refine.background = Some(v.path(0)?); Ok(()) }),
    flag!(["-optimizer"], V(1), Ours, "lbfgs|adam",
        "nanobragg refine: optimiser (default lbfgs)",
        |c, v| {
            let o = v.str(0).trim().to_ascii_lowercase();
            if o != "lbfgs" && o != "adam" {
                return Err(v.invalid(0, "lbfgs or adam"));
            }
            c.refine.optimizer = Some(o);
            Ok(())
        }),
    flag!(["-max_iter"], V(1), Ours, "<int>",
        "nanobragg refine: iteration limit (default 200)",
        |c, v| {
            let n = usize::try_from(v.int(0)?)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| v.invalid(0, "a positive integer"))?;
            c.refine.max_iter = Some(n);
            Ok(())
        }),
    flag!(["-refined_scene"], V(1), Ours, "<out.toml>",
        "nanobragg refine: write the refined scene here (default: the -dump_scene file, else refined_scene.toml)",
        |c, v| { c.refine.refined_scene = Some(v.path(0)?); Ok(()) }),
    flag!(["-refined_mat"], V(1), Ours, "<out.mat>",
        "nanobragg refine: also write the refined orientation as a MOSFLM A matrix",
        |c, v| { c.refine.refined_mat = Some(v.path(0)?); Ok(()) }),
    flag!(["-default_scene"], Switch, Ours, "",
        "start from the built-in default scene (100 A cubic cell, 256x256 detector); other flags apply on top",
        |_c, _v| Ok(())),
    flag!(["-scene"], V(1), Ours, "<file.toml>",
        "load a scene file first; every other flag applies on top of it",
        |c, v| { c.scene_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-dump_scene"], V(1), Ours, "<out.toml>", "write the final scene as TOML",
        |c, v| { c.dump_scene = Some(v.path(0)?); Ok(()) }),
    flag!(["-phi_carryover_mode"], V(1), Ours, "spec|c-parity",
        "phi = 0 steps: 'spec' rotates each step (default); 'c-parity' reproduces nanoBragg's phi cache",
        |c, v| {
            c.phi_carryover_mode =
                v.str(0).trim().parse().map_err(|_| v.invalid(0, "spec or c-parity"))?;
            Ok(())
        }),
    flag!(["-tile_pixels"], V(1), Ours, "<int>",
        "pixels per render tile (default: the renderer's choice)",
        |c, v| {
            let n = v.int(0)?;
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| v.invalid(0, "a positive integer"))?;
            c.tile_pixels = Some(n);
            Ok(())
        }),
    flag!(["-engine"], V(1), Ours, "auto|tensor",
        "tile renderer: 'auto' uses the backend's fused kernel where it has one (default); \
         'tensor' always runs the tensor-op reference path",
        |c, v| {
            c.engine = match v.str(0).trim() {
                "auto" => nanobragg::kernel::Engine::Auto,
                "tensor" => nanobragg::kernel::Engine::Tensor,
                _ => return Err(v.invalid(0, "auto or tensor")),
            };
            Ok(())
        }),
    flag!(["-floatfile_f64"], V(1), Ours, "<file>",
        "raw 8-byte float (f64, little-endian) image, fast-major: the render's values before \
         rounding to -floatfile's f32",
        |c, v| { c.scene.io.floatfile_f64 = Some(v.path(0)?); Ok(()) }),
    flag!(["-pngfile"], V(1), Ours, "<file>", "PNG preview image",
        |c, v| { c.scene.io.pngfile = Some(v.path(0)?); Ok(()) }),
    flag!(["-png_log"], Switch, Ours, "", "log-scale the PNG preview",
        |c, _| { c.scene.io.png_log = true; Ok(()) }),
];

/// A named convention sets its axes and records its pivot (as the C argument loop does).
fn set_convention(c: &mut CommandLine, convention: Convention, pivot: Pivot) {
    c.scene.detector.convention = convention;
    c.scene.detector.pivot = Some(pivot);
}

/// Three components of a custom vector; switches the convention to CUSTOM.
fn custom_vec(c: &mut CommandLine, v: &Values<'_>) -> Result<[f64; 3]> {
    let xyz = v.vec3()?;
    c.scene.detector.convention = Convention::Custom;
    Ok(xyz)
}

/// Every flag the parser accepts, in usage order. Each entry's `names` are its spellings.
pub fn flag_table() -> &'static [FlagSpec] {
    FLAGS
}

/// The table entry whose names include `name` exactly, if any.
pub fn lookup(name: &str) -> Option<&'static FlagSpec> {
    FLAGS.iter().find(|spec| spec.names.contains(&name))
}

/// One flag occurrence: its entry, the name as typed, its values.
struct Occurrence<'a> {
    spec: &'static FlagSpec,
    flag: &'a str,
    /// Index of the first value in the argument list.
    first: usize,
    /// Number of values.
    n: usize,
}

impl Occurrence<'_> {
    fn values<'b>(&'b self, raw: &'b [OsString], text: &'b [String]) -> Values<'b> {
        let range = self.first..self.first + self.n;
        Values {
            flag: self.flag,
            raw: &raw[range.clone()],
            text: &text[range],
        }
    }
}

fn missing(flag: &str, expected: &str, got: usize) -> CliError {
    CliError::MissingValue {
        flag: flag.to_string(),
        expected: expected.to_string(),
        got,
    }
}

/// Split the arguments into flag occurrences (syntax only; values are parsed later).
fn tokenize(args: &[String]) -> Result<Vec<Occurrence<'_>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let tok = args[i].as_str();
        let spec = match lookup(tok) {
            Some(spec) => spec,
            None if tok.starts_with('-') => return Err(CliError::UnknownFlag(tok.to_string())),
            None => return Err(CliError::UnexpectedArgument(tok.to_string())),
        };
        let rest = &args[i + 1..];
        // A value slot may hold a negative number, but never a known flag.
        let available = rest.iter().take_while(|t| lookup(t).is_none()).count();
        let n = match spec.arity {
            Arity::Switch => 0,
            Arity::Values(n) => {
                if available < n {
                    let expected = match n {
                        1 => format!("a value {}", spec.values),
                        _ => format!("{n} values {}", spec.values),
                    };
                    return Err(missing(tok, &expected, available));
                }
                n
            }
            Arity::Cell => {
                // The C program stops at the first token beginning with '-' (so it drops a
                // negative angle and treats it as an unknown flag); here a number is a value.
                let n = rest
                    .iter()
                    .take(6)
                    .take_while(|t| !t.starts_with('-') || (parse_f64(t).is_some() && lookup(t).is_none()))
                    .count();
                if n == 0 {
                    return Err(missing(
                        tok,
                        "1 to 6 values <a> <b> <c> <alpha> <beta> <gamma>",
                        0,
                    ));
                }
                n
            }
            Arity::Misset => {
                if available >= 1 && rest[0].to_ascii_lowercase().contains("rand") {
                    1
                } else if available >= 3 {
                    3
                } else {
                    return Err(missing(
                        tok,
                        "3 values <rotx> <roty> <rotz>, or 'random'",
                        available,
                    ));
                }
            }
        };
        out.push(Occurrence {
            spec,
            flag: tok,
            first: i + 1,
            n,
        });
        i += 1 + n;
    }
    Ok(out)
}

/// Load a `-scene` TOML file.
fn load_scene(path: &std::path::Path) -> Result<Scene> {
    let bytes = nanobragg::io::read_bytes(path).map_err(|e| CliError::SceneRead {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| CliError::SceneRead {
        path: path.to_path_buf(),
        message: "not UTF-8 text".into(),
    })?;
    Scene::from_toml_str(&text).map_err(|e| CliError::SceneParse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Parse a nanoBragg command line (WITHOUT the program name).
///
/// Flags are applied left to right onto [`Scene::default`], or onto the scene loaded from
/// `-scene file.toml` (loaded before every other flag, wherever it stands); see the
/// [module documentation](self) for the exact semantics and the C quirks kept.
///
/// Returns [`CliError`] for an unknown flag, a missing or malformed value, a stray
/// positional argument, or an unreadable `-scene` file. Never panics.
pub fn parse_args<I, S>(args: I) -> Result<CommandLine>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let raw: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let args: Vec<String> = raw.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let occurrences = tokenize(&args)?;

    let mut cl = CommandLine::default();
    if occurrences.iter().any(|o| o.spec.name() == "-default_scene") {
        cl.scene = Scene::builtin_default();
    }
    if let Some(scene_flag) = occurrences.iter().rev().find(|o| o.spec.name() == "-scene") {
        cl.scene = load_scene(&scene_flag.values(&raw, &args).path(0)?)?;
    }
    for occ in &occurrences {
        (occ.spec.apply)(&mut cl, &occ.values(&raw, &args))?;
    }
    Ok(cl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for spec in FLAGS {
            for name in spec.names {
                assert!(seen.insert(*name), "duplicate flag name {name}");
            }
        }
    }

    #[test]
    fn integers() {
        assert_eq!(parse_int("64"), Some(64));
        assert_eq!(parse_int("+64"), Some(64));
        assert_eq!(parse_int("-3"), Some(-3));
        assert_eq!(parse_int("64.0"), Some(64));
        assert_eq!(parse_int("64."), Some(64));
        assert_eq!(parse_int("64.5"), None);
        assert_eq!(parse_int("1e3"), None);
        assert_eq!(parse_int("."), None);
        assert_eq!(parse_int("-.0"), None);
        assert_eq!(parse_int(""), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_f64("1e3"), Some(1000.0));
        assert_eq!(parse_f64("-0.5"), Some(-0.5));
        assert_eq!(parse_f64("inf"), None);
        assert_eq!(parse_f64("nan"), None);
        assert_eq!(parse_f64("1e999"), None);
        assert_eq!(parse_f64("abc"), None);
    }
}
