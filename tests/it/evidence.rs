//! The evidence a run produces: timing classes, control groups, seller and category statistics,
//! and the self-contained HTML report.

use crossleak::leak::Timing;
use crossleak_eval::synth::{generate, SynthParams};
use polars::prelude::DataType;

fn run(name: &str, params: SynthParams) -> (crossleak::Report, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("crossleak-it-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    generate(&params).unwrap().write(&dir).unwrap();
    (crate::detect_world(&dir), dir)
}

fn small(seed: u64) -> SynthParams {
    SynthParams {
        seed,
        products: 400,
        ..SynthParams::default()
    }
}

#[test]
fn timing_classes_statistics_and_controls_are_consistent() {
    let (r, dir) = run("evidence-stats", small(3));
    let (lo, hi) = (r.params.leak.min_lag_days, r.params.leak.max_lag_days);
    assert!(!r.alerts.is_empty());
    assert!(r
        .alerts
        .iter()
        .all(|a| a.timing == Timing::Follows && (lo..=hi).contains(&a.lag_days)));
    assert!(r
        .pre_existing
        .iter()
        .all(|a| a.timing == Timing::PreExisting && a.lag_days <= 0));
    // Sellers' follows add up to the alerts that have a seller; so do categories' to all.
    let with_seller = r.alerts.iter().filter(|a| a.seller_id.is_some()).count();
    let seller_follows: usize = r.sellers.iter().map(|s| s.stats.follow_listings).sum();
    assert_eq!(seller_follows, with_seller);
    let category_follows: usize = r.categories.iter().map(|c| c.stats.follow_listings).sum();
    assert_eq!(category_follows, r.alerts.len());
    let pre: usize = r.categories.iter().map(|c| c.stats.pre_existing).sum();
    assert_eq!(pre, r.pre_existing.len());
    for s in r
        .sellers
        .iter()
        .map(|s| &s.stats)
        .chain(r.categories.iter().map(|c| &c.stats))
    {
        assert!(s.p_value > 0.0 && s.p_value <= 1.0 && s.q_value >= s.p_value);
        assert_eq!(s.follow_lags_days.len(), s.follow_listings);
        assert!(s.follow_lags_days.windows(2).all(|w| w[0] <= w[1]));
        if s.bestseller_copies > 0 {
            assert!(s.expected_follows > 0.0);
            assert!(s.lift_low <= s.lift && s.lift <= s.lift_high, "{s:?}");
        } else {
            // Written as 0, not -0, in the tables and report.json.
            assert_eq!(s.expected_follows.to_bits(), 0, "{s:?}");
            assert_eq!(s.expected_rate.to_bits(), 0, "{s:?}");
        }
        if s.flagged {
            assert!(s.q_value < r.params.leak.alpha && s.lift >= r.params.leak.min_lift);
        }
    }
    // One control group per bestseller, each with a rate strictly between 0 and 1.
    assert_eq!(r.controls.len(), r.bestsellers.len());
    assert!(r
        .controls
        .iter()
        .all(|c| c.control_rate > 0.0 && c.control_rate < 1.0 && c.stratum_bestsellers >= 1));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn html_report_is_self_contained_and_complete() {
    let (r, dir) = run("evidence-html", small(4));
    let out = dir.join("out");
    r.write(&out).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    // The tables are DataFrames with Date columns, written as ISO dates in CSV.
    let tables = r.tables().unwrap();
    let names: Vec<&str> = tables.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "alerts",
            "sellers",
            "categories",
            "bestsellers",
            "rejected_rows",
            "review_pairs"
        ]
    );
    let alerts = &tables[0].1;
    assert_eq!(alerts.height(), r.alerts.len());
    assert!(!r.alerts.is_empty());
    for c in ["onset_date", "listed_at"] {
        assert_eq!(alerts.column(c).unwrap().dtype(), &DataType::Date, "{c}");
    }
    let csv = std::fs::read_to_string(out.join("alerts.csv")).unwrap();
    let first = &r.alerts[0];
    assert!(
        csv.contains(&format!(",{},{},", first.onset, first.listed_at)),
        "{csv}"
    );
    for banned in ["http://", "https://", "<script", "<link", "src=", "url("] {
        assert!(!html.contains(banned), "report.html contains {banned}");
    }
    // Lift plot, lag histogram and one sales curve per top alert.
    let svgs = html.matches("<svg").count();
    assert_eq!(svgs, 2 + r.curves.len(), "{svgs} charts");
    assert!(!r.curves.is_empty());
    for c in &r.curves {
        assert!(html.contains(&c.product_id));
        assert!(!c.weekly_units.is_empty() && !c.copies.is_empty());
    }
    for s in r.sellers.iter().filter(|s| s.stats.flagged) {
        assert!(
            html.contains(&format!("<td>{}</td>", s.seller_id)),
            "{}",
            s.seller_id
        );
    }
    for id in [
        "summary",
        "sellers",
        "lift",
        "lags",
        "alerts",
        "categories",
        "inputs",
        "params",
    ] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    // report.json carries the new evidence next to parameters and ingest accounting.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    for key in [
        "params",
        "ingest",
        "summary",
        "sellers",
        "categories",
        "controls",
        "curves",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert!(json["sellers"][0].get("follow_lags_days").is_some());
    assert!(json["sellers"][0].get("lift_low").is_some());
    assert_eq!(json["params"]["leak"]["min_stratum"], 10);
    let categories = std::fs::read_to_string(out.join("categories.csv")).unwrap();
    assert!(
        categories.starts_with("category,listings,bestseller_copies,pre_existing,follow_listings")
    );
    assert_eq!(categories.lines().count(), r.categories.len() + 1);
    std::fs::remove_dir_all(&dir).ok();
}
