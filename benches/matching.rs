//! Criterion benches of pair scoring on the Abt-Buy benchmark (bundled, no network): feature
//! computation and prediction, reported in pairs per second.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crossleak::matching::features::{feature_matrix, Side};
use crossleak::matching::matcher::{
    LogisticModel, LogisticParams, MatchModel, MixtureModel, MixtureParams,
};
use crossleak::CandidateIndex;
use crossleak_eval::pairs::{read_catalog_records, read_pairs, RecordAnalyzer};

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/benchmarks/abt_buy");

    // Candidate pairs of the whole catalogs, scored by the unsupervised model.
    let left = read_catalog_records(&dir.join("catalog_abt.csv.gz"), b'|').expect("abt");
    let right = read_catalog_records(&dir.join("catalog_buy.csv.gz"), b'|').expect("buy");
    let titles = left
        .records
        .iter()
        .chain(&right.records)
        .map(|r| r.title.as_str());
    let analyzer = RecordAnalyzer::fit(titles, 3);
    let (lt, la) = analyzer.analyze(&left.records);
    let (rt, ra) = analyzer.analyze(&right.records);
    let pairs = CandidateIndex::build(analyzer.model(), &lt).search(&rt, 10);
    let (queries, targets) = (
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
    let f = feature_matrix(&pairs, queries, targets);
    let mixture = MatchModel::Mixture(
        MixtureModel::fit(&f.x, &groups, &MixtureParams::default()).expect("mixture"),
    );
    let mut g = c.benchmark_group("candidate_pairs");
    g.throughput(Throughput::Elements(pairs.len() as u64));
    g.bench_function("features", |b| {
        b.iter(|| feature_matrix(&pairs, queries, targets))
    });
    g.bench_function("features_and_mixture_prediction", |b| {
        b.iter(|| mixture.predict_grouped(&feature_matrix(&pairs, queries, targets), &groups))
    });
    g.finish();

    // Labelled test pairs scored by a supervised model (one penalty, to keep set-up short).
    let train = read_pairs(&dir.join("train.csv.gz")).expect("train");
    let valid = read_pairs(&dir.join("valid.csv.gz")).expect("valid");
    let test = read_pairs(&dir.join("test.csv.gz")).expect("test");
    let analyzer =
        RecordAnalyzer::fit(train.titles().chain(valid.titles()).chain(test.titles()), 3);
    let params = LogisticParams {
        alphas: vec![0.3],
        ..LogisticParams::default()
    };
    let (model, _) = LogisticModel::train(
        &analyzer.features(&train),
        &train.labels,
        &analyzer.features(&valid),
        &valid.labels,
        &params,
    )
    .expect("logistic");
    let logistic = MatchModel::Logistic(model);
    let mut g = c.benchmark_group("test_pairs");
    g.throughput(Throughput::Elements(test.len() as u64));
    g.bench_function("analysis_features_and_logistic_prediction", |b| {
        b.iter(|| logistic.predict(&analyzer.features(&test)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
