//! Progress of a long run, reported stage by stage to an observer the caller gives.
//!
//! [`Detector::with_progress`](crate::pipeline::Detector::with_progress) takes any
//! [`Progress`]; the `crossleak` command draws it as progress bars, a service could log it.
//! Each stage is also a `tracing` span named `stage` (field `name`, the stage's label), so a
//! program with a `tracing` subscriber sees the stages and their durations in its logs.
//! Reports never change what a run computes.

use std::fmt;

/// The stages of a detector run, in the order they start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Reading and validating the home sales and products.
    Home,
    /// Fitting the home side: bestseller onsets from the sales series and the matching index
    /// of the home titles.
    HomeSide,
    /// First pass over the foreign listings: validation and counts. Advances by listings.
    Survey,
    /// Scoring the fitting sample and fitting the match model. Advances by listings.
    Fit,
    /// Scoring the listings outside the sample. Advances by listings.
    Match,
    /// Temporal linking, control groups and seller and category statistics.
    Evidence,
}

impl Stage {
    /// A short lower-case label, as progress bars show it.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Home => "reading home data",
            Stage::HomeSide => "onsets and index",
            Stage::Survey => "surveying listings",
            Stage::Fit => "fitting matcher",
            Stage::Match => "matching listings",
            Stage::Evidence => "testing sellers",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An observer of a run's progress. Calls come from the thread that runs the detector, in
/// order: `begin` of a stage, any number of `advance`, then `end` of the same stage.
pub trait Progress: Send + Sync {
    /// A stage starts; `total` is its number of steps when known beforehand.
    fn begin(&self, stage: Stage, total: Option<u64>);
    /// `steps` more steps of the current stage are done.
    fn advance(&self, steps: u64);
    /// The current stage is done.
    fn end(&self, stage: Stage);
}

/// The observer that ignores everything: the default.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _: Stage, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn end(&self, _: Stage) {}
}

/// A stage under way: reported to the observer and entered as a `tracing` span from
/// [`Running::start`] to [`Running::finish`] (or to the end of the scope on an error, where
/// the observer hears no `end`).
pub(crate) struct Running<'a> {
    progress: &'a dyn Progress,
    stage: Stage,
    _span: tracing::span::EnteredSpan,
}

impl<'a> Running<'a> {
    /// Starts `stage`: enters its span and calls `begin`.
    pub(crate) fn start(progress: &'a dyn Progress, stage: Stage, total: Option<u64>) -> Self {
        let span = tracing::info_span!("stage", name = stage.label()).entered();
        progress.begin(stage, total);
        Running {
            progress,
            stage,
            _span: span,
        }
    }

    /// Ends the stage: calls `end`, then leaves its span.
    pub(crate) fn finish(self) {
        self.progress.end(self.stage);
    }
}
