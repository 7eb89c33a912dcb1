//! Which instruction set the vectorised loops run with, chosen at run time.
//!
//! The lane loops ([`super::batch`] and its adjoint and geometry) are
//! plain Rust over fixed-size arrays that the compiler vectorises; `simd_dispatch!` compiles
//! each of them once per instruction set and calls the widest one the CPU has (and
//! [`limit_simd`] allows). The results agree across levels to rounding (the loops contract
//! nothing into fused multiply-adds on their own: every `mul_add` is written out).

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction set the lane loops can be compiled for, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    /// Whatever the build targets (on x86-64 without `target-cpu`, SSE2).
    Portable,
    /// AVX2 with FMA (256-bit vectors).
    Avx2,
    /// AVX-512 F, VL and DQ (512-bit vectors, 32 vector registers).
    Avx512,
}

impl Simd {
    const ALL: [Simd; 3] = [Simd::Portable, Simd::Avx2, Simd::Avx512];

    /// The widest level this CPU supports.
    pub fn detected() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            use std::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512vl") && has!("avx512dq") && has!("avx2") && has!("fma") {
                return Simd::Avx512;
            }
            if has!("avx2") && has!("fma") {
                return Simd::Avx2;
            }
        }
        Simd::Portable
    }
}

static LIMIT: AtomicU8 = AtomicU8::new(Simd::Avx512 as u8);

/// Let the lane loops use at most `level` (process-wide; the default is the widest). For tests
/// that compare levels and for benchmarks; the level in use is `min(level, Simd::detected())`.
pub fn limit_simd(level: Simd) {
    LIMIT.store(level as u8, Ordering::Relaxed);
}

/// The level the lane loops run with now.
pub fn simd() -> Simd {
    let limit = Simd::ALL[LIMIT.load(Ordering::Relaxed) as usize];
    limit.min(Simd::detected())
}

/// Defines `[vis] fn $name(args) -> ret` (optionally generic over `T: Real`), compiled for each
/// [`Simd`] level and dispatched on [`simd()`]. Its body is either a block, written once with
/// the signature (it becomes an `#[inline(always)]` function each level's build inlines and
/// vectorises for its target), or `=> $body` naming such an `#[inline(always)]` function (a
/// method, say) that takes the same arguments.
macro_rules! simd_dispatch {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident $(<$t:ident: Real>)? ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $crate::kernel::cpu::simd::simd_dispatch! {
            @levels [$(#[$meta])*] [$vis] $name [$(<$t: Real>)?] ($($arg: $ty),*) [$(-> $ret)?] {
                #[inline(always)]
                #[allow(clippy::too_many_arguments)]
                fn body $(<$t: Real>)? ($($arg: $ty),*) $(-> $ret)? $body
            } => body
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident $(<$t:ident: Real>)? ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:expr
    ) => {
        $crate::kernel::cpu::simd::simd_dispatch! {
            @levels [$(#[$meta])*] [$vis] $name [$(<$t: Real>)?] ($($arg: $ty),*) [$(-> $ret)?] {} => $body
        }
    };
    (
        @levels [$($meta:tt)*] [$vis:vis] $name:ident [$($generics:tt)*] ($($arg:ident: $ty:ty),*) [$($ret:tt)*]
        { $($items:item)* } => $body:expr
    ) => {
        $($meta)*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name $($generics)* ($($arg: $ty),*) $($ret)* {
            $($items)*
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512 $($generics)* ($($arg: $ty),*) $($ret)* {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2 $($generics)* ($($arg: $ty),*) $($ret)* {
                    $body($($arg),*)
                }
                match $crate::kernel::cpu::simd::simd() {
                    // SAFETY: `simd()` never exceeds `Simd::detected()`, the CPU's own support.
                    $crate::kernel::cpu::simd::Simd::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::kernel::cpu::simd::Simd::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::kernel::cpu::simd::Simd::Portable => {}
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use simd_dispatch;
