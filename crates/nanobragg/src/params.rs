//! The continuous inputs of a render as tensors (`Params<B>`), in SI units and radians.
//!
//! Built from a [`Setup`] on a device at the backend's float dtype. A refinement replaces any
//! of these `[1]` tensors by one that requires grad; everything downstream is tensor ops.

use burn::tensor::{backend::Backend, Tensor};

use crate::error::Result;
use crate::linalg::{check_float_dtype, scalar, tensor, to_vec};
use crate::setup::{CellSource, CenterDefault, Setup};

/// One tensor per continuous quantity. Shapes are `[1]` unless stated.
#[derive(Debug, Clone)]
pub struct Params<B: Backend> {
    /// Direct cell lengths a, b, c (Å) — used when the cell comes from `-cell`.
    pub cell_lengths: [Tensor<B, 1>; 3],
    /// Direct cell angles α, β, γ (rad).
    pub cell_angles: [Tensor<B, 1>; 3],
    /// MOSFLM matrix columns a*, b*, c* (Å⁻¹·λ(Å)), each `[3]` — used with `-mat`.
    pub matrix: Option<[Tensor<B, 1>; 3]>,
    /// Whether [`Params::matrix`] is a MOSFLM matrix (a*, b*, c* times λ, divided by the
    /// wavelength parameter when the cell is built) rather than plain a*, b*, c* (Å⁻¹).
    pub matrix_times_wavelength: bool,
    /// Misset about X, Y, Z (rad).
    pub misset: [Tensor<B, 1>; 3],
    /// First φ (rad).
    pub phi_start: Tensor<B, 1>,
    /// φ step (rad).
    pub phi_step: Tensor<B, 1>,
    /// Mosaic spread (rad); scales the angles of the fixed domain rotations.
    pub mosaic_spread: Tensor<B, 1>,
    /// Cells along a, b, c (real numbers, ≥ 1 after clamping).
    pub n_cells: [Tensor<B, 1>; 3],
    /// Detector distance along the beam (m).
    pub distance: Tensor<B, 1>,
    /// Close distance (m), when given.
    pub close_distance: Option<Tensor<B, 1>>,
    /// Xbeam (m), when given (otherwise the convention's default rule applies).
    pub xbeam: Option<Tensor<B, 1>>,
    /// Ybeam (m), when given.
    pub ybeam: Option<Tensor<B, 1>>,
    /// Pixel size (m).
    pub pixel: Tensor<B, 1>,
    /// Detector rotations about X, Y, Z (rad).
    pub rot: [Tensor<B, 1>; 3],
    /// Detector 2θ (rad).
    pub twotheta: Tensor<B, 1>,
    /// Lab-frame translation of the detector / panel (m), applied last.
    pub panel_shift: [Tensor<B, 1>; 3],
    /// Rotations about the panel's own fast, slow, normal axes through its centre (rad).
    pub panel_rot: [Tensor<B, 1>; 3],
    /// Rotations of the panel's group about its fast, slow, normal axes through its pivot (rad).
    pub group_rot: [Tensor<B, 1>; 3],
    /// Detector attenuation coefficient μ (m⁻¹).
    pub mu: Tensor<B, 1>,
    /// Sensor thickness (m).
    pub thickness: Tensor<B, 1>,
    /// Central wavelength λ0 (m).
    pub wavelength: Tensor<B, 1>,
    /// Spectral dispersion Δλ/λ.
    pub dispersion: Tensor<B, 1>,
    /// Fluence (photons/m²).
    pub fluence: Tensor<B, 1>,
    /// Kahn polarization factor.
    pub polarization_k: Tensor<B, 1>,
    /// Water droplet size (m).
    pub water: Tensor<B, 1>,
    /// Structure-factor grid, flattened `[h][k][l]` over the grid ranges, if an HKL grid is loaded.
    pub f_grid: Option<Tensor<B, 1>>,
    /// F outside the grid.
    pub default_f: Tensor<B, 1>,
}

/// One scalar tensor of [`Params`], as the parameter registry ([`crate::registry`]) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `cell_lengths[i]` (Å).
    CellLength(usize),
    /// `cell_angles[i]` (rad).
    CellAngle(usize),
    /// `misset[i]` (rad).
    Misset(usize),
    /// `phi_start` (rad).
    PhiStart,
    /// `phi_step` (rad).
    PhiStep,
    /// `mosaic_spread` (rad).
    MosaicSpread,
    /// `n_cells[i]`.
    NCells(usize),
    /// `distance` (m).
    Distance,
    /// `xbeam` (m).
    XBeam,
    /// `ybeam` (m).
    YBeam,
    /// `rot[i]` (rad).
    Rotation(usize),
    /// `twotheta` (rad).
    Twotheta,
    /// `panel_shift[i]` (m).
    PanelShift(usize),
    /// `panel_rot[i]` (rad).
    PanelRotation(usize),
    /// `group_rot[i]` (rad).
    GroupRotation(usize),
    /// `pixel` (m).
    Pixel,
    /// `wavelength` (m).
    Wavelength,
    /// `dispersion` (fraction).
    Dispersion,
    /// `fluence` (photons/m²).
    Fluence,
    /// `polarization_k`.
    PolarizationK,
    /// `water` (m).
    Water,
    /// `mu` (m⁻¹).
    Mu,
    /// `thickness` (m).
    Thickness,
    /// `default_f`.
    DefaultF,
}

impl<B: Backend> Params<B> {
    /// The tensor `field` names, or `None` where this scene does not have it as a free input:
    /// cell lengths and angles when the cell comes from `-mat`, the distance when
    /// `-close_distance` sets it, a beam centre not given explicitly, μ when absorption is off.
    pub fn field_mut(&mut self, field: Field) -> Option<&mut Tensor<B, 1>> {
        use Field::*;
        let from_matrix = self.matrix.is_some();
        Some(match field {
            CellLength(i) if !from_matrix => &mut self.cell_lengths[i],
            CellAngle(i) if !from_matrix => &mut self.cell_angles[i],
            CellLength(_) | CellAngle(_) => return None,
            Misset(i) => &mut self.misset[i],
            PhiStart => &mut self.phi_start,
            PhiStep => &mut self.phi_step,
            MosaicSpread => &mut self.mosaic_spread,
            NCells(i) => &mut self.n_cells[i],
            Distance if self.close_distance.is_none() => &mut self.distance,
            Distance => return None,
            XBeam => self.xbeam.as_mut()?,
            YBeam => self.ybeam.as_mut()?,
            Rotation(i) => &mut self.rot[i],
            Twotheta => &mut self.twotheta,
            PanelShift(i) => &mut self.panel_shift[i],
            PanelRotation(i) => &mut self.panel_rot[i],
            GroupRotation(i) => &mut self.group_rot[i],
            Pixel => &mut self.pixel,
            Wavelength => &mut self.wavelength,
            Dispersion => &mut self.dispersion,
            Fluence => &mut self.fluence,
            PolarizationK => &mut self.polarization_k,
            Water => &mut self.water,
            Mu if crate::linalg::to_f64(&self.mu) > 0.0 => &mut self.mu,
            Mu => return None,
            Thickness => &mut self.thickness,
            DefaultF => &mut self.default_f,
        })
    }
}

fn center<B: Backend>(c: CenterDefault, device: &B::Device) -> Option<Tensor<B, 1>> {
    match c {
        CenterDefault::Given(v) => Some(scalar(v, device)),
        _ => None,
    }
}

impl<B: Backend> Params<B> {
    /// Build the tensors of a setup on `device`, checking every tensor's dtype.
    pub fn from_setup(setup: &Setup, device: &B::Device) -> Result<Self> {
        let s = |x: f64| scalar::<B>(x, device);
        let c = &setup.crystal;
        let (lengths, angles, matrix) = match &c.cell {
            CellSource::Cell(p) => (
                [s(p[0]), s(p[1]), s(p[2])],
                [s(p[3]), s(p[4]), s(p[5])],
                None,
            ),
            CellSource::Matrix(m) | CellSource::Reciprocal(m) => (
                [s(0.0), s(0.0), s(0.0)],
                [s(0.0), s(0.0), s(0.0)],
                Some([0, 1, 2].map(|j| tensor::<B, 1>(vec![m[0][j], m[1][j], m[2][j]], [3], device))),
            ),
        };
        let d = &setup.detector;
        let b = &setup.beam;
        let st = &setup.structure;
        let params = Params {
            cell_lengths: lengths,
            cell_angles: angles,
            matrix,
            matrix_times_wavelength: matches!(c.cell, CellSource::Matrix(_)),
            misset: c.misset_rad.map(s),
            phi_start: s(c.phi0_rad),
            phi_step: s(c.phi_step_rad),
            mosaic_spread: s(c.mosaic_spread_rad),
            n_cells: c.n_cells.map(s),
            distance: s(d.distance_m),
            close_distance: d.close_distance_m.map(s),
            xbeam: center(d.xbeam, device),
            ybeam: center(d.ybeam, device),
            pixel: s(d.pixel_m),
            rot: d.rot_rad.map(s),
            twotheta: s(d.twotheta_rad),
            panel_shift: d.panel_shift_m.map(s),
            panel_rot: d.panel_rot_rad.map(s),
            group_rot: d.group_rot_rad.map(s),
            mu: s(d.mu_per_m),
            thickness: s(d.thick_m),
            wavelength: s(b.wavelength_m),
            dispersion: s(b.dispersion),
            fluence: s(b.fluence),
            polarization_k: s(b.polarization_k),
            water: s(setup.sampling.water_m),
            f_grid: st
                .grid
                .as_ref()
                .map(|g| tensor::<B, 1>(g.values.clone(), [g.values.len()], device)),
            default_f: s(st.default_f),
        };
        params.check_dtype()?;
        Ok(params)
    }

    /// The same fields on another backend, each small tensor mapped by `f` in a fixed field
    /// order; the F grid is not mapped (`f_grid` is `None`).
    fn map_small<C: Backend>(&self, f: &mut impl FnMut(&Tensor<B, 1>) -> Tensor<C, 1>) -> Params<C> {
        let mut three = |v: &[Tensor<B, 1>; 3]| [f(&v[0]), f(&v[1]), f(&v[2])];
        let cell_lengths = three(&self.cell_lengths);
        let cell_angles = three(&self.cell_angles);
        let matrix = self.matrix.as_ref().map(&mut three);
        let misset = three(&self.misset);
        let n_cells = three(&self.n_cells);
        let rot = three(&self.rot);
        let panel_shift = three(&self.panel_shift);
        let panel_rot = three(&self.panel_rot);
        let group_rot = three(&self.group_rot);
        Params {
            cell_lengths,
            cell_angles,
            matrix,
            matrix_times_wavelength: self.matrix_times_wavelength,
            misset,
            n_cells,
            rot,
            panel_shift,
            panel_rot,
            group_rot,
            phi_start: f(&self.phi_start),
            phi_step: f(&self.phi_step),
            mosaic_spread: f(&self.mosaic_spread),
            distance: f(&self.distance),
            close_distance: self.close_distance.as_ref().map(&mut *f),
            xbeam: self.xbeam.as_ref().map(&mut *f),
            ybeam: self.ybeam.as_ref().map(&mut *f),
            pixel: f(&self.pixel),
            twotheta: f(&self.twotheta),
            mu: f(&self.mu),
            thickness: f(&self.thickness),
            wavelength: f(&self.wavelength),
            dispersion: f(&self.dispersion),
            fluence: f(&self.fluence),
            polarization_k: f(&self.polarization_k),
            water: f(&self.water),
            f_grid: None,
            default_f: f(&self.default_f),
        }
    }

    /// Every tensor but the F grid, in [`Params::map_small`]'s order.
    pub(crate) fn small_tensors(&self) -> Vec<Tensor<B, 1>> {
        let mut all = Vec::new();
        self.map_small::<B>(&mut |t| {
            all.push(t.clone());
            t.clone()
        });
        all
    }

    /// The parameters' current values as tensors of backend `H` on `device` (no gradient
    /// links), read from this backend in one transfer. The F grid is left out (`f_grid` is
    /// `None`).
    pub fn to_host<H: Backend>(&self, device: &H::Device) -> Result<Params<H>> {
        let values = to_vec(&Tensor::cat(self.small_tensors(), 0));
        let n = values.len();
        let host = self.unpack::<H>(tensor::<H, 1>(values, [n], device));
        host.check_dtype()?;
        Ok(host)
    }

    /// The small parameters (all but the F grid) cut from one tensor that packs them in
    /// [`Params::small_tensors`] order, each as long as this set's.
    pub(crate) fn unpack<C: Backend>(&self, packed: Tensor<C, 1>) -> Params<C> {
        let mut at = 0;
        self.map_small::<C>(&mut |t| {
            let n = t.dims()[0];
            at += n;
            packed.clone().slice([at - n..at])
        })
    }

    /// Every tensor must carry the backend's float dtype (guards against the default-dtype trap).
    pub fn check_dtype(&self) -> Result<()> {
        for t in self.small_tensors().iter().chain(self.f_grid.iter()) {
            check_float_dtype(t, "parameter tensor")?;
        }
        Ok(())
    }
}
