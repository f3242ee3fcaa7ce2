//! Measures bestseller onset detection on real demand curves.
//!
//! The bundled Complete Journey daily curves are used untouched, with injected sustained rises
//! (5-20x, ramps of 0-14 days, lasting at least 4 weeks), with injected promotions (3-14 days,
//! up to 10x) and as launches; `crossleak::trend::detect_onsets` runs with its default
//! parameters and the detections are scored against the injected truth.
//!
//! ```sh
//! cargo run --release -p crossleak-eval --example onset_eval -- [--seed S] [--curves N] [--threads T]
//! cargo run --release -p crossleak-eval --example onset_eval -- --bench-scale [--products P] [--days D] [--runs R]
//! ```
//!
//! The last line reads `precision=P recall=R onset_error_median=D onset_error_p90=D
//! promo_false_positive_rate=X`. With `--bench-scale` it times the whole trend stage (grid
//! build from a sales panel + onset detection) on a seeded panel of P products x D days
//! (default 100,000 x 365) and prints the median of R runs (default 5).

use std::process::ExitCode;
use std::time::Instant;

use crossleak::trend::{detect_onsets, DemandGrid, TrendParams};
use crossleak_eval::trend_eval::{self, CurveKind, OnsetEvalParams};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("onset_eval: {e}");
            ExitCode::from(2)
        }
    }
}

struct Args {
    eval: OnsetEvalParams,
    threads: usize,
    bench: bool,
    products: usize,
    days: usize,
    runs: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        eval: OnsetEvalParams::default(),
        threads: 0,
        bench: false,
        products: 100_000,
        days: 365,
        runs: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--bench-scale" {
            a.bench = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| -> Result<u64, String> {
            v.parse()
                .map_err(|_| format!("{flag}: not a whole number: {v}"))
        };
        match flag.as_str() {
            "--seed" => a.eval.seed = num(&value)?,
            "--curves" => a.eval.curves = num(&value)? as usize,
            "--threads" => a.threads = num(&value)? as usize,
            "--products" => a.products = num(&value)? as usize,
            "--days" => a.days = num(&value)? as usize,
            "--runs" => a.runs = (num(&value)? as usize).max(1),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| e.to_string())?;
    pool.install(|| {
        if args.bench {
            bench_scale(&args)
        } else {
            evaluate(&args.eval)
        }
    })
}

fn evaluate(params: &OnsetEvalParams) -> Result<(), String> {
    // Injected curves with their truth, detection with the default parameters, scoring.
    let set = trend_eval::generate(params).map_err(|e| e.to_string())?;
    let trend = TrendParams::default();
    let events = detect_onsets(&set.grid, &set.products, &trend);
    let score = trend_eval::score(&set, &events, params.match_days);

    println!(
        "seed {}  curves {}  series {}",
        params.seed,
        set.truth.len() / (3 + params.rises_per_curve),
        set.truth.len()
    );
    println!(
        "{:<10} {:>7} {:>9} {:>7}",
        "kind", "curves", "detected", "rate"
    );
    for k in &score.kinds {
        let rate = k.detected as f64 / k.curves.max(1) as f64;
        println!(
            "{:<10} {:>7} {:>9} {:>7.3}",
            k.kind.name(),
            k.curves,
            k.detected,
            rate
        );
    }
    // Recall by injected height and by ramp length, to show where misses are.
    let found: std::collections::HashSet<usize> = events.iter().map(|e| e.product).collect();
    println!("rises by height: found/total");
    for (lo, hi) in [(5.0, 6.0), (6.0, 8.0), (8.0, 12.0), (12.0, f64::INFINITY)] {
        let (n, f) = tally(&set, &found, |t| t.height >= lo && t.height < hi);
        let label = if hi.is_finite() {
            format!("{lo}-{hi}x")
        } else {
            format!(">= {lo}x")
        };
        println!("  {label:<10} {f}/{n}");
    }
    println!("rises by ramp length: found/total");
    for (lo, hi) in [(0, 0), (1, 4), (5, 9), (10, 14)] {
        let (n, f) = tally(&set, &found, |t| t.ramp_days >= lo && t.ramp_days <= hi);
        println!("  {:<10} {f}/{n}", format!("{lo}-{hi} days"));
    }
    let e = &score.onset_errors;
    let signed_median = if e.is_empty() { 0 } else { e[e.len() / 2] };
    println!(
        "tp={} fp={} fn={}  signed onset error median={signed_median} d",
        score.true_positives, score.false_positives, score.false_negatives
    );
    println!(
        "precision={:.3} recall={:.3} onset_error_median={} onset_error_p90={} promo_false_positive_rate={:.3}",
        score.precision,
        score.recall,
        score.onset_error_median,
        score.onset_error_p90,
        score.promo_false_positive_rate
    );
    Ok(())
}

fn tally(
    set: &trend_eval::EvalSet,
    found: &std::collections::HashSet<usize>,
    keep: impl Fn(&trend_eval::InjectedCurve) -> bool,
) -> (usize, usize) {
    let rises = set
        .truth
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind == CurveKind::Rise && keep(t));
    rises.fold((0, 0), |(n, f), (i, _)| {
        (n + 1, f + usize::from(found.contains(&i)))
    })
}

fn bench_scale(args: &Args) -> Result<(), String> {
    // The input is generated once, outside the timing: a long-form sales panel (one row per
    // product-day with sales), as ingest would deliver it.
    let (grid, products) =
        trend_eval::scale_panel(args.products, args.days, 7).map_err(|e| e.to_string())?;
    let sales = trend_eval::long_form(&grid, &products);
    drop(grid);
    let params = TrendParams::default();
    let threads = rayon::current_num_threads();
    println!(
        "trend stage: {} products x {} days, {} sales rows, {threads} threads",
        products.len(),
        args.days,
        sales.len()
    );
    let mut times = Vec::new();
    for run in 0..args.runs {
        let t = Instant::now();
        let grid = DemandGrid::build(&sales, &products);
        let built = t.elapsed().as_secs_f64();
        let events = detect_onsets(&grid, &products, &params);
        let secs = t.elapsed().as_secs_f64();
        println!(
            "run {}: {secs:.3} s (grid {built:.3} s, onsets {:.3} s), {} onsets",
            run + 1,
            secs - built,
            events.len()
        );
        times.push(secs);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "trend_stage_seconds_median={:.3} runs={} threads={threads}",
        times[times.len() / 2],
        times.len()
    );
    Ok(())
}
