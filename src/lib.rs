//! crossleak finds cross-border product-data leakage: home-market products that become
//! bestsellers and, soon after, appear as copies listed by foreign sellers.
//!
//! # Pipeline
//!
//! Data flows one way through one module per stage:
//!
//! 1. [`ingest`]: lazy polars scans of CSV or Parquet, column mapping, validation; every row is
//!    accepted or rejected with its row number and reason.
//! 2. [`trend`]: bestseller onsets from the sales series ([`BestsellerEvent`]).
//! 3. [`matching`]: which home product each listing copies: [`matching::text`] normalises
//!    marketplace titles, [`matching::index`] finds top-k TF-IDF cosine candidates,
//!    [`matching::features`] gives one `ndarray` row of similarities per candidate pair,
//!    [`matching::matcher`] the match probability (unsupervised by default, `linfa` logistic
//!    when labelled pairs exist) with per-feature explanations, and [`matching::rates`] the
//!    exchange rates prices are compared at.
//! 4. [`leak`]: lag of each copy after onset, pre-existing copies, control groups of comparable
//!    non-bestsellers, seller and category statistics with lift intervals, permutation
//!    p-values and Benjamini-Hochberg q-values.
//! 5. [`report`]: output tables as polars DataFrames, CSV/Parquet/JSON writers, the
//!    self-contained `report.html`.
//!
//! Before ingest, [`image`] computes the optional `image_phash` column: 64-bit DCT perceptual
//! hashes of product image files, compared by Hamming similarity in [`matching::features`].
//!
//! [`pipeline::Detector`] ties them together, running the foreign catalog a chunk at a time
//! through the steps of [`pipeline::engine`], which a cluster engine (Apache Spark:
//! `python/crossleak/spark.py`) runs one partition at a time. The evaluation harnesses live
//! in the `crossleak-eval` crate of the same workspace: seeded synthetic worlds with ground
//! truth, scoring against it, the onset stage measured on real demand curves, and the public
//! entity-matching benchmarks.
//!
//! ```
//! # fn main() -> crossleak::Result<()> {
//! use crossleak::pipeline::{Detector, DetectorParams};
//! use crossleak::InputPaths;
//! use crossleak_eval::synth::{generate, SynthParams};
//!
//! // A small synthetic world with followers, written to a scratch folder.
//! let dir = std::env::temp_dir().join(format!("crossleak-doc-{}", std::process::id()));
//! let world = generate(&SynthParams { products: 300, ..SynthParams::default() })?;
//! world.write(&dir)?;
//! let paths = InputPaths {
//!     sales: dir.join("sales.parquet"),
//!     products: dir.join("products.csv"),
//!     catalog: dir.join("catalog.csv"),
//! };
//! let report = Detector::new(DetectorParams::default())?.run_files(&paths, &Default::default())?;
//! assert!(report.summary.bestsellers > 0);
//! assert!(!report.alerts.is_empty());
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```
//!
//! # Performance
//!
//! Candidate search, feature scoring, prediction and onset detection run in parallel on a rayon
//! pool sized by [`pipeline::DetectorParams::threads`]. The trend stage on 100,000 products x
//! 365 days (27 M sales rows) takes about a second on 2 cores (`benches/trend.rs`). Memory is
//! dominated by the sales rows, the daily demand grid (4 bytes per product-day) and the
//! inverted index of the home catalog.
//!
//! # Limitations
//!
//! - The unsupervised matcher assumes the candidate pairs contain some true copies; on a
//!   catalog with no copies at all its "match" class is the most similar pairs. A few
//!   labelled pairs (`match.labels`, see `review_pairs.csv`) anchor it.
//! - A copy that dropped the one word telling its product from a sibling variant cannot be
//!   placed from its title alone.
//! - Chinese titles are split into single characters only.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod date;
pub mod error;
mod hash;
pub mod image;
pub mod ingest;
pub mod leak;
pub mod matching;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod trend;

pub use crate::date::Date;
pub use crate::error::{Error, Result};
pub use crate::ingest::{
    Catalog, ColumnsConfig, HomeInputs, IngestReport, InputPaths, Inputs, PairLabels, RejectedRow,
    SalesPanel, SalesRow, TableKind,
};
pub use crate::leak::{
    CategoryFinding, Evidence, FollowStats, LeakAlert, LeakParams, ListingTotals, SellerFinding,
    Timing,
};
pub use crate::matching::features::{Feature, PairFeatures, RecordAttrs, FEATURE_NAMES};
pub use crate::matching::index::{AnalyzedTitle, CandidateIndex, CandidatePair, TfIdf};
pub use crate::matching::matcher::{
    LogisticModel, LogisticParams, MatchModel, MixtureModel, ReviewPair,
};
pub use crate::matching::text::Normalizer;
pub use crate::pipeline::{
    Config, Detector, DetectorParams, FittedHome, HomeSpec, ListingScorer, Report, RunSummary,
};
pub use crate::progress::{Progress, Stage};
pub use crate::trend::{BestsellerEvent, DemandGrid, DemandMeasure, OnsetRule, TrendParams};

/// The README's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The guide's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/GUIDE.md")]
pub struct GuideDoctests;
