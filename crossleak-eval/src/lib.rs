//! Evaluation harnesses of [`crossleak`]: what measures the detector rather than what an
//! analyst runs.
//!
//! - [`synth`]: seeded synthetic worlds (home sales and products, a foreign catalog with
//!   copies, followers and organic sellers) with their ground truth; [`synth::linkage`] builds
//!   catalog-linkage benchmarks from the same titles.
//! - [`eval`]: scores a detector [`crossleak::Report`] against a world's ground truth.
//! - [`trend_eval`]: the onset stage on real demand curves with injected rises, promotions and
//!   launches.
//! - [`text_eval`]: title normalisation and matching on respelled, translated and
//!   Chinese-titled copies.
//! - [`pairs`]: records, labelled pairs and whole catalogs in the layouts of the public
//!   entity-matching benchmarks; supervised and unsupervised matching of their pairs.
//! - [`baseline`]: the plain logistic baseline the benchmarks are compared with.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod baseline;
pub mod eval;
pub mod pairs;
pub mod synth;
pub mod text_eval;
pub mod trend_eval;
