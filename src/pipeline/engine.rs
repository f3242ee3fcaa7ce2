//! A detection run cut into steps that a cluster engine can spread over the partitions of a
//! foreign catalog too large for one machine. [`Detector::detect`] and
//! [`Detector::detect_file`] run these same steps over the chunks of one catalog, so a
//! partitioned run and a single-machine run cannot drift apart: on the same listings, however
//! they are cut and in whatever order the pieces come back, they give the same [`Report`].
//!
//! | step | runs on | from | gives |
//! |---|---|---|---|
//! | [`Survey::add`] | each partition | its listings | listings per seller and day, the smallest id fingerprints, rows read and rejected |
//! | [`Survey::merge`], [`Detector::sample`] | driver | every partition's survey | the model's fitting [`Sample`] |
//! | [`SampleScores::of`] | each partition | its listings in the sample | their candidate pairs and feature rows |
//! | [`Detector::fit_sample`] | driver | every partition's sample scores | [`Fitted`]: the [`MatchPlan`] (model, exchange rates, labels), review pairs, the sample's matches |
//! | [`Matched::of`] | each partition | its listings outside the sample, the plan | their best matches |
//! | [`Detector::finish`] | driver | the survey, the fit, every partition's matches | the [`Report`] |
//!
//! Workers build the home side once each, from a [`super::HomeSpec`] and their copies of the
//! home files ([`super::HomeSpec::fit_matching`]: the products and their index only). Every partition result and the plan are serde types: they cross process
//! boundaries as JSON (`serde_json` with `float_roundtrip` gives back every `f64` exactly),
//! and results of one step may be merged in any order. The fitting sample is chosen by id
//! fingerprint and put in id order before the model is fitted, so neither the partitioning
//! nor the order of the pieces changes the model.
//!
//! A partition's own duplicate ids are rejected rows (see
//! [`crate::ingest::PartitionRows::accept`]); duplicates across partitions are for the engine
//! to rule out (in Spark, a group-by on the id). The driver steps refuse the duplicates they
//! can see: within the fitting sample (all listings, for a catalog of at most
//! `match.fit_listings`) and among the matched listings.
//!
//! ```no_run
//! # fn main() -> crossleak::Result<()> {
//! use crossleak::pipeline::engine::{Matched, SampleScores, Survey};
//! use crossleak::pipeline::{Detector, DetectorParams};
//! use crossleak::InputPaths;
//! # let paths = InputPaths { sales: "sales.parquet".into(), products: "products.csv".into(), catalog: "catalog.csv".into() };
//! # let partitions: Vec<crossleak::Catalog> = Vec::new();
//!
//! let detector = Detector::new(DetectorParams::default())?;
//! let home = detector.fit_home_files(&paths, &Default::default())?;
//! // Each partition (here: in memory) is surveyed, then the surveys merged.
//! let mut survey = Survey::new(&home);
//! for part in &partitions {
//!     let mut s = Survey::new(&home);
//!     s.add(part, 0..part.len())?;
//!     survey.merge(s)?;
//! }
//! // Pass 1: the fitting sample's pairs, fitted on the driver.
//! let sample = detector.sample(&survey);
//! let scores = partitions
//!     .iter()
//!     .map(|p| SampleScores::of(&home, sample, p, 0..p.len()))
//!     .collect::<crossleak::Result<Vec<_>>>()?;
//! let fitted = detector.fit_sample(&home, &survey, scores)?;
//! // Pass 2: the other listings matched with the plan, then the report.
//! let matches = partitions
//!     .iter()
//!     .map(|p| Matched::of(&home, fitted.plan(), p, 0..p.len()))
//!     .collect();
//! let report = detector.finish(&home, &survey, fitted, matches)?;
//! # let _ = report;
//! # Ok(())
//! # }
//! ```

use std::collections::BinaryHeap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{
    listing_date, no_rows, reprice, review_pairs, sales_curves, Detector, FittedHome, Report,
    RunSummary, LISTING_CHUNK, RATE_CONFIDENCE,
};
use crate::ingest::{fingerprint, Catalog, IngestReport, PairLabels, RejectedRow, TableKind};
use crate::leak::{self, ListingInfo, ListingTotals, MatchEvidence, MatchedListing, ProductInfo};
use crate::matching::features::{Feature, PairFeatures, RecordAttrs, N_FEATURES};
use crate::matching::index::CandidatePair;
use crate::matching::matcher::{
    best_per_query, condition_on_labels, MatchModel, MixtureModel, ReviewPair,
};
use crate::matching::rates::ExchangeRates;
use crate::{Date, Error, Result};

/// The listings the unsupervised model is fitted on: those whose id fingerprint (SipHash-2-4
/// of the id under fixed keys) is below a key, or all of them, or none (a detector given its
/// model fits none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    below: u128,
}

impl Sample {
    /// Every listing.
    pub const ALL: Sample = Sample { below: u128::MAX };
    /// No listing.
    pub const NONE: Sample = Sample { below: 0 };

    /// Whether the listing with id `id` belongs to the sample.
    pub fn contains(&self, id: &str) -> bool {
        self.below == u128::MAX || fingerprint(id) < self.below
    }

    /// True when no listing belongs to the sample.
    pub fn is_empty(&self) -> bool {
        self.below == 0
    }
}

/// What the first pass over the listings finds, for one partition or, merged, for the whole
/// catalog: the listings' count and totals per seller and day (all the statistics need of
/// the listings that match nothing), the `match.fit_listings` smallest id fingerprints (which
/// fix the fitting sample) and, when the rows were validated on the way, the rows read and
/// rejected. Memory: the totals plus 16 bytes per kept fingerprint.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Survey {
    fit_listings: usize,
    listings: usize,
    totals: ListingTotals,
    /// The `fit_listings` smallest fingerprints so far, largest on top.
    smallest: BinaryHeap<u128>,
    read: Option<TableRead>,
}

/// Rows of the catalog table read and rejected by the partitions' validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct TableRead {
    path: PathBuf,
    rows_read: usize,
    rejected: Vec<RejectedRow>,
}

impl Survey {
    /// An empty survey for listings matched against `home` (whose parameters give
    /// `match.fit_listings`).
    pub fn new(home: &FittedHome) -> Survey {
        Survey {
            fit_listings: home.params.matching.fit_listings,
            ..Survey::default()
        }
    }

    /// Counts listings `rows` of `catalog`. A listing without its date is an error naming
    /// its row.
    pub fn add(&mut self, catalog: &Catalog, rows: Range<usize>) -> Result<()> {
        for i in rows {
            self.totals
                .add(catalog.seller_id[i].as_deref(), listing_date(catalog, i)?);
            self.keep_key(fingerprint(&catalog.id[i]));
            self.listings += 1;
        }
        Ok(())
    }

    fn keep_key(&mut self, key: u128) {
        if self.smallest.len() < self.fit_listings {
            self.smallest.push(key);
        } else if self.smallest.peek().is_some_and(|&top| key < top) {
            self.smallest.pop();
            self.smallest.push(key);
        }
    }

    /// Records the validation of a partition's rows of the catalog table `path`: rows read
    /// (accepted or not) and rows rejected. The report's table accounting is the sum of what
    /// every partition records; a survey that records nothing adds no table to the report.
    pub fn record_read(&mut self, path: &Path, rows_read: usize, rejected: Vec<RejectedRow>) {
        let read = self.read.get_or_insert_with(|| TableRead {
            path: path.to_path_buf(),
            rows_read: 0,
            rejected: Vec::new(),
        });
        read.rows_read += rows_read;
        read.rejected.extend(rejected);
    }

    /// Adds the survey of another partition of the same catalog. Surveys made under other
    /// parameters, or recording rows of another file, are an error.
    pub fn merge(&mut self, other: Survey) -> Result<()> {
        if other.fit_listings != self.fit_listings {
            return Err(Error::Config(format!(
                "surveys made with match.fit_listings {} and {} cannot be merged",
                self.fit_listings, other.fit_listings
            )));
        }
        self.listings += other.listings;
        self.totals.merge(&other.totals);
        for key in other.smallest {
            self.keep_key(key);
        }
        if let Some(read) = other.read {
            if let Some(mine) = &self.read {
                if mine.path != read.path {
                    return Err(Error::Config(format!(
                        "surveys of two catalog files, {} and {}, cannot be merged",
                        mine.path.display(),
                        read.path.display()
                    )));
                }
            }
            self.record_read(&read.path, read.rows_read, read.rejected);
        }
        Ok(())
    }

    /// Listings counted (accepted rows).
    pub fn listings(&self) -> usize {
        self.listings
    }

    /// Listings per seller and day.
    pub fn totals(&self) -> &ListingTotals {
        &self.totals
    }

    /// The fitting sample: every listing when there are at most `match.fit_listings`, else
    /// those whose fingerprints are the `match.fit_listings` smallest.
    fn sample(&self) -> Sample {
        if self.listings <= self.fit_listings {
            Sample::ALL
        } else {
            Sample {
                below: self.smallest.peek().map_or(0, |&top| top.saturating_add(1)),
            }
        }
    }

    /// Listings in the sample.
    fn sample_len(&self) -> usize {
        self.listings.min(self.fit_listings)
    }

    /// The home side's row accounting plus the catalog rows recorded, rejected rows in row
    /// order.
    fn ingest(&self, home: &FittedHome) -> IngestReport {
        let mut ingest = home.ingest.clone();
        if let Some(read) = &self.read {
            let mut rejected = read.rejected.clone();
            rejected.sort_by_key(|r| r.row);
            ingest.tables.push(crate::ingest::TableReport {
                table: TableKind::Catalog.name().into(),
                path: read.path.clone(),
                rows_read: read.rows_read,
                accepted: read.rows_read.saturating_sub(rejected.len()),
                rejected: rejected.len(),
            });
            ingest.rejected.extend(rejected);
        }
        ingest
    }
}

/// Pass 1 of one partition: its listings in the fitting sample, with their candidate pairs
/// and feature rows (listing prices converted at the configured rates only; the driver
/// converts at learned rates when it learns any), and what the driver needs of each listing
/// to match it, learn exchange rates and put pairs to the analyst.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SampleScores {
    id: Vec<String>,
    title: Vec<String>,
    seller_id: Vec<Option<String>>,
    listed_at: Vec<Date>,
    source_row: Vec<usize>,
    price: Vec<Option<f64>>,
    currency: Vec<Option<String>>,
    /// Candidate pairs, grouped by listing in listing order: the listing (index into the
    /// columns above), the home product, the index similarity.
    query: Vec<usize>,
    target: Vec<usize>,
    score: Vec<f32>,
    /// One feature row per pair, row after row.
    x: Vec<f64>,
    /// Each pair's differing tokens (empty unless the home side keeps them).
    differing: Vec<Vec<String>>,
}

impl SampleScores {
    /// Scores the listings of `rows` of `catalog` that belong to `sample` against the home
    /// side.
    pub fn of(
        home: &FittedHome,
        sample: Sample,
        catalog: &Catalog,
        rows: Range<usize>,
    ) -> Result<SampleScores> {
        let mut out = SampleScores::default();
        if sample.is_empty() {
            return Ok(out);
        }
        let picked: Vec<usize> = rows.filter(|&i| sample.contains(&catalog.id[i])).collect();
        let listings = catalog.select(&picked);
        let rates = home.configured_rates();
        let mut pairs = Vec::new();
        let mut features = PairFeatures::default();
        for start in (0..listings.len()).step_by(LISTING_CHUNK) {
            let end = (start + LISTING_CHUNK).min(listings.len());
            home.scorer
                .score(&listings, start..end, &rates, &mut pairs, &mut features);
        }
        for i in 0..listings.len() {
            out.listed_at.push(listing_date(&listings, i)?);
        }
        out.x = features.x.iter().copied().collect();
        out.differing = features.differing;
        for c in &pairs {
            out.query.push(c.query);
            out.target.push(c.target);
            out.score.push(c.score);
        }
        let Catalog {
            id,
            title,
            seller_id,
            source_row,
            price,
            currency,
            ..
        } = listings;
        (out.id, out.title, out.seller_id) = (id, title, seller_id);
        (out.source_row, out.price, out.currency) = (source_row, price, currency);
        Ok(out)
    }

    /// Adds the scores of more listings (another batch of the same partition, say).
    pub fn merge(&mut self, other: SampleScores) {
        let offset = self.id.len();
        self.id.extend(other.id);
        self.title.extend(other.title);
        self.seller_id.extend(other.seller_id);
        self.listed_at.extend(other.listed_at);
        self.source_row.extend(other.source_row);
        self.price.extend(other.price);
        self.currency.extend(other.currency);
        self.query
            .extend(other.query.into_iter().map(|q| q + offset));
        self.target.extend(other.target);
        self.score.extend(other.score);
        self.x.extend(other.x);
        self.differing.extend(other.differing);
    }

    /// Listings scored.
    pub fn listings(&self) -> usize {
        self.id.len()
    }

    /// Candidate pairs scored.
    pub fn pairs(&self) -> usize {
        self.query.len()
    }
}

/// What the driver broadcasts for pass 2: the fitting sample (whose listings are matched
/// already), the match model, the exchange rates and the analyst's labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchPlan {
    sample: Sample,
    model: MatchModel,
    rates: ExchangeRates,
    labels: PairLabels,
}

impl MatchPlan {
    /// The match model.
    pub fn model(&self) -> &MatchModel {
        &self.model
    }

    /// The exchange rates listing prices are converted with.
    pub fn rates(&self) -> &ExchangeRates {
        &self.rates
    }

    /// The fitting sample, whose listings pass 2 leaves out.
    pub fn sample(&self) -> Sample {
        self.sample
    }
}

/// The driver's fit: the plan for pass 2, the pairs put to the analyst and the fitting
/// sample's own matches.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fitted {
    plan: MatchPlan,
    review: Vec<ReviewPair>,
    matched: Matched,
    fit_listings: usize,
}

impl Fitted {
    /// The plan each partition matches its other listings with ([`Matched::of`]).
    pub fn plan(&self) -> &MatchPlan {
        &self.plan
    }

    /// Listings the model was fitted on (0 when it was given).
    pub fn fit_listings(&self) -> usize {
        self.fit_listings
    }
}

/// Matched listings with what `leak` needs of each: for one partition (pass 2) or the
/// fitting sample, merged on the driver.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Matched {
    pub(super) matches: Vec<MatchedListing>,
    pub(super) id: Vec<String>,
    pub(super) seller_id: Vec<Option<String>>,
    pub(super) listed_at: Vec<Date>,
    pub(super) source_row: Vec<usize>,
    pub(super) candidate_pairs: usize,
}

impl Matched {
    /// Pass 2 of one partition: scores the listings of `rows` of `catalog` outside the plan's
    /// fitting sample and keeps each one's match, if it has one.
    pub fn of(
        home: &FittedHome,
        plan: &MatchPlan,
        catalog: &Catalog,
        rows: Range<usize>,
    ) -> Matched {
        let rest: Vec<usize> = rows
            .filter(|&i| !plan.sample.contains(&catalog.id[i]))
            .collect();
        let rest = catalog.select(&rest);
        let known = Known {
            labels: &plan.labels,
            products: &home.products.id,
        };
        let mut out = Matched::default();
        for start in (0..rest.len()).step_by(LISTING_CHUNK) {
            let end = (start + LISTING_CHUNK).min(rest.len());
            out.score_and_keep(home, &plan.model, &plan.rates, &rest, start..end, known);
        }
        out
    }

    /// Listings matched.
    pub fn len(&self) -> usize {
        self.matches.len()
    }

    /// True when no listing matched.
    pub fn is_empty(&self) -> bool {
        self.matches.is_empty()
    }

    /// Candidate pairs scored to find these matches.
    pub fn candidate_pairs(&self) -> usize {
        self.candidate_pairs
    }

    /// Adds the matches of another partition.
    pub fn merge(&mut self, other: Matched) {
        let offset = self.id.len();
        self.matches
            .extend(other.matches.into_iter().map(|m| MatchedListing {
                listing: m.listing + offset,
                ..m
            }));
        self.id.extend(other.id);
        self.seller_id.extend(other.seller_id);
        self.listed_at.extend(other.listed_at);
        self.source_row.extend(other.source_row);
        self.candidate_pairs += other.candidate_pairs;
    }

    /// Scores listings `rows` of `catalog` and keeps each one's match.
    fn score_and_keep(
        &mut self,
        home: &FittedHome,
        model: &MatchModel,
        rates: &ExchangeRates,
        catalog: &Catalog,
        rows: Range<usize>,
        known: Known<'_>,
    ) {
        let mut pairs = Vec::new();
        let mut features = PairFeatures::default();
        home.scorer
            .score(catalog, rows, rates, &mut pairs, &mut features);
        let groups: Vec<usize> = pairs.iter().map(|c| c.query).collect();
        let mut prob = model.predict_grouped(&features, &groups);
        condition_on_labels(&mut prob, &groups, &known.of(catalog, &pairs));
        self.keep(model, catalog, &pairs, &features, &prob);
    }

    /// Keeps the match of each listing of `catalog` among scored `pairs`, if it has one.
    fn keep(
        &mut self,
        model: &MatchModel,
        catalog: &Catalog,
        pairs: &[CandidatePair],
        features: &PairFeatures,
        prob: &[f64],
    ) {
        self.candidate_pairs += pairs.len();
        let pooled = matches!(model, MatchModel::Mixture(_));
        for i in best_per_query(pairs, prob, model.threshold(), pooled) {
            let r = features.x.row(i);
            let get = |f: Feature| r[f.index()];
            let present = |v: Feature, has: Feature| (get(has) > 0.5).then(|| get(v));
            let listing = pairs[i].query;
            self.matches.push(MatchedListing {
                listing: self.id.len(),
                product: pairs[i].target,
                probability: prob[i],
                evidence: MatchEvidence {
                    word_cosine: get(Feature::WordCosine),
                    char_cosine: get(Feature::CharCosine),
                    token_jaccard: get(Feature::TokenJaccard),
                    number_agreement: present(Feature::NumberAgreement, Feature::HasNumbers),
                    price_similarity: present(Feature::PriceSimilarity, Feature::HasPrice),
                    explanation: model.explain(features, i, 3),
                },
            });
            self.id.push(catalog.id[listing].clone());
            self.seller_id.push(catalog.seller_id[listing].clone());
            // The survey has checked that every listing has its date.
            self.listed_at
                .push(catalog.listed_at[listing].unwrap_or(Date(i32::MIN)));
            self.source_row.push(catalog.source_row[listing]);
        }
    }

    /// The same matches ordered by listing id; a listing id matched twice (a duplicate id
    /// across partitions) is an error naming both rows.
    fn in_id_order(self) -> Result<Matched> {
        let matched = if self.id.windows(2).all(|w| w[0] <= w[1]) {
            self
        } else {
            let mut rows: Vec<(String, MatchedListing, Option<String>, Date, usize)> = self
                .id
                .into_iter()
                .zip(self.matches)
                .zip(self.seller_id)
                .zip(self.listed_at.into_iter().zip(self.source_row))
                .map(|(((id, m), seller), (date, row))| (id, m, seller, date, row))
                .collect();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = Matched {
                candidate_pairs: self.candidate_pairs,
                ..Matched::default()
            };
            for (listing, (id, m, seller, date, row)) in rows.into_iter().enumerate() {
                out.matches.push(MatchedListing { listing, ..m });
                out.id.push(id);
                out.seller_id.push(seller);
                out.listed_at.push(date);
                out.source_row.push(row);
            }
            out
        };
        if let Some(i) = (1..matched.id.len()).find(|&i| matched.id[i - 1] == matched.id[i]) {
            return Err(duplicate_id(
                &matched.id[i],
                matched.source_row[i - 1],
                matched.source_row[i],
            ));
        }
        Ok(matched)
    }
}

/// The error for listing id `id` held by two rows.
fn duplicate_id(id: &str, a: usize, b: usize) -> Error {
    Error::BadValue {
        table: TableKind::Catalog.name().into(),
        row: a.max(b),
        column: "listing_id".into(),
        reason: format!(
            "duplicate listing_id '{id}' (also in row {}) in another partition: a partitioned catalog needs unique ids",
            a.min(b)
        ),
    }
}

/// The analyst's labels and the home product ids their pairs name.
#[derive(Clone, Copy)]
pub(super) struct Known<'a> {
    labels: &'a PairLabels,
    products: &'a [String],
}

impl Known<'_> {
    /// The label of each of `pairs` (queries are rows of `catalog`); empty when nothing is
    /// labelled.
    fn of(&self, catalog: &Catalog, pairs: &[CandidatePair]) -> Vec<Option<bool>> {
        if self.labels.is_empty() {
            return Vec::new();
        }
        pairs
            .iter()
            .map(|c| {
                self.labels
                    .get(&catalog.id[c.query], &self.products[c.target])
            })
            .collect()
    }
}

/// The fitting sample put together from the partitions' pass 1, in listing id order: the
/// listings, their pairs (queries are rows of the listings) and the pairs' features.
fn assemble(parts: Vec<SampleScores>) -> Result<(Catalog, Vec<CandidatePair>, PairFeatures)> {
    // Each listing's pairs: a run of its part's pairs.
    let mut order: Vec<(usize, usize, Range<usize>)> = Vec::new();
    for (p, part) in parts.iter().enumerate() {
        let mut at = 0;
        for l in 0..part.id.len() {
            let start = at;
            while at < part.query.len() && part.query[at] == l {
                at += 1;
            }
            order.push((p, l, start..at));
        }
        if at != part.query.len() || part.x.len() != part.query.len() * N_FEATURES {
            return Err(Error::Config(
                "pass 1 scores whose pairs do not follow their listings in order".into(),
            ));
        }
    }
    order.sort_by(|a, b| parts[a.0].id[a.1].cmp(&parts[b.0].id[b.1]));
    for w in order.windows(2) {
        let (a, b) = (&parts[w[0].0], &parts[w[1].0]);
        if a.id[w[0].1] == b.id[w[1].1] {
            return Err(duplicate_id(
                &a.id[w[0].1],
                a.source_row[w[0].1],
                b.source_row[w[1].1],
            ));
        }
    }
    let n_pairs: usize = parts.iter().map(SampleScores::pairs).sum();
    let mut sample = Catalog::new(TableKind::Catalog);
    let mut pairs = Vec::with_capacity(n_pairs);
    let mut x = Vec::with_capacity(n_pairs * N_FEATURES);
    let mut differing = Vec::new();
    for (q, (p, l, run)) in order.into_iter().enumerate() {
        let part = &parts[p];
        sample.id.push(part.id[l].clone());
        sample.title.push(part.title[l].clone());
        sample.description.push(None);
        sample.category.push(None);
        sample.brand.push(None);
        sample.price.push(part.price[l]);
        sample.currency.push(part.currency[l].clone());
        sample.seller_id.push(part.seller_id[l].clone());
        sample.origin_country.push(None);
        sample.image_phash.push(None);
        sample.listed_at.push(Some(part.listed_at[l]));
        sample.source_row.push(part.source_row[l]);
        for i in run {
            pairs.push(CandidatePair {
                query: q,
                target: part.target[i],
                score: part.score[i],
            });
            x.extend_from_slice(&part.x[i * N_FEATURES..(i + 1) * N_FEATURES]);
            differing.push(part.differing.get(i).cloned().unwrap_or_default());
        }
    }
    let x = Array2::from_shape_vec((pairs.len(), N_FEATURES), x)
        .map_err(|e| Error::Config(format!("pass 1 feature rows: {e}")))?;
    let features = PairFeatures {
        x,
        differing,
        attributes: Vec::new(),
    };
    Ok((sample, pairs, features))
}

impl FittedHome {
    /// The exchange rates configured in the parameters, into the home currency.
    fn configured_rates(&self) -> ExchangeRates {
        ExchangeRates::configured(
            self.scorer.home_currency().map(str::to_string),
            &self.params.matching.exchange_rates,
        )
    }
}

impl Detector {
    /// The listings the model is fitted on, from the merged survey of every partition:
    /// [`Sample::NONE`] when the detector was given its model.
    pub fn sample(&self, survey: &Survey) -> Sample {
        if self.model.is_some() {
            Sample::NONE
        } else {
            survey.sample()
        }
    }

    /// The driver's fit, from the merged survey and every partition's pass 1: the
    /// unsupervised model fitted on the sample in listing id order (with the analyst's labels
    /// held, when `match.labels` names a file), exchange rates learned from its confident
    /// matches and the model fitted again with them, the sample's own matches and the pairs
    /// put to the analyst. A detector given its model fits nothing. A catalog without any
    /// accepted listing, or a listing id found in two parts, is an error.
    pub fn fit_sample(
        &self,
        home: &FittedHome,
        survey: &Survey,
        parts: Vec<SampleScores>,
    ) -> Result<Fitted> {
        self.check_home(home)?;
        self.in_pool(|| self.fit_sample_in_pool(home, survey, parts))
    }

    pub(super) fn fit_sample_in_pool(
        &self,
        home: &FittedHome,
        survey: &Survey,
        parts: Vec<SampleScores>,
    ) -> Result<Fitted> {
        let p = &self.params;
        if survey.listings == 0 {
            return Err(no_rows(&survey.ingest(home), TableKind::Catalog));
        }
        let labels = match &p.matching.labels {
            Some(path) => PairLabels::read(path)?,
            None => PairLabels::default(),
        };
        let mut rates = home.configured_rates();
        if let Some(model) = &self.model {
            return Ok(Fitted {
                plan: MatchPlan {
                    sample: Sample::NONE,
                    model: model.clone(),
                    rates,
                    labels,
                },
                review: Vec::new(),
                matched: Matched::default(),
                fit_listings: 0,
            });
        }
        let scorer = &home.scorer;
        let known = Known {
            labels: &labels,
            products: &home.products.id,
        };
        // The sample in id order, so neither the file's row order nor its cutting matters.
        let (sample, pairs, mut features) = assemble(parts)?;
        if sample.len() != survey.sample_len() {
            return Err(Error::Config(format!(
                "pass 1 gave {} listings of the fitting sample, the survey counts {}: every partition must be scored once",
                sample.len(),
                survey.sample_len()
            )));
        }
        let groups: Vec<usize> = pairs.iter().map(|c| c.query).collect();
        let row_labels = known.of(&sample, &pairs);
        let fit = |features: &PairFeatures| -> Result<(MatchModel, Vec<f64>)> {
            let model = MatchModel::Mixture(MixtureModel::fit_labelled(
                &features.x,
                &groups,
                &row_labels,
                &p.matching.mixture,
            )?);
            let mut prob = model.predict_grouped(features, &groups);
            condition_on_labels(&mut prob, &groups, &row_labels);
            Ok((model, prob))
        };
        let (mut model, mut prob) = fit(&features)?;
        if p.matching.learn_exchange_rates {
            // Rates of the other currencies from the confident matches, then the model again
            // with those prices compared.
            let confident = best_per_query(&pairs, &prob, RATE_CONFIDENCE, false);
            let mut priced: Vec<RecordAttrs> = (0..sample.len())
                .map(|i| RecordAttrs::priced(sample.price[i], sample.currency[i].as_deref()))
                .collect();
            rates.learn(confident.iter().map(|&i| {
                let c = &pairs[i];
                (&priced[c.query], scorer.home_attrs(c.target))
            }));
            if rates.any_learned() {
                priced.iter_mut().for_each(|a| rates.convert(a));
                reprice(scorer, &priced, &pairs, &mut features);
                (model, prob) = fit(&features)?;
            }
        }
        let review = review_pairs(
            &sample,
            &home.products,
            &pairs,
            &prob,
            &row_labels,
            p.matching.review,
        );
        let mut matched = Matched::default();
        matched.keep(&model, &sample, &pairs, &features, &prob);
        Ok(Fitted {
            plan: MatchPlan {
                sample: survey.sample(),
                model,
                rates,
                labels,
            },
            review,
            matched,
            fit_listings: sample.len(),
        })
    }

    /// The report, from the merged survey, the fit and every partition's pass 2: temporal
    /// linking, seller and category statistics, sales curves. A listing id matched in two
    /// partitions is an error.
    pub fn finish(
        &self,
        home: &FittedHome,
        survey: &Survey,
        fitted: Fitted,
        parts: Vec<Matched>,
    ) -> Result<Report> {
        self.check_home(home)?;
        self.in_pool(|| self.finish_in_pool(home, survey, fitted, parts))
    }

    pub(super) fn finish_in_pool(
        &self,
        home: &FittedHome,
        survey: &Survey,
        fitted: Fitted,
        parts: Vec<Matched>,
    ) -> Result<Report> {
        let p = &self.params;
        let FittedHome {
            products,
            grid,
            sales_rows,
            bestsellers,
            ..
        } = home;
        if home.matching_only {
            return Err(Error::Config(
                "this home side was fitted for matching only (HomeSpec::fit_matching), without sales or onsets: the report needs one fitted with HomeSpec::fit or Detector::fit_home".into(),
            ));
        }
        let ingest = survey.ingest(home);
        if survey.listings == 0 {
            return Err(no_rows(&ingest, TableKind::Catalog));
        }
        let Fitted {
            plan,
            review,
            mut matched,
            fit_listings,
        } = fitted;
        for part in parts {
            matched.merge(part);
        }
        let matched = matched.in_id_order()?;

        // Leak: temporal linking and seller statistics.
        let info = ListingInfo {
            id: &matched.id,
            seller_id: &matched.seller_id,
            listed_at: &matched.listed_at,
            source_row: &matched.source_row,
        };
        let linked = leak::link(&matched.matches, bestsellers, products.len(), info, &p.leak);
        let first_seen: Vec<Option<Date>> = (0..products.len())
            .map(|i| {
                products.listed_at[i].or_else(|| {
                    let daily = grid.units.get(i)?;
                    let day = daily.iter().position(|&u| u > 0.0)?;
                    Some(grid.start.add_days(day as i32))
                })
            })
            .collect();
        let evidence = leak::evidence(
            &matched.matches,
            &linked,
            bestsellers,
            ProductInfo {
                category: &products.category,
                price: &products.price,
                first_seen: &first_seen,
            },
            info,
            &survey.totals,
            &p.leak,
        );
        let sellers = evidence.sellers;
        let curves = sales_curves(grid, products, &linked.alerts, &sellers);

        let summary = RunSummary {
            products: products.len(),
            sales_rows: *sales_rows,
            listings: survey.listings,
            fit_listings,
            bestsellers: bestsellers.len(),
            candidate_pairs: matched.candidate_pairs,
            matched_listings: matched.matches.len(),
            alerts: linked.alerts.len(),
            pre_existing: linked.pre_existing.len(),
            outside_window: linked.outside_window.len(),
            sellers: sellers.len(),
            flagged_sellers: sellers.iter().filter(|s| s.stats.flagged).count(),
            categories: evidence.categories.len(),
            flagged_categories: evidence
                .categories
                .iter()
                .filter(|c| c.stats.flagged)
                .count(),
        };
        Ok(Report {
            summary,
            params: p.clone(),
            ingest,
            bestsellers: bestsellers.clone(),
            alerts: linked.alerts,
            pre_existing: linked.pre_existing,
            outside_window: linked.outside_window,
            sellers,
            categories: evidence.categories,
            controls: evidence.controls,
            curves,
            model: plan.model,
            review,
            exchange_rates: plan.rates,
        })
    }
}
