//! The CBF byte-offset codec for signed 32-bit pixels.
//!
//! Specification: the CBF/imgCIF dictionary, item `_array_structure.compression_type`, value
//! `byte_offset` ("the 'byte_offset' compression scheme as per A. Hammersley and the CBFlib manual,
//! section 3.3.3"; <https://cbflib.sourceforge.net/doc/Iarray_structure.compression_type.html>),
//! whose MIME name is `conversions="x-CBF_BYTE_OFFSET"`.
//!
//! Each pixel is stored as its difference from the previous pixel (the value before the first pixel
//! is 0), in the fewest bytes that hold it:
//!
//! | stored bytes | difference d |
//! |---|---|
//! | 1: `d` as i8 | −127 ≤ d ≤ 127 |
//! | 3: `0x80`, `d` as i16 LE | −32767 ≤ d ≤ 32767 |
//! | 7: `0x80`, `0x8000`, `d` as i32 LE | −2³¹+1 ≤ d ≤ 2³¹−1 |
//! | 15: `0x80`, `0x8000`, `0x80000000`, `d` as i64 LE | any other d |
//!
//! Each escape value (−128, −32768, −2³¹) is the smallest value of its width, so it never stands for
//! a difference. The encoder takes exact differences (in i64), so that a decoder that does not wrap
//! reads the same pixels; the decoder adds them modulo 2³², as CBFlib does for 32-bit elements
//! (a 64-bit difference is truncated to its low 32 bits, which gives the same sum).

/// A byte-offset stream that ends before the number of values asked for has been decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("byte-offset stream ends at byte {offset} after {decoded} of {wanted} values")]
pub struct TruncatedStream {
    /// Values decoded before the stream ended.
    pub decoded: usize,
    /// Values asked for.
    pub wanted: usize,
    /// Length of the stream, bytes.
    pub offset: usize,
}

/// `N` bytes of `stream` at `*pos` (advancing `*pos`), or `None` when fewer remain.
fn take<const N: usize>(stream: &[u8], pos: &mut usize) -> Option<[u8; N]> {
    let end = pos.checked_add(N)?;
    let bytes: [u8; N] = stream.get(*pos..end)?.try_into().ok()?;
    *pos = end;
    Some(bytes)
}

/// The next difference of the stream at `*pos`, low 32 bits (advancing `*pos` past it).
fn next_delta(stream: &[u8], pos: &mut usize) -> Option<i32> {
    let d8 = i8::from_le_bytes(take::<1>(stream, pos)?);
    if d8 != i8::MIN {
        return Some(i32::from(d8));
    }
    let d16 = i16::from_le_bytes(take::<2>(stream, pos)?);
    if d16 != i16::MIN {
        return Some(i32::from(d16));
    }
    let d32 = i32::from_le_bytes(take::<4>(stream, pos)?);
    if d32 != i32::MIN {
        return Some(d32);
    }
    // Only the low 32 bits of a 64-bit difference matter for a 32-bit sum (modulo 2^32).
    Some(i64::from_le_bytes(take::<8>(stream, pos)?) as i32)
}

/// Decode the first `count` values of a byte-offset `stream`. Returns the values and the number of
/// bytes they used (bytes after them are not read). Never panics; a stream that ends first is a
/// [`TruncatedStream`].
pub fn decode_byte_offset(
    stream: &[u8],
    count: usize,
) -> Result<(Vec<i32>, usize), TruncatedStream> {
    let truncated = |decoded| TruncatedStream {
        decoded,
        wanted: count,
        offset: stream.len(),
    };
    // Every value takes at least one byte: refuse early, and never reserve more than the stream allows.
    if count > stream.len() {
        let mut pos = 0;
        let decoded = (0..)
            .take_while(|_| next_delta(stream, &mut pos).is_some())
            .count();
        return Err(truncated(decoded));
    }
    let mut values = Vec::with_capacity(count);
    let mut pos = 0;
    let mut current = 0i32;
    while values.len() < count {
        let delta = next_delta(stream, &mut pos).ok_or_else(|| truncated(values.len()))?;
        current = current.wrapping_add(delta);
        values.push(current);
    }
    Ok((values, pos))
}

/// Append the byte-offset encoding of `values` to `out`; returns the number of bytes appended.
pub fn encode_byte_offset_into(values: &[i32], out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let mut previous = 0i64;
    for &v in values {
        let d = i64::from(v) - previous;
        previous = i64::from(v);
        if let Ok(d8) = i8::try_from(d) {
            if d8 != i8::MIN {
                out.push(d8 as u8);
                continue;
            }
        }
        out.push(0x80);
        if let Ok(d16) = i16::try_from(d) {
            if d16 != i16::MIN {
                out.extend_from_slice(&d16.to_le_bytes());
                continue;
            }
        }
        out.extend_from_slice(&i16::MIN.to_le_bytes());
        if let Ok(d32) = i32::try_from(d) {
            if d32 != i32::MIN {
                out.extend_from_slice(&d32.to_le_bytes());
                continue;
            }
        }
        out.extend_from_slice(&i32::MIN.to_le_bytes());
        out.extend_from_slice(&d.to_le_bytes());
    }
    out.len() - start
}

/// The byte-offset encoding of `values` (see the module documentation).
pub fn encode_byte_offset(values: &[i32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() + 16);
    encode_byte_offset_into(values, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Hand-written streams, bytes as the specification lays them out.
    #[test]
    fn decodes_each_width_from_hand_written_bytes() {
        // 5 (+5), 4 (-1), 4 + 300 = 304 (0x80, 300 LE), 304 - 100000 (0x80, 0x8000, -100000 LE)
        let mut s = vec![5u8, 0xff, 0x80, 0x2c, 0x01, 0x80, 0x00, 0x80];
        s.extend_from_slice(&(-100_000i32).to_le_bytes());
        // a 64-bit difference of +2^32 + 7: adds 7 modulo 2^32
        s.extend_from_slice(&[0x80, 0x00, 0x80, 0x00, 0x00, 0x00, 0x80]);
        s.extend_from_slice(&((1i64 << 32) + 7).to_le_bytes());
        let (v, used) = decode_byte_offset(&s, 5).unwrap();
        assert_eq!(v, [5, 4, 304, 304 - 100_000, 304 - 100_000 + 7]);
        assert_eq!(used, s.len());
    }

    #[test]
    fn encodes_the_smallest_width_and_never_an_escape_as_a_value() {
        assert_eq!(encode_byte_offset(&[127]), [0x7f]);
        assert_eq!(encode_byte_offset(&[-127]), [0x81]);
        assert_eq!(encode_byte_offset(&[-128]), [0x80, 0x80, 0xff]);
        assert_eq!(
            encode_byte_offset(&[-32768]),
            [0x80, 0x00, 0x80, 0x00, 0x80, 0xff, 0xff]
        );
        assert_eq!(encode_byte_offset(&[32767]), [0x80, 0xff, 0x7f]);
        // i32::MIN from 0 is a difference of -2^31, the 32-bit escape: 64-bit form
        let e = encode_byte_offset(&[i32::MIN]);
        assert_eq!(e.len(), 15);
        assert_eq!(e[7..], (-(1i64 << 31)).to_le_bytes());
        // i32::MIN -> i32::MAX is +2^32 - 1 exactly
        let e = encode_byte_offset(&[i32::MIN, i32::MAX]);
        assert_eq!(e[22..], ((1i64 << 32) - 1).to_le_bytes());
    }

    #[test]
    fn every_truncation_is_an_error_with_the_count_decoded() {
        let v = [0, 127, -128, 32767, -32768, i32::MIN, i32::MAX, 3];
        let s = encode_byte_offset(&v);
        assert_eq!(
            decode_byte_offset(&s, v.len()).unwrap(),
            (v.to_vec(), s.len())
        );
        for cut in 0..s.len() {
            let e = decode_byte_offset(&s[..cut], v.len()).unwrap_err();
            assert!(e.decoded < v.len() && e.offset == cut, "{cut}: {e}");
        }
        assert_eq!(
            decode_byte_offset(&s, v.len() + 1).unwrap_err().decoded,
            v.len()
        );
        assert_eq!(decode_byte_offset(&[], 0).unwrap(), (vec![], 0));
    }

    proptest! {
        #[test]
        fn roundtrip(values in proptest::collection::vec(prop_oneof![
            any::<i32>(),
            prop::sample::select(vec![0, 127, -128, 32767, -32768, i32::MIN, i32::MAX]),
        ], 0..200)) {
            let s = encode_byte_offset(&values);
            prop_assert_eq!(decode_byte_offset(&s, values.len()).unwrap(), (values, s.len()));
        }

        #[test]
        fn random_streams_never_panic(s in proptest::collection::vec(any::<u8>(), 0..300), n in 0usize..400) {
            if let Ok((v, used)) = decode_byte_offset(&s, n) {
                prop_assert!(v.len() == n && used <= s.len());
            }
        }
    }
}
