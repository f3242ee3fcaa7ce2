//! Perceptual hashes of product images, for the `image_phash` catalog column.
//!
//! ```text
//! cargo run --release --example image_hash -- FILE...
//! cargo run --release --example image_hash -- --compare A B
//! ```
//!
//! For each file (PNG, JPEG or WebP) one line is printed, as `sha256sum` does: the 64-bit
//! DCT perceptual hash as 16 hex digits, two spaces, the file name. With `--compare A B` the
//! two hash lines are followed by `distance=D similarity=S`: the number of differing bits (0 to
//! 64) and 1 - D/64, the `image_similarity` feature the matcher sees. Near copies of a photo
//! (re-encoded, resized, lighter or darker) are typically within a distance of 10; unrelated
//! images are around 32. A missing or unreadable file stops the run with status 2 and a
//! one-line reason naming it.
//!
//! # Adding the column to a catalog
//!
//! Hash the image of each product and listing, and put the 16 digits in an `image_phash`
//! column of `products.csv` and `catalog.csv`, keyed by the id the image belongs to:
//!
//! ```text
//! $ cargo run --release --example image_hash -- images/P1.jpg images/P2.jpg > hashes.txt
//! $ cat hashes.txt
//! c3a1f0e0b0989c8e  images/P1.jpg
//! 0f1e3c7870e0c183  images/P2.jpg
//!
//! product_id,title,price,image_phash
//! P1,Stainless steel kettle 1.7 L,24.90,c3a1f0e0b0989c8e
//! P2,Ceramic mug 350 ml,6.50,0f1e3c7870e0c183
//! ```
//!
//! A row without an image leaves the cell empty. Keep the column as text in spreadsheets (an
//! all-digit hash must not turn into a number). Hash both catalogs with this same method:
//! hashes from other pHash tools use other resize sizes and bit orders and do not compare.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crossleak::image::{hamming_distance, phash_file, similarity, to_hex};

const USAGE: &str = "usage: image_hash FILE... | image_hash --compare A B";

enum Mode {
    Hash(Vec<PathBuf>),
    Compare(PathBuf, PathBuf),
}

fn parse_args(args: Vec<String>) -> Result<Mode, String> {
    match args.first().map(String::as_str) {
        None => Err(format!("no image files given ({USAGE})")),
        Some("--compare") => match &args[1..] {
            [a, b] => Ok(Mode::Compare(a.into(), b.into())),
            _ => Err(format!("--compare needs exactly two files ({USAGE})")),
        },
        Some(_) => match args.iter().find(|a| a.starts_with("--")) {
            Some(flag) => Err(format!("unknown argument `{flag}` ({USAGE})")),
            None => Ok(Mode::Hash(args.into_iter().map(PathBuf::from).collect())),
        },
    }
}

/// Hashes one file and prints its line.
fn hash_line(path: &Path) -> crossleak::Result<u64> {
    let h = phash_file(path)?;
    println!("{}  {}", to_hex(h), path.display());
    Ok(h)
}

fn run(mode: Mode) -> crossleak::Result<()> {
    match mode {
        Mode::Hash(files) => {
            for f in &files {
                hash_line(f)?;
            }
        }
        Mode::Compare(a, b) => {
            let (ha, hb) = (hash_line(&a)?, hash_line(&b)?);
            println!(
                "distance={} similarity={:.4}",
                hamming_distance(ha, hb),
                similarity(ha, hb)
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(args.first().map(String::as_str), Some("-h" | "--help")) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = parse_args(args).and_then(|mode| run(mode).map_err(|e| e.to_string()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("image_hash: {e}");
            ExitCode::from(2)
        }
    }
}
