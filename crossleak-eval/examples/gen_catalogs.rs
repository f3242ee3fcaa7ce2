//! Generate two catalogs to link, of any size, with the true links: the input of the
//! candidate-generation benchmarks (`link_catalogs --candidates-only`, `benches/peers/`).
//!
//! ```text
//! cargo run --release -p crossleak-eval --example gen_catalogs -- --products N --listings M --out DIR \
//!     [--seed S] [--copy-share F]
//! ```
//!
//! Writes `DIR/left.csv` (N home products: `id,title,brand,price,category`), `DIR/right.csv`
//! (M foreign listings, a share `F` (default 0.3) of them perturbed copies of home products),
//! `DIR/truth.csv` (`left_id,right_id` of every copy) and `DIR/linkage.json`. The same seed
//! gives byte-identical files. Bad arguments exit with status 2 and a one-line reason.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crossleak::Error;
use crossleak_eval::synth::{generate_linkage, LinkageParams};

const USAGE: &str = "--products N --listings M --out DIR [--seed S] [--copy-share F]";

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<(LinkageParams, PathBuf), String> {
    let mut params = LinkageParams::default();
    let (mut products, mut listings, mut out) = (None, None, None);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |name: &str| {
            value
                .replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{name} must be a non-negative integer, got `{value}`"))
        };
        match flag.as_str() {
            "--products" => products = Some(number("--products")? as usize),
            "--listings" => listings = Some(number("--listings")? as usize),
            "--seed" => params.seed = number("--seed")?,
            "--copy-share" => {
                params.copy_share = value
                    .parse()
                    .map_err(|_| format!("--copy-share must be a number, got `{value}`"))?
            }
            "--out" => out = Some(PathBuf::from(value)),
            other => return Err(format!("unknown argument `{other}` (expected {USAGE})")),
        }
    }
    params.products = products.ok_or(format!("missing --products (expected {USAGE})"))?;
    params.listings = listings.ok_or(format!("missing --listings (expected {USAGE})"))?;
    Ok((
        params,
        out.ok_or(format!("missing --out (expected {USAGE})"))?,
    ))
}

fn main() -> ExitCode {
    let (params, out) = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(reason) => {
            eprintln!("gen_catalogs: {reason}");
            return ExitCode::from(2);
        }
    };
    let t0 = Instant::now();
    let catalogs = match generate_linkage(&params) {
        Ok(c) => c,
        Err(e @ Error::Param { .. }) => {
            eprintln!("gen_catalogs: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("gen_catalogs: {e}");
            return ExitCode::FAILURE;
        }
    };
    let generated = t0.elapsed();
    if let Err(e) = catalogs.write(&out) {
        eprintln!("gen_catalogs: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "seed {} -> {}: {} products, {} listings, {} true links; generated in {:.2?}, written in {:.2?}",
        params.seed,
        out.display(),
        catalogs.products.len(),
        catalogs.listings.len(),
        catalogs.truth().len(),
        generated,
        t0.elapsed() - generated
    );
    ExitCode::SUCCESS
}
