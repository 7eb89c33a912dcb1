//! Malformed files: each defect is an `IoError` naming the file, never a panic.

use nanobragg::io::cbf::BINARY_MARKER;
use nanobragg::io::{cbf_bytes, parse_cbf, read_cbf, CbfImage, IoError};
use proptest::prelude::*;
use std::path::Path;

fn good() -> Vec<u8> {
    let data = vec![
        0,
        1,
        -1,
        200,
        70_000,
        i32::MIN,
        i32::MAX,
        5,
        5,
        5,
        -40_000,
        3,
    ];
    cbf_bytes(&CbfImage {
        fpixels: 4,
        spixels: 3,
        data,
        header: Default::default(),
    })
}

/// `bytes` with the first `from` replaced by `to` (text of the MIME block).
fn swap(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("{from}"));
    [&bytes[..at], to.as_bytes(), &bytes[at + from.len()..]].concat()
}

/// `bytes` without the Content-MD5 line, so that edits of the sizes reach the decoder.
fn no_md5(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let i = text.find("Content-MD5: ").unwrap();
    let line = &text[i..i + text[i..].find("\r\n").unwrap() + 2];
    swap(bytes, line, "")
}

/// The error of parsing `bytes` as "bad.cbf", checked to be a Format error naming the file.
fn err(bytes: &[u8]) -> String {
    let e = parse_cbf(bytes, Path::new("dir/bad.cbf")).unwrap_err();
    assert!(matches!(e, IoError::Format { .. }), "{e:?}");
    let s = e.to_string();
    assert!(s.starts_with("dir/bad.cbf: "), "{s}");
    s
}

fn binary_size(bytes: &[u8]) -> usize {
    let t = String::from_utf8_lossy(bytes);
    let i = t.find("X-Binary-Size: ").unwrap() + 15;
    t[i..].split("\r\n").next().unwrap().parse().unwrap()
}

fn marker(bytes: &[u8]) -> usize {
    bytes.windows(4).position(|w| w == BINARY_MARKER).unwrap()
}

#[test]
fn each_defect_is_an_error_naming_the_file() {
    let g = good();
    assert_eq!(parse_cbf(&g, Path::new("ok.cbf")).unwrap().data.len(), 12);
    assert_eq!(
        parse_cbf(&no_md5(&g), Path::new("ok.cbf"))
            .unwrap()
            .data
            .len(),
        12
    );
    let size = binary_size(&g);
    let m = marker(&g);
    // truncated binary: the file ends inside the stream
    assert!(err(&g[..m + 4 + size - 1]).contains("truncated"));
    // wrong MD5: one stream byte changed
    let mut flipped = g.clone();
    flipped[m + 4 + 2] ^= 0x01;
    assert!(err(&flipped).contains("Content-MD5 mismatch"));
    assert!(err(&swap(&g, "Content-MD5: ", "Content-MD5: A")).contains("Content-MD5 mismatch"));
    // missing marker
    assert!(err(&swap(&g, "\r\n\r\n\u{c}\u{1a}\u{4}", "\r\n\r\nxxx")).contains("marker"));
    // count mismatches: fast x slow != elements; fewer elements than the stream holds; a stream
    // shorter than the elements need
    assert!(err(&swap(
        &g,
        "Number-of-Elements: 12",
        "Number-of-Elements: 11"
    ))
    .contains("Number-of-Elements is 11"));
    let fewer = swap(
        &swap(
            &no_md5(&g),
            "Number-of-Elements: 12",
            "Number-of-Elements: 8",
        ),
        "Second-Dimension: 3",
        "Second-Dimension: 2",
    );
    assert!(err(&fewer).contains(&format!("but X-Binary-Size is {size}")));
    let short = swap(
        &no_md5(&g),
        &format!("X-Binary-Size: {size}"),
        "X-Binary-Size: 9",
    );
    assert!(err(&short).contains("byte-offset stream ends at byte 9"));
    // element type, compression, byte order, encoding, missing or bad numbers
    assert!(err(&swap(
        &g,
        "signed 32-bit integer",
        "unsigned 16-bit integer"
    ))
    .contains("X-Binary-Element-Type"));
    assert!(err(&swap(&g, "x-CBF_BYTE_OFFSET", "x-CBF_PACKED")).contains("x-CBF_PACKED"));
    assert!(err(&swap(&g, "LITTLE_ENDIAN", "BIG_ENDIAN")).contains("BIG_ENDIAN"));
    assert!(err(&swap(&g, "Encoding: BINARY", "Encoding: BASE64")).contains("BASE64"));
    assert!(
        err(&swap(&g, "X-Binary-Size-Fastest", "X-Binary-Size-Fattest"))
            .contains("Fastest-Dimension")
    );
    assert!(err(&swap(
        &g,
        "Number-of-Elements: 12",
        "Number-of-Elements: -12"
    ))
    .contains("not a non-negative integer"));
    assert!(err(&swap(
        &g,
        "--CIF-BINARY-FORMAT-SECTION--\r\nContent",
        "--CIF-BINARY-FORMAT-SECTOIN\r\nContent"
    ))
    .contains("--CIF-BINARY"));
    assert!(err(b"").contains("marker"));
    // a gzip stream that is not one
    assert!(err(&[0x1f, 0x8b, 8, 0, 1, 2, 3]).contains("gzip"));
    // a header number that is not one
    let img = CbfImage {
        fpixels: 1,
        spixels: 1,
        data: vec![7],
        header: Default::default(),
    };
    let bad = swap(
        &cbf_bytes(&img),
        "header_contents\r\n;\r\n",
        "header_contents\r\n;\r\n# Wavelength abc A\r\n",
    );
    assert!(err(&bad).contains("# Wavelength abc A"));
    // a missing file
    let e = read_cbf(Path::new("/nonexistent/q.cbf")).unwrap_err();
    assert!(
        matches!(e, IoError::Os { .. }) && e.to_string().contains("/nonexistent/q.cbf"),
        "{e}"
    );
}

#[test]
fn only_prefixes_that_hold_the_whole_stream_parse() {
    let g = good();
    let m = marker(&g);
    let size = binary_size(&g);
    for cut in 0..g.len() {
        let ok = parse_cbf(&g[..cut], Path::new("p.cbf")).is_ok();
        assert_eq!(ok, cut >= m + 4 + size, "{cut} bytes");
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_cbf(&bytes, Path::new("r.cbf"));
        let mut with_marker = b"--CIF-BINARY-FORMAT-SECTION--\r\n".to_vec();
        with_marker.extend_from_slice(&bytes);
        with_marker.extend_from_slice(&BINARY_MARKER);
        with_marker.extend_from_slice(&bytes);
        let _ = parse_cbf(&with_marker, Path::new("r.cbf"));
    }

    #[test]
    fn mutated_files_never_panic(pos in 0usize..1200, byte in any::<u8>(), cut in 0usize..6000) {
        let mut g = no_md5(&good());
        let pos = pos % g.len();
        g[pos] = byte;
        let _ = parse_cbf(&g[..cut.min(g.len())], Path::new("m.cbf"));
    }
}
