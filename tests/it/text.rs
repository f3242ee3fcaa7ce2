//! Title normalisation on seeded cross-language copies of the PRDECT-ID names and on the
//! hand-written Chinese-titled copies (figures in docs/BENCHMARKS.md, "Text evaluation").

use crossleak::matching::text::Normalizer;
use crossleak_eval::text_eval::{run, zh_recall, TextEvalParams};

#[test]
fn copies_are_found_and_each_step_is_measured() {
    let eval = run(&TextEvalParams::default()).unwrap();
    let row = |name: &str| {
        eval.rows
            .iter()
            .find(|r| r.config == name)
            .unwrap_or_else(|| panic!("no row {name}"))
            .clone()
    };
    let standard = row("standard");
    assert_eq!(eval.rows[0], standard);
    assert!(standard.recall_at_1 >= 0.95, "{standard:?}");
    assert!(standard.f1 >= 0.9, "{standard:?}");
    // One row per standard step, plus the tokeniser alone and the optional code parts.
    assert_eq!(eval.rows.len(), Normalizer::default().steps().len() + 3);
    // Case folding and the lexicon each carry weight; the bare tokeniser is far behind.
    assert!(row("without case_fold").recall_at_1 < standard.recall_at_1 - 0.1);
    assert!(row("without lexicon").f1 < standard.f1);
    assert!(row("without units").f1 < standard.f1);
    assert!(row("tokeniser only").f1 < standard.f1 - 0.05);
}

#[test]
fn chinese_titled_copies_are_mostly_found() {
    let (n, at1, at5) = zh_recall(&Normalizer::default()).unwrap();
    assert!(n >= 100, "{n} pairs");
    assert!(at1 >= 0.8 && at5 >= at1, "recall@1 {at1}, recall@5 {at5}");
}
