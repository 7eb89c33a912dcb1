//! Writing an SMV file: the C program's header followed by little-endian pixels.

use std::path::Path;

use super::format::{smv_header_bytes, SmvHeaderValues};
use crate::io::atomic::write_atomic;
use crate::io::IoError;

/// A complete SMV file: [`smv_header_bytes`] followed by `data` as little-endian u16. `data` is written as
/// given; [`write_smv`] checks that it holds `fpixels * spixels` values.
pub fn smv_bytes(v: &SmvHeaderValues, data: &[u16]) -> Vec<u8> {
    let mut out = smv_header_bytes(v);
    out.reserve(data.len() * 2);
    for d in data {
        out.extend_from_slice(&d.to_le_bytes());
    }
    out
}

/// Write an SMV file (see [`smv_bytes`]) atomically. Errors when `data.len() != fpixels * spixels`.
pub fn write_smv(path: &Path, v: &SmvHeaderValues, data: &[u16]) -> Result<(), IoError> {
    let n = v.fpixels.checked_mul(v.spixels);
    if n != Some(data.len()) {
        return Err(IoError::invalid(
            path,
            format!(
                "{} pixel values for a {}x{} SMV image",
                data.len(),
                v.fpixels,
                v.spixels
            ),
        ));
    }
    write_atomic(path, &smv_bytes(v, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::fixtures::values;

    #[test]
    fn write_checks_size() {
        let e = write_smv(Path::new("/tmp/never-written.img"), &values(), &[0; 5]).unwrap_err();
        assert!(matches!(e, IoError::InvalidInput { .. }));
    }
}
