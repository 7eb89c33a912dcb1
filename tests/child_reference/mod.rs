//! f64 references for f32 test binaries: one float dtype per device per process, so an f32
//! suite runs its own executable again, with an environment variable set, for one ignored
//! test that prints its f64 results as tagged JSON lines.
#![allow(dead_code)]

use std::process::Command;

/// Runs this test executable's ignored test `test` with `env=f64` and returns the JSON value of
/// every stdout line that carries `tag`. Panics, with the child's output, if the child fails.
pub fn f64_lines(test: &str, env: &str, tag: &str) -> Vec<serde_json::Value> {
    let exe = std::env::current_exe().expect("test executable path");
    let out = Command::new(&exe)
        .args(["--exact", test, "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(env, "f64")
        .output()
        .expect("run the f64 reference child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "f64 reference child failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // libtest prints "test <name> ... " before the test's first output on the same line.
    stdout
        .lines()
        .filter_map(|l| l.find(tag).map(|i| &l[i + tag.len()..]))
        .map(|line| serde_json::from_str(line).expect("reference JSON"))
        .collect()
}
