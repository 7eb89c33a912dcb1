//! The refined model written back out: as a scene (TOML for `-scene`), as nanoBragg flags, and
//! as a MOSFLM A matrix.

pub mod flags;
pub mod mosflm;
pub mod scene;

pub use flags::{nanobragg_flags, shell_line};
pub use mosflm::{mosflm_matrix, mosflm_matrix_text};
pub use scene::refined_scene;
