//! Random numbers identical to the C program's: the Numerical Recipes `ran1` generator and the deviates built on it.
//!
//! * [`ran1`]: the uniform generator ([`Ran1`]) and its seed convention (the C program stores the
//!   *negated* command-line seed; a value `<= 0` starts a fresh stream).
//! * [`deviates`]: Gaussian, Poisson, `ln Γ` and random unit vectors, with the C functions'
//!   `static` state held in [`Deviates`].
//! * [`rotations`]: mosaic-domain rotation matrices, rotation matrix → misset angles, and the
//!   `-misset random` orientation.
//! * [`noise`]: the Poisson noise image written by `-noisefile`.
//! * [`counter`]: the throughput alternative (`-noise_rng philox`): Poisson deviates keyed by
//!   seed, stream and pixel (Philox4x32-10), drawn on the device; not the C program's stream.
//!
//! All values but [`counter`]'s reproduce the C program bit for bit (including its `float`/`double` mix); the unit
//! tests record values printed by the reference C functions.

pub mod counter;
pub mod deviates;
pub mod noise;
pub mod ran1;
pub mod rotations;

pub use deviates::{gammln, uniform3d_dev, Deviates, PoissonCache};
pub use noise::{poisson_noise_image, poisson_noise_image_with, NoiseResult};
pub use ran1::Ran1;
pub use rotations::{
    mosaic_domains, mosaic_domains_with, mosaic_rotation_umat, random_misset, random_misset_line,
    umat2misset, DEFAULT_MOSAIC_SEED, RANDOM_MISSET_CAP,
};
