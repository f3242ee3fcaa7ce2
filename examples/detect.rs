//! Run the whole crossleak pipeline: ingest, bestseller onsets, matching, temporal linking,
//! seller statistics, reports.
//!
//! ```text
//! cargo run --release --example detect                       # the bundled world -> out/
//! cargo run --release --example detect -- --sales S --products P --catalog C \
//!     [--config cfg.toml] [--out DIR] [--threads N] \
//!     [--truth-alerts truth_alerts.csv --truth-sellers truth_sellers.csv] [--truth-onsets F]
//! ```
//!
//! Exit status: 0 on success, 2 on bad input (one line on stderr saying why), 1 when the
//! outputs cannot be written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crossleak::pipeline::{Config, Detector, Report};
use crossleak::InputPaths;
use crossleak_eval::eval::{OnsetScores, RunScores};

/// Command-line options.
struct Args {
    inputs: InputPaths,
    config: Option<PathBuf>,
    out: PathBuf,
    threads: Option<usize>,
    truth_alerts: Option<PathBuf>,
    truth_sellers: Option<PathBuf>,
    truth_onsets: Option<PathBuf>,
}

fn bundled(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/world")
        .join(file)
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        inputs: InputPaths {
            sales: bundled("sales.parquet"),
            products: bundled("products.csv"),
            catalog: bundled("catalog.csv"),
        },
        config: None,
        out: PathBuf::from("out"),
        threads: None,
        truth_alerts: None,
        truth_sellers: None,
        truth_onsets: None,
    };
    let mut given = 0;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--sales" => (a.inputs.sales, given) = (value()?.into(), given + 1),
            "--products" => (a.inputs.products, given) = (value()?.into(), given + 1),
            "--catalog" => (a.inputs.catalog, given) = (value()?.into(), given + 1),
            "--config" => a.config = Some(value()?.into()),
            "--out" => a.out = value()?.into(),
            "--threads" => {
                let v = value()?;
                a.threads = Some(v.parse().map_err(|_| format!("--threads: not a number: {v}"))?);
            }
            "--truth-alerts" => a.truth_alerts = Some(value()?.into()),
            "--truth-sellers" => a.truth_sellers = Some(value()?.into()),
            "--truth-onsets" => a.truth_onsets = Some(value()?.into()),
            "-h" | "--help" => return Err("usage: detect [--sales S --products P --catalog C] [--config F] [--out DIR] [--threads N] [--truth-alerts F] [--truth-sellers G] [--truth-onsets H]".into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    match given {
        0 => {
            // The bundled world comes with its ground truth: score against it by default.
            a.truth_alerts
                .get_or_insert_with(|| bundled("truth_alerts.csv"));
            a.truth_sellers
                .get_or_insert_with(|| bundled("truth_sellers.csv"));
            a.truth_onsets
                .get_or_insert_with(|| bundled("truth_onsets.csv"));
        }
        3 => {}
        _ => return Err("give all of --sales, --products and --catalog, or none".into()),
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("detect: {e}");
            return ExitCode::from(2);
        }
    };
    // Configuration: column renames and parameters, all optional.
    let config = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("detect: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    let mut params = config.params.clone();
    if let Some(t) = args.threads {
        params = params.with_threads(t);
    }
    let started = std::time::Instant::now();
    let report =
        match Detector::new(params).and_then(|d| d.run_files(&args.inputs, &config.columns)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("detect: {}", e.to_string().replace('\n', " "));
                return ExitCode::from(2);
            }
        };
    let elapsed = started.elapsed();
    if let Err(e) = report.write(&args.out) {
        eprintln!("detect: cannot write outputs: {e}");
        return ExitCode::from(1);
    }
    print_summary(&report, &args.out, elapsed);
    if let Some(t) = &args.truth_onsets {
        match OnsetScores::of(&report, t) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("detect: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let (Some(ta), Some(ts)) = (&args.truth_alerts, &args.truth_sellers) {
        match RunScores::of(&report, ta, ts) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("detect: {e}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

fn print_summary(report: &Report, out: &Path, elapsed: std::time::Duration) {
    for t in &report.ingest.tables {
        println!(
            "{:<9} read {:>8}  accepted {:>8}  rejected {:>6}  ({})",
            t.table,
            t.rows_read,
            t.accepted,
            t.rejected,
            t.path.display()
        );
    }
    let s = &report.summary;
    println!(
        "bestsellers {}  candidate pairs {}  matched listings {}  alerts {}  pre-existing {}  outside window {}",
        s.bestsellers, s.candidate_pairs, s.matched_listings, s.alerts, s.pre_existing, s.outside_window
    );
    if !report.exchange_rates.rates.is_empty() {
        println!("{}", report.exchange_rates);
    }
    println!(
        "sellers {}  flagged {}  categories {}  flagged categories {}",
        s.sellers, s.flagged_sellers, s.categories, s.flagged_categories
    );
    for f in report.sellers.iter().filter(|f| f.stats.flagged) {
        let st = &f.stats;
        println!(
            "  flagged {}: {} of {} listings follow a bestseller (expected {:.1}), lift {:.1} [{:.1}, {:.1}], q={:.2e}, median lag {} days",
            f.seller_id,
            st.follow_listings,
            st.listings,
            st.expected_follows,
            st.lift,
            st.lift_low,
            st.lift_high,
            st.q_value,
            st.median_lag_days.unwrap_or(0.0)
        );
    }
    println!(
        "outputs in {} ({:.2} s)",
        out.display(),
        elapsed.as_secs_f64()
    );
}
