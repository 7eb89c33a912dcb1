//! Scene → setup: defaults, conventions, precedence rules and auto-selected step counts.
//!
//! Everything here is host-side and discrete or constant: which convention's vectors apply, how
//! many sources/φ steps/domains/layers there are, which pixels are rendered. The continuous
//! quantities are carried in SI units to [`crate::params::Params`], where they become tensors.
//! The rules mirror the C program (see `docs/parity.md`).

use std::path::{Path, PathBuf};

use crate::error::{NanobraggError, Result};
use crate::io;
use crate::linalg::{cross_f64, rotate_axis_f64, unit_f64};
use crate::scene::{Convention, LatticeShape, Pivot, Scene};
use crate::units::{self, DEFAULT_FLUENCE, RTD, SOURCE_DISTANCE_M};

/// Basis and beam vectors of a convention (before detector rotations).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axes {
    /// Incident beam direction b.
    pub beam: [f64; 3],
    /// Fast axis f.
    pub fdet: [f64; 3],
    /// Slow axis s.
    pub sdet: [f64; 3],
    /// Detector normal o.
    pub odet: [f64; 3],
    /// 2θ rotation axis.
    pub twotheta: [f64; 3],
    /// Polarization (E-vector) axis p.
    pub polar: [f64; 3],
    /// Spindle axis u.
    pub spindle: [f64; 3],
}

impl Axes {
    /// The vectors a named convention imposes; CUSTOM starts from the C program's initial values.
    pub fn of(convention: Convention) -> Self {
        match convention {
            Convention::Adxv => Axes {
                beam: [0., 0., 1.],
                fdet: [1., 0., 0.],
                sdet: [0., -1., 0.],
                odet: [0., 0., 1.],
                twotheta: [-1., 0., 0.],
                polar: [1., 0., 0.],
                spindle: [1., 0., 0.],
            },
            Convention::Mosflm | Convention::Denzo => Axes {
                beam: [1., 0., 0.],
                fdet: [0., 0., 1.],
                sdet: [0., -1., 0.],
                odet: [1., 0., 0.],
                twotheta: [0., 0., -1.],
                polar: [0., 0., 1.],
                spindle: [0., 0., 1.],
            },
            Convention::Xds => Axes {
                beam: [0., 0., 1.],
                fdet: [1., 0., 0.],
                sdet: [0., 1., 0.],
                odet: [0., 0., 1.],
                twotheta: [1., 0., 0.],
                polar: [1., 0., 0.],
                spindle: [1., 0., 0.],
            },
            Convention::Dials => Axes {
                beam: [0., 0., 1.],
                fdet: [1., 0., 0.],
                sdet: [0., 1., 0.],
                odet: [0., 0., 1.],
                twotheta: [0., 1., 0.],
                polar: [0., 1., 0.],
                spindle: [0., 1., 0.],
            },
            Convention::Custom => Axes {
                beam: [1., 0., 0.],
                fdet: [0., 0., 1.],
                sdet: [0., -1., 0.],
                odet: [1., 0., 0.],
                twotheta: [0., 0., 1.],
                polar: [0., 0., 1.],
                spindle: [0., 0., 1.],
            },
        }
    }
}

/// How the beam centre parameters map to the detector-frame beam spot (Fbeam, Sbeam).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeamCenterMapping {
    /// MOSFLM: Fbeam = Ybeam + ½ pixel, Sbeam = Xbeam + ½ pixel.
    Mosflm,
    /// DENZO: Fbeam = Ybeam, Sbeam = Xbeam.
    Denzo,
    /// ADXV: Fbeam = Xbeam, Sbeam = detsize_s − Ybeam.
    Adxv,
    /// XDS, DIALS, CUSTOM: Fbeam = Xbeam, Sbeam = Ybeam.
    Direct,
}

/// Where the beam centre / near point come from when not given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CenterDefault {
    /// Given explicitly (mm converted to m).
    Given(f64),
    /// Default `(detsize + k·pixel)/2` with the given `k` (∈ {−1, 0, 1}).
    HalfDetector {
        /// Coefficient of the pixel size.
        pixel_coeff: f64,
    },
    /// From the XDS origin in pixels: `(ORG − ½)·pixel`.
    FromOrg(f64),
}

/// Resolved detector description (SI units).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorSetup {
    /// Convention in force.
    pub convention: Convention,
    /// Pivot in force.
    pub pivot: Pivot,
    /// Basis, beam, polarization, spindle and 2θ axes (unit vectors, before rotations).
    pub axes: Axes,
    /// Beam-centre mapping rule.
    pub mapping: BeamCenterMapping,
    /// Fast pixels.
    pub fpixels: usize,
    /// Slow pixels.
    pub spixels: usize,
    /// Pixel size (m).
    pub pixel_m: f64,
    /// Fast detector size (m) when fixed by `-detsize` rather than the pixel count.
    pub detsize_f_m: Option<f64>,
    /// Slow detector size (m) when fixed by `-detsize` rather than the pixel count.
    pub detsize_s_m: Option<f64>,
    /// Distance along the beam (m).
    pub distance_m: f64,
    /// Close distance along the normal (m), if given.
    pub close_distance_m: Option<f64>,
    /// Xbeam (m): the value given to `-Xbeam` (or its default rule).
    pub xbeam: CenterDefault,
    /// Ybeam (m): the value given to `-Ybeam` (or its default rule).
    pub ybeam: CenterDefault,
    /// Fclose (m) rule (XDS origin or half detector).
    pub fclose: CenterDefault,
    /// Sclose (m) rule.
    pub sclose: CenterDefault,
    /// Rotations about X, Y, Z (rad).
    pub rot_rad: [f64; 3],
    /// 2θ (rad).
    pub twotheta_rad: f64,
    /// Curved detector.
    pub curved: bool,
    /// Point-pixel solid angle.
    pub point_pixel: bool,
    /// Attenuation coefficient μ (m⁻¹); 0 when absorption is off.
    pub mu_per_m: f64,
    /// Sensor thickness (m); 0 when absorption is off.
    pub thick_m: f64,
    /// Number of sensor layers.
    pub thick_steps: usize,
    /// Layer step (m).
    pub thick_step_m: f64,
}

/// One incident-beam source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Source {
    /// Unit vector from the sample towards the source (the incident direction is its negative).
    pub direction: [f64; 3],
    /// Wavelength rule: λ = `fixed_m` + `scale`·λ0·(1 + dispersion·`disp_coeff`).
    pub fixed_m: f64,
    /// Multiplier of λ0 (1 for generated sources, 0 for file wavelengths).
    pub scale: f64,
    /// Coefficient of the dispersion fraction.
    pub disp_coeff: f64,
}

/// Resolved beam (SI units).
#[derive(Debug, Clone, PartialEq)]
pub struct BeamSetup {
    /// Central wavelength λ0 (m).
    pub wavelength_m: f64,
    /// Dispersion Δλ/λ (fraction).
    pub dispersion: f64,
    /// The sources, in the C program's loop order.
    pub sources: Vec<Source>,
    /// Kahn factor.
    pub polarization_k: f64,
    /// Polarization forced to 1 (initial value; see `docs/parity.md`).
    pub nopolar: bool,
    /// Fluence (photons/m²).
    pub fluence: f64,
    /// Number of accepted divergence points (for reporting).
    pub div_points: usize,
}

/// Where the unit cell comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum CellSource {
    /// Direct cell a, b, c (Å) and α, β, γ (rad).
    Cell([f64; 6]),
    /// MOSFLM A matrix columns a*, b*, c* (Å⁻¹ · λ(Å)), still multiplied by λ.
    Matrix([[f64; 3]; 3]),
}

/// Resolved crystal.
#[derive(Debug, Clone, PartialEq)]
pub struct CrystalSetup {
    /// Cell or matrix.
    pub cell: CellSource,
    /// Misset X, Y, Z (rad) (after `-misset random` was drawn).
    pub misset_rad: [f64; 3],
    /// Cells along a, b, c as given (before clamping ≥ 1 and crystal-size overrides).
    pub n_cells: [f64; 3],
    /// Crystal widths (m), 0 when not given.
    pub sample_size_m: [f64; 3],
    /// Lattice shape.
    pub shape: LatticeShape,
    /// Shape fudge.
    pub fudge: f64,
    /// Mosaic spread (rad).
    pub mosaic_spread_rad: f64,
    /// Mosaic domain rotation matrices (row-major, new = U·v), domain 0 the identity.
    pub mosaic_umats: Vec<[f64; 9]>,
    /// The same domains as (unit axis, angle ÷ spread): the renderer rebuilds each matrix as a
    /// rotation by `spread · ratio` about the axis, so the spread is differentiable.
    pub mosaic_axes: Vec<([f64; 3], f64)>,
    /// First φ (rad).
    pub phi0_rad: f64,
    /// φ step (rad).
    pub phi_step_rad: f64,
    /// Number of φ steps.
    pub phi_steps: usize,
    /// Oscillation range (rad), for headers.
    pub osc_rad: f64,
}

/// Resolved structure factors.
#[derive(Debug, Clone, PartialEq)]
pub struct StructureSetup {
    /// The HKL grid, if any was loaded.
    pub grid: Option<io::hkl::HklGrid>,
    /// Reflections read (the C program's `hkls`; interpolation needs at least one).
    pub reflections: usize,
    /// default_F.
    pub default_f: f64,
    /// Interpolation choice: `Some` when forced by a flag, `None` for auto (any N ≤ 2).
    pub interpolate: Option<bool>,
}

/// Resolved sampling, ROI, mask and background.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingSetup {
    /// `-oversample` if given (> 0); otherwise auto-selected later from the crystal size.
    pub oversample: Option<usize>,
    /// Per-sub-pixel capture fraction on the running sum.
    pub oversample_thick: bool,
    /// Per-sub-pixel polarization on the running sum.
    pub oversample_polar: bool,
    /// Per-sub-pixel solid angle on the running sum.
    pub oversample_omega: bool,
    /// Inclusive ROI: xmin, xmax, ymin, ymax (pixels).
    pub roi: [i64; 4],
    /// d_min (m), 0 = off.
    pub dmin_m: f64,
    /// Water droplet size (m).
    pub water_m: f64,
    /// Mask: `true` where the pixel is rendered (fast-major), if a mask file was given.
    pub mask: Option<Vec<bool>>,
}

/// A fully resolved scene, ready to become tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// Detector.
    pub detector: DetectorSetup,
    /// Beam.
    pub beam: BeamSetup,
    /// Crystal.
    pub crystal: CrystalSetup,
    /// Structure factors.
    pub structure: StructureSetup,
    /// Sampling.
    pub sampling: SamplingSetup,
    /// Warnings the C program would print, in order.
    pub warnings: Vec<String>,
}

/// Header values that `-img`/`-mask` contribute (in the scene's units), applied before flags.
#[derive(Debug, Default, Clone)]
struct HeaderDefaults {
    fpixels: Option<i64>,
    spixels: Option<i64>,
    pixel_mm: Option<f64>,
    distance_mm: Option<f64>,
    close_distance_mm: Option<f64>,
    wavelength_a: Option<f64>,
    xbeam_mm: Option<f64>,
    ybeam_mm: Option<f64>,
    orgx: Option<f64>,
    orgy: Option<f64>,
    phi_deg: Option<f64>,
    osc_deg: Option<f64>,
}

impl HeaderDefaults {
    fn ingest(&mut self, smv: &io::smv::SmvImage, flip_y: bool, path: &Path) -> Result<()> {
        for key in ["PIXEL_SIZE", "DISTANCE", "CLOSE_DISTANCE", "WAVELENGTH"] {
            if let Some(v) = smv.header.value_of(key).filter(|v| !(*v > 0.0 && v.is_finite())) {
                return Err(NanobraggError::Invalid {
                    input: format!("{} (header {key})", path.display()),
                    problem: format!("{v} must be > 0"),
                });
            }
        }
        for key in ["BEAM_CENTER_X", "BEAM_CENTER_Y", "ORGX", "ORGY", "PHI", "OSC_RANGE"] {
            if let Some(v) = smv.header.value_of(key).filter(|v| !v.is_finite()) {
                return Err(NanobraggError::Invalid {
                    input: format!("{} (header {key})", path.display()),
                    problem: format!("{v} is not a finite number"),
                });
            }
        }
        let (fpixels, spixels) = (smv.header.fpixels, smv.header.spixels);
        self.fpixels = Some(fpixels as i64);
        self.spixels = Some(spixels as i64);
        let smv = &smv.header;
        if let Some(p) = smv.value_of("PIXEL_SIZE") {
            self.pixel_mm = Some(p);
        }
        let pixel_mm = self.pixel_mm.unwrap_or(0.1);
        let detsize_s_mm = pixel_mm * spixels as f64;
        let set = |slot: &mut Option<f64>, key: &str| {
            if let Some(v) = smv.value_of(key) {
                *slot = Some(v);
            }
        };
        set(&mut self.distance_mm, "DISTANCE");
        set(&mut self.close_distance_mm, "CLOSE_DISTANCE");
        set(&mut self.wavelength_a, "WAVELENGTH");
        set(&mut self.xbeam_mm, "BEAM_CENTER_X");
        if let Some(v) = smv.value_of("BEAM_CENTER_Y") {
            self.ybeam_mm = Some(if flip_y { detsize_s_mm - v } else { v });
        }
        set(&mut self.orgx, "ORGX");
        set(&mut self.orgy, "ORGY");
        set(&mut self.phi_deg, "PHI");
        set(&mut self.osc_deg, "OSC_RANGE");
        // TWOTHETA is read by the C program into a variable the geometry never uses.
        Ok(())
    }
}

fn resolve_path(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// The C program's count/range/step auto-selection for divergence and dispersion.
/// Returns (steps, range, step) after the sanity check that turns a degenerate sweep into one step.
pub fn auto_steps(steps: i64, range: f64, step: f64, nominal_range: f64) -> (usize, f64, f64) {
    let (mut n, mut r, mut s) = (steps, range, step);
    if n <= 0 {
        if r < 0.0 {
            if s <= 0.0 {
                n = 1;
                r = 0.0;
                s = 0.0;
            } else {
                r = s;
                n = 2;
            }
        } else if s <= 0.0 {
            s = r;
            n = 2;
        } else {
            n = (r / s).ceil() as i64;
        }
    } else if r < 0.0 {
        if s <= 0.0 {
            r = nominal_range;
            s = r / n as f64;
        } else {
            r = s;
            n = 2;
        }
    } else if s <= 0.0 {
        if n <= 1 {
            n = 2;
        }
        s = r / (n - 1) as f64;
    }
    if r <= 0.0 || s <= 0.0 || n <= 0 {
        (1, 0.0, 0.0)
    } else {
        (n as usize, r, s)
    }
}

impl Setup {
    /// Resolve a scene; relative file names are taken relative to `base_dir`.
    pub fn from_scene(scene: &Scene, base_dir: &Path) -> Result<Self> {
        crate::validate::check_scene(scene)?;
        let mut warnings = Vec::new();
        let mut hdr = HeaderDefaults::default();
        let mut mask = None;
        if let Some(p) = &scene.io.mask_file {
            let path = resolve_path(base_dir, p);
            let smv = io::smv::read_smv(&path)?;
            hdr.ingest(&smv, true, &path)?;
            mask = Some(smv.data.iter().map(|&v| v != 0).collect::<Vec<bool>>());
        }
        if let Some(p) = &scene.io.img_file {
            let path = resolve_path(base_dir, p);
            let smv = io::smv::read_smv(&path)?;
            hdr.ingest(&smv, false, &path)?;
        }
        let detector = resolve_detector(scene, &hdr, &mut warnings)?;
        if let Some(m) = &mask {
            if m.len() != detector.fpixels * detector.spixels {
                return Err(NanobraggError::Scene(format!(
                    "-mask: mask has {} pixels but the detector has {}x{}",
                    m.len(),
                    detector.fpixels,
                    detector.spixels
                )));
            }
        }
        let wavelength_m = units::angstrom(
            scene
                .beam
                .wavelength_a
                .or(hdr.wavelength_a)
                .unwrap_or(1.0),
        );
        let crystal = resolve_crystal(scene, &hdr, base_dir, &mut warnings)?;
        let beam = resolve_beam(scene, &detector, wavelength_m, base_dir)?;
        let structure = resolve_structure(scene, base_dir)?;
        let sampling = resolve_sampling(scene, &detector, mask);
        Ok(Setup {
            detector,
            beam,
            crystal,
            structure,
            sampling,
            warnings,
        })
    }

    /// Total number of inner-loop steps the intensity is divided by:
    /// sources × mosaic domains × φ steps × oversample².
    pub fn steps(&self, oversample: usize) -> usize {
        self.beam.sources.len()
            * self.crystal.mosaic_umats.len()
            * self.crystal.phi_steps
            * oversample
            * oversample
    }
}

fn resolve_detector(
    scene: &Scene,
    hdr: &HeaderDefaults,
    warnings: &mut Vec<String>,
) -> Result<DetectorSetup> {
    let d = &scene.detector;
    let pixel_m = units::mm(d.pixel_mm.or(hdr.pixel_mm).unwrap_or(0.1));
    if !(pixel_m > 0.0) || !pixel_m.is_finite() {
        return Err(NanobraggError::Scene("-pixel must be positive".into()));
    }
    let fpix_given = d.fpixels.or(hdr.fpixels).filter(|&n| n != 0);
    let spix_given = d.spixels.or(hdr.spixels).filter(|&n| n != 0);
    // Header pixel counts fix the detector size in the C program as well.
    let detsize_f_flag = d.detsize_f_mm.map(units::mm);
    let detsize_s_flag = d.detsize_s_mm.map(units::mm);
    let detsize_f = match fpix_given {
        Some(n) => pixel_m * n as f64,
        None => detsize_f_flag.unwrap_or(102.4e-3),
    };
    let detsize_s = match spix_given {
        Some(n) => pixel_m * n as f64,
        None => detsize_s_flag.unwrap_or(102.4e-3),
    };
    let fpixels = (detsize_f / pixel_m - 0.5).ceil();
    let spixels = (detsize_s / pixel_m - 0.5).ceil();
    if !(fpixels >= 1.0 && spixels >= 1.0) || fpixels * spixels > crate::validate::MAX_PIXELS as f64 {
        let mm = |m: f64| m * 1e3;
        return Err(NanobraggError::Invalid {
            input: "-detpixels/-detsize/-pixel".into(),
            problem: format!(
                "a detector of {} x {} mm in {} mm pixels has {} x {} pixels (at least 1, at most {} in all)",
                mm(detsize_f),
                mm(detsize_s),
                mm(pixel_m),
                fpixels.max(0.0),
                spixels.max(0.0),
                crate::validate::MAX_PIXELS
            ),
        });
    }
    let convention = d.convention;
    let mut axes = Axes::of(convention);
    if convention == Convention::Custom {
        let over = |slot: &mut [f64; 3], v: Option<[f64; 3]>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        over(&mut axes.fdet, d.fdet_vector);
        over(&mut axes.sdet, d.sdet_vector);
        over(&mut axes.odet, d.odet_vector);
        over(&mut axes.beam, d.beam_vector);
        over(&mut axes.polar, d.polar_vector);
        over(&mut axes.spindle, d.spindle_axis);
        over(&mut axes.twotheta, d.twotheta_axis);
    }
    axes.beam = unit_f64(axes.beam);
    axes.fdet = unit_f64(axes.fdet);
    axes.sdet = unit_f64(axes.sdet);
    let on = axes.odet;
    let omag = (on[0] * on[0] + on[1] * on[1] + on[2] * on[2]).sqrt();
    if omag != 1.0 {
        warnings.push("WARNING: auto-generating odet_vector".into());
        axes.odet = unit_f64(cross_f64(axes.fdet, axes.sdet));
    }
    axes.polar = unit_f64(axes.polar);
    axes.spindle = unit_f64(axes.spindle);
    for (name, v) in [
        ("-beam_vector", axes.beam),
        ("-fdet_vector", axes.fdet),
        ("-sdet_vector", axes.sdet),
        ("-spindle_axis", axes.spindle),
    ] {
        if v == [0.0, 0.0, 0.0] || v.iter().any(|x| !x.is_finite()) {
            return Err(NanobraggError::Geometry(format!("{name} must be a non-zero vector")));
        }
    }

    let pivot = match convention {
        Convention::Mosflm | Convention::Adxv | Convention::Denzo => Pivot::Beam,
        Convention::Xds | Convention::Dials => Pivot::Sample,
        Convention::Custom => d.pivot.unwrap_or(Pivot::Beam),
    };
    let mapping = match convention {
        Convention::Mosflm => BeamCenterMapping::Mosflm,
        Convention::Denzo => BeamCenterMapping::Denzo,
        Convention::Adxv => BeamCenterMapping::Adxv,
        _ => BeamCenterMapping::Direct,
    };
    let given = |v: Option<f64>| v.map(|x| CenterDefault::Given(units::mm(x)));
    let orgx = d.orgx_px.or(hdr.orgx);
    let orgy = d.orgy_px.or(hdr.orgy);
    let fclose = orgx
        .map(CenterDefault::FromOrg)
        .unwrap_or(CenterDefault::HalfDetector { pixel_coeff: 0.0 });
    let sclose = orgy
        .map(CenterDefault::FromOrg)
        .unwrap_or(CenterDefault::HalfDetector { pixel_coeff: 0.0 });
    let xbeam_given = given(d.xbeam_mm.or(hdr.xbeam_mm));
    let ybeam_given = given(d.ybeam_mm.or(hdr.ybeam_mm));
    let xclose = given(d.xclose_mm);
    let yclose = given(d.yclose_mm);
    // Default beam centres per convention (C: only when Xbeam/Ybeam are NaN).
    let (xbeam, ybeam) = match convention {
        Convention::Adxv => (
            xbeam_given.unwrap_or(CenterDefault::HalfDetector { pixel_coeff: 1.0 }),
            ybeam_given.unwrap_or(CenterDefault::HalfDetector { pixel_coeff: -1.0 }),
        ),
        Convention::Mosflm | Convention::Denzo => (
            xbeam_given.unwrap_or(CenterDefault::HalfDetector { pixel_coeff: 1.0 }),
            ybeam_given.unwrap_or(CenterDefault::HalfDetector { pixel_coeff: 1.0 }),
        ),
        // XDS, DIALS, CUSTOM: Xbeam defaults to Xclose, which defaults to Fclose.
        _ => (
            xbeam_given.or(xclose).unwrap_or(fclose),
            ybeam_given.or(yclose).unwrap_or(sclose),
        ),
    };
    // CUSTOM: the near point is the beam centre (Fclose = Xbeam, Sclose = Ybeam).
    let (fclose, sclose) = if convention == Convention::Custom {
        (xbeam, ybeam)
    } else {
        (fclose, sclose)
    };

    // Absorption: -detector_abs inf/0 disables (μ = 0, thickness = 0) at the point it is given.
    let (mut mu, mut thick) = (-1.0_f64, 0.0_f64);
    if let Some(t) = d.thick_um {
        thick = units::um(t);
    }
    if let Some(depth) = d.abs_depth_um {
        if depth.is_infinite() || depth == 0.0 {
            // `-detector_abs inf|0` switches absorption off: μ = 0 and the thickness given so far
            // is dropped. The parser records that drop by setting `thick_um = Some(0)` at that
            // point, so a later `-detector_thick` (C: an all-zero image) still takes effect.
            mu = 0.0;
        } else {
            mu = 1.0 / units::um(depth);
        }
    }
    let (mut tsteps, mut tthick) = (d.thick_steps.unwrap_or(-1), thick);
    let mut tstep;
    // Thickness auto-selection differs from divergence in the "range only" branch.
    if tsteps <= 0 {
        if tthick < 0.0 {
            tsteps = 1;
            tthick = 0.0;
            tstep = 0.0;
        } else {
            tsteps = 2;
            tstep = tthick / 2.0;
        }
    } else if tthick < 0.0 {
        tthick = 0.5e-6;
        tstep = tthick / tsteps as f64;
    } else {
        if tsteps <= 1 {
            tsteps = 2;
        }
        tstep = tthick / (tsteps - 1) as f64;
    }
    if tthick > 0.0 && mu < 0.0 {
        mu = 1.0 / tthick;
        warnings.push(format!("WARNING: setting detector attenuation depth to {mu} m"));
    }
    if tthick <= 0.0 || tstep <= 0.0 || tsteps <= 0 {
        tsteps = 1;
        tthick = 0.0;
        tstep = 0.0;
    }
    let distance_m = units::mm(d.distance_mm.or(hdr.distance_mm).unwrap_or(100.0));
    let close_distance_m = d.close_distance_mm.or(hdr.close_distance_mm).map(units::mm);
    Ok(DetectorSetup {
        convention,
        pivot,
        axes,
        mapping,
        fpixels: fpixels as usize,
        spixels: spixels as usize,
        pixel_m,
        detsize_f_m: if fpix_given.is_some() { None } else { Some(detsize_f) },
        detsize_s_m: if spix_given.is_some() { None } else { Some(detsize_s) },
        distance_m,
        close_distance_m,
        xbeam,
        ybeam,
        fclose,
        sclose,
        rot_rad: [
            units::deg(d.rotx_deg.unwrap_or(0.0)),
            units::deg(d.roty_deg.unwrap_or(0.0)),
            units::deg(d.rotz_deg.unwrap_or(0.0)),
        ],
        twotheta_rad: units::deg(d.twotheta_deg.unwrap_or(0.0)),
        curved: d.curved_det,
        point_pixel: d.point_pixel,
        mu_per_m: mu.max(0.0),
        thick_m: tthick,
        thick_steps: tsteps as usize,
        thick_step_m: tstep,
    })
}

fn resolve_crystal(
    scene: &Scene,
    hdr: &HeaderDefaults,
    base_dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<CrystalSetup> {
    let c = &scene.crystal;
    let cell = if let Some(p) = &c.mat_file {
        let m = io::matrix::read_mosflm_matrix(&resolve_path(base_dir, p))?;
        CellSource::Matrix([0, 1, 2].map(|i| [m.a_star[i], m.b_star[i], m.c_star[i]]))
    } else if let Some(cell) = c.cell {
        let a = cell[0];
        if !(a > 0.0) {
            return Err(NanobraggError::Scene("-cell: a must be positive".into()));
        }
        let b = if cell[1] > 0.0 { cell[1] } else { a };
        let cc = if cell[2] > 0.0 { cell[2] } else { a };
        let ang = |x: f64| {
            let r = units::deg(x);
            if r <= 0.0 {
                std::f64::consts::FRAC_PI_2
            } else {
                r
            }
        };
        CellSource::Cell([a, b, cc, ang(cell[3]), ang(cell[4]), ang(cell[5])])
    } else {
        return Err(NanobraggError::Scene(
            "no unit cell: give -cell a b c alpha beta gamma or -mat file".into(),
        ));
    };
    let mut misset_rad = c
        .misset_deg
        .map(|m| [units::deg(m[0]), units::deg(m[1]), units::deg(m[2])])
        .unwrap_or([0.0; 3]);
    if c.misset_random {
        // C copies the time-based noise seed into misset_seed *before* reading the flags, so
        // without -misset_seed the orientation is time-dependent even when -seed is given.
        let seed = -c.misset_seed.unwrap_or_else(time_seed);
        let (_umat, angles) = crate::random::rotations::random_misset(seed);
        misset_rad = angles;
        warnings.push(format!(
            "random orientation misset angles: {:.6} {:.6} {:.6} deg",
            angles[0] * RTD,
            angles[1] * RTD,
            angles[2] * RTD
        ));
    }
    let n_cells = c.n_cells.unwrap_or([1.0; 3]);
    let mut sample = [0.0; 3];
    for (slot, v) in sample.iter_mut().zip(c.sample_size_mm) {
        *slot = units::mm(v);
    }
    // Beam size clips the sample (C: beamsize defaults to 0.1 mm and is always applied).
    let beamsize = scene.beam.beamsize_mm.map(units::mm).unwrap_or(1e-4);
    if beamsize >= 0.0 {
        for (i, name) in [(1, "high"), (2, "wide")] {
            if beamsize < sample[i] {
                warnings.push(format!(
                    "WARNING: clipping sample ({} m {name}) with beam ({} m)",
                    sample[i], beamsize
                ));
                sample[i] = beamsize;
            }
        }
    }
    // Mosaic domains.
    let spread_in = c.mosaic_spread_deg.map(units::deg).unwrap_or(-1.0);
    let (spread, domains) = match c.mosaic_domains.filter(|&n| n > 0) {
        None => {
            if spread_in < 0.0 {
                (0.0, 1)
            } else if spread_in == 0.0 {
                (0.0, 1)
            } else {
                warnings.push(
                    "WARNING: finite mosaicity with only one domain! upping to 10 mosaic domains"
                        .into(),
                );
                (spread_in, 10)
            }
        }
        Some(n) => {
            if spread_in < 0.0 {
                warnings.push("WARNING: no mosaic spread specified.  setting mosaic_domains = 1".into());
                (0.0, 1)
            } else if spread_in == 0.0 {
                warnings.push("WARNING: zero mosaic spread specified.  setting mosaic_domains = 1".into());
                (0.0, 1)
            } else {
                (spread_in, n as usize)
            }
        }
    };
    if domains > crate::validate::MAX_CELLS {
        return Err(NanobraggError::Invalid {
            input: "-mosaic_dom".into(),
            problem: format!("{domains} domains, more than {}", crate::validate::MAX_CELLS),
        });
    }
    let mosaic_seed = -c.mosaic_seed.unwrap_or(12345678);
    let mosaic_umats = crate::random::rotations::mosaic_domains(spread, domains, mosaic_seed);
    let mosaic_axes = crate::random::rotations::mosaic_domain_axes(spread, domains, mosaic_seed)
        .into_iter()
        .map(|(axis, angle)| (axis, if spread > 0.0 { angle / spread } else { 0.0 }))
        .collect();
    // φ sweep.
    let s = &scene.spindle;
    let phi0 = units::deg(s.phi_start_deg.or(hdr.phi_deg).unwrap_or(0.0));
    let mut osc = s.osc_deg.or(hdr.osc_deg).map(units::deg).unwrap_or(-1.0);
    let mut step = s.phi_step_deg.map(units::deg).unwrap_or(-1.0);
    let mut n = s.phi_steps.unwrap_or(-1);
    if n < 0 {
        if osc < 0.0 {
            if step <= 0.0 {
                n = 1;
                osc = 0.0;
                step = 0.0;
            } else {
                osc = step;
                n = 2;
            }
        } else if step <= 0.0 {
            n = 2;
            step = osc / 2.0;
        } else {
            n = (osc / step).ceil() as i64;
        }
    } else {
        if n == 0 {
            n = 1;
        }
        if osc < 0.0 {
            if step <= 0.0 {
                osc = units::deg(1.0);
                step = osc / n as f64;
            } else {
                osc = step;
                n = 2;
            }
        } else if step < 0.0 {
            step = osc / n as f64;
        }
    }
    if n <= 0 || n > 1_000_000 {
        return Err(NanobraggError::Scene(format!("-phisteps: {n} φ steps is not renderable")));
    }
    if (n as usize).saturating_mul(domains) > crate::validate::MAX_CELLS {
        return Err(NanobraggError::Invalid {
            input: "-phisteps/-mosaic_dom".into(),
            problem: format!(
                "{n} φ steps x {domains} mosaic domains, more than {} crystal orientations",
                crate::validate::MAX_CELLS
            ),
        });
    }
    Ok(CrystalSetup {
        cell,
        misset_rad,
        n_cells,
        sample_size_m: sample,
        shape: c.shape,
        fudge: c.fudge.unwrap_or(1.0),
        mosaic_spread_rad: spread,
        mosaic_umats,
        mosaic_axes,
        phi0_rad: phi0,
        phi_step_rad: step,
        phi_steps: n as usize,
        osc_rad: osc,
    })
}

/// The C program's default seed value (before negation): the wall-clock time in seconds.
pub fn time_seed() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(1)
}

fn resolve_beam(
    scene: &Scene,
    det: &DetectorSetup,
    wavelength_m: f64,
    base_dir: &Path,
) -> Result<BeamSetup> {
    let b = &scene.beam;
    let beam = det.axes.beam;
    let polar = det.axes.polar;
    let vert = unit_f64(cross_f64(beam, polar));
    let far = [
        -SOURCE_DISTANCE_M * beam[0],
        -SOURCE_DISTANCE_M * beam[1],
        -SOURCE_DISTANCE_M * beam[2],
    ];
    let dispersion_in = b.dispersion_percent.unwrap_or(0.0) / 100.0;
    let (disp_steps, dispersion, disp_step) =
        auto_steps(b.disp_steps.unwrap_or(-1), dispersion_in, -1.0, 1.0);
    let mut sources = Vec::new();
    let mut div_points = 0;
    if let Some(p) = &b.source_file {
        for row in io::sourcefile::read_sourcefile(&resolve_path(base_dir, p))? {
            let pos = [
                row.x.unwrap_or(far[0]),
                row.y.unwrap_or(far[1]),
                row.z.unwrap_or(far[2]),
            ];
            let direction = unit_f64(pos);
            let (fixed_m, scale) = match row.lambda {
                Some(l) => (l, 0.0),
                None => (0.0, 1.0),
            };
            sources.push(Source {
                direction,
                fixed_m,
                scale,
                disp_coeff: 0.0,
            });
        }
        div_points = sources.len();
    } else {
        let h = auto_steps(
            b.hdiv_steps.unwrap_or(-1),
            b.hdiv_range_mrad.map(units::mrad).unwrap_or(-1.0),
            b.hdiv_step_mrad.map(units::mrad).unwrap_or(-1.0),
            1.0,
        );
        let v = auto_steps(
            b.vdiv_steps.unwrap_or(-1),
            b.vdiv_range_mrad.map(units::mrad).unwrap_or(-1.0),
            b.vdiv_step_mrad.map(units::mrad).unwrap_or(-1.0),
            1.0,
        );
        let round = b.round_div.unwrap_or(true);
        let count = h.0.saturating_mul(v.0).saturating_mul(disp_steps);
        if count > crate::validate::MAX_SOURCES {
            return Err(NanobraggError::Invalid {
                input: "-hdivsteps/-vdivsteps/-dispsteps".into(),
                problem: format!(
                    "{} x {} divergence x {disp_steps} dispersion steps, more than {} sources",
                    h.0,
                    v.0,
                    crate::validate::MAX_SOURCES
                ),
            });
        }
        for ih in 0..h.0 {
            for iv in 0..v.0 {
                let hdiv = h.2 * ih as f64 - h.1 / 2.0;
                let vdiv = v.2 * iv as f64 - v.1 / 2.0;
                let mut test = (hdiv * hdiv - h.2 * h.2 / 4.0 * (1 - h.0 as i64 % 2) as f64)
                    / h.1
                    / h.1;
                test += (vdiv * vdiv - v.2 * v.2 / 4.0 * (1 - v.0 as i64 % 2) as f64) / v.1 / v.1;
                if round && test * 4.0 > 1.1 {
                    continue;
                }
                div_points += 1;
                let rotated = rotate_axis_f64(rotate_axis_f64(far, polar, vdiv), vert, hdiv);
                let direction = unit_f64(rotated);
                for id in 0..disp_steps {
                    // λ = λ0·(1 + dispstep·i − dispersion/2), with dispstep a multiple of dispersion.
                    let disp_coeff = if dispersion > 0.0 {
                        disp_step / dispersion * id as f64 - 0.5
                    } else {
                        0.0
                    };
                    sources.push(Source {
                        direction,
                        fixed_m: 0.0,
                        scale: 1.0,
                        disp_coeff,
                    });
                }
            }
        }
    }
    if sources.is_empty() {
        return Err(NanobraggError::Scene("no sources (divergence trimming removed every point)".into()));
    }
    // Fluence from flux/exposure/beam size.
    let mut fluence = b.fluence.unwrap_or(DEFAULT_FLUENCE);
    let flux = b.flux.unwrap_or(0.0);
    let exposure = b.exposure_s.unwrap_or(1.0);
    let beamsize = b.beamsize_mm.map(units::mm).unwrap_or(1e-4);
    if flux != 0.0 && exposure > 0.0 && beamsize >= 0.0 {
        fluence = flux * exposure / beamsize / beamsize;
    }
    Ok(BeamSetup {
        wavelength_m,
        dispersion,
        sources,
        polarization_k: b.polarization_k.unwrap_or(0.0),
        nopolar: b.nopolar,
        fluence,
        div_points,
    })
}

fn resolve_structure(scene: &Scene, base_dir: &Path) -> Result<StructureSetup> {
    let s = &scene.structure;
    let default_f = s.default_f.unwrap_or(0.0);
    let mut reflections = 0;
    let grid = match &s.hkl_file {
        Some(p) => {
            let data = io::hkl::read_hkl(&resolve_path(base_dir, p), default_f)?;
            reflections = data.reflections;
            Some(data.grid)
        }
        None => {
            let dump = base_dir.join("Fdump.bin");
            if dump.exists() {
                let grid = io::fdump::read_fdump(&dump)?;
                reflections = grid.values.len();
                Some(grid)
            } else {
                None
            }
        }
    };
    if grid.is_none() && default_f == 0.0 {
        let why = if s.default_f.is_some() {
            "-default_F 0 and no -hkl file (nor Fdump.bin): every structure factor is 0, which gives an empty image; give -hkl file or a non-zero -default_F"
        } else {
            "no structure factors: give -hkl file or -default_F (and no Fdump.bin was found)"
        };
        return Err(NanobraggError::Scene(why.into()));
    }
    Ok(StructureSetup {
        grid,
        reflections,
        default_f,
        interpolate: s.interpolate,
    })
}

fn resolve_sampling(scene: &Scene, det: &DetectorSetup, mask: Option<Vec<bool>>) -> SamplingSetup {
    let s = &scene.sampling;
    let roi = s.roi.unwrap_or([-1, -1, -1, -1]);
    let roi = [
        if roi[0] < 0 { 0 } else { roi[0] },
        if roi[1] < 0 { det.fpixels as i64 } else { roi[1] },
        if roi[2] < 0 { 0 } else { roi[2] },
        if roi[3] < 0 { det.spixels as i64 } else { roi[3] },
    ];
    SamplingSetup {
        oversample: s.oversample.filter(|&n| n > 0).map(|n| n as usize),
        oversample_thick: s.oversample_thick,
        oversample_polar: s.oversample_polar,
        oversample_omega: s.oversample_omega,
        roi,
        dmin_m: units::angstrom(s.dmin_a.unwrap_or(0.0)),
        water_m: units::um(s.water_um.unwrap_or(0.0)),
        mask,
    }
}
