//! TF-IDF over titles (word tokens and character n-grams) and an inverted index for parallel
//! sparse top-k cosine search.
//!
//! The model is fitted on the home catalog (the index side); a query title's terms unknown to
//! the model count in its norm with the largest IDF, so a listing full of foreign words scores
//! lower, as it should. The index is built over the home products; queries (foreign listings)
//! stream through it in parallel, each scored against every indexed product sharing a term,
//! and results come back in input order with ties broken by product index.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::text::Normalizer;

/// A sparse vector: term ids ascending, values L2-normalised over all terms (known or not).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseVec {
    /// Term ids, ascending.
    pub idx: Vec<u32>,
    /// Weights, same order.
    pub val: Vec<f32>,
}

impl SparseVec {
    /// Cosine of two L2-normalised vectors (their dot product), in [0, 1].
    pub fn cosine(&self, other: &SparseVec) -> f64 {
        let (mut i, mut j, mut dot) = (0, 0, 0f64);
        while i < self.idx.len() && j < other.idx.len() {
            match self.idx[i].cmp(&other.idx[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    dot += self.val[i] as f64 * other.val[j] as f64;
                    i += 1;
                    j += 1;
                }
            }
        }
        dot.clamp(0.0, 1.0)
    }
}

/// Vocabulary and inverse document frequencies of one kind of term.
#[derive(Clone, Debug, Default)]
pub struct TermVocab {
    ids: HashMap<String, u32>,
    idf: Vec<f32>,
    unknown_idf: f32,
}

impl TermVocab {
    fn fit<'a>(docs: impl Iterator<Item = &'a [String]>) -> TermVocab {
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        let mut n = 0usize;
        let mut seen: Vec<u32> = Vec::new();
        for terms in docs {
            n += 1;
            seen.clear();
            for t in terms {
                let next = ids.len() as u32;
                let id = *ids.entry(t.clone()).or_insert(next);
                if id as usize == df.len() {
                    df.push(0);
                }
                seen.push(id);
            }
            seen.sort_unstable();
            seen.dedup();
            for &id in &seen {
                df[id as usize] += 1;
            }
        }
        // Smoothed IDF as in scikit-learn: ln((1 + n) / (1 + df)) + 1.
        let idf = df
            .iter()
            .map(|&d| (((1 + n) as f32) / ((1 + d) as f32)).ln() + 1.0)
            .collect();
        let unknown_idf = ((1 + n) as f32).ln() + 1.0;
        TermVocab {
            ids,
            idf,
            unknown_idf,
        }
    }

    /// Number of known terms.
    pub fn len(&self) -> usize {
        self.idf.len()
    }

    /// True when no term is known.
    pub fn is_empty(&self) -> bool {
        self.idf.is_empty()
    }

    /// Document frequency weight of a known term id.
    pub fn idf(&self, id: u32) -> f32 {
        self.idf[id as usize]
    }

    /// IDF of a term; a term unknown to the vocabulary gets the largest IDF (seen once).
    pub fn weight(&self, term: &str) -> f32 {
        self.ids
            .get(term)
            .map_or(self.unknown_idf, |&id| self.idf[id as usize])
    }

    /// TF-IDF vector of a bag of terms (sublinear term frequency), L2-normalised.
    fn vectorize(&self, terms: &[String]) -> SparseVec {
        // Ordered map: the norm is summed in a fixed order, so output is bit-identical run to run.
        let mut counts: std::collections::BTreeMap<&str, u32> = std::collections::BTreeMap::new();
        for t in terms {
            *counts.entry(t.as_str()).or_insert(0) += 1;
        }
        let mut known: Vec<(u32, f32)> = Vec::with_capacity(counts.len());
        let mut norm = 0f32;
        for (t, c) in counts {
            let tf = 1.0 + (c as f32).ln();
            match self.ids.get(t) {
                Some(&id) => {
                    let w = tf * self.idf[id as usize];
                    norm += w * w;
                    known.push((id, w));
                }
                None => norm += (tf * self.unknown_idf).powi(2),
            }
        }
        known.sort_unstable_by_key(|&(id, _)| id);
        let norm = norm.sqrt();
        SparseVec {
            idx: known.iter().map(|&(id, _)| id).collect(),
            val: known
                .iter()
                .map(|&(_, w)| if norm > 0.0 { w / norm } else { 0.0 })
                .collect(),
        }
    }
}

/// A title analysed for matching: canonical tokens and both TF-IDF vectors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnalyzedTitle {
    /// Canonical tokens in order.
    pub tokens: Vec<String>,
    /// IDF of each token, same order (rare tokens weigh more).
    pub weights: Vec<f32>,
    /// Word TF-IDF vector.
    pub words: SparseVec,
    /// Character n-gram TF-IDF vector.
    pub chars: SparseVec,
}

/// TF-IDF model of words and character n-grams, fitted on the home catalog.
#[derive(Clone, Debug)]
pub struct TfIdf {
    normalizer: Normalizer,
    ngram: usize,
    words: TermVocab,
    chars: TermVocab,
}

impl TfIdf {
    /// Fits the model on titles with the given normaliser and character n-gram length.
    pub fn fit(titles: &[String], normalizer: Normalizer, ngram: usize) -> TfIdf {
        let tokens: Vec<Vec<String>> = titles.par_iter().map(|t| normalizer.tokens(t)).collect();
        let grams: Vec<Vec<String>> = tokens
            .par_iter()
            .map(|t| Normalizer::char_ngrams(t, ngram))
            .collect();
        TfIdf {
            words: TermVocab::fit(tokens.iter().map(Vec::as_slice)),
            chars: TermVocab::fit(grams.iter().map(Vec::as_slice)),
            normalizer,
            ngram,
        }
    }

    /// Analyses one title.
    pub fn analyze(&self, title: &str) -> AnalyzedTitle {
        let tokens = self.normalizer.tokens(title);
        let grams = Normalizer::char_ngrams(&tokens, self.ngram);
        AnalyzedTitle {
            words: self.words.vectorize(&tokens),
            chars: self.chars.vectorize(&grams),
            weights: tokens.iter().map(|t| self.words.weight(t)).collect(),
            tokens,
        }
    }

    /// Analyses many titles in parallel, in input order.
    pub fn analyze_all(&self, titles: &[String]) -> Vec<AnalyzedTitle> {
        titles.par_iter().map(|t| self.analyze(t)).collect()
    }

    /// The word vocabulary.
    pub fn words(&self) -> &TermVocab {
        &self.words
    }

    /// The normaliser in use.
    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }
}

/// A candidate match: a query (foreign listing) and an indexed item (home product).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CandidatePair {
    /// Query index (foreign listing).
    pub query: usize,
    /// Indexed item (home product).
    pub target: usize,
    /// Mean of the word and character cosines.
    pub score: f32,
}

/// Inverted index of analysed titles for top-k cosine search.
#[derive(Clone, Debug)]
pub struct CandidateIndex {
    n_docs: usize,
    words: Vec<Vec<(u32, f32)>>,
    chars: Vec<Vec<(u32, f32)>>,
}

impl CandidateIndex {
    /// Builds the posting lists of `docs` (analysed with `model`).
    pub fn build(model: &TfIdf, docs: &[AnalyzedTitle]) -> CandidateIndex {
        let mut words = vec![Vec::new(); model.words.len()];
        let mut chars = vec![Vec::new(); model.chars.len()];
        for (d, doc) in docs.iter().enumerate() {
            for (&t, &w) in doc.words.idx.iter().zip(&doc.words.val) {
                words[t as usize].push((d as u32, w));
            }
            for (&t, &w) in doc.chars.idx.iter().zip(&doc.chars.val) {
                chars[t as usize].push((d as u32, w));
            }
        }
        CandidateIndex {
            n_docs: docs.len(),
            words,
            chars,
        }
    }

    /// Number of indexed documents.
    pub fn len(&self) -> usize {
        self.n_docs
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.n_docs == 0
    }

    /// The `k` indexed documents closest to `query` by mean word/char cosine, best first, ties
    /// by document index; documents sharing no term are never returned.
    pub fn top_k(
        &self,
        query: &AnalyzedTitle,
        k: usize,
        scratch: &mut Scratch,
    ) -> Vec<(usize, f32)> {
        scratch.reset(self.n_docs);
        for (postings, vec) in [(&self.words, &query.words), (&self.chars, &query.chars)] {
            for (&t, &qw) in vec.idx.iter().zip(&vec.val) {
                for &(d, w) in &postings[t as usize] {
                    scratch.add(d, 0.5 * qw * w);
                }
            }
        }
        let mut hits: Vec<(usize, f32)> = scratch
            .touched
            .iter()
            .map(|&d| (d as usize, scratch.acc[d as usize]))
            .collect();
        let by_score = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if hits.len() > k {
            hits.select_nth_unstable_by(k, by_score);
            hits.truncate(k);
        }
        hits.sort_unstable_by(by_score);
        hits
    }

    /// Top-k candidates for every query, computed in parallel; pairs come out ordered by query,
    /// then best first.
    pub fn search(&self, queries: &[AnalyzedTitle], k: usize) -> Vec<CandidatePair> {
        queries
            .par_iter()
            .enumerate()
            .map_init(Scratch::default, |scratch, (q, query)| {
                self.top_k(query, k, scratch)
                    .into_iter()
                    .map(|(target, score)| CandidatePair {
                        query: q,
                        target,
                        score,
                    })
                    .collect::<Vec<_>>()
            })
            .flatten_iter()
            .collect()
    }
}

/// Per-thread accumulator for [`CandidateIndex::top_k`].
#[derive(Debug, Default)]
pub struct Scratch {
    acc: Vec<f32>,
    touched: Vec<u32>,
}

impl Scratch {
    fn reset(&mut self, n: usize) {
        if self.acc.len() != n {
            self.acc = vec![0.0; n];
        } else {
            for &d in &self.touched {
                self.acc[d as usize] = 0.0;
            }
        }
        self.touched.clear();
    }

    fn add(&mut self, d: u32, w: f32) {
        let slot = &mut self.acc[d as usize];
        if *slot == 0.0 {
            self.touched.push(d);
        }
        *slot += w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_the_copy_first() {
        let home = titles(&[
            "Susu UHT Diamond Cereal 125 ml",
            "Kabel Data Type C 1 meter",
            "Tas Ransel Laptop Hitam",
        ]);
        let model = TfIdf::fit(&home, Normalizer::default(), 3);
        let docs = model.analyze_all(&home);
        let index = CandidateIndex::build(&model, &docs);
        let q = model.analyze_all(&titles(&[
            "READY Diamond UHT Milk Cereal 125ML",
            "black laptop bag ransel",
        ]));
        let pairs = index.search(&q, 2);
        assert_eq!(pairs[0].query, 0);
        assert_eq!(pairs[0].target, 0);
        let second: Vec<_> = pairs.iter().filter(|p| p.query == 1).collect();
        assert_eq!(second[0].target, 2);
        assert!(pairs.iter().all(|p| (0.0..=1.0001).contains(&p.score)));
    }

    #[test]
    fn identical_titles_have_cosine_one() {
        let home = titles(&["Kopi Bubuk 200gr", "Teh Celup"]);
        let model = TfIdf::fit(&home, Normalizer::default(), 3);
        let a = model.analyze("Kopi Bubuk 200gr");
        let b = model.analyze("kopi bubuk 200 g");
        assert!((a.words.cosine(&b.words) - 1.0).abs() < 1e-6);
        assert!((a.chars.cosine(&b.chars) - 1.0).abs() < 1e-6);
        let empty = model.analyze("");
        assert_eq!(empty.words.cosine(&a.words), 0.0);
    }
}
