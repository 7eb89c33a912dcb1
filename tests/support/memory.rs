//! The process's resident memory, for the tests that measure it (each in its own binary: other
//! tests running beside it would disturb the figure).
#![allow(dead_code)]

/// Resident memory of this process (bytes), from `/proc/self/statm`.
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm (Linux)");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}
