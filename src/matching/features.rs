//! Similarity features of candidate pairs, one `ndarray` row per pair.
//!
//! Every similarity is in [0, 1] with 1.0 meaning identical. Optional attributes (model codes,
//! numbers, brand, category, price, image hash) are represented explicitly: each has a value
//! column and a `has_*` column that is 1.0 when the pair carries the attribute and 0.0 when
//! not; a missing value is 0.0 and never read as disagreement. Besides the dense columns, each
//! pair keeps the tokens found in exactly one of its two titles ([`PairFeatures::differing`]),
//! which a supervised model can weigh word by word ("upgrade", "mac", "refill").
//!
//! Five columns count tokens rather than weigh them, each count `n` read as a similarity (1 for
//! none, `1 / (1 + n)` else): `cover_better` and `cover_worse` count the distinct tokens of one
//! title not found in the other (a typo of one edit tolerated in words of four letters or
//! more, also of a word both titles hold, and a count `2pcs` found as its bare number `2`),
//! for the title with fewer and with more such tokens. A copy adds spam words and typos
//! but few words of content; a sibling variant differs in its colour, size or model words.
//! `sole_cover` and `rival_cover` compare a candidate with the other candidates of the same
//! query: the query tokens it alone covers (the details that single it out among near-identical
//! variants), and the query tokens it misses that another candidate covers. `code_cover` counts
//! the model codes of one title the other does not hold (`compare_codes`), for the title
//! missing fewer: another offer adds codes, another product has codes of its own.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault};

use ndarray::Array2;
use rayon::prelude::*;

use crate::matching::index::{query_runs, AnalyzedTitle, CandidatePair};
use crate::matching::text::{token_kind, Lexicon, Normalizer, TokenKind};

/// Names of the feature columns, in order.
pub const FEATURE_NAMES: [&str; 24] = [
    "word_cosine",
    "char_cosine",
    "token_jaccard",
    "token_sort_similarity",
    "rare_token_share",
    "containment",
    "length_ratio",
    "code_agreement",
    "has_codes",
    "number_agreement",
    "has_numbers",
    "brand_agreement",
    "has_brand",
    "category_agreement",
    "has_category",
    "price_similarity",
    "has_price",
    "image_similarity",
    "has_image",
    "cover_better",
    "cover_worse",
    "sole_cover",
    "rival_cover",
    "code_cover",
];

/// A feature column, by name: `f[Feature::CodeAgreement as usize]` or
/// [`Feature::index`]; the discriminant is the column of [`FEATURE_NAMES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(usize)]
pub enum Feature {
    /// Cosine of the word TF-IDF vectors.
    WordCosine,
    /// Cosine of the character n-gram TF-IDF vectors.
    CharCosine,
    /// Jaccard similarity of the token sets.
    TokenJaccard,
    /// Edit similarity of the sorted tokens.
    TokenSortSimilarity,
    /// IDF-weighted share of tokens in common (one typo tolerated).
    RareTokenShare,
    /// IDF-weighted share of the lighter title's tokens found in the other.
    Containment,
    /// Ratio of the token counts, shorter over longer.
    LengthRatio,
    /// Agreement of model codes (three levels).
    CodeAgreement,
    /// 1 when both titles carry model codes.
    HasCodes,
    /// Jaccard similarity of the numbers and quantities.
    NumberAgreement,
    /// 1 when both titles carry numbers.
    HasNumbers,
    /// 1 when the brands agree.
    BrandAgreement,
    /// 1 when a brand is known on both sides.
    HasBrand,
    /// 1 when the categories agree.
    CategoryAgreement,
    /// 1 when both categories are known.
    HasCategory,
    /// Ratio of the prices, lower over higher.
    PriceSimilarity,
    /// 1 when both prices are known.
    HasPrice,
    /// Similarity of the perceptual image hashes.
    ImageSimilarity,
    /// 1 when both image hashes are known.
    HasImage,
    /// Count similarity of the tokens missing from the side missing fewer.
    CoverBetter,
    /// Count similarity of the tokens missing from the side missing more.
    CoverWorse,
    /// Tokens this candidate shares with its listing that no other candidate has.
    SoleCover,
    /// Tokens other candidates share with the listing that this one lacks.
    RivalCover,
    /// Count similarity of the model codes missing from the side missing fewer.
    CodeCover,
}

impl Feature {
    /// Every feature, in column order.
    pub const ALL: [Feature; N_FEATURES] = [
        Feature::WordCosine,
        Feature::CharCosine,
        Feature::TokenJaccard,
        Feature::TokenSortSimilarity,
        Feature::RareTokenShare,
        Feature::Containment,
        Feature::LengthRatio,
        Feature::CodeAgreement,
        Feature::HasCodes,
        Feature::NumberAgreement,
        Feature::HasNumbers,
        Feature::BrandAgreement,
        Feature::HasBrand,
        Feature::CategoryAgreement,
        Feature::HasCategory,
        Feature::PriceSimilarity,
        Feature::HasPrice,
        Feature::ImageSimilarity,
        Feature::HasImage,
        Feature::CoverBetter,
        Feature::CoverWorse,
        Feature::SoleCover,
        Feature::RivalCover,
        Feature::CodeCover,
    ];

    /// Column of the feature.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Name of the feature, as in [`FEATURE_NAMES`].
    pub const fn name(self) -> &'static str {
        FEATURE_NAMES[self as usize]
    }

    /// The feature with this name.
    pub fn from_name(name: &str) -> Option<Feature> {
        feature_index(name).map(|i| Feature::ALL[i])
    }
}

/// Columns that depend on the other candidates of the same query: filled by
/// [`append_features`] for each query's candidate list, and for a pair scored alone as if it
/// were its query's only candidate.
const SOLE_COVER: usize = Feature::SoleCover as usize;
const RIVAL_COVER: usize = Feature::RivalCover as usize;

/// A count `n` of tokens as a similarity in (0, 1]: 1 for none, 1/2 for one, 1/3 for two.
fn count_similarity(n: u32) -> f64 {
    1.0 / (1.0 + f64::from(n))
}

/// Number of feature columns.
pub const N_FEATURES: usize = FEATURE_NAMES.len();

/// Index of a feature column by name.
pub fn feature_index(name: &str) -> Option<usize> {
    FEATURE_NAMES.iter().position(|n| *n == name)
}

/// Longest text (in characters) compared by [`indel_similarity`]; longer titles are cut there.
pub(crate) const MAX_EDIT_CHARS: usize = 512;

/// The attributes of one record that features use besides its title.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordAttrs {
    /// Canonical brand tokens (empty when unknown).
    pub brand: Vec<String>,
    /// Normalised category (None when unknown).
    pub category: Option<String>,
    /// Price (None when unknown).
    pub price: Option<f64>,
    /// Currency code of the price, upper case (None when unknown).
    pub currency: Option<String>,
    /// Perceptual image hash (None when unknown).
    pub image_phash: Option<u64>,
}

impl RecordAttrs {
    /// Builds attributes from raw values, normalising brand and category with `normalizer`.
    pub fn new(
        normalizer: &Normalizer,
        brand: Option<&str>,
        category: Option<&str>,
        price: Option<f64>,
        currency: Option<&str>,
        image_phash: Option<u64>,
    ) -> RecordAttrs {
        let category = category
            .map(|c| {
                normalizer
                    .clean(c)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|c| !c.is_empty());
        RecordAttrs {
            brand: brand.map(|b| normalizer.tokens(b)).unwrap_or_default(),
            category,
            image_phash,
            ..RecordAttrs::priced(price, currency)
        }
    }

    /// Attributes with a price alone: a positive, finite price and its currency code in upper
    /// case, each kept only when valid.
    pub fn priced(price: Option<f64>, currency: Option<&str>) -> RecordAttrs {
        RecordAttrs {
            price: price.filter(|p| p.is_finite() && *p > 0.0),
            currency: currency
                .map(|c| c.trim().to_ascii_uppercase())
                .filter(|c| !c.is_empty()),
            ..RecordAttrs::default()
        }
    }
}

/// The price similarity of two records: the lower price over the higher, `exp(-|ln(pa / pb)|)` in (0, 1]. Prices in different
/// currencies are not comparable without a rate (see [`crate::matching::rates::ExchangeRates`]) and
/// count as missing.
pub fn price_similarity(a: &RecordAttrs, b: &RecordAttrs) -> Option<f64> {
    match (a.price, b.price) {
        (Some(pa), Some(pb)) if a.currency == b.currency => Some(pa.min(pb) / pa.max(pb)),
        _ => None,
    }
}

/// One side of the pairs: analysed titles and attributes, same length.
#[derive(Clone, Copy, Debug)]
pub struct Side<'a> {
    /// Analysed titles.
    pub titles: &'a [AnalyzedTitle],
    /// Attributes.
    pub attrs: &'a [RecordAttrs],
}

/// Features of a list of pairs: the dense matrix and each pair's differing tokens.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PairFeatures {
    /// One row per pair, columns [`FEATURE_NAMES`], then two per further attribute of
    /// [`PairFeatures::attributes`] (see [`PairFeatures::with_attributes`]).
    pub x: Array2<f64>,
    /// Per pair, the distinct tokens found in exactly one of the two titles, sorted.
    pub differing: Vec<Vec<String>>,
    /// Further attributes of the records, without a role of their own, compared generically
    /// ([`attribute_similarity`]); empty for the detector's listings and products.
    pub attributes: Vec<String>,
}

impl PairFeatures {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.x.nrows()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.x.nrows() == 0
    }

    /// The pairs at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> PairFeatures {
        PairFeatures {
            x: self.x.select(ndarray::Axis(0), rows),
            differing: rows.iter().map(|&i| self.differing[i].clone()).collect(),
            attributes: self.attributes.clone(),
        }
    }

    /// The pairs of several tables, one after the other; the further attributes are the
    /// first table's, and a table without one of them has it absent.
    pub(crate) fn concat(parts: &[&PairFeatures]) -> PairFeatures {
        let attributes = parts
            .first()
            .map(|p| p.attributes.clone())
            .unwrap_or_default();
        let cols = N_FEATURES + 2 * attributes.len();
        let mut x = Array2::zeros((parts.iter().map(|p| p.len()).sum(), cols));
        let mut differing = Vec::with_capacity(x.nrows());
        let mut at = 0;
        for p in parts {
            for i in 0..p.len() {
                for j in 0..cols {
                    x[[at + i, j]] = p.value(i, j, &attributes);
                }
            }
            differing.extend(p.differing.iter().cloned());
            at += p.len();
        }
        PairFeatures {
            x,
            differing,
            attributes,
        }
    }

    /// These pairs with further attributes: `values[i][a]` holds attribute `a`'s values in
    /// the two records of pair `i` (`None` when a record has none). Each attribute adds two
    /// columns after [`FEATURE_NAMES`]: the [`attribute_similarity`] of the two values, and 1
    /// when both records have one (the similarity is 0 otherwise).
    pub fn with_attributes(
        mut self,
        names: Vec<String>,
        values: &[Vec<(Option<&str>, Option<&str>)>],
    ) -> PairFeatures {
        let base = self.x.ncols();
        let mut x = Array2::zeros((self.len(), base + 2 * names.len()));
        for ((i, j), v) in self.x.indexed_iter() {
            x[[i, j]] = *v;
        }
        let present = |v: Option<&str>| v.is_some_and(|v| !v.trim().is_empty());
        for (i, row) in values.iter().enumerate().take(self.len()) {
            for (a, &(l, r)) in row.iter().enumerate().take(names.len()) {
                if let (Some(l), Some(r)) = (l.filter(|_| present(l)), r.filter(|_| present(r))) {
                    x[[i, base + 2 * a]] = attribute_similarity(l, r);
                    x[[i, base + 2 * a + 1]] = 1.0;
                }
            }
        }
        self.x = x;
        self.attributes.extend(names);
        self
    }

    /// Column `j` of pair `i` read by the layout of `attributes`: a feature column as it is,
    /// a further attribute's column from this table's column of that attribute (0 when this
    /// table does not have it).
    pub fn value(&self, i: usize, j: usize, attributes: &[String]) -> f64 {
        if j < N_FEATURES {
            return self.x[[i, j]];
        }
        let (a, part) = ((j - N_FEATURES) / 2, (j - N_FEATURES) % 2);
        attributes
            .get(a)
            .and_then(|name| self.attributes.iter().position(|n| n == name))
            .and_then(|k| self.x.get([i, N_FEATURES + 2 * k + part]).copied())
            .unwrap_or(0.0)
    }

    /// Builds from per-pair rows.
    pub fn from_rows(rows: Vec<([f64; N_FEATURES], Vec<String>)>) -> PairFeatures {
        let mut x = Array2::zeros((rows.len(), N_FEATURES));
        let mut differing = Vec::with_capacity(rows.len());
        for (i, (r, d)) in rows.into_iter().enumerate() {
            for (j, v) in r.iter().enumerate() {
                x[[i, j]] = *v;
            }
            differing.push(d);
        }
        PairFeatures {
            x,
            differing,
            attributes: Vec::new(),
        }
    }
}

/// Similarity of two values of an attribute without a role (authors, venue, year, artist,
/// ...): the mean of the Jaccard similarities of their word sets and of their character
/// trigram sets, both taken on the lower-cased letters and digits (other characters separate
/// words). 1 for values equal but for case and punctuation, 0 when they share nothing; word
/// order does not matter, and a typo costs a few trigrams, not the word.
///
/// ```
/// use crossleak::matching::features::attribute_similarity;
/// assert_eq!(attribute_similarity("J. Smith, A. Jones", "a jones; j smith"), 1.0);
/// assert_eq!(attribute_similarity("VLDB", "SIGMOD"), 0.0);
/// let typo = attribute_similarity("Stone Brewing", "Stone Brewnig");
/// assert!(typo > 0.4 && typo < 1.0);
/// ```
pub fn attribute_similarity(a: &str, b: &str) -> f64 {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let trigrams = |words: &[String]| -> Vec<String> {
        let mut t = Vec::new();
        for w in words {
            let c: Vec<char> = format!(" {w} ").chars().collect();
            t.extend(c.windows(3).map(|g| g.iter().collect::<String>()));
        }
        t
    };
    fn set(v: &[String]) -> HashSet<&str> {
        v.iter().map(String::as_str).collect()
    }
    let (wa, wb) = (words(a), words(b));
    let (ta, tb) = (trigrams(&wa), trigrams(&wb));
    0.5 * (jaccard(&set(&wa), &set(&wb)) + jaccard(&set(&ta), &set(&tb)))
}

/// Features of one pair of records.
pub fn pair_features(
    a: &AnalyzedTitle,
    aa: &RecordAttrs,
    b: &AnalyzedTitle,
    ba: &RecordAttrs,
) -> [f64; N_FEATURES] {
    let (sa, sb) = (token_set(a), token_set(b));
    let (mut f, cover) = features_with_sets(a, aa, &sa, b, ba, &sb);
    alone(&mut f, cover.shared);
    f
}

/// Fills the columns that compare a pair with its query's other candidates as if it had none:
/// every token the two titles share (found either way, the fewer) is its alone, and no rival
/// covers more. Symmetric in the two titles.
fn alone(f: &mut [f64; N_FEATURES], shared: u32) {
    f[SOLE_COVER] = 1.0 - count_similarity(shared);
    f[RIVAL_COVER] = 1.0;
}

/// Features of one pair and its differing tokens (those in one title only, sorted), token sets
/// built once.
pub fn pair_row(
    a: &AnalyzedTitle,
    aa: &RecordAttrs,
    b: &AnalyzedTitle,
    ba: &RecordAttrs,
) -> ([f64; N_FEATURES], Vec<String>) {
    let (sa, sb) = (token_set(a), token_set(b));
    let (mut f, cover) = features_with_sets(a, aa, &sa, b, ba, &sb);
    alone(&mut f, cover.shared);
    (f, symmetric_difference(&sa, &sb))
}

/// The Fx hash: fast on short keys, and its iteration order (which orders sums of weights)
/// is the same in every run.
type Fx = BuildHasherDefault<crate::hash::FxHasher>;
/// A title's distinct tokens.
type TokenSet<'a> = HashSet<&'a str, Fx>;
/// A title's tokens with their IDF weights.
type TokenWeights<'a> = HashMap<&'a str, f64, Fx>;

fn token_set(a: &AnalyzedTitle) -> TokenSet<'_> {
    a.tokens.iter().map(String::as_str).collect()
}

fn features_with_sets<'a>(
    a: &'a AnalyzedTitle,
    aa: &RecordAttrs,
    sa: &TokenSet<'_>,
    b: &'a AnalyzedTitle,
    ba: &RecordAttrs,
    sb: &TokenSet<'_>,
) -> ([f64; N_FEATURES], TokenCover<'a>) {
    let mut f = [0.0; N_FEATURES];
    f[Feature::WordCosine as usize] = a.words.cosine(&b.words);
    f[Feature::CharCosine as usize] = a.chars.cosine(&b.chars);
    f[Feature::TokenJaccard as usize] = jaccard(sa, sb);
    f[Feature::TokenSortSimilarity as usize] = token_sort_similarity(&a.tokens, &b.tokens);
    let cover = TokenCover::of(a, sa, b, sb);
    let (wa, wb) = (token_weights(a), token_weights(b));
    let weight = |m: &TokenWeights<'_>| m.values().sum::<f64>();
    // Tokens in common, and a typo of one side's token with the other side's token (weighed as
    // the lighter of the two, so a misspelling's rarity does not count as agreement).
    let common: f64 = wa
        .iter()
        .filter(|(t, _)| wb.contains_key(*t))
        .map(|(_, w)| w)
        .sum::<f64>()
        + cover
            .typos
            .iter()
            .map(|(t, u)| wa[t].min(wb[u]))
            .sum::<f64>();
    let (ta, tb) = (weight(&wa), weight(&wb));
    f[Feature::RareTokenShare as usize] = if ta + tb - common > 0.0 {
        (common / (ta + tb - common)).min(1.0)
    } else {
        1.0
    };
    f[Feature::Containment as usize] = if ta.min(tb) > 0.0 {
        (common / ta.min(tb)).min(1.0)
    } else {
        f64::from(u8::from(ta == tb))
    };
    let (la, lb) = (a.tokens.len() as f64, b.tokens.len() as f64);
    f[Feature::LengthRatio as usize] = if la.max(lb) > 0.0 {
        la.min(lb) / la.max(lb)
    } else {
        1.0
    };
    if let Some(c) = compare_codes(&a.tokens, &b.tokens) {
        f[Feature::CodeAgreement as usize] = c.agreement;
        f[Feature::HasCodes as usize] = 1.0;
        f[Feature::CodeCover as usize] = count_similarity(c.conflicts);
    }
    let (mut na, mut nb) = (numeric_tokens(&a.tokens), numeric_tokens(&b.tokens));
    // A quantity one title writes together and the other apart is the same number on both.
    for &(whole, number) in &cover.split {
        for n in [&mut na, &mut nb] {
            if n.remove(number) {
                n.insert(whole);
            }
        }
    }
    if !na.is_empty() && !nb.is_empty() {
        f[Feature::NumberAgreement as usize] = jaccard(&na, &nb);
        f[Feature::HasNumbers as usize] = 1.0;
    }
    // Brand: the brand of one side appears among the other side's brand or title tokens,
    // allowing one typo (edit or transposition) in brand words of four letters or more.
    let brand_of = |x: &RecordAttrs, other_title: &TokenSet<'_>, other: &RecordAttrs| {
        !x.brand.is_empty()
            && x.brand.iter().all(|t| {
                other_title.contains(t.as_str())
                    || other.brand.contains(t)
                    || (t.chars().count() >= 4 && other_title.iter().any(|u| within_one_edit(t, u)))
            })
    };
    if !aa.brand.is_empty() || !ba.brand.is_empty() {
        f[Feature::HasBrand as usize] = 1.0;
        f[Feature::BrandAgreement as usize] =
            f64::from(u8::from(brand_of(aa, sb, ba) || brand_of(ba, sa, aa)));
    }
    if let (Some(ca), Some(cb)) = (&aa.category, &ba.category) {
        f[Feature::CategoryAgreement as usize] = f64::from(u8::from(ca == cb));
        f[Feature::HasCategory as usize] = 1.0;
    }
    if let Some(v) = price_similarity(aa, ba) {
        f[Feature::PriceSimilarity as usize] = v;
        f[Feature::HasPrice as usize] = 1.0;
    }
    if let (Some(ha), Some(hb)) = (aa.image_phash, ba.image_phash) {
        f[Feature::ImageSimilarity as usize] = crate::image::similarity(ha, hb);
        f[Feature::HasImage as usize] = 1.0;
    }
    f[Feature::CoverBetter as usize] = count_similarity(cover.a_missing.min(cover.b_missing));
    f[Feature::CoverWorse as usize] = count_similarity(cover.a_missing.max(cover.b_missing));
    (f, cover)
}

/// Which tokens of each of two titles the other title holds, exactly or with one typo.
struct TokenCover<'a> {
    /// Distinct tokens of `a` not found in `b`.
    a_missing: u32,
    /// Distinct tokens of `b` not found in `a`.
    b_missing: u32,
    /// Bit `i` set when the `i`-th distinct token of `a` (in title order, the first 64) is
    /// found in `b`.
    a_covered: u64,
    /// Distinct tokens of either title found in the other, the fewer of the two counts.
    shared: u32,
    /// Every token of `a` and token of `b` missing from the other title exactly that are one
    /// typo apart (the same pairs whichever title comes first).
    typos: Vec<(&'a str, &'a str)>,
    /// Quantities one title writes together and the other apart: the whole (`180x`) and the
    /// number the other title holds on its own (`180`).
    split: Vec<(&'a str, &'a str)>,
}

impl<'a> TokenCover<'a> {
    /// A token is found in the other title when the other holds it, or when both are words of
    /// four characters or more without digits that differ by one edit or transposition (a
    /// typo; numbers and codes must agree exactly, since `30` and `300` are other sizes).
    fn of(
        a: &'a AnalyzedTitle,
        sa: &TokenSet<'_>,
        b: &'a AnalyzedTitle,
        sb: &TokenSet<'_>,
    ) -> TokenCover<'a> {
        let typo_prone =
            |t: &str| t.chars().nth(3).is_some() && !t.chars().any(|c| c.is_ascii_digit());
        let (da, db): (Vec<&str>, Vec<&str>) = (distinct(&a.tokens), distinct(&b.tokens));
        // Tokens of one side missing from the other exactly: typos are looked for among them.
        let only_b: Vec<&str> = db.iter().copied().filter(|t| !sa.contains(t)).collect();
        let only_a: Vec<&str> = da.iter().copied().filter(|t| !sb.contains(t)).collect();
        // Typos are made in words as written: a word the lexicon rewrote is compared in each
        // of its spellings (`sekp` is a typo of `sekop`, which became `shovel`).
        let spellings = |t: &'a str| -> Vec<&'a str> {
            std::iter::once(t)
                .chain(Lexicon::other_spellings(t).iter().map(String::as_str))
                .filter(|w| typo_prone(w))
                .collect()
        };
        let a_spelt: Vec<Vec<&str>> = only_a.iter().map(|t| spellings(t)).collect();
        let b_spelt: Vec<Vec<&str>> = only_b.iter().map(|t| spellings(t)).collect();
        let apart = |mine: &[&str], theirs: &[&str]| {
            theirs
                .iter()
                .any(|u| mine.iter().any(|w| within_one_edit(w, u)))
        };
        let typos: Vec<(&str, &str)> = only_a
            .iter()
            .zip(&a_spelt)
            .flat_map(|(&t, tw)| {
                only_b
                    .iter()
                    .zip(&b_spelt)
                    .filter(move |(_, uw)| apart(tw, uw))
                    .map(move |(&u, _)| (t, u))
            })
            .collect();
        // A quantity one title writes together (`2,1 meter`: `210cm`) and the other apart,
        // its number and unit moved away from each other (`2,1 tripod stand meter`).
        let split_a = split_quantities(&only_a, &only_b);
        let split_b = split_quantities(&only_b, &only_a);
        // A count one title gives (`2pcs`) and the other gives as its bare number (`2`).
        let same_count =
            |x: &str, y: &str| count_number(x) == Some(y) || count_number(y) == Some(x);
        let found_in_b = |t: &str| {
            sb.contains(t)
                || typos.iter().any(|&(x, _)| x == t)
                || split_a.iter().any(|q| q.whole == t)
                || split_b.iter().any(|q| q.number == t || q.unit == t)
                || only_b.iter().any(|u| same_count(t, u))
        };
        let found_in_a = |u: &str| {
            typos.iter().any(|&(_, y)| y == u)
                || split_b.iter().any(|q| q.whole == u)
                || split_a.iter().any(|q| q.number == u || q.unit == u)
                || only_a.iter().any(|t| same_count(t, u))
        };
        // A typo of a word both titles hold: one title repeats the word, misspelt (`lihgt ring
        // ... light` for `ring light ... light`). Looked for only among the tokens not found
        // otherwise, from their spellings above, with the shared words' spellings listed once.
        let mut shared: Option<Vec<Vec<&str>>> = None;
        let mut typo_of_shared = |mine: &[&str]| {
            let shared = shared.get_or_insert_with(|| {
                da.iter()
                    .filter(|t| sb.contains(*t))
                    .map(|t| spellings(t))
                    .collect()
            });
            !mine.is_empty() && shared.iter().any(|s| apart(mine, s))
        };
        let mut a_covered = 0u64;
        let mut a_missing = 0;
        // `only_a` is `da` without the tokens `b` holds, in the same order.
        let mut a_spellings = a_spelt.iter();
        for (i, &t) in da.iter().enumerate() {
            let found = sb.contains(t) || {
                let mine = a_spellings
                    .next()
                    .expect("one spelling list per token of only_a");
                found_in_b(t) || typo_of_shared(mine)
            };
            if found && i < 64 {
                a_covered |= 1 << i;
            }
            a_missing += u32::from(!found);
        }
        let b_missing = only_b
            .iter()
            .zip(&b_spelt)
            .filter(|&(&u, mine)| !found_in_a(u) && !typo_of_shared(mine))
            .count() as u32;
        let a_found = da.len() as u32 - a_missing;
        let b_found = db.len() as u32 - b_missing;
        TokenCover {
            a_missing,
            b_missing,
            a_covered,
            shared: a_found.min(b_found),
            typos,
            split: split_a
                .iter()
                .chain(&split_b)
                .map(|q| (q.whole, q.number))
                .collect(),
        }
    }
}

/// A quantity or pack token of one title (`whole`, as `210cm` or `180x`) whose number and unit
/// the other title holds as separate tokens.
struct SplitQuantity<'a> {
    whole: &'a str,
    number: &'a str,
    unit: &'a str,
}

/// The quantity tokens of `mine` that `theirs` writes apart (see [`SplitQuantity`]).
fn split_quantities<'a>(mine: &[&'a str], theirs: &[&'a str]) -> Vec<SplitQuantity<'a>> {
    let numbers: Vec<&str> = theirs
        .iter()
        .copied()
        .filter(|t| token_kind(t) == TokenKind::Number)
        .collect();
    if numbers.is_empty() {
        return Vec::new();
    }
    // A pack count (`180x`) is a number and an `x`.
    let joined = |number: &str, unit: &str| {
        if unit == "x" {
            Some(format!("{number}x"))
        } else {
            crate::matching::text::quantity(number, unit)
        }
    };
    mine.iter()
        .filter(|t| token_kind(t) != TokenKind::Word)
        .filter_map(|&whole| {
            numbers.iter().find_map(|&number| {
                theirs
                    .iter()
                    .find(|&&unit| joined(number, unit).as_deref() == Some(whole))
                    .map(|&unit| SplitQuantity {
                        whole,
                        number,
                        unit,
                    })
            })
        })
        .collect()
}

/// The distinct tokens of a title, in order of first appearance.
fn distinct(tokens: &[String]) -> Vec<&str> {
    let mut seen = TokenSet::default();
    tokens
        .iter()
        .map(String::as_str)
        .filter(|t| seen.insert(t))
        .collect()
}

/// One pair scored: its feature row, its differing tokens (empty when not kept) and the
/// query tokens it covers (see [`TokenCover`]).
struct Scored {
    row: [f64; N_FEATURES],
    differing: Vec<String>,
    covered: u64,
}

impl Scored {
    fn of(
        a: &AnalyzedTitle,
        aa: &RecordAttrs,
        b: &AnalyzedTitle,
        ba: &RecordAttrs,
        tokens: bool,
    ) -> Scored {
        let (sa, sb) = (token_set(a), token_set(b));
        let (row, cover) = features_with_sets(a, aa, &sa, b, ba, &sb);
        Scored {
            row,
            differing: if tokens {
                symmetric_difference(&sa, &sb)
            } else {
                Vec::new()
            },
            covered: cover.a_covered,
        }
    }
}

/// Fills [`SOLE_COVER`] and [`RIVAL_COVER`] of `scored[i]` for each `i` of `members`, the
/// candidates of one query, from the query tokens each covers: the tokens a candidate covers
/// and no other candidate does (the query's details that single it out), and the tokens it
/// misses that another candidate covers.
fn compare_candidates(scored: &mut [Scored], members: impl Iterator<Item = usize> + Clone) {
    for i in members.clone() {
        let others = members
            .clone()
            .filter(|&j| j != i)
            .fold(0u64, |acc, j| acc | scored[j].covered);
        let mine = scored[i].covered;
        scored[i].row[SOLE_COVER] = 1.0 - count_similarity((mine & !others).count_ones());
        scored[i].row[RIVAL_COVER] = count_similarity((!mine & others).count_ones());
    }
}

/// Features of aligned pairs (pair `i` is `left.titles[i]` with `right.titles[i]`) and each
/// pair's differing tokens, where the pairs of one `group` (the same left record, in any
/// order) are that record's candidates and are compared with each other as the detector
/// compares a listing's candidates (`append_features`). Computed in parallel.
pub fn grouped_pair_features(left: Side<'_>, right: Side<'_>, group: &[usize]) -> PairFeatures {
    let mut scored: Vec<Scored> = (0..group.len())
        .into_par_iter()
        .map(|i| {
            Scored::of(
                &left.titles[i],
                &left.attrs[i],
                &right.titles[i],
                &right.attrs[i],
                true,
            )
        })
        .collect();
    let mut members: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, &g) in group.iter().enumerate() {
        members.entry(g).or_default().push(i);
    }
    for m in members.values() {
        compare_candidates(&mut scored, m.iter().copied());
    }
    PairFeatures::from_rows(scored.into_iter().map(|s| (s.row, s.differing)).collect())
}

fn symmetric_difference(sa: &TokenSet<'_>, sb: &TokenSet<'_>) -> Vec<String> {
    let mut d: Vec<String> = sa
        .symmetric_difference(sb)
        .map(|t| (*t).to_string())
        .collect();
    d.sort_unstable();
    d
}

fn token_weights(a: &AnalyzedTitle) -> TokenWeights<'_> {
    a.tokens
        .iter()
        .zip(&a.weights)
        .map(|(t, &w)| (t.as_str(), f64::from(w)))
        .collect()
}

/// How the model codes of two titles compare (tokens mixing letters and digits, such as
/// `dscw120p`, `ct522`, `cs3`), or `None` when neither title has one; the codes and the
/// titles written together are found once for both measures.
///
/// `agreement`: 1.0 when a code of one side appears in the other (as a token, or inside its
/// tokens written together, so `dsc w120` holds `dscw120`); 0.5 when two codes differ only
/// after a shared stem of at least four characters, at most one character longer (`dscw120p`
/// and `dscw120b`: colour variants); 0.0 otherwise.
///
/// `conflicts`: the codes of each title that the other does not hold, counted for the title
/// with fewer: 0 when one title's codes are all in the other, however many the other adds (a
/// part number, an EAN), and 1 or more when each title has a code of its own, as two variants
/// or two products that share a platform code (`ddr4`, a processor model) do while their part
/// numbers differ.
fn compare_codes(a: &[String], b: &[String]) -> Option<CodeComparison> {
    let (ca, cb) = (model_codes(a), model_codes(b));
    if ca.is_empty() && cb.is_empty() {
        return None;
    }
    let (ja, jb) = (a.concat(), b.concat());
    let missing = |codes: &[&str], other: &[String], joined: &str| {
        let mut codes = codes.to_vec();
        codes.sort_unstable();
        codes.dedup();
        codes
            .iter()
            .filter(|c| !holds_code(c, other, joined))
            .count() as u32
    };
    let conflicts = missing(&ca, b, &jb).min(missing(&cb, a, &ja));
    let found = |codes: &[&str], other: &[String], joined: &str| {
        codes.iter().any(|c| holds_code(c, other, joined))
    };
    let agreement = if found(&ca, b, &jb) || found(&cb, a, &ja) {
        1.0
    } else {
        let variant = ca.iter().any(|x| {
            cb.iter().any(|y| {
                let x: Vec<char> = x.chars().collect();
                let y: Vec<char> = y.chars().collect();
                let stem = x.iter().zip(&y).take_while(|(p, q)| p == q).count();
                stem >= 4 && x.len().max(y.len()) <= stem + 1
            })
        });
        if variant {
            0.5
        } else {
            0.0
        }
    };
    Some(CodeComparison {
        agreement,
        conflicts,
    })
}

/// [`compare_codes`]'s two measures.
struct CodeComparison {
    agreement: f64,
    conflicts: u32,
}

/// Model codes of a title: tokens mixing letters and digits, of three characters or more.
fn model_codes(t: &[String]) -> Vec<&str> {
    t.iter()
        .filter(|x| token_kind(x) == TokenKind::ModelCode && x.chars().count() >= 3)
        .map(String::as_str)
        .collect()
}

/// Whether `other` (tokens, and `joined`, the same tokens written together) holds `code`.
fn holds_code(code: &str, other: &[String], joined: &str) -> bool {
    other.iter().any(|t| t == code) || (code.chars().count() >= 4 && joined.contains(code))
}

#[cfg(test)]
fn code_agreement(a: &[String], b: &[String]) -> Option<f64> {
    compare_codes(a, b).map(|c| c.agreement)
}

#[cfg(test)]
fn code_conflicts(a: &[String], b: &[String]) -> u32 {
    compare_codes(a, b).map_or(0, |c| c.conflicts)
}

/// Similarity of the two token lists sorted and joined, so word order does not count:
/// [`indel_similarity`] of the joined strings.
pub fn token_sort_similarity(a: &[String], b: &[String]) -> f64 {
    let sorted = |t: &[String]| {
        let mut v: Vec<&str> = t.iter().map(String::as_str).collect();
        v.sort_unstable();
        v.join(" ")
    };
    indel_similarity(&sorted(a), &sorted(b))
}

/// Normalised indel similarity `2 * LCS / (|a| + |b|)` over characters (the edit ratio of
/// insertions and deletions), in [0, 1]; two empty strings are identical. Texts are cut at
/// `MAX_EDIT_CHARS`. The longest common subsequence is computed bit-parallel, 64
/// characters of `a` per machine word (Hyyrö, "Bit-parallel LCS-length computation
/// revisited", AWOCA 2004), so a pair costs `|b| * ceil(|a| / 64)` word operations.
///
/// ```
/// use crossleak::matching::features::indel_similarity;
/// assert_eq!(indel_similarity("abc", "abc"), 1.0);
/// assert_eq!(indel_similarity("", ""), 1.0);
/// assert_eq!(indel_similarity("abc", ""), 0.0);
/// assert!((indel_similarity("kitten", "sitting") - 8.0 / 13.0).abs() < 1e-12);
/// ```
pub fn indel_similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().take(MAX_EDIT_CHARS).collect();
    let b: Vec<char> = b.chars().take(MAX_EDIT_CHARS).collect();
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (a, b) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    2.0 * lcs_len(&a, &b) as f64 / (a.len() + b.len()) as f64
}

fn lcs_len(a: &[char], b: &[char]) -> usize {
    let blocks = a.len().div_ceil(64);
    let mut slot: HashMap<char, usize, Fx> = HashMap::default();
    let mut masks: Vec<u64> = Vec::new();
    for (i, c) in a.iter().enumerate() {
        let s = *slot.entry(*c).or_insert_with(|| {
            masks.extend(std::iter::repeat_n(0, blocks));
            masks.len() / blocks - 1
        });
        masks[s * blocks + i / 64] |= 1 << (i % 64);
    }
    let mut v = vec![!0u64; blocks];
    for c in b {
        let Some(&s) = slot.get(c) else { continue };
        let m = &masks[s * blocks..(s + 1) * blocks];
        let mut carry = false;
        for (vk, &mk) in v.iter_mut().zip(m) {
            let u = *vk & mk;
            let (sum, c1) = vk.overflowing_add(u);
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            carry = c1 || c2;
            *vk = sum | (*vk & !mk);
        }
    }
    let tail = a.len() % 64;
    v.iter()
        .enumerate()
        .map(|(k, &w)| {
            let valid = if k + 1 == blocks && tail != 0 {
                (1u64 << tail) - 1
            } else {
                !0
            };
            (!w & valid).count_ones() as usize
        })
        .sum()
}

/// True when `a` and `b` differ by at most one insertion, deletion, substitution or
/// transposition of adjacent characters (optimal string alignment distance <= 1).
pub(crate) fn within_one_edit(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return one_edit(a.as_bytes(), b.as_bytes());
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    one_edit(&a, &b)
}

/// [`within_one_edit`] on letters (bytes of ASCII words, or chars).
fn one_edit<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short
        .iter()
        .zip(long.iter())
        .take_while(|(x, y)| x == y)
        .count();
    if prefix == short.len() {
        return true;
    }
    if short.len() == long.len() {
        let i = prefix;
        // Substitution, or transposition of i and i + 1.
        short[i + 1..] == long[i + 1..]
            || (i + 1 < short.len()
                && short[i] == long[i + 1]
                && short[i + 1] == long[i]
                && short[i + 2..] == long[i + 2..])
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}

/// The numbers and quantities of a title. A count (`2pcs`, from `2 pcs` or `2 buah`) is its
/// bare number: `paket 2` and `paket 2 pcs` say the same.
fn numeric_tokens(tokens: &[String]) -> TokenSet<'_> {
    tokens
        .iter()
        .filter(|t| matches!(token_kind(t), TokenKind::Number | TokenKind::Quantity))
        .map(|t| count_number(t).unwrap_or(t))
        .collect()
}

/// The number of a count token (`2` of `2pcs`, written `2 pcs` or `2 buah`), if it is one.
fn count_number(t: &str) -> Option<&str> {
    t.strip_suffix("pcs")
        .filter(|n| token_kind(n) == TokenKind::Number)
}

/// Jaccard similarity of two sets; two empty sets are identical (1.0).
///
/// ```
/// use std::collections::HashSet;
/// use crossleak::matching::features::jaccard;
/// let a: HashSet<&str> = ["a", "b"].into();
/// let b: HashSet<&str> = ["b", "c"].into();
/// assert!((jaccard(&a, &b) - 1.0 / 3.0).abs() < 1e-12);
/// assert_eq!(jaccard(&HashSet::<&str>::new(), &HashSet::new()), 1.0);
/// ```
pub fn jaccard<S: BuildHasher>(a: &HashSet<&str, S>, b: &HashSet<&str, S>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let inter = a.intersection(b).count() as f64;
    inter / ((a.len() + b.len()) as f64 - inter)
}

/// Features of candidate pairs (query side = foreign listings, target side = home products),
/// one row per pair in input order, computed in parallel.
pub fn feature_matrix(
    pairs: &[CandidatePair],
    queries: Side<'_>,
    targets: Side<'_>,
) -> PairFeatures {
    let mut out = PairFeatures::default();
    append_features(&mut out, pairs, queries, targets, true);
    out
}

/// Appends the features of `pairs` to `out`, computed in parallel. `tokens`: also keep each
/// pair's differing tokens (only a logistic model with token terms reads them; without, each
/// pair gets an empty list). Lets a caller build one matrix from chunks of queries without
/// holding more than one chunk's analysed titles.
pub(crate) fn append_features(
    out: &mut PairFeatures,
    pairs: &[CandidatePair],
    queries: Side<'_>,
    targets: Side<'_>,
    tokens: bool,
) {
    let mut scored: Vec<Scored> = pairs
        .par_iter()
        .map(|p| {
            Scored::of(
                &queries.titles[p.query],
                &queries.attrs[p.query],
                &targets.titles[p.target],
                &targets.attrs[p.target],
                tokens,
            )
        })
        .collect();
    // Each query's candidates compared with each other.
    for run in query_runs(pairs) {
        compare_candidates(&mut scored, run);
    }
    let x = std::mem::take(&mut out.x);
    let x = if x.is_standard_layout() {
        x
    } else {
        x.as_standard_layout().into_owned()
    };
    let mut flat = if x.is_empty() {
        Vec::new()
    } else {
        x.into_raw_vec_and_offset().0
    };
    flat.reserve(scored.len() * N_FEATURES);
    for s in scored {
        flat.extend_from_slice(&s.row);
        out.differing.push(s.differing);
    }
    let n = flat.len() / N_FEATURES;
    out.x = Array2::from_shape_vec((n, N_FEATURES), flat)
        .expect("a whole number of rows of N_FEATURES columns");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::index::TfIdf;

    #[test]
    fn features_are_named_in_column_order() {
        for (i, f) in Feature::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
            assert_eq!(Feature::from_name(f.name()), Some(*f));
        }
        assert_eq!(Feature::CodeAgreement.name(), "code_agreement");
        assert_eq!(Feature::from_name("no_such_feature"), None);
    }

    /// The titles analysed by a TF-IDF model fitted on them, and a feature getter by name.
    fn analysed(titles: &[&str]) -> Vec<AnalyzedTitle> {
        let titles: Vec<String> = titles.iter().map(|t| t.to_string()).collect();
        let model = TfIdf::fit(&titles, Normalizer::default(), 3);
        titles.iter().map(|x| model.analyze(x)).collect()
    }

    fn get(f: &[f64; N_FEATURES], name: &str) -> f64 {
        f[feature_index(name).unwrap()]
    }

    #[test]
    fn a_misspelt_repeat_of_a_shared_word_is_found() {
        let t = analysed(&[
            "LIHGT RING LED 33CM TRIPOD VLOGER LIGHT MAKE",
            "RING LIGHT LED 33CM TRIPOD VLOGER MAKE Light",
            "Kabel Roll 30 meter 300",
            "Kabel Roll 30 meter",
            "Kabel Roll 30 meter Lite",
            "Kabel Roll 30 meter Kabel",
        ]);
        let none = RecordAttrs::default();
        let cover = |i: usize, j: usize| {
            let f = pair_features(&t[i], &none, &t[j], &none);
            (get(&f, "cover_better"), get(&f, "cover_worse"))
        };
        // `lihgt` is a typo of `light`, which both titles hold.
        assert_eq!(cover(0, 1), (1.0, 1.0));
        // Numbers are never typos (`300` is not `30`), and another word stays missing.
        assert_eq!(cover(2, 3), (1.0, 0.5));
        assert_eq!(cover(4, 3), (1.0, 0.5));
        // An exact repeat is found as before.
        assert_eq!(cover(5, 3), (1.0, 1.0));
    }

    #[test]
    fn a_count_agrees_with_its_bare_number() {
        let t = analysed(&[
            "Busa Peredam Suara Hitam Paket 2 pcs",
            "BUSA PEREDAM SUARA HITAM PAKET 2",
            "Busa Peredam Suara Hitam Paket 3",
            "Busa Peredam Suara Hitam 2 kg",
        ]);
        let none = RecordAttrs::default();
        let f = pair_features(&t[0], &none, &t[1], &none);
        assert_eq!(
            (get(&f, "has_numbers"), get(&f, "number_agreement")),
            (1.0, 1.0)
        );
        // Each title holds the other's tokens: the count covers the bare number.
        assert_eq!(
            (get(&f, "cover_better"), get(&f, "cover_worse")),
            (1.0, 1.0)
        );
        let f = pair_features(&t[0], &none, &t[2], &none);
        assert_eq!(get(&f, "number_agreement"), 0.0);
        assert_eq!(get(&f, "cover_worse"), 0.5);
        // Two kilograms are not two pieces.
        let f = pair_features(&t[0], &none, &t[3], &none);
        assert_eq!(get(&f, "number_agreement"), 0.0);
        assert_eq!(get(&f, "cover_better"), 0.5);
    }

    #[test]
    fn code_cover_tells_another_offer_from_another_product_sharing_a_code() {
        let t = analysed(&[
            "Lenovo ThinkServer TD350 Xeon E5-2620V4 16 GB 70DG007QUX",
            "Lenovo ThinkServer TD350 Xeon E5-2620V4 16 GB 70DG006QUX",
            "Lenovo TD350 Xeon E5-2620V4 70DG007QUX tower server EAN 0889955475631 SKU LN12345",
            "Lenovo ThinkServer tower 16 GB",
        ]);
        let none = RecordAttrs::default();
        // Both hold the processor code, so codes "agree"; each has a part number of its own.
        let f = pair_features(&t[0], &none, &t[1], &none);
        assert_eq!(get(&f, "code_agreement"), 1.0);
        assert_eq!(get(&f, "code_cover"), 0.5);
        // Another offer of the product adds a shop code; the other title's codes are all in it.
        let f = pair_features(&t[2], &none, &t[0], &none);
        assert_eq!(get(&f, "code_cover"), 1.0);
        // Codes on one side only: nothing conflicts.
        let f = pair_features(&t[3], &none, &t[0], &none);
        assert_eq!((get(&f, "has_codes"), get(&f, "code_cover")), (1.0, 1.0));
        // No codes at all: absent.
        let f = pair_features(&t[3], &none, &t[3], &none);
        assert_eq!((get(&f, "has_codes"), get(&f, "code_cover")), (0.0, 0.0));
    }

    #[test]
    fn a_quantity_written_apart_is_found_by_its_parts() {
        let t = analysed(&[
            "Whiteboard gantung 180 x 120 cm",
            "WHITEBOARD 180 GANTUNG X 120 CM",
            "Whiteboard gantung 90 x 120 cm",
            "TRIPOD 2,1 METER Stand",
            "2,1 TRIPOD Stand METER",
        ]);
        let none = RecordAttrs::default();
        // `180 x` is the one token `180x` written together, `180` and `x` apart.
        let f = pair_features(&t[1], &none, &t[0], &none);
        assert_eq!(get(&f, "cover_worse"), 1.0);
        assert_eq!(get(&f, "number_agreement"), 1.0);
        // Another size is not its parts.
        let f = pair_features(&t[1], &none, &t[2], &none);
        assert!(get(&f, "number_agreement") < 0.5);
        // `2,1 meter` is `210cm` together; apart, its number and unit.
        let f = pair_features(&t[4], &none, &t[3], &none);
        assert_eq!(get(&f, "cover_worse"), 1.0);
        assert_eq!(get(&f, "number_agreement"), 1.0);
    }

    #[test]
    fn token_cover_tolerates_typos_not_other_sizes_and_singles_out_the_variant() {
        let t = analysed(&[
            "Jaket Bomber Zeta Hitam XL",
            "Jaket Bomber Zeta Putih XL",
            "Jaket Bomber Zeta Hitam M",
            "jaket bobmer zeta hitam xl",
            "Botol Minum 500ml",
            "Botol Minum 600ml",
        ]);
        let none = RecordAttrs::default();
        // A transposition typo is found; nothing is missing on either side. (Typos are looked
        // for after the lexicon: a misspelt lexicon word such as `polso` is not `plain`.)
        let f = pair_features(&t[3], &none, &t[0], &none);
        assert_eq!(get(&f, "cover_better"), 1.0);
        assert_eq!(get(&f, "cover_worse"), 1.0);
        // Another colour: one token missing on each side.
        let f = pair_features(&t[3], &none, &t[1], &none);
        assert_eq!(get(&f, "cover_worse"), 0.5);
        // Sizes are not typos of each other.
        let f = pair_features(&t[4], &none, &t[5], &none);
        assert_eq!(get(&f, "cover_better"), 0.5);
        // Among the three variants, the copy's own product alone covers nothing the others
        // do not (each detail is shared with one sibling), but misses nothing a rival covers;
        // each sibling misses a detail that a rival covers.
        let pairs: Vec<CandidatePair> = (0..3)
            .map(|target| CandidatePair {
                query: 0,
                target,
                score: 0.5,
            })
            .collect();
        let attrs = vec![none.clone(); 6];
        let x = feature_matrix(
            &pairs,
            Side {
                titles: &t[3..4],
                attrs: &attrs[..1],
            },
            Side {
                titles: &t[..3],
                attrs: &attrs[..3],
            },
        )
        .x;
        let (sole, rival) = (
            feature_index("sole_cover").unwrap(),
            feature_index("rival_cover").unwrap(),
        );
        assert_eq!(x[[0, rival]], 1.0);
        assert_eq!(x[[1, rival]], 0.5);
        assert_eq!(x[[2, rival]], 0.5);
        assert_eq!(x[[0, sole]], 0.0);
        // Scored alone, a pair's rival cover is 1 and its sole cover counts what it covers.
        let f = pair_features(&t[3], &none, &t[1], &none);
        assert_eq!(get(&f, "rival_cover"), 1.0);
        assert!(get(&f, "sole_cover") > 0.7);
    }

    #[test]
    fn identical_records_score_one_and_missing_is_explicit() {
        let titles = vec!["Sepatu Lari Pria 42".to_string(), "Kopi 200gr".to_string()];
        let model = TfIdf::fit(&titles, Normalizer::default(), 3);
        let a = model.analyze(&titles[0]);
        let n = Normalizer::default();
        let attrs = RecordAttrs::new(&n, None, Some("Sport"), Some(100.0), Some("IDR"), None);
        let f = pair_features(&a, &attrs, &a, &attrs);
        for name in [
            "word_cosine",
            "char_cosine",
            "token_jaccard",
            "length_ratio",
            "number_agreement",
            "category_agreement",
            "price_similarity",
        ] {
            let v = f[feature_index(name).unwrap()];
            assert!((v - 1.0).abs() < 1e-6, "{name} = {v}");
        }
        assert_eq!(f[feature_index("has_brand").unwrap()], 0.0);
        assert_eq!(f[feature_index("has_image").unwrap()], 0.0);
        let b = model.analyze(&titles[1]);
        let g = pair_features(&a, &attrs, &b, &RecordAttrs::default());
        assert!(g.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(g[feature_index("has_price").unwrap()], 0.0);
        assert_eq!(g[feature_index("number_agreement").unwrap()], 0.0);
        assert_eq!(g[feature_index("has_numbers").unwrap()], 1.0);
    }

    #[test]
    fn code_agreement_examples() {
        let t = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            code_agreement(&t("sony dscw120p pink"), &t("sony dsc w120p")),
            Some(1.0)
        );
        assert_eq!(
            code_agreement(&t("sony dscw120p"), &t("sony dscw120b")),
            Some(0.5)
        );
        assert_eq!(
            code_agreement(&t("sony dscw120p"), &t("sony dscw150")),
            Some(0.0)
        );
        assert_eq!(code_agreement(&t("pink camera"), &t("camera")), None);
    }

    #[test]
    fn within_one_edit_examples() {
        assert!(within_one_edit("oxone", "oxnoe"));
        assert!(within_one_edit("oxone", "oxon"));
        assert!(!within_one_edit("oxone", "xoneo"));
        assert!(within_one_edit("", "a") && !within_one_edit("", "ab"));
    }

    #[test]
    fn code_conflicts_examples() {
        let t = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            code_conflicts(&t("hyperx ddr4 hx426c15fb"), &t("hyperx ddr4 hx424c15fb")),
            1
        );
        assert_eq!(
            code_conflicts(&t("wd10efrx sata3"), &t("wd wd10efrx 718037599820")),
            0
        );
        assert_eq!(code_conflicts(&t("pink camera"), &t("camera")), 0);
    }
}
