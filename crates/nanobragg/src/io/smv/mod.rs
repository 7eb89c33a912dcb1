//! SMV (ADSC) images: reader, byte-exact writer of the C program's `-intfile`/`-noisefile` output, and the
//! float → 16-bit conversion the C program applies before writing `-intfile`.
//!
//! # File layout
//! An ASCII header `{\nKEY=VALUE;\n...}\f`, padded with spaces to `HEADER_BYTES` bytes (512 for every file
//! the C program writes), then `SIZE1 * SIZE2` unsigned 16-bit pixels, fast-major
//! (`index = slow * SIZE1 + fast`; SIZE1 = fast pixels, SIZE2 = slow pixels), in the byte order that the
//! `BYTE_ORDER` key names.
//!
//! # Reader
//! [`parse_smv_header`] requires: the file starts with `{`; a `HEADER_BYTES` key (looked up in the first 512
//! bytes) holding a positive integer no larger than the file; `SIZE1` and `SIZE2` positive integers;
//! `BYTE_ORDER` = `little_endian` or `big_endian`; `TYPE`, when present, = `unsigned_short`. [`parse_smv`]
//! further requires the data to be complete (extra trailing bytes are ignored). The C `GetFrame` is looser:
//! it only checks that the file starts with `{\nHEADER_BYT`, ignores `TYPE`, and — a C quirk — computes but
//! never applies the byte swap, always reading pixels in native order; we honour `BYTE_ORDER`.
//!
//! Key lookup comes in two flavours:
//! - [`SmvHeader::value_of`] mirrors the C `ValueOf` exactly: it finds the **last substring occurrence** of the
//!   key anywhere in the header (not a whole-key match), then the next `=` after it, and applies `atof` to
//!   what follows. Consequence: `value_of("DISTANCE")` finds the `DISTANCE` inside `CLOSE_DISTANCE=`, which
//!   the C program writes after `DISTANCE=`, so it returns the CLOSE_DISTANCE value — the C program's
//!   `-img`/`-mask` ingestion really does set the distance from CLOSE_DISTANCE. Use this to reproduce the C
//!   program's header ingestion.
//! - [`SmvHeader::value_of_exact`] / [`SmvHeader::string_value`] match whole keys of `KEY=VALUE` entries
//!   (entries separated by `;` or line breaks; last one wins).
//!
//! # Writer
//! [`smv_header_bytes`] produces the C program's header byte for byte from an [`SmvHeaderValues`] (every
//! number printed with C's `%g`, keys in C's order, `DIALS_ORIGIN` without a trailing `;`, `}\f`, spaces to
//! 512 bytes). We always write little-endian pixels and say so (`BYTE_ORDER=little_endian`), which is what the
//! C program writes on little-endian hosts.
//!
//! Deliberate deviation: when the header text is longer than 512 bytes (possible with long `%g` values, e.g.
//! beam centres and DIALS origin components of 7-8 characters each on a large detector), the C program
//! writes no padding and still claims `HEADER_BYTES=512`, producing a file whose data starts at the wrong
//! offset. We instead set `HEADER_BYTES` to the next multiple of 512 and pad to it. Whenever the C file is
//! well formed (header text <= 512 bytes), our bytes are identical to it.
//!
//! # Source files
//! `header.rs`: the parsed header and its key lookups; `read.rs`: parsing and validating a file;
//! `format.rs`: the values the C program prints and its header bytes; `write.rs`: whole files;
//! `intfile.rs`: the float → 16-bit conversion of `-intfile`. Everything public is re-exported
//! here.

mod format;
mod header;
mod intfile;
mod read;
mod write;

pub use format::{smv_header_bytes, SmvHeaderValues};
pub use header::{ByteOrder, SmvHeader};
pub use intfile::{int_counts, int_image, intfile_auto_scale};
pub use read::{parse_smv, parse_smv_header, read_smv, SmvImage};
pub use write::{smv_bytes, write_smv};

/// What the tests of the submodules share.
#[cfg(test)]
mod fixtures {
    use std::path::Path;

    use super::SmvHeaderValues;

    /// The path error messages name.
    pub(super) fn p() -> &'static Path {
        Path::new("x.img")
    }

    /// Header values of a small 3×2 image.
    pub(super) fn values() -> SmvHeaderValues {
        SmvHeaderValues {
            fpixels: 3,
            spixels: 2,
            pixel_size_mm: 0.1,
            distance_mm: 100.0,
            wavelength_a: 1.0,
            beam_center_x_mm: 6.45,
            beam_center_y_mm: 6.45,
            adxv_center_x_mm: 6.5,
            adxv_center_y_mm: 6.3,
            mosflm_center_x_mm: 6.45,
            mosflm_center_y_mm: 6.45,
            denzo_x_beam_mm: 6.5,
            denzo_y_beam_mm: 6.5,
            dials_origin_mm: [-6.5, 6.5, -100.0],
            xds_orgx: 65.5,
            xds_orgy: 65.5,
            close_distance_mm: 100.0,
            phi_deg: 0.0,
            osc_start_deg: 0.0,
            osc_range_deg: 0.0,
            twotheta_deg: 0.0,
        }
    }
}
