//! Records, labelled pairs and whole catalogs in the layouts of the public entity-matching
//! benchmarks, and the features of their pairs.
//!
//! A pair file has, for every attribute `a`, columns `left_a` and `right_a`, and a `label`
//! column of 0/1 (the DeepMatcher layout; an id column such as `pair_id` is ignored). A
//! catalog has an `id` column and the attributes. Attributes take roles by name, whatever else
//! the file holds: the title is `title` or `name` (else the first attribute), the brand
//! `brand` or `manufacturer`, the price `price`, the category `category`, the model number
//! `modelno`, `model`, `model_number`, `mpn`, `part_number` or `sku` (added to the title
//! when the title does not already hold it, so model codes and numbers are compared with the
//! title's). Every other attribute (`description`, `authors`, `year`, ...) is compared
//! generically ([`crossleak::matching::features::attribute_similarity`]) and gives the supervised model a
//! similarity and a presence column of its own (the roles are reported).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use std::time::Instant;

use crate::eval::Scores;
use crossleak::ingest::{read_text_table, text_column};
use crossleak::matching::features::{
    feature_matrix, grouped_pair_features, pair_row, PairFeatures, RecordAttrs, Side,
};
use crossleak::matching::index::{AnalyzedTitle, CandidateIndex, CandidatePair, TfIdf};
use crossleak::matching::matcher::{
    best_per_query, FitSummary, LogisticModel, LogisticParams, MatchModel, MixtureModel,
    MixtureParams,
};
use crossleak::matching::text::Normalizer;
use crossleak::{Error, Result};

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
    /// Values of the attributes without a role, in the order of [`Roles::other`].
    pub other: Vec<Option<String>>,
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
    /// Attribute used as the model number.
    #[serde(default)]
    pub model: Option<String>,
    /// Attributes without a role, compared generically.
    #[serde(alias = "unused")]
    pub other: Vec<String>,
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
        let model = find(&[
            "modelno",
            "model",
            "model_no",
            "model_number",
            "modelnumber",
            "mpn",
            "part_number",
            "partnumber",
            "sku",
        ]);
        let used: Vec<&String> = [
            Some(&title),
            brand.as_ref(),
            price.as_ref(),
            category.as_ref(),
            model.as_ref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let other = attributes
            .iter()
            .filter(|a| !used.contains(a))
            .cloned()
            .collect();
        Roles {
            title,
            brand,
            price,
            category,
            model,
            other,
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

    /// For each pair, the left and right values of each attribute without a role.
    pub fn other_values(&self) -> Vec<Vec<(Option<&str>, Option<&str>)>> {
        self.left
            .iter()
            .zip(&self.right)
            .map(|(l, r)| {
                l.other
                    .iter()
                    .zip(&r.other)
                    .map(|(a, b)| (a.as_deref(), b.as_deref()))
                    .collect()
            })
            .collect()
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
        .map(
            |(i, v)| match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("1" | "1.0" | "true") => Ok(true),
                Some("0" | "0.0" | "false") => Ok(false),
                other => Err(Error::BadValue {
                    table: table.into(),
                    row: i + 1,
                    column: "label".into(),
                    reason: format!("expected 0 or 1, got {:?}", other.unwrap_or("")),
                }),
            },
        )
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
    let model = column(&roles.model)?;
    let other = roles
        .other
        .iter()
        .map(|a| text_column(df, table, &format!("{prefix}{a}")))
        .collect::<Result<Vec<_>>>()?;
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
                title: with_model(title[i].clone().unwrap_or_default(), get(&model, i)),
                brand: get(&brand, i),
                price,
                category: get(&category, i),
                other: other.iter().map(|c| c[i].clone()).collect(),
            }
        })
        .collect();
    Ok((out, unparsed))
}

/// The title with the model number appended, unless it is empty or the title already holds
/// it (compared on letters and digits only, ignoring case).
fn with_model(title: String, model: Option<String>) -> String {
    let key = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    match model {
        Some(m) if !key(&m).is_empty() && !key(&title).contains(&key(&m)) => {
            if title.trim().is_empty() {
                m.trim().to_string()
            } else {
                format!("{} {}", title.trim_end(), m.trim())
            }
        }
        _ => title,
    }
}

/// A price from text such as `399`, `$1,299.99` or `EUR 12.50`; `None` unless positive.
///
/// ```
/// use crossleak_eval::pairs::parse_price;
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

    /// Features of labelled pairs (left and right records side by side), each pair scored
    /// alone: how a benchmark's splits group their pairs is an artefact of its sampling (Abt-Buy
    /// has about six pairs per left record in training and under three in test), so a
    /// supervised model must not learn from it.
    pub fn features(&self, pairs: &LabeledPairs) -> PairFeatures {
        let (lt, la) = self.analyze(&pairs.left);
        let (rt, ra) = self.analyze(&pairs.right);
        let rows = (0..pairs.len())
            .into_par_iter()
            .map(|i| pair_row(&lt[i], &la[i], &rt[i], &ra[i]))
            .collect();
        PairFeatures::from_rows(rows)
            .with_attributes(pairs.roles.other.clone(), &pairs.other_values())
    }

    /// Features of the pairs of several files taken together, where the pairs of one left
    /// record (by title, across the files) are its candidates and are compared with each other
    /// as the detector compares a listing's candidates; `group[i]` is that record's number.
    fn grouped_features(&self, splits: &[&LabeledPairs], group: &[usize]) -> PairFeatures {
        let side = |records: fn(&LabeledPairs) -> &[Record]| {
            let (mut titles, mut attrs) = (Vec::new(), Vec::new());
            for s in splits {
                let (t, a) = self.analyze(records(s));
                titles.extend(t);
                attrs.extend(a);
            }
            (titles, attrs)
        };
        let (lt, la) = side(|s| &s.left);
        let (rt, ra) = side(|s| &s.right);
        grouped_pair_features(
            Side {
                titles: &lt,
                attrs: &la,
            },
            Side {
                titles: &rt,
                attrs: &ra,
            },
            group,
        )
    }
}

/// Each key's number, keys numbered in order of first appearance.
fn first_appearance(keys: &[&str]) -> Vec<usize> {
    let mut first: HashMap<&str, usize> = HashMap::new();
    keys.iter()
        .map(|k| {
            let next = first.len();
            *first.entry(k).or_insert(next)
        })
        .collect()
}

/// An order of pairs that puts the pairs of each key together (keys in order of first
/// appearance), best `score` first within a key (ties by position), and the group id of each
/// position in that order: the layout [`crossleak::matching::matcher::MixtureModel::fit`] expects when
/// each key (a left record, in a catalog without duplicates) matches at most one record.
pub fn grouped_order(keys: &[&str], score: &[f64]) -> (Vec<usize>, Vec<usize>) {
    let group = first_appearance(keys);
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

/// A matcher fitted and applied to the test pairs of a benchmark.
#[derive(Clone, Debug)]
pub struct PairRun {
    /// The fitted model.
    pub model: MatchModel,
    /// What the supervised fit tried (`None` for the unsupervised model).
    pub fit: Option<FitSummary>,
    /// Features of the test pairs.
    pub features: PairFeatures,
    /// Match probability of each test pair.
    pub probabilities: Vec<f64>,
    /// Decision for each test pair (probability at or above the model's threshold).
    pub decisions: Vec<bool>,
    /// The decisions scored against the test labels.
    pub scores: Scores,
}

impl PairRun {
    fn new(
        model: MatchModel,
        fit: Option<FitSummary>,
        features: PairFeatures,
        probabilities: Vec<f64>,
        labels: &[bool],
    ) -> PairRun {
        let decisions: Vec<bool> = probabilities
            .iter()
            .map(|&p| p >= model.threshold())
            .collect();
        let scores = score_decisions(&decisions, labels);
        PairRun {
            model,
            fit,
            features,
            probabilities,
            decisions,
            scores,
        }
    }
}

/// Supervised matching of a benchmark: TF-IDF fitted on every title of the three files (no
/// labels), [`LogisticModel::train`] on the training pairs with the validation pairs for
/// penalty, calibration and threshold, then the test pairs scored.
pub fn match_supervised(
    train: &LabeledPairs,
    valid: &LabeledPairs,
    test: &LabeledPairs,
    params: &LogisticParams,
) -> Result<PairRun> {
    let analyzer =
        RecordAnalyzer::fit(train.titles().chain(valid.titles()).chain(test.titles()), 3);
    let (model, summary) = LogisticModel::train(
        &analyzer.features(train),
        &train.labels,
        &analyzer.features(valid),
        &valid.labels,
        params,
    )?;
    let model = MatchModel::Logistic(model);
    let features = analyzer.features(test);
    let probabilities = model.predict(&features);
    Ok(PairRun::new(
        model,
        Some(summary),
        features,
        probabilities,
        &test.labels,
    ))
}

/// Unsupervised matching of a benchmark: no label is read except to score the test pairs at
/// the end. The mixture model is fitted by EM on the features of every given pair (`others`
/// and `test`, generic attributes included), grouped by left record because a record of a catalog without duplicates
/// matches at most one record of the other; test pairs are decided at the model's own
/// threshold.
pub fn match_unsupervised(
    others: &[&LabeledPairs],
    test: &LabeledPairs,
    params: &MixtureParams,
) -> Result<PairRun> {
    let splits: Vec<&LabeledPairs> = others.iter().copied().chain([test]).collect();
    let analyzer = RecordAnalyzer::fit(splits.iter().flat_map(|s| s.titles()), 3);
    let keys: Vec<&str> = splits
        .iter()
        .flat_map(|s| s.left.iter().map(|r| r.title.as_str()))
        .collect();
    // The pairs of one left record are its candidates, whichever file holds them.
    let values: Vec<_> = splits.iter().flat_map(|s| s.other_values()).collect();
    let all = analyzer
        .grouped_features(&splits, &first_appearance(&keys))
        .with_attributes(test.roles.other.clone(), &values);
    let score: Vec<f64> = all.x.rows().into_iter().map(|r| r[0] + r[1]).collect();
    let (order, groups) = grouped_order(&keys, &score);
    let sorted = all.select(&order);
    let model = MatchModel::Mixture(MixtureModel::fit_pairs(&sorted, &groups, params)?);
    let grouped = model.predict_grouped(&sorted, &groups);
    // Test pairs sit at the end of `all`.
    let offset = all.len() - test.len();
    let mut probabilities = vec![0.0; test.len()];
    for (pos, &i) in order.iter().enumerate() {
        if i >= offset {
            probabilities[i - offset] = grouped[pos];
        }
    }
    let features = all.select(&(offset..all.len()).collect::<Vec<_>>());
    Ok(PairRun::new(
        model,
        None,
        features,
        probabilities,
        &test.labels,
    ))
}

/// Two catalogs linked: candidates, their features, the fitted model and the matches.
#[derive(Clone, Debug)]
pub struct Linkage {
    /// Candidate pairs: query = right record, target = left record; grouped by query.
    pub pairs: Vec<CandidatePair>,
    /// Features of the candidate pairs.
    pub features: PairFeatures,
    /// The unsupervised model fitted on the candidates.
    pub model: MatchModel,
    /// Match probability of each candidate pair.
    pub probabilities: Vec<f64>,
    /// Rows of `pairs` judged matches: for each right record, its most probable candidate when
    /// its candidates' probabilities (at most one of them a match) add up to the threshold.
    pub matches: Vec<usize>,
    /// Seconds spent on TF-IDF fitting, analysis, indexing and search.
    pub candidate_seconds: f64,
    /// Seconds spent on features, model fit and prediction.
    pub scoring_seconds: f64,
}

impl Linkage {
    /// The `(left id, right id)` of candidate row `row`.
    pub fn ids<'a>(
        &self,
        left: &'a RecordCatalog,
        right: &'a RecordCatalog,
        row: usize,
    ) -> (&'a str, &'a str) {
        let p = self.pairs[row];
        (left.ids[p.target].as_str(), right.ids[p.query].as_str())
    }

    /// The matches as a table: `left_id`, `right_id`, `probability` and `explanation` (the
    /// four features that moved the decision most), in candidate order.
    pub fn matches_frame(
        &self,
        left: &RecordCatalog,
        right: &RecordCatalog,
    ) -> Result<polars::prelude::DataFrame> {
        use polars::prelude::{Column, DataFrame};
        let ids: Vec<(&str, &str)> = self
            .matches
            .iter()
            .map(|&row| self.ids(left, right, row))
            .collect();
        let probability: Vec<f64> = self
            .matches
            .iter()
            .map(|&row| self.probabilities[row])
            .collect();
        let explanation: Vec<String> = self
            .matches
            .iter()
            .map(|&row| self.model.explain(&self.features, row, 4))
            .collect();
        Ok(DataFrame::new(
            ids.len(),
            vec![
                Column::new(
                    "left_id".into(),
                    ids.iter().map(|p| p.0).collect::<Vec<_>>(),
                ),
                Column::new(
                    "right_id".into(),
                    ids.iter().map(|p| p.1).collect::<Vec<_>>(),
                ),
                Column::new("probability".into(), probability),
                Column::new("explanation".into(), explanation),
            ],
        )?)
    }

    /// Share of `truth` pairs `(left id, right id)` found among the candidates.
    pub fn candidate_recall(
        &self,
        left: &RecordCatalog,
        right: &RecordCatalog,
        truth: &[(String, String)],
    ) -> f64 {
        candidate_recall(&self.pairs, left, right, truth)
    }
}

/// Share of `truth` pairs `(left id, right id)` found among candidate `pairs` (query = right
/// record, target = left record).
pub fn candidate_recall(
    pairs: &[CandidatePair],
    left: &RecordCatalog,
    right: &RecordCatalog,
    truth: &[(String, String)],
) -> f64 {
    let found: HashSet<(&str, &str)> = pairs
        .iter()
        .map(|p| (left.ids[p.target].as_str(), right.ids[p.query].as_str()))
        .collect();
    let truth: HashSet<(&str, &str)> = truth
        .iter()
        .map(|(l, r)| (l.as_str(), r.as_str()))
        .collect();
    truth.iter().filter(|t| found.contains(t)).count() as f64 / truth.len().max(1) as f64
}

/// Candidate pairs of two catalogs and the time of each step, in seconds.
#[derive(Clone, Debug, Default)]
pub struct CatalogCandidates {
    /// Candidate pairs: query = right record, target = left record; grouped by query, best
    /// first.
    pub pairs: Vec<CandidatePair>,
    /// TF-IDF fit on both catalogs' distinct titles, with their analysis (tokens and both
    /// TF-IDF vectors).
    pub fit_seconds: f64,
    /// Analysed titles handed to each record of both catalogs.
    pub analyze_seconds: f64,
    /// Inverted index of the left titles.
    pub build_seconds: f64,
    /// Top-k search of every right title.
    pub search_seconds: f64,
}

impl CatalogCandidates {
    /// Seconds of the whole candidate generation.
    pub fn seconds(&self) -> f64 {
        self.fit_seconds + self.analyze_seconds + self.build_seconds + self.search_seconds
    }
}

/// Candidate generation alone, as [`link_catalogs`] does it (TF-IDF fitted on both catalogs'
/// titles, the left catalog indexed, each right record querying its `k` most similar left
/// records), timed step by step. Only titles are analysed.
pub fn catalog_candidates(
    left: &RecordCatalog,
    right: &RecordCatalog,
    k: usize,
) -> CatalogCandidates {
    // The model is fitted on the distinct titles, sorted, as `RecordAnalyzer::fit` does; each
    // distinct title is tokenised once, for the fit and its analysis alike. Sorting the records
    // by title finds each record's distinct title at the same time.
    let t = Instant::now();
    let mut by_title: Vec<(&str, u32)> = left
        .records
        .iter()
        .chain(&right.records)
        .enumerate()
        .map(|(i, r)| (r.title.as_str(), i as u32))
        .collect();
    by_title.par_sort_unstable();
    let mut uniq: Vec<String> = Vec::new();
    let mut title_of = vec![0u32; by_title.len()];
    for run in by_title.chunk_by(|a, b| a.0 == b.0) {
        for &(_, i) in run {
            title_of[i as usize] = uniq.len() as u32;
        }
        uniq.push(run[0].0.to_string());
    }
    drop(by_title);
    let (model, analyzed) = TfIdf::fit_analyze(&uniq, Normalizer::default(), 3);
    let fit_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (lt, rt): (Vec<&AnalyzedTitle>, Vec<&AnalyzedTitle>) = {
        let of = |slots: &[u32]| slots.iter().map(|&u| &analyzed[u as usize]).collect();
        let (l, r) = title_of.split_at(left.records.len());
        (of(l), of(r))
    };
    let analyze_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let index = CandidateIndex::build(&model, lt.iter().copied());
    let build_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let pairs = index.search(&rt, k);
    let search_seconds = t.elapsed().as_secs_f64();
    CatalogCandidates {
        pairs,
        fit_seconds,
        analyze_seconds,
        build_seconds,
        search_seconds,
    }
}

/// Links two catalogs: TF-IDF fitted on both catalogs' titles, the left catalog indexed, each
/// right record querying its `k` most similar left records; the mixture model fitted on the
/// candidates without labels, each right record matching at most one left record.
pub fn link_catalogs(left: &RecordCatalog, right: &RecordCatalog, k: usize) -> Result<Linkage> {
    let started = Instant::now();
    let titles = left
        .records
        .iter()
        .chain(&right.records)
        .map(|r| r.title.as_str());
    let analyzer = RecordAnalyzer::fit(titles, 3);
    let (lt, la) = analyzer.analyze(&left.records);
    let (rt, ra) = analyzer.analyze(&right.records);
    let index = CandidateIndex::build(analyzer.model(), &lt);
    let pairs = index.search(&rt, k);
    let candidate_seconds = started.elapsed().as_secs_f64();

    let scoring = Instant::now();
    let features = feature_matrix(
        &pairs,
        Side {
            titles: &rt,
            attrs: &ra,
        },
        Side {
            titles: &lt,
            attrs: &la,
        },
    );
    let groups: Vec<usize> = pairs.iter().map(|p| p.query).collect();
    let model = MatchModel::Mixture(MixtureModel::fit(
        &features.x,
        &groups,
        &MixtureParams::default(),
    )?);
    let probabilities = model.predict_grouped(&features, &groups);
    let scoring_seconds = scoring.elapsed().as_secs_f64();

    let matches = best_per_query(&pairs, &probabilities, model.threshold(), true);
    Ok(Linkage {
        pairs,
        features,
        model,
        probabilities,
        matches,
        candidate_seconds,
        scoring_seconds,
    })
}

/// Matching id pairs: the first two columns of a delimited file with a header (never quoted),
/// such as the `gt.csv` files of the benchmarks.
pub fn read_id_pairs(path: &Path, delimiter: u8) -> Result<Vec<(String, String)>> {
    let table = "truth";
    let df = read_text_table(path, table, delimiter, None)?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    if names.len() < 2 {
        return Err(Error::MissingColumn {
            table: table.into(),
            column: "a second column (right id)".into(),
            available: names,
        });
    }
    let l = text_column(&df, table, &names[0])?;
    let r = text_column(&df, table, &names[1])?;
    l.into_iter()
        .zip(r)
        .enumerate()
        .map(|(i, pair)| match pair {
            (Some(a), Some(b)) => Ok((a, b)),
            (None, _) | (_, None) => Err(Error::BadValue {
                table: table.into(),
                row: i + 1,
                column: names[0].clone(),
                reason: "both ids are needed".into(),
            }),
        })
        .collect()
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
        assert_eq!(r.other, ["description"]);
        let r = Roles::of(&["text".into()]);
        assert_eq!(r.title, "text");
        let r = Roles::of(&["title".into(), "modelno".into(), "colour".into()]);
        assert_eq!(
            (r.model.as_deref(), r.other.as_slice()),
            (Some("modelno"), &["colour".to_string()][..])
        );
    }

    #[test]
    fn model_numbers_join_titles_that_lack_them() {
        let t = |s: &str| s.to_string();
        assert_eq!(
            with_model(t("Sony Headphones"), Some(t("MDR-7506"))),
            "Sony Headphones MDR-7506"
        );
        assert_eq!(
            with_model(t("Sony MDR 7506 headphones"), Some(t("mdr-7506"))),
            "Sony MDR 7506 headphones"
        );
        assert_eq!(with_model(t("Sony"), Some(t(" - "))), "Sony");
        assert_eq!(with_model(t(""), Some(t("X1"))), "X1");
        assert_eq!(with_model(t("Sony"), None), "Sony");
    }

    #[test]
    fn decisions_score() {
        let s = score_decisions(&[true, true, false, false], &[true, false, true, false]);
        assert_eq!((s.tp, s.fp, s.fn_), (1, 1, 1));
    }
}
