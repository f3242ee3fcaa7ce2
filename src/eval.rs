//! Scoring against ground truth: precision, recall and F1 of pairs and of sets.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

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
    /// let s = crossleak::eval::Scores::from_counts(8, 2, 2);
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

/// Reads a small CSV of ground truth (no quoted fields) and returns the named columns of every
/// row, in file order.
pub fn read_truth(path: &Path, columns: &[&str]) -> Result<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .map(|h| {
            h.trim_start_matches('\u{feff}')
                .split(',')
                .map(str::trim)
                .collect()
        })
        .unwrap_or_default();
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| {
            header
                .iter()
                .position(|h| h == c)
                .ok_or_else(|| Error::MissingColumn {
                    table: path.display().to_string(),
                    column: c.to_string(),
                    available: header.iter().map(|h| h.to_string()).collect(),
                })
        })
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let row = idx
            .iter()
            .map(|&i| {
                fields
                    .get(i)
                    .map(|f| f.to_string())
                    .ok_or_else(|| Error::BadValue {
                        table: path.display().to_string(),
                        row: n + 1,
                        column: header[i].to_string(),
                        reason: "missing field".into(),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_scores() {
        let s = score_sets(["a", "b", "c"], ["b", "c", "d", "e"]);
        assert_eq!((s.tp, s.fp, s.fn_), (2, 1, 2));
        assert!((s.recall - 0.5).abs() < 1e-12);
        let none = score_sets(Vec::<&str>::new(), Vec::new());
        assert_eq!(none.f1, 1.0);
    }
}
