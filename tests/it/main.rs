//! Integration tests, one crate so polars links once.
mod engine;
mod evidence;
mod image;
mod ingest;
mod linkage;
mod matching;
mod pipeline;
mod properties;
mod quality;
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

/// The detector with default parameters on a world written to `dir` (`World::write`).
pub fn detect_world(dir: &std::path::Path) -> crossleak::Report {
    crossleak::pipeline::Detector::new(crossleak::pipeline::DetectorParams::default())
        .unwrap()
        .run_files(
            &crossleak::InputPaths {
                sales: dir.join("sales.parquet"),
                products: dir.join("products.csv"),
                catalog: dir.join("catalog.csv"),
            },
            &crossleak::ColumnsConfig::default(),
        )
        .unwrap()
}

/// Everything the detector computes, compared exactly (the ingest accounting aside, which
/// belongs to the files).
pub fn assert_same_findings(a: &crossleak::Report, b: &crossleak::Report) {
    assert_eq!(a.summary, b.summary);
    assert_eq!(a.bestsellers, b.bestsellers);
    assert_eq!(a.alerts, b.alerts);
    assert_eq!(a.pre_existing, b.pre_existing);
    assert_eq!(a.outside_window, b.outside_window);
    assert_eq!(a.sellers, b.sellers);
    assert_eq!(a.categories, b.categories);
    assert_eq!(a.controls, b.controls);
}
