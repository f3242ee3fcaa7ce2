//! The partitioned run's steps (`pipeline::engine`) driven as a cluster engine drives them:
//! the catalog cut into random partitions, the pieces run in shuffled order, every result
//! sent through JSON, merged on the "driver". The report must be the one `Detector::run`
//! gives on the same inputs.

use std::path::{Path, PathBuf};

use crossleak::pipeline::engine::{Fitted, MatchPlan, Matched, Sample, SampleScores, Survey};
use crossleak::pipeline::{Detector, DetectorParams};
use crossleak::{Catalog, ColumnsConfig, FittedHome, HomeInputs, InputPaths, Inputs, Report};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn bundled() -> InputPaths {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/world");
    InputPaths {
        sales: dir.join("sales.parquet"),
        products: dir.join("products.csv"),
        catalog: dir.join("catalog.csv"),
    }
}

/// A value sent to another process and back.
fn shipped<T: Serialize + DeserializeOwned>(value: &T) -> T {
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

/// `catalog` cut into `n` partitions of random sizes, rows dealt at random, in random order.
fn partitions(catalog: &Catalog, n: usize, seed: u64) -> Vec<Catalog> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..catalog.len() {
        // Skewed: partition k takes about twice as many rows as partition k + 1.
        let k = (0..n).find(|_| rng.gen_bool(0.5)).unwrap_or(n - 1);
        rows[k].push(i);
    }
    let mut parts: Vec<Catalog> = rows.iter().map(|r| catalog.select(r)).collect();
    parts.shuffle(&mut rng);
    parts
}

/// The engine: every step on every partition, the pieces of each step merged in a new random
/// order, every partition result and the plan through JSON.
fn run_partitioned(
    detector: &Detector,
    home: &FittedHome,
    parts: &[Catalog],
    seed: u64,
) -> crossleak::Result<Report> {
    run_on(detector, home, home, parts, seed)
}

/// [`run_partitioned`] with the workers' steps on `worker`'s home side, the driver's on
/// `home`'s.
fn run_on(
    detector: &Detector,
    home: &FittedHome,
    worker: &FittedHome,
    parts: &[Catalog],
    seed: u64,
) -> crossleak::Result<Report> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..parts.len()).collect();

    let mut survey = Survey::new(home);
    order.shuffle(&mut rng);
    for &p in &order {
        let mut s = Survey::new(worker);
        s.add(&parts[p], 0..parts[p].len())?;
        survey.merge(shipped(&s))?;
    }
    let survey: Survey = shipped(&survey);

    let sample: Sample = shipped(&detector.sample(&survey));
    order.shuffle(&mut rng);
    let scores = order
        .iter()
        .map(|&p| {
            SampleScores::of(worker, sample, &parts[p], 0..parts[p].len()).map(|s| shipped(&s))
        })
        .collect::<crossleak::Result<Vec<_>>>()?;
    let fitted: Fitted = shipped(&detector.fit_sample(home, &survey, scores)?);

    let plan: MatchPlan = shipped(fitted.plan());
    order.shuffle(&mut rng);
    let matches: Vec<Matched> = order
        .iter()
        .map(|&p| shipped(&Matched::of(worker, &plan, &parts[p], 0..parts[p].len())))
        .collect();
    detector.finish(home, &survey, fitted, matches)
}

fn inputs() -> Inputs {
    Inputs::load(&bundled(), &ColumnsConfig::default()).unwrap()
}

fn home_of(detector: &Detector, inputs: &Inputs) -> FittedHome {
    detector
        .fit_home(HomeInputs {
            sales: inputs.sales.clone(),
            products: inputs.products.clone(),
            report: inputs.report.clone(),
        })
        .unwrap()
}

/// The bundled world, with the model fitted on every listing and on a sample (the rest
/// matched in pass 2), cut three ways each: the report, as JSON, is `Detector::run`'s.
#[test]
fn partitioned_runs_give_the_report_of_one_machine() {
    let inputs = inputs();
    let listings = inputs.catalog.len();
    assert!(listings > 1000, "{listings} listings");
    for fit_listings in [200_000, 1000] {
        let mut params = DetectorParams::default();
        params.matching.fit_listings = fit_listings;
        let detector = Detector::new(params).unwrap();
        let whole = detector.run(inputs.clone()).unwrap();
        assert_eq!(whole.summary.fit_listings, listings.min(fit_listings));
        assert!(whole.summary.alerts > 0 && whole.summary.flagged_sellers > 0);
        let expected = serde_json::to_string(&whole).unwrap();
        let home = home_of(&detector, &inputs);
        for (n, seed) in [(1, 1), (4, 2), (9, 3)] {
            let parts = partitions(&inputs.catalog, n, seed);
            assert_eq!(parts.iter().map(Catalog::len).sum::<usize>(), listings);
            let report = run_partitioned(&detector, &home, &parts, seed).unwrap();
            crate::assert_same_findings(&report, &whole);
            assert_eq!(report.model, whole.model);
            assert_eq!(report.review, whole.review);
            assert_eq!(report.exchange_rates, whole.exchange_rates);
            assert_eq!(
                serde_json::to_string(&report).unwrap(),
                expected,
                "fit_listings {fit_listings}, {n} partitions"
            );
        }
    }
}

/// Workers with the matching half of the home side only (`HomeSpec::fit_matching`), the
/// driver with the whole of it (`HomeSpec::fit`): the findings of `run_files`. The matching
/// half alone cannot finish a report.
#[test]
fn workers_need_only_the_matching_half_of_the_home_side() {
    let mut params = DetectorParams::default();
    params.matching.fit_listings = 1000;
    let columns = ColumnsConfig::default();
    let spec = crossleak::HomeSpec::new(&bundled(), &columns, &params).unwrap();
    let paths = bundled();
    let driver = spec.fit(&paths.sales, &paths.products).unwrap();
    let worker = spec.fit_matching(&paths.sales, &paths.products).unwrap();
    assert!(worker.bestsellers().is_empty() && !driver.bestsellers().is_empty());
    assert_eq!(worker.products(), driver.products());
    let detector = spec.detector().unwrap();
    let whole = detector.run_files(&paths, &columns).unwrap();
    let parts = partitions(&inputs().catalog, 6, 21);
    let report = run_on(&detector, &driver, &worker, &parts, 21).unwrap();
    crate::assert_same_findings(&report, &whole);
    assert_eq!(report.model, whole.model);
    assert_eq!(report.review, whole.review);
    assert_eq!(report.exchange_rates, whole.exchange_rates);
    let err = run_on(&detector, &worker, &worker, &parts, 21)
        .unwrap_err()
        .to_string();
    assert!(err.contains("matching only"), "{err}");
}

/// A detector given its model fits nothing: no sample, every listing matched in pass 2.
#[test]
fn a_given_model_matches_every_partition_in_pass_two() {
    let inputs = inputs();
    let fitted = Detector::new(DetectorParams::default())
        .unwrap()
        .run(inputs.clone())
        .unwrap();
    let detector = Detector::new(DetectorParams::default())
        .unwrap()
        .with_model(fitted.model.clone());
    let whole = detector.run(inputs.clone()).unwrap();
    assert_eq!(whole.summary.fit_listings, 0);
    let home = home_of(&detector, &inputs);
    let parts = partitions(&inputs.catalog, 5, 7);
    assert_eq!(detector.sample(&Survey::new(&home)), Sample::NONE);
    let report = run_partitioned(&detector, &home, &parts, 7).unwrap();
    assert_eq!(
        serde_json::to_string(&report).unwrap(),
        serde_json::to_string(&whole).unwrap()
    );
}

/// A listing id held by rows of two partitions is an error naming the id and both rows: in
/// the fitting sample at the fit, outside it when both copies match.
#[test]
fn duplicate_ids_across_partitions_are_an_error_naming_both_rows() {
    let inputs = inputs();
    let catalog = &inputs.catalog;
    let with_copy = |parts: &mut Vec<Catalog>, row: usize| {
        let mut copy = catalog.select(&[row]);
        copy.source_row[0] = catalog.len() + 1;
        let last = parts.len() - 1;
        // Into a partition that does not hold the original.
        let target = if parts[0].id.contains(&catalog.id[row]) {
            last
        } else {
            0
        };
        parts[target].append(copy);
    };

    // Every listing in the sample: the fit sees the duplicate.
    let detector = Detector::new(DetectorParams::default()).unwrap();
    let home = home_of(&detector, &inputs);
    let mut parts = partitions(catalog, 4, 11);
    with_copy(&mut parts, 17);
    let err = run_partitioned(&detector, &home, &parts, 11)
        .unwrap_err()
        .to_string();
    let id = &catalog.id[17];
    let (row, copy_row) = (catalog.source_row[17], catalog.len() + 1);
    assert!(
        err.contains(&format!("duplicate listing_id '{id}'"))
            && err.contains(&format!("row {copy_row}"))
            && err.contains(&format!("row {row}")),
        "{err}"
    );

    // Fitted on a sample: a matched listing outside it, copied, is seen at the finish.
    let mut params = DetectorParams::default();
    params.matching.fit_listings = 1000;
    let detector = Detector::new(params).unwrap();
    let home = home_of(&detector, &inputs);
    let whole = detector.run(inputs.clone()).unwrap();
    let mut survey = Survey::new(&home);
    survey.add(catalog, 0..catalog.len()).unwrap();
    let sample = detector.sample(&survey);
    let alert = whole
        .alerts
        .iter()
        .find(|a| !sample.contains(&a.listing_id))
        .expect("an alert outside the sample");
    let row = catalog
        .id
        .iter()
        .position(|i| *i == alert.listing_id)
        .unwrap();
    let mut parts = partitions(catalog, 4, 12);
    with_copy(&mut parts, row);
    let err = run_partitioned(&detector, &home, &parts, 12)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("duplicate listing_id '{}'", alert.listing_id)),
        "{err}"
    );
}

/// A partition's rows as an engine hands them over, a DataFrame with row numbers, are
/// validated as the file's: the same records and the same rejected rows, wherever the
/// partition starts.
#[test]
fn partition_rows_are_validated_as_the_file_rows() {
    use crossleak::ingest::{read_catalog, PartitionRows, TableKind};
    use polars::prelude::{Column, DataFrame};

    let dir = std::env::temp_dir().join(format!("crossleak-it-partrows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("catalog.csv");
    let text = "listing_id,title,listed_at,price,seller_id\n\
        L1,Kipas Angin Mini,2024-01-05,15000,S1\n\
        L2,,2024-01-06,1,S1\n\
        L3,Lampu LED 12W,not a date,2,S2\n\
        L1,Duplicate of the first,2024-01-07,3,S2\n\
        L4,Botol Minum 500ml,2024-02-01,-4,S3\n\
        L5,Botol Minum 1L,2024-02-02,,\n";
    std::fs::write(&path, text).unwrap();
    let columns = crossleak::ingest::ColumnMap::new();
    let mut report = crossleak::IngestReport::default();
    let file = read_catalog(&path, TableKind::Catalog, &columns, &mut report).unwrap();

    // The same rows as text columns, numbered from 1.
    let lines: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let names = ["listing_id", "title", "listed_at", "price", "seller_id"];
    let frame = DataFrame::new(
        lines.len(),
        names
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let values: Vec<Option<&str>> = lines
                    .iter()
                    .map(|l| Some(l[c]).filter(|v| !v.is_empty()))
                    .collect();
                Column::new((*name).into(), values)
            })
            .collect(),
    )
    .unwrap();
    let numbers: Vec<usize> = (1..=lines.len()).collect();
    let accepted = PartitionRows {
        kind: TableKind::Catalog,
        columns: &columns,
        name: &path,
        frame: frame.clone(),
        numbers: &numbers,
    }
    .accept()
    .unwrap();
    assert_eq!(accepted.catalog, file);
    assert_eq!(accepted.rejected, report.rejected);
    assert_eq!(accepted.rejected.len(), 4, "{:?}", accepted.rejected);

    // A later partition: the same rows numbered from 101.
    let later: Vec<usize> = numbers.iter().map(|n| n + 100).collect();
    let accepted = PartitionRows {
        kind: TableKind::Catalog,
        columns: &columns,
        name: &path,
        frame: frame.clone(),
        numbers: &later,
    }
    .accept()
    .unwrap();
    assert_eq!(accepted.catalog.source_row, [101, 106]);
    let rows: Vec<usize> = accepted.rejected.iter().map(|r| r.row).collect();
    assert_eq!(rows, [102, 103, 104, 105]);

    // Row numbers that do not match the rows, and a missing column, are errors.
    let err = PartitionRows {
        kind: TableKind::Catalog,
        columns: &columns,
        name: &path,
        frame: frame.clone(),
        numbers: &numbers[1..],
    }
    .accept()
    .unwrap_err()
    .to_string();
    assert!(err.contains("6 rows came with 5 row numbers"), "{err}");
    let err = PartitionRows {
        kind: TableKind::Catalog,
        columns: &columns,
        name: &path,
        frame: frame.drop("title").unwrap(),
        numbers: &numbers,
    }
    .accept()
    .unwrap_err()
    .to_string();
    assert!(err.contains("missing required column `title`"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
