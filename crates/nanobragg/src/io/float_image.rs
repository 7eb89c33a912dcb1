//! Raw float images (`-floatfile`): `fpixels * spixels` IEEE f32 values, little-endian, fast-major
//! (`index = slow * fpixels + fast`), no header. Values are photons per pixel.
//! (The C program writes native order; all platforms we run on, like the golden corpus, are little-endian.)

use std::io::Write;
use std::path::Path;

use super::atomic::write_atomic_with;
use super::{read_bytes, IoError};

/// The bytes of a raw float image: each value as 4 little-endian bytes.
pub fn float_image_bytes(data: &[f32]) -> Vec<u8> {
    data.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Write a raw float image atomically.
pub fn write_float_image(path: &Path, data: &[f32]) -> Result<(), IoError> {
    write_atomic_with(path, |w: &mut dyn Write| {
        for chunk in data.chunks(1 << 16) {
            w.write_all(&float_image_bytes(chunk))?;
        }
        Ok(())
    })
}

/// Write a raw f64 image (`-floatfile_f64`): each value as 8 little-endian bytes, no header.
pub fn write_float64_image(path: &Path, data: &[f64]) -> Result<(), IoError> {
    write_atomic_with(path, |w: &mut dyn Write| {
        for chunk in data.chunks(1 << 16) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
            w.write_all(&bytes)?;
        }
        Ok(())
    })
}

/// Read a raw f64 image of `expected_pixels` values (file size exactly `8 * expected_pixels`).
pub fn read_float64_image(path: &Path, expected_pixels: usize) -> Result<Vec<f64>, IoError> {
    let bytes = read_bytes(path)?;
    if expected_pixels.checked_mul(8) != Some(bytes.len()) {
        return Err(IoError::format(
            path,
            format!(
                "raw f64 image is {} bytes, expected {expected_pixels} pixels x 8 bytes",
                bytes.len()
            ),
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

/// Read a raw float image of `expected_pixels` values; the file size must be exactly `4 * expected_pixels`.
pub fn read_float_image(path: &Path, expected_pixels: usize) -> Result<Vec<f32>, IoError> {
    let bytes = read_bytes(path)?;
    parse_float_image(&bytes, expected_pixels, path)
}

/// Decode raw float image bytes; `path` is used only in error messages. See [`read_float_image`].
pub fn parse_float_image(
    bytes: &[u8],
    expected_pixels: usize,
    path: &Path,
) -> Result<Vec<f32>, IoError> {
    let want = expected_pixels.checked_mul(4);
    if want != Some(bytes.len()) {
        return Err(IoError::format(
            path,
            format!(
                "raw float image is {} bytes, expected {} pixels x 4 bytes = {}",
                bytes.len(),
                expected_pixels,
                want.map_or("overflow".to_string(), |w| w.to_string())
            ),
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn roundtrip_file() {
        let dir = std::env::temp_dir().join(format!("nanobragg-float-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("float.bin");
        let data = vec![0.0f32, 1.5, -2.25, f32::INFINITY, 1e-30];
        write_float_image(&p, &data).unwrap();
        assert_eq!(std::fs::read(&p).unwrap().len(), 20);
        assert_eq!(read_float_image(&p, 5).unwrap(), data);
        let e = read_float_image(&p, 6).unwrap_err().to_string();
        assert!(e.contains("float.bin") && e.contains("20 bytes"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(float_image_bytes(&[1.0]), vec![0, 0, 0x80, 0x3f]);
        assert!(parse_float_image(&[0; 8], usize::MAX, Path::new("f")).is_err());
    }

    #[test]
    fn f64_image_roundtrip_is_little_endian_and_checks_its_size() {
        let dir = std::env::temp_dir().join(format!("nanobragg-float64-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("float64.bin");
        let data = vec![0.0, 1.0 + f64::EPSILON, -2.25, 1e-300];
        write_float64_image(&p, &data).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(bytes.len(), 32);
        assert_eq!(bytes[8..16], [1, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
        assert_eq!(read_float64_image(&p, 4).unwrap(), data);
        let e = read_float64_image(&p, 5).unwrap_err().to_string();
        assert!(e.contains("float64.bin") && e.contains("32 bytes"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), n in 0usize..60) {
            let r = parse_float_image(&bytes, n, Path::new("f.bin"));
            prop_assert_eq!(r.is_ok(), bytes.len() == 4 * n);
        }
    }
}
