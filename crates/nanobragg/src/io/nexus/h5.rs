//! Small typed accessors over `hdf5-metno`: strings stored as variable-length UTF-8 (as h5py
//! writes them), numbers as f64 or i64, and readers whose errors name the file and HDF5 path.

use std::path::Path;
use std::str::FromStr;

use hdf5_metno as hdf5;
use hdf5::types::{FixedAscii, FixedUnicode, VarLenAscii, VarLenUnicode};
use hdf5::{Dataset, Group, Location};

use super::fail;
use crate::error::Result;

/// The file being read or written, for messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    /// The file.
    pub path: &'a Path,
}

impl Ctx<'_> {
    /// The error at HDF5 path `at`.
    pub fn err(&self, at: &str, problem: impl std::fmt::Display) -> crate::error::NanobraggError {
        fail(self.path, at, problem)
    }

    /// `r`, its HDF5 error named at `at`.
    pub fn at<T>(&self, at: &str, r: hdf5::Result<T>) -> Result<T> {
        r.map_err(|e| self.err(at, e))
    }
}

fn unicode(s: &str) -> hdf5::Result<VarLenUnicode> {
    VarLenUnicode::from_str(s).map_err(|e| hdf5::Error::from(e.to_string().as_str()))
}

/// Write a scalar string attribute.
pub(crate) fn set_str_attr(loc: &Location, name: &str, value: &str) -> hdf5::Result<()> {
    loc.new_attr::<VarLenUnicode>().shape(()).create(name)?.write_scalar(&unicode(value)?)
}

/// Write a 1-D f64 attribute (a vector, an offset).
pub(crate) fn set_f64s_attr(loc: &Location, name: &str, values: &[f64]) -> hdf5::Result<()> {
    loc.new_attr::<f64>().shape(values.len()).create(name)?.write_raw(values)
}

/// Write a scalar string dataset.
pub(crate) fn str_dataset(group: &Group, name: &str, value: &str) -> hdf5::Result<Dataset> {
    let ds = group.new_dataset::<VarLenUnicode>().shape(()).create(name)?;
    ds.write_scalar(&unicode(value)?)?;
    Ok(ds)
}

/// Write a scalar f64 dataset with a `units` attribute.
pub(crate) fn f64_dataset(group: &Group, name: &str, value: f64, units: &str) -> hdf5::Result<Dataset> {
    let ds = group.new_dataset::<f64>().shape(()).create(name)?;
    ds.write_scalar(&value)?;
    set_str_attr(&ds, "units", units)?;
    Ok(ds)
}

/// A new group of NeXus class `class` (`@NX_class`).
pub(crate) fn nx_group(parent: &Group, name: &str, class: &str) -> hdf5::Result<Group> {
    let g = parent.create_group(name)?;
    set_str_attr(&g, "NX_class", class)?;
    Ok(g)
}

/// A string attribute, whatever its string type; `None` when absent or not a string.
pub(crate) fn attr_str(loc: &Location, name: &str) -> Option<String> {
    let a = loc.attr(name).ok()?;
    read_string(|| a.as_reader())
}

/// A scalar string dataset, whatever its string type; `None` when it is not one.
pub(crate) fn dataset_str(ds: &Dataset) -> Option<String> {
    read_string(|| ds.as_reader())
}

fn read_string<'a>(reader: impl Fn() -> hdf5::Reader<'a>) -> Option<String> {
    if let Ok(s) = reader().read_scalar::<VarLenUnicode>() {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = reader().read_scalar::<VarLenAscii>() {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = reader().read_scalar::<FixedUnicode<256>>() {
        return Some(s.as_str().to_string());
    }
    reader().read_scalar::<FixedAscii<256>>().ok().map(|s| s.as_str().to_string())
}

/// The dataset `name` of `group` (whose path is `group_path`), or an error naming it.
pub(crate) fn dataset(ctx: Ctx<'_>, group: &Group, group_path: &str, name: &str) -> Result<Dataset> {
    let at = format!("{group_path}/{name}");
    if !group.link_exists(name) {
        return Err(ctx.err(&at, "missing"));
    }
    ctx.at(&at, group.dataset(name))
}

/// The group `name` of `group` (whose path is `group_path`), or an error naming it.
pub(crate) fn group(ctx: Ctx<'_>, parent: &Group, parent_path: &str, name: &str) -> Result<Group> {
    let at = format!("{parent_path}/{name}");
    if !parent.link_exists(name) {
        return Err(ctx.err(&at, "missing"));
    }
    ctx.at(&at, parent.group(name))
}

/// Every value of a numeric dataset as f64, checked finite (`at` names it).
pub(crate) fn finite_f64s(ctx: Ctx<'_>, ds: &Dataset, at: &str) -> Result<Vec<f64>> {
    let v = ctx.at(at, ds.read_raw::<f64>())?;
    check_finite(ctx, at, &v)?;
    Ok(v)
}

/// The one value of a scalar or one-element numeric dataset, finite.
pub(crate) fn scalar_f64(ctx: Ctx<'_>, ds: &Dataset, at: &str) -> Result<f64> {
    match finite_f64s(ctx, ds, at)?.as_slice() {
        [x] => Ok(*x),
        v => Err(ctx.err(at, format!("holds {} values where one is expected", v.len()))),
    }
}

/// A 1-D f64 attribute of `len` finite values (`at` names the object holding it).
pub(crate) fn f64s_attr(ctx: Ctx<'_>, loc: &Location, at: &str, name: &str, len: usize) -> Result<Vec<f64>> {
    let here = format!("{at}@{name}");
    let a = ctx.at(&here, loc.attr(name))?;
    let v = ctx.at(&here, a.read_raw::<f64>())?;
    if v.len() != len {
        return Err(ctx.err(&here, format!("holds {} values where {len} are expected", v.len())));
    }
    check_finite(ctx, &here, &v)?;
    Ok(v)
}

/// Refuse any non-finite value of `v`.
pub(crate) fn check_finite(ctx: Ctx<'_>, at: &str, v: &[f64]) -> Result<()> {
    match v.iter().any(|x| !x.is_finite()) {
        true => Err(ctx.err(at, format!("{v:?} is not finite"))),
        false => Ok(()),
    }
}
