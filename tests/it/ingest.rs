//! Ingest tests.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crossleak::ingest::*;
use crossleak::{Date, Error};
use polars::prelude::*;

/// A fresh, unique scratch directory, removed on drop.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "crossleak-ingest-{}-{n}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

fn write(dir: &Path, file: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(file);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn write_parquet(dir: &Path, file: &str, df: &mut DataFrame) -> PathBuf {
    let p = dir.join(file);
    ParquetWriter::new(File::create(&p).unwrap())
        .finish(df)
        .unwrap();
    p
}

/// Writes `df` as Parquet with its day-number column `date_column` typed as a date.
fn write_parquet_dated(dir: &Path, file: &str, df: DataFrame, date_column: &str) -> PathBuf {
    let mut df = df
        .lazy()
        .with_column(col(date_column).cast(DataType::Date))
        .collect()
        .unwrap();
    write_parquet(dir, file, &mut df)
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn rej(table: &str, row: usize, column: &str, reason: &str) -> RejectedRow {
    RejectedRow {
        table: table.into(),
        row,
        column: column.into(),
        reason: reason.into(),
    }
}

fn no_map() -> ColumnMap {
    ColumnMap::new()
}

fn sales(path: &Path) -> (crossleak::Result<SalesPanel>, IngestReport) {
    let mut report = IngestReport::default();
    (read_sales(path, &no_map(), &mut report), report)
}

fn units(s: &SalesPanel) -> Vec<Option<f64>> {
    s.rows().map(|r| r.units).collect()
}

fn revenue(s: &SalesPanel) -> Vec<Option<f64>> {
    s.rows().map(|r| r.revenue).collect()
}

fn source_rows(s: &SalesPanel) -> Vec<usize> {
    s.rows().map(|r| r.source_row).collect()
}

fn catalog(path: &Path, kind: TableKind) -> (crossleak::Result<Catalog>, IngestReport) {
    let mut report = IngestReport::default();
    (read_catalog(path, kind, &no_map(), &mut report), report)
}

fn assert_accounting(report: &IngestReport) {
    for t in &report.tables {
        assert_eq!(t.rows_read, t.accepted + t.rejected, "{t:?}");
        let listed = report
            .rejected
            .iter()
            .filter(|r| r.table == t.table)
            .count();
        assert_eq!(listed, t.rejected, "{t:?}");
    }
}

const SALES_CSV: &str = "product_id,date,units,revenue,price\n\
                         p1,2024-01-01,3,29.97,9.99\n\
                         p2,2024-01-02,0,,\n\
                         p1,2024-01-01,2.5,10,\n\
                         p1,2024-01-01,1,,\n";

/// Rows of one product and day that give the same values are summed, numbered by the first;
/// a row that gives units only stays apart from those that give units and revenue.
#[test]
fn good_sales_csv() {
    let dir = scratch("good-sales");
    let p = write(&dir, "sales.csv", SALES_CSV);
    let (s, report) = sales(&p);
    let s = s.unwrap();
    assert_eq!(s.product_ids().collect::<Vec<_>>(), ["p1", "p2", "p1"]);
    assert_eq!(
        s.dates(),
        [d("2024-01-01"), d("2024-01-02"), d("2024-01-01")]
    );
    assert_eq!(units(&s), [Some(5.5), Some(0.0), Some(1.0)]);
    assert_eq!(revenue(&s), [Some(29.97 + 10.0), None, None]);
    assert_eq!(source_rows(&s), [1, 2, 4]);
    assert_eq!(
        report.tables,
        [TableReport {
            table: "sales".into(),
            path: p,
            rows_read: 4,
            accepted: 4,
            rejected: 0
        }]
    );
    assert!(report.rejected.is_empty());
}

#[test]
fn good_catalog_csvs() {
    let dir = scratch("good-catalog");
    let p = write(
        &dir,
        "products.csv",
        "product_id,title,description,category,brand,price,currency,seller_id,image_phash,listed_at\n\
         h1,Red Mug, A mug ,kitchen,Acme,12.5,EUR,s1,00000000000000ff,2023-12-01\n\
         h2,Lamp,,,,,,,,\n",
    );
    let (c, report) = catalog(&p, TableKind::Products);
    let c = c.unwrap();
    assert_eq!(c.kind, TableKind::Products);
    assert_eq!(c.id, ["h1", "h2"]);
    assert_eq!(c.title, ["Red Mug", "Lamp"]);
    assert_eq!(c.description, [Some("A mug".to_string()), None]);
    assert_eq!(c.category, [Some("kitchen".to_string()), None]);
    assert_eq!(c.brand, [Some("Acme".to_string()), None]);
    assert_eq!(c.price, [Some(12.5), None]);
    assert_eq!(c.currency, [Some("EUR".to_string()), None]);
    assert_eq!(c.seller_id, [Some("s1".to_string()), None]);
    assert_eq!(c.origin_country, [None, None]);
    assert_eq!(c.image_phash, [Some(255), None]);
    assert_eq!(c.listed_at, [Some(d("2023-12-01")), None]);
    assert_eq!(c.source_row, [1, 2]);
    assert_eq!(
        (report.tables[0].rows_read, report.tables[0].accepted),
        (2, 2)
    );

    let p = write(
        &dir,
        "catalog.csv",
        "listing_id,title,listed_at,origin_country,price,image_phash\n\
         f1,Red mug copy,2024-02-01,CN,3,FFFFFFFFFFFFFFFF\n",
    );
    let (c, report) = catalog(&p, TableKind::Catalog);
    let c = c.unwrap();
    assert_eq!(c.kind, TableKind::Catalog);
    assert_eq!(c.id, ["f1"]);
    assert_eq!(c.title, ["Red mug copy"]);
    assert_eq!(c.listed_at, [Some(d("2024-02-01"))]);
    assert_eq!(c.origin_country, [Some("CN".to_string())]);
    assert_eq!(c.price, [Some(3.0)]);
    assert_eq!(c.image_phash, [Some(u64::MAX)]);
    assert_eq!(c.description, [None]);
    assert_eq!(report.tables[0].table, "catalog");
}

#[test]
fn good_parquet_tables() {
    let dir = scratch("good-parquet");
    // Sales: typed Date, integer units, float revenue.
    let df = polars::df!(
        "product_id" => ["p1", "p2"],
        "date" => [d("2024-01-01").0, d("2024-01-03").0],
        "units" => [4i64, 0],
        "revenue" => [Some(8.5f64), None],
    )
    .unwrap();
    let p = write_parquet_dated(&dir, "sales.parquet", df, "date");
    let (s, _) = sales(&p);
    let s = s.unwrap();
    assert_eq!(s.product_ids().collect::<Vec<_>>(), ["p1", "p2"]);
    assert_eq!(s.dates(), [d("2024-01-01"), d("2024-01-03")]);
    assert_eq!(units(&s), [Some(4.0), Some(0.0)]);
    assert_eq!(revenue(&s), [Some(8.5), None]);

    // Products: integer ids, u64 hashes, string dates, float price.
    let mut df = polars::df!(
        "product_id" => [10i64, 11],
        "title" => ["Mug", "Lamp"],
        "price" => [Some(2.0f64), None],
        "image_phash" => [Some(255u64), None],
        "listed_at" => [Some("2023-05-06"), None],
    )
    .unwrap();
    let p = write_parquet(&dir, "products.pq", &mut df);
    let (c, _) = catalog(&p, TableKind::Products);
    let c = c.unwrap();
    assert_eq!(c.id, ["10", "11"]);
    assert_eq!(c.title, ["Mug", "Lamp"]);
    assert_eq!(c.price, [Some(2.0), None]);
    assert_eq!(c.image_phash, [Some(255), None]);
    assert_eq!(c.listed_at, [Some(d("2023-05-06")), None]);

    // Catalog: string hashes, typed dates, integer price.
    let df = polars::df!(
        "listing_id" => ["f1", "f2"],
        "title" => ["Mug copy", "Lamp copy"],
        "listed_at" => [d("2024-02-01").0, d("2024-02-02").0],
        "price" => [3i32, 4],
        "image_phash" => ["00000000000000ff", "zz"],
        "origin_country" => ["CN", "TR"],
    )
    .unwrap();
    let p = write_parquet_dated(&dir, "catalog.parquet", df, "listed_at");
    let (c, report) = catalog(&p, TableKind::Catalog);
    let c = c.unwrap();
    assert_eq!(c.id, ["f1"]);
    assert_eq!(c.listed_at, [Some(d("2024-02-01"))]);
    assert_eq!(c.price, [Some(3.0)]);
    assert_eq!(c.origin_country, [Some("CN".to_string())]);
    assert_eq!(
        report.rejected,
        [rej(
            "catalog",
            2,
            "image_phash",
            "image_phash must be exactly 16 hex digits: 'zz'"
        )]
    );
    assert_accounting(&report);
}

#[test]
fn parquet_wrong_type_is_an_error() {
    let dir = scratch("wrong-type");
    let mut df = polars::df!(
        "listing_id" => ["f1"],
        "title" => ["t"],
        "listed_at" => [true],
    )
    .unwrap();
    let p = write_parquet(&dir, "catalog.parquet", &mut df);
    match catalog(&p, TableKind::Catalog).0 {
        Err(Error::WrongType {
            table,
            column,
            found,
            expected,
        }) => {
            assert_eq!((table.as_str(), column.as_str()), ("catalog", "listed_at"));
            assert_eq!(found, "bool");
            assert!(expected.contains("date"), "{expected}");
        }
        other => panic!("{other:?}"),
    }
    let mut df = polars::df!("product_id" => [1.5f64], "title" => ["t"]).unwrap();
    let p = write_parquet(&dir, "products.parquet", &mut df);
    assert!(matches!(
        catalog(&p, TableKind::Products).0,
        Err(Error::WrongType { column, .. }) if column == "product_id"
    ));
    // The unused sales price is not read, whatever its type.
    let mut df = polars::df!(
        "product_id" => ["p"],
        "date" => ["2024-01-01"],
        "units" => ["1"],
        "price" => [true],
    )
    .unwrap();
    let p = write_parquet(&dir, "sales.parquet", &mut df);
    assert_eq!(units(&sales(&p).0.unwrap()), [Some(1.0)]);
}

#[test]
fn missing_file_directory_and_bad_extension() {
    let dir = scratch("unreadable");
    let missing = dir.join("nope.csv");
    match sales(&missing).0 {
        Err(Error::Unreadable {
            table,
            path,
            reason,
        }) => {
            assert_eq!(table, "sales");
            assert_eq!(path, missing);
            assert!(reason.contains("no such file"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let sub = dir.join("sub.csv");
    std::fs::create_dir_all(&sub).unwrap();
    match sales(&sub).0 {
        Err(Error::Unreadable { reason, .. }) => assert!(reason.contains("directory"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let xlsx = write(&dir, "sales.xlsx", SALES_CSV);
    match sales(&xlsx).0 {
        Err(Error::Unreadable { reason, .. }) => {
            assert!(reason.contains("unsupported file format"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_data_rows_is_empty_table() {
    let dir = scratch("empty");
    for (name, body) in [
        ("header.csv", "product_id,date,units\n"),
        ("header_no_newline.csv", "product_id,date,units"),
        ("zero.csv", ""),
        ("blank_lines.csv", "\n\n\n"),
        ("header_blank_lines.csv", "product_id,date,units\n\n\n"),
        ("empty_fields.csv", "product_id,date,units\n,,\n"),
    ] {
        let p = write(&dir, name, body);
        assert!(
            matches!(sales(&p).0, Err(Error::EmptyTable { ref table, ref path }) if table == "sales" && *path == p),
            "{name}"
        );
    }
    let mut df =
        polars::df!("product_id" => Vec::<String>::new(), "title" => Vec::<String>::new()).unwrap();
    let p = write_parquet(&dir, "products.parquet", &mut df);
    assert!(matches!(
        catalog(&p, TableKind::Products).0,
        Err(Error::EmptyTable { .. })
    ));
}

#[test]
fn missing_required_column() {
    let dir = scratch("missing-col");
    let p = write(&dir, "sales.csv", "product_id,day,units\np1,2024-01-01,1\n");
    match sales(&p).0 {
        Err(Error::MissingColumn {
            table,
            column,
            available,
        }) => {
            assert_eq!((table.as_str(), column.as_str()), ("sales", "date"));
            assert_eq!(available, ["product_id", "day", "units"]);
        }
        other => panic!("{other:?}"),
    }
    let mut df = polars::df!("listing_id" => ["f"], "title" => ["t"]).unwrap();
    let p = write_parquet(&dir, "catalog.parquet", &mut df);
    assert!(matches!(
        catalog(&p, TableKind::Catalog).0,
        Err(Error::MissingColumn { column, .. }) if column == "listed_at"
    ));
}

#[test]
fn non_utf8_csv_is_a_clear_error() {
    let dir = scratch("latin1");
    let p = write(
        &dir,
        "products.csv",
        b"product_id,title\np1,Caf\xe9 cr\xe8me\n",
    );
    let err = catalog(&p, TableKind::Products).0.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Unreadable { .. }), "{err:?}");
    assert!(msg.starts_with("products:"), "{msg}");
    assert!(msg.contains("products.csv"), "{msg}");
    assert!(msg.contains("UTF-8"), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");

    let p = write(
        &dir,
        "catalog.csv",
        b"listing_id,t\xeftle,listed_at\nf1,x,2024-01-01\n",
    );
    match catalog(&p, TableKind::Catalog).0 {
        Err(Error::Unreadable { reason, .. }) => assert!(
            reason.starts_with("the header is not valid UTF-8"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn compressed_inputs() {
    let dir = scratch("gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(SALES_CSV.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let p = write(&dir, "sales.csv.gz", &bytes);
    assert_eq!(
        units(&sales(&p).0.unwrap()),
        [Some(5.5), Some(0.0), Some(1.0)]
    );
    // Gzip bytes behind a plain .csv name are read too.
    let p = write(&dir, "sales.csv", &bytes);
    assert_eq!(
        sales(&p).0.unwrap().product_ids().collect::<Vec<_>>(),
        ["p1", "p2", "p1"]
    );
    // Data polars would take for zlib is an error, not a panic.
    let p = write(&dir, "odd.csv", "x^2,date,units\n1,2024-01-01,1\n");
    assert!(
        matches!(sales(&p).0, Err(Error::Unreadable { reason, .. }) if reason.contains("zlib"))
    );
    // Broken gzip.
    let p = write(&dir, "broken.csv.gz", [0x1f, 0x8b, 0, 1, 2, 3]);
    assert!(
        matches!(sales(&p).0, Err(Error::Unreadable { reason, .. }) if reason.contains("gzip"))
    );
}

#[test]
fn sales_rejected_rows() {
    let dir = scratch("bad-sales");
    let p = write(
        &dir,
        "sales.csv",
        "product_id,date,units,revenue\n\
         ,2024-01-01,1,\n\
         p1,01/02/2024,1,\n\
         p1,2024-01-01,-1,\n\
         p1,2024-01-01,NaN,\n\
         p1,2024-01-01,inf,\n\
         p1,2024-01-01,lots,\n\
         p1,2024-01-01,,\n\
         p1,2024-01-01,1,-5\n\
         p1,2024-02-30,1,\n\
         p1,2024-01-01,1,1\n\
         p1,2024-01-01,2,\n",
    );
    let (s, report) = sales(&p);
    let s = s.unwrap();
    assert_eq!(source_rows(&s), [10, 11]);
    assert_eq!(units(&s), [Some(1.0), Some(2.0)]);
    assert_eq!(
        report.rejected,
        [
            rej("sales", 1, "product_id", "product_id is empty"),
            rej("sales", 2, "date", "not a YYYY-MM-DD date: '01/02/2024'"),
            rej("sales", 3, "units", "units is negative: '-1'"),
            rej("sales", 4, "units", "units is not finite: 'NaN'"),
            rej("sales", 5, "units", "units is not finite: 'inf'"),
            rej("sales", 6, "units", "units is not a number: 'lots'"),
            rej("sales", 7, "units", "units is empty"),
            rej("sales", 8, "revenue", "revenue is negative: '-5'"),
            rej("sales", 9, "date", "not a YYYY-MM-DD date: '2024-02-30'"),
        ]
    );
    assert_eq!(
        (
            report.tables[0].rows_read,
            report.tables[0].accepted,
            report.tables[0].rejected
        ),
        (11, 2, 9)
    );
    assert_accounting(&report);
}

#[test]
fn catalog_rejected_rows() {
    let dir = scratch("bad-catalog");
    let p = write(
        &dir,
        "catalog.csv",
        "listing_id,title,listed_at,price,image_phash\n\
         f1,Mug,2024-01-01,1,\n\
         f2,  ,2024-01-01,,\n\
         f1,Mug again,2024-01-02,,\n\
         f3,Lamp,,,\n\
         f4,Lamp,2024-13-01,,\n\
         f5,Lamp,2024-01-01,-2,\n\
         f6,Lamp,2024-01-01,cheap,\n\
         f7,Lamp,2024-01-01,,0xff\n\
         f8,Lamp,2024-01-01,,00000000000000000f\n\
         f9, Lamp ,2024-01-01,0,abcdefABCDEF0123\n",
    );
    let (c, report) = catalog(&p, TableKind::Catalog);
    let c = c.unwrap();
    assert_eq!(c.id, ["f1", "f9"]);
    assert_eq!(c.title, ["Mug", "Lamp"]);
    assert_eq!(c.image_phash, [None, Some(0xabcd_efab_cdef_0123)]);
    assert_eq!(
        report.rejected,
        [
            rej("catalog", 2, "title", "title is empty"),
            rej(
                "catalog",
                3,
                "listing_id",
                "duplicate listing_id 'f1' (first seen in row 1)"
            ),
            rej("catalog", 4, "listed_at", "listed_at is empty"),
            rej(
                "catalog",
                5,
                "listed_at",
                "not a YYYY-MM-DD date: '2024-13-01'"
            ),
            rej("catalog", 6, "price", "price is negative: '-2'"),
            rej("catalog", 7, "price", "price is not a number: 'cheap'"),
            rej(
                "catalog",
                8,
                "image_phash",
                "image_phash must be exactly 16 hex digits: '0xff'"
            ),
            rej(
                "catalog",
                9,
                "image_phash",
                "image_phash must be exactly 16 hex digits: '00000000000000000f'"
            ),
        ]
    );
    assert_accounting(&report);

    // A rejected first occurrence does not block a later valid one.
    let p = write(
        &dir,
        "products.csv",
        "product_id,title,listed_at\nh1,,\nh1,Mug,2024-1-1\nh1,Mug,\n",
    );
    let (c, report) = catalog(&p, TableKind::Products);
    assert_eq!(c.unwrap().source_row, [3]);
    assert_eq!(
        report.rejected,
        [
            rej("products", 1, "title", "title is empty"),
            rej(
                "products",
                2,
                "listed_at",
                "not a YYYY-MM-DD date: '2024-1-1'"
            ),
        ]
    );
}

/// Real invoice lines (`datasets/sales`: 20,000 lines of the UCI Online Retail data) read as a
/// transaction log through a column map: timestamps count on their day, the 398 returns
/// (negative quantities) are rejected by row, and the 19,602 sale lines are summed into their
/// 18,872 product-days with every unit kept (counts and totals from Python's csv module).
#[test]
fn real_invoice_lines_load_as_a_transaction_log() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/sales/online_retail_lines.csv.gz");
    let map: ColumnMap = [
        ("product_id", "StockCode"),
        ("date", "InvoiceDate"),
        ("units", "Quantity"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let mut report = IngestReport::default();
    let s = read_sales(&path, &map, &mut report).unwrap();
    let t = &report.tables[0];
    assert_eq!((t.rows_read, t.accepted, t.rejected), (20_000, 19_602, 398));
    assert_eq!(
        report.rejected[0],
        rej("sales", 3, "units", "units is negative: '-71'")
    );
    assert!(report
        .rejected
        .iter()
        .all(|r| r.column == "units" && r.reason.starts_with("units is negative")));
    assert_eq!(s.len(), 18_872);
    let total: f64 = s.rows().filter_map(|r| r.units).sum();
    assert_eq!(total, 200_996.0);
    assert_eq!(
        (
            s.product_id(0),
            s.dates()[0],
            s.units(0),
            s.row(0).source_row
        ),
        ("21733", d("2011-03-10"), Some(2.0), 1)
    );
}

#[test]
fn column_map_renames_and_checks_keys() {
    let dir = scratch("rename");
    let p = write(&dir, "sales.csv", "SKU,Day,Qty\np1,2024-01-01,5\n");
    let map: ColumnMap = [("product_id", "SKU"), ("date", "Day"), ("units", "Qty")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let mut report = IngestReport::default();
    let s = read_sales(&p, &map, &mut report).unwrap();
    assert_eq!(
        (s.product_id(0), s.dates()[0], s.units(0).unwrap()),
        ("p1", d("2024-01-01"), 5.0)
    );

    // A renamed optional column that is absent is reported.
    let mut with_rev = map.clone();
    with_rev.insert("revenue".into(), "Turnover".into());
    match read_sales(&p, &with_rev, &mut IngestReport::default()) {
        Err(Error::MissingColumn { column, .. }) => assert_eq!(column, "Turnover"),
        other => panic!("{other:?}"),
    }

    // An unknown logical name is a config error naming it and the valid names.
    let mut bad = map;
    bad.insert("qty".into(), "Qty".into());
    match read_sales(&p, &bad, &mut IngestReport::default()) {
        Err(Error::Config(msg)) => {
            assert!(msg.contains("`qty`"), "{msg}");
            assert!(
                msg.contains("product_id, date, units, revenue, price"),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
    let mut columns = ColumnsConfig::default();
    columns.catalog.insert("product_id".into(), "id".into());
    let paths = InputPaths {
        sales: p.clone(),
        products: p.clone(),
        catalog: p,
    };
    assert!(
        matches!(Inputs::load(&paths, &columns), Err(Error::Config(m)) if m.contains("columns.catalog"))
    );
}

#[test]
fn crlf_and_bom() {
    let dir = scratch("crlf");
    let p = write(
        &dir,
        "sales.csv",
        "\u{feff}product_id,date,units\r\np1,2024-01-01,1\r\np2,2024-01-02,2\r\n",
    );
    let (s, report) = sales(&p);
    let s = s.unwrap();
    assert_eq!(s.product_ids().collect::<Vec<_>>(), ["p1", "p2"]);
    assert_eq!(units(&s), [Some(1.0), Some(2.0)]);
    assert!(report.rejected.is_empty());
}

#[test]
fn malformed_csv_is_an_error_not_a_panic() {
    let dir = scratch("ragged");
    let p = write(
        &dir,
        "sales.csv",
        "product_id,date,units\np1,2024-01-01,1,extra,fields\n",
    );
    let (r, _) = sales(&p);
    assert!(matches!(r, Err(Error::Unreadable { .. })), "{r:?}");
    let p = write(
        &dir,
        "quote.csv",
        "product_id,date,units\n\"p1,2024-01-01,1\n",
    );
    let (r, _) = sales(&p);
    assert!(matches!(r, Err(Error::Unreadable { .. })), "{r:?}");
    let p = write(&dir, "sales.parquet", SALES_CSV);
    let (r, _) = sales(&p);
    assert!(matches!(r, Err(Error::Unreadable { .. })), "{r:?}");
}

#[test]
fn blank_and_short_rows_are_rejected() {
    let dir = scratch("blank");
    let p = write(
        &dir,
        "sales.csv",
        "product_id,date,units\np1,2024-01-01,1\n\np2,2024-01-01,1\np3,2024-01-01\n",
    );
    let (s, report) = sales(&p);
    assert_eq!(source_rows(&s.unwrap()), [1, 3]);
    assert_eq!(
        report.rejected,
        [
            rej("sales", 2, "product_id", "blank row"),
            rej("sales", 4, "units", "units is empty"),
        ]
    );
    assert_accounting(&report);
}

#[test]
fn load_filters_sales_and_keeps_accounting() {
    let dir = scratch("load");
    let paths = InputPaths {
        sales: write(
            &dir,
            "sales.csv",
            "product_id,date,units\nh1,2024-01-01,1\nzz,2024-01-01,1\nh1,bad,1\nh2,2024-01-02,3\nh3,2024-01-03,1\n",
        ),
        products: write(&dir, "products.csv", "product_id,title\nh1,Mug\nh2,Lamp\nh3,\n"),
        catalog: write(
            &dir,
            "catalog.csv",
            "listing_id,title,listed_at\nf1,Mug copy,2024-02-01\n",
        ),
    };
    let inputs = Inputs::load(&paths, &ColumnsConfig::default()).unwrap();
    assert_eq!(inputs.sales.product_ids().collect::<Vec<_>>(), ["h1", "h2"]);
    assert_eq!(source_rows(&inputs.sales), [1, 4]);
    assert_eq!(inputs.products.id, ["h1", "h2"]);
    assert_eq!(inputs.catalog.id, ["f1"]);
    let r = &inputs.report;
    let names: Vec<&str> = r.tables.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(names, ["sales", "products", "catalog"]);
    assert_eq!(
        (
            r.tables[0].rows_read,
            r.tables[0].accepted,
            r.tables[0].rejected
        ),
        (5, 2, 3)
    );
    assert_eq!(
        r.rejected,
        [
            rej("sales", 2, "product_id", "product_id 'zz' not in products"),
            rej("sales", 3, "date", "not a YYYY-MM-DD date: 'bad'"),
            rej("sales", 5, "product_id", "product_id 'h3' not in products"),
            rej("products", 3, "title", "title is empty"),
        ]
    );
    assert_accounting(r);
}

#[test]
fn duplicate_column_names_are_an_error_naming_them() {
    let dir = scratch("dup-cols");
    let p = write(
        &dir,
        "sales.csv",
        "product_id,date,units,units\np1,2024-01-01,1,2\n",
    );
    let err = sales(&p).0.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Unreadable { .. }), "{err:?}");
    assert!(msg.contains("sales.csv"), "{msg}");
    assert!(msg.contains("`units`") && msg.contains("twice"), "{msg}");
    // An unused duplicated column is an error too: which one was meant is unknowable.
    let p = write(
        &dir,
        "products.csv",
        "product_id,title,note,note\np1,Mug,a,b\n",
    );
    let msg = catalog(&p, TableKind::Products).0.unwrap_err().to_string();
    assert!(msg.contains("`note`") && msg.contains("twice"), "{msg}");
}

#[test]
fn wrong_delimiter_names_the_likely_one() {
    let dir = scratch("delimiter");
    for (sep, name) in [(';', "semicolon"), ('\t', "tab"), ('|', "pipe")] {
        let body = format!("product_id{sep}date{sep}units\np1{sep}2024-01-01{sep}1\n");
        let p = write(&dir, &format!("{name}.csv"), body);
        let err = sales(&p).0.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::MissingColumn { .. }), "{err:?}");
        assert!(msg.contains("separated by"), "{msg}");
        assert!(msg.contains(name), "{msg}");
    }
}

#[test]
fn quoted_fields_keep_newlines_delimiters_and_quotes() {
    let dir = scratch("quoted");
    let p = write(
        &dir,
        "catalog.csv",
        "listing_id,title,listed_at\n\
         f1,\"Mug, large\nwith \"\"lid\"\"\",2024-01-01\n\
         f2,Lamp,2024-01-02\n",
    );
    let (c, report) = catalog(&p, TableKind::Catalog);
    let c = c.unwrap();
    assert_eq!(c.id, ["f1", "f2"]);
    assert_eq!(c.title[0], "Mug, large\nwith \"lid\"");
    // Rows are counted as records, not lines.
    assert_eq!(c.source_row, [1, 2]);
    assert_accounting(&report);
}

#[test]
fn huge_numbers_and_future_dates_are_rejected() {
    let dir = scratch("huge");
    let p = write(
        &dir,
        "sales.csv",
        "product_id,date,units,revenue\n\
         p1,2024-01-01,1e300,\n\
         p1,2024-01-01,99999999999999999999,\n\
         p1,2024-01-01,1,1e16\n\
         p1,2999-01-01,1,\n\
         p1,2024-01-01,1000000,\n",
    );
    let (s, report) = sales(&p);
    assert_eq!(units(&s.unwrap()), [Some(1e6)]);
    let reasons: Vec<(usize, &str, &str)> = report
        .rejected
        .iter()
        .map(|r| (r.row, r.column.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    for (row, column) in [(1, "units"), (2, "units"), (3, "revenue")] {
        let r = &report.rejected[row - 1];
        assert_eq!((r.row, r.column.as_str()), (row, column));
        assert!(r.reason.contains("too large"), "{r:?}");
    }
    let future = &report.rejected[3];
    assert_eq!((future.row, future.column.as_str()), (4, "date"));
    assert!(future.reason.contains("in the future"), "{future:?}");
    assert_accounting(&report);

    let p = write(
        &dir,
        "catalog.csv",
        "listing_id,title,listed_at,price\n\
         f1,Mug,2999-12-31,\n\
         f2,Mug,2024-01-01,1e20\n\
         f3,Mug,2024-01-01,10\n",
    );
    let (c, report) = catalog(&p, TableKind::Catalog);
    assert_eq!(c.unwrap().id, ["f3"]);
    assert_eq!(report.rejected[0].column, "listed_at");
    assert!(report.rejected[0].reason.contains("in the future"));
    assert_eq!(report.rejected[1].column, "price");
    assert!(report.rejected[1].reason.contains("too large"));
}

#[test]
fn titles_long_empty_symbol_only_and_mixed_script() {
    let dir = scratch("titles");
    let long = "kaos polos ".repeat(10_000);
    let body = format!(
        "product_id,title\n\
         p1,{long}\n\
         p2,\"   \"\n\
         p3,🔥🔥🔥 ✨\n\
         p4,Кружка mug 杯子 cangkir ١٢٣\n\
         p5,!!! --- ???\n"
    );
    let p = write(&dir, "products.csv", body);
    let (c, report) = catalog(&p, TableKind::Products);
    let c = c.unwrap();
    assert_eq!(c.id, ["p1", "p4"]);
    assert_eq!(
        c.title[0].len(),
        long.trim().len(),
        "long titles are kept whole"
    );
    assert_eq!(c.title[1], "Кружка mug 杯子 cangkir ١٢٣");
    assert_eq!(
        report.rejected,
        [
            rej("products", 2, "title", "title is empty"),
            rej(
                "products",
                3,
                "title",
                "title has no letters or digits: '🔥🔥🔥 ✨'"
            ),
            rej(
                "products",
                5,
                "title",
                "title has no letters or digits: '!!! --- ???'"
            ),
        ]
    );
}

#[test]
fn truncated_parquet_is_an_error_naming_the_file() {
    let dir = scratch("truncated");
    let mut df = polars::df!(
        "product_id" => ["p1", "p2", "p3"],
        "date" => ["2024-01-01", "2024-01-02", "2024-01-03"],
        "units" => [1.0, 2.0, 3.0]
    )
    .unwrap();
    let whole = write_parquet(&dir, "whole.parquet", &mut df);
    let bytes = std::fs::read(&whole).unwrap();
    for cut in [bytes.len() - 1, bytes.len() / 2, 12, 4] {
        let p = write(&dir, &format!("cut{cut}.parquet"), &bytes[..cut]);
        let err = sales(&p).0.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Unreadable { .. }), "{cut}: {err:?}");
        assert!(msg.contains(&format!("cut{cut}.parquet")), "{msg}");
    }
}

#[test]
fn duplicate_product_ids_keep_the_first() {
    let dir = scratch("dup-ids");
    let p = write(
        &dir,
        "products.csv",
        "product_id,title\np1,Mug\np2,Lamp\np1,Mug again\n",
    );
    let (c, report) = catalog(&p, TableKind::Products);
    assert_eq!(c.unwrap().title, ["Mug", "Lamp"]);
    assert_eq!(
        report.rejected,
        [rej(
            "products",
            3,
            "product_id",
            "duplicate product_id 'p1' (first seen in row 1)"
        )]
    );
}

/// A catalog read `chunk_rows` rows at a time, joined, with its accounting and the number of
/// chunks handed over; every chunk is non-empty and at most `chunk_rows` long.
fn read_in_chunks(p: &Path, chunk_rows: usize) -> (Catalog, IngestReport, usize) {
    let mut report = IngestReport::default();
    let mut joined = Catalog::new(TableKind::Catalog);
    let mut calls = 0;
    read_catalog_chunks(
        p,
        TableKind::Catalog,
        &ColumnMap::new(),
        chunk_rows,
        &mut report,
        |chunk| {
            assert!(!chunk.is_empty() && chunk.len() <= chunk_rows);
            calls += 1;
            joined.append(chunk);
            Ok(())
        },
    )
    .unwrap();
    (joined, report, calls)
}

/// Reading a catalog a chunk at a time gives the records and the accounting of reading it
/// whole, whatever the chunk size: duplicates are found across chunks, row numbers keep
/// counting, and a chunk with no accepted row is skipped. An error from the caller stops the
/// read and is returned.
#[test]
fn catalog_chunks_add_up_to_the_whole_read() {
    let dir = scratch("chunks");
    let mut csv = String::from("listing_id,title,listed_at,seller_id\n");
    for i in 0..40 {
        let row = match i % 9 {
            3 => format!("f{},Lamp {i},2024-02-30,s1\n", i),
            5 => format!("f{},Lamp again {i},2024-01-05,s2\n", i - 4),
            7 => ",,,\n".to_string(),
            _ => format!("f{i},Lamp {i},2024-01-{:02},s{}\n", 1 + i % 28, i % 3),
        };
        csv.push_str(&row);
    }
    let p = write(&dir, "catalog.csv", csv);
    let mut whole_report = IngestReport::default();
    let whole = read_catalog(&p, TableKind::Catalog, &ColumnMap::new(), &mut whole_report).unwrap();
    assert!(
        whole_report.rejected.len() >= 10,
        "{:?}",
        whole_report.rejected
    );
    assert!(whole_report
        .rejected
        .iter()
        .any(|r| r.reason.starts_with("duplicate listing_id")));
    for chunk_rows in [1, 2, 7, 40, 1000] {
        let (joined, report, calls) = read_in_chunks(&p, chunk_rows);
        assert_eq!(joined, whole, "chunks of {chunk_rows}");
        assert_eq!(report, whole_report, "chunks of {chunk_rows}");
        assert!(calls >= whole.len().div_ceil(chunk_rows) && calls <= 40usize.div_ceil(chunk_rows));
    }
    let mut calls = 0;
    let stopped = read_catalog_chunks(
        &p,
        TableKind::Catalog,
        &ColumnMap::new(),
        4,
        &mut IngestReport::default(),
        |_| {
            calls += 1;
            Err(Error::Config("stop here".into()))
        },
    );
    assert!(matches!(stopped, Err(Error::Config(m)) if m == "stop here"));
    assert_eq!(calls, 1);
}

/// The same for a Parquet catalog, read by polars' streaming engine in batches of its own
/// size: chunks are cut to `chunk_rows`, and row numbers, duplicates and rejects match the
/// whole read.
#[test]
fn parquet_catalog_chunks_add_up_to_the_whole_read() {
    let dir = scratch("parquet-chunks");
    let (mut ids, mut titles, mut dates, mut sellers) = (vec![], vec![], vec![], vec![]);
    for i in 0..40 {
        let (id, title, date, seller) = match i % 9 {
            // No date; an id seen four rows earlier; a blank row.
            3 => (
                Some(format!("f{i}")),
                Some(format!("Lamp {i}")),
                None,
                Some("s1".into()),
            ),
            5 => (
                Some(format!("f{}", i - 4)),
                Some(format!("Lamp again {i}")),
                Some(d("2024-01-05").0),
                Some("s2".into()),
            ),
            7 => (None, None, None, None),
            _ => (
                Some(format!("f{i}")),
                Some(format!("Lamp {i}")),
                Some(d(&format!("2024-01-{:02}", 1 + i % 28)).0),
                Some(format!("s{}", i % 3)),
            ),
        };
        ids.push(id);
        titles.push(title);
        dates.push(date);
        sellers.push(seller);
    }
    let df = df!(
        "listing_id" => ids,
        "title" => titles,
        "listed_at" => dates,
        "seller_id" => sellers,
    )
    .unwrap();
    let p = write_parquet_dated(&dir, "catalog.parquet", df, "listed_at");
    let mut whole_report = IngestReport::default();
    let whole = read_catalog(&p, TableKind::Catalog, &ColumnMap::new(), &mut whole_report).unwrap();
    assert_eq!(whole_report.tables[0].rows_read, 40);
    assert_eq!(whole.len() + whole_report.rejected.len(), 40);
    assert!(whole_report
        .rejected
        .iter()
        .any(|r| r.row == 6 && r.reason.starts_with("duplicate listing_id")));
    for chunk_rows in [1, 7, 40, 1000] {
        let (joined, report, _) = read_in_chunks(&p, chunk_rows);
        assert_eq!(joined, whole, "chunks of {chunk_rows}");
        assert_eq!(report, whole_report, "chunks of {chunk_rows}");
    }
}
