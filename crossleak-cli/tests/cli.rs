//! The `crossleak` binary as a user runs it: arguments, outputs, summaries and exit status.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn crossleak(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crossleak"))
        .args(args)
        .output()
        .expect("the crossleak binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crossleak-cli-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "status {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

#[test]
fn detect_runs_the_bundled_world_and_scores_it() {
    let out = scratch("bundled");
    let run = crossleak(&["detect", "--json", "--out", out.to_str().unwrap()]);
    let v = json(&run);
    assert_eq!(v["summary"]["products"], 1308);
    assert_eq!(v["summary"]["listings"], 1113);
    let flagged = v["flagged_sellers"].as_array().unwrap().len();
    assert_eq!(v["summary"]["flagged_sellers"], flagged);
    // The bundled world comes with its truth, so the run is scored.
    assert!(v["scores"]["alerts"]["f1"].as_f64().unwrap() > 0.9);
    assert!(v["onsets"]["onsets"]["recall"].as_f64().unwrap() > 0.9);
    for file in ["alerts.csv", "sellers.csv", "report.json", "report.html"] {
        assert!(out.join(file).is_file(), "{file} written");
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn synth_then_detect_quietly_on_the_new_world() {
    let world = scratch("world");
    let w = world.to_str().unwrap();
    let made = json(&crossleak(&[
        "synth", "--json", "--scale", "300", "--seed", "3", "--out", w,
    ]));
    assert_eq!(made["products"], 300);
    assert_eq!(made["followers"], 6);
    let out = world.join("out");
    let run = crossleak(&[
        "detect",
        "--quiet",
        "--threads",
        "1",
        "--sales",
        &format!("{w}/sales.parquet"),
        "--products",
        &format!("{w}/products.csv"),
        "--catalog",
        &format!("{w}/catalog.csv"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        run.stdout.is_empty() && run.stderr.is_empty(),
        "--quiet prints nothing"
    );
    assert!(out.join("alerts.csv").is_file());
    std::fs::remove_dir_all(&world).ok();
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let out = scratch("bad");
    let missing = out.join("no_sales.csv");
    let run = crossleak(&[
        "detect",
        "--sales",
        missing.to_str().unwrap(),
        "--products",
        &repo("datasets/world/products.csv"),
        "--catalog",
        &repo("datasets/world/catalog.csv"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("no_sales.csv"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    // Some of the three inputs but not all is an argument error, also status 2.
    let partial = crossleak(&["detect", "--sales", missing.to_str().unwrap()]);
    assert_eq!(partial.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&partial.stderr).contains("--catalog"));
}

#[test]
fn link_scores_abt_buy_against_its_truth() {
    let out = scratch("link");
    std::fs::create_dir_all(&out).unwrap();
    let matches = out.join("matches.csv");
    let v = json(&crossleak(&[
        "link",
        "--json",
        "--left",
        &repo("datasets/benchmarks/abt_buy/catalog_abt.csv.gz"),
        "--right",
        &repo("datasets/benchmarks/abt_buy/catalog_buy.csv.gz"),
        "--delimiter",
        "|",
        "--truth",
        &repo("datasets/benchmarks/abt_buy/catalog_gt.csv.gz"),
        "--out",
        matches.to_str().unwrap(),
    ]));
    assert_eq!(v["left_records"], 1076);
    assert!(v["scores"]["f1"].as_f64().unwrap() > 0.8, "{v}");
    let text = std::fs::read_to_string(&matches).unwrap();
    assert!(text.starts_with("left_id,right_id,probability,explanation"));
    assert_eq!(
        text.lines().count() as u64,
        v["matches"].as_u64().unwrap() + 1
    );
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn hash_images_prints_hashes_and_their_distance() {
    let a = repo("crossleak-cli/tests/data/gradient.png");
    let b = repo("crossleak-cli/tests/data/stripes.png");
    let run = crossleak(&["hash-images", "--compare", &a, &b]);
    assert!(run.status.success());
    let text = String::from_utf8_lossy(&run.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].ends_with("gradient.png")
            && lines[0].split_whitespace().next().unwrap().len() == 16
    );
    assert!(lines[2].starts_with("distance="));
    // Hashing the same file twice gives the same hash, and a missing file is status 2.
    let same = json(&crossleak(&["hash-images", "--json", &a, &a]));
    assert_eq!(same[0]["hash"], same[1]["hash"]);
    let missing = crossleak(&["hash-images", "nothing_here.png"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nothing_here.png"));
}
