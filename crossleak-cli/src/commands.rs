//! The subcommands: arguments, the library calls that do the work, and the summary.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use crossleak::image::{hamming_distance, phash_file, similarity, to_hex};
use crossleak::pipeline::{Config, Detector, Report};
use crossleak::{InputPaths, RunSummary};
use crossleak_eval::eval::{score_sets, OnsetScores, RunScores, Scores};
use crossleak_eval::pairs::{link_catalogs, read_catalog_records, read_id_pairs};
use crossleak_eval::synth::{generate, generate_from, load_names_file, SellerKind, SynthParams};
use serde::Serialize;

use crate::bundled::World;
use crate::progress::Bars;
use crate::{Failure, Output};

/// Arguments of `crossleak detect`.
#[derive(Debug, Args)]
pub(crate) struct DetectArgs {
    /// Home sales (CSV or Parquet); with --products and --catalog. Without the three, the
    /// bundled world is run and scored against its ground truth.
    #[arg(long, requires_all = ["products", "catalog"])]
    sales: Option<PathBuf>,
    /// Home products (CSV or Parquet).
    #[arg(long, requires_all = ["sales", "catalog"])]
    products: Option<PathBuf>,
    /// Foreign listings (CSV or Parquet), streamed a chunk at a time.
    #[arg(long, requires_all = ["sales", "products"])]
    catalog: Option<PathBuf>,
    /// Column names and parameters (.toml or .json; see docs/GUIDE.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder for the outputs, created if needed.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Ground-truth alerts (`listing_id,product_id`) to score the alerts against.
    #[arg(long, requires = "truth_sellers")]
    truth_alerts: Option<PathBuf>,
    /// Ground-truth sellers (`seller_id,kind`) to score the flagged sellers against.
    #[arg(long, requires = "truth_alerts")]
    truth_sellers: Option<PathBuf>,
    /// Planted onsets (`product_id,onset`) to score the bestseller onsets against.
    #[arg(long)]
    truth_onsets: Option<PathBuf>,
}

/// What `crossleak detect --json` prints.
#[derive(Serialize)]
struct DetectSummary<'a> {
    out: &'a Path,
    seconds: f64,
    tables: &'a [crossleak::ingest::TableReport],
    summary: &'a RunSummary,
    flagged_sellers: Vec<&'a crossleak::SellerFinding>,
    scores: Option<RunScores>,
    onsets: Option<OnsetScores>,
}

pub(crate) fn detect(a: DetectArgs, output: Output, bars: bool) -> Result<(), Failure> {
    // The bundled world, unless the inputs are given.
    let world;
    let (inputs, truth_alerts, truth_sellers, truth_onsets) = match (a.sales, a.products, a.catalog)
    {
        (Some(sales), Some(products), Some(catalog)) => (
            InputPaths {
                sales,
                products,
                catalog,
            },
            a.truth_alerts,
            a.truth_sellers,
            a.truth_onsets,
        ),
        _ => {
            world = World::open()
                .map_err(|e| Failure::Output(format!("cannot unpack the bundled world: {e}")))?;
            let truth = |given: Option<PathBuf>, name| given.or_else(|| Some(world.file(name)));
            (
                InputPaths {
                    sales: world.file("sales.parquet"),
                    products: world.file("products.csv"),
                    catalog: world.file("catalog.csv"),
                },
                truth(a.truth_alerts, "truth_alerts.csv"),
                truth(a.truth_sellers, "truth_sellers.csv"),
                truth(a.truth_onsets, "truth_onsets.csv"),
            )
        }
    };
    let config = match &a.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let mut params = config.params.clone();
    if let Some(t) = a.threads {
        params = params.with_threads(usize::from(t));
    }
    let progress = Arc::new(Bars::default());
    let mut detector = Detector::new(params)?;
    if bars {
        detector = detector.with_progress(progress.clone());
    }
    let started = Instant::now();
    let report = detector
        .run_files(&inputs, &config.columns)
        .inspect_err(|_| progress.abandon())?;
    let seconds = started.elapsed().as_secs_f64();
    if bars {
        progress.start("writing outputs", None, false);
    }
    report
        .write(&a.out)
        .map_err(|e| Failure::Output(format!("cannot write outputs: {e}")))?;
    progress.done();

    let scores = match (&truth_alerts, &truth_sellers) {
        (Some(ta), Some(ts)) => Some(RunScores::of(&report, ta, ts)?),
        _ => None,
    };
    let onsets = truth_onsets
        .map(|t| OnsetScores::of(&report, &t))
        .transpose()?;
    match output {
        Output::Quiet => {}
        Output::Json => print_json(&DetectSummary {
            out: &a.out,
            seconds,
            tables: &report.ingest.tables,
            summary: &report.summary,
            flagged_sellers: report.sellers.iter().filter(|f| f.stats.flagged).collect(),
            scores,
            onsets,
        })?,
        Output::Text => {
            print_detect(&report, &a.out, seconds);
            if let Some(o) = onsets {
                println!("{o}");
            }
            if let Some(s) = scores {
                println!("{s}");
            }
        }
    }
    Ok(())
}

/// The text summary of a detector run: row accounting, counts, flagged sellers.
fn print_detect(report: &Report, out: &Path, seconds: f64) {
    for t in &report.ingest.tables {
        println!(
            "{:<9} read {:>9}  accepted {:>9}  rejected {:>7}  {}",
            t.table,
            t.rows_read,
            t.accepted,
            t.rejected,
            t.path.display()
        );
    }
    let s = &report.summary;
    println!(
        "{} bestsellers; {} of {} listings matched; {} alerts, {} pre-existing copies, {} outside the window",
        s.bestsellers, s.matched_listings, s.listings, s.alerts, s.pre_existing, s.outside_window
    );
    if !report.exchange_rates.rates.is_empty() {
        println!("{}", report.exchange_rates);
    }
    println!(
        "{} of {} sellers flagged; {} of {} categories flagged",
        s.flagged_sellers, s.sellers, s.flagged_categories, s.categories
    );
    for f in report.sellers.iter().filter(|f| f.stats.flagged) {
        let st = &f.stats;
        println!(
            "  {}: {} of {} listings follow a bestseller (expected {:.1}), lift {:.1} [{:.1}, {:.1}], q {:.2e}",
            f.seller_id,
            st.follow_listings,
            st.listings,
            st.expected_follows,
            st.lift,
            st.lift_low,
            st.lift_high,
            st.q_value,
        );
    }
    println!("outputs in {} ({seconds:.2} s)", out.display());
}

/// Arguments of `crossleak synth`.
#[derive(Debug, Args)]
pub(crate) struct SynthArgs {
    /// Home products: up to 1,308 distinct Tokopedia titles, beyond that variants.
    #[arg(long)]
    scale: usize,
    /// Folder for the world's files, created if needed.
    #[arg(long)]
    out: PathBuf,
    /// Seed of every random draw.
    #[arg(long, default_value_t = SynthParams::default().seed)]
    seed: u64,
    /// Sellers that copy bestsellers soon after their onset.
    #[arg(long, default_value_t = SynthParams::default().followers)]
    followers: usize,
    /// Sellers that list copies of home products whatever their sales.
    #[arg(long, default_value_t = SynthParams::default().organic)]
    organic: usize,
    /// Sellers that list unrelated items.
    #[arg(long, default_value_t = SynthParams::default().unrelated)]
    unrelated: usize,
    /// Home titles from this CSV (`category,name,price`, price at IDR scale) instead of the
    /// Tokopedia names.
    #[arg(long)]
    names: Option<PathBuf>,
}

/// What `crossleak synth --json` prints.
#[derive(Serialize)]
struct SynthSummary<'a> {
    out: &'a Path,
    seed: u64,
    products: usize,
    sales_rows: usize,
    listings: usize,
    followers: usize,
    organic: usize,
    unrelated: usize,
    bestsellers: usize,
    copies: usize,
    alerts: usize,
    seconds: f64,
}

pub(crate) fn synth(a: SynthArgs, output: Output, bars: bool) -> Result<(), Failure> {
    let params = SynthParams {
        seed: a.seed,
        products: a.scale,
        followers: a.followers,
        organic: a.organic,
        unrelated: a.unrelated,
        ..SynthParams::default()
    };
    let progress = Bars::default();
    let started = Instant::now();
    if bars {
        progress.start("generating world", None, false);
    }
    let world = match &a.names {
        Some(path) => load_names_file(path).and_then(|names| generate_from(&params, &names)),
        None => generate(&params),
    }
    .inspect_err(|_| progress.abandon())?;
    if bars {
        progress.start("writing world", None, false);
    }
    world
        .write(&a.out)
        .map_err(|e| Failure::Output(e.to_string()))?;
    progress.done();
    let count = |k: SellerKind| world.sellers.iter().filter(|s| s.kind == k).count();
    let summary = SynthSummary {
        out: &a.out,
        seed: params.seed,
        products: world.products.len(),
        sales_rows: world.sales.len(),
        listings: world.listings.len(),
        followers: count(SellerKind::Follower),
        organic: count(SellerKind::Organic),
        unrelated: count(SellerKind::Unrelated),
        bestsellers: world.onsets.len(),
        copies: world.truth_copies().len(),
        alerts: world.truth_alerts().len(),
        seconds: started.elapsed().as_secs_f64(),
    };
    match output {
        Output::Quiet => {}
        Output::Json => print_json(&summary)?,
        Output::Text => println!(
            "{}: {} products, {} sales rows, {} listings ({} followers, {} organic and {} unrelated sellers); \
             truth: {} bestsellers, {} copies, {} alerts ({:.2} s)",
            summary.out.display(),
            summary.products,
            summary.sales_rows,
            summary.listings,
            summary.followers,
            summary.organic,
            summary.unrelated,
            summary.bestsellers,
            summary.copies,
            summary.alerts,
            summary.seconds
        ),
    }
    Ok(())
}

/// Arguments of `crossleak link`.
#[derive(Debug, Args)]
pub(crate) struct LinkArgs {
    /// The catalog that is indexed: an `id` column and attributes (title or name, optional
    /// brand or manufacturer, price, category).
    #[arg(long)]
    left: PathBuf,
    /// The catalog whose records query the index, each matching at most one left record.
    #[arg(long)]
    right: PathBuf,
    /// Field separator of both catalogs (and of --truth): one ASCII character, `\t` for tab.
    #[arg(long, default_value = ",", value_parser = parse_delimiter)]
    delimiter: u8,
    /// Candidates per right record.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    k: u16,
    /// The matches: `left_id,right_id,probability,explanation`.
    #[arg(long, default_value = "matches.csv")]
    out: PathBuf,
    /// True `left_id,right_id` pairs (first two columns) to score against.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
}

fn parse_delimiter(value: &str) -> Result<u8, String> {
    let v = if value == "\\t" { "\t" } else { value };
    match v.as_bytes() {
        [b] if b.is_ascii() && *b != b'"' && *b != b'\n' => Ok(*b),
        _ => Err(format!("must be one ASCII character, got `{value}`")),
    }
}

/// What `crossleak link --json` prints.
#[derive(Serialize)]
struct LinkSummary<'a> {
    out: &'a Path,
    left_records: usize,
    right_records: usize,
    candidates: usize,
    matches: usize,
    candidate_seconds: f64,
    scoring_seconds: f64,
    candidate_recall: Option<f64>,
    scores: Option<Scores>,
}

pub(crate) fn link(a: LinkArgs, output: Output, bars: bool) -> Result<(), Failure> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.map_or(0, usize::from))
        .build()
        .map_err(|e| Failure::Input(format!("cannot start the threads: {e}")))?;
    let progress = Bars::default();
    if bars {
        progress.start("reading catalogs", None, false);
    }
    let left = read_catalog_records(&a.left, a.delimiter).inspect_err(|_| progress.abandon())?;
    let right = read_catalog_records(&a.right, a.delimiter).inspect_err(|_| progress.abandon())?;
    let truth = a
        .truth
        .as_deref()
        .map(|p| read_id_pairs(p, a.delimiter))
        .transpose()
        .inspect_err(|_| progress.abandon())?;
    if bars {
        progress.start("linking", None, false);
    }
    let linkage = pool
        .install(|| link_catalogs(&left, &right, usize::from(a.k)))
        .inspect_err(|_| progress.abandon())?;
    let mut matches = linkage.matches_frame(&left, &right)?;
    crossleak::report::write_csv(&mut matches, &a.out)
        .map_err(|e| Failure::Output(e.to_string()))?;
    progress.done();
    let (candidate_recall, scores) = match &truth {
        Some(truth) => {
            let predicted = linkage
                .matches
                .iter()
                .map(|&row| linkage.ids(&left, &right, row));
            let true_pairs = truth.iter().map(|(l, r)| (l.as_str(), r.as_str()));
            (
                Some(linkage.candidate_recall(&left, &right, truth)),
                Some(score_sets(predicted, true_pairs)),
            )
        }
        None => (None, None),
    };
    let summary = LinkSummary {
        out: &a.out,
        left_records: left.records.len(),
        right_records: right.records.len(),
        candidates: linkage.pairs.len(),
        matches: linkage.matches.len(),
        candidate_seconds: linkage.candidate_seconds,
        scoring_seconds: linkage.scoring_seconds,
        candidate_recall,
        scores,
    };
    match output {
        Output::Quiet => {}
        Output::Json => print_json(&summary)?,
        Output::Text => {
            println!(
                "{} left and {} right records (titles from `{}` and `{}`): {} candidates, {} matches in {}",
                summary.left_records,
                summary.right_records,
                left.roles.title,
                right.roles.title,
                summary.candidates,
                summary.matches,
                summary.out.display()
            );
            if let (Some(r), Some(s)) = (candidate_recall, scores) {
                println!(
                    "recall@{}={r:.4} precision={:.4} recall={:.4} f1={:.4}",
                    a.k, s.precision, s.recall, s.f1
                );
            }
        }
    }
    Ok(())
}

/// Arguments of `crossleak hash-images`.
#[derive(Debug, Args)]
pub(crate) struct HashArgs {
    /// Image files (PNG, JPEG or WebP): one `HASH  FILE` line each, as `sha256sum` prints.
    #[arg(required_unless_present = "compare", conflicts_with = "compare")]
    files: Vec<PathBuf>,
    /// Two files to compare: their hash lines, then `distance=D similarity=S`.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    compare: Option<Vec<PathBuf>>,
}

/// One hashed file, as `--json` prints it.
#[derive(Serialize)]
struct Hashed<'a> {
    file: &'a Path,
    hash: String,
}

pub(crate) fn hash_images(a: HashArgs, output: Output) -> Result<(), Failure> {
    let files = a.compare.as_ref().unwrap_or(&a.files);
    let hashes = files
        .iter()
        .map(|f| phash_file(f))
        .collect::<crossleak::Result<Vec<u64>>>()?;
    let hashed: Vec<Hashed> = files
        .iter()
        .zip(&hashes)
        .map(|(file, &h)| Hashed {
            file,
            hash: to_hex(h),
        })
        .collect();
    let compared = match (a.compare.is_some(), hashes.as_slice()) {
        (true, &[x, y]) => Some((hamming_distance(x, y), similarity(x, y))),
        _ => None,
    };
    match output {
        Output::Quiet => {}
        Output::Json => match compared {
            Some((distance, similarity)) => print_json(&serde_json::json!({
                "files": hashed, "distance": distance, "similarity": similarity
            }))?,
            None => print_json(&hashed)?,
        },
        Output::Text => {
            for h in &hashed {
                println!("{}  {}", h.hash, h.file.display());
            }
            if let Some((distance, similarity)) = compared {
                println!("distance={distance} similarity={similarity:.4}");
            }
        }
    }
    Ok(())
}

fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::Output(format!("cannot write the summary: {e}")))?;
    println!("{text}");
    Ok(())
}
