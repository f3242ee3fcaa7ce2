//! Criterion benches of the detector stages on a seeded synthetic world, and of candidate
//! generation on a pair of seeded generated catalogs (no network).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use crossleak::matching::index::{CandidateIndex, TfIdf};
use crossleak::matching::text::Normalizer;
use crossleak::pipeline::{Detector, DetectorParams};
use crossleak::InputPaths;
use crossleak_eval::pairs::{catalog_candidates, read_catalog_records};
use crossleak_eval::synth::{generate, generate_linkage, LinkageParams, SynthParams};

fn bench(c: &mut Criterion) {
    let world = generate(&SynthParams::default()).expect("synthetic world");
    let dir = std::env::temp_dir().join(format!("crossleak-bench-{}", std::process::id()));
    world.write(&dir).expect("write world");
    let paths = InputPaths {
        sales: dir.join("sales.parquet"),
        products: dir.join("products.csv"),
        catalog: dir.join("catalog.csv"),
    };

    let home: Vec<String> = world.products.iter().map(|p| p.title.clone()).collect();
    let foreign: Vec<String> = world.listings.iter().map(|l| l.title.clone()).collect();
    let model = TfIdf::fit(&home, Normalizer::default(), 3);
    let docs = model.analyze_all(&home);
    let queries = model.analyze_all(&foreign);
    let index = CandidateIndex::build(&model, &docs);

    c.bench_function("tfidf_fit_and_index", |b| {
        b.iter(|| {
            let m = TfIdf::fit(&home, Normalizer::default(), 3);
            CandidateIndex::build(&m, &m.analyze_all(&home))
        })
    });
    c.bench_function("top10_search", |b| b.iter(|| index.search(&queries, 10)));
    let detector = Detector::new(DetectorParams::default()).expect("params");
    let mut group = c.benchmark_group("end_to_end");
    group.sample_size(10);
    group.bench_function("detect_bundled_scale", |b| {
        b.iter(|| {
            detector
                .run_files(&paths, &Default::default())
                .expect("run")
        })
    });
    group.finish();
    std::fs::remove_dir_all(&dir).ok();

    // The path `link_catalogs --candidates-only` and `benches/peers/` time: TF-IDF fit on both
    // catalogs, index of the left one, top-10 search of every right title.
    let params = LinkageParams {
        products: 10_000,
        listings: 20_000,
        ..LinkageParams::default()
    };
    let catalogs = generate_linkage(&params).expect("generated catalogs");
    let dir = std::env::temp_dir().join(format!("crossleak-bench-link-{}", std::process::id()));
    catalogs.write(&dir).expect("write catalogs");
    let left = read_catalog_records(&dir.join("left.csv"), b',').expect("left catalog");
    let right = read_catalog_records(&dir.join("right.csv"), b',').expect("right catalog");
    let mut group = c.benchmark_group("catalog_candidates");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(12));
    group.bench_function("10k_products_x_20k_listings", |b| {
        b.iter(|| catalog_candidates(&left, &right, 10))
    });
    group.finish();
    std::fs::remove_dir_all(&dir).ok();
}

criterion_group!(benches, bench);
criterion_main!(benches);
