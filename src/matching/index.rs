//! TF-IDF over titles (word tokens and character n-grams) and an inverted index for parallel
//! sparse top-k cosine search.
//!
//! The model is fitted on the home catalog (the index side); a query title's terms unknown to
//! the model count in its norm with the largest IDF, so a listing full of foreign words scores
//! lower, as it should. The index is built over the home products; queries (foreign listings)
//! stream through it in parallel, each scored against every indexed product sharing a term,
//! and results come back in input order with ties broken by product index.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::ops::Range;

use rayon::prelude::*;

use crate::hash::FxHasher;
use crate::matching::text::Normalizer;

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

/// Vocabulary and inverse document frequencies of one kind of term: words (`String`) or
/// character n-grams (packed in a `u64`, see `Normalizer::char_ngram_keys`).
#[derive(Clone, Debug)]
pub struct TermVocab<K = String> {
    ids: HashMap<K, u32, BuildHasherDefault<FxHasher>>,
    idf: Vec<f32>,
    unknown_idf: f32,
}

impl<K> Default for TermVocab<K> {
    fn default() -> Self {
        TermVocab {
            ids: HashMap::default(),
            idf: Vec::new(),
            unknown_idf: 0.0,
        }
    }
}

impl<K: Hash + Eq + Ord + Clone + Send + Sync> TermVocab<K> {
    /// Fits on `docs`, each a bag of terms. Ids are given in order of first appearance: blocks
    /// of documents are counted in parallel, each listing its terms in order of first
    /// appearance with their document frequency, and the blocks are merged in order.
    fn fit(docs: &[Vec<K>]) -> TermVocab<K> {
        const BLOCK: usize = 4096;
        let blocks: Vec<Vec<(&K, u32)>> = docs
            .par_chunks(BLOCK)
            .map(|block| {
                let mut local: HashMap<&K, u32, BuildHasherDefault<FxHasher>> = HashMap::default();
                let mut terms: Vec<(&K, u32)> = Vec::new();
                let mut seen: Vec<u32> = Vec::new();
                for doc in block {
                    seen.clear();
                    for t in doc {
                        let id = *local.entry(t).or_insert_with(|| {
                            terms.push((t, 0));
                            terms.len() as u32 - 1
                        });
                        seen.push(id);
                    }
                    seen.sort_unstable();
                    seen.dedup();
                    for &id in &seen {
                        terms[id as usize].1 += 1;
                    }
                }
                terms
            })
            .collect();
        let mut ids: HashMap<K, u32, BuildHasherDefault<FxHasher>> = HashMap::default();
        let mut df: Vec<u32> = Vec::new();
        for (t, d) in blocks.into_iter().flatten() {
            match ids.get(t) {
                Some(&id) => df[id as usize] += d,
                None => {
                    ids.insert(t.clone(), df.len() as u32);
                    df.push(d);
                }
            }
        }
        let n = docs.len();
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

    /// Id of a known term.
    #[inline]
    fn id(&self, term: &K) -> Option<u32> {
        self.ids.get(term).copied()
    }

    /// IDF of a term given its id, if known; an unknown term gets the largest IDF (seen once).
    #[inline]
    fn idf_of(&self, id: Option<u32>) -> f32 {
        id.map_or(self.unknown_idf, |id| self.idf[id as usize])
    }

    /// TF-IDF vector (sublinear term frequency, L2-normalised) of distinct terms in ascending
    /// order, each given by its id (`None`: unknown) and count; at most `most` of them. Terms
    /// come sorted, so the norm is summed in a fixed order and output is bit-identical run to
    /// run.
    fn vectorize_runs(
        &self,
        runs: impl Iterator<Item = (Option<u32>, usize)>,
        most: usize,
    ) -> SparseVec {
        let mut known: Vec<(u32, f32)> = Vec::with_capacity(most);
        let mut norm = 0f32;
        for (id, count) in runs {
            let tf = 1.0 + (count as f32).ln();
            let w = tf * self.idf_of(id);
            norm += w * w;
            if let Some(id) = id {
                known.push((id, w));
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

impl TermVocab<String> {
    /// IDF of a term; a term unknown to the vocabulary gets the largest IDF (seen once).
    pub fn weight(&self, term: &str) -> f32 {
        self.idf_of(self.ids.get(term).copied())
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
    chars: TermVocab<u64>,
}

impl TfIdf {
    /// Fits the model on titles with the given normaliser and character n-gram length.
    pub fn fit(titles: &[String], normalizer: Normalizer, ngram: usize) -> TfIdf {
        let (tokens, grams) = terms_of(titles, &normalizer, ngram);
        TfIdf::of_terms(&tokens, &grams, normalizer, ngram)
    }

    /// Fits the model on `titles` (as [`TfIdf::fit`]) and analyses each of them (as
    /// [`TfIdf::analyze_all`]), tokenising every title once.
    pub fn fit_analyze(
        titles: &[String],
        normalizer: Normalizer,
        ngram: usize,
    ) -> (TfIdf, Vec<AnalyzedTitle>) {
        let (tokens, grams) = terms_of(titles, &normalizer, ngram);
        let model = TfIdf::of_terms(&tokens, &grams, normalizer, ngram);
        let analyzed = tokens
            .into_par_iter()
            .zip(grams)
            .map(|(tokens, grams)| model.analyzed(tokens, grams))
            .collect();
        (model, analyzed)
    }

    /// The model of titles already split into words and character n-gram keys; both
    /// vocabularies are fitted at once.
    fn of_terms(
        tokens: &[Vec<String>],
        grams: &[Vec<u64>],
        normalizer: Normalizer,
        ngram: usize,
    ) -> TfIdf {
        let (words, chars) = rayon::join(|| TermVocab::fit(tokens), || TermVocab::fit(grams));
        TfIdf {
            words,
            chars,
            normalizer,
            ngram,
        }
    }

    fn analyzed(&self, tokens: Vec<String>, mut grams: Vec<u64>) -> AnalyzedTitle {
        // Keys sort as numbers, in place.
        grams.sort_unstable();
        let chars = self.chars.vectorize_runs(
            grams
                .chunk_by(|a, b| a == b)
                .map(|run| (self.chars.id(&run[0]), run.len())),
            grams.len(),
        );
        // Words in text order; each distinct word is looked up once, for its vector entry and
        // for the weight of every token that spells it.
        let mut order: Vec<usize> = (0..tokens.len()).collect();
        order.sort_unstable_by(|&a, &b| tokens[a].cmp(&tokens[b]));
        let mut weights = vec![0f32; tokens.len()];
        let words = self.words.vectorize_runs(
            order.chunk_by(|&a, &b| tokens[a] == tokens[b]).map(|run| {
                let id = self.words.id(&tokens[run[0]]);
                let w = self.words.idf_of(id);
                for &t in run {
                    weights[t] = w;
                }
                (id, run.len())
            }),
            tokens.len(),
        );
        AnalyzedTitle {
            words,
            chars,
            weights,
            tokens,
        }
    }

    /// Analyses one title.
    pub fn analyze(&self, title: &str) -> AnalyzedTitle {
        let tokens = self.normalizer.tokens(title);
        let grams = Normalizer::char_ngram_keys(&tokens, self.ngram);
        self.analyzed(tokens, grams)
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

/// Each title's tokens and character n-gram keys, computed in parallel.
fn terms_of(
    titles: &[String],
    normalizer: &Normalizer,
    ngram: usize,
) -> (Vec<Vec<String>>, Vec<Vec<u64>>) {
    titles
        .par_iter()
        .map(|t| {
            let tokens = normalizer.tokens(t);
            let grams = Normalizer::char_ngram_keys(&tokens, ngram);
            (tokens, grams)
        })
        .unzip()
}

/// The rows of each query's candidates in `pairs` (pairs of one query are consecutive, as the
/// search returns them), in order.
pub(crate) fn query_runs(pairs: &[CandidatePair]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        let q = pairs.get(start)?.query;
        let end = start + pairs[start..].iter().take_while(|p| p.query == q).count();
        let run = start..end;
        start = end;
        Some(run)
    })
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

/// Term-major (posting lists) or document-major (vectors) sparse rows, CSR layout.
#[derive(Clone, Debug, Default)]
struct Rows {
    start: Vec<u32>,
    id: Vec<u32>,
    weight: Vec<f32>,
}

impl Rows {
    fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.start[r] as usize, self.start[r + 1] as usize);
        (&self.id[a..b], &self.weight[a..b])
    }

    /// Rows of `vecs` as they are (document-major).
    fn of_vectors<'a>(vecs: impl Iterator<Item = &'a SparseVec>) -> Rows {
        let mut rows = Rows {
            start: vec![0],
            ..Rows::default()
        };
        for v in vecs {
            rows.id.extend_from_slice(&v.idx);
            rows.weight.extend_from_slice(&v.val);
            rows.start.push(rows.id.len() as u32);
        }
        rows
    }

    /// Posting lists of `vecs` over `n_terms` terms: documents ascending within a term.
    fn postings<'a>(n_terms: usize, vecs: impl Iterator<Item = &'a SparseVec> + Clone) -> Rows {
        let mut count = vec![0u32; n_terms + 1];
        for v in vecs.clone() {
            for &t in &v.idx {
                count[t as usize + 1] += 1;
            }
        }
        for t in 0..n_terms {
            count[t + 1] += count[t];
        }
        let total = count[n_terms] as usize;
        let mut next = count.clone();
        let (mut id, mut weight) = (vec![0u32; total], vec![0f32; total]);
        for (d, v) in vecs.enumerate() {
            for (&t, &w) in v.idx.iter().zip(&v.val) {
                let slot = &mut next[t as usize];
                id[*slot as usize] = d as u32;
                weight[*slot as usize] = w;
                *slot += 1;
            }
        }
        Rows {
            start: count,
            id,
            weight,
        }
    }

    /// Largest weight and length of each row (0 for an empty row).
    fn row_info(&self) -> Vec<(f32, u32)> {
        (0..self.start.len() - 1)
            .map(|r| {
                let (ids, ws) = self.row(r);
                (ws.iter().copied().fold(0.0, f32::max), ids.len() as u32)
            })
            .collect()
    }
}

/// Cost of scoring one document term exactly (a random read of the query's weight), in posting
/// entries read in order. Searches of 10k and 100k titles were fastest between 4 and 12; at 8
/// each was within 10% of its best.
const EXACT_COST: usize = 8;

/// Slack on score bounds for float rounding: a document is pruned only when its bound is
/// this much below the k-th best score.
const BOUND_SLACK: f32 = 1e-4;

/// Inverted index of analysed titles for top-k cosine search.
///
/// Search is exact top-k by the mean of the word and character cosines, computed with
/// MaxScore-style pruning: a query's terms are taken in decreasing order of their largest
/// possible contribution, scores accumulate term by term, and once the contributions left
/// cannot lift an unseen document above the k-th best score so far, the remaining (long,
/// low-weight) posting lists are not read. What the terms left can add is bounded per kind of
/// term by the smaller of the query weights times the largest document weights and the norm
/// of the query weights left (document vectors have unit norm); the k-th best score so far is
/// the larger of the k-th best partial score and the smallest exact score of the k best. The
/// documents still in reach are scored exactly from their stored vectors. Every returned score
/// is that exact score, whatever path found the document, so results do not depend on thread
/// count or pruning.
#[derive(Clone, Debug)]
pub struct CandidateIndex {
    n_docs: usize,
    /// Posting lists of word terms and of character n-grams.
    postings: [Rows; 2],
    /// Largest weight and length of each posting list.
    term_info: [Vec<(f32, u32)>; 2],
    /// Each document's word and character vectors.
    vectors: [Rows; 2],
    /// Mean number of terms of a document (the cost of scoring one exactly).
    mean_len: usize,
}

impl CandidateIndex {
    /// Builds the posting lists of `docs` (analysed with `model`): a slice of analysed titles,
    /// or any cloneable iterator over them.
    pub fn build<'a, I>(model: &TfIdf, docs: I) -> CandidateIndex
    where
        I: IntoIterator<Item = &'a AnalyzedTitle>,
        I::IntoIter: Clone,
    {
        let docs = docs.into_iter();
        let words = Rows::postings(model.words.len(), docs.clone().map(|d| &d.words));
        let chars = Rows::postings(model.chars.len(), docs.clone().map(|d| &d.chars));
        let n_docs = docs.clone().count();
        let terms: usize = docs
            .clone()
            .map(|d| d.words.idx.len() + d.chars.idx.len())
            .sum();
        CandidateIndex {
            n_docs,
            term_info: [words.row_info(), chars.row_info()],
            postings: [words, chars],
            vectors: [
                Rows::of_vectors(docs.clone().map(|d| &d.words)),
                Rows::of_vectors(docs.map(|d| &d.chars)),
            ],
            mean_len: terms / n_docs.max(1) + 1,
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

    /// Exact score of document `d`: the mean of its word and character cosines with the query
    /// whose weights are spread in `dense` (one slot per term id).
    fn score(&self, dense: &[Vec<f32>; 2], d: usize) -> f32 {
        let mut cos = [0f32; 2];
        for kind in 0..2 {
            let (ids, ws) = self.vectors[kind].row(d);
            cos[kind] = ids
                .iter()
                .zip(ws)
                .map(|(&t, &w)| dense[kind][t as usize] * w)
                .sum();
        }
        0.5 * (cos[0] + cos[1])
    }

    /// The `k` indexed documents closest to `query` by mean word/char cosine, best first, ties
    /// by document index; documents sharing no term are never returned.
    pub fn top_k(
        &self,
        query: &AnalyzedTitle,
        k: usize,
        scratch: &mut Scratch,
    ) -> Vec<(usize, f32)> {
        if k == 0 || self.n_docs == 0 {
            return Vec::new();
        }
        scratch.reset(
            self.n_docs,
            [self.term_info[0].len(), self.term_info[1].len()],
        );
        // (order key, kind, term, query weight) of every query term with a posting list. The key
        // sorts by decreasing bound (positive, so its bits order as the number), then by kind
        // and term: terms are pushed in that order, so the push index breaks ties.
        let terms = &mut scratch.terms;
        // Posting entries left to read.
        let mut unread = 0usize;
        for (kind, vec) in [&query.words, &query.chars].into_iter().enumerate() {
            for (&t, &qw) in vec.idx.iter().zip(&vec.val) {
                scratch.dense[kind][t as usize] = qw;
                let (max_w, len) = self.term_info[kind][t as usize];
                if max_w > 0.0 {
                    let bound = 0.5 * qw * max_w;
                    let key = (u64::from(!bound.to_bits()) << 32) | terms.len() as u64;
                    terms.push((key, kind as u8, t, 0.5 * qw));
                    unread += len as usize;
                }
            }
        }
        terms.sort_unstable_by_key(|term| term.0);
        // `reach_after[i]`: the most that terms `i..` can add to any document's score. Per kind of
        // term it is the smaller of two bounds: the query weights times the largest document
        // weights, and (Cauchy-Schwarz, document vectors having unit norm) the norm of the
        // query weights left.
        let reach_after = &mut scratch.reach_after;
        reach_after.clear();
        reach_after.resize(terms.len() + 1, 0.0);
        let (mut by_max, mut sq) = ([0f32; 2], [0f32; 2]);
        for (i, &(key, kind, _, qw)) in terms.iter().enumerate().rev() {
            let bound = f32::from_bits(!((key >> 32) as u32));
            by_max[kind as usize] += bound;
            sq[kind as usize] += qw * qw;
            reach_after[i] = (0..2).map(|k| by_max[k].min(sq[k].sqrt())).sum();
        }
        // Largest score a document not yet seen can still reach.
        let mut rest: f32 = reach_after[0];
        let (acc, slots, best): (&mut [f32], &mut [u32], _) = (
            &mut scratch.acc[..],
            &mut scratch.touched[..],
            &mut scratch.best,
        );
        // Documents touched so far are `slots[..touched]` (see `open_pass`).
        let mut touched = 0usize;
        let in_reach = &mut scratch.in_reach;
        best.clear(k, self.n_docs);
        in_reach.clear();
        // Once no unseen document can reach the k-th best score so far, the search is closed:
        // the documents that still can are listed in `in_reach` (filtered again each time the
        // bound has fallen by a quarter), the rest of each posting list only updates documents
        // already seen, and reading stops once scoring `in_reach` exactly costs less than the
        // posting entries left (see [`EXACT_COST`]).
        let mut closed = false;
        let mut next_filter = f32::INFINITY;
        let mut pruned = false;
        // The k best so far, scored exactly, bound the k-th best final score from below; they
        // are scored each time the bound on unseen documents has fallen by a quarter.
        let mut exact_floor = 0f32;
        let mut next_exact = f32::INFINITY;
        let scored = &mut scratch.scored;
        scored.clear();
        for (i, &(_, kind, t, qw)) in terms.iter().enumerate() {
            rest = reach_after[i];
            if rest < next_exact && best.doc.len() == k {
                let mut kth = f32::INFINITY;
                for &d in &best.doc {
                    let s = match scored.iter().find(|s| s.0 == d) {
                        Some(s) => s.1,
                        None => {
                            let s = self.score(&scratch.dense, d as usize);
                            scored.push((d, s));
                            s
                        }
                    };
                    kth = kth.min(s);
                }
                exact_floor = exact_floor.max(kth);
                next_exact = 0.75 * rest;
            }
            let theta = best.theta().max(exact_floor);
            if rest + BOUND_SLACK < theta && rest < next_filter {
                let f = theta - rest - BOUND_SLACK;
                if !closed {
                    in_reach.extend_from_slice(&slots[..touched]);
                    closed = true;
                }
                retain_reaching(in_reach, acc, f);
                next_filter = 0.75 * rest;
            }
            if closed && in_reach.len() * self.mean_len * EXACT_COST <= unread {
                pruned = true;
                break;
            }
            let (docs, ws) = self.postings[kind as usize].row(t as usize);
            if closed {
                closed_pass(docs, ws, qw, acc, best);
            } else {
                open_pass(docs, ws, qw, acc, (slots, &mut touched), best);
            }
            unread -= docs.len();
        }
        if !pruned {
            // Everything was read: partial scores are full scores up to rounding.
            rest = 0.0;
        }
        // A document can still be among the k best only if its partial score plus what is
        // left reaches the k-th best score so far.
        scratch.n_touched = touched;
        let touched = &slots[..touched];
        let floor = if touched.len() > k {
            best.theta().max(exact_floor) - rest - BOUND_SLACK
        } else {
            0.0
        };
        // Documents in reach, best partial score first; each is scored exactly until no
        // partial score plus what is left can reach the k-th best exact score.
        // Keys order by partial score (positive, so its bits order as the number), then by
        // lower document index.
        let mut reach = std::collections::BinaryHeap::from(std::mem::take(&mut scratch.reach));
        reach.clear();
        reach.extend(
            if closed { &in_reach[..] } else { touched }
                .iter()
                .filter(|&&d| acc[d as usize] >= floor)
                .map(|&d| (u64::from(acc[d as usize].to_bits()) << 32) | u64::from(u32::MAX - d)),
        );
        let by_score = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        let mut hits: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
        while let Some(key) = reach.pop() {
            let (partial, d) = (f32::from_bits((key >> 32) as u32), u32::MAX - key as u32);
            if hits.len() == k && partial + rest + BOUND_SLACK < hits[k - 1].1 {
                break;
            }
            // The k best were scored exactly while the search ran; others are scored now.
            let score = match scratch.scored.iter().find(|s| s.0 == d) {
                Some(s) => s.1,
                None => self.score(&scratch.dense, d as usize),
            };
            let hit = (d as usize, score);
            let at = hits.partition_point(|h| by_score(h, &hit).is_lt());
            if at < k {
                hits.insert(at, hit);
                hits.truncate(k);
            }
        }
        scratch.reach = reach.into_vec();
        for (kind, vec) in [&query.words, &query.chars].into_iter().enumerate() {
            for &t in &vec.idx {
                scratch.dense[kind][t as usize] = 0.0;
            }
        }
        hits
    }

    /// Top-k candidates for every query, computed in parallel; pairs come out ordered by query,
    /// then best first. Queries with the same vectors (a title listed again) are searched once.
    pub fn search<Q: Borrow<AnalyzedTitle> + Sync>(
        &self,
        queries: &[Q],
        k: usize,
    ) -> Vec<CandidatePair> {
        let first = first_of_same(queries);
        let searched: Vec<usize> = (0..queries.len()).filter(|&q| first[q] == q).collect();
        let found: Vec<Vec<(usize, f32)>> = searched
            .par_iter()
            .map_init(Scratch::default, |scratch, &q| {
                self.top_k(queries[q].borrow(), k, scratch)
            })
            .collect();
        let mut slot = vec![0u32; queries.len()];
        for (i, &q) in searched.iter().enumerate() {
            slot[q] = i as u32;
        }
        let mut pairs = Vec::with_capacity(found.iter().map(Vec::len).sum::<usize>());
        for (q, &f) in first.iter().enumerate() {
            pairs.extend(
                found[slot[f] as usize]
                    .iter()
                    .map(|&(target, score)| CandidatePair {
                        query: q,
                        target,
                        score,
                    }),
            );
        }
        pairs
    }
}

/// For each query, the first query with the same word and character vectors (itself when
/// none comes before it).
fn first_of_same<Q: Borrow<AnalyzedTitle> + Sync>(queries: &[Q]) -> Vec<usize> {
    let vectors = |q: usize| {
        let a = queries[q].borrow();
        [&a.words, &a.chars]
    };
    let hash = |q: usize| {
        let mut h = FxHasher::default();
        for v in vectors(q) {
            h.write_usize(v.idx.len());
            for (&t, &w) in v.idx.iter().zip(&v.val) {
                h.write_u64((u64::from(t) << 32) | u64::from(w.to_bits()));
            }
        }
        h.finish()
    };
    let same = |a: usize, b: usize| {
        vectors(a).iter().zip(vectors(b)).all(|(x, y)| {
            x.idx == y.idx
                && x.val
                    .iter()
                    .map(|w| w.to_bits())
                    .eq(y.val.iter().map(|w| w.to_bits()))
        })
    };
    let mut order: Vec<(u64, usize)> = (0..queries.len())
        .into_par_iter()
        .map(|q| (hash(q), q))
        .collect();
    order.par_sort_unstable();
    let mut first: Vec<usize> = (0..queries.len()).collect();
    for run in order.chunk_by(|a, b| a.0 == b.0) {
        // Queries in increasing order; each takes the first earlier one with the same vectors
        // (a run holds different vectors only on a hash collision).
        let mut kinds: Vec<usize> = Vec::new();
        for &(_, q) in run {
            match kinds.iter().find(|&&f| same(f, q)) {
                Some(&f) => first[q] = f,
                None => kinds.push(q),
            }
        }
    }
    first
}

/// Keeps the documents of `docs` whose partial score in `acc` reaches `floor`, in order,
/// without a data-dependent branch (which half the documents would mispredict).
fn retain_reaching(docs: &mut Vec<u32>, acc: &[f32], floor: f32) {
    let mut n = 0;
    for i in 0..docs.len() {
        let d = docs[i];
        docs[n] = d;
        n += usize::from(acc[d as usize] >= floor);
    }
    docs.truncate(n);
}

/// Adds one posting list (documents `docs`, weights `ws`, query weight `qw`) to the documents
/// already seen, once the search is closed.
fn closed_pass(docs: &[u32], ws: &[f32], qw: f32, acc: &mut [f32], best: &mut Best) {
    let mut min = best.min;
    for (&d, &w) in docs.iter().zip(ws) {
        let slot = &mut acc[d as usize];
        // Unseen documents stay at 0 (a select, not a branch).
        *slot += if *slot > 0.0 { qw * w } else { 0.0 };
        if *slot > min && best.changes(d) {
            min = best.offer(d, acc);
        }
    }
}
/// Adds one posting list to every document in it while the search is open. Documents touched
/// so far are `slots[..*touched]`: each entry writes its document to the next slot and keeps
/// it only if it was new, without a branch.
fn open_pass(
    docs: &[u32],
    ws: &[f32],
    qw: f32,
    acc: &mut [f32],
    (slots, touched): (&mut [u32], &mut usize),
    best: &mut Best,
) {
    let mut min = best.min;
    let mut n = *touched;
    for (&d, &w) in docs.iter().zip(ws) {
        let slot = &mut acc[d as usize];
        slots[n] = d;
        n += usize::from(*slot == 0.0);
        *slot += qw * w;
        if *slot > min && best.changes(d) {
            min = best.offer(d, acc);
        }
    }
    *touched = n;
}

/// The `k` documents with the best partial scores so far, kept exactly as scores accumulate:
/// a document not kept is taken in once its score passes the smallest kept, and the smallest is
/// found again whenever the kept set or its smallest member's score changes (kept scores are
/// read from the accumulator, so other kept documents rising need no work). The smallest is
/// thus the k-th largest partial score at any time (0 until `k` documents are touched).
#[derive(Debug, Default)]
struct Best {
    /// Kept documents; their scores are read from the accumulator, which only grows.
    doc: Vec<u32>,
    /// Whether each document is kept.
    member: Vec<bool>,
    k: usize,
    /// Smallest kept score once `k` are kept (below any score until then), as of the last
    /// change of the kept set or of the smallest kept document's score.
    min: f32,
    /// Where the smallest kept document is.
    min_at: usize,
}

impl Best {
    fn clear(&mut self, k: usize, n_docs: usize) {
        if self.member.len() == n_docs {
            for &d in &self.doc {
                self.member[d as usize] = false;
            }
        } else {
            self.member = vec![false; n_docs];
        }
        self.doc.clear();
        self.k = k;
        self.min = f32::NEG_INFINITY;
        self.min_at = 0;
    }

    /// The k-th largest partial score, or 0 when fewer than `k` documents were touched.
    fn theta(&self) -> f32 {
        self.min.max(0.0)
    }

    /// Whether document `d`, now scoring above [`Best::min`], changes the kept set or its
    /// minimum: it is not kept, or it is the smallest kept (a kept document other than the
    /// smallest rising leaves both as they are).
    #[inline]
    fn changes(&self, d: u32) -> bool {
        !self.member[d as usize] || (self.doc.len() == self.k && self.doc[self.min_at] == d)
    }

    /// Takes document `d` (for which [`Best::changes`] holds) into account with the
    /// accumulated scores `acc`; returns the new minimum.
    fn offer(&mut self, d: u32, acc: &[f32]) -> f32 {
        if !self.member[d as usize] {
            self.member[d as usize] = true;
            if self.doc.len() < self.k {
                self.doc.push(d);
                if self.doc.len() < self.k {
                    return self.min;
                }
            } else {
                self.member[self.doc[self.min_at] as usize] = false;
                self.doc[self.min_at] = d;
            }
        }
        let score = |i: usize| acc[self.doc[i] as usize];
        let mut at = 0;
        for i in 1..self.doc.len() {
            if score(i) < score(at) {
                at = i;
            }
        }
        self.min_at = at;
        self.min = score(at);
        self.min
    }
}

/// Per-thread scratch space for [`CandidateIndex::top_k`]: a dense score accumulator and the
/// documents it touched, reused from query to query.
#[derive(Debug, Default)]
pub struct Scratch {
    acc: Vec<f32>,
    /// Documents touched by the query, `touched[..n_touched]`, with room for every document
    /// and one more.
    touched: Vec<u32>,
    n_touched: usize,
    terms: Vec<(u64, u8, u32, f32)>,
    reach_after: Vec<f32>,
    /// Documents scored exactly while the search runs, with their scores.
    scored: Vec<(u32, f32)>,
    best: Best,
    in_reach: Vec<u32>,
    reach: Vec<u64>,
    /// The query's weights, one slot per term id (zero elsewhere between queries).
    dense: [Vec<f32>; 2],
}

impl Scratch {
    fn reset(&mut self, n: usize, n_terms: [usize; 2]) {
        for (dense, n) in self.dense.iter_mut().zip(n_terms) {
            if dense.len() != n {
                *dense = vec![0.0; n];
            }
        }
        if self.acc.len() != n {
            self.acc = vec![0.0; n];
        } else {
            for &d in &self.touched[..self.n_touched] {
                self.acc[d as usize] = 0.0;
            }
        }
        if self.touched.len() != n + 1 {
            self.touched = vec![0; n + 1];
        }
        self.n_touched = 0;
        self.terms.clear();
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
    fn pruned_search_equals_exhaustive_search() {
        // Titles drawn from a small vocabulary share many words and n-grams, so posting lists
        // are long and the search prunes; every top-k list must equal the one found by scoring
        // every document.
        let words = [
            "kaos", "polos", "hitam", "putih", "katun", "anak", "pria", "wanita", "tas", "ransel",
            "laptop", "kabel", "data", "type", "c", "1m", "2m", "susu", "uht", "125ml", "cokelat",
            "stroberi", "premium", "original", "murah", "xl", "l", "m", "sepatu", "bola",
        ];
        let mut state = 7u64;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        let mut title = |len: usize| -> String {
            (0..len)
                .map(|_| words[next(words.len())])
                .collect::<Vec<_>>()
                .join(" ")
        };
        let home: Vec<String> = (0..400).map(|i| title(2 + i % 7)).collect();
        let queries: Vec<String> = (0..200).map(|i| title(1 + i % 9)).collect();
        let model = TfIdf::fit(&home, Normalizer::default(), 3);
        let docs = model.analyze_all(&home);
        let index = CandidateIndex::build(&model, &docs);
        let analyzed = model.analyze_all(&queries);
        let mut scratch = Scratch::default();
        for k in [1, 5, 10] {
            for q in &analyzed {
                let got = index.top_k(q, k, &mut scratch);
                let mut all: Vec<(usize, f64)> = docs
                    .iter()
                    .enumerate()
                    .map(|(d, doc)| {
                        (
                            d,
                            0.5 * (q.words.cosine(&doc.words) + q.chars.cosine(&doc.chars)),
                        )
                    })
                    .filter(|&(_, s)| s > 0.0)
                    .collect();
                all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                assert_eq!(got.len(), all.len().min(k));
                for (i, &(d, score)) in got.iter().enumerate() {
                    // Same scores rank by rank; a tie may resolve either way in f32.
                    assert!((f64::from(score) - all[i].1).abs() < 1e-5, "k={k} rank {i}");
                    let exact =
                        0.5 * (q.words.cosine(&docs[d].words) + q.chars.cosine(&docs[d].chars));
                    assert!((f64::from(score) - exact).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn repeated_queries_get_the_candidates_of_a_lone_search() {
        let home = titles(&[
            "Susu UHT Diamond Cereal 125 ml",
            "Susu UHT Diamond Coklat 125 ml",
            "Kabel Data Type C 1 meter",
            "Tas Ransel Laptop Hitam",
        ]);
        let model = TfIdf::fit(&home, Normalizer::default(), 3);
        let index = CandidateIndex::build(&model, &model.analyze_all(&home));
        let q = model.analyze_all(&titles(&[
            "susu uht diamond",
            "kabel type c",
            "susu uht diamond",
            "tas laptop",
            "kabel type c",
            "susu uht diamond",
        ]));
        let refs: Vec<&AnalyzedTitle> = q.iter().collect();
        let pairs = index.search(&refs, 2);
        let mut scratch = Scratch::default();
        let mut alone = Vec::new();
        for (i, query) in q.iter().enumerate() {
            for (target, score) in index.top_k(query, 2, &mut scratch) {
                alone.push(CandidatePair {
                    query: i,
                    target,
                    score,
                });
            }
        }
        assert_eq!(pairs, alone);
        assert_eq!(first_of_same(&q), vec![0, 1, 0, 3, 1, 0]);
    }

    #[test]
    fn vocabulary_ids_follow_first_appearance_over_blocks() {
        // More documents than one counting block: ids in order of first appearance and
        // document frequencies as counted one document at a time.
        let docs: Vec<Vec<u64>> = (0..10_000u64)
            .map(|i| vec![i % 7, 1000 + i / 3, i % 7, 5000 + (i * 7919) % 6000])
            .collect();
        let vocab = TermVocab::fit(&docs);
        let mut order: Vec<u64> = Vec::new();
        let mut df: HashMap<u64, usize> = HashMap::new();
        for doc in &docs {
            let mut seen: Vec<u64> = doc.clone();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                *df.entry(t).or_default() += 1;
            }
            for &t in doc {
                if !order.contains(&t) {
                    order.push(t);
                }
            }
        }
        assert_eq!(vocab.len(), order.len());
        let n = docs.len() as f32;
        for (id, t) in order.iter().enumerate() {
            assert_eq!(vocab.ids[t], id as u32);
            let idf = ((1.0 + n) / (1.0 + df[t] as f32)).ln() + 1.0;
            assert!((vocab.idf(id as u32) - idf).abs() < 1e-6);
        }
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
