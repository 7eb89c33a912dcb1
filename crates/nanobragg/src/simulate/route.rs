//! Which renderer takes a scene's tiles: the capabilities the scene requires
//! ([`crate::kernel::capability`]) against each of the backend's fused kernels, in the
//! backend's order of preference; the tensor-op path when none implements them all.

use enumset::EnumSet;

use super::{Plan, Simulator};
use crate::error::{NanobraggError, Result};
use crate::kernel::capability::{describe, Capability};
use crate::kernel::{Engine, KernelId, RenderBackend};
use crate::setup::Setup;

impl<B: RenderBackend> Simulator<B> {
    /// The capabilities this scene requires of a renderer.
    pub fn required_capabilities(&self) -> EnumSet<Capability> {
        required(&self.setup, &self.plan, self.phi_policy.is_fresh())
    }

    /// The fused kernel the renderer offers this scene's tiles to: the first of the backend's
    /// kernels that the engine allows and that implements every required capability; `None`
    /// for the tensor path.
    pub fn fused_kernel(&self) -> Option<KernelId> {
        let allowed = |k: KernelId| match self.options.engine {
            Engine::Auto => true,
            Engine::Tensor => false,
            Engine::Kernel(only) => only == k,
        };
        let required = self.required_capabilities();
        B::kernels()
            .iter()
            .find(|c| allowed(c.kernel) && c.covers(required))
            .map(|c| c.kernel)
    }

    /// Refuse a render pinned to one kernel ([`Engine::Kernel`]) that this backend does not
    /// have or that does not implement a capability the scene requires.
    pub(super) fn check_engine(&self) -> Result<()> {
        let Engine::Kernel(only) = self.options.engine else {
            return Ok(());
        };
        let Some(coverage) = B::kernels().iter().find(|c| c.kernel == only) else {
            return Err(NanobraggError::Invalid {
                input: "-engine".into(),
                problem: format!("this backend has no {} kernel", only.name()),
            });
        };
        let missing = coverage.missing(self.required_capabilities());
        if missing.is_empty() {
            return Ok(());
        }
        Err(NanobraggError::Invalid {
            input: "-engine".into(),
            problem: format!("the {} kernel does not implement {}", only.name(), describe(missing)),
        })
    }
}

/// The capabilities a scene requires: `setup` as resolved, `plan`'s discrete choices, and
/// whether the φ-rotation policy is the spec's fresh rotation.
pub(crate) fn required(setup: &Setup, plan: &Plan, phi_fresh: bool) -> EnumSet<Capability> {
    let det = &setup.detector;
    let samp = &setup.sampling;
    let crystal = &setup.crystal;
    let mut set = EnumSet::only(crate::physics::lattice::capability(crystal.shape));
    let mut need = |on: bool, c: Capability| {
        if on {
            set |= c;
        }
    };
    need(setup.structure.grid.is_some(), Capability::HklGrid);
    need(plan.interpolate, Capability::TricubicF);
    need(det.thick_m > 0.0 || det.thick_steps > 1, Capability::ThickSensor);
    need(det.point_pixel, Capability::PointPixel);
    need(setup.beam.nopolar, Capability::Unpolarized);
    need(samp.oversample_thick, Capability::PerSubpixelCapture);
    need(samp.oversample_polar, Capability::PerSubpixelPolarization);
    need(samp.oversample_omega, Capability::PerSubpixelSolidAngle);
    need(samp.dmin_m > 0.0, Capability::ResolutionCut);
    need(samp.water_m != 0.0, Capability::WaterBackground);
    need(!contiguous(&plan.pixels), Capability::PixelSubset);
    need(plan.oversample > 1, Capability::Oversampling);
    need(setup.beam.sources.len() > 1, Capability::SeveralSources);
    need(crystal.mosaic_axes.len() > 1, Capability::MosaicDomains);
    need(crystal.phi_steps > 1, Capability::PhiSteps);
    need(det.curved, Capability::CurvedDetector);
    need(!phi_fresh, Capability::PhiCarryOver);
    set
}

/// Whether strictly increasing pixel indices form one run.
fn contiguous(pixels: &[usize]) -> bool {
    match (pixels.first(), pixels.last()) {
        (Some(&first), Some(&last)) => last - first + 1 == pixels.len(),
        _ => true,
    }
}
