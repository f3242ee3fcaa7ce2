//! Ablation of the title normaliser on seeded cross-language copies of the PRDECT-ID names,
//! and recall of the hand-written Chinese-titled copies.
//!
//! ```text
//! cargo run --release -p crossleak-eval --example text_eval -- [--seed S]
//! ```
//!
//! Prints one row per normaliser configuration (recall@1 of the copies' originals among the
//! candidates, F1 of the matches), then the Chinese set; the last line is
//! `recall@1=R f1=F zh_recall@1=Z zh_recall@5=Z5` for the standard normaliser. Bad arguments
//! exit with status 2 and a one-line reason.

use std::process::ExitCode;

use crossleak::matching::text::Normalizer;
use crossleak_eval::text_eval::{run, zh_recall, TextEvalParams};

fn main() -> ExitCode {
    let mut params = TextEvalParams::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value.as_deref().map(str::parse::<u64>)) {
            ("--seed", Some(Ok(s))) => params.seed = s,
            _ => {
                eprintln!("text_eval: expected [--seed S] with S a non-negative integer");
                return ExitCode::from(2);
            }
        }
    }
    match report(&params) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("text_eval: {e}");
            ExitCode::from(2)
        }
    }
}

fn report(params: &TextEvalParams) -> crossleak::Result<()> {
    let eval = run(params)?;
    println!(
        "{} copies, {} of names in the home catalog, seed {}",
        eval.copies, eval.in_catalog, params.seed
    );
    println!("{:<24} {:>9} {:>7}", "normaliser", "recall@1", "F1");
    for r in &eval.rows {
        println!("{:<24} {:>9.3} {:>7.3}", r.config, r.recall_at_1, r.f1);
    }
    let standard = Normalizer::default();
    let (n, zh1, zh5) = zh_recall(&standard)?;
    let (_, nb1, nb5) = zh_recall(&standard.without("han_bigrams"))?;
    println!(
        "chinese-titled copies: {n}; recall@1 {zh1:.3}, recall@5 {zh5:.3} (without han_bigrams: {nb1:.3}, {nb5:.3})"
    );
    let s = &eval.rows[0];
    println!(
        "recall@1={:.4} f1={:.4} zh_recall@1={zh1:.4} zh_recall@5={zh5:.4}",
        s.recall_at_1, s.f1
    );
    Ok(())
}
