//! Generate a synthetic "Project S" world with ground truth.
//!
//! ```text
//! cargo run --release -p crossleak-eval --example synth -- --scale 1308 --out datasets/world [--seed 7] [--followers 6] \
//!     [--organic 12] [--unrelated 30] [--names names.csv]
//! ```
//!
//! `--scale` is the number of home products: up to 1,308 they are distinct Tokopedia titles,
//! beyond that variants are made by recombining words within a category. Organic sellers list 20–40
//! copies each and unrelated sellers 10–30 unrelated items, so they set the catalog's size (about
//! 20,000 of each give about a million listings). `--names` takes the home titles from a CSV
//! file `category,name,price` (price at IDR scale) instead of the Tokopedia names, as
//! `benches/names.py` writes from other marketplaces' catalogs. Every other parameter
//! keeps its [`SynthParams`] default. Bad arguments exit with status 2 and a one-line reason.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crossleak::Error;
use crossleak_eval::synth::{generate, generate_from, load_names_file, SellerKind, SynthParams};

/// What the command line asked for.
struct Args {
    params: SynthParams,
    out: PathBuf,
    names: Option<PathBuf>,
}

/// Parses `--flag value` pairs by hand; `Err` carries the one-line reason.
fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut params = SynthParams::default();
    let mut scale = None;
    let mut out = None;
    let mut names = None;
    while let Some(flag) = it.next() {
        // Every flag takes exactly one value.
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |what: &str| {
            value
                .parse::<u64>()
                .map_err(|_| format!("{what} must be a non-negative integer, got `{value}`"))
        };
        match flag.as_str() {
            "--scale" => scale = Some(number("--scale")? as usize),
            "--out" => out = Some(PathBuf::from(&value)),
            "--names" => names = Some(PathBuf::from(&value)),
            "--seed" => params.seed = number("--seed")?,
            "--followers" => params.followers = number("--followers")? as usize,
            "--organic" => params.organic = number("--organic")? as usize,
            "--unrelated" => params.unrelated = number("--unrelated")? as usize,
            other => return Err(format!("unknown argument `{other}` (expected --scale N --out DIR [--seed S] [--followers F] [--organic O] [--unrelated U] [--names FILE])")),
        }
    }
    params.products = scale.ok_or("missing --scale N (number of home products)")?;
    let out = out.ok_or("missing --out DIR")?;
    Ok(Args { params, out, names })
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(reason) => {
            eprintln!("synth: {reason}");
            return ExitCode::from(2);
        }
    };
    let t0 = Instant::now();
    // Generation validates the parameters; range errors are bad arguments too (exit 2).
    let generated = match &args.names {
        Some(path) => load_names_file(path).and_then(|names| generate_from(&args.params, &names)),
        None => generate(&args.params),
    };
    let world = match generated {
        Ok(w) => w,
        Err(e @ Error::Param { .. }) => {
            eprintln!("synth: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("synth: {e}");
            return ExitCode::FAILURE;
        }
    };
    let generated = t0.elapsed();
    if let Err(e) = world.write(&args.out) {
        eprintln!("synth: {e}");
        return ExitCode::FAILURE;
    }
    // A short summary: sizes of each table and of the ground truth.
    let count = |k: SellerKind| world.sellers.iter().filter(|s| s.kind == k).count();
    println!(
        "world seed {} -> {}: {} products, {} sales rows, {} listings from {} sellers ({} followers, {} organic, {} unrelated)",
        args.params.seed,
        args.out.display(),
        world.products.len(),
        world.sales.len(),
        world.listings.len(),
        world.sellers.len(),
        count(SellerKind::Follower),
        count(SellerKind::Organic),
        count(SellerKind::Unrelated),
    );
    println!(
        "truth: {} bestsellers, {} copies, {} alerts; generated in {:.2?}, written in {:.2?}",
        world.onsets.len(),
        world.truth_copies().len(),
        world.truth_alerts().len(),
        generated,
        t0.elapsed() - generated,
    );
    ExitCode::SUCCESS
}
