//! The `-cbffile` image: the render's `-intfile` counts with a Pilatus miniCBF header holding
//! the geometry dxtbx's `FormatCBFMiniPilatus` reads (pixel size, distance, wavelength, beam
//! centre, oscillation).

use nanobragg::io::cbf::{CbfImage, PilatusHeader};
use nanobragg::Setup;

use crate::run::Rendered;

/// The CBF of a single-detector render: `counts` fast-major, the header from the render's
/// SMV header values. `Beam_xy` is the direct-beam spot in pixels from the outer corner of
/// pixel (0, 0) along fast and slow (the C program's Fbeam, Sbeam over the pixel size), which
/// is how dxtbx places the beam from it.
pub fn cbf_image(r: &Rendered, counts: Vec<i32>, setup: &Setup) -> CbfImage {
    let h = &r.header;
    let pixel_m = h.pixel_size_mm / 1000.0;
    let d = &setup.detector;
    let header = PilatusHeader {
        convention: Some("PILATUS_1.2".into()),
        detector: Some("nanobragg simulation".into()),
        pixel_size_m: Some([pixel_m, pixel_m]),
        sensor_material: (d.thick_m > 0.0).then(|| "Silicon".to_string()),
        sensor_thickness_m: (d.thick_m > 0.0).then_some(d.thick_m),
        beam_xy_px: Some([h.denzo_y_beam_mm / h.pixel_size_mm, h.denzo_x_beam_mm / h.pixel_size_mm]),
        wavelength_a: Some(h.wavelength_a),
        detector_distance_m: Some(h.close_distance_mm / 1000.0),
        start_angle_deg: Some(h.osc_start_deg),
        angle_increment_deg: Some(h.osc_range_deg),
        detector_2theta_deg: Some(h.twotheta_deg),
        count_cutoff_counts: Some(i32::MAX as f64),
        ..PilatusHeader::default()
    };
    CbfImage { fpixels: r.image.fpixels, spixels: r.image.spixels, data: counts, header }
}
