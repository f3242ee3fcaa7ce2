//! Link two whole catalogs: candidate generation, then the unsupervised matcher.
//!
//! ```text
//! cargo run --release --example link_catalogs -- --left A --right B [--delimiter C] \
//!     [--truth GT] [--k K] [--out F]
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
//! three with `--truth`); `--misses` writes the true pairs candidate generation missed. Bad input exits with status 2 and a one-line reason.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crossleak::eval::score_sets;
use crossleak::features::{feature_matrix, Side};
use crossleak::ingest::{read_text_table, text_column};
use crossleak::matcher::{MatchModel, MixtureModel, MixtureParams};
use crossleak::pairs::{read_catalog_records, RecordAnalyzer};
use crossleak::{CandidateIndex, Error};

struct Args {
    left: PathBuf,
    right: PathBuf,
    delimiter: u8,
    truth: Option<PathBuf>,
    k: usize,
    out: PathBuf,
    misses: Option<PathBuf>,
}

const USAGE: &str =
    "--left A --right B [--delimiter C] [--truth GT] [--k K] [--out F] [--misses F]";

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut left, mut right, mut truth, mut misses) = (None, None, None, None);
    let (mut delimiter, mut k, mut out) = (b',', 10, PathBuf::from("matches.csv"));
    while let Some(flag) = it.next() {
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
                    _ => return Err(format!("--delimiter must be one ASCII character, got `{value}`")),
                }
            }
            "--k" => {
                k = value
                    .parse()
                    .ok()
                    .filter(|k| (1..=1000).contains(k))
                    .ok_or_else(|| format!("--k must be an integer in 1..=1000, got `{value}`"))?
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
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("link_catalogs: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> crossleak::Result<()> {
    let left = read_catalog_records(&args.left, args.delimiter)?;
    let right = read_catalog_records(&args.right, args.delimiter)?;
    let truth = args
        .truth
        .as_deref()
        .map(|p| read_pairs_of_ids(p, args.delimiter))
        .transpose()?;
    println!(
        "left {} records (title={}), right {} records (title={})",
        left.records.len(),
        left.roles.title,
        right.records.len(),
        right.roles.title
    );

    let started = Instant::now();
    let titles = left.records.iter().chain(&right.records).map(|r| r.title.as_str());
    let analyzer = RecordAnalyzer::fit(titles, 3);
    let (lt, la) = analyzer.analyze(&left.records);
    let (rt, ra) = analyzer.analyze(&right.records);
    let index = CandidateIndex::build(analyzer.model(), &lt);
    let pairs = index.search(&rt, args.k);
    let candidates_secs = started.elapsed().as_secs_f64();

    let scoring = Instant::now();
    let f = feature_matrix(
        &pairs,
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
    let model = MatchModel::Mixture(MixtureModel::fit(&f.x, &groups, &MixtureParams::default())?);
    let prob = model.predict_grouped(&f, &groups);
    let scoring_secs = scoring.elapsed().as_secs_f64();

    // Each right record: its most probable candidate, when its candidates' probabilities
    // (at most one of them a match) add up to the threshold.
    let mut matches: Vec<(usize, usize, f64)> = Vec::new();
    let mut start = 0;
    while start < pairs.len() {
        let q = pairs[start].query;
        let end = start + pairs[start..].iter().take_while(|p| p.query == q).count();
        if prob[start..end].iter().sum::<f64>() >= model.threshold() {
            let best = (start..end)
                .max_by(|&a, &b| prob[a].total_cmp(&prob[b]).then(b.cmp(&a)))
                .expect("a group is never empty");
            matches.push((best, q, prob[best]));
        }
        start = end;
    }
    let mut out = String::from("left_id,right_id,probability,explanation\n");
    for &(row, q, p) in &matches {
        out.push_str(&format!(
            "{},{},{:.6},\"{}\"\n",
            csv_field(&left.ids[pairs[row].target]),
            csv_field(&right.ids[q]),
            p,
            model.explain(&f, row, 4).replace('"', "\"\"")
        ));
    }
    std::fs::write(&args.out, out).map_err(|e| Error::io(&args.out, e))?;
    let pairs_per_second = pairs.len() as f64 / scoring_secs.max(1e-9);
    println!(
        "candidates in {:.3} s, features + fit + prediction in {:.3} s; {} matches written to {}",
        candidates_secs,
        scoring_secs,
        matches.len(),
        args.out.display()
    );

    let mut last = format!(
        "candidates={} pairs_per_second={:.0}",
        pairs.len(),
        pairs_per_second
    );
    if let Some(truth) = truth {
        let candidate_set: HashSet<(&str, &str)> = pairs
            .iter()
            .map(|p| (left.ids[p.target].as_str(), right.ids[p.query].as_str()))
            .collect();
        let truth_set: HashSet<(&str, &str)> = truth
            .iter()
            .map(|(l, r)| (l.as_str(), r.as_str()))
            .collect();
        let found = truth_set.intersection(&candidate_set).count();
        if let Some(path) = &args.misses {
            let (li, ri): (std::collections::HashMap<&str, usize>, std::collections::HashMap<&str, usize>) = (
                left.ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect(),
                right.ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect(),
            );
            let mut missed: Vec<&(&str, &str)> = truth_set.difference(&candidate_set).collect();
            missed.sort();
            let mut text = String::from("left_id,right_id,left_title,right_title\n");
            for (l, r) in missed {
                let title = |ids: &std::collections::HashMap<&str, usize>, c: &crossleak::pairs::RecordCatalog, id: &str| {
                    ids.get(id).map_or(String::new(), |&i| c.records[i].title.clone())
                };
                text.push_str(&format!(
                    "{},{},{},{}\n",
                    csv_field(l),
                    csv_field(r),
                    csv_field(&title(&li, &left, l)),
                    csv_field(&title(&ri, &right, r))
                ));
            }
            std::fs::write(path, text).map_err(|e| Error::io(path, e))?;
        }
        let recall_at_k = found as f64 / truth_set.len().max(1) as f64;
        let predicted = matches.iter().map(|&(row, q, _)| {
            (
                left.ids[pairs[row].target].as_str(),
                right.ids[q].as_str(),
            )
        });
        let s = score_sets(predicted, truth_set.iter().copied());
        last = format!(
            "recall@{}={:.4} {} precision={:.4} recall={:.4} f1={:.4}",
            args.k, recall_at_k, last, s.precision, s.recall, s.f1
        );
    }
    println!("{last}");
    Ok(())
}

/// Matching id pairs: the first two columns of a delimited file with a header.
fn read_pairs_of_ids(path: &std::path::Path, delimiter: u8) -> crossleak::Result<Vec<(String, String)>> {
    let df = read_text_table(path, "truth", delimiter, None)?;
    let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    if names.len() < 2 {
        return Err(Error::MissingColumn {
            table: "truth".into(),
            column: "a second column (right id)".into(),
            available: names,
        });
    }
    let l = text_column(&df, "truth", &names[0])?;
    let r = text_column(&df, "truth", &names[1])?;
    l.into_iter()
        .zip(r)
        .enumerate()
        .map(|(i, pair)| match pair {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(Error::BadValue {
                table: "truth".into(),
                row: i + 1,
                column: names[0].clone(),
                reason: "both ids are needed".into(),
            }),
        })
        .collect()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
