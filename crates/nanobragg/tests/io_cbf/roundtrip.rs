//! Write → read round trips: pixels at every width edge of the byte-offset code, header values.

use nanobragg::io::{cbf_bytes, parse_cbf, read_cbf, write_cbf, CbfImage, PilatusHeader};
use proptest::prelude::*;
use std::path::Path;

/// The differences at each width's edge (0, ±127, ±128, ±32767, ±32768, ±2^31) and the i32 extremes.
const EXTREMES: [i32; 12] = [
    0,
    127,
    -127,
    128,
    -128,
    32767,
    -32767,
    32768,
    -32768,
    i32::MIN,
    i32::MAX,
    -1,
];

fn header(w: f64, d: f64, bx: f64, start: f64, text: String) -> PilatusHeader {
    PilatusHeader {
        convention: Some("PILATUS_1.2".into()),
        detector: Some(format!("PILATUS3 6M, S/N 60-0123 [{text}]")),
        timestamp: Some("2026-12-06T23:59:59.999".into()),
        pixel_size_m: Some([172e-6, 172e-6]),
        sensor_material: Some("CdTe".into()),
        sensor_thickness_m: Some(0.001),
        beam_xy_px: Some([bx, -bx]),
        count_cutoff_counts: Some(1_048_575.0),
        wavelength_a: Some(w),
        detector_distance_m: Some(d),
        start_angle_deg: Some(start),
        angle_increment_deg: Some(-start),
        polarization: Some(0.99),
        oscillation_axis: Some("X, CW".into()),
        other_lines: vec!["Image_path: /data/".into()],
        ..Default::default()
    }
}

#[test]
fn every_width_edge_survives_a_file_on_disk() {
    // each extreme after each other one: every difference from -2^32+1 to 2^32-1 at the edges
    let mut data = Vec::new();
    for a in EXTREMES {
        for b in EXTREMES {
            data.extend([a, b]);
        }
    }
    let n = data.len();
    let img = CbfImage {
        fpixels: 8,
        spixels: n / 8,
        data,
        header: header(1.0, 0.1, 1.5, 0.0, String::new()),
    };
    let dir = std::env::temp_dir().join(format!("nanobragg-cbf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("edges.cbf");
    write_cbf(&path, &img).unwrap();
    let back = read_cbf(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(back.data, img.data);
    assert_eq!((back.fpixels, back.spixels), (8, n / 8));
    assert_eq!(back.header.without_raw(), img.header);
}

fn pixels() -> impl Strategy<Value = Vec<i32>> {
    proptest::collection::vec(
        prop_oneof![
            prop::sample::select(EXTREMES.to_vec()),
            any::<i32>(),
            -300i32..300
        ],
        1..300,
    )
}

fn finite() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

proptest! {
    #[test]
    fn write_then_read_is_lossless(
        data in pixels(), w in finite(), d in finite(), bx in finite(), start in finite(),
        text in "[ -~]{0,20}",
    ) {
        let fpixels = data.len();
        let img = CbfImage { fpixels, spixels: 1, data, header: header(w, d, bx, start, text) };
        let back = parse_cbf(&cbf_bytes(&img), Path::new("rt.cbf")).unwrap();
        prop_assert_eq!(&back.data, &img.data);
        prop_assert_eq!((back.fpixels, back.spixels), (fpixels, 1));
        prop_assert_eq!(back.header.without_raw(), img.header);
    }
}
