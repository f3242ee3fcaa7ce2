//! Progress bars on stderr for the detector's stages and the command's own steps.

use std::sync::Mutex;
use std::time::Duration;

use crossleak::progress::{Progress, Stage};
use indicatif::{ProgressBar, ProgressStyle};

/// One bar at a time, replaced at each stage; hidden when stderr is not a terminal.
#[derive(Default)]
pub(crate) struct Bars {
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Starts a step with a label, counted in listings when `counted`, against `total` when
    /// known.
    pub(crate) fn start(&self, label: &str, total: Option<u64>, counted: bool) {
        let template = match (total, counted) {
            (Some(_), _) => {
                "  {msg:18} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} (eta {eta})"
            }
            (None, true) => "{spinner} {msg:18} [{elapsed_precise}] {human_pos} listings",
            (None, false) => "{spinner} {msg:18} [{elapsed_precise}]",
        };
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Some(old) = self.lock().replace(bar) {
            old.finish();
        }
    }

    /// Ends the current step, leaving its line with the time it took.
    pub(crate) fn done(&self) {
        if let Some(bar) = self.lock().take() {
            bar.finish();
        }
    }

    /// Leaves the current step where it stopped (the run failed).
    pub(crate) fn abandon(&self) {
        if let Some(bar) = self.lock().take() {
            bar.abandon();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        // A panic while drawing leaves nothing inconsistent in an `Option` of a bar.
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Progress for Bars {
    fn begin(&self, stage: Stage, total: Option<u64>) {
        let counted = matches!(stage, Stage::Survey | Stage::Fit | Stage::Match);
        self.start(stage.label(), total, counted);
    }

    fn advance(&self, steps: u64) {
        if let Some(bar) = &*self.lock() {
            bar.inc(steps);
        }
    }

    fn end(&self, _: Stage) {
        self.done();
    }
}
