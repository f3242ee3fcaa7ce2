//! The plain yardstick for labelled pair files: a logistic regression on six similarity
//! features of the two titles, with no normalisation beyond lower case and no tuning.
//!
//! The features are those of a textbook matcher: word and character TF-IDF cosine, token
//! Jaccard, token-sort ratio (as `rapidfuzz.fuzz.token_sort_ratio`, scaled to 0..1), length
//! ratio and agreement of the numbers. Words are runs of two or more letters or digits, as
//! scikit-learn's default token pattern; character trigrams are taken within each word padded
//! by a space (scikit-learn's `char_wb`); inverse document frequencies are smoothed as
//! scikit-learn's. The regression has an L2 penalty of 1 (scikit-learn's `C = 1`) and
//! decides at probability 0.5. [`pairs`](crate::pairs) runs print it beside the matcher, so a
//! benchmark where the matcher does not beat it shows at once.

use std::collections::HashMap;

use ndarray::{Array1, Array2};

use crate::eval::Scores;
use crate::pairs::{score_decisions, LabeledPairs};
use crossleak::{Error, Result};

/// Names of the six baseline features, in column order.
pub const BASELINE_FEATURES: [&str; 6] = [
    "word_tfidf_cosine",
    "char_tfidf_cosine",
    "token_jaccard",
    "token_sort_ratio",
    "length_ratio",
    "number_agreement",
];

/// Words of a title: lower-case runs of at least two letters or digits.
fn words(title: &str) -> Vec<String> {
    title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().nth(1).is_some())
        .map(str::to_lowercase)
        .collect()
}

/// Character trigrams of each word padded by a space.
fn trigrams(title: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in title.to_lowercase().split_whitespace() {
        let padded: Vec<char> = std::iter::once(' ')
            .chain(w.chars())
            .chain(std::iter::once(' '))
            .collect();
        if padded.len() <= 3 {
            out.push(padded.iter().collect());
        } else {
            out.extend(padded.windows(3).map(|g| g.iter().collect::<String>()));
        }
    }
    out
}

/// Smoothed inverse document frequencies of terms, and sparse unit-length TF-IDF vectors.
#[derive(Debug, Default)]
struct Idf {
    ids: HashMap<String, u32>,
    idf: Vec<f64>,
}

impl Idf {
    fn fit<'a>(docs: impl Iterator<Item = &'a [String]>) -> Idf {
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut df: Vec<f64> = Vec::new();
        let mut n = 0.0;
        for doc in docs {
            n += 1.0;
            let mut seen: Vec<u32> = doc
                .iter()
                .map(|t| {
                    let next = ids.len() as u32;
                    *ids.entry(t.clone()).or_insert(next)
                })
                .collect();
            seen.sort_unstable();
            seen.dedup();
            for id in seen {
                if id as usize >= df.len() {
                    df.resize(id as usize + 1, 0.0);
                }
                df[id as usize] += 1.0;
            }
        }
        let idf = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d)).ln() + 1.0)
            .collect();
        Idf { ids, idf }
    }

    /// The unit-length TF-IDF vector of `terms`, sorted by term id; unknown terms are dropped.
    fn vector(&self, terms: &[String]) -> Vec<(u32, f64)> {
        let mut v: Vec<(u32, f64)> = terms
            .iter()
            .filter_map(|t| self.ids.get(t).map(|&id| (id, self.idf[id as usize])))
            .collect();
        v.sort_unstable_by_key(|e| e.0);
        let mut merged: Vec<(u32, f64)> = Vec::with_capacity(v.len());
        for (id, w) in v {
            match merged.last_mut() {
                Some(last) if last.0 == id => last.1 += w,
                _ => merged.push((id, w)),
            }
        }
        let norm = merged.iter().map(|e| e.1 * e.1).sum::<f64>().sqrt();
        if norm > 0.0 {
            merged.iter_mut().for_each(|e| e.1 /= norm);
        }
        merged
    }
}

fn cosine(a: &[(u32, f64)], b: &[(u32, f64)]) -> f64 {
    let (mut i, mut j, mut dot) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                dot += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    dot
}

fn jaccard<T: Ord>(a: &[T], b: &[T]) -> f64 {
    let mut a: Vec<&T> = a.iter().collect();
    let mut b: Vec<&T> = b.iter().collect();
    a.sort_unstable();
    b.sort_unstable();
    a.dedup();
    b.dedup();
    let shared = a.iter().filter(|x| b.contains(x)).count();
    let union = a.len() + b.len() - shared;
    if union == 0 {
        1.0
    } else {
        shared as f64 / union as f64
    }
}

/// `2 LCS / (|a| + |b|)` over characters: the normalised Indel similarity.
fn indel_similarity(a: &[char], b: &[char]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut row = vec![0usize; b.len() + 1];
    for &ca in a {
        let mut diagonal = 0;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diagonal + 1
            } else {
                above.max(row[j])
            };
            diagonal = above;
        }
    }
    2.0 * row[b.len()] as f64 / (a.len() + b.len()) as f64
}

/// What one title gives the features.
struct Analysed {
    words: Vec<String>,
    sorted: Vec<char>,
    numbers: Vec<String>,
    word_vector: Vec<(u32, f64)>,
    char_vector: Vec<(u32, f64)>,
    chars: usize,
}

/// The TF-IDF models of the baseline, fitted on titles without labels.
#[derive(Debug, Default)]
pub struct PlainSimilarity {
    words: Idf,
    trigrams: Idf,
}

impl PlainSimilarity {
    /// Fits both TF-IDF models on `titles`.
    pub fn fit(titles: &[&str]) -> PlainSimilarity {
        let w: Vec<Vec<String>> = titles.iter().map(|t| words(t)).collect();
        let c: Vec<Vec<String>> = titles.iter().map(|t| trigrams(t)).collect();
        PlainSimilarity {
            words: Idf::fit(w.iter().map(Vec::as_slice)),
            trigrams: Idf::fit(c.iter().map(Vec::as_slice)),
        }
    }

    fn analyse(&self, title: &str) -> Analysed {
        let mut words = words(title);
        let word_vector = self.words.vector(&words);
        let char_vector = self.trigrams.vector(&trigrams(title));
        let numbers: Vec<String> = words
            .iter()
            .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
            .cloned()
            .collect();
        let chars = title.trim().chars().count();
        words.sort();
        let sorted: Vec<char> = words.join(" ").chars().collect();
        Analysed {
            words,
            sorted,
            numbers,
            word_vector,
            char_vector,
            chars,
        }
    }

    /// The six features of each pair of `pairs`, one row per pair.
    pub fn features(&self, pairs: &LabeledPairs) -> Array2<f64> {
        let mut x = Array2::zeros((pairs.len(), BASELINE_FEATURES.len()));
        for (i, (l, r)) in pairs.left.iter().zip(&pairs.right).enumerate() {
            let (a, b) = (self.analyse(&l.title), self.analyse(&r.title));
            let length = if a.chars.max(b.chars) == 0 {
                1.0
            } else {
                a.chars.min(b.chars) as f64 / a.chars.max(b.chars) as f64
            };
            let row = [
                cosine(&a.word_vector, &b.word_vector),
                cosine(&a.char_vector, &b.char_vector),
                jaccard(&a.words, &b.words),
                indel_similarity(&a.sorted, &b.sorted),
                length,
                jaccard(&a.numbers, &b.numbers),
            ];
            for (j, v) in row.into_iter().enumerate() {
                x[[i, j]] = v;
            }
        }
        x
    }
}

/// The baseline fitted on `train` and scored on `test`: TF-IDF fitted on every title of the
/// given splits (no labels), logistic regression with L2 penalty 1 on the training pairs,
/// threshold 0.5.
pub fn match_baseline(
    train: &LabeledPairs,
    others: &[&LabeledPairs],
    test: &LabeledPairs,
) -> Result<Scores> {
    use linfa::prelude::{Fit, Predict};
    let splits: Vec<&LabeledPairs> = std::iter::once(train)
        .chain(others.iter().copied())
        .chain(std::iter::once(test))
        .collect();
    let titles: Vec<&str> = splits.iter().flat_map(|s| s.titles()).collect();
    let similarity = PlainSimilarity::fit(&titles);
    let positives = train.labels.iter().filter(|&&l| l).count();
    if positives == 0 || positives == train.len() {
        return Err(Error::Model(format!(
            "the baseline needs both matching and non-matching training pairs; got {positives} matches in {} pairs",
            train.len()
        )));
    }
    let data = linfa::Dataset::new(
        similarity.features(train),
        Array1::from(train.labels.clone()),
    );
    let fitted = linfa_logistic::LogisticRegression::default()
        .alpha(1.0)
        .max_iterations(100)
        .fit(&data)?;
    let decided: Array1<bool> = fitted.predict(&similarity.features(test));
    Ok(score_decisions(&decided.to_vec(), &test.labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_similarities_match_their_definitions() {
        let ch = |s: &str| s.chars().collect::<Vec<_>>();
        // rapidfuzz: token_sort_ratio("new york mets", "mets new york") is 100.
        assert_eq!(indel_similarity(&ch("abc"), &ch("abc")), 1.0);
        // LCS("kitten", "sitting") = 4: "ittn".
        assert!((indel_similarity(&ch("kitten"), &ch("sitting")) - 8.0 / 13.0).abs() < 1e-12);
        assert_eq!(words("Sony A-7 iii, 24MP x"), ["sony", "iii", "24mp"]);
        assert_eq!(trigrams("a"), [" a "]);
        assert_eq!(trigrams("ab"), [" ab", "ab "]);
        assert_eq!(trigrams("abc"), [" ab", "abc", "bc "]);
        assert_eq!(jaccard(&[1, 2], &[2, 3]), 1.0 / 3.0);
        let s = PlainSimilarity::fit(&["red kettle 1 7l", "blue kettle", "red mug"]);
        let (a, b) = (s.analyse("red kettle"), s.analyse("Red  KETTLE"));
        assert!((cosine(&a.word_vector, &b.word_vector) - 1.0).abs() < 1e-12);
        assert!((cosine(&a.char_vector, &b.char_vector) - 1.0).abs() < 1e-12);
        let c = s.analyse("blue mug");
        assert_eq!(cosine(&a.word_vector, &c.word_vector), 0.0);
    }
}
