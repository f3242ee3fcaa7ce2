//! `crossleak`: find home bestsellers copied by foreign sellers, from the command line.
//!
//! ```text
//! crossleak detect                                   # the bundled world -> out/
//! crossleak detect --sales S --products P --catalog C [--config F] [--out DIR] [--threads N]
//! crossleak synth --scale 20000 --out world/         # a seeded world with ground truth
//! crossleak link --left A --right B [--truth GT]     # link two whole catalogs
//! crossleak hash-images FILE... | --compare A B      # perceptual hashes for `image_phash`
//! ```
//!
//! Long stages draw progress bars on stderr when it is a terminal. `--quiet` prints nothing but
//! errors; `--json` prints one JSON object on stdout instead of the text summary. Exit status:
//! 0 on success, 2 on bad input or arguments (one line on stderr saying why), 1 when outputs
//! cannot be written.

mod bundled;
mod commands;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{DetectArgs, HashArgs, LinkArgs, SynthArgs};

/// Find home-market bestsellers copied by foreign sellers soon after they took off.
#[derive(Debug, Parser)]
#[command(name = "crossleak", version, about, long_about = None)]
struct Cli {
    /// Print nothing but errors: no progress bars, no summary.
    #[arg(long, global = true)]
    quiet: bool,
    /// Print the summary as one JSON object on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole pipeline: onsets, matching, alerts, seller statistics, reports.
    Detect(DetectArgs),
    /// Generate a seeded synthetic world with ground truth.
    Synth(SynthArgs),
    /// Link two whole catalogs with the unsupervised matcher.
    Link(LinkArgs),
    /// Perceptual hashes of product images, for the `image_phash` column.
    HashImages(HashArgs),
}

/// How the summary is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    Text,
    Json,
    Quiet,
}

/// Why a command failed, and so its exit status.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad input or arguments: status 2.
    Input(String),
    /// Outputs could not be written: status 1.
    Output(String),
}

impl From<crossleak::Error> for Failure {
    fn from(e: crossleak::Error) -> Failure {
        Failure::Input(e.to_string().replace('\n', " "))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = match (cli.quiet, cli.json) {
        (_, true) => Output::Json,
        (true, false) => Output::Quiet,
        (false, false) => Output::Text,
    };
    let bars = !cli.quiet;
    let result = match cli.command {
        Command::Detect(a) => commands::detect(a, output, bars),
        Command::Synth(a) => commands::synth(a, output, bars),
        Command::Link(a) => commands::link(a, output, bars),
        Command::HashImages(a) => commands::hash_images(a, output),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            eprintln!("crossleak: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Output(e)) => {
            eprintln!("crossleak: {e}");
            ExitCode::FAILURE
        }
    }
}
