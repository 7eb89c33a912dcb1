//! The fused kernels on CUDA, written in CubeCL: the forward kernel of [`forward`] (one GPU
//! thread per pixel, looping over sensor layers, sub-pixels, sources and (φ, mosaic) cells as
//! the CPU kernel does) and, under autodiff, the tile's backward in the adjoint kernel of
//! [`adjoint`], one thread per pixel. This module holds their coverage, the compile-time
//! variant ([`KernelVariant`]) and constants they share, and their launches.
//!
//! Coverage ([`COVERAGE`]; other scenes render on the tensor path): the vectorised CPU path's
//! scenes ([`super::cpu::BATCH`]: SQUARE lattice, factors once per pixel) with F from
//! `default_F` or the nearest entry of an HKL grid (no tricubic interpolation), the tile's
//! pixels one run of the detector or a list of scan indices (ROI, mask, shoeboxes).

use super::real::Real;
use crate::physics::lattice::grating::{series_radius, slope_radius};
use super::capability::groups::{OTHER_LATTICES, PER_SUBPIXEL_FACTORS, SQUARE_ONCE_PER_PIXEL, TENSOR_PATH_ONLY};
use super::capability::{Capability, Coverage, KernelId};
use super::{FusedTile, RenderBackend, TileSpec};
use crate::random::counter::{CounterKey, CounterPixels};
use enumset::enum_set_union;
use crate::linalg::float_options;
use burn::tensor::{ops::FloatTensor, Shape, Tensor, TensorData, TensorPrimitive};
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::cubecl::CubeElement;
use burn_cubecl::cubecl::{calculate_cube_count_elemwise, CubeDim};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cuda::Cuda;
use std::sync::Arc;

mod adjoint;
mod forward;
mod grating;
mod plane;
mod geometry;
mod noise;
mod structure_factor;

/// Offsets into the per-tile constants array: the series radius of the value (forward), d_min,
/// the series radius of the slopes (adjoint, [`slope_radius`]), the HKL grid's first indices
/// and entry counts along h, k, l (zeros without a grid; [`structure_factor`]), then 9 values
/// per source (incident direction, E_in, B_in).
const C_RADIUS: usize = 0;
const C_DMIN: usize = 1;
const C_SLOPE_RADIUS: usize = 2;
const C_GRID: usize = 3;
const C_SOURCES: usize = 9;

/// What one build of a CUDA kernel is specialised for: the loop bounds and flags of a tile,
/// compile-time constants of the kernel source (CubeCL compiles one kernel per distinct value,
/// so once per scene).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct KernelVariant {
    /// Fast pixels of the detector (pixel `p` is at `(p % fpixels, p / fpixels)`).
    fpixels: usize,
    /// Sub-pixels per axis.
    oversample: usize,
    /// Sensor layers.
    layers: usize,
    /// Sources S (their λ at [`Layout::LAMBDA`](super::Layout::LAMBDA) in θ, their directions in
    /// the constants).
    sources: usize,
    /// (φ, mosaic) cells K.
    cells: usize,
    /// Whether the sensor has a thickness (capture fraction computed; else 1).
    thick: bool,
    /// Solid angle `1/r²` instead of `pixel²·close/r³`.
    point_pixel: bool,
    /// No polarization factor.
    nopolar: bool,
    /// F from the nearest entry of the HKL grid at θ's end ([`structure_factor`]); else every
    /// term takes `default_F`.
    grid: bool,
    /// Whether the float is f64 (the f64 polynomial coefficients).
    double: bool,
    /// Whether the tile's pixels are listed ([`Pixels::List`](super::Pixels::List): the kernels
    /// read each scan index) rather than one run from a first index.
    indexed: bool,
}

impl KernelVariant {
    /// The variant of `spec` at element type `E`.
    fn of<E>(spec: &TileSpec) -> Self {
        Self {
            fpixels: spec.fpixels,
            oversample: spec.oversample,
            layers: spec.layers,
            sources: spec.incident.len(),
            cells: spec.cells,
            thick: spec.thick,
            point_pixel: spec.point_pixel,
            nopolar: spec.nopolar,
            grid: spec.grid.is_some(),
            double: std::mem::size_of::<E>() == 8,
            indexed: matches!(spec.pixels, super::Pixels::List(_)),
        }
    }

    /// The same variant with no cells: the forward loop then computes only the factors taken
    /// once per pixel ([`forward::lattice_sum`]).
    fn without_cells(self) -> Self {
        Self { cells: 0, ..self }
    }

    /// θ's first grid entry ([`Layout::grid_at`](super::Layout::grid_at) of this variant's
    /// sources and cells).
    fn grid_at(&self) -> usize {
        super::Layout { sources: self.sources, cells: self.cells, grid: 0 }.grid_at()
    }
}

/// The kernels' small-angle sine and cosine: the CPU kernel's polynomials ([`Real::sin_small`],
/// [`Real::sin_cos_small`], about 1 ulp) with their coefficients written into the kernel source
/// as constants (no loads; the f64 set where `double`) — cheaper than the library functions,
/// which reduce arguments of any size. The coefficients enter as f64 values cast to the kernel's
/// float type: `F::new` takes an f32 and would round the f64 set.
macro_rules! cube_small_angle {
    (
        f32: sin [$($s32:literal),*] cos [$($c32:literal),*];
        f64: sin [$($s64:literal),*] cos [$($c64:literal),*];
    ) => {
        cube_polynomial_tail!(
            /// `u(x²)` of sin x = x + x³·u(x²).
            sin_tail, f64 [$($s64),*], f32 [$($s32),*]
        );
        cube_polynomial_tail!(
            /// `v(x²)` of cos x = 1 + x²·v(x²).
            cos_tail, f64 [$($c64),*], f32 [$($c32),*]
        );
    };
}

/// A polynomial in `s` by Horner's rule from its leading coefficient, with the f64 or the f32
/// set (`double`). (`u` is declared before the comptime branch that starts it at the leading
/// coefficient.)
macro_rules! cube_polynomial_tail {
    (
        $(#[$doc:meta])* $name:ident,
        f64 [$h64:literal $(, $c64:literal)*], f32 [$h32:literal $(, $c32:literal)*]
    ) => {
        $(#[$doc])*
        #[cube]
        #[allow(unused_assignments)]
        fn $name<F: Float>(s: F, #[comptime] double: bool) -> F {
            let mut u = F::new(0.0);
            if double {
                u = F::cast_from($h64);
                $(u = u * s + F::cast_from($c64);)*
            } else {
                u = F::cast_from($h32);
                $(u = u * s + F::cast_from($c32);)*
            }
            u
        }
    };
}
crate::kernel::real::small_angle_coefficients!(cube_small_angle);

/// sin x for |x| ≤ π/2.
#[cube]
fn sin_small<F: Float>(x: F, #[comptime] double: bool) -> F {
    let s = x * x;
    s * (sin_tail::<F>(s, double) * x) + x
}

/// `(sin x, cos x)` for |x| ≤ π/2 from one square.
#[cube]
fn sin_cos_small<F: Float>(x: F, #[comptime] double: bool) -> (F, F) {
    let s = x * x;
    (s * (sin_tail::<F>(s, double) * x) + x, cos_tail::<F>(s, double) * s + F::new(1.0))
}

/// What the CUDA forward and adjoint kernels implement: the vectorised CPU pass's scenes with F
/// from `default_F` or the nearest HKL grid entry, over any set of pixels.
pub const COVERAGE: Coverage = Coverage {
    kernel: KernelId::Cuda,
    implements: enum_set_union!(SQUARE_ONCE_PER_PIXEL, Capability::HklGrid, Capability::PixelSubset),
    declines: enum_set_union!(OTHER_LATTICES, PER_SUBPIXEL_FACTORS, TENSOR_PATH_ONLY, Capability::TricubicF),
};

type Runtime = cubecl::cuda::CudaRuntime;

/// A tile's pixels as the kernels take them ([`geometry::pixel_at`]): the listed scan indices
/// on the device, or the first index of a run.
struct TilePixels {
    /// The scan indices (u32) of a tile of listed pixels; one unread zero for a run.
    list: CubeTensor<Runtime>,
    /// The run's first scan index (0 for a list).
    first: u32,
}

impl TilePixels {
    /// The pixels of `spec` when the renderer chose this kernel for it, uploaded next to `theta`;
    /// `None` for another kernel's tile or scan indices past `u32::MAX` (the tensor path then
    /// renders it).
    fn of(spec: &TileSpec, theta: &CubeTensor<Runtime>) -> Option<Self> {
        if spec.kernel != KernelId::Cuda {
            return None;
        }
        let (list, first) = match &spec.pixels {
            super::Pixels::Run { first, len } => {
                u32::try_from(first + len).ok()?;
                (vec![0u32], *first as u32)
            }
            super::Pixels::List(indices) => {
                let list = indices.iter().map(|&p| u32::try_from(p).ok()).collect::<Option<Vec<u32>>>()?;
                (list, 0)
            }
        };
        let handle = theta.client.create_from_slice(u32::as_bytes(&list));
        let list = CubeTensor::new_contiguous(
            theta.client.clone(),
            theta.device.clone(),
            Shape::new([list.len()]),
            handle,
            burn::tensor::DType::U32,
        );
        Some(Self { list, first })
    }
}

/// The per-tile constants array of `spec` at element type `E` on `device` (see `C_RADIUS`).
fn constants<E: burn_cubecl::FloatElement + Float + Real>(
    spec: &TileSpec,
    device: &burn_cuda::CudaDevice,
) -> CubeTensor<Runtime> {
    let mut consts = vec![
        series_radius(<E as Real>::EPSILON),
        spec.dmin_m,
        slope_radius(),
    ];
    let (min, counts) = spec.grid.map_or(([0; 3], [0; 3]), |g| (g.min, g.counts()));
    consts.extend(min.iter().chain(&counts).map(|&v| v as f64));
    for s in 0..spec.incident.len() {
        consts.extend(spec.incident[s]);
        consts.extend(spec.e_in[s]);
        consts.extend(spec.b_in[s]);
    }
    Tensor::<Cuda<E>, 1>::from_data(
        TensorData::new(consts.iter().map(|&v| <E as Real>::of(v)).collect::<Vec<E>>(), [consts.len()]),
        float_options::<Cuda<E>>(device),
    )
    .into_primitive()
    .tensor()
}

/// Launch the kernel for `spec`'s `pixels` on θ (element type `E`).
fn launch<E: burn_cubecl::FloatElement + Float + Real>(
    theta: CubeTensor<Runtime>,
    spec: &TileSpec,
    pixels: TilePixels,
) -> CubeTensor<Runtime> {
    let count = spec.pixels.len();
    let device = theta.device.clone();
    let consts = constants::<E>(spec, &device);
    let output = empty_device_dtype(theta.client.clone(), device, Shape::new([count]), theta.dtype);
    let cube_dim = CubeDim::new(&theta.client, count);
    let cube_count = calculate_cube_count_elemwise(&theta.client, count, cube_dim);
    forward::render_kernel::launch::<E, Runtime>(
        &output.client,
        cube_count,
        cube_dim,
        theta.into_array_arg(),
        consts.into_array_arg(),
        pixels.list.into_array_arg(),
        output.clone().into_array_arg(),
        pixels.first,
        count as u32,
        KernelVariant::of::<E>(spec),
    );
    output
}

/// Bytes of the per-warp gradient rows one backward launch may hold.
const BACKWARD_BUDGET_BYTES: usize = 512 << 20;

/// Units per plane (warp) on CUDA: the adjoint kernel sums each θ entry over a warp before
/// writing it.
const WARP: usize = 32;

/// Units per cube of the adjoint kernel. CubeCL writes the cube size into the kernel's
/// `__launch_bounds__`, and that is the only register cap it passes to the compiler: a cube of
/// 512 units holds the f64 adjoint to 128 registers a thread (from 220 at 256 units), two warps
/// more per scheduler — S4 fwd+bwd 17–19 ms instead of 23–24 ms on an H100. At f32 the kernel
/// fits in 128 registers at 256 units already, and larger cubes (fewer registers) were slower.
fn adjoint_cube_units(double: bool) -> u32 {
    if double {
        512
    } else {
        256
    }
}

/// `∂(Σ grad·values)/∂θ` for a tile the forward kernel rendered: the adjoint kernel sums each
/// θ entry before the grid over a warp and writes one row per warp, summed on the device, in
/// launches of at most [`BACKWARD_BUDGET_BYTES`]; the grid entries' gradients are added
/// atomically into one `[G]` buffer, appended at the end.
fn launch_backward<E: burn_cubecl::FloatElement + Float + Real>(
    theta: CubeTensor<Runtime>,
    spec: &TileSpec,
    pixels: TilePixels,
    grad: CubeTensor<Runtime>,
) -> CubeTensor<Runtime> {
    let total = spec.pixels.len();
    let device = theta.device.clone();
    let layout = spec.layout();
    let n_rows = layout.grid_at();
    let consts = constants::<E>(spec, &device);
    let grad = into_contiguous(grad);
    let theta = into_contiguous(theta);
    let options = float_options::<Cuda<E>>(&device);
    // At least one entry: the kernel's argument exists even where no grid is read.
    let grid_grad = Tensor::<Cuda<E>, 1>::zeros([layout.grid.max(1)], options.clone()).into_primitive().tensor();
    let per_pixel = (n_rows * std::mem::size_of::<E>()).div_ceil(WARP);
    let chunk = (BACKWARD_BUDGET_BYTES / per_pixel / WARP * WARP).clamp(WARP, total.max(WARP));
    let mut sum: Option<Tensor<Cuda<E>, 1>> = None;
    // Whole warps in every cube, so that each plane sum sees a full warp.
    let units = adjoint_cube_units(std::mem::size_of::<E>() == 8);
    for offset in (0..total).step_by(chunk) {
        let count = chunk.min(total - offset);
        // A one-dimensional grid of whole cubes and a row for each of their warps: every
        // unit's row exists, so the kernel writes without bounds.
        let cubes = count.div_ceil(units as usize);
        let warps = cubes * units as usize / WARP;
        // One dense row of θ entries per warp: allocated 1-D, since a 2-D allocation may pad
        // its rows (pitched) while the kernel indexes `warp·rows + entry`.
        let buffer = Tensor::<Cuda<E>, 1>::zeros([n_rows * warps], options.clone()).into_primitive().tensor();
        adjoint::adjoint_kernel::launch::<E, Runtime>(
            &buffer.client,
            CubeCount::Static(cubes as u32, 1, 1),
            CubeDim::new_1d(units),
            theta.clone().into_array_arg(),
            consts.clone().into_array_arg(),
            grad.clone().into_array_arg(),
            buffer.clone().into_array_arg(),
            grid_grad.clone().into_array_arg(),
            pixels.list.clone().into_array_arg(),
            pixels.first,
            offset as u32,
            count as u32,
            plane::PartialRows { len: n_rows },
            KernelVariant::of::<E>(spec),
        );
        let partial = Tensor::<Cuda<E>, 1>::from_primitive(TensorPrimitive::Float(buffer));
        let part = partial.reshape([warps, n_rows]).sum_dim(0).reshape([n_rows]);
        sum = Some(match sum {
            Some(s) => s + part,
            None => part,
        });
    }
    let sum = sum.unwrap_or_else(|| Tensor::zeros([n_rows], options));
    let sum = if layout.grid > 0 {
        Tensor::cat(vec![sum, Tensor::from_primitive(TensorPrimitive::Float(grid_grad))], 0)
    } else {
        sum
    };
    sum.into_primitive().tensor()
}

/// Poisson deviates of `means` for `pixels` under `key` (see [`noise`]).
fn launch_poisson<E: burn_cubecl::FloatElement + Float>(
    means: CubeTensor<Runtime>,
    pixels: &CounterPixels,
    key: CounterKey,
) -> CubeTensor<Runtime> {
    let means = into_contiguous(means);
    let count = means.meta.num_elements();
    let (list, first, indexed) = match pixels {
        CounterPixels::Run { first } => (vec![0u32], *first, false),
        CounterPixels::List(list) => (list.clone(), 0, true),
    };
    let list = CubeTensor::new_contiguous(
        means.client.clone(),
        means.device.clone(),
        Shape::new([list.len()]),
        means.client.create_from_slice(u32::as_bytes(&list)),
        burn::tensor::DType::U32,
    );
    let output = empty_device_dtype(means.client.clone(), means.device.clone(), Shape::new([count]), means.dtype);
    let cube_dim = CubeDim::new(&means.client, count.max(1));
    let cube_count = calculate_cube_count_elemwise(&means.client, count.max(1), cube_dim);
    let [key0, key1] = key.words();
    noise::poisson_kernel::launch::<E, Runtime>(
        &output.client,
        cube_count,
        cube_dim,
        means.into_array_arg(),
        list.into_array_arg(),
        output.clone().into_array_arg(),
        first,
        count as u32,
        key0,
        key1,
        key.stream,
        indexed,
    );
    output
}

macro_rules! cuda_kernel {
    ($elem:ty) => {
        impl RenderBackend for Cuda<$elem> {
            fn kernels() -> &'static [&'static Coverage] {
                &[&COVERAGE]
            }

            fn has_fused_backward() -> bool {
                true
            }

            fn inputs_on_host() -> bool {
                // Each small op of the model would be a launch; θ is a few hundred values.
                true
            }

            fn fused_tile_pixels() -> usize {
                // One tile per image: the kernel is compiled once per scene (sizes are
                // compile-time constants) and the result stays on the device.
                usize::MAX
            }

            fn fused_tile(theta: FloatTensor<Self>, spec: &Arc<TileSpec>) -> Option<FusedTile<Self>> {
                let pixels = TilePixels::of(spec, &theta)?;
                let values = launch::<$elem>(theta, spec, pixels);
                Some(FusedTile {
                    values,
                    // Culling by d_min is the only way an evaluation does not run; the φ-cache
                    // policies that read this flag never reach the fused kernel.
                    any_active: true,
                })
            }

            fn fused_tile_backward(
                theta: FloatTensor<Self>,
                spec: &Arc<TileSpec>,
                grad: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                let pixels = TilePixels::of(spec, &theta).expect("the forward kernel rendered this tile");
                launch_backward::<$elem>(theta, spec, pixels, grad)
            }

            fn has_counter_poisson() -> bool {
                true
            }

            fn counter_poisson(
                means: FloatTensor<Self>,
                pixels: &CounterPixels,
                key: CounterKey,
            ) -> Option<FloatTensor<Self>> {
                Some(launch_poisson::<$elem>(means, pixels, key))
            }
        }
    };
}

cuda_kernel!(f32);
cuda_kernel!(f64);

/// The CubeCL allocator's figures for one CUDA device, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocatorUsage {
    /// Bytes held by live tensors.
    pub in_use: u64,
    /// Bytes the allocator has reserved from the driver. CubeCL keeps the pages it reserves
    /// for reuse, so after a render this is about the pool's high-water mark.
    pub reserved: u64,
}

/// What the CubeCL allocator of `device` holds now (blocks until the device's queue has run).
pub fn allocator_usage(device: &burn_cuda::CudaDevice) -> Option<AllocatorUsage> {
    use burn_cubecl::cubecl::Runtime;
    let usage = cubecl::cuda::CudaRuntime::client(device).memory_usage().ok()?;
    Some(AllocatorUsage { in_use: usage.bytes_in_use, reserved: usage.bytes_reserved })
}
