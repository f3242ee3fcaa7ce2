//! Generated catalog pairs: determinism, truth consistency, the files `link_catalogs` reads,
//! candidate search that does not depend on the thread count, and the generator and
//! candidate-only examples. Small sizes only.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;

use crossleak::Error;
use crossleak_eval::pairs::{
    candidate_recall, catalog_candidates, read_catalog_records, read_id_pairs,
};
use crossleak_eval::synth::{generate_linkage, LinkageParams};

use crate::example;

fn params(seed: u64, products: usize, listings: usize) -> LinkageParams {
    LinkageParams {
        seed,
        products,
        listings,
        ..LinkageParams::default()
    }
}

fn tmp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crossleak-linkage-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

const FILES: &[&str] = &["left.csv", "right.csv", "truth.csv", "linkage.json"];

#[test]
fn same_seed_gives_identical_files_and_seeds_differ() {
    let (a, b, c) = (tmp_dir("a"), tmp_dir("b"), tmp_dir("c"));
    // More products than Tokopedia names, so variants are made too.
    generate_linkage(&params(3, 1500, 400))
        .unwrap()
        .write(&a)
        .unwrap();
    generate_linkage(&params(3, 1500, 400))
        .unwrap()
        .write(&b)
        .unwrap();
    generate_linkage(&params(4, 1500, 400))
        .unwrap()
        .write(&c)
        .unwrap();
    for f in FILES {
        let read = |d: &PathBuf| std::fs::read(d.join(f)).unwrap();
        assert!(
            read(&a) == read(&b),
            "{f} differs between two runs with the same seed"
        );
    }
    assert_ne!(
        std::fs::read(a.join("right.csv")).unwrap(),
        std::fs::read(c.join("right.csv")).unwrap()
    );
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn more_listings_keep_the_first_ones() {
    let small = generate_linkage(&params(5, 300, 100)).unwrap();
    let large = generate_linkage(&params(5, 300, 250)).unwrap();
    assert_eq!(small.products, large.products);
    assert_eq!(small.listings[..], large.listings[..100]);
}

#[test]
fn truth_is_consistent_with_the_files() {
    let dir = tmp_dir("truth");
    let cat = generate_linkage(&params(9, 1400, 600)).unwrap();
    cat.write(&dir).unwrap();
    let left = read_catalog_records(&dir.join("left.csv"), b',').unwrap();
    let right = read_catalog_records(&dir.join("right.csv"), b',').unwrap();
    let truth = read_id_pairs(&dir.join("truth.csv"), b',').unwrap();
    assert_eq!(left.records.len(), 1400);
    assert_eq!(right.records.len(), 600);
    assert_eq!(left.roles.title, "title");
    assert_eq!(right.roles.brand.as_deref(), Some("brand"));
    // Titles read back as written.
    for (p, r) in cat.products.iter().zip(&left.records) {
        assert_eq!(p.title, r.title);
    }
    // Every truth pair names a real product and listing, each listing at most once, and the
    // listings in the truth are exactly the copies.
    let left_ids: HashSet<&str> = left.ids.iter().map(String::as_str).collect();
    let mut copied = HashSet::new();
    for (l, r) in &truth {
        assert!(left_ids.contains(l.as_str()), "unknown product {l}");
        assert!(copied.insert(r.clone()), "listing {r} copies twice");
    }
    let copies: HashSet<String> = cat
        .listings
        .iter()
        .filter(|l| l.copy_of.is_some())
        .map(|l| l.listing_id.clone())
        .collect();
    assert_eq!(copied, copies);
    assert_eq!(truth, cat.truth());
    // Roughly the asked share of copies, and each copy keeps words of its product.
    let share = truth.len() as f64 / 600.0;
    assert!((0.22..=0.38).contains(&share), "copy share {share}");
    for l in cat.listings.iter().filter(|l| l.copy_of.is_some()) {
        let p = &cat.products[l.copy_of.unwrap()];
        let words = |s: &str| -> HashSet<String> {
            s.to_lowercase()
                .split_whitespace()
                .map(String::from)
                .collect()
        };
        let (a, b) = (words(&p.title), words(&l.title));
        assert!(a.intersection(&b).count() >= 1, "{} / {}", p.title, l.title);
    }
    // Candidate generation finds nearly every copy.
    let c = catalog_candidates(&left, &right, 10);
    let recall = candidate_recall(&c.pairs, &left, &right, &truth);
    assert!(recall >= 0.95, "recall@10 {recall}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn candidates_do_not_depend_on_thread_count() {
    let dir = tmp_dir("threads");
    generate_linkage(&params(2, 2000, 500))
        .unwrap()
        .write(&dir)
        .unwrap();
    let left = read_catalog_records(&dir.join("left.csv"), b',').unwrap();
    let right = read_catalog_records(&dir.join("right.csv"), b',').unwrap();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| catalog_candidates(&left, &right, 10).pairs)
    };
    let one = run(1);
    let four = run(4);
    assert_eq!(one.len(), four.len());
    for (a, b) in one.iter().zip(&four) {
        assert_eq!((a.query, a.target), (b.query, b.target));
        assert_eq!(a.score.to_bits(), b.score.to_bits());
    }
    // Best first within each query.
    for w in one.windows(2) {
        if w[0].query == w[1].query {
            assert!(w[0].score >= w[1].score);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_parameters_are_errors() {
    for p in [
        params(1, 0, 10),
        params(1, 10, 0),
        LinkageParams {
            copy_share: 1.5,
            ..LinkageParams::default()
        },
    ] {
        assert!(matches!(generate_linkage(&p), Err(Error::Param { .. })));
    }
}

#[test]
fn generator_and_candidate_only_examples_run() {
    let dir = tmp_dir("examples");
    let out = Command::new(example("gen_catalogs"))
        .args([
            "--products",
            "500",
            "--listings",
            "300",
            "--seed",
            "1",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(example("link_catalogs"))
        .arg("--left")
        .arg(dir.join("left.csv"))
        .arg("--right")
        .arg(dir.join("right.csv"))
        .arg("--truth")
        .arg(dir.join("truth.csv"))
        .args(["--threads", "2", "--candidates-only"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("recall@10="), "{last}");
    assert!(last.contains(" seconds=") && last.contains(" listings_per_second="));
    let bad = Command::new(example("gen_catalogs"))
        .args(["--products", "0", "--listings", "3", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
