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
//!   and a stray positional argument are errors ([`CliError`](crate::error::CliError)); the C program ignores the
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

//!
//! # Layout
//!
//! * `spec.rs`: what a table entry is ([`FlagSpec`], [`Arity`], [`FlagGroup`]) and how a
//!   setter reads its values (numbers as C reads them, file names byte for byte).
//! * `table.rs`: the table itself, [`flag_table`] and [`lookup`].
//! * `tokenize.rs`: the argument list split into flag occurrences, and the `-scene` loader.
//! * `mod.rs`: what a command line says ([`CommandLine`]) and [`parse_args`], which applies it.

mod spec;
mod table;
mod tokenize;

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use nanobragg::scene::Scene;

use crate::error::Result;

pub use spec::{Arity, FlagGroup, FlagSpec};
pub use table::{flag_table, lookup};

use tokenize::{load_scene, tokenize};

/// `FromStr` (the keyword, ASCII case-insensitive) and `Display` (the keyword) for an enum
/// whose every variant is one keyword of a flag's value: `Type, "from_str doc", { Variant =>
/// "keyword", ... }`.
macro_rules! keyword_impls {
    ($ty:ident, $doc:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl FromStr for $ty {
            type Err = ();
            #[doc = $doc]
            fn from_str(s: &str) -> std::result::Result<Self, ()> {
                match s.to_ascii_lowercase().as_str() {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(()),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $($ty::$variant => $text,)+
                })
            }
        }
    };
}

/// Floating-point precision of the render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DType {
    /// 32-bit floats (`-dtype f32`).
    F32,
    /// 64-bit floats (`-dtype f64`, the default; what the C program uses).
    #[default]
    F64,
}

keyword_impls!(DType, "`f32` or `f64` (ASCII case-insensitive).", {
    F32 => "f32",
    F64 => "f64",
});

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

keyword_impls!(PhiCarryoverMode, "`spec` or `c-parity` (ASCII case-insensitive).", {
    Spec => "spec",
    CParity => "c-parity",
});

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
    /// `-loss poisson|l2[:sigma]|huber[:c]` (`nanobragg refine`, `ensemble`), default `poisson`.
    pub loss: Option<String>,
    /// `nanobragg refine` options (`-target`, `-refine`, …).
    pub refine: RefineArgs,
    /// `-expt file`: a DIALS experiment list whose models fill the scene's unset fields.
    pub expt: Option<PathBuf>,
    /// `-experiment N`: which experiment of `-expt` (default 0).
    pub experiment: usize,
    /// `-panel N|all`: which panels of a multi-panel detector to render (default all).
    pub panel: PanelChoice,
    /// `-nxsfile out.nxs`: NeXus/HDF5 NXmx image of every panel rendered, with the detector
    /// model (written only by a binary built with the cargo feature `nexus`).
    pub nxsfile: Option<PathBuf>,
    /// `nanobragg batch -shots list.toml`: the shots to render against the scene.
    pub shots: Option<PathBuf>,
    /// `nanobragg batch -outdir dir`: where each shot's files go (default `.`).
    pub outdir: Option<PathBuf>,
    /// `nanobragg ensemble` options (`-refine_shot`, `-cycles`, …).
    pub ensemble: EnsembleArgs,
    /// The stream of `-noise_rng philox` (`nanobragg batch`: the shot's index in its list; 0
    /// for one image).
    pub noise_stream: u32,
}

/// `nanobragg ensemble -schedule`: what each cycle refines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScheduleArg {
    /// Every variable as one problem.
    #[default]
    Joint,
    /// Each shot's own variables, then the structure factors.
    Alternating,
    /// Each shot's own variables only (per-shot refinement, the structure factors held).
    Shots,
}

/// Options of `nanobragg ensemble` (with `-shots`, `-outdir`, `-loss`, `-optimizer`,
/// `-max_iter`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnsembleArgs {
    /// `-refine_shot a,b,...`: each shot's own variables (parameter names, and scale).
    pub own: Vec<String>,
    /// `-cycles N`: cycles of the schedule (default 1).
    pub cycles: Option<usize>,
    /// `-schedule joint|alternating|shots` (default joint).
    pub schedule: ScheduleArg,
    /// `-checkpoint_every K`: write the checkpoint every K cycles (default: at the end only).
    pub checkpoint_every: Option<usize>,
    /// `-restart checkpoint.json`: continue the run a checkpoint stopped.
    pub restart: Option<PathBuf>,
    /// `-F_prior frac`: restrain each F to its start with σ = frac·max(F_start, 1).
    pub f_prior: Option<f64>,
    /// `-skip_bad_shots`: leave out (and report) a shot whose image or scene is refused,
    /// instead of stopping.
    pub skip_bad_shots: bool,
}

/// Which panels of a multi-panel detector a run renders (`-panel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PanelChoice {
    /// Every panel (the default).
    #[default]
    All,
    /// Panel N alone, as a single detector.
    One(usize),
}

/// Options of `nanobragg refine`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RefineArgs {
    /// `-target file`: the measured image (SMV `.img`/`.smv`, ADC offset removed, or raw f32).
    pub target: Option<PathBuf>,
    /// `-refine a,b,...`: parameters to refine (gradient parameter names, plus `scale`).
    pub names: Vec<String>,
    /// `-refine_per_panel a,b,...`: parameters refined once per panel of a multi-panel detector.
    pub per_panel: Vec<String>,
    /// `-refine_per_group a,b,...`: parameters refined once per panel group (dxtbx hierarchy parent).
    pub per_group: Vec<String>,
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
    /// `-refined_expt out.expt`: also write the `-expt` experiment list with the refined panel,
    /// wavelength and crystal.
    pub refined_expt: Option<PathBuf>,
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
            expt: None,
            experiment: 0,
            panel: PanelChoice::All,
            nxsfile: None,
            shots: None,
            outdir: None,
            ensemble: EnsembleArgs::default(),
            noise_stream: 0,
        }
    }
}

/// Parse a nanoBragg command line (WITHOUT the program name).
///
/// Flags are applied left to right onto [`Scene::default`], or onto the scene loaded from
/// `-scene file.toml` (loaded before every other flag, wherever it stands); see the
/// [module documentation](self) for the exact semantics and the C quirks kept.
///
/// Returns [`CliError`](crate::error::CliError) for an unknown flag, a missing or malformed value, a stray
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
