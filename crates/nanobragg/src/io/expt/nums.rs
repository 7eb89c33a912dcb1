//! Serde helpers for the fixed-length number lists of dxtbx JSON (`[x, y, z]` vectors, `[fast, slow]`
//! pairs, 3×3 matrices stored as 9 numbers) and for keys that dxtbx writes as `null`.
//!
//! A list of the wrong length is refused with `expected N numbers, found M`, which the reader prefixes
//! with the JSON key (`detector[0].panels[3].fast_axis: expected 3 numbers, found 2`).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// `N` numbers (or other elements of type `T`), refusing any other length.
pub(crate) fn arr<'de, D, T, const N: usize>(d: D) -> Result<[T; N], D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let v: Vec<T> = Vec::deserialize(d)?;
    let found = v.len();
    v.try_into()
        .map_err(|_| D::Error::custom(format!("expected {N} numbers, found {found}")))
}

/// [`arr`] for a key that may be absent (`None`). An explicit `null` is refused: dxtbx never writes
/// one for these keys.
pub(crate) fn opt_arr<'de, D, T, const N: usize>(d: D) -> Result<Option<[T; N]>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Wrap<T, const N: usize>([T; N]);
    impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for Wrap<T, N> {
        fn deserialize<D2: Deserializer<'de>>(d: D2) -> Result<Self, D2::Error> {
            arr(d).map(Wrap)
        }
    }
    let w = Option::<Wrap<T, N>>::deserialize(d)?;
    match w {
        Some(Wrap(a)) => Ok(Some(a)),
        None => Err(D::Error::custom(format!(
            "expected {N} numbers, found null"
        ))),
    }
}

/// A key that may be absent (outer `None`), present as `null` (`Some(None)`), or present with a value:
/// dxtbx writes `"ML_half_mosaicity_deg": null` for a crystal without that model, and `null` must come
/// back out as `null` for read → write to keep the file.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
