//! `Detector` and `DetectorParams`: one call from inputs to a [`Report`].

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ingest::{
    read_catalog_chunks, Catalog, ColumnMap, ColumnsConfig, HomeInputs, IngestReport, InputPaths,
    Inputs, TableKind,
};
use crate::leak::{CategoryFinding, ControlGroup, LeakAlert, LeakParams, SellerFinding};
use crate::matching::features::{
    append_features, price_similarity, Feature, PairFeatures, RecordAttrs, Side,
};
use crate::matching::index::{query_runs, AnalyzedTitle, CandidateIndex, CandidatePair, TfIdf};
use crate::matching::matcher::{MatchModel, MixtureParams, ReviewPair};
use crate::matching::rates::{main_currency, ExchangeRates};
use crate::matching::text::Normalizer;
use crate::progress::{Progress, Running, Silent, Stage};
use crate::report;
use crate::report::html::{CopyMark, HtmlReport, SalesCurve};
use crate::trend::{self, check_range, BestsellerEvent, DemandGrid, TrendParams};
use crate::{Date, Error, Result};

pub mod engine;

use engine::{Matched, SampleScores, Survey};

/// Foreign listings analysed, searched and scored together; memory for analysed titles is
/// bounded by this many listings.
const LISTING_CHUNK: usize = 65_536;

/// The home side of matching, built once from the home catalog: the TF-IDF model fitted on its
/// titles, the candidate index and the home records' attributes. It scores foreign listings a
/// chunk at a time, so memory for analysed foreign titles is bounded by the chunk, and chunks
/// are independent: the detector runs them in turn, a cluster job can run one per partition
/// (see ARCHITECTURE.md).
#[derive(Clone, Debug)]
pub struct ListingScorer {
    normalizer: Normalizer,
    model: TfIdf,
    home: Vec<AnalyzedTitle>,
    home_attrs: Vec<RecordAttrs>,
    index: CandidateIndex,
    top_k: usize,
    tokens: bool,
    home_currency: Option<String>,
}

impl ListingScorer {
    /// Fits the model and builds the index on `products`. `tokens`: keep each pair's differing
    /// tokens (needed by a logistic model with token terms only).
    pub fn new(products: &Catalog, params: &MatchParams, tokens: bool) -> ListingScorer {
        let normalizer = Normalizer::default();
        let model = TfIdf::fit(&products.title, normalizer.clone(), params.ngram);
        let home = model.analyze_all(&products.title);
        let index = CandidateIndex::build(&model, &home);
        ListingScorer {
            home_attrs: attrs(&normalizer, products, 0..products.len()),
            home_currency: main_currency(products.currency.iter().map(Option::as_deref)),
            normalizer,
            model,
            home,
            index,
            top_k: params.top_k,
            tokens,
        }
    }

    /// The attributes of home product `row` as they are compared.
    pub fn home_attrs(&self, row: usize) -> &RecordAttrs {
        &self.home_attrs[row]
    }

    /// The home catalog's currency: the one most products give (`None` when none gives one).
    pub fn home_currency(&self) -> Option<&str> {
        self.home_currency.as_deref()
    }

    /// Finds the candidates of listings `rows` of `catalog` and appends them to `pairs` (query
    /// = row in `catalog`, target = row in the home catalog) and their features to `features`,
    /// in the same order. Listing prices are converted with `rates` before they are compared.
    pub fn score(
        &self,
        catalog: &Catalog,
        rows: Range<usize>,
        rates: &ExchangeRates,
        pairs: &mut Vec<CandidatePair>,
        features: &mut PairFeatures,
    ) {
        let start = rows.start;
        let titles = self.model.analyze_all(&catalog.title[rows.clone()]);
        let mut query_attrs = attrs(&self.normalizer, catalog, rows);
        query_attrs.iter_mut().for_each(|a| rates.convert(a));
        let queries = Side {
            titles: &titles,
            attrs: &query_attrs,
        };
        let targets = Side {
            titles: &self.home,
            attrs: &self.home_attrs,
        };
        let mut found = self.index.search(&titles, self.top_k);
        append_features(features, &found, queries, targets, self.tokens);
        for c in &mut found {
            c.query += start;
        }
        pairs.extend(found);
    }
}

/// Fewest listings `MatchParams::fit_listings` may ask the model to be fitted on: the EM
/// estimates a few dozen parameters per class, and a sample this size gives each class
/// hundreds of pairs even when copies are a few percent of the listings.
const MIN_FIT_LISTINGS: usize = 1000;

/// Parameters of candidate generation and matching.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchParams {
    /// Candidates kept per foreign listing (default 5).
    pub top_k: usize,
    /// Character n-gram length (default 3).
    pub ngram: usize,
    /// EM options of the unsupervised model.
    pub mixture: MixtureParams,
    /// Most foreign listings the unsupervised model is fitted on (default 200,000). The model
    /// is fitted on every listing of a catalog no larger; a larger one is streamed twice more:
    /// once to fit the model on the listings whose id fingerprints are the smallest (a sample
    /// that does not depend on row order) and match them, once to match the other listings
    /// with it. Memory then holds the home index, the sample and one chunk of listings.
    pub fit_listings: usize,
    /// A file of candidate pairs an analyst has labelled
    /// ([`PairLabels`](crate::ingest::PairLabels); default none): the unsupervised model is
    /// fitted with the labelled pairs of its fitting sample held at their labels, and every
    /// labelled pair is decided by its label.
    pub labels: Option<PathBuf>,
    /// How many candidate pairs `review_pairs.csv` puts to the analyst (default 50): the
    /// listings of the fitting sample whose match the model is least sure of, each with its
    /// most probable product, not yet labelled.
    pub review: usize,
    /// Home-currency units one unit of a listing currency is worth, by currency code (default
    /// none): listing prices in these currencies are converted before prices are compared.
    pub exchange_rates: BTreeMap<String, f64>,
    /// Learn the rate of a listing currency without a configured one from the confident
    /// matches of the fitting sample, then fit the model again with those prices (default
    /// true; see [`crate::matching::rates`]). Off, prices in other currencies than the home one are
    /// not compared. A detector given its match model ([`Detector::with_model`]) fits none
    /// and uses the configured rates only.
    pub learn_exchange_rates: bool,
}

impl Default for MatchParams {
    fn default() -> Self {
        MatchParams {
            top_k: 5,
            ngram: 3,
            mixture: MixtureParams::default(),
            fit_listings: 200_000,
            labels: None,
            review: 50,
            exchange_rates: BTreeMap::new(),
            learn_exchange_rates: true,
        }
    }
}

/// All parameters of a detection run. Loads from a partial TOML or JSON config: missing keys
/// take their defaults, unknown keys are an error naming them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorParams {
    /// Bestseller onset detection.
    pub trend: TrendParams,
    /// Candidate generation and matching.
    #[serde(rename = "match")]
    pub matching: MatchParams,
    /// Temporal linking and seller statistics.
    pub leak: LeakParams,
    /// Worker threads (default 0 = one per core).
    pub threads: usize,
}

impl DetectorParams {
    /// Sets the onset parameters (default [`TrendParams::default`]).
    #[must_use]
    pub fn with_trend(mut self, trend: TrendParams) -> Self {
        self.trend = trend;
        self
    }

    /// Sets the leak parameters (default [`LeakParams::default`]).
    #[must_use]
    pub fn with_leak(mut self, leak: LeakParams) -> Self {
        self.leak = leak;
        self
    }

    /// Sets the number of worker threads (default 0 = one per core).
    #[must_use]
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Sets the candidates kept per listing (default 5).
    #[must_use]
    pub fn with_top_k(mut self, k: usize) -> Self {
        self.matching.top_k = k;
        self
    }

    /// Checks every parameter's range; errors name the parameter and its valid range.
    pub fn check(&self) -> Result<()> {
        self.trend.check()?;
        self.leak.check()?;
        check_range(
            "match.top_k",
            self.matching.top_k as f64,
            1.0,
            1000.0,
            "1..=1000",
        )?;
        check_range("match.ngram", self.matching.ngram as f64, 2.0, 6.0, "2..=6")?;
        check_range(
            "match.fit_listings",
            self.matching.fit_listings as f64,
            MIN_FIT_LISTINGS as f64,
            f64::INFINITY,
            "1000 or more",
        )?;
        check_range(
            "match.review",
            self.matching.review as f64,
            0.0,
            100_000.0,
            "0..=100000",
        )?;
        for (currency, &rate) in &self.matching.exchange_rates {
            check_range(
                &format!("match.exchange_rates.{currency}"),
                rate,
                f64::MIN_POSITIVE,
                f64::MAX,
                "a positive number",
            )?;
        }
        check_range(
            "threads",
            self.threads as f64,
            0.0,
            1024.0,
            "0..=1024 (0 = one per core)",
        )
    }
}

/// A config file: column renames and parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Column renames per table.
    pub columns: ColumnsConfig,
    /// Detector parameters.
    pub params: DetectorParams,
}

impl Config {
    /// Loads a TOML (`.toml`) or JSON (`.json`) config.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Unreadable {
            table: "config".into(),
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let config: Config = match ext.as_str() {
            "toml" => toml::from_str(&text).map_err(|e| {
                let place = e.span().map_or(String::new(), |span| {
                    let before = text.get(..span.start).unwrap_or(&text);
                    let line = before.matches('\n').count() + 1;
                    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    format!(" (line {line}, column {column})")
                });
                let message = e.message().trim().replace('\n', "; ");
                Error::Config(format!("{}: {message}{place}", path.display()))
            })?,
            "json" => serde_json::from_str(&text)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?,
            _ => {
                return Err(Error::Config(format!(
                    "{}: unknown config format (use .toml or .json)",
                    path.display()
                )))
            }
        };
        config.params.check()?;
        Ok(config)
    }
}

/// Counts that summarise a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Home products.
    pub products: usize,
    /// Sales rows used.
    pub sales_rows: usize,
    /// Foreign listings.
    pub listings: usize,
    /// Foreign listings the match model was fitted on (0 when it was given).
    pub fit_listings: usize,
    /// Bestseller onsets found.
    pub bestsellers: usize,
    /// Candidate pairs scored.
    pub candidate_pairs: usize,
    /// Listings matched to some home product.
    pub matched_listings: usize,
    /// Alerts (copies following an onset within the window).
    pub alerts: usize,
    /// Copies of bestsellers listed on or before the onset.
    pub pre_existing: usize,
    /// Copies listed after the onset but outside the window.
    pub outside_window: usize,
    /// Foreign sellers.
    pub sellers: usize,
    /// Sellers flagged.
    pub flagged_sellers: usize,
    /// Home categories whose bestsellers were copied.
    pub categories: usize,
    /// Categories flagged.
    pub flagged_categories: usize,
}

/// Everything a run produces.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Counts.
    pub summary: RunSummary,
    /// Parameters used.
    pub params: DetectorParams,
    /// Row accounting of the inputs.
    pub ingest: IngestReport,
    /// Bestseller onsets.
    pub bestsellers: Vec<BestsellerEvent>,
    /// Alerts, ordered by listing.
    pub alerts: Vec<LeakAlert>,
    /// Copies of bestsellers listed on or before the onset.
    pub pre_existing: Vec<LeakAlert>,
    /// Copies listed after the onset but outside the window.
    pub outside_window: Vec<LeakAlert>,
    /// Seller statistics, ordered by seller id.
    pub sellers: Vec<SellerFinding>,
    /// Category statistics (categories of the copied home products), ordered by category.
    pub categories: Vec<CategoryFinding>,
    /// The control group of each bestseller.
    pub controls: Vec<ControlGroup>,
    /// Weekly sales of the top alerted bestsellers with their copies, for the HTML report.
    pub curves: Vec<SalesCurve>,
    /// The match model used.
    pub model: MatchModel,
    /// Candidate pairs put to the analyst (`review_pairs.csv`), least sure first.
    #[serde(default)]
    pub review: Vec<ReviewPair>,
    /// The rates listing prices in other currencies were converted with into the home
    /// currency before prices were compared.
    #[serde(default)]
    pub exchange_rates: ExchangeRates,
}

/// Sales curves drawn in the HTML report.
const TOP_CURVES: usize = 6;

impl Report {
    /// The report's tables as polars DataFrames, each named by the stem of the file
    /// [`Report::write`] gives it: `alerts`, `sellers`, `categories`, `bestsellers`,
    /// `rejected_rows` and `review_pairs`, in that order. Dates are `Date` columns.
    pub fn tables(&self) -> Result<Vec<(&'static str, polars::prelude::DataFrame)>> {
        Ok(vec![
            ("alerts", report::alerts_frame(&self.alerts)?),
            ("sellers", report::sellers_frame(&self.sellers)?),
            ("categories", report::categories_frame(&self.categories)?),
            ("bestsellers", report::bestsellers_frame(&self.bestsellers)?),
            (
                "rejected_rows",
                report::rejected_frame(&self.ingest.rejected)?,
            ),
            ("review_pairs", report::review_frame(&self.review)?),
        ])
    }

    /// Writes each of [`Report::tables`] as CSV (`alerts.csv` and so on; alerts, sellers and
    /// categories also as Parquet), `report.json` and the self-contained `report.html` into
    /// `dir`, creating it if needed.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for (name, mut table) in self.tables()? {
            report::write_csv(&mut table, &dir.join(format!("{name}.csv")))?;
            if matches!(name, "alerts" | "sellers" | "categories") {
                report::write_parquet(&mut table, &dir.join(format!("{name}.parquet")))?;
            }
        }
        report::write_json(self, &dir.join("report.json"))?;
        let html = dir.join("report.html");
        std::fs::write(&html, self.html()?).map_err(|e| Error::io(&html, e))
    }

    /// The self-contained HTML report.
    pub fn html(&self) -> Result<String> {
        let s = &self.summary;
        let row = |k: &str, v: String| (k.to_string(), v);
        let leak = &self.params.leak;
        let tested = (self.sellers.iter())
            .filter(|f| leak.tests(f.stats.bestseller_copies))
            .count();
        let most = (self.sellers.iter())
            .map(|f| f.stats.permutations)
            .max()
            .unwrap_or(0);
        let permutations = if most > leak.permutations {
            format!(
                "{}; up to {most} where fewer than 10 of those reached the observed statistic",
                leak.permutations
            )
        } else {
            leak.permutations.to_string()
        };
        let summary = [
            row("home products", s.products.to_string()),
            row("sales rows", s.sales_rows.to_string()),
            row("foreign listings", s.listings.to_string()),
            row("bestseller onsets", s.bestsellers.to_string()),
            row(
                "listings matched to a home product",
                s.matched_listings.to_string(),
            ),
            row("alerts (copies following an onset)", s.alerts.to_string()),
            row(
                "pre-existing copies (never alerts)",
                s.pre_existing.to_string(),
            ),
            row("copies outside the window", s.outside_window.to_string()),
            row(
                "sellers flagged",
                format!("{} of {}", s.flagged_sellers, s.sellers),
            ),
            row(
                "categories flagged",
                format!("{} of {}", s.flagged_categories, s.categories),
            ),
            row(
                "false discovery rate (alpha)",
                self.params.leak.alpha.to_string(),
            ),
            row(
                "sellers tested (enough bestseller copies to be flagged)",
                format!("{} of {}", tested, s.sellers),
            ),
            row("permutations per seller", permutations),
        ];
        let mut summary = summary.to_vec();
        let rates = &self.exchange_rates;
        if !rates.rates.is_empty() {
            summary.push((rates.title(), rates.listed()));
        }
        let params_json = serde_json::to_string_pretty(&self.params)?;
        report::html::render(&HtmlReport {
            summary: &summary,
            sellers: &self.sellers,
            categories: &self.categories,
            alerts: &self.alerts,
            curves: &self.curves,
            ingest: &self.ingest,
            params_json: &params_json,
            window: (self.params.leak.min_lag_days, self.params.leak.max_lag_days),
            min_lift: self.params.leak.min_lift,
        })
    }
}

/// The detector: bestseller onsets, candidate generation, matching, temporal linking and seller
/// statistics in one call.
#[derive(Clone)]
pub struct Detector {
    params: DetectorParams,
    model: Option<MatchModel>,
    progress: Arc<dyn Progress>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("params", &self.params)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl Detector {
    /// A detector with checked parameters.
    pub fn new(params: DetectorParams) -> Result<Detector> {
        params.check()?;
        Ok(Detector {
            params,
            model: None,
            progress: Arc::new(Silent),
        })
    }

    /// Reports the run's stages to `progress` (see [`Stage`]); nothing is reported by default.
    #[must_use]
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Detector {
        self.progress = progress;
        self
    }

    /// Uses a fitted match model instead of fitting the unsupervised one on each run.
    #[must_use]
    pub fn with_model(mut self, model: MatchModel) -> Detector {
        self.model = Some(model);
        self
    }

    /// The parameters.
    pub fn params(&self) -> &DetectorParams {
        &self.params
    }

    /// Reads the three input files and runs. The home sales and products are read whole; the
    /// foreign catalog is streamed from its file a chunk at a time, once to count and validate
    /// it, then for matching (see [`MatchParams::fit_listings`]), so the catalog is never held
    /// whole unless it is small enough to fit the model on all of it. The file must not change
    /// while the run reads it.
    pub fn run_files(&self, paths: &InputPaths, columns: &ColumnsConfig) -> Result<Report> {
        let home = self.fit_home_files(paths, columns)?;
        self.detect_file(&home, &paths.catalog, &columns.catalog)
    }

    /// Runs on validated inputs.
    pub fn run(&self, inputs: Inputs) -> Result<Report> {
        let Inputs {
            sales,
            products,
            catalog,
            report,
        } = inputs;
        let home = self.fit_home(HomeInputs {
            sales,
            products,
            report,
        })?;
        self.detect(&home, catalog)
    }

    /// Reads the home sales and products of `paths` (its catalog is not read) and fits the
    /// home side: see [`Detector::fit_home`].
    pub fn fit_home_files(
        &self,
        paths: &InputPaths,
        columns: &ColumnsConfig,
    ) -> Result<FittedHome> {
        let running = Running::start(&*self.progress, Stage::Home, None);
        let home = HomeInputs::load(paths, columns)?;
        running.finish();
        self.fit_home(home)
    }

    /// Fits the home side once: products in id order, the daily demand grid, the bestseller
    /// onsets and the matching index of the home titles. [`Detector::detect`] and
    /// [`Detector::detect_file`] then run it against any number of foreign catalogs, with the
    /// findings a whole run on each would give.
    pub fn fit_home(&self, home: HomeInputs) -> Result<FittedHome> {
        self.in_pool(|| self.fit_home_in_pool(home))
    }

    /// Runs the foreign catalog of `path` against a fitted home side, streaming it a chunk at
    /// a time as [`Detector::run_files`] does. The home side must have been fitted by a
    /// detector with the same trend and matching parameters and model.
    pub fn detect_file(
        &self,
        home: &FittedHome,
        path: &Path,
        columns: &ColumnMap,
    ) -> Result<Report> {
        self.check_home(home)?;
        self.in_pool(|| self.detect_in_pool(home, Listings::File { path, columns }))
    }

    /// Runs validated foreign listings, held in memory, against a fitted home side (see
    /// [`Detector::detect_file`]).
    pub fn detect(&self, home: &FittedHome, catalog: Catalog) -> Result<Report> {
        self.check_home(home)?;
        // Row order must not matter: the listings are put in id order.
        let catalog = catalog.sorted_by_id();
        self.in_pool(|| self.detect_in_pool(home, Listings::Memory(&catalog)))
    }

    fn check_home(&self, home: &FittedHome) -> Result<()> {
        let p = &self.params;
        let logistic = matches!(self.model, Some(MatchModel::Logistic(_)));
        if home.params.trend != p.trend
            || home.params.matching != p.matching
            || home.logistic != logistic
        {
            return Err(Error::Config(
                "the home side was fitted with other trend or matching parameters or another kind of match model: fit it with this detector".into(),
            ));
        }
        Ok(())
    }

    fn in_pool<T: Send>(&self, run: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.params.threads)
            .build()
            .map_err(|e| Error::Config(format!("thread pool: {e}")))?;
        // Stage spans go to the caller's `tracing` subscriber, also when it is set for the
        // calling thread only.
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        pool.install(|| tracing::dispatcher::with_default(&dispatch, run))
    }

    fn fit_home_in_pool(&self, home: HomeInputs) -> Result<FittedHome> {
        let p = &self.params;
        let HomeInputs {
            sales,
            products,
            report: ingest,
        } = home;
        // Row order must not matter: products are put in id order, sales rows are summed in
        // (product, date) order by the grid.
        let products = products.sorted_by_id();

        for (table, accepted) in [
            (TableKind::Sales, sales.len()),
            (TableKind::Products, products.len()),
        ] {
            if accepted == 0 {
                return Err(no_rows(&ingest, table));
            }
        }

        // Trend: onsets from the sales series.
        let progress = &*self.progress;
        let running = Running::start(progress, Stage::HomeSide, None);
        let grid = DemandGrid::build(&sales, &products);
        let sales_rows = sales.len();
        drop(sales);
        let bestsellers = trend::detect_onsets(&grid, &products, &p.trend);

        // The home side of matching: the TF-IDF model and index of the home titles.
        let logistic = matches!(self.model, Some(MatchModel::Logistic(_)));
        let scorer = ListingScorer::new(&products, &p.matching, logistic);
        running.finish();
        Ok(FittedHome {
            params: p.clone(),
            logistic,
            products,
            grid,
            sales_rows,
            bestsellers,
            scorer,
            ingest,
            matching_only: false,
        })
    }

    /// The run's steps over the listings, one chunk at a time as a cluster job runs them one
    /// partition at a time (see [`engine`]): survey, the fitting sample's pass, the fit, the
    /// other listings' pass, the report.
    fn detect_in_pool(&self, home: &FittedHome, listings: Listings<'_>) -> Result<Report> {
        // A first pass over the listings validates them and counts what the statistics need.
        let progress = &*self.progress;
        let running = Running::start(progress, Stage::Survey, listings.known_len());
        let mut survey = Survey::new(home);
        let mut read = IngestReport::default();
        listings.for_each_chunk(&mut read, |c, rows| {
            progress.advance(rows.len() as u64);
            survey.add(c, rows)
        })?;
        let mut rejected = read.rejected;
        for t in read.tables {
            let (these, others) = rejected.into_iter().partition(|r| r.table == t.table);
            rejected = others;
            survey.record_read(&t.path, t.rows_read, these);
        }
        running.finish();

        // Matching: the model is fitted on every listing when there are at most
        // `fit_listings`, else on those whose id fingerprints are the `fit_listings`
        // smallest; in id order either way. Each listing is scored once: the sample's pairs
        // are kept for prediction.
        let sample = self.sample(&survey);
        let mut scores = Vec::new();
        let running = (!sample.is_empty() && survey.listings() > 0).then(|| {
            Running::start(
                progress,
                Stage::Fit,
                Some(survey.listings().min(self.params.matching.fit_listings) as u64),
            )
        });
        if running.is_some() {
            listings.for_each_chunk(&mut IngestReport::default(), |c, rows| {
                let part = SampleScores::of(home, sample, c, rows)?;
                progress.advance(part.listings() as u64);
                scores.push(part);
                Ok(())
            })?;
        }
        let fitted = self.fit_sample_in_pool(home, &survey, scores)?;
        if let Some(running) = running {
            running.finish();
        }
        // The listings outside the sample, matched with the fitted model.
        let mut matched = Vec::new();
        if fitted.fit_listings() < survey.listings() {
            let running = Running::start(
                progress,
                Stage::Match,
                Some((survey.listings() - fitted.fit_listings()) as u64),
            );
            listings.for_each_chunk(&mut IngestReport::default(), |c, rows| {
                let n = rows
                    .clone()
                    .filter(|&i| !fitted.plan().sample().contains(&c.id[i]))
                    .count();
                matched.push(Matched::of(home, fitted.plan(), c, rows));
                progress.advance(n as u64);
                Ok(())
            })?;
            running.finish();
        }

        // Leak: temporal linking and seller statistics.
        let running = Running::start(progress, Stage::Evidence, None);
        let report = self.finish_in_pool(home, &survey, fitted, matched)?;
        running.finish();
        Ok(report)
    }
}

/// What a worker of a cluster job needs to rebuild the home side, as JSON: the home files'
/// paths on the driver, the column maps, the detector parameters and a digest of all of them
/// (file bytes included). A worker fits the home side from its own copies of the files with
/// [`HomeSpec::fit`] (or only its matching half, all the per-partition steps of
/// [`engine`] need, with [`HomeSpec::fit_matching`]), which refuses copies or parameters that
/// do not match the digest, so every worker scores against the same home side as the driver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeSpec {
    /// Sales file, as named on the driver.
    pub sales: PathBuf,
    /// Home products file, as named on the driver.
    pub products: PathBuf,
    /// Column maps of the tables.
    pub columns: ColumnsConfig,
    /// Detector parameters.
    pub params: DetectorParams,
    /// SipHash-2-4 (128 bits, hex) of the two files' bytes, the column maps and the parameters
    /// other than the thread count.
    pub digest: String,
}

impl HomeSpec {
    /// The spec of the home files of `paths` (its catalog is not read) under `columns` and
    /// `params`, which are checked as [`Detector::new`] checks them.
    pub fn new(
        paths: &InputPaths,
        columns: &ColumnsConfig,
        params: &DetectorParams,
    ) -> Result<HomeSpec> {
        Detector::new(params.clone())?;
        columns.check()?;
        let digest = home_digest(&paths.sales, &paths.products, columns, params)?;
        Ok(HomeSpec {
            sales: paths.sales.clone(),
            products: paths.products.clone(),
            columns: columns.clone(),
            params: params.clone(),
            digest,
        })
    }

    /// The detector of the spec's parameters: the one to run [`Detector::detect`] with.
    pub fn detector(&self) -> Result<Detector> {
        Detector::new(self.params.clone())
    }

    /// Fits the home side from local copies of the spec's files (`sales` and `products`, or
    /// the spec's own paths when the files are where the driver had them). Copies whose bytes,
    /// or a spec whose columns or parameters, do not give the spec's digest are an error.
    pub fn fit(&self, sales: &Path, products: &Path) -> Result<FittedHome> {
        self.check_digest(sales, products)?;
        let paths = InputPaths {
            sales: sales.to_path_buf(),
            products: products.to_path_buf(),
            catalog: PathBuf::new(),
        };
        self.detector()?.fit_home_files(&paths, &self.columns)
    }
}

impl HomeSpec {
    /// Fits only the matching half of the home side from local copies of the spec's files,
    /// checked against the digest as by [`HomeSpec::fit`]: the home products and the index of
    /// their titles; the sales are hashed but not read, so no demand grid and no onsets.
    /// That is all the per-partition steps of a partitioned run need ([`engine::Survey::add`],
    /// [`engine::SampleScores::of`], [`engine::Matched::of`]), in a fraction of the memory
    /// and time; [`Detector::finish`] (and so [`Detector::detect`]) refuses it.
    pub fn fit_matching(&self, sales: &Path, products: &Path) -> Result<FittedHome> {
        self.check_digest(sales, products)?;
        let detector = self.detector()?;
        detector.in_pool(|| {
            let mut ingest = IngestReport::default();
            let products = crate::ingest::read_catalog(
                products,
                TableKind::Products,
                &self.columns.products,
                &mut ingest,
            )?
            .sorted_by_id();
            if products.is_empty() {
                return Err(no_rows(&ingest, TableKind::Products));
            }
            let scorer = ListingScorer::new(&products, &self.params.matching, false);
            Ok(FittedHome {
                params: self.params.clone(),
                logistic: false,
                products,
                grid: DemandGrid {
                    start: Date(0),
                    days: 0,
                    units: Vec::new(),
                    measure: Vec::new(),
                },
                sales_rows: 0,
                bestsellers: Vec::new(),
                scorer,
                ingest,
                matching_only: true,
            })
        })
    }

    /// Refuses copies of the home files, or a spec, that do not give the spec's digest.
    fn check_digest(&self, sales: &Path, products: &Path) -> Result<()> {
        let digest = home_digest(sales, products, &self.columns, &self.params)?;
        if digest != self.digest {
            return Err(Error::Config(format!(
                "the home files {} and {} with this spec's columns and parameters give digest {digest}, not the spec's {}: the copies or the spec differ from the driver's",
                sales.display(),
                products.display(),
                self.digest
            )));
        }
        Ok(())
    }
}

/// The digest of [`HomeSpec`]: each file's length and bytes, then the column maps and the
/// parameters (all but the thread count) as JSON, under SipHash-2-4 with 128-bit output and
/// fixed keys.
fn home_digest(
    sales: &Path,
    products: &Path,
    columns: &ColumnsConfig,
    params: &DetectorParams,
) -> Result<String> {
    use siphasher::sip128::{Hasher128, SipHasher24};
    use std::hash::Hasher;
    use std::io::Read;
    let mut h = SipHasher24::new_with_keys(0x6372_6f73_736c_6561, 0x6b68_6f6d_6520_7631);
    for path in [sales, products] {
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        h.write_u64(len);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            h.write(&buf[..n]);
        }
    }
    // The thread count changes no result: a worker may use its own.
    let params = DetectorParams {
        threads: DetectorParams::default().threads,
        ..params.clone()
    };
    for json in [
        serde_json::to_string(columns),
        serde_json::to_string(&params),
    ] {
        let json = json.map_err(|e| Error::Config(format!("home spec: {e}")))?;
        h.write_u64(json.len() as u64);
        h.write(json.as_bytes());
    }
    Ok(format!("{:032x}", h.finish128().as_u128()))
}

/// The home side of a run, fitted once by [`Detector::fit_home`] and reused against any number
/// of foreign catalogs: the home products in id order, their daily demand grid, the bestseller
/// onsets, the matching index of their titles and the row accounting of the home tables.
#[derive(Clone, Debug)]
pub struct FittedHome {
    params: DetectorParams,
    logistic: bool,
    products: Catalog,
    grid: DemandGrid,
    sales_rows: usize,
    bestsellers: Vec<BestsellerEvent>,
    scorer: ListingScorer,
    ingest: IngestReport,
    /// Fitted by [`HomeSpec::fit_matching`]: products and index only.
    matching_only: bool,
}

impl FittedHome {
    /// The home products, in id order.
    pub fn products(&self) -> &Catalog {
        &self.products
    }

    /// The bestseller onsets found in the home sales.
    pub fn bestsellers(&self) -> &[BestsellerEvent] {
        &self.bestsellers
    }

    /// Row accounting of the home tables.
    pub fn ingest(&self) -> &IngestReport {
        &self.ingest
    }
}

/// The foreign listings of a run: validated and held in memory in id order, or in a file that
/// is read again, a chunk at a time, for each pass.
enum Listings<'a> {
    Memory(&'a Catalog),
    File {
        path: &'a Path,
        columns: &'a ColumnMap,
    },
}

impl Listings<'_> {
    /// Calls `each` with every chunk of listings (a catalog and the rows of it to take), in
    /// order; rows read from a file are validated on the way and accounted in `report`.
    fn for_each_chunk(
        &self,
        report: &mut IngestReport,
        mut each: impl FnMut(&Catalog, Range<usize>) -> Result<()>,
    ) -> Result<()> {
        match self {
            Listings::Memory(catalog) => {
                for start in (0..catalog.len()).step_by(LISTING_CHUNK) {
                    each(catalog, start..(start + LISTING_CHUNK).min(catalog.len()))?;
                }
                Ok(())
            }
            Listings::File { path, columns } => read_catalog_chunks(
                path,
                TableKind::Catalog,
                columns,
                LISTING_CHUNK,
                report,
                |chunk| each(&chunk, 0..chunk.len()),
            ),
        }
    }

    /// The number of listings when they are in memory.
    fn known_len(&self) -> Option<u64> {
        match self {
            Listings::Memory(catalog) => Some(catalog.len() as u64),
            Listings::File { .. } => None,
        }
    }
}

/// Up to `n` listings of `catalog` whose match the model is least sure of (the probability
/// that they copy one of their candidates closest to 1/2; ties by listing id), each with its
/// most probable candidate, leaving out listings with a labelled pair.
fn review_pairs(
    catalog: &Catalog,
    products: &Catalog,
    pairs: &[CandidatePair],
    prob: &[f64],
    labels: &[Option<bool>],
    n: usize,
) -> Vec<ReviewPair> {
    let mut open: Vec<(f64, usize, f64)> = query_runs(pairs)
        .filter(|run| labels.is_empty() || labels[run.clone()].iter().all(Option::is_none))
        .map(|run| {
            let p: f64 = prob[run.clone()].iter().sum();
            let best = run
                .clone()
                .max_by(|&a, &b| prob[a].total_cmp(&prob[b]).then(b.cmp(&a)))
                .unwrap_or(run.start);
            ((p - 0.5).abs(), best, p)
        })
        .collect();
    open.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then_with(|| catalog.id[pairs[a.1].query].cmp(&catalog.id[pairs[b.1].query]))
    });
    open.into_iter()
        .take(n)
        .map(|(_, i, probability)| {
            let (q, t) = (pairs[i].query, pairs[i].target);
            ReviewPair {
                listing_id: catalog.id[q].clone(),
                product_id: products.id[t].clone(),
                listing_title: catalog.title[q].clone(),
                product_title: products.title[t].clone(),
                probability,
            }
        })
        .collect()
}

/// The weekly sales of the top alerted bestsellers: most alerts from flagged sellers, then most
/// alerts, then product order.
fn sales_curves(
    grid: &DemandGrid,
    products: &Catalog,
    alerts: &[LeakAlert],
    sellers: &[SellerFinding],
) -> Vec<SalesCurve> {
    let flagged: std::collections::BTreeSet<&str> = sellers
        .iter()
        .filter(|s| s.stats.flagged)
        .map(|s| s.seller_id.as_str())
        .collect();
    let mut by_product: std::collections::BTreeMap<usize, Vec<&LeakAlert>> =
        std::collections::BTreeMap::new();
    for a in alerts {
        by_product.entry(a.product).or_default().push(a);
    }
    let mut ranked: Vec<(usize, usize, usize)> = by_product
        .iter()
        .map(|(&p, v)| {
            let from_flagged = v
                .iter()
                .filter(|a| a.seller_id.as_deref().is_some_and(|s| flagged.contains(s)))
                .count();
            (p, from_flagged, v.len())
        })
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    let weeks = grid.days / 7;
    ranked
        .into_iter()
        .take(TOP_CURVES)
        .filter_map(|(p, _, _)| {
            let daily = grid.units.get(p)?;
            let copies = &by_product[&p];
            Some(SalesCurve {
                product_id: products.id.get(p)?.clone(),
                title: products.title.get(p)?.clone(),
                onset: copies.first()?.onset,
                start: grid.start,
                weekly_units: (0..weeks)
                    .map(|w| daily[w * 7..w * 7 + 7].iter().map(|&u| f64::from(u)).sum())
                    .collect(),
                copies: copies
                    .iter()
                    .map(|a| CopyMark {
                        listing_id: a.listing_id.clone(),
                        seller_id: a.seller_id.clone(),
                        listed_at: a.listed_at,
                        lag_days: a.lag_days,
                    })
                    .collect(),
            })
        })
        .collect()
}

/// The error for a table with no accepted row, naming the first rejected one.
fn no_rows(ingest: &IngestReport, table: TableKind) -> Error {
    let table = table.name();
    let rows = ingest
        .tables
        .iter()
        .filter(|t| t.table == table)
        .map(|t| t.rows_read)
        .sum();
    let first = ingest
        .rejected
        .iter()
        .find(|r| r.table == table)
        .map_or(String::new(), |r| {
            format!(
                "; first rejected: row {}, column `{}`: {}",
                r.row, r.column, r.reason
            )
        });
    Error::NoAcceptedRows {
        table: table.into(),
        rows,
        first,
    }
}

/// The date listing `i` of `catalog` was first seen; a foreign listing must have one.
fn listing_date(catalog: &Catalog, i: usize) -> Result<Date> {
    catalog.listed_at[i].ok_or_else(|| Error::BadValue {
        table: catalog.kind.name().into(),
        row: catalog.source_row.get(i).copied().unwrap_or(i + 1),
        column: "listed_at".into(),
        reason: "a foreign listing needs the date it was first seen".into(),
    })
}

/// Posterior a match of the fitting sample needs for its prices to teach an exchange rate.
const RATE_CONFIDENCE: f64 = 0.9;

/// Sets the price features of `pairs` again, from `listings`: the prices of their queries,
/// converted into the home currency.
fn reprice(
    scorer: &ListingScorer,
    listings: &[RecordAttrs],
    pairs: &[CandidatePair],
    features: &mut PairFeatures,
) {
    let (price, has) = (Feature::PriceSimilarity.index(), Feature::HasPrice.index());
    for (i, c) in pairs.iter().enumerate() {
        let similarity = price_similarity(&listings[c.query], scorer.home_attrs(c.target));
        features.x[[i, price]] = similarity.unwrap_or(0.0);
        features.x[[i, has]] = f64::from(u8::from(similarity.is_some()));
    }
}

fn attrs(normalizer: &Normalizer, c: &Catalog, rows: Range<usize>) -> Vec<RecordAttrs> {
    rows.into_par_iter()
        .map(|i| {
            RecordAttrs::new(
                normalizer,
                c.brand[i].as_deref(),
                c.category[i].as_deref(),
                c.price[i],
                c.currency[i].as_deref(),
                c.image_phash[i],
            )
        })
        .collect()
}
