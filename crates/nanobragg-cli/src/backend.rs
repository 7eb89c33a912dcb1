//! Backend and dtype dispatch: one generic code path, instantiated per compiled-in backend.

use nanobragg_cli::DType;

/// A render request generic over the backend, run by [`dispatch`].
pub trait BackendJob {
    /// Output of the job.
    type Output;
    /// Run on backend `B` with `device`.
    fn run<B: nanobragg::kernel::RenderBackend>(self, device: B::Device) -> Self::Output;
}

/// Run `job` on the backend named `backend` at `dtype`.
pub fn dispatch<J: BackendJob>(backend: &str, dtype: DType, job: J) -> Result<J::Output, String> {
    use burn_ndarray::{NdArray, NdArrayDevice};
    match (backend, dtype) {
        ("ndarray", DType::F64) => Ok(job.run::<NdArray<f64>>(NdArrayDevice::Cpu)),
        ("ndarray", DType::F32) => Ok(job.run::<NdArray<f32>>(NdArrayDevice::Cpu)),
        ("flex", DType::F32) => Ok(job.run::<burn_flex::Flex>(burn_flex::FlexDevice)),
        ("flex", DType::F64) => {
            Err("-backend flex: runs at f32 only (burn-flex's Backend is Flex<f32>); use -dtype f32".into())
        }
        #[cfg(feature = "cuda")]
        ("cuda", dtype) => {
            use burn_cuda::{Cuda, CudaDevice};
            if !cuda_driver_present() {
                return Err("-backend cuda: no CUDA driver (libcuda) found on this machine".into());
            }
            Ok(match dtype {
                DType::F64 => job.run::<Cuda<f64>>(CudaDevice::default()),
                DType::F32 => job.run::<Cuda<f32>>(CudaDevice::default()),
            })
        }
        (other, _) => Err(format!(
            "-backend {other}: not compiled in (available: {})",
            available().join(", ")
        )),
    }
}

/// A job that needs gradients, generic over an autodiff backend, run by [`dispatch_autodiff`]
/// (`grad`, `refine`, `ensemble`).
pub trait AutodiffJob {
    /// Output of the job.
    type Output;
    /// Run under autodiff backend `B` on `device`.
    fn run<B>(self, device: &B::Device) -> Self::Output
    where
        B: burn::tensor::backend::AutodiffBackend + nanobragg::kernel::RenderBackend;
}

/// Refuse, naming `command`, a `-backend` that gradients do not run on (ndarray, and cuda
/// where compiled in); checked before anything is read or written.
pub fn check_autodiff(backend: &str, command: &str) -> Result<(), String> {
    if backend == "ndarray" || cfg!(feature = "cuda") && backend == "cuda" {
        return Ok(());
    }
    let on = if cfg!(feature = "cuda") { "ndarray or cuda" } else { "ndarray (cuda: build with --features cuda)" };
    Err(format!("-backend {backend}: nanobragg {command} runs on {on}"))
}

/// Run `job` under autodiff on `backend` at `dtype`: the CPU, or with `cuda` the GPU
/// `local_rank mod GPUs` of the node ([`cuda_device`]). Refuses what [`check_autodiff`]
/// refuses.
pub fn dispatch_autodiff<J: AutodiffJob>(
    backend: &str,
    dtype: DType,
    local_rank: usize,
    command: &str,
    job: J,
) -> Result<J::Output, String> {
    use burn_autodiff::Autodiff;
    use burn_ndarray::{NdArray, NdArrayDevice};
    check_autodiff(backend, command)?;
    #[cfg(feature = "cuda")]
    if backend == "cuda" {
        use burn_cuda::Cuda;
        let device = cuda_device(local_rank)?;
        return Ok(match dtype {
            DType::F64 => job.run::<Autodiff<Cuda<f64>>>(&device),
            DType::F32 => job.run::<Autodiff<Cuda<f32>>>(&device),
        });
    }
    let _ = local_rank;
    Ok(match dtype {
        DType::F64 => job.run::<Autodiff<NdArray<f64>>>(&NdArrayDevice::Cpu),
        DType::F32 => job.run::<Autodiff<NdArray<f32>>>(&NdArrayDevice::Cpu),
    })
}

/// Names of the compiled-in backends.
pub fn available() -> Vec<&'static str> {
    let mut v = vec!["ndarray", "flex"];
    if cfg!(feature = "cuda") {
        v.push("cuda");
    }
    v
}

/// The GPU of the process with local rank `local_rank` (its rank among the processes of its
/// node): device `local_rank mod n` of the `n` that CUDA shows (after `CUDA_VISIBLE_DEVICES`).
/// Counting devices creates no CUDA context.
#[cfg(feature = "cuda")]
pub fn cuda_device(local_rank: usize) -> Result<burn_cuda::CudaDevice, String> {
    if !cuda_driver_present() {
        return Err("-backend cuda: no CUDA driver (libcuda) found on this machine".into());
    }
    let n = cudarc::driver::CudaContext::device_count()
        .map_err(|e| format!("-backend cuda: CUDA could not count its devices ({e:?})"))?;
    if n < 1 {
        return Err("-backend cuda: CUDA shows no device (see CUDA_VISIBLE_DEVICES)".into());
    }
    Ok(burn_cuda::CudaDevice { index: local_rank % n as usize })
}

#[cfg(feature = "cuda")]
fn cuda_driver_present() -> bool {
    ["/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1", "/usr/local/cuda/lib64/stubs/libcuda.so"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
        || std::env::var_os("LD_LIBRARY_PATH")
            .map(|paths| {
                std::env::split_paths(&paths).any(|d| d.join("libcuda.so.1").exists())
            })
            .unwrap_or(false)
}
