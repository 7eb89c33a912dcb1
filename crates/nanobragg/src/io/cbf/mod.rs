//! CBF images of photon-counting detectors (Pilatus, Eiger): reader of miniCBF and full imgCIF files,
//! gzip-compressed or not, and a miniCBF writer.
//!
//! # File layout
//! A CIF text part (`###CBF: VERSION 1.5`, `data_<name>`, `_array_data.header_convention
//! "PILATUS_1.2"`, `_array_data.header_contents` — a text field of `# Key value` lines, see
//! [`PilatusHeader`] — then `_array_data.data`), CRLF line ends, followed by one binary section:
//! `--CIF-BINARY-FORMAT-SECTION--`, a MIME block ([`MimeHeader`]), a blank line, the marker
//! `0C 1A 04 D5`, `X-Binary-Size` bytes of byte-offset-compressed signed 32-bit pixels
//! ([`byte_offset`]), `X-Binary-Size-Padding` bytes of padding and a closing
//! `--CIF-BINARY-FORMAT-SECTION----` line. Pixels are fast-major
//! (`index = slow * fpixels + fast`), fast = `X-Binary-Size-Fastest-Dimension`.
//!
//! # Source files
//! `byte_offset.rs`: the compression codec; `header.rs`: the Pilatus header lines; `mime.rs`: the
//! MIME block; `read.rs`: parsing and validating a file; `write.rs`: whole files. Everything public
//! is re-exported here.

pub mod byte_offset;
mod header;
mod mime;
mod read;
mod write;

pub use byte_offset::{decode_byte_offset, encode_byte_offset, TruncatedStream};
pub use header::PilatusHeader;
pub use mime::MimeHeader;
pub use read::{parse_cbf, read_cbf, CbfImage, BINARY_MARKER, MAX_GUNZIPPED_BYTES};
pub use write::{cbf_bytes, write_cbf, CBF_PADDING_BYTES, DEFAULT_CONVENTION};
