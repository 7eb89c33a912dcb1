//! The observed render: selected pixels rendered as tiles of their own, their intermediates
//! handed to the observer (see [`crate::trace`]).

use crate::error::Result;
use crate::kernel::{Pixels, RenderBackend};
use crate::scene::LatticeShape;
use crate::trace::probe::TileDims;
use crate::trace::{ProbeSelection, RenderObserver, SceneProbe, SceneValues, TileProbe};
use crate::units::RTD;
use std::sync::Arc;

use super::{phi_angles, Image, Model, Simulator};

impl<B: RenderBackend> Simulator<B> {
    /// Render the whole image, reporting progress and the pixels the observer selects (see
    /// [`crate::trace`]). Each selected pixel is rendered as a tile of its own; the scan
    /// state still flows through it in order, so the image is the same as [`Simulator::render`].
    pub fn render_observed(&self, observer: &mut dyn RenderObserver) -> Result<Image> {
        self.check_memory(false)?;
        let det = &self.setup.detector;
        let mut data = vec![0f32; det.fpixels * det.spixels];
        let mut data_f64 = vec![0f64; if self.options.keep_f64 { data.len() } else { 0 }];
        let mut state = self.scan_start();
        let pixels = &self.plan.pixels;
        let selection = observer.selection();
        let mut tiles: Vec<(&[usize], bool)> = Vec::new();
        let chunk = self.tile_pixels();
        fn plain<'a>(range: &'a [usize], tiles: &mut Vec<(&'a [usize], bool)>, chunk: usize, probe: bool) {
            tiles.extend(range.chunks(chunk).map(|t| (t, probe)));
        }
        match selection {
            ProbeSelection::None => plain(pixels, &mut tiles, chunk, false),
            ProbeSelection::All => plain(pixels, &mut tiles, chunk, true),
            ProbeSelection::Pixels(selected) => {
                let mut start = 0;
                for (at, p) in pixels.iter().enumerate() {
                    if selected.contains(p) {
                        plain(&pixels[start..at], &mut tiles, chunk, false);
                        tiles.push((&pixels[at..at + 1], true));
                        start = at + 1;
                    }
                }
                plain(&pixels[start..], &mut tiles, chunk, false);
            }
        }
        let mut scene: Option<Arc<SceneValues>> = None;
        let mut done = 0;
        for (tile, probed) in tiles {
            let (values, probe) = if probed {
                let model = self.model(&self.params)?;
                if scene.is_none() {
                    scene = Some(Arc::new(self.scene_probe(&model).values()));
                }
                let (values, kept) = self.tensor_tile(&self.params, &model, tile, &mut state, true);
                let probe = kept.map(|kept| TileProbe { kept, value: values.clone() });
                (values, probe)
            } else {
                (self.tile_values(tile, &mut state)?, None)
            };
            let host = values.into_data();
            if self.options.keep_f64 {
                let host = host.convert::<f64>().into_vec::<f64>().expect("converted to f64");
                let stored: Vec<f32> = host.iter().map(|&v| v as f32).collect();
                crate::validate::check_rendered(&stored, tile, det.fpixels)?;
                for ((&idx, v), v32) in tile.iter().zip(host).zip(stored) {
                    data[idx] = v32;
                    data_f64[idx] = v;
                }
            } else {
                let host = host.convert::<f32>().into_vec::<f32>().expect("converted to f32");
                crate::validate::check_rendered(&host, tile, det.fpixels)?;
                match Pixels::of(tile) {
                    Pixels::Run { first, len } => data[first..first + len].copy_from_slice(&host),
                    Pixels::List(_) => {
                        for (&idx, v) in tile.iter().zip(host) {
                            data[idx] = v;
                        }
                    }
                }
            }
            if let (Some(probe), Some(scene)) = (probe, &scene) {
                for report in probe.reports(tile, det.fpixels, self.tile_dims(), scene) {
                    observer.pixel(&report);
                }
            }
            done += tile.len();
            observer.progress(done, pixels.len());
        }
        Ok(Image {
            fpixels: det.fpixels,
            spixels: det.spixels,
            data,
            data_f64,
            notes: state.notes,
        })
    }

    fn tile_dims(&self) -> TileDims {
        let os = self.plan.oversample;
        TileDims {
            layers: self.setup.detector.thick_steps,
            subpixels: os * os,
            sources: self.setup.beam.sources.len(),
            steps: self.setup.crystal.phi_steps * self.setup.crystal.mosaic_axes.len().max(1),
        }
    }

    fn scene_probe(&self, m: &Model<B>) -> SceneProbe<B> {
        let s = m.inc_host.len();
        let samp = &self.setup.sampling;
        SceneProbe {
            pix0: m.det.pix0.clone(),
            fdet: m.det.fdet.clone(),
            sdet: m.det.sdet.clone(),
            odet: m.det.odet.clone(),
            close_distance: m.det.close_distance.clone(),
            reciprocal: m.crystal.reciprocal.clone(),
            incident: m.inc.clone().reshape([s, 3]),
            lambda: m.lambda.clone().reshape([s]),
            fluence: self.params.fluence.clone(),
            wavelength: self.params.wavelength.clone(),
            phi_deg: phi_angles(&self.params, self.setup.crystal.phi_steps)
                .into_iter()
                .map(|x| x * RTD)
                .collect(),
            domains: self.setup.crystal.mosaic_axes.len().max(1),
            steps: self.plan.steps,
            oversample_flags: [samp.oversample_thick, samp.oversample_polar, samp.oversample_omega],
            square_lattice: self.setup.crystal.shape == LatticeShape::Square,
            water_m: samp.water_m,
        }
    }
}
