//! Bestseller onsets: the injection harness on real curves, revenue-only sales, category ranks,
//! determinism across thread counts, and the `onset_eval` example.

use crate::example;
use std::process::Command;

use crossleak::ingest::{read_sales, Catalog, ColumnMap, IngestReport, SalesPanel, TableKind};
use crossleak::trend::{detect_onsets, DemandGrid, DemandMeasure, OnsetRule, TrendParams};
use crossleak::Date;
use crossleak_eval::trend_eval::{self, CurveKind, OnsetEvalParams};

fn catalog(ids: &[&str], category: Option<&str>, price: Option<f64>) -> Catalog {
    let mut c = Catalog::new(TableKind::Products);
    for (i, id) in ids.iter().enumerate() {
        c.id.push(id.to_string());
        c.title.push(format!("title {id}"));
        c.description.push(None);
        c.category.push(category.map(str::to_string));
        c.brand.push(None);
        c.price.push(price);
        c.currency.push(None);
        c.seller_id.push(None);
        c.origin_country.push(None);
        c.image_phash.push(None);
        c.listed_at.push(None);
        c.source_row.push(i + 1);
    }
    c
}

/// The figures in docs/BENCHMARKS.md, on the seeded run it quotes (seed 7, all bundled curves).
#[test]
fn onsets_on_real_curves_meet_the_readme_figures() {
    let params = OnsetEvalParams {
        seed: 7,
        ..OnsetEvalParams::default()
    };
    let s = trend_eval::run(&params, &TrendParams::default()).unwrap();
    let rises = s.kinds.iter().find(|k| k.kind == CurveKind::Rise).unwrap();
    assert_eq!(rises.curves, 776);
    assert!(s.recall >= 0.95, "recall {}", s.recall);
    assert!(s.precision >= 0.95, "precision {}", s.precision);
    assert!(
        s.onset_error_median <= 3.0,
        "median {}",
        s.onset_error_median
    );
    assert!(s.onset_error_p90 <= 10.0, "p90 {}", s.onset_error_p90);
    assert!(
        s.promo_false_positive_rate <= 0.02,
        "promotions {}",
        s.promo_false_positive_rate
    );
}

/// The harness can fail: with a rule that needs a 25x rise most injected rises are missed.
#[test]
fn harness_reports_misses() {
    let params = OnsetEvalParams {
        curves: 40,
        ..OnsetEvalParams::default()
    };
    let strict = TrendParams {
        min_rise: 25.0,
        top_share: 0.0,
        ..TrendParams::default()
    };
    let s = trend_eval::run(&params, &strict).unwrap();
    assert!(s.recall < 0.5, "recall {}", s.recall);
    assert_eq!(s.true_positives + s.false_negatives, 80);
}

#[test]
fn onsets_do_not_depend_on_thread_count() {
    let set = trend_eval::generate(&OnsetEvalParams {
        curves: 60,
        ..OnsetEvalParams::default()
    })
    .unwrap();
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| detect_onsets(&set.grid, &set.products, &TrendParams::default()))
    };
    let one = run(1);
    assert!(!one.is_empty());
    assert_eq!(one, run(4));
}

/// Daily rows of a curve that jumps from 4 to 40 a day on day 150.
fn rows(s: &mut SalesPanel, id: &str, units: bool, revenue: Option<f64>) {
    let start = Date::from_ymd(2024, 1, 1).unwrap();
    for d in 0..364 {
        let u = if d >= 150 { 40.0 } else { 4.0 };
        let row = s.len() + 1;
        s.push(
            id,
            start.add_days(d),
            units.then_some(u),
            revenue.map(|price| price * u),
            row,
        );
    }
}

#[test]
fn revenue_stands_in_for_missing_units() {
    let mut sales = SalesPanel::default();
    // a: units only; b: revenue only, catalog price 2.5; c: revenue only, no price.
    rows(&mut sales, "a", true, None);
    rows(&mut sales, "b", false, Some(2.5));
    rows(&mut sales, "c", false, Some(3.0));
    let mut products = catalog(&["a", "b", "c"], None, Some(2.5));
    products.price[2] = None;
    let grid = DemandGrid::build(&sales, &products);
    assert_eq!(
        grid.measure,
        [
            DemandMeasure::Units,
            DemandMeasure::UnitsFromRevenue,
            DemandMeasure::Revenue
        ]
    );
    assert_eq!(grid.units[0], grid.units[1]);
    assert_eq!(grid.units[2][0], 12.0);
    let params = TrendParams {
        top_share: 0.0,
        ..TrendParams::default()
    };
    let events = detect_onsets(&grid, &products, &params);
    assert_eq!(events.len(), 3);
    for e in &events {
        let day = grid.start.days_until(e.onset);
        assert!((day - 150).abs() <= 3, "{} onset day {day}", e.product_id);
        assert_eq!(e.rule, OnsetRule::Rise);
    }
}

/// Weekly sales (one row per product per week) go through the same daily grid: the rise is
/// found and dated within its week, with its peak and confidence.
#[test]
fn weekly_sales_rows_are_handled() {
    let start = Date::from_ymd(2024, 1, 1).unwrap();
    let mut s = SalesPanel::default();
    for w in 0..52 {
        for (id, units) in [
            ("flat", 30.0),
            ("riser", if w >= 30 { 240.0 } else { 30.0 }),
        ] {
            let row = s.len() + 1;
            s.push(
                id,
                start.add_days(7 * w),
                Some(units + (w % 3) as f64),
                None,
                row,
            );
        }
    }
    let products = catalog(&["flat", "riser"], None, None);
    let grid = DemandGrid::build(&s, &products);
    assert_eq!(grid.days, 7 * 51 + 1);
    let params = TrendParams {
        top_share: 0.0,
        ..TrendParams::default()
    };
    let events = detect_onsets(&grid, &products, &params);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.product_id, "riser");
    let day = grid.start.days_until(e.onset);
    assert!((7 * 29 + 1..=7 * 30).contains(&day), "onset day {day}");
    assert!(e.rise_factor >= 7.0 && e.confidence == 1.0, "{e:?}");
    assert!((e.peak - 242.0 / 7.0).abs() < 1e-9, "{e:?}");
}

#[test]
fn sales_without_a_units_column_load_from_revenue() {
    let dir = std::env::temp_dir().join(format!("crossleak-it-revenue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sales.csv");
    std::fs::write(
        &path,
        "product_id,date,revenue\np1,2024-01-01,10.5\np1,2024-01-02,\n",
    )
    .unwrap();
    let mut report = IngestReport::default();
    let s = read_sales(&path, &ColumnMap::new(), &mut report).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!((s.units(0), s.revenue(0)), (None, Some(10.5)));
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].reason, "units is empty");
    std::fs::write(&path, "product_id,date\np1,2024-01-01\n").unwrap();
    let err = read_sales(&path, &ColumnMap::new(), &mut IngestReport::default());
    assert!(err.unwrap_err().to_string().contains("units"));
    std::fs::remove_dir_all(&dir).ok();
}

/// A transaction log (many rows per product and day, over three chunks of the file) is read as
/// one row per product, day and kind of row within each chunk; its daily grid is the grid of
/// the file's rows pushed one by one, and the report still counts every file row.
#[test]
fn a_transaction_log_is_summed_per_product_and_day() {
    use rand::{Rng, SeedableRng};
    let dir = std::env::temp_dir().join(format!("crossleak-tx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sales.csv");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let start = Date::from_ymd(2024, 1, 1).unwrap();
    let ids: Vec<String> = (0..40).map(|p| format!("p{p}")).collect();
    let (rows, days) = (150_000, 30);
    let mut text = String::from("product_id,date,units,revenue\n");
    let mut one_by_one = SalesPanel::default();
    for row in 1..=rows {
        let id = &ids[rng.gen_range(0..ids.len())];
        let day = start.add_days(rng.gen_range(0..days));
        let units = f64::from(rng.gen_range(1..6u32));
        // Mostly units only; some rows give revenue too, some only revenue (price 2.49).
        let (u, r) = match rng.gen_range(0..10) {
            0 => (None, Some(units * 2.49)),
            1 => (Some(units), Some(units * 2.49)),
            _ => (Some(units), None),
        };
        let show = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        text += &format!("{id},{day},{},{}\n", show(u), show(r));
        one_by_one.push(id, day, u, r, row);
    }
    std::fs::write(&path, text).unwrap();
    let mut report = IngestReport::default();
    let summed = read_sales(&path, &ColumnMap::new(), &mut report).unwrap();
    let t = &report.tables[0];
    assert_eq!((t.rows_read, t.accepted, t.rejected), (rows, rows, 0));
    // At most products x days x 3 kinds of row in each of the three chunks.
    assert!(
        summed.len() <= ids.len() * days as usize * 3 * 3,
        "{}",
        summed.len()
    );
    assert!(
        summed.len() >= ids.len() * days as usize,
        "{}",
        summed.len()
    );
    // Sums come in order of their first row, each numbered by it.
    let first: Vec<usize> = summed.rows().map(|r| r.source_row).collect();
    assert_eq!(first[0], 1);
    assert!(first.windows(2).all(|w| w[0] < w[1]));
    for r in summed.rows().take(50) {
        let given = one_by_one.row(r.source_row - 1);
        assert_eq!((given.product_id, given.date), (r.product_id, r.date));
        assert_eq!(given.units.is_some(), r.units.is_some());
        assert_eq!(given.revenue.is_some(), r.revenue.is_some());
    }
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    let products = catalog(&names, None, None);
    let (a, b) = (
        DemandGrid::build(&summed, &products),
        DemandGrid::build(&one_by_one, &products),
    );
    assert_eq!((a.start, a.days), (b.start, b.days));
    assert_eq!(a.measure, b.measure);
    assert_eq!(a.measure[0], DemandMeasure::UnitsFromRevenue);
    for (x, y) in a.units.iter().flatten().zip(b.units.iter().flatten()) {
        assert!((x - y).abs() <= 1e-4 * y.max(1.0), "{x} vs {y}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A product that rises 2.7x into the top seller of its category of 100 is a rank onset when
/// ranks are taken within categories, and not when the whole market (with a big category of
/// heavy sellers) is the reference.
#[test]
fn rank_rule_works_within_categories() {
    let days = 364;
    let mut curves = Vec::new();
    let mut ids = Vec::new();
    for i in 0..100 {
        // Category "small": 100 products selling 1..=5 a day; product 0 goes from 4.5 to 12.
        let level = if i == 0 { 4.5 } else { 1.0 + (i % 5) as f32 };
        curves.push(
            (0..days)
                .map(|d| if i == 0 && d >= 140 { 12.0 } else { level })
                .collect::<Vec<f32>>(),
        );
        ids.push(format!("s{i}"));
    }
    for i in 0..100 {
        curves.push(vec![50.0 + i as f32; days]);
        ids.push(format!("b{i}"));
    }
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut products = catalog(&id_refs, Some("small"), None);
    for c in &mut products.category[100..] {
        *c = Some("big".into());
    }
    let grid = DemandGrid::from_daily(Date::from_ymd(2024, 1, 1).unwrap(), curves).unwrap();
    let events = detect_onsets(&grid, &products, &TrendParams::default());
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].product_id, "s0");
    assert_eq!(events[0].rule, OnsetRule::Rank);
    assert!((grid.start.days_until(events[0].onset) - 140).abs() <= 3);
    assert!(events[0].rank_percentile > 0.98);
    let market = TrendParams {
        rank_within_category: false,
        ..TrendParams::default()
    };
    assert!(detect_onsets(&grid, &products, &market).is_empty());
}

#[test]
fn onset_eval_example_prints_its_figures() {
    let bin = example("onset_eval");
    assert!(bin.exists(), "build the examples first: {}", bin.display());
    let out = Command::new(&bin)
        .args(["--curves", "20", "--seed", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let last = text.lines().last().unwrap();
    for key in [
        "precision=",
        "recall=",
        "onset_error_median=",
        "onset_error_p90=",
        "promo_false_positive_rate=",
    ] {
        assert!(last.contains(key), "{last}");
    }
    let bad = Command::new(&bin).args(["--curves", "x"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
