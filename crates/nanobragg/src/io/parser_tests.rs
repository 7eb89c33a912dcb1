//! Checks the file-format parsers' unit tests share: a missing file is named in the error, and a
//! truncated file is an error, never a panic.

use std::fmt::Debug;
use std::path::Path;

use super::IoError;

/// Reading `path`, which must not exist, fails with an error whose message names the path.
pub(crate) fn assert_missing_file_named<T: Debug>(
    path: &str,
    read: impl FnOnce(&Path) -> Result<T, IoError>,
) {
    let e = read(Path::new(path)).unwrap_err().to_string();
    assert!(e.contains(path), "{e}");
}

/// Every prefix of `whole`, from empty to `whole` itself: the truncations a parser must survive.
pub(crate) fn prefixes(whole: &[u8]) -> impl Iterator<Item = &[u8]> {
    (0..=whole.len()).map(move |n| &whole[..n])
}
