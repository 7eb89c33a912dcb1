//! Workspace umbrella package: hosts the top-level tests, examples and benches.
