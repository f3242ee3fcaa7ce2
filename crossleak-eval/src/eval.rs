//! Scoring against ground truth: precision, recall and F1 of pairs and of sets.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crossleak::pipeline::Report;
use crossleak::{Date, Error, Result};

/// Precision, recall and F1 with the counts behind them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// False negatives.
    pub fn_: usize,
    /// tp / (tp + fp); 1.0 when nothing was predicted.
    pub precision: f64,
    /// tp / (tp + fn); 1.0 when there is nothing to find.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

impl Scores {
    /// Scores from counts.
    ///
    /// ```
    /// let s = crossleak_eval::eval::Scores::from_counts(8, 2, 2);
    /// assert!((s.precision - 0.8).abs() < 1e-12 && (s.f1 - 0.8).abs() < 1e-12);
    /// ```
    pub fn from_counts(tp: usize, fp: usize, fn_: usize) -> Scores {
        let precision = if tp + fp == 0 {
            1.0
        } else {
            tp as f64 / (tp + fp) as f64
        };
        let recall = if tp + fn_ == 0 {
            1.0
        } else {
            tp as f64 / (tp + fn_) as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Scores {
            tp,
            fp,
            fn_,
            precision,
            recall,
            f1,
        }
    }
}

/// Scores a predicted set against a true set (duplicates count once).
pub fn score_sets<T: std::hash::Hash + Eq>(
    predicted: impl IntoIterator<Item = T>,
    truth: impl IntoIterator<Item = T>,
) -> Scores {
    let p: HashSet<T> = predicted.into_iter().collect();
    let t: HashSet<T> = truth.into_iter().collect();
    let tp = p.intersection(&t).count();
    Scores::from_counts(tp, p.len() - tp, t.len() - tp)
}

/// Reads a small CSV of ground truth and returns the named columns of every row, in file
/// order; fields are trimmed and blank lines skipped.
pub fn read_truth(path: &Path, columns: &[&str]) -> Result<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    read_columns(path, &text, columns)
}

/// [`read_truth`] on the text of `path`, already read (and decompressed).
pub(crate) fn read_columns(path: &Path, text: &str, columns: &[&str]) -> Result<Vec<Vec<String>>> {
    let table = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::io(path, std::io::Error::other(e)))?
        .iter()
        .map(String::from)
        .collect();
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| {
            header
                .iter()
                .position(|h| h == c)
                .ok_or_else(|| Error::MissingColumn {
                    table: table.clone(),
                    column: c.to_string(),
                    available: header.clone(),
                })
        })
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| Error::io(path, std::io::Error::other(e)))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        // Data rows are numbered from 1, the header being row 0.
        let row = record.position().map_or(0, |p| p.line() as usize - 1);
        let fields = idx
            .iter()
            .map(|&i| {
                record
                    .get(i)
                    .map(String::from)
                    .ok_or_else(|| Error::BadValue {
                        table: table.clone(),
                        row,
                        column: header[i].clone(),
                        reason: "missing field".into(),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        rows.push(fields);
    }
    Ok(rows)
}

/// Writes a CSV file: the header, then one record per row, fields quoted where needed.
pub fn write_csv<R>(path: &Path, header: &[&str], rows: R) -> Result<()>
where
    R: IntoIterator,
    R::Item: IntoIterator,
    <R::Item as IntoIterator>::Item: AsRef<[u8]>,
{
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let failed = |e: csv::Error| Error::io(path, std::io::Error::other(e));
    w.write_record(header).map_err(failed)?;
    for row in rows {
        w.write_record(row).map_err(failed)?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}

/// A run scored against a synthetic world's ground truth (`truth_alerts.csv`,
/// `truth_sellers.csv`): alerts as (listing, product) pairs, flagged sellers against followers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunScores {
    /// Alerts against the true (listing, product) alerts.
    pub alerts: Scores,
    /// Flagged sellers against the followers.
    pub sellers: Scores,
}

impl RunScores {
    /// Reads the truth files and scores `report`.
    pub fn of(report: &Report, alerts: &Path, sellers: &Path) -> Result<RunScores> {
        let truth: Vec<(String, String)> = read_truth(alerts, &["listing_id", "product_id"])?
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
        let predicted = report
            .alerts
            .iter()
            .map(|a| (a.listing_id.clone(), a.product_id.clone()));
        let followers: Vec<String> = read_truth(sellers, &["seller_id", "kind"])?
            .into_iter()
            .filter(|r| r[1] == "follower")
            .map(|r| r[0].clone())
            .collect();
        let flagged = report
            .sellers
            .iter()
            .filter(|f| f.stats.flagged)
            .map(|f| f.seller_id.clone());
        Ok(RunScores {
            alerts: score_sets(predicted, truth),
            sellers: score_sets(flagged, followers),
        })
    }
}

impl std::fmt::Display for RunScores {
    /// One line: `alerts: precision=… recall=… f1=… tp=… fp=… fn=… sellers: precision=… recall=…`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, s) = (&self.alerts, &self.sellers);
        write!(
            f,
            "alerts: precision={:.3} recall={:.3} f1={:.3} tp={} fp={} fn={} sellers: precision={:.3} recall={:.3}",
            a.precision, a.recall, a.f1, a.tp, a.fp, a.fn_, s.precision, s.recall
        )
    }
}

/// Onset detection scored against the planted onsets (`truth_onsets.csv`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnsetScores {
    /// Bestsellers found against bestsellers planted.
    pub onsets: Scores,
    /// Median absolute error of the onset day, over the bestsellers found that were planted.
    pub error_days_median: i32,
    /// 90th percentile of the same errors.
    pub error_days_p90: i32,
}

impl OnsetScores {
    /// Reads the truth file and scores `report`'s bestseller onsets.
    pub fn of(report: &Report, onsets: &Path) -> Result<OnsetScores> {
        let truth: std::collections::HashMap<String, Date> =
            read_truth(onsets, &["product_id", "onset"])?
                .into_iter()
                .filter_map(|r| Date::parse(&r[1]).map(|d| (r[0].clone(), d)))
                .collect();
        let found = report.bestsellers.iter().map(|e| e.product_id.clone());
        let mut errors: Vec<i32> = report
            .bestsellers
            .iter()
            .filter_map(|e| {
                truth
                    .get(&e.product_id)
                    .map(|t| t.days_until(e.onset).abs())
            })
            .collect();
        errors.sort_unstable();
        let at = |q: f64| {
            errors
                .get(((errors.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0)
        };
        Ok(OnsetScores {
            onsets: score_sets(found, truth.into_keys()),
            error_days_median: at(0.5),
            error_days_p90: at(0.9),
        })
    }
}

impl std::fmt::Display for OnsetScores {
    /// One line: `onsets: precision=… recall=… error_days_median=… error_days_p90=…`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "onsets: precision={:.3} recall={:.3} error_days_median={} error_days_p90={}",
            self.onsets.precision, self.onsets.recall, self.error_days_median, self.error_days_p90
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quoted fields, a byte-order mark and blank lines are read; a short row is an error
    /// naming the file, its row and the column.
    #[test]
    fn truth_files_are_read_as_csv() {
        let path = std::env::temp_dir().join(format!("crossleak-truth-{}.csv", std::process::id()));
        std::fs::write(
            &path,
            "\u{feff}listing_id, product_id\n\"L,1\",P1\n\nL2 , P2\nL3\n",
        )
        .unwrap();
        let err = read_truth(&path, &["listing_id", "product_id"]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("row 4") && message.contains("product_id"),
            "{message}"
        );
        std::fs::write(
            &path,
            "\u{feff}listing_id, product_id\n\"L,1\",P1\n\nL2 , P2\n",
        )
        .unwrap();
        let rows = read_truth(&path, &["product_id", "listing_id"]).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(rows, [["P1", "L,1"], ["P2", "L2"]]);
    }

    #[test]
    fn set_scores() {
        let s = score_sets(["a", "b", "c"], ["b", "c", "d", "e"]);
        assert_eq!((s.tp, s.fp, s.fn_), (2, 1, 2));
        assert!((s.recall - 0.5).abs() < 1e-12);
        let none = score_sets(Vec::<&str>::new(), Vec::new());
        assert_eq!(none.f1, 1.0);
    }
}
