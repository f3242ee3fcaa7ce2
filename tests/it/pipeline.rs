//! End to end: generated worlds through the detector and the `detect` example.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::example;
use crossleak::eval::score_sets;
use crossleak::pipeline::{Detector, DetectorParams};
use crossleak::synth::{generate, SynthParams, World};
use crossleak::{ColumnsConfig, InputPaths};

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

    let missing = Config::load(&dir.join("nope.toml"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("nope.toml"), "{missing}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The config shown in the README loads as it is.
#[test]
fn readme_config_example_loads() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("```toml\n")
        .expect("a toml block in the README")
        + 8;
    let len = readme[start..].find("```").unwrap();
    let dir = scratch("readme-config");
    let path = dir.join("crossleak.toml");
    std::fs::write(&path, &readme[start..start + len]).unwrap();
    let config = crossleak::pipeline::Config::load(&path).unwrap();
    assert_eq!(config.columns.catalog["listed_at"], "first_seen");
    assert_eq!(config.params.leak.max_lag_days, 180);
    std::fs::remove_dir_all(&dir).ok();
}
