//! `nanobragg`: a drop-in replacement for the nanoBragg command line.

/// `println!` that ignores a closed stdout (e.g. `nanobragg … | head`) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if !crate::QUIET.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = writeln!(std::io::stdout(), $($arg)*);
        }
    }};
}

/// Set while `nanobragg batch` renders a shot: the render's report lines are left out (the
/// batch prints one line per shot).
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

mod backend;
mod batch;
mod cbf_target;
mod cbf_out;
mod ensemble;
mod panels;
mod grad;
mod nxs_out;
mod observe;
mod outputs;
mod refine;
mod refine_panels;
mod refined_expt;
mod noise;
mod report;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    // File names need not be UTF-8: take the arguments as the OS gives them.
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match run::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(run::Failure::Usage(msg)) => {
            eprintln!("nanobragg: error: {msg}");
            eprintln!("run `nanobragg -h` for the list of flags");
            ExitCode::from(2)
        }
        Err(run::Failure::Runtime(msg)) => {
            eprintln!("nanobragg: error: {msg}");
            ExitCode::from(1)
        }
    }
}
