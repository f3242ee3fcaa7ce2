//! The quality tier: floors on what the matcher reaches on the public product-matching
//! benchmarks in `datasets/benchmarks` (test-split F1, a little under the figures in
//! docs/BENCHMARKS.md, and never under the plain baseline), and on what the detector finds in a
//! world built from another marketplace's titles. These tests fit many models and
//! take minutes; `cargo test` runs them with the rest, `cargo test --test it quality` runs
//! them alone and `cargo test -- --skip quality::` leaves them out.

use crate::matching::bench_dir;
use crossleak::matching::matcher::{LogisticParams, MatchModel, MixtureParams};
use crossleak_eval::baseline::match_baseline;
use crossleak_eval::pairs::{match_supervised, match_unsupervised, read_pairs, LabeledPairs};

fn splits(name: &str, train: &str, valid: &str) -> (LabeledPairs, LabeledPairs, LabeledPairs) {
    let d = bench_dir(name);
    let read = |f: &str| read_pairs(&d.join(format!("{f}.csv.gz"))).unwrap();
    (read(train), read(valid), read("test"))
}

/// Supervised and unsupervised test-split F1 of one benchmark. The supervised model must do at
/// least as well as the plain baseline (logistic regression on six title similarities) on the
/// same splits: its closest margin is WDC computers with the small training set, 74.9 against
/// 72.5 (docs/BENCHMARKS.md).
fn both(name: &str, train: &str, valid: &str) -> (f64, f64) {
    let (train, valid, test) = splits(name, train, valid);
    let sup = match_supervised(&train, &valid, &test, &LogisticParams::default()).unwrap();
    let unsup = match_unsupervised(&[&train, &valid], &test, &MixtureParams::default()).unwrap();
    // The supervised model round-trips through JSON with identical predictions.
    let back = MatchModel::from_json(&sup.model.to_json().unwrap()).unwrap();
    assert_eq!(back.predict(&sup.features), sup.probabilities);
    let baseline = match_baseline(&train, &[&valid], &test).unwrap();
    assert!(
        sup.scores.f1 >= baseline.f1,
        "{name}: supervised F1 {} under the baseline's {}",
        sup.scores.f1,
        baseline.f1
    );
    (sup.scores.f1, unsup.scores.f1)
}

#[test]
fn abt_buy_pairs() {
    let (sup, unsup) = both("abt_buy", "train", "valid");
    assert!(sup >= 0.85, "supervised F1 {sup}");
    assert!(unsup >= 0.80, "unsupervised F1 {unsup}");
}

#[test]
fn amazon_google_pairs() {
    let (sup, unsup) = both("amazon_google", "train", "valid");
    assert!(sup >= 0.72, "supervised F1 {sup}");
    assert!(unsup >= 0.55, "unsupervised F1 {unsup}");
}

#[test]
fn wdc_computers_small() {
    let (sup, unsup) = both("wdc_computers", "train_small", "valid_small");
    assert!(sup >= 0.70, "supervised F1 {sup}");
    assert!(unsup >= 0.50, "unsupervised F1 {unsup}");
}

#[test]
fn wdc_cameras_small() {
    let (sup, unsup) = both("wdc_cameras", "train_small", "valid_small");
    assert!(sup >= 0.72, "supervised F1 {sup}");
    assert!(unsup >= 0.50, "unsupervised F1 {unsup}");
}

/// A world whose home titles come from another marketplace: the English gift-ware names of the
/// UCI Online Retail catalog (`datasets/source/online_retail_names.csv.gz`), on which nothing in
/// the detector was chosen. Every follower flagged, no other seller, alerts F1 at least 0.9
/// (0.975 on this world, docs/BENCHMARKS.md: Worlds from other titles).
#[test]
fn a_world_of_another_marketplaces_titles() {
    use crossleak_eval::eval::RunScores;
    use crossleak_eval::synth::{generate_from, load_names_file, SynthParams};

    let names = load_names_file(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("datasets/source/online_retail_names.csv.gz"),
    )
    .unwrap();
    assert_eq!(names.len(), 3629);
    let dir =
        std::env::temp_dir().join(format!("crossleak-it-other-titles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let params = SynthParams {
        products: 3000,
        ..SynthParams::default()
    };
    generate_from(&params, &names).unwrap().write(&dir).unwrap();
    let report = crate::detect_world(&dir);
    let scores = RunScores::of(
        &report,
        &dir.join("truth_alerts.csv"),
        &dir.join("truth_sellers.csv"),
    )
    .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        (scores.sellers.precision, scores.sellers.recall),
        (1.0, 1.0),
        "{scores}"
    );
    assert!(scores.alerts.f1 >= 0.9, "{scores}");
}
