//! Integration tests, one crate so polars links once.
mod evidence;
mod image;
mod ingest;
mod linkage;
mod matching;
mod pipeline;
mod properties;
mod synth;
mod text;
mod trend;

use std::path::PathBuf;

/// An example binary: `cargo test` builds the examples next to the test binary's `deps/`.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(exe.exists(), "build the examples first: {}", exe.display());
    exe
}
