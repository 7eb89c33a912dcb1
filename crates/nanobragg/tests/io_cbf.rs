//! miniCBF reader and writer: two real Pilatus files (here), write → read round trips
//! (`io_cbf/roundtrip.rs`), malformed files (`io_cbf/malformed.rs`).
//!
//! The real files are found via the `NANOBRAGG_REALDATA` environment variable, defaulting to
//! `<CARGO_MANIFEST_DIR>/../../../shared/realdata` (see its SOURCES.md). A missing folder is a test
//! failure, not a skip.
//!
//! Where the pinned numbers come from: dimensions, element counts, X-Binary-Size, min, max and the
//! header values are those stated in realdata/SOURCES.md (and in the files' own MIME and header text).
//! Pixel sums, single pixels and the position of the maximum were computed by an independent
//! byte-offset decoder written in Python (struct.unpack of the escapes, gzip module, hashlib MD5;
//! not part of the repository), which also found that re-encoding each difference in its smallest
//! width reproduces both real streams byte for byte.

use std::path::{Path, PathBuf};

use nanobragg::io::cbf::{encode_byte_offset, BINARY_MARKER};
use nanobragg::io::{cbf_bytes, parse_cbf, read_cbf, write_cbf, CbfImage, IoError};

fn realdata() -> PathBuf {
    let dir = match std::env::var_os("NANOBRAGG_REALDATA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realdata"),
    };
    assert!(
        dir.join("ximg2701_00001.cbf").is_file() && dir.join("run2_1_00148.cbf.gz").is_file(),
        "real data not found at {} (set NANOBRAGG_REALDATA to the folder holding ximg2701_00001.cbf)",
        dir.display()
    );
    dir
}

/// (min, max, sum as i64) of the pixels.
fn stats(data: &[i32]) -> (i32, i32, i64) {
    let min = *data.iter().min().unwrap();
    let max = *data.iter().max().unwrap();
    (min, max, data.iter().map(|&v| i64::from(v)).sum())
}

/// Index of the first maximum.
fn argmax(data: &[i32]) -> usize {
    let max = *data.iter().max().unwrap();
    data.iter().position(|&v| v == max).unwrap()
}

/// The compressed stream of a real file: the `size` bytes after its marker.
fn real_stream(bytes: &[u8], size: usize) -> &[u8] {
    let m = bytes.windows(4).position(|w| w == BINARY_MARKER).unwrap();
    &bytes[m + 4..m + 4 + size]
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// MIME value of `key` in our own output (one file, so one occurrence).
fn mime_value(bytes: &[u8], key: &str) -> String {
    let text = String::from_utf8_lossy(bytes);
    let i = text.find(&format!("{key}: ")).unwrap() + key.len() + 2;
    text[i..].split("\r\n").next().unwrap().to_string()
}

#[test]
fn pilatus_300k_full_imgcif_gives_the_stated_pixels_and_header() {
    let img = read_cbf(&realdata().join("ximg2701_00001.cbf")).unwrap();
    assert_eq!(
        (img.fpixels, img.spixels, img.data.len()),
        (487, 619, 301_453)
    );
    // min/max: SOURCES.md; sum: the independent Python decoder
    assert_eq!(stats(&img.data), (-2, 111_020, 124_090_330));
    // Python decoder: pixels 0, 1, (0, 1), (243, 309) and the last; first maximum at fast 85, slow 252
    let px: Vec<i32> = [0, 1, 487, 150_969, 301_452]
        .iter()
        .map(|&i| img.data[i])
        .collect();
    assert_eq!(px, [408, 381, 381, 493, 387]);
    assert_eq!(argmax(&img.data), 252 * 487 + 85);
    let h = &img.header;
    assert_eq!(h.convention.as_deref(), Some("PILATUS_1.2"));
    assert_eq!(
        h.detector.as_deref(),
        Some("PILATUS 300K, S/N 3-0104, Diamond")
    );
    assert_eq!(h.timestamp.as_deref(), Some("2011-07-21T11:59:03.203"));
    assert_eq!(h.pixel_size_m, Some([172e-6, 172e-6]));
    assert_eq!(
        (h.sensor_material.as_deref(), h.sensor_thickness_m),
        (Some("Silicon"), Some(0.00032))
    );
    assert_eq!(
        (h.exposure_time_s, h.exposure_period_s, h.tau_s),
        (Some(1.0), Some(1.005), Some(125.0e-9))
    );
    assert_eq!(
        (h.count_cutoff_counts, h.threshold_setting_ev),
        (Some(1_221_554.0), Some(9000.0))
    );
    assert_eq!(
        (h.wavelength_a, h.detector_distance_m),
        (Some(0.6894), Some(0.12237))
    );
    assert_eq!(h.beam_xy_px, Some([243.82, 326.75]));
    assert_eq!(
        (h.start_angle_deg, h.angle_increment_deg),
        (Some(1.0), Some(1.0))
    );
    assert_eq!(
        (h.detector_2theta_deg, h.polarization, h.flux_ph_per_s),
        (Some(20.0), Some(0.99), Some(0.0))
    );
    assert_eq!(
        (h.alpha_deg, h.kappa_deg, h.phi_deg, h.chi_deg),
        (Some(50.0), Some(-0.002), Some(1.0), Some(-30.0))
    );
    assert_eq!(h.gain_setting.as_deref(), Some("low gain (vrf = -0.300)"));
    assert!(
        h.other_lines
            .contains(&"Excluded_pixels: badpix_mask.tif".to_string()),
        "{:?}",
        h.other_lines
    );
    assert!(
        h.raw.starts_with("# Detector: PILATUS 300K") && h.raw.ends_with("C701.cif\n"),
        "{:?}",
        h.raw
    );
}

#[test]
fn pilatus_6m_gzipped_minicbf_gives_the_stated_pixels_and_header() {
    let img = read_cbf(&realdata().join("run2_1_00148.cbf.gz")).unwrap();
    assert_eq!(
        (img.fpixels, img.spixels, img.data.len()),
        (2463, 2527, 6_224_001)
    );
    assert_eq!(stats(&img.data), (-2, 664_762, 39_861_867));
    let px: Vec<i32> = [0, 1, 2463, 3_113_231, 6_224_000]
        .iter()
        .map(|&i| img.data[i])
        .collect();
    assert_eq!(px, [2, 0, 0, -1, 0]);
    assert_eq!(argmax(&img.data), 1839 * 2463 + 1260);
    let h = &img.header;
    assert_eq!(h.convention.as_deref(), Some("SLS_1.0"));
    assert_eq!(
        h.detector.as_deref(),
        Some("PILATUS 6M, 60-0001, X06SA@SLS")
    );
    assert_eq!(h.timestamp.as_deref(), Some("2007/Oct/22 15:32:16.289"));
    assert_eq!(
        (h.wavelength_a, h.detector_distance_m),
        (Some(1.0332), Some(0.3))
    );
    assert_eq!(h.beam_xy_px, Some([1230.10, 1310.50]));
    assert_eq!(
        (h.start_angle_deg, h.angle_increment_deg),
        (Some(74.3999), Some(0.2))
    );
    assert_eq!(h.oscillation_axis.as_deref(), Some("X, CW"));
    assert_eq!(
        (h.threshold_setting_ev, h.flux_ph_per_s),
        (Some(6000.0), Some(39.516))
    );
    assert_eq!(
        (h.exposure_time_s, h.exposure_period_s),
        (Some(0.395), Some(0.4))
    );
    assert_eq!(
        (
            h.detector_voffset_m,
            h.filter_transmission,
            h.n_oscillations
        ),
        (Some(0.0), Some(0.356), Some(1.0))
    );
}

/// Gzip is recognised by its magic bytes: gzip bytes under a plain name are read, plain bytes under a
/// `.gz` name too.
#[test]
fn gzip_is_recognised_by_its_magic_bytes_not_its_name() {
    let dir = realdata();
    let gz = std::fs::read(dir.join("run2_1_00148.cbf.gz")).unwrap();
    assert_eq!(
        parse_cbf(&gz, Path::new("plain.cbf")).unwrap().data.len(),
        6_224_001
    );
    let plain = std::fs::read(dir.join("ximg2701_00001.cbf")).unwrap();
    assert_eq!(
        parse_cbf(&plain, Path::new("x.cbf.gz")).unwrap().data.len(),
        301_453
    );
}

/// Re-encoding the decoded pixels gives the real files' byte-offset streams byte for byte, so the
/// Content-MD5 we write equals the one the detector wrote; the rewritten file reads back the same.
#[test]
fn real_images_rewritten_give_the_detector_stream_and_read_back_the_same() {
    let dir = realdata();
    let cases = [
        ("ximg2701_00001.cbf", 307_253, "PH96nNyJqGSHOyvSDjCzJQ=="),
        ("run2_1_00148.cbf.gz", 6_225_215, "3VNlvI3DPi84/iMr0EfPeg=="),
    ];
    for (name, size, md5) in cases {
        let path = dir.join(name);
        let raw = std::fs::read(&path).unwrap();
        let bytes = if name.ends_with(".gz") {
            gunzip(&raw)
        } else {
            raw
        };
        let img = read_cbf(&path).unwrap();
        assert_eq!(
            encode_byte_offset(&img.data),
            real_stream(&bytes, size),
            "{name}"
        );
        let ours = cbf_bytes(&img);
        assert_eq!(mime_value(&ours, "Content-MD5"), md5, "{name}");
        assert_eq!(
            mime_value(&ours, "X-Binary-Size"),
            size.to_string(),
            "{name}"
        );
        let back = parse_cbf(&ours, Path::new("rewritten.cbf")).unwrap();
        assert_eq!((back.fpixels, back.spixels), (img.fpixels, img.spixels));
        assert!(
            back.data == img.data,
            "{name}: pixels differ after a rewrite"
        );
        assert_eq!(
            back.header.without_raw(),
            img.header.without_raw(),
            "{name}"
        );
    }
}

/// Our file has the layout of the detector's: the same CIF lines and MIME keys in the same order,
/// CRLF line ends, marker, stream, 4095 bytes of padding and the closing boundary.
#[test]
fn written_file_has_the_pilatus_layout() {
    let img = read_cbf(&realdata().join("run2_1_00148.cbf.gz")).unwrap();
    let small = CbfImage {
        fpixels: 3,
        spixels: 2,
        data: vec![0, 1, -1, 200, i32::MAX, i32::MIN],
        header: img.header,
    };
    let bytes = cbf_bytes(&small);
    let m = bytes.windows(4).position(|w| w == BINARY_MARKER).unwrap();
    let text = std::str::from_utf8(&bytes[..m]).unwrap();
    assert!(text.starts_with("###CBF: VERSION 1.5"), "{text}");
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "a bare LF in {text:?}"
    );
    assert!(
        text.ends_with("X-Binary-Size-Padding: 4095\r\n\r\n"),
        "{text}"
    );
    let order = [
        "\r\ndata_",
        "\r\n_array_data.header_convention \"SLS_1.0\"\r\n",
        "_array_data.header_contents\r\n;\r\n# Detector: ",
        "\r\n# Wavelength 1.0332 A\r\n",
        "# Detector_distance 0.3 m\r\n",
        "# Beam_xy (1230.1, 1310.5) pixels\r\n",
        "\r\n;\r\n\r\n_array_data.data\r\n;\r\n--CIF-BINARY-FORMAT-SECTION--\r\n",
        "Content-Type: application/octet-stream;\r\n     conversions=\"x-CBF_BYTE_OFFSET\"\r\n",
        "Content-Transfer-Encoding: BINARY\r\n",
        "X-Binary-Size: ",
        "X-Binary-ID: 1\r\n",
        "X-Binary-Element-Type: \"signed 32-bit integer\"\r\n",
        "X-Binary-Element-Byte-Order: LITTLE_ENDIAN\r\n",
        "Content-MD5: ",
        "X-Binary-Number-of-Elements: 6\r\n",
        "X-Binary-Size-Fastest-Dimension: 3\r\n",
        "X-Binary-Size-Second-Dimension: 2\r\n",
    ];
    // each piece is looked for after the previous one (pieces ending in CRLF are followed by a
    // piece that starts a line)
    let mut at = 0;
    for piece in order {
        at += text[at..]
            .find(piece)
            .unwrap_or_else(|| panic!("{piece:?} missing or out of order in {text}"))
            + piece.len();
    }
    let size: usize = mime_value(&bytes, "X-Binary-Size").parse().unwrap();
    let rest = &bytes[m + 4 + size..];
    assert_eq!(&rest[..4095], &[0u8; 4095][..]);
    assert_eq!(
        &rest[4095..],
        b"\r\n--CIF-BINARY-FORMAT-SECTION----\r\n;\r\n\r\n"
    );
}

#[test]
fn write_checks_the_pixel_count_and_names_the_file() {
    let img = CbfImage {
        fpixels: 3,
        spixels: 2,
        data: vec![0; 5],
        header: Default::default(),
    };
    let e = write_cbf(Path::new("/tmp/never-written-cbf.cbf"), &img).unwrap_err();
    assert!(
        matches!(e, IoError::InvalidInput { .. })
            && e.to_string().contains("never-written-cbf.cbf"),
        "{e}"
    );
}

#[path = "io_cbf/malformed.rs"]
mod malformed;
#[path = "io_cbf/roundtrip.rs"]
mod roundtrip;
