//! The text normaliser and the pair features on arbitrary text: no panic, no empty token,
//! every feature in [0, 1], and a title compared with itself scores 1 wherever it has words.
#![no_main]

use std::sync::OnceLock;

use crossleak::matching::features::{feature_index, pair_features, RecordAttrs};
use crossleak::matching::index::TfIdf;
use crossleak::matching::text::Normalizer;
use libfuzzer_sys::fuzz_target;

fn model() -> &'static TfIdf {
    static MODEL: OnceLock<TfIdf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let titles = ["Kaos polos cotton 30s hitam", "Mug keramik 350ml", "杯子 mug"];
        TfIdf::fit(&titles.map(String::from), Normalizer::default(), 3)
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let half = text.chars().count() / 2;
    let cut = text.char_indices().nth(half).map_or(text.len(), |(i, _)| i);
    let (a, b) = text.split_at(cut);
    let normalizer = Normalizer::default();
    let _ = normalizer.clean(&text);
    let tokens = normalizer.tokens(&text);
    assert!(tokens.iter().all(|t| !t.is_empty()), "{tokens:?}");
    let _ = Normalizer::char_ngrams(&tokens, 3);

    let none = RecordAttrs::default();
    let (x, y) = (model().analyze(a), model().analyze(b));
    for (p, q) in [(&x, &y), (&y, &x), (&x, &x)] {
        let f = pair_features(p, &none, q, &none);
        assert!(f.iter().all(|v| (0.0..=1.0).contains(v)), "{f:?} for {a:?} / {b:?}");
    }
    if !x.tokens.is_empty() {
        let f = pair_features(&x, &none, &x, &none);
        for name in ["token_jaccard", "token_sort_similarity", "containment", "length_ratio"] {
            let v = f[feature_index(name).unwrap()];
            assert!((v - 1.0).abs() < 1e-9, "{name} = {v} for {a:?}");
        }
    }
});
