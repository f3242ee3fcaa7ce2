//! Integration tests, one crate so polars links once.
mod ingest;
mod pipeline;
mod synth;
mod trend;
