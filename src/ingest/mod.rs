//! Ingest: lazy polars scans of CSV or Parquet, column mapping, validation, rejected rows and the
//! ingest report.
//!
//! Every row read is either accepted into a typed table or recorded as a [`RejectedRow`] with
//! its 1-based data row number (header excluded) and the reason, so that for every table
//! `rows_read == accepted + rejected`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use polars::prelude::{
    col, Column, DataFrame, DataType, Engine, Expr, Float64Chunked, Int32Chunked, Int64Chunked,
    IntoLazy, LazyCsvReader, LazyFileListReader, LazyFrame, PlRefPath, PlanCallback, PolarsError,
    PolarsResult, ScanArgsParquet, StringChunked, UInt64Chunked,
};
use serde::{Deserialize, Serialize};

use crate::{Date, Error, Result};

mod read;
mod validate;

use read::*;
pub use read::{read_text_table, text_column};
pub use validate::parse_phash;
use validate::*;

/// Which input table a file plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    /// Home-market sales, long form.
    Sales,
    /// Home-market product catalog.
    Products,
    /// Foreign or cross-border listings.
    Catalog,
}

impl TableKind {
    /// The table's name as used in messages and reports.
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Sales => "sales",
            TableKind::Products => "products",
            TableKind::Catalog => "catalog",
        }
    }

    /// Logical columns this table must have. For sales, `units` may be absent when `revenue` is
    /// present: the demand series is then built from revenue (see [`SalesPanel::units`]).
    pub fn required(self) -> &'static [&'static str] {
        match self {
            TableKind::Sales => &["product_id", "date", "units"],
            TableKind::Products => &["product_id", "title"],
            TableKind::Catalog => &["listing_id", "title", "listed_at"],
        }
    }

    /// Logical columns this table may have.
    pub fn optional(self) -> &'static [&'static str] {
        match self {
            TableKind::Sales => &["revenue", "price"],
            TableKind::Products => &[
                "description",
                "category",
                "brand",
                "price",
                "currency",
                "seller_id",
                "image_phash",
                "listed_at",
            ],
            TableKind::Catalog => &[
                "description",
                "category",
                "brand",
                "price",
                "currency",
                "seller_id",
                "origin_country",
                "image_phash",
            ],
        }
    }
}

/// Renames for one table: logical column name (as in the data contract) -> column in the file.
/// Columns not named here are looked up under their logical name.
pub type ColumnMap = BTreeMap<String, String>;

/// Column renames for the three tables, as read from the `[columns]` part of a config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnsConfig {
    /// Renames for the sales table.
    pub sales: ColumnMap,
    /// Renames for the home products table.
    pub products: ColumnMap,
    /// Renames for the foreign catalog table.
    pub catalog: ColumnMap,
}

impl ColumnsConfig {
    /// Checks the three maps in the order sales, products, catalog (`validate_column_map`).
    pub fn check(&self) -> Result<()> {
        validate_column_map(TableKind::Sales, &self.sales)?;
        validate_column_map(TableKind::Products, &self.products)?;
        validate_column_map(TableKind::Catalog, &self.catalog)
    }
}

/// Home-market sales in long form, stored compactly (24 bytes a row). [`read_sales`] fills it
/// with the accepted rows summed per product, date and kind of row within each chunk of the
/// file, so a row's `source_row` is the first file row of its sum; [`SalesPanel::push`]
/// appends rows as given. Product ids are stored once and each row holds the index of its id
/// (a long sales table repeats a few ids millions of times); a missing units or revenue value
/// is a NaN in its column rather than an `Option`; source rows are kept as runs of consecutive
/// numbers, one run for a file read in order whatever its length.
#[derive(Clone, Debug, Default)]
pub struct SalesPanel {
    /// Distinct product ids, in order of first appearance.
    ids: Vec<String>,
    /// Position of each id in `ids`.
    lookup: HashMap<String, u32>,
    /// Per row: index into `ids`.
    product: Vec<u32>,
    /// Date of each row.
    date: Vec<Date>,
    /// Units sold (finite, >= 0), NaN when the row gives only revenue.
    units: Vec<f64>,
    /// Revenue (finite, >= 0), NaN when the row gives none.
    revenue: Vec<f64>,
    /// Source row numbers.
    rows: RowRuns,
}

/// One row of a [`SalesPanel`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SalesRow<'a> {
    /// Home product id.
    pub product_id: &'a str,
    /// Day of the sales.
    pub date: Date,
    /// Units sold; `None` when the row gives only revenue.
    pub units: Option<f64>,
    /// Revenue, when given. Every accepted row has units, revenue or both.
    pub revenue: Option<f64>,
    /// 1-based data row number in the source file (of a sum of rows: its first row).
    pub source_row: usize,
}

/// A value for a column that marks a missing value with NaN.
fn or_nan(value: Option<f64>) -> f64 {
    value.filter(|x| !x.is_nan()).unwrap_or(f64::NAN)
}

/// The value of a column that marks a missing value with NaN.
fn present(value: f64) -> Option<f64> {
    (!value.is_nan()).then_some(value)
}

impl PartialEq for SalesPanel {
    /// Equal when the rows are: same ids, dates, values (bit for bit) and source rows, in order.
    fn eq(&self, other: &SalesPanel) -> bool {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        self.len() == other.len()
            && self.product_ids().eq(other.product_ids())
            && self.date == other.date
            && bits(&self.units) == bits(&other.units)
            && bits(&self.revenue) == bits(&other.revenue)
            && self.rows.iter().eq(other.rows.iter())
    }
}

impl SalesPanel {
    /// Appends one row. A value that is `Some(NaN)` is stored as missing.
    pub fn push(
        &mut self,
        product_id: &str,
        date: Date,
        units: Option<f64>,
        revenue: Option<f64>,
        source_row: usize,
    ) {
        let code = self.code(product_id);
        self.push_code(code, date, units, revenue, source_row);
    }

    /// The index of `product_id` in [`SalesPanel::distinct_ids`], added when new.
    fn code(&mut self, product_id: &str) -> u32 {
        match self.lookup.get(product_id) {
            Some(&code) => code,
            None => {
                let code = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
                self.ids.push(product_id.to_string());
                self.lookup.insert(product_id.to_string(), code);
                code
            }
        }
    }

    fn push_code(
        &mut self,
        code: u32,
        date: Date,
        units: Option<f64>,
        revenue: Option<f64>,
        source_row: usize,
    ) {
        self.product.push(code);
        self.date.push(date);
        self.units.push(or_nan(units));
        self.revenue.push(or_nan(revenue));
        self.rows.push(source_row);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.product.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.product.is_empty()
    }

    /// Row `row` (panics when `row >= len()`).
    pub fn row(&self, row: usize) -> SalesRow<'_> {
        SalesRow {
            product_id: self.product_id(row),
            date: self.date[row],
            units: self.units(row),
            revenue: self.revenue(row),
            source_row: self.rows.get(row),
        }
    }

    /// Every row, in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = SalesRow<'_>> + '_ {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, source_row)| SalesRow {
                product_id: self.product_id(i),
                date: self.date[i],
                units: self.units(i),
                revenue: self.revenue(i),
                source_row,
            })
    }

    /// Product id of row `row`.
    pub fn product_id(&self, row: usize) -> &str {
        &self.ids[self.product[row] as usize]
    }

    /// Product id of every row, in row order.
    pub fn product_ids(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.product.iter().map(|&c| self.ids[c as usize].as_str())
    }

    /// Date of every row, in row order.
    pub fn dates(&self) -> &[Date] {
        &self.date
    }

    /// Units of row `row`; `None` when it gives only revenue.
    #[inline]
    pub fn units(&self, row: usize) -> Option<f64> {
        present(self.units[row])
    }

    /// Revenue of row `row`, when given.
    #[inline]
    pub fn revenue(&self, row: usize) -> Option<f64> {
        present(self.revenue[row])
    }

    /// The distinct product ids, in order of first appearance.
    pub(crate) fn distinct_ids(&self) -> &[String] {
        &self.ids
    }

    /// Per row, the index of its id in [`SalesPanel::distinct_ids`].
    pub(crate) fn id_codes(&self) -> &[u32] {
        &self.product
    }
}

/// Row numbers as runs of consecutive numbers: `(first index, first row number)` per run.
#[derive(Clone, Debug, Default)]
struct RowRuns {
    runs: Vec<(usize, usize)>,
    len: usize,
}

impl RowRuns {
    fn push(&mut self, row: usize) {
        let extends = self
            .runs
            .last()
            .is_some_and(|&(at, first)| first + (self.len - at) == row);
        if !extends {
            self.runs.push((self.len, row));
        }
        self.len += 1;
    }

    /// Row number of index `i < len`.
    fn get(&self, i: usize) -> usize {
        let run = self.runs.partition_point(|&(at, _)| at <= i) - 1;
        let (at, first) = self.runs[run];
        first + (i - at)
    }

    /// Every row number, in index order.
    fn iter(&self) -> RowIter<'_> {
        RowIter {
            runs: &self.runs,
            len: self.len,
            i: 0,
            run: 0,
        }
    }
}

/// The row numbers of a [`RowRuns`], in index order.
struct RowIter<'a> {
    runs: &'a [(usize, usize)],
    len: usize,
    i: usize,
    run: usize,
}

impl Iterator for RowIter<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.i >= self.len {
            return None;
        }
        while self
            .runs
            .get(self.run + 1)
            .is_some_and(|&(at, _)| at <= self.i)
        {
            self.run += 1;
        }
        let (at, first) = self.runs[self.run];
        self.i += 1;
        Some(first + (self.i - 1 - at))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.i;
        (left, Some(left))
    }
}

impl ExactSizeIterator for RowIter<'_> {}

/// A product catalog: the home products or the foreign listings (same shape, different roles).
#[derive(Clone, Debug, PartialEq)]
pub struct Catalog {
    /// Which table this is.
    pub kind: TableKind,
    /// `product_id` (home) or `listing_id` (foreign); unique, non-empty.
    pub id: Vec<String>,
    /// Title, non-empty.
    pub title: Vec<String>,
    /// Optional description.
    pub description: Vec<Option<String>>,
    /// Optional category.
    pub category: Vec<Option<String>>,
    /// Optional brand.
    pub brand: Vec<Option<String>>,
    /// Optional price (finite, >= 0).
    pub price: Vec<Option<f64>>,
    /// Optional currency code.
    pub currency: Vec<Option<String>>,
    /// Optional seller id.
    pub seller_id: Vec<Option<String>>,
    /// Optional origin country (foreign listings).
    pub origin_country: Vec<Option<String>>,
    /// Optional 64-bit perceptual image hash.
    pub image_phash: Vec<Option<u64>>,
    /// Date first listed (required for foreign listings, optional for home products).
    pub listed_at: Vec<Option<Date>>,
    /// 1-based data row number in the source file.
    pub source_row: Vec<usize>,
}

impl Catalog {
    /// The same records ordered by id. The detector works on catalogs in this order, so that
    /// nothing it computes depends on the order of the file's rows (`source_row` still points
    /// into the file).
    #[must_use]
    pub(crate) fn sorted_by_id(self) -> Catalog {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_unstable_by(|&a, &b| self.id[a].cmp(&self.id[b]).then(a.cmp(&b)));
        if order.iter().enumerate().all(|(k, &i)| k == i) {
            return self;
        }
        self.select(&order)
    }

    /// The records at `rows`, in that order (a row may repeat; each must be `< len()`).
    #[must_use]
    pub fn select(&self, rows: &[usize]) -> Catalog {
        fn pick<T: Clone>(column: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&i| column[i].clone()).collect()
        }
        Catalog {
            kind: self.kind,
            id: pick(&self.id, rows),
            title: pick(&self.title, rows),
            description: pick(&self.description, rows),
            category: pick(&self.category, rows),
            brand: pick(&self.brand, rows),
            price: pick(&self.price, rows),
            currency: pick(&self.currency, rows),
            seller_id: pick(&self.seller_id, rows),
            origin_country: pick(&self.origin_country, rows),
            image_phash: pick(&self.image_phash, rows),
            listed_at: pick(&self.listed_at, rows),
            source_row: pick(&self.source_row, rows),
        }
    }

    /// Moves the records of `other` (of the same kind) to the end of this catalog.
    pub fn append(&mut self, mut other: Catalog) {
        self.id.append(&mut other.id);
        self.title.append(&mut other.title);
        self.description.append(&mut other.description);
        self.category.append(&mut other.category);
        self.brand.append(&mut other.brand);
        self.price.append(&mut other.price);
        self.currency.append(&mut other.currency);
        self.seller_id.append(&mut other.seller_id);
        self.origin_country.append(&mut other.origin_country);
        self.image_phash.append(&mut other.image_phash);
        self.listed_at.append(&mut other.listed_at);
        self.source_row.append(&mut other.source_row);
    }

    /// An empty catalog of the given kind.
    pub fn new(kind: TableKind) -> Self {
        Catalog {
            kind,
            id: Vec::new(),
            title: Vec::new(),
            description: Vec::new(),
            category: Vec::new(),
            brand: Vec::new(),
            price: Vec::new(),
            currency: Vec::new(),
            seller_id: Vec::new(),
            origin_country: Vec::new(),
            image_phash: Vec::new(),
            listed_at: Vec::new(),
            source_row: Vec::new(),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.id.len()
    }

    /// True when the catalog has no rows.
    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }
}

/// One input row that broke the data contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// Table name.
    pub table: String,
    /// 1-based data row number (header excluded).
    pub row: usize,
    /// Logical column at fault.
    pub column: String,
    /// Why the row was rejected.
    pub reason: String,
}

/// Row accounting for one input table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableReport {
    /// Table name.
    pub table: String,
    /// Source file.
    pub path: PathBuf,
    /// Data rows read.
    pub rows_read: usize,
    /// Rows accepted.
    pub accepted: usize,
    /// Rows rejected (listed in [`IngestReport::rejected`]).
    pub rejected: usize,
}

/// Accounting for every table read, plus every rejected row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    /// One entry per table read.
    pub tables: Vec<TableReport>,
    /// Every rejected row of every table.
    pub rejected: Vec<RejectedRow>,
}

/// The three validated inputs of a detection run.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// Home sales (only rows whose product exists in `products`).
    pub sales: SalesPanel,
    /// Home product catalog.
    pub products: Catalog,
    /// Foreign listings.
    pub catalog: Catalog,
    /// Row accounting.
    pub report: IngestReport,
}

/// Paths of the three input files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputPaths {
    /// Sales file (CSV or Parquet).
    pub sales: PathBuf,
    /// Home products file.
    pub products: PathBuf,
    /// Foreign catalog file.
    pub catalog: PathBuf,
}

/// The home side of a detection run, validated: sales and products. The foreign catalog is
/// read on its own, whole ([`read_catalog`]) or a chunk at a time ([`read_catalog_chunks`]).
#[derive(Clone, Debug)]
pub struct HomeInputs {
    /// Home sales (only rows whose product exists in `products`).
    pub sales: SalesPanel,
    /// Home product catalog.
    pub products: Catalog,
    /// Row accounting of the two tables.
    pub report: IngestReport,
}

impl HomeInputs {
    /// Reads and validates the sales and products tables: the three column maps are checked
    /// first, then the sales file's header, then the products file is read, and then the sales
    /// rows ([`read_sales`]), rejecting every row whose `product_id` is not among the accepted
    /// products before rows are summed. The report lists the tables in the order sales,
    /// products.
    pub fn load(paths: &InputPaths, columns: &ColumnsConfig) -> Result<HomeInputs> {
        columns.check()?;
        // The sales header is checked first; its rows are read once the product ids are known.
        let sales = open_table(&paths.sales, TableKind::Sales, &columns.sales)?;
        let products = open_table(&paths.products, TableKind::Products, &columns.products)?;
        HomeInputs::read(
            (&paths.sales, sales.0, &sales.1),
            (&paths.products, products.0, &products.1),
        )
    }

    /// [`HomeInputs::load`] on tables already in polars: any `LazyFrame` (a scan, a join, a
    /// filter), its columns mapped by `columns` as a file's are and typed as in a Parquet file
    /// (text, numbers, `Date`). Rows are validated and rejected as a file's; messages and the
    /// ingest report name the tables `<sales frame>` and `<products frame>`, and rows are
    /// numbered from 1 in frame order.
    pub fn from_frames(
        sales: LazyFrame,
        products: LazyFrame,
        columns: &ColumnsConfig,
    ) -> Result<HomeInputs> {
        columns.check()?;
        let (sales_name, sales, sales_used) = frame_scan(TableKind::Sales, sales, &columns.sales)?;
        let (products_name, products, products_used) =
            frame_scan(TableKind::Products, products, &columns.products)?;
        HomeInputs::read(
            (&sales_name, sales, &sales_used),
            (&products_name, products, &products_used),
        )
    }

    /// Reads the products, then the sales rows of known products.
    fn read(
        (sales_path, sales_scan, sales_used): (&Path, Scan, &[&'static str]),
        (products_path, products_scan, products_used): (&Path, Scan, &[&'static str]),
    ) -> Result<HomeInputs> {
        let mut products_report = IngestReport::default();
        let products = read_whole_catalog(
            products_path,
            TableKind::Products,
            products_scan,
            products_used,
            &mut products_report,
        )?;
        let known: HashSet<&str> = products.id.iter().map(String::as_str).collect();
        let mut report = IngestReport::default();
        let sales = read_sales_scan(
            sales_path,
            sales_scan,
            sales_used,
            Some(&known),
            &mut report,
        )?;
        report.tables.extend(products_report.tables);
        report.rejected.extend(products_report.rejected);
        Ok(HomeInputs {
            sales,
            products,
            report,
        })
    }
}

/// A polars frame as a table to validate: its mapped columns selected as a Parquet file's,
/// with the name `<table frame>` standing for a path in messages and the ingest report.
fn frame_scan(
    kind: TableKind,
    frame: LazyFrame,
    columns: &ColumnMap,
) -> Result<(PathBuf, Scan, Vec<&'static str>)> {
    validate_column_map(kind, columns)?;
    let name = PathBuf::from(format!("<{} frame>", kind.name()));
    let scan = Scan {
        frame,
        decompressed: None,
    };
    let (scan, used) = select_columns(&name, kind, columns, scan, false)?;
    Ok((name, scan, used))
}

impl Inputs {
    /// [`Inputs::load`] on tables already in polars, read as by [`HomeInputs::from_frames`];
    /// the catalog is named `<catalog frame>`.
    pub fn from_frames(
        sales: LazyFrame,
        products: LazyFrame,
        catalog: LazyFrame,
        columns: &ColumnsConfig,
    ) -> Result<Inputs> {
        let home = HomeInputs::from_frames(sales, products, columns)?;
        let (name, scan, used) = frame_scan(TableKind::Catalog, catalog, &columns.catalog)?;
        Inputs::with_catalog(home, |report| {
            read_whole_catalog(&name, TableKind::Catalog, scan, &used, report)
        })
    }

    /// The home side and the catalog `read` gives, its rows accounted in the home report.
    fn with_catalog(
        home: HomeInputs,
        read: impl FnOnce(&mut IngestReport) -> Result<Catalog>,
    ) -> Result<Inputs> {
        let HomeInputs {
            sales,
            products,
            mut report,
        } = home;
        let catalog = read(&mut report)?;
        Ok(Inputs {
            sales,
            products,
            catalog,
            report,
        })
    }

    /// Reads and validates the three tables.
    ///
    /// The column maps are checked first (an unknown logical name is an [`Error::Config`]), then
    /// the home tables are read as by [`HomeInputs::load`] (every sales row whose `product_id` is
    /// not among the accepted products is rejected), then the catalog. The report lists the
    /// tables in the order sales, products, catalog.
    pub fn load(paths: &InputPaths, columns: &ColumnsConfig) -> Result<Inputs> {
        let home = HomeInputs::load(paths, columns)?;
        Inputs::with_catalog(home, |report| {
            read_catalog(&paths.catalog, TableKind::Catalog, &columns.catalog, report)
        })
    }
}

/// An analyst's labels of candidate pairs, by listing: which products a listing is known to
/// copy or known not to copy. Read from a CSV file with columns `listing_id`, `product_id` and
/// `label` (`1`/`0`, `true`/`false`, `yes`/`no`; other columns are ignored, rows with an empty
/// label are skipped), such as the detector's `review_pairs.csv` with its `label` column
/// filled in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PairLabels {
    by_listing: HashMap<String, Vec<(String, bool)>>,
    count: usize,
}

impl PairLabels {
    /// Reads a labels file. A label that is not one of the accepted words, or a row without a
    /// listing or product id, is an [`Error::BadValue`] naming the file, row and column; a
    /// pair labelled twice keeps its last label.
    pub fn read(path: &Path) -> Result<PairLabels> {
        let df = read_text_table(path, "labels", b',', Some(b'"'))?;
        let listings = text_column(&df, "labels", "listing_id")?;
        let products = text_column(&df, "labels", "product_id")?;
        let labels = text_column(&df, "labels", "label")?;
        let table = format!("labels {}", path.display());
        let mut out = PairLabels::default();
        for (i, ((l, p), v)) in listings.into_iter().zip(products).zip(labels).enumerate() {
            let bad = |column: &str, reason: String| Error::BadValue {
                table: table.clone(),
                row: i + 1,
                column: column.into(),
                reason,
            };
            let v = v.unwrap_or_default().trim().to_ascii_lowercase();
            let label = match v.as_str() {
                "" => continue,
                "1" | "1.0" | "true" | "yes" | "y" => true,
                "0" | "0.0" | "false" | "no" | "n" => false,
                other => {
                    return Err(bad(
                        "label",
                        format!("expected 1/0, true/false or yes/no, got {other:?}"),
                    ))
                }
            };
            let l = l.filter(|x| !x.trim().is_empty());
            let l = l.ok_or_else(|| bad("listing_id", "empty listing id".into()))?;
            let p = p.filter(|x| !x.trim().is_empty());
            let p = p.ok_or_else(|| bad("product_id", "empty product id".into()))?;
            out.insert(l.trim(), p.trim(), label);
        }
        Ok(out)
    }

    /// Records that `listing` copies `product` (`true`) or does not (`false`).
    pub fn insert(&mut self, listing: &str, product: &str, is_match: bool) {
        let known = self.by_listing.entry(listing.to_string()).or_default();
        match known.iter_mut().find(|(p, _)| p == product) {
            Some(k) => k.1 = is_match,
            None => {
                known.push((product.to_string(), is_match));
                self.count += 1;
            }
        }
    }

    /// The label of a pair, if it has one.
    pub fn get(&self, listing: &str, product: &str) -> Option<bool> {
        self.by_listing
            .get(listing)?
            .iter()
            .find(|(p, _)| p == product)
            .map(|k| k.1)
    }

    /// Number of labelled pairs.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no pair is labelled.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Reads the sales table.
///
/// Required logical columns: `product_id`, `date`, `units`; optional: `revenue` (and `price`,
/// which is not used). The `units` column may be absent when `revenue` is present, and a row may
/// leave units empty when it gives revenue: the trend stage then uses revenue. The date may be an
/// ISO date-time, counted on its date ([`Date::parse_day`]). Rows with an empty product id, a
/// date that is neither, units/revenue that are negative, not finite or not numbers, or neither
/// units nor revenue, are rejected. One [`TableReport`] is appended to `report`; it counts the
/// file's rows.
///
/// The file is read a chunk of 65,536 rows at a time and each chunk's accepted rows are summed
/// with a polars lazy group-by before the next chunk is read, so the raw table is never held
/// whole and a transaction log (many rows per product and day) is held as one row per product,
/// day and kind of row. Rows of one product and date are summed when they give the same values
/// (units only, revenue only, or both) and fall in the same chunk; the sum is numbered by its
/// first source row. Rows of one product and date in different chunks stay separate rows, which
/// [`DemandGrid::build`](crate::trend::DemandGrid::build) adds up.
pub fn read_sales(
    path: &Path,
    columns: &ColumnMap,
    report: &mut IngestReport,
) -> Result<SalesPanel> {
    let (scan, used) = open_table(path, TableKind::Sales, columns)?;
    read_sales_scan(path, scan, &used, None, report)
}

/// [`read_sales`] on a scan already opened; with `known`, a row whose product id is not in it
/// is rejected too (after the other checks, so a row is rejected for its first fault).
fn read_sales_scan(
    path: &Path,
    scan: Scan,
    used: &[&'static str],
    known: Option<&HashSet<&str>>,
    report: &mut IngestReport,
) -> Result<SalesPanel> {
    let kind = TableKind::Sales;
    let name = kind.name();
    let Scan {
        frame,
        decompressed: _decompressed,
    } = scan;
    let latest = Date::today().add_days(1);
    let mut panel = SalesPanel::default();
    let mut rejected = Vec::new();
    let (mut rows_read, mut filled) = (0, false);
    // Chunk by chunk: the file's columns are never held whole next to the accepted rows.
    stream_frames(name, path, frame, CHUNK_ROWS, |df| {
        let table = Table::of_frame(&df, name, used, latest)?;
        let mut chunk = SalesChunk::default();
        for i in 0..table.height {
            let row = rows_read + i + 1;
            if table.is_blank(i) {
                rejected.push(reject(kind, row, ("product_id", BLANK_ROW.into())));
                continue;
            }
            filled = true;
            let parsed = (|| -> Result<_, Fault> {
                let product_id = required_str(&table, "product_id", i)?;
                let date = required_date(&table, "date", i)?;
                let units = number(&table, "units", i)?;
                let revenue = number(&table, "revenue", i)?;
                if units.is_none() && revenue.is_none() {
                    return Err(("units", "units is empty".to_string()));
                }
                // An id already in the panel is known: the set is asked once per id.
                let code = match panel.lookup.get(product_id) {
                    Some(&code) => code,
                    None if known.is_some_and(|k| !k.contains(product_id)) => {
                        let reason = format!("product_id '{}' not in products", clip(product_id));
                        return Err(("product_id", reason));
                    }
                    None => panel.code(product_id),
                };
                Ok((code, date, units, revenue))
            })();
            match parsed {
                Ok((code, date, units, revenue)) => {
                    chunk.code.push(code);
                    chunk.date.push(date.0);
                    chunk.units.push(or_nan(units));
                    chunk.revenue.push(or_nan(revenue));
                    chunk.row.push(row as u64);
                }
                Err(fault) => rejected.push(reject(kind, row, fault)),
            }
        }
        rows_read += table.height;
        chunk
            .sum_into(&mut panel)
            .map_err(|e| polars_failure(name, path, e))
    })?;
    if !filled {
        return Err(empty(name, path));
    }
    record(report, kind, path, rows_read, rejected);
    Ok(panel)
}

/// The accepted rows of one chunk of a sales file, before they are summed; a missing units or
/// revenue value is NaN, as in [`SalesPanel`].
#[derive(Default)]
struct SalesChunk {
    code: Vec<u32>,
    date: Vec<i32>,
    units: Vec<f64>,
    revenue: Vec<f64>,
    row: Vec<u64>,
}

impl SalesChunk {
    /// Appends the chunk's rows to `panel`, summed per product, date and which values they
    /// give, groups in order of their first row, each numbered by it. A chunk in (product,
    /// date) or (date, product) order without a repeated pair, as sorted daily exports are, is
    /// its own sum and is appended as it is; any other is summed by [`SalesChunk::group_sums`].
    fn sum_into(self, panel: &mut SalesPanel) -> PolarsResult<()> {
        if !self.pairs_are_distinct_in_order() {
            return self.group_sums(panel);
        }
        panel.product.extend_from_slice(&self.code);
        panel.date.extend(self.date.iter().map(|&d| Date(d)));
        panel.units.extend_from_slice(&self.units);
        panel.revenue.extend_from_slice(&self.revenue);
        for &row in &self.row {
            panel.rows.push(row as usize);
        }
        Ok(())
    }

    /// True when (product, date) rises strictly from row to row, or (date, product) does: then
    /// no two rows share a product and a date.
    fn pairs_are_distinct_in_order(&self) -> bool {
        let (code, date) = (&self.code, &self.date);
        let rising =
            |key: &dyn Fn(usize) -> (i64, i64)| (1..code.len()).all(|i| key(i - 1) < key(i));
        rising(&|i| (i64::from(code[i]), i64::from(date[i])))
            || rising(&|i| (i64::from(date[i]), i64::from(code[i])))
    }

    /// Sums the rows that share a product, a date and which values they give with a polars
    /// lazy group-by (in-memory engine: each group is summed in row order, so the result does
    /// not depend on the thread count) and appends one row per group to `panel`, groups in
    /// order of their first row, each numbered by it.
    fn group_sums(self, panel: &mut SalesPanel) -> PolarsResult<()> {
        let height = self.code.len();
        if height == 0 {
            return Ok(());
        }
        let frame = DataFrame::new(
            height,
            vec![
                Column::new("code".into(), self.code),
                Column::new("date".into(), self.date),
                Column::new("units".into(), self.units),
                Column::new("revenue".into(), self.revenue),
                Column::new("row".into(), self.row),
            ],
        )?;
        let sums = frame
            .lazy()
            .group_by_stable([
                col("code"),
                col("date"),
                col("units").is_nan().alias("no_units"),
                col("revenue").is_nan().alias("no_revenue"),
            ])
            .agg([col("units").sum(), col("revenue").sum(), col("row").min()])
            .collect()?;
        let code = sums.column("code")?.u32()?;
        let date = sums.column("date")?.i32()?;
        // A group without units (or revenue) sums NaNs to NaN, which is missing again.
        let units = sums.column("units")?.f64()?;
        let revenue = sums.column("revenue")?.f64()?;
        let row = sums.column("row")?.u64()?;
        for i in 0..sums.height() {
            let (Some(c), Some(d), Some(r)) = (code.get(i), date.get(i), row.get(i)) else {
                return Err(PolarsError::ComputeError(
                    "a sales group lost its key".into(),
                ));
            };
            panel.push_code(c, Date(d), units.get(i), revenue.get(i), r as usize);
        }
        Ok(())
    }
}

/// Reads a catalog table (`kind` is [`TableKind::Products`] or [`TableKind::Catalog`]) whole.
///
/// The id column is `product_id` for products and `listing_id` for the foreign catalog; ids and
/// titles must be non-empty and ids unique (the first accepted row wins, later ones are rejected
/// naming it). `price` must be a non-negative number, `image_phash` exactly 16 hex digits and
/// `listed_at` a `YYYY-MM-DD` date (required for the foreign catalog). One [`TableReport`] is
/// appended to `report`. [`read_catalog_chunks`] reads the same rows a chunk at a time.
pub fn read_catalog(
    path: &Path,
    kind: TableKind,
    columns: &ColumnMap,
    report: &mut IngestReport,
) -> Result<Catalog> {
    not_sales(kind)?;
    let (scan, used) = open_table(path, kind, columns)?;
    read_whole_catalog(path, kind, scan, &used, report)
}

/// [`read_catalog`] on a scan already opened.
fn read_whole_catalog(
    path: &Path,
    kind: TableKind,
    scan: Scan,
    used: &[&'static str],
    report: &mut IngestReport,
) -> Result<Catalog> {
    let mut out = Catalog::new(kind);
    read_catalog_scan(path, kind, scan, used, CHUNK_ROWS, report, |chunk| {
        out.append(chunk);
        Ok(())
    })?;
    Ok(out)
}

/// Rows read per chunk by [`read_sales`] and [`read_catalog`].
const CHUNK_ROWS: usize = 65_536;

/// Reads a catalog table `chunk_rows` file rows at a time with polars' streaming engine and
/// hands `each` the accepted records of every chunk that has any, in file order; rows are
/// validated as by [`read_catalog`], and `source_row` keeps counting across chunks. Memory is
/// one chunk read ahead plus the duplicate check (a 16-byte fingerprint and the row number of
/// each accepted id), whatever the file's size; gzip-compressed CSV is first decompressed to a
/// temporary file (see [`std::env::temp_dir`]), removed once read. The first error, from the
/// file or from `each`, stops the read. The [`TableReport`] and the rejected rows are appended
/// to `report` once the whole file has been read.
pub fn read_catalog_chunks(
    path: &Path,
    kind: TableKind,
    columns: &ColumnMap,
    chunk_rows: usize,
    report: &mut IngestReport,
    each: impl FnMut(Catalog) -> Result<()>,
) -> Result<()> {
    not_sales(kind)?;
    let (scan, used) = open_table(path, kind, columns)?;
    read_catalog_scan(path, kind, scan, &used, chunk_rows, report, each)
}

fn not_sales(kind: TableKind) -> Result<()> {
    if kind == TableKind::Sales {
        return Err(Error::Config(
            "read_catalog reads the products or catalog table, not sales".into(),
        ));
    }
    Ok(())
}

/// [`read_catalog_chunks`] on a scan already opened; `path` names the table in messages.
fn read_catalog_scan(
    path: &Path,
    kind: TableKind,
    scan: Scan,
    used: &[&'static str],
    chunk_rows: usize,
    report: &mut IngestReport,
    mut each: impl FnMut(Catalog) -> Result<()>,
) -> Result<()> {
    let table = kind.name();
    let mut check = CatalogCheck::new(kind);
    stream_frames(table, path, scan.frame, chunk_rows, |df| {
        let chunk = check.accept(&Table::of_frame(&df, table, used, check.latest)?, None);
        if chunk.is_empty() {
            Ok(())
        } else {
            each(chunk)
        }
    })?;
    if !check.filled {
        return Err(empty(table, path));
    }
    record(report, kind, path, check.rows_read, check.rejected);
    Ok(())
}

/// One partition of a catalog table as a cluster engine hands it over: a DataFrame of the
/// table's own columns (any order, names mapped by `columns` as for a file) and each row's
/// 1-based row number in the whole table. Its rows are validated as [`read_catalog_chunks`]
/// validates a file's, and [`PartitionRows::accept`] gives the accepted records, in the
/// frame's order, with the rejected rows.
#[derive(Debug)]
pub struct PartitionRows<'a> {
    /// Which table the rows belong to (products or catalog).
    pub kind: TableKind,
    /// The table's column renames.
    pub columns: &'a ColumnMap,
    /// The table as named in messages (its file on the driver).
    pub name: &'a Path,
    /// The rows.
    pub frame: DataFrame,
    /// Each row's 1-based number in the whole table, as many as the frame has rows.
    pub numbers: &'a [usize],
}

/// What [`PartitionRows::accept`] gives: the accepted records and the rows rejected, each
/// with its row number and reason.
#[derive(Clone, Debug, PartialEq)]
pub struct AcceptedRows {
    /// The accepted records, in the frame's order.
    pub catalog: Catalog,
    /// The rejected rows, in the frame's order.
    pub rejected: Vec<RejectedRow>,
}

impl PartitionRows<'_> {
    /// Validates the rows. Duplicate ids within the frame are rejected as a file's are (the
    /// first kept); duplicates across partitions are for the caller to rule out. A missing
    /// required column, a column of the wrong type or row numbers that do not match the
    /// frame are errors.
    pub fn accept(self) -> Result<AcceptedRows> {
        let PartitionRows {
            kind,
            columns,
            name,
            frame,
            numbers,
        } = self;
        not_sales(kind)?;
        validate_column_map(kind, columns)?;
        let table = kind.name();
        if numbers.len() != frame.height() {
            return Err(Error::Config(format!(
                "{table}: a partition of {} rows came with {} row numbers",
                frame.height(),
                numbers.len()
            )));
        }
        let scan = Scan {
            frame: frame.lazy(),
            decompressed: None,
        };
        let (scan, used) = select_columns(name, kind, columns, scan, false)?;
        let df = scan
            .frame
            .collect()
            .map_err(|e| polars_failure(table, name, e))?;
        let mut check = CatalogCheck::new(kind);
        let catalog = check.accept(
            &Table::of_frame(&df, table, &used, check.latest)?,
            Some(numbers),
        );
        Ok(AcceptedRows {
            catalog,
            rejected: check.rejected,
        })
    }
}

/// Validation state carried from one chunk of a catalog file to the next.
struct CatalogCheck {
    kind: TableKind,
    id_col: &'static str,
    /// Fingerprint of each accepted id and the row that holds it.
    first_row: HashMap<u128, usize>,
    rejected: Vec<RejectedRow>,
    rows_read: usize,
    /// Whether any row so far has a mapped cell filled.
    filled: bool,
    latest: Date,
}

impl CatalogCheck {
    /// The state before the first chunk of a `kind` table (products or catalog).
    fn new(kind: TableKind) -> CatalogCheck {
        CatalogCheck {
            kind,
            id_col: match kind {
                TableKind::Products => "product_id",
                _ => "listing_id",
            },
            first_row: HashMap::new(),
            rejected: Vec::new(),
            rows_read: 0,
            filled: false,
            latest: Date::today().add_days(1),
        }
    }

    /// The accepted records of the next rows of the file; rejects go to `self.rejected`.
    /// `numbers`: each row's 1-based row number in the whole table, when the rows are not the
    /// ones following those read so far (a partition of a table cut elsewhere).
    fn accept(&mut self, table: &Table, numbers: Option<&[usize]>) -> Catalog {
        let (kind, id_col) = (self.kind, self.id_col);
        let foreign = kind == TableKind::Catalog;
        let mut out = Catalog::new(kind);
        for i in 0..table.height {
            let row = numbers.map_or(self.rows_read + i + 1, |n| n[i]);
            if table.is_blank(i) {
                self.rejected
                    .push(reject(kind, row, (id_col, BLANK_ROW.into())));
                continue;
            }
            self.filled = true;
            let parsed = (|| -> Result<_, Fault> {
                let id = required_text(table, id_col, i)?;
                let title = required_text(table, "title", i)?;
                if !title.chars().any(char::is_alphanumeric) {
                    return Err((
                        "title",
                        format!("title has no letters or digits: '{}'", clip(&title)),
                    ));
                }
                let price = number(table, "price", i)?;
                let image_phash = phash(table, "image_phash", i)?;
                let listed_at = if foreign {
                    Some(required_date(table, "listed_at", i)?)
                } else {
                    date(table, "listed_at", i)?
                };
                let key = fingerprint(&id);
                if let Some(first) = self.first_row.get(&key) {
                    return Err((
                        id_col,
                        format!(
                            "duplicate {id_col} '{}' (first seen in row {first})",
                            clip(&id)
                        ),
                    ));
                }
                Ok((key, id, title, price, image_phash, listed_at))
            })();
            match parsed {
                Ok((key, id, title, price, image_phash, listed_at)) => {
                    self.first_row.insert(key, row);
                    out.id.push(id);
                    out.title.push(title);
                    out.description.push(text(table, "description", i));
                    out.category.push(text(table, "category", i));
                    out.brand.push(text(table, "brand", i));
                    out.price.push(price);
                    out.currency.push(text(table, "currency", i));
                    out.seller_id.push(text(table, "seller_id", i));
                    out.origin_country.push(text(table, "origin_country", i));
                    out.image_phash.push(image_phash);
                    out.listed_at.push(listed_at);
                    out.source_row.push(row);
                }
                Err(fault) => self.rejected.push(reject(kind, row, fault)),
            }
        }
        self.rows_read += table.height;
        out
    }
}

/// A 128-bit fingerprint of an id: SipHash-2-4 of its bytes under two fixed keys. Two
/// different ids share one with probability about 2^-128, so a catalog of a billion ids is
/// checked for duplicates without keeping its ids; and the value is the same in every build,
/// so samples drawn by fingerprint are too.
pub(crate) fn fingerprint(id: &str) -> u128 {
    let a = siphash24(0x6372_6f73_736c_6561, 0x6b20_6964_2066_7031, id.as_bytes());
    let b = siphash24(0x9e37_79b9_7f4a_7c15, 0xbf58_476d_1ce4_e5b9, id.as_bytes());
    (u128::from(a) << 64) | u128::from(b)
}

/// SipHash-2-4 of `bytes` under the key (`k0`, `k1`).
fn siphash24(k0: u64, k1: u64, bytes: &[u8]) -> u64 {
    siphasher::sip::SipHasher24::new_with_keys(k0, k1).hash(bytes)
}

/// Checks a column map: every key must be a logical column of `kind` and every value a
/// non-empty file column name; otherwise an [`Error::Config`] naming the key and the valid names.
pub(crate) fn validate_column_map(kind: TableKind, columns: &ColumnMap) -> Result<()> {
    for (key, value) in columns {
        let known =
            kind.required().contains(&key.as_str()) || kind.optional().contains(&key.as_str());
        if !known {
            let valid: Vec<&str> = kind
                .required()
                .iter()
                .chain(kind.optional())
                .copied()
                .collect();
            return Err(Error::Config(format!(
                "columns.{}: unknown logical column `{key}`; valid names are: {}",
                kind.name(),
                valid.join(", ")
            )));
        }
        if value.trim().is_empty() {
            return Err(Error::Config(format!(
                "columns.{}.{key}: the file column name is empty",
                kind.name()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gzip (two members, as `cat a.gz b.gz` makes) comes back whole in a temporary file that
    /// is gone once dropped; gzip holding zstd is refused naming the input file.
    #[test]
    fn gzip_is_decompressed_to_a_temporary_file_removed_after_use() {
        use flate2::{write::GzEncoder, Compression};
        let gz = |bytes: &[u8]| {
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(bytes).unwrap();
            e.finish().unwrap()
        };
        let text: Vec<u8> = (0..200_000)
            .flat_map(|i| format!("L{i},title {i}\n").into_bytes())
            .collect();
        let (first, second) = text.split_at(text.len() / 3);
        let input = temp_file(".csv.gz").unwrap();
        std::fs::write(input.path(), [gz(first), gz(second)].concat()).unwrap();
        let copy = gunzip("catalog", input.path()).unwrap();
        assert_ne!(copy.path(), input.path());
        assert_eq!(std::fs::read(copy.path()).unwrap(), text);
        let kept = copy.path().to_path_buf();
        drop(copy);
        assert!(!kept.exists());

        std::fs::write(input.path(), gz(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0])).unwrap();
        let err = gunzip("catalog", input.path()).unwrap_err().to_string();
        assert!(err.contains("zstd-compressed again"), "{err}");
        assert!(err.contains(&input.path().display().to_string()), "{err}");
        std::fs::write(input.path(), gz(b"")).unwrap();
        assert!(gunzip("catalog", input.path()).is_err());
        let cut = gz(&text);
        std::fs::write(input.path(), &cut[..cut.len() / 2]).unwrap();
        let err = gunzip("catalog", input.path()).unwrap_err().to_string();
        assert!(err.contains("invalid gzip data"), "{err}");
    }

    /// Row numbers come back as pushed, in order, gaps, repeats and all; runs are what is stored.
    #[test]
    fn row_runs_give_back_every_row_number() {
        let pushed = [1, 2, 3, 7, 8, 2, 2, 100, 101, 102, 5];
        let mut runs = RowRuns::default();
        for &r in &pushed {
            runs.push(r);
        }
        assert_eq!(runs.runs.len(), 6);
        assert_eq!(runs.iter().len(), pushed.len());
        assert_eq!(runs.iter().collect::<Vec<_>>(), pushed);
        let each: Vec<usize> = (0..pushed.len()).map(|i| runs.get(i)).collect();
        assert_eq!(each, pushed);
        let mut in_order = RowRuns::default();
        for r in 1..=100_000 {
            in_order.push(r);
        }
        assert_eq!(in_order.runs.len(), 1);
        assert_eq!(in_order.get(99_999), 100_000);
    }

    /// A chunk of distinct (product, date) pairs in order is appended as the group-by would
    /// append it; a repeated pair, or pairs out of order, go through the group-by.
    #[test]
    fn an_ordered_chunk_of_distinct_pairs_is_its_own_sum() {
        let chunk = |rows: &[(u32, i32, Option<f64>, Option<f64>)]| {
            let mut c = SalesChunk::default();
            for (i, &(code, date, units, revenue)) in rows.iter().enumerate() {
                c.code.push(code);
                c.date.push(date);
                c.units.push(or_nan(units));
                c.revenue.push(or_nan(revenue));
                c.row.push(i as u64 + 1);
            }
            c
        };
        let panel = || {
            let mut p = SalesPanel::default();
            for id in ["a", "b", "c"] {
                p.code(id);
            }
            p
        };
        let by_product = [
            (0, 10, Some(1.0), None),
            (0, 11, None, Some(2.5)),
            (1, 10, Some(3.0), Some(4.0)),
            (2, 9, Some(0.0), None),
        ];
        let by_date = [
            (0, 10, Some(1.0), None),
            (2, 10, Some(2.0), None),
            (1, 11, Some(3.0), None),
            (2, 11, None, Some(4.0)),
        ];
        for rows in [&by_product[..], &by_date[..]] {
            assert!(chunk(rows).pairs_are_distinct_in_order());
            let (mut direct, mut grouped) = (panel(), panel());
            chunk(rows).sum_into(&mut direct).unwrap();
            chunk(rows).group_sums(&mut grouped).unwrap();
            assert_eq!(direct, grouped);
            assert_eq!(direct.len(), rows.len());
        }
        let repeated = [(0, 10, Some(1.0), None), (0, 10, Some(2.0), None)];
        assert!(!chunk(&repeated).pairs_are_distinct_in_order());
        let mut summed = panel();
        chunk(&repeated).sum_into(&mut summed).unwrap();
        assert_eq!((summed.len(), summed.units(0)), (1, Some(3.0)));
        let shuffled = [
            (1, 10, Some(1.0), None),
            (0, 11, Some(2.0), None),
            (0, 10, None, None),
        ];
        assert!(!chunk(&shuffled).pairs_are_distinct_in_order());
    }

    /// Missing values survive the NaN encoding, and rows keep their source row numbers.
    #[test]
    fn sales_panel_keeps_missing_values_and_rows() {
        let mut s = SalesPanel::default();
        let day = Date(19_800);
        s.push("a", day, Some(2.0), None, 4);
        s.push("b", day, None, Some(9.5), 5);
        s.push("a", day, Some(0.0), Some(1.0), 9);
        s.push("c", day, Some(f64::NAN), Some(3.0), 10);
        assert_eq!(s.row(1).units, None);
        assert_eq!(s.row(1).revenue, Some(9.5));
        assert_eq!(s.row(3).units, None);
        let rows: Vec<(usize, Option<f64>, Option<f64>)> = s
            .rows()
            .map(|r| (r.source_row, r.units, r.revenue))
            .collect();
        assert_eq!(
            rows,
            [
                (4, Some(2.0), None),
                (5, None, Some(9.5)),
                (9, Some(0.0), Some(1.0)),
                (10, None, Some(3.0))
            ]
        );
        assert_eq!(s.clone(), s);
    }

    /// The reference vectors of the SipHash paper (key 00..0f; messages empty and 00..0e).
    #[test]
    fn fingerprints_are_siphash_2_4() {
        let (k0, k1) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
        assert_eq!(siphash24(k0, k1, b""), 0x726f_db47_dd0e_0e31);
        let fifteen: Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(k0, k1, &fifteen), 0xa129_ca61_49be_45e5);
        assert_ne!(fingerprint("L1"), fingerprint("L2"));
        assert_eq!(fingerprint("L1"), fingerprint("L1"));
    }

    #[test]
    fn phash_needs_sixteen_hex_digits() {
        assert_eq!(parse_phash("00000000000000ff"), Some(255));
        assert_eq!(parse_phash(" FFFFFFFFFFFFFFFF "), Some(u64::MAX));
        assert_eq!(parse_phash("ff"), None);
        assert_eq!(parse_phash("+000000000000000f"), None);
        assert_eq!(parse_phash("000000000000000g"), None);
    }

    #[test]
    fn format_by_extension() {
        assert_eq!(format_of("t", Path::new("a/B.CSV")).unwrap(), Format::Csv);
        assert_eq!(
            format_of("t", Path::new("b.csv.gz")).unwrap(),
            Format::CsvGz
        );
        assert_eq!(format_of("t", Path::new("c.pq")).unwrap(), Format::Parquet);
        assert!(matches!(
            format_of("t", Path::new("d.xlsx")),
            Err(Error::Unreadable { .. })
        ));
    }

    #[test]
    fn column_lookup_ignores_bom_and_spaces() {
        let names = vec!["\u{feff}product_id".to_string(), "units\r".to_string()];
        assert_eq!(
            find_column(&names, "product_id"),
            Some("\u{feff}product_id")
        );
        assert_eq!(find_column(&names, "units"), Some("units\r"));
        assert_eq!(find_column(&names, "date"), None);
    }
}
