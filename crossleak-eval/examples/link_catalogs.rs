//! Link two whole catalogs: candidate generation, then the unsupervised matcher.
//!
//! ```text
//! cargo run --release -p crossleak-eval --example link_catalogs -- --left A --right B [--delimiter C] \
//!     [--truth GT] [--k K] [--out F] [--threads N] [--candidates-only]
//! ```
//!
//! Both catalogs have an `id` column and attributes (title or name, optional brand or
//! manufacturer, price, category), fields separated by `--delimiter` (default `,`). The TF-IDF
//! model is fitted on both catalogs' titles; the left catalog is indexed and every right
//! record queries its `K` (default 10) most similar left records. The mixture model is fitted
//! on the candidate pairs without labels, each right record matching at most one left record;
//! matches go to `--out` (default `matches.csv`). `--truth` is a file of matching
//! `left_id,right_id` pairs (first two columns, same delimiter) to score against. The last line
//! printed is `recall@K=R candidates=N pairs_per_second=X precision=P recall=R f1=F` (the last
//! three with `--truth`); `--misses` writes the true pairs candidate generation missed.
//!
//! `--candidates-only` stops after candidate generation (TF-IDF fit on both catalogs' titles,
//! analysis of both, index build, top-`K` search; file reading is not timed) and prints
//! the time of each step; its last line is `recall@K=R candidates=N seconds=S
//! listings_per_second=X peak_rss_mb=M` (recall with `--truth`; peak RSS of the whole process,
//! read from `/proc/self/status` where there is one). This is what `benches/peers/` compares
//! with other tools. `--threads N` sizes the thread pool (default: all cores).
//! Bad input exits with status 2 and a one-line reason.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

use crossleak_eval::eval::{score_sets, write_csv};
use crossleak_eval::pairs::{
    candidate_recall, catalog_candidates, link_catalogs, read_catalog_records, read_id_pairs,
    Linkage, RecordCatalog,
};

struct Args {
    left: PathBuf,
    right: PathBuf,
    delimiter: u8,
    truth: Option<PathBuf>,
    k: usize,
    out: PathBuf,
    misses: Option<PathBuf>,
    threads: Option<usize>,
    candidates_only: bool,
}

const USAGE: &str = "--left A --right B [--delimiter C] [--truth GT] [--k K] [--out F] \
     [--misses F] [--threads N] [--candidates-only]";

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut left, mut right, mut truth, mut misses) = (None, None, None, None);
    let (mut delimiter, mut k, mut out) = (b',', 10, PathBuf::from("matches.csv"));
    let (mut threads, mut candidates_only) = (None, false);
    while let Some(flag) = it.next() {
        if flag == "--candidates-only" {
            candidates_only = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--left" => left = Some(PathBuf::from(value)),
            "--right" => right = Some(PathBuf::from(value)),
            "--truth" => truth = Some(PathBuf::from(value)),
            "--out" => out = PathBuf::from(value),
            "--misses" => misses = Some(PathBuf::from(value)),
            "--delimiter" => {
                let v = if value == "\\t" { "\t" } else { value.as_str() };
                delimiter = match v.as_bytes() {
                    [b] if b.is_ascii() && *b != b'"' && *b != b'\n' => *b,
                    _ => {
                        return Err(format!(
                            "--delimiter must be one ASCII character, got `{value}`"
                        ))
                    }
                }
            }
            "--k" => {
                k = value
                    .parse()
                    .ok()
                    .filter(|k| (1..=1000).contains(k))
                    .ok_or_else(|| format!("--k must be an integer in 1..=1000, got `{value}`"))?
            }
            "--threads" => {
                threads = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|n| (1..=1024).contains(n))
                        .ok_or_else(|| {
                            format!("--threads must be an integer in 1..=1024, got `{value}`")
                        })?,
                )
            }
            other => return Err(format!("unknown argument `{other}` (expected {USAGE})")),
        }
    }
    Ok(Args {
        left: left.ok_or(format!("missing --left (expected {USAGE})"))?,
        right: right.ok_or(format!("missing --right (expected {USAGE})"))?,
        delimiter,
        truth,
        k,
        out,
        misses,
        threads,
        candidates_only,
    })
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("link_catalogs: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(n) = args.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
        {
            eprintln!("link_catalogs: cannot start {n} threads: {e}");
            return ExitCode::FAILURE;
        }
    }
    let result = if args.candidates_only {
        run_candidates(&args)
    } else {
        run(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("link_catalogs: {e}");
            ExitCode::from(2)
        }
    }
}

/// Matching `left_id, right_id` pairs.
type Truth = Vec<(String, String)>;

/// The two catalogs and, when given, the true pairs.
fn load(args: &Args) -> crossleak::Result<(RecordCatalog, RecordCatalog, Option<Truth>)> {
    let left = read_catalog_records(&args.left, args.delimiter)?;
    let right = read_catalog_records(&args.right, args.delimiter)?;
    let truth = args
        .truth
        .as_deref()
        .map(|p| read_id_pairs(p, args.delimiter))
        .transpose()?;
    Ok((left, right, truth))
}

fn run(args: &Args) -> crossleak::Result<()> {
    let (left, right, truth) = load(args)?;
    println!(
        "left {} records (title={}), right {} records (title={})",
        left.records.len(),
        left.roles.title,
        right.records.len(),
        right.roles.title
    );

    let linkage = link_catalogs(&left, &right, args.k)?;
    crossleak::report::write_csv(&mut linkage.matches_frame(&left, &right)?, &args.out)?;
    let pairs_per_second = linkage.pairs.len() as f64 / linkage.scoring_seconds.max(1e-9);
    println!(
        "candidates in {:.3} s, features + fit + prediction in {:.3} s; {} matches written to {}",
        linkage.candidate_seconds,
        linkage.scoring_seconds,
        linkage.matches.len(),
        args.out.display()
    );
    let mut last = format!(
        "candidates={} pairs_per_second={:.0}",
        linkage.pairs.len(),
        pairs_per_second
    );
    if let Some(truth) = truth {
        let recall_at_k = linkage.candidate_recall(&left, &right, &truth);
        if let Some(path) = &args.misses {
            write_misses(path, &linkage, &left, &right, &truth)?;
        }
        let predicted = linkage
            .matches
            .iter()
            .map(|&row| linkage.ids(&left, &right, row));
        let s = score_sets(
            predicted,
            truth.iter().map(|(l, r)| (l.as_str(), r.as_str())),
        );
        last = format!(
            "recall@{}={:.4} {} precision={:.4} recall={:.4} f1={:.4}",
            args.k, recall_at_k, last, s.precision, s.recall, s.f1
        );
    }
    println!("{last}");
    Ok(())
}

/// Candidate generation alone, timed step by step.
fn run_candidates(args: &Args) -> crossleak::Result<()> {
    let (left, right, truth) = load(args)?;
    let c = catalog_candidates(&left, &right, args.k);
    println!(
        "left {} records, right {} records, {} threads: fit {:.3} s, analysis {:.3} s, \
         index {:.3} s, top-{} search {:.3} s",
        left.records.len(),
        right.records.len(),
        rayon::current_num_threads(),
        c.fit_seconds,
        c.analyze_seconds,
        c.build_seconds,
        args.k,
        c.search_seconds
    );
    let mut last = format!(
        "candidates={} seconds={:.3} listings_per_second={:.0}",
        c.pairs.len(),
        c.seconds(),
        right.records.len() as f64 / c.seconds().max(1e-9)
    );
    if let Some(rss) = peak_rss_mb() {
        last = format!("{last} peak_rss_mb={rss:.0}");
    }
    if let Some(truth) = truth {
        let recall = candidate_recall(&c.pairs, &left, &right, &truth);
        last = format!("recall@{}={recall:.4} {last}", args.k);
    }
    println!("{last}");
    Ok(())
}

/// Peak resident set size of this process in MB (`VmHWM`), where `/proc` has it.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Writes the true pairs that are not among the candidates, with both titles.
fn write_misses(
    path: &std::path::Path,
    linkage: &Linkage,
    left: &RecordCatalog,
    right: &RecordCatalog,
    truth: &[(String, String)],
) -> crossleak::Result<()> {
    let found: HashSet<(&str, &str)> = (0..linkage.pairs.len())
        .map(|row| linkage.ids(left, right, row))
        .collect();
    let title = |c: &RecordCatalog, id: &str| {
        c.ids
            .iter()
            .position(|x| x == id)
            .map_or(String::new(), |i| c.records[i].title.clone())
    };
    write_csv(
        path,
        &["left_id", "right_id", "left_title", "right_title"],
        truth
            .iter()
            .filter(|(l, r)| !found.contains(&(l.as_str(), r.as_str())))
            .map(|(l, r)| [l.clone(), r.clone(), title(left, l), title(right, r)]),
    )
}
