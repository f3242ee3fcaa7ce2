//! End to end: generated worlds through the detector and the `detect` example.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::example;
use crossleak::pipeline::{Detector, DetectorParams};
use crossleak::{ColumnsConfig, InputPaths};
use crossleak_eval::eval::score_sets;
use crossleak_eval::synth::{generate, SynthParams, World};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crossleak-it-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn world(name: &str, params: SynthParams) -> (World, PathBuf) {
    let dir = scratch(name);
    let w = generate(&params).unwrap();
    w.write(&dir).unwrap();
    (w, dir)
}

fn paths(dir: &Path) -> InputPaths {
    InputPaths {
        sales: dir.join("sales.parquet"),
        products: dir.join("products.csv"),
        catalog: dir.join("catalog.csv"),
    }
}

fn small() -> SynthParams {
    SynthParams {
        seed: 11,
        products: 400,
        ..SynthParams::default()
    }
}

#[test]
fn detector_finds_planted_followers_and_is_thread_count_invariant() {
    let (w, dir) = world("e2e", small());
    let run = |threads| {
        Detector::new(DetectorParams::default().with_threads(threads))
            .unwrap()
            .run_files(&paths(&dir), &ColumnsConfig::default())
            .unwrap()
    };
    let one = run(1);
    let two = run(2);
    assert_eq!(one.alerts, two.alerts);
    assert_eq!(one.sellers, two.sellers);
    assert_eq!(one.categories, two.categories);
    assert_eq!(one.controls, two.controls);
    assert_eq!(one.bestsellers, two.bestsellers);
    let (d1, d2) = (dir.join("out1"), dir.join("out2"));
    one.write(&d1).unwrap();
    two.write(&d2).unwrap();
    for f in [
        "alerts.csv",
        "sellers.csv",
        "categories.csv",
        "bestsellers.csv",
        "report.html",
    ] {
        // The page shows the parameters, and the thread count is one of them.
        let read = |d: &Path| {
            String::from_utf8(std::fs::read(d.join(f)).unwrap())
                .unwrap()
                .lines()
                .filter(|l| !l.trim_start().starts_with("&quot;threads&quot;:"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(read(&d1), read(&d2), "{f}");
    }

    let predicted = one
        .alerts
        .iter()
        .map(|a| (a.listing_id.clone(), a.product_id.clone()));
    let alerts = score_sets(predicted, w.truth_alerts());
    assert!(alerts.f1 >= 0.8, "alert scores {alerts:?}");
    let followers: Vec<String> = w
        .sellers
        .iter()
        .filter(|s| s.kind.name() == "follower")
        .map(|s| s.seller_id.clone())
        .collect();
    let flagged = one
        .sellers
        .iter()
        .filter(|s| s.stats.flagged)
        .map(|s| s.seller_id.clone());
    let sellers = score_sets(flagged, followers);
    assert!(
        sellers.recall >= 0.8 && sellers.precision >= 0.8,
        "seller scores {sellers:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Bad rows added to every input table are rejected, counted, and change no finding: no
/// output refers to them.
#[test]
fn rejected_rows_change_no_finding_and_are_accounted() {
    use polars::prelude::*;
    let (_, dir) = world("rejected", small());
    let clean = Detector::new(DetectorParams::default())
        .unwrap()
        .run_files(&paths(&dir), &ColumnsConfig::default())
        .unwrap();
    let alert = &clean.alerts[0];
    let bestseller = &alert.product_id;

    let bad = scratch("rejected-bad");
    let mut catalog = std::fs::read_to_string(dir.join("catalog.csv")).unwrap();
    let title = |id: &str| {
        catalog
            .lines()
            .find(|l| l.starts_with(&format!("{id},")))
            .map(|l| l.split(',').nth(1).unwrap().to_string())
            .unwrap()
    };
    let copied = title(&alert.listing_id);
    // Copies of an alerted listing: dated in the future, with a duplicate id, with no title.
    let extra_catalog = [
        format!("X-FUTURE,{copied},2999-01-01,S-BAD,1,IDR,CN,"),
        format!("{},{copied},2024-03-01,S-BAD,1,IDR,CN,", alert.listing_id),
        "X-EMPTY,   ,2024-03-01,S-BAD,1,IDR,CN,".to_string(),
        "X-SYMBOLS,🔥🔥🔥,2024-03-01,S-BAD,1,IDR,CN,".to_string(),
        format!("X-DATE,{copied},03/01/2024,S-BAD,1,IDR,CN,"),
        format!("X-PRICE,{copied},2024-03-01,S-BAD,-1,IDR,CN,"),
    ];
    catalog.push_str(&extra_catalog.join("\n"));
    catalog.push('\n');
    std::fs::write(bad.join("catalog.csv"), &catalog).unwrap();

    let mut products = std::fs::read_to_string(dir.join("products.csv")).unwrap();
    let extra_products = [
        format!("{bestseller},Another title,,,,,"),
        "X-P1,🔥 ✨,,,,,".to_string(),
    ];
    products.push_str(&extra_products.join("\n"));
    products.push('\n');
    std::fs::write(bad.join("products.csv"), &products).unwrap();

    // Sales: a huge spike for a quiet product, a future day, and sales of an unknown product.
    let mut sales = ParquetReader::new(std::fs::File::open(dir.join("sales.parquet")).unwrap())
        .finish()
        .unwrap();
    let quiet = "P00001";
    let day = |s: &str| crossleak::Date::parse(s).unwrap().0;
    let extra = df!(
        "product_id" => [quiet, quiet, "X-P1", "NOPE"],
        "date" => [day("2024-06-01"), day("2999-01-01"), day("2024-06-01"), day("2024-06-01")],
        "units" => [1e20, 5.0, 5.0, 5.0]
    )
    .unwrap()
    .lazy()
    .with_column(col("date").cast(DataType::Date))
    .collect()
    .unwrap();
    let extra = extra.select(sales.get_column_names_owned()).unwrap();
    sales.vstack_mut(&extra).unwrap();
    ParquetWriter::new(std::fs::File::create(bad.join("sales.parquet")).unwrap())
        .finish(&mut sales)
        .unwrap();

    let dirty = Detector::new(DetectorParams::default())
        .unwrap()
        .run_files(&paths(&bad), &ColumnsConfig::default())
        .unwrap();
    crate::assert_same_findings(&dirty, &clean);

    let rejected = |table: &str| {
        dirty
            .ingest
            .rejected
            .iter()
            .filter(|r| r.table == table)
            .count()
    };
    assert_eq!(rejected("catalog"), extra_catalog.len());
    assert_eq!(rejected("products"), extra_products.len());
    assert_eq!(rejected("sales"), 4);
    for t in &dirty.ingest.tables {
        assert_eq!(t.rows_read, t.accepted + t.rejected, "{t:?}");
        let before = clean
            .ingest
            .tables
            .iter()
            .find(|c| c.table == t.table)
            .unwrap();
        assert_eq!(t.accepted, before.accepted, "{t:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&bad).ok();
}

/// Titles of 100,000 characters (Latin and Han) and mixed scripts go through every stage.
#[test]
fn long_and_mixed_script_titles_run_end_to_end() {
    let (_, dir) = world("long-titles", small());
    let mut catalog = std::fs::read_to_string(dir.join("catalog.csv")).unwrap();
    let latin: String = (0..)
        .map(|i| format!("kaos polos hitam {i} "))
        .flat_map(|w| w.chars().collect::<Vec<_>>())
        .take(100_000)
        .collect();
    let han: String = (0..100_000u32)
        .map(|i| char::from_u32(0x4e00 + (i * 7) % 2000).unwrap())
        .collect();
    for (id, title) in [
        ("X-LATIN", latin.trim().to_string()),
        ("X-HAN", han),
        ("X-MIXED", "Кружка mug 杯子 cangkir ١٢٣ 🔥".to_string()),
    ] {
        catalog.push_str(&format!("{id},\"{title}\",2024-05-01,S-LONG,1,IDR,CN,\n"));
    }
    std::fs::write(dir.join("catalog.csv"), catalog).unwrap();
    let report = Detector::new(DetectorParams::default())
        .unwrap()
        .run_files(&paths(&dir), &ColumnsConfig::default())
        .unwrap();
    assert!(
        report.ingest.rejected.is_empty(),
        "{:?}",
        report.ingest.rejected
    );
    assert!(report.sellers.iter().any(|s| s.seller_id == "S-LONG"));
    std::fs::remove_dir_all(&dir).ok();
}

/// The chunked scoring step gives the same candidates and features whatever the chunk size,
/// as a job scoring partitions of a catalog relies on.
#[test]
fn listing_chunks_score_like_one_pass() {
    use crossleak::pipeline::MatchParams;
    use crossleak::{ListingScorer, PairFeatures};
    let (_, dir) = world("chunks", small());
    let inputs = crossleak::Inputs::load(&paths(&dir), &ColumnsConfig::default()).unwrap();
    let scorer = ListingScorer::new(&inputs.products, &MatchParams::default(), true);
    let n = inputs.catalog.len();
    let run = |chunk: usize| {
        let (mut pairs, mut features) = (Vec::new(), PairFeatures::default());
        for start in (0..n).step_by(chunk) {
            let rows = start..(start + chunk).min(n);
            scorer.score(
                &inputs.catalog,
                rows,
                &Default::default(),
                &mut pairs,
                &mut features,
            );
        }
        (pairs, features)
    };
    let whole = run(n);
    assert!(whole.0.len() >= n, "every listing has candidates");
    assert_eq!(whole.0.len(), whole.1.len());
    for chunk in [1, 7, 100] {
        assert_eq!(run(chunk), whole, "chunks of {chunk}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The catalog streamed from its file gives the findings of the catalog read whole; a catalog
/// larger than `fit_listings` is fitted on a sample picked by id fingerprint, so the findings do
/// not depend on the file's row order, and they agree with the fit on every listing.
#[test]
fn streamed_and_sampled_runs_agree_with_the_whole_catalog() {
    use crossleak::{LeakAlert, Report};
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    // Enough listings for a third of them to be a sample the parameters allow.
    let (w, dir) = world(
        "sampled",
        SynthParams {
            organic: 40,
            unrelated: 100,
            ..small()
        },
    );
    let run = |dir: &Path, fit_listings: usize| {
        let mut params = DetectorParams::default();
        params.matching.fit_listings = fit_listings;
        Detector::new(params)
            .unwrap()
            .run_files(&paths(dir), &ColumnsConfig::default())
            .unwrap()
    };
    let n = w.listings.len();
    let full = run(&dir, n);
    assert_eq!((full.summary.listings, full.summary.fit_listings), (n, n));
    let inputs = crossleak::Inputs::load(&paths(&dir), &ColumnsConfig::default()).unwrap();
    let in_memory = Detector::new(DetectorParams::default())
        .unwrap()
        .run(inputs)
        .unwrap();
    crate::assert_same_findings(&in_memory, &full);

    // The same rows in another order, fitted on a third of the listings.
    let shuffled = dir.join("shuffled");
    std::fs::create_dir_all(&shuffled).unwrap();
    for f in ["sales.parquet", "products.csv"] {
        std::fs::copy(dir.join(f), shuffled.join(f)).unwrap();
    }
    let text = std::fs::read_to_string(dir.join("catalog.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), n + 1, "one line per listing");
    lines[1..].shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(5));
    std::fs::write(shuffled.join("catalog.csv"), lines.join("\n") + "\n").unwrap();
    let third = n / 3;
    assert!(third >= 1000, "{n} listings");
    let sampled = run(&dir, third);
    let reordered = run(&shuffled, third);

    // A progress observer sees every stage once, in order, with the listings counted, and
    // changes nothing.
    // Each stage is also a tracing span named after it.
    let recorder = std::sync::Arc::new(Recorder::default());
    let mut params = DetectorParams::default();
    params.matching.fit_listings = third;
    let spans = SpanNames::default();
    let observed = tracing::subscriber::with_default(spans.clone(), || {
        Detector::new(params)
            .unwrap()
            .with_progress(recorder.clone())
            .run_files(&paths(&dir), &ColumnsConfig::default())
            .unwrap()
    });
    crate::assert_same_findings(&observed, &sampled);
    use crossleak::Stage::*;
    let labels: Vec<&str> = [Home, HomeSide, Survey, Fit, Match, Evidence]
        .iter()
        .map(|s| s.label())
        .collect();
    assert_eq!(*spans.names.lock().unwrap(), labels);
    let n64 = n as u64;
    let t64 = third as u64;
    assert_eq!(
        *recorder.stages.lock().unwrap(),
        vec![
            (Home, None, 0),
            (HomeSide, None, 0),
            (Survey, None, n64),
            (Fit, Some(t64), t64),
            (Match, Some(n64 - t64), n64 - t64),
            (Evidence, None, 0),
        ]
    );
    assert_eq!(sampled.summary.fit_listings, third);
    let mut params = DetectorParams::default();
    params.matching.fit_listings = third;
    let inputs = crossleak::Inputs::load(&paths(&dir), &ColumnsConfig::default()).unwrap();
    let sampled_in_memory = Detector::new(params).unwrap().run(inputs).unwrap();
    crate::assert_same_findings(&sampled_in_memory, &sampled);
    // File rows differ; everything else is the same.
    let key = |r: &Report| -> Vec<(String, String, u64, i32)> {
        let all: Vec<&LeakAlert> = r
            .alerts
            .iter()
            .chain(&r.pre_existing)
            .chain(&r.outside_window)
            .collect();
        all.iter()
            .map(|a| {
                (
                    a.listing_id.clone(),
                    a.product_id.clone(),
                    a.match_probability.to_bits(),
                    a.lag_days,
                )
            })
            .collect()
    };
    assert_eq!(key(&sampled), key(&reordered));
    assert_eq!(sampled.summary, reordered.summary);
    assert_eq!(sampled.sellers, reordered.sellers);
    assert_eq!(sampled.categories, reordered.categories);
    assert_eq!(sampled.controls, reordered.controls);
    assert_eq!(sampled.model, reordered.model);

    // The sample's fit finds nearly the alerts of the full fit.
    let pairs = |r: &Report| {
        r.alerts
            .iter()
            .map(|a| (a.listing_id.clone(), a.product_id.clone()))
            .collect::<Vec<_>>()
    };
    let agreement = score_sets(pairs(&sampled), pairs(&full));
    assert!(agreement.f1 >= 0.95, "sampled vs full alerts {agreement:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Every stage a run reports: its total when known, and the steps it advanced by.
#[derive(Default)]
struct Recorder {
    stages: std::sync::Mutex<Vec<(crossleak::Stage, Option<u64>, u64)>>,
}

impl crossleak::Progress for Recorder {
    fn begin(&self, stage: crossleak::Stage, total: Option<u64>) {
        self.stages.lock().unwrap().push((stage, total, 0));
    }
    fn advance(&self, steps: u64) {
        self.stages.lock().unwrap().last_mut().unwrap().2 += steps;
    }
    fn end(&self, stage: crossleak::Stage) {
        assert_eq!(self.stages.lock().unwrap().last().unwrap().0, stage);
    }
}

/// A `tracing` subscriber that keeps the `name` field of every `stage` span, in order.
#[derive(Clone, Default)]
struct SpanNames {
    names: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl tracing::Subscriber for SpanNames {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        struct Name<'a>(&'a mut Option<String>);
        impl tracing::field::Visit for Name<'_> {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "name" {
                    *self.0 = Some(value.to_string());
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        if span.metadata().name() == "stage" {
            let mut name = None;
            span.record(&mut Name(&mut name));
            self.names.lock().unwrap().push(name.unwrap_or_default());
        }
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        tracing::span::Id::from_u64(id)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A table whose every row is rejected is an error naming it and its first rejected row,
/// whether the catalog is streamed from its file or read whole.
#[test]
fn a_table_with_no_accepted_row_is_an_error_naming_the_first_reject() {
    let (_, dir) = world("no-rows", small());
    let text = std::fs::read_to_string(dir.join("catalog.csv")).unwrap();
    let mut lines = text.lines();
    let mut bad = format!("{}\n", lines.next().unwrap());
    for line in lines {
        // Every listing dated on a day that does not exist.
        let at = line
            .as_bytes()
            .windows(12)
            .position(|w| {
                w[0] == b','
                    && w[5] == b'-'
                    && w[8] == b'-'
                    && w[11] == b','
                    && w[1..5].iter().all(u8::is_ascii_digit)
            })
            .unwrap();
        bad.push_str(&format!("{}2024-02-31{}\n", &line[..=at], &line[at + 11..]));
    }
    std::fs::write(dir.join("catalog.csv"), bad).unwrap();
    let detector = Detector::new(DetectorParams::default()).unwrap();
    let streamed = detector
        .run_files(&paths(&dir), &ColumnsConfig::default())
        .unwrap_err();
    let inputs = crossleak::Inputs::load(&paths(&dir), &ColumnsConfig::default()).unwrap();
    let whole = detector.run(inputs).unwrap_err();
    for err in [streamed.to_string(), whole.to_string()] {
        assert!(
            err.starts_with("catalog: no row accepted")
                && err.contains("first rejected: row 1, column `listed_at`"),
            "{err}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn no_followers_no_flags() {
    let (_, dir) = world(
        "nofollow",
        SynthParams {
            followers: 0,
            ..small()
        },
    );
    let report = Detector::new(DetectorParams::default())
        .unwrap()
        .run_files(&paths(&dir), &ColumnsConfig::default())
        .unwrap();
    assert_eq!(
        report.summary.flagged_sellers,
        0,
        "{:?}",
        report
            .sellers
            .iter()
            .filter(|s| s.stats.flagged)
            .collect::<Vec<_>>()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn detect_example_scores_itself_and_reports_bad_input() {
    let bin = example("detect");
    assert!(bin.exists(), "build the examples first: {}", bin.display());
    let (_, dir) = world("example", SynthParams { seed: 5, ..small() });
    let out = Command::new(&bin)
        .args([
            "--sales",
            "sales.parquet",
            "--products",
            "products.csv",
            "--catalog",
            "catalog.csv",
        ])
        .args([
            "--truth-alerts",
            "truth_alerts.csv",
            "--truth-sellers",
            "truth_sellers.csv",
        ])
        .args(["--out", "out", "--threads", "2"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("alerts: precision="), "{last}");
    let f1: f64 = last
        .split("f1=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(f1 >= 0.8, "{last}");
    for f in [
        "alerts.csv",
        "sellers.csv",
        "categories.csv",
        "categories.parquet",
        "report.json",
        "report.html",
        "rejected_rows.csv",
    ] {
        assert!(dir.join("out").join(f).exists(), "{f}");
    }

    let bad = Command::new(&bin)
        .args([
            "--sales",
            "nope.csv",
            "--products",
            "products.csv",
            "--catalog",
            "catalog.csv",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("nope.csv"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn config_loads_partially_and_names_bad_keys_and_ranges() {
    use crossleak::pipeline::Config;
    let dir = scratch("config");
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "[columns.catalog]\nlisting_id = \"item_id\"\n\n[params.leak]\nmax_lag_days = 90\n",
    )
    .unwrap();
    let c = Config::load(&good).unwrap();
    assert_eq!(c.params.leak.max_lag_days, 90);
    assert_eq!(
        c.params.leak.min_lag_days, 1,
        "missing keys keep their defaults"
    );
    assert_eq!(c.columns.catalog["listing_id"], "item_id");

    let unknown = dir.join("unknown.toml");
    std::fs::write(&unknown, "[params.trend]\nmin_rice = 4.0\n").unwrap();
    let err = Config::load(&unknown).unwrap_err().to_string();
    assert!(err.contains("min_rice"), "{err}");

    let range = dir.join("range.json");
    std::fs::write(&range, r#"{"params": {"leak": {"alpha": 1.5}}}"#).unwrap();
    let err = Config::load(&range).unwrap_err().to_string();
    assert!(
        err.contains("leak.alpha") && err.contains("0 < alpha < 1"),
        "{err}"
    );
    std::fs::write(
        &range,
        r#"{"params": {"leak": {"max_permutations": 1000000000}}}"#,
    )
    .unwrap();
    let err = Config::load(&range).unwrap_err().to_string();
    assert!(err.contains("leak.max_permutations"), "{err}");
    std::fs::write(&range, r#"{"params": {"match": {"fit_listings": 10}}}"#).unwrap();
    let err = Config::load(&range).unwrap_err().to_string();
    assert!(
        err.contains("match.fit_listings") && err.contains("1000 or more"),
        "{err}"
    );

    let rates = dir.join("rates.toml");
    std::fs::write(
        &rates,
        "[params.match]\nexchange_rates = { CNY = -2150.0 }\n",
    )
    .unwrap();
    let err = Config::load(&rates).unwrap_err().to_string();
    assert!(
        err.contains("match.exchange_rates.CNY") && err.contains("a positive number"),
        "{err}"
    );

    let missing = Config::load(&dir.join("nope.toml"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("nope.toml"), "{missing}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unreadable_configs_are_errors_naming_the_file_and_place() {
    use crossleak::pipeline::Config;
    let dir = scratch("bad-config");
    let load = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let err = Config::load(&p).unwrap_err().to_string();
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        err
    };
    let err = load(
        "syntax.toml",
        b"[params.leak]\nmax_lag_days = 90\nalpha = = 0.1\n",
    );
    assert!(
        err.contains("syntax.toml") && err.contains("line 3"),
        "{err}"
    );
    let err = load("syntax.json", b"{\"params\": {\"leak\": }}");
    assert!(
        err.contains("syntax.json") && err.contains("line 1"),
        "{err}"
    );
    let err = load("latin1.toml", b"[params.leak]\n# caf\xe9\n");
    assert!(
        err.contains("latin1.toml") && err.contains("UTF-8"),
        "{err}"
    );
    let err = load("types.toml", b"[params.leak]\nmax_lag_days = \"ninety\"\n");
    assert!(
        err.contains("types.toml") && err.contains("line 2"),
        "{err}"
    );
    let err = load("config.yaml", b"params: {}\n");
    assert!(
        err.contains("config.yaml") && err.contains(".toml"),
        "{err}"
    );
    let sub = dir.join("dir.toml");
    std::fs::create_dir_all(&sub).unwrap();
    let err = Config::load(&sub).unwrap_err().to_string();
    assert!(err.contains("dir.toml"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The config shown in the guide (docs/GUIDE.md) loads as it is.
#[test]
fn readme_config_example_loads() {
    let readme = include_str!("../../docs/GUIDE.md");
    let start = readme.find("```toml\n").expect("a toml block in the guide") + 8;
    let len = readme[start..].find("```").unwrap();
    let dir = scratch("readme-config");
    let path = dir.join("crossleak.toml");
    std::fs::write(&path, &readme[start..start + len]).unwrap();
    let config = crossleak::pipeline::Config::load(&path).unwrap();
    assert_eq!(config.columns.catalog["listed_at"], "first_seen");
    assert_eq!(config.params.leak.max_lag_days, 180);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn review_pairs_labelled_back_steer_and_decide_the_matches() {
    let (w, dir) = world("labels", small());
    let run = |params: DetectorParams| {
        Detector::new(params)
            .unwrap()
            .run_files(&paths(&dir), &ColumnsConfig::default())
            .unwrap()
    };
    let first = run(DetectorParams::default());
    let review = &first.review;
    assert!(!review.is_empty() && review.len() <= 50, "{}", review.len());
    // Least sure first, one pair per listing.
    let doubt: Vec<f64> = review.iter().map(|r| (r.probability - 0.5).abs()).collect();
    assert!(doubt.windows(2).all(|d| d[0] <= d[1]), "{doubt:?}");
    let listings: std::collections::BTreeSet<&str> =
        review.iter().map(|r| r.listing_id.as_str()).collect();
    assert_eq!(listings.len(), review.len());
    first.write(&dir.join("out")).unwrap();
    let written = std::fs::read_to_string(dir.join("out/review_pairs.csv")).unwrap();
    assert!(
        written.starts_with("listing_id,product_id,probability,listing_title,product_title,label")
    );
    assert_eq!(written.lines().count(), review.len() + 1);

    // The analyst labels every pair put to them from the truth, each the other way round too
    // (a copy's pair as a non-match), and the run must follow the labels whatever the model.
    let truth: std::collections::BTreeSet<(String, String)> =
        w.truth_copies().into_iter().collect();
    let mut file = String::from("listing_id,product_id,label\n");
    for r in review {
        let copy = truth.contains(&(r.listing_id.clone(), r.product_id.clone()));
        file.push_str(&format!(
            "{},{},{}\n",
            r.listing_id,
            r.product_id,
            u8::from(!copy)
        ));
    }
    let labels = dir.join("labels.csv");
    std::fs::write(&labels, file).unwrap();
    let mut params = DetectorParams::default();
    params.matching.labels = Some(labels);
    let flipped = run(params);
    let linked: std::collections::BTreeSet<(&str, &str)> = flipped
        .alerts
        .iter()
        .chain(&flipped.pre_existing)
        .chain(&flipped.outside_window)
        .map(|a| (a.listing_id.as_str(), a.product_id.as_str()))
        .collect();
    let best: std::collections::BTreeSet<&str> = flipped
        .bestsellers
        .iter()
        .map(|b| b.product_id.as_str())
        .collect();
    for r in review {
        let pair = (r.listing_id.as_str(), r.product_id.as_str());
        if truth.contains(&(r.listing_id.clone(), r.product_id.clone())) {
            // Labelled a non-match: never linked.
            assert!(!linked.contains(&pair), "{pair:?}");
        } else if best.contains(r.product_id.as_str()) {
            // Labelled a match, of a bestseller: linked whatever the model thinks.
            assert!(linked.contains(&pair), "{pair:?}");
        }
    }
    // Labelled listings are not put to the analyst again.
    assert!(flipped
        .review
        .iter()
        .all(|r| !listings.contains(r.listing_id.as_str())));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_label_is_an_error_naming_the_row_and_column() {
    let dir = scratch("badlabels");
    let path = dir.join("labels.csv");
    std::fs::write(
        &path,
        "listing_id,product_id,label\nL1,P1,1\nL2,P2,\nL3,P3,maybe\n",
    )
    .unwrap();
    let e = crossleak::PairLabels::read(&path).unwrap_err().to_string();
    assert!(
        e.contains("row 3") && e.contains("label") && e.contains("maybe"),
        "{e}"
    );
    std::fs::write(
        &path,
        "listing_id,product_id,label\nL1,P1,yes\nL2,P2,\nL1,P9,0\n",
    )
    .unwrap();
    let labels = crossleak::PairLabels::read(&path).unwrap();
    assert_eq!(labels.len(), 2);
    assert_eq!(labels.get("L1", "P1"), Some(true));
    assert_eq!(labels.get("L1", "P9"), Some(false));
    assert_eq!(labels.get("L2", "P2"), None);
    std::fs::write(&path, "listing,product_id,label\nL1,P1,1\n").unwrap();
    let e = crossleak::PairLabels::read(&path).unwrap_err().to_string();
    assert!(e.contains("listing_id"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A home side fitted once runs several foreign catalogs with the findings of a whole run on
/// each, and refuses a detector with other matching parameters.
#[test]
fn a_fitted_home_side_serves_several_catalogs() {
    let (_, dir) = world("fitted", small());
    // A second catalog: every other listing of the first.
    let half = dir.join("half");
    std::fs::create_dir_all(&half).unwrap();
    let text = std::fs::read_to_string(dir.join("catalog.csv")).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(half.join("catalog.csv"), kept.join("\n") + "\n").unwrap();

    let detector = Detector::new(DetectorParams::default().with_threads(2)).unwrap();
    let columns = ColumnsConfig::default();
    let home = detector.fit_home_files(&paths(&dir), &columns).unwrap();
    assert!(!home.bestsellers().is_empty());
    for d in [&dir, &half] {
        let reused = detector
            .detect_file(&home, &d.join("catalog.csv"), &columns.catalog)
            .unwrap();
        let inputs = crossleak::InputPaths {
            catalog: d.join("catalog.csv"),
            ..paths(&dir)
        };
        let whole = detector.run_files(&inputs, &columns).unwrap();
        crate::assert_same_findings(&reused, &whole);
        assert_eq!(reused.ingest, whole.ingest);
    }
    let other = Detector::new(DetectorParams::default().with_top_k(3)).unwrap();
    let err = other
        .detect_file(&home, &dir.join("catalog.csv"), &columns.catalog)
        .unwrap_err();
    assert!(err.to_string().contains("fitted with other"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Inputs given as polars frames (typed columns, as a caller's own scans or joins give them)
/// are validated as files are and give the findings of the files.
#[test]
fn inputs_from_frames_give_the_findings_of_the_files() {
    use polars::prelude::{col, LazyCsvReader, LazyFileListReader, LazyFrame, PlRefPath};
    let (_, dir) = world("frames", small());
    let csv = |name: &str| {
        LazyCsvReader::new(PlRefPath::try_from_path(&dir.join(name)).unwrap())
            .finish()
            .unwrap()
    };
    let sales = || {
        LazyFrame::scan_parquet(
            PlRefPath::try_from_path(&dir.join("sales.parquet")).unwrap(),
            Default::default(),
        )
        .unwrap()
    };
    let columns = ColumnsConfig::default();
    let inputs =
        crossleak::Inputs::from_frames(sales(), csv("products.csv"), csv("catalog.csv"), &columns)
            .unwrap();
    let tables: Vec<(String, usize)> = (inputs.report.tables.iter())
        .map(|t| (t.path.display().to_string(), t.accepted))
        .collect();
    assert_eq!(tables[0].0, "<sales frame>");
    assert_eq!(tables[2].0, "<catalog frame>");
    let detector = Detector::new(DetectorParams::default().with_threads(2)).unwrap();
    let from_frames = detector.run(inputs).unwrap();
    let from_files = detector.run_files(&paths(&dir), &columns).unwrap();
    crate::assert_same_findings(&from_frames, &from_files);
    for (t, f) in from_frames
        .ingest
        .tables
        .iter()
        .zip(&from_files.ingest.tables)
    {
        assert_eq!(
            (t.rows_read, t.accepted, t.rejected),
            (f.rows_read, f.accepted, f.rejected)
        );
    }

    // A frame without a required column is an error naming it and the table.
    let untitled = csv("products.csv").select([col("product_id"), col("category")]);
    let err = crossleak::HomeInputs::from_frames(sales(), untitled, &columns)
        .unwrap_err()
        .to_string();
    assert!(err.contains("title") && err.contains("products"), "{err}");
    // An empty frame is an error naming it.
    let empty = csv("products.csv").limit(0);
    let err = crossleak::HomeInputs::from_frames(sales(), empty, &columns)
        .unwrap_err()
        .to_string();
    assert!(err.contains("<products frame>"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A home spec travels as JSON; a worker fits the home side from its own copies of the files
/// and gets the driver's findings, and copies or parameters that differ are refused.
#[test]
fn a_home_spec_rebuilds_the_home_side_on_a_worker() {
    let (_, dir) = world("spec", small());
    let columns = ColumnsConfig::default();
    let params = DetectorParams::default().with_threads(2);
    let spec = crossleak::HomeSpec::new(&paths(&dir), &columns, &params).unwrap();
    assert_eq!(spec.digest.len(), 32);
    let json = serde_json::to_string(&spec).unwrap();
    let shipped: crossleak::HomeSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(shipped, spec);

    // The worker's copies live elsewhere.
    let worker = dir.join("worker");
    std::fs::create_dir_all(&worker).unwrap();
    for f in ["sales.parquet", "products.csv"] {
        std::fs::copy(dir.join(f), worker.join(f)).unwrap();
    }
    let (sales, products) = (worker.join("sales.parquet"), worker.join("products.csv"));
    let home = shipped.fit(&sales, &products).unwrap();
    // The thread count is the worker's own.
    let mut one_thread = shipped.clone();
    one_thread.params = one_thread.params.with_threads(1);
    assert!(one_thread.fit(&sales, &products).is_ok());
    let report = (shipped.detector().unwrap())
        .detect_file(&home, &dir.join("catalog.csv"), &columns.catalog)
        .unwrap();
    let whole = Detector::new(params.clone())
        .unwrap()
        .run_files(&paths(&dir), &columns)
        .unwrap();
    crate::assert_same_findings(&report, &whole);

    // A copy with one byte changed, or other parameters, is refused.
    let mut text = std::fs::read(&products).unwrap();
    let last = text.len() - 2;
    text[last] = if text[last] == b'x' { b'y' } else { b'x' };
    std::fs::write(&products, &text).unwrap();
    let err = shipped.fit(&sales, &products).unwrap_err().to_string();
    assert!(err.contains("digest"), "{err}");
    let mut other = shipped.clone();
    other.params = DetectorParams::default().with_top_k(3);
    let err = other
        .fit(&dir.join("sales.parquet"), &dir.join("products.csv"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("digest"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Listings priced in the sellers' own currencies are compared with home prices at rates
/// learned from the confident matches: each learned rate is within 10% of the one the true
/// copies give, and prices in those currencies become evidence; configured rates are used as
/// given, and with learning off other currencies stay uncompared.
#[test]
fn listing_prices_in_other_currencies_are_compared_at_learned_or_given_rates() {
    use crossleak::matching::rates::RateSource;
    use std::collections::BTreeMap;

    let (w, dir) = world("rates", small());
    let run = |matching: crossleak::pipeline::MatchParams| {
        let params = DetectorParams {
            matching,
            ..DetectorParams::default()
        };
        Detector::new(params)
            .unwrap()
            .run_files(&paths(&dir), &ColumnsConfig::default())
            .unwrap()
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // What the true copies say: the median log ratio of home price to listing price per
    // currency, less that of the copies priced in the home currency.
    let mut ratios: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for l in &w.listings {
        if let Some(p) = l.copy_of {
            let ratio = (w.products[p].price / l.price).ln();
            ratios.entry(l.currency.as_str()).or_default().push(ratio);
        }
    }
    let usual = median(ratios["IDR"].clone());

    let learned = run(Default::default());
    let rates = &learned.exchange_rates;
    assert_eq!(rates.home.as_deref(), Some("IDR"));
    assert!(rates.rates.len() >= 3, "{rates:?}");
    for r in &rates.rates {
        assert_eq!(r.source, RateSource::Learned);
        assert!(r.pairs >= crossleak::matching::rates::MIN_RATE_PAIRS);
        let truth = (median(ratios[r.currency.as_str()].clone()) - usual).exp();
        assert!(
            (r.rate / truth - 1.0).abs() < 0.1,
            "{}: learned {} against {truth}",
            r.currency,
            r.rate
        );
    }
    let foreign_priced = |report: &crossleak::Report| {
        report
            .alerts
            .iter()
            .filter(|a| {
                let l = w.listings.iter().find(|l| l.listing_id == a.listing_id);
                l.is_some_and(|l| l.currency != "IDR")
            })
            .map(|a| a.evidence.price_similarity.is_some())
            .collect::<Vec<bool>>()
    };
    assert!(learned.html().unwrap().contains("exchange rates into IDR"));
    let priced = foreign_priced(&learned);
    assert!(!priced.is_empty() && priced.iter().any(|&p| p));

    let off = run(crossleak::pipeline::MatchParams {
        learn_exchange_rates: false,
        ..Default::default()
    });
    assert!(off.exchange_rates.rates.is_empty());
    assert!(foreign_priced(&off).iter().all(|&p| !p));

    let given: BTreeMap<String, f64> = rates
        .rates
        .iter()
        .map(|r| (r.currency.to_lowercase(), r.rate))
        .collect();
    let configured = run(crossleak::pipeline::MatchParams {
        exchange_rates: given,
        ..Default::default()
    });
    assert_eq!(configured.exchange_rates.rates.len(), rates.rates.len());
    for (c, r) in configured.exchange_rates.rates.iter().zip(&rates.rates) {
        assert_eq!(
            (c.source, &c.currency, c.rate),
            (RateSource::Configured, &r.currency, r.rate)
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
