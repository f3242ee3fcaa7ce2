//! Records, labelled pairs and whole catalogs in the layouts of the public entity-matching
//! benchmarks, and the features of their pairs.
//!
//! A pair file has, for every attribute `a`, columns `left_a` and `right_a`, and a `label`
//! column of 0/1 (the DeepMatcher layout; an id column such as `pair_id` is ignored). A
//! catalog has an `id` column and the attributes. Attributes take roles by name, whatever else
//! the file holds: the title is `title` or `name` (else the first attribute), the brand
//! `brand` or `manufacturer`, the price `price`, the category `category`; `description` and
//! any other attribute are kept but not used for matching (the roles are reported).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::eval::Scores;
use crate::features::{differing_tokens, pair_features, PairFeatures, RecordAttrs};
use crate::index::{AnalyzedTitle, TfIdf};
use crate::ingest::{read_text_table, text_column};
use crate::text::Normalizer;
use crate::{Error, Result};

/// One record of a benchmark file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// Title (empty when the file has none for this record).
    pub title: String,
    /// Brand or manufacturer.
    pub brand: Option<String>,
    /// Price, when it parses as a positive number.
    pub price: Option<f64>,
    /// Category.
    pub category: Option<String>,
}

/// Which attribute of a file plays which role.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Roles {
    /// Attribute used as the title.
    pub title: String,
    /// Attribute used as the brand.
    pub brand: Option<String>,
    /// Attribute used as the price.
    pub price: Option<String>,
    /// Attribute used as the category.
    pub category: Option<String>,
    /// Attributes present but not used for matching.
    pub unused: Vec<String>,
}

impl Roles {
    /// Assigns roles to attribute names (see the module documentation).
    pub fn of(attributes: &[String]) -> Roles {
        let find = |names: &[&str]| {
            attributes
                .iter()
                .find(|a| names.contains(&a.to_ascii_lowercase().as_str()))
                .cloned()
        };
        let title = find(&["title", "name"])
            .or_else(|| attributes.first().cloned())
            .unwrap_or_default();
        let brand = find(&["brand", "manufacturer"]);
        let price = find(&["price"]);
        let category = find(&["category"]);
        let used: Vec<&String> = [Some(&title), brand.as_ref(), price.as_ref(), category.as_ref()]
            .into_iter()
            .flatten()
            .collect();
        let unused = attributes
            .iter()
            .filter(|a| !used.contains(a))
            .cloned()
            .collect();
        Roles {
            title,
            brand,
            price,
            category,
            unused,
        }
    }
}

/// Labelled pairs read from one file.
#[derive(Clone, Debug, Default)]
pub struct LabeledPairs {
    /// The file.
    pub path: PathBuf,
    /// Attribute roles.
    pub roles: Roles,
    /// Left records, one per pair.
    pub left: Vec<Record>,
    /// Right records, one per pair.
    pub right: Vec<Record>,
    /// Labels: true for a match.
    pub labels: Vec<bool>,
    /// Price cells present but not a positive number (treated as missing).
    pub unparsed_prices: usize,
}

impl LabeledPairs {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Every title of the file, left and right.
    pub fn titles(&self) -> impl Iterator<Item = &str> {
        self.left
            .iter()
            .chain(&self.right)
            .map(|r| r.title.as_str())
    }
}

/// Reads a labelled pair file in the DeepMatcher layout (comma-separated, quoted with `"`).
/// A missing `label` column or a label other than 0/1/true/false is an error naming the row
/// (1 = first data row) and column.
pub fn read_pairs(path: &Path) -> Result<LabeledPairs> {
    let table = "pairs";
    let df = read_text_table(path, table, b',', Some(b'"'))?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let attributes: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_prefix("left_"))
        .filter(|a| names.iter().any(|n| n.strip_prefix("right_") == Some(*a)))
        .map(String::from)
        .collect();
    if attributes.is_empty() {
        return Err(Error::MissingColumn {
            table: table.into(),
            column: "left_<attribute> and right_<attribute>".into(),
            available: names,
        });
    }
    let roles = Roles::of(&attributes);
    let labels = text_column(&df, table, "label")?
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("1" | "1.0" | "true") => Ok(true),
            Some("0" | "0.0" | "false") => Ok(false),
            other => Err(Error::BadValue {
                table: table.into(),
                row: i + 1,
                column: "label".into(),
                reason: format!("expected 0 or 1, got {:?}", other.unwrap_or("")),
            }),
        })
        .collect::<Result<Vec<bool>>>()?;
    let (left, bad_left) = records(&df, table, "left_", &roles)?;
    let (right, bad_right) = records(&df, table, "right_", &roles)?;
    Ok(LabeledPairs {
        path: path.to_path_buf(),
        roles,
        left,
        right,
        labels,
        unparsed_prices: bad_left + bad_right,
    })
}

/// A whole catalog read from one file.
#[derive(Clone, Debug, Default)]
pub struct RecordCatalog {
    /// Record ids, in file order.
    pub ids: Vec<String>,
    /// Records, same order.
    pub records: Vec<Record>,
    /// Attribute roles.
    pub roles: Roles,
    /// Price cells present but not a positive number (treated as missing).
    pub unparsed_prices: usize,
}

/// Reads a catalog with an `id` column and attributes, fields separated by `delimiter`
/// (quoted with `"` when the delimiter is a comma or tab, never quoted otherwise, as in the
/// JedAI `|` and `#` files). A missing or repeated id is an error naming the row.
pub fn read_catalog_records(path: &Path, delimiter: u8) -> Result<RecordCatalog> {
    let table = "catalog";
    let quote = matches!(delimiter, b',' | b'\t').then_some(b'"');
    let df = read_text_table(path, table, delimiter, quote)?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let attributes: Vec<String> = names.iter().filter(|n| *n != "id").cloned().collect();
    let roles = Roles::of(&attributes);
    let mut seen = HashSet::new();
    let ids = text_column(&df, table, "id")?
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let bad = |reason: &str| Error::BadValue {
                table: table.into(),
                row: i + 1,
                column: "id".into(),
                reason: reason.into(),
            };
            let id = v.ok_or_else(|| bad("missing id"))?;
            if !seen.insert(id.clone()) {
                return Err(bad(&format!("id {id:?} appears twice")));
            }
            Ok(id)
        })
        .collect::<Result<Vec<String>>>()?;
    let (records, unparsed_prices) = records(&df, table, "", &roles)?;
    Ok(RecordCatalog {
        ids,
        records,
        roles,
        unparsed_prices,
    })
}

fn records(
    df: &polars::prelude::DataFrame,
    table: &str,
    prefix: &str,
    roles: &Roles,
) -> Result<(Vec<Record>, usize)> {
    let column = |attr: &Option<String>| -> Result<Option<Vec<Option<String>>>> {
        attr.as_ref()
            .map(|a| text_column(df, table, &format!("{prefix}{a}")))
            .transpose()
    };
    let title = text_column(df, table, &format!("{prefix}{}", roles.title))?;
    let brand = column(&roles.brand)?;
    let price = column(&roles.price)?;
    let category = column(&roles.category)?;
    let get = |c: &Option<Vec<Option<String>>>, i: usize| c.as_ref().and_then(|v| v[i].clone());
    let mut unparsed = 0;
    let out = (0..title.len())
        .map(|i| {
            let raw_price = get(&price, i);
            let price = raw_price.as_deref().and_then(parse_price);
            if raw_price.is_some() && price.is_none() {
                unparsed += 1;
            }
            Record {
                title: title[i].clone().unwrap_or_default(),
                brand: get(&brand, i),
                price,
                category: get(&category, i),
            }
        })
        .collect();
    Ok((out, unparsed))
}

/// A price from text such as `399`, `$1,299.99` or `EUR 12.50`; `None` unless positive.
///
/// ```
/// use crossleak::pairs::parse_price;
/// assert_eq!(parse_price("$1,299.99"), Some(1299.99));
/// assert_eq!(parse_price("0.0"), None);
/// assert_eq!(parse_price("n/a"), None);
/// ```
pub fn parse_price(s: &str) -> Option<f64> {
    let kept: String = s
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    kept.parse::<f64>()
        .ok()
        .filter(|p| p.is_finite() && *p > 0.0)
}

/// A TF-IDF model and normaliser shared by the records of one benchmark.
#[derive(Clone, Debug)]
pub struct RecordAnalyzer {
    model: TfIdf,
    normalizer: Normalizer,
}

impl RecordAnalyzer {
    /// Fits the TF-IDF model on `titles` (no labels involved) with the default normaliser.
    pub fn fit<'a>(titles: impl Iterator<Item = &'a str>, ngram: usize) -> RecordAnalyzer {
        let mut uniq: Vec<String> = titles
            .map(String::from)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        uniq.sort_unstable();
        let normalizer = Normalizer::default();
        RecordAnalyzer {
            model: TfIdf::fit(&uniq, normalizer.clone(), ngram),
            normalizer,
        }
    }

    /// The TF-IDF model.
    pub fn model(&self) -> &TfIdf {
        &self.model
    }

    /// Analysed titles and attributes of records, in parallel, in input order.
    pub fn analyze(&self, records: &[Record]) -> (Vec<AnalyzedTitle>, Vec<RecordAttrs>) {
        records
            .par_iter()
            .map(|r| {
                (
                    self.model.analyze(&r.title),
                    RecordAttrs::new(
                        &self.normalizer,
                        r.brand.as_deref(),
                        r.category.as_deref(),
                        r.price,
                        None,
                        None,
                    ),
                )
            })
            .unzip()
    }

    /// Features of labelled pairs (left and right records side by side).
    pub fn features(&self, pairs: &LabeledPairs) -> PairFeatures {
        let (lt, la) = self.analyze(&pairs.left);
        let (rt, ra) = self.analyze(&pairs.right);
        let rows = (0..pairs.len())
            .into_par_iter()
            .map(|i| {
                (
                    pair_features(&lt[i], &la[i], &rt[i], &ra[i]),
                    differing_tokens(&lt[i], &rt[i]),
                )
            })
            .collect();
        PairFeatures::from_rows(rows)
    }
}

/// An order of pairs that puts the pairs of each key together (keys in order of first
/// appearance), best `score` first within a key (ties by position), and the group id of each
/// position in that order: the layout [`crate::matcher::MixtureModel::fit`] expects when
/// each key (a left record, in a catalog without duplicates) matches at most one record.
pub fn grouped_order(keys: &[&str], score: &[f64]) -> (Vec<usize>, Vec<usize>) {
    let mut first: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let group: Vec<usize> = keys
        .iter()
        .map(|k| {
            let next = first.len();
            *first.entry(k).or_insert(next)
        })
        .collect();
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| {
        group[a]
            .cmp(&group[b])
            .then(score[b].total_cmp(&score[a]))
            .then(a.cmp(&b))
    });
    let groups = order.iter().map(|&i| group[i]).collect();
    (order, groups)
}

/// Precision, recall and F1 of binary decisions against labels.
pub fn score_decisions(predicted: &[bool], labels: &[bool]) -> Scores {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (&p, &l) in predicted.iter().zip(labels) {
        match (p, l) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    Scores::from_counts(tp, fp, fn_)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_names() {
        let r = Roles::of(&[
            "name".into(),
            "description".into(),
            "price".into(),
            "manufacturer".into(),
        ]);
        assert_eq!(r.title, "name");
        assert_eq!(r.brand.as_deref(), Some("manufacturer"));
        assert_eq!(r.price.as_deref(), Some("price"));
        assert_eq!(r.unused, ["description"]);
        let r = Roles::of(&["text".into()]);
        assert_eq!(r.title, "text");
    }

    #[test]
    fn decisions_score() {
        let s = score_decisions(&[true, true, false, false], &[true, false, true, false]);
        assert_eq!((s.tp, s.fp, s.fn_), (1, 1, 1));
    }
}
