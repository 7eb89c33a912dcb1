//! Command-line front end of nanobragg: nanoBragg-compatible, single-dash flags.
//!
//! [`parse_args`] turns an argument list (without the program name) into a [`CommandLine`]:
//! a [`nanobragg::scene::Scene`] in user units plus this implementation's own options
//! (`-dtype`, `-backend`, `-scene`, `-dump_scene`, `-phi_carryover_mode`, `-tile_pixels`).
//! [`usage`] prints every accepted flag. Both are driven by one table, [`flag_table`].
#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links, rustdoc::private_intra_doc_links)]

pub mod args;
pub mod error;
pub mod help;
pub mod speed_scenes;

pub use args::{
    flag_table, lookup, parse_args, Arity, CommandLine, DType, FlagGroup, FlagSpec,
    EnsembleArgs, PanelChoice, PhiCarryoverMode, RefineArgs, ScheduleArg,
};
pub use error::{CliError, Result};
pub use help::usage;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
