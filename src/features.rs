//! Similarity features of candidate pairs, one `ndarray` row per pair.
//!
//! Every similarity is in [0, 1] with 1.0 meaning identical. Optional attributes (brand,
//! category, price, image hash, numbers) are represented explicitly: each has a value column and
//! a `has_*` column that is 1.0 when both sides carry the attribute and 0.0 when not; a missing
//! value is 0.0 and never read as disagreement.

use std::collections::HashSet;

use ndarray::Array2;
use rayon::prelude::*;

use crate::index::{AnalyzedTitle, CandidatePair};
use crate::text::{token_kind, Normalizer, TokenKind};

/// Names of the feature columns, in order.
pub const FEATURE_NAMES: [&str; 14] = [
    "word_cosine",
    "char_cosine",
    "token_jaccard",
    "length_ratio",
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
];

/// Number of feature columns.
pub const N_FEATURES: usize = FEATURE_NAMES.len();

/// Index of a feature column by name.
pub fn feature_index(name: &str) -> Option<usize> {
    FEATURE_NAMES.iter().position(|n| *n == name)
}

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
            price: price.filter(|p| p.is_finite() && *p > 0.0),
            currency: currency
                .map(|c| c.trim().to_ascii_uppercase())
                .filter(|c| !c.is_empty()),
            image_phash,
        }
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

/// Features of one pair of records.
pub fn pair_features(
    a: &AnalyzedTitle,
    aa: &RecordAttrs,
    b: &AnalyzedTitle,
    ba: &RecordAttrs,
) -> [f64; N_FEATURES] {
    let mut f = [0.0; N_FEATURES];
    f[0] = a.words.cosine(&b.words);
    f[1] = a.chars.cosine(&b.chars);
    let sa: HashSet<&str> = a.tokens.iter().map(String::as_str).collect();
    let sb: HashSet<&str> = b.tokens.iter().map(String::as_str).collect();
    f[2] = jaccard(&sa, &sb);
    let (la, lb) = (a.tokens.len() as f64, b.tokens.len() as f64);
    f[3] = if la.max(lb) > 0.0 {
        la.min(lb) / la.max(lb)
    } else {
        1.0
    };
    let na = numeric_tokens(&a.tokens);
    let nb = numeric_tokens(&b.tokens);
    if !na.is_empty() && !nb.is_empty() {
        f[4] = jaccard(&na, &nb);
        f[5] = 1.0;
    }
    // Brand: the brand of one side appears among the other side's brand or title tokens,
    // allowing one typo (edit or transposition) in brand words of four letters or more.
    let brand_of = |x: &RecordAttrs, other_title: &HashSet<&str>, other: &RecordAttrs| {
        !x.brand.is_empty()
            && x.brand.iter().all(|t| {
                other_title.contains(t.as_str())
                    || other.brand.contains(t)
                    || (t.chars().count() >= 4 && other_title.iter().any(|u| within_one_edit(t, u)))
            })
    };
    if !aa.brand.is_empty() || !ba.brand.is_empty() {
        f[7] = 1.0;
        f[6] = f64::from(u8::from(brand_of(aa, &sb, ba) || brand_of(ba, &sa, aa)));
    }
    if let (Some(ca), Some(cb)) = (&aa.category, &ba.category) {
        f[8] = f64::from(u8::from(ca == cb));
        f[9] = 1.0;
    }
    // Prices in different currencies are not comparable without rates: treated as missing.
    if let (Some(pa), Some(pb), true) = (aa.price, ba.price, aa.currency == ba.currency) {
        // exp(-|ln(pa/pb)|) = min/max, in (0, 1].
        f[10] = pa.min(pb) / pa.max(pb);
        f[11] = 1.0;
    }
    if let (Some(ha), Some(hb)) = (aa.image_phash, ba.image_phash) {
        f[12] = 1.0 - f64::from((ha ^ hb).count_ones()) / 64.0;
        f[13] = 1.0;
    }
    f
}

/// True when `a` and `b` differ by at most one insertion, deletion, substitution or
/// transposition of adjacent characters (optimal string alignment distance <= 1).
///
/// ```
/// use crossleak::features::within_one_edit;
/// assert!(within_one_edit("oxone", "oxnoe"));
/// assert!(within_one_edit("oxone", "oxon"));
/// assert!(!within_one_edit("oxone", "xoneo"));
/// assert!(within_one_edit("", "a") && !within_one_edit("", "ab"));
/// ```
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
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

fn numeric_tokens(tokens: &[String]) -> HashSet<&str> {
    tokens
        .iter()
        .filter(|t| token_kind(t) != TokenKind::Word)
        .map(String::as_str)
        .collect()
}

/// Jaccard similarity of two sets; two empty sets are identical (1.0).
///
/// ```
/// use std::collections::HashSet;
/// use crossleak::features::jaccard;
/// let a: HashSet<&str> = ["a", "b"].into();
/// let b: HashSet<&str> = ["b", "c"].into();
/// assert!((jaccard(&a, &b) - 1.0 / 3.0).abs() < 1e-12);
/// assert_eq!(jaccard(&HashSet::<&str>::new(), &HashSet::new()), 1.0);
/// ```
pub fn jaccard(a: &HashSet<&str>, b: &HashSet<&str>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let inter = a.intersection(b).count() as f64;
    inter / ((a.len() + b.len()) as f64 - inter)
}

/// Feature matrix of candidate pairs (query side = foreign listings, target side = home
/// products), one row per pair in input order, computed in parallel.
pub fn feature_matrix(
    pairs: &[CandidatePair],
    queries: Side<'_>,
    targets: Side<'_>,
) -> Array2<f64> {
    let rows: Vec<[f64; N_FEATURES]> = pairs
        .par_iter()
        .map(|p| {
            pair_features(
                &queries.titles[p.query],
                &queries.attrs[p.query],
                &targets.titles[p.target],
                &targets.attrs[p.target],
            )
        })
        .collect();
    let mut m = Array2::zeros((rows.len(), N_FEATURES));
    for (i, r) in rows.iter().enumerate() {
        for (j, v) in r.iter().enumerate() {
            m[[i, j]] = *v;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::TfIdf;

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
}
