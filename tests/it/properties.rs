//! Property tests: the pair features, and what the detector's output must not depend on
//! (thread count, the order of input rows, an unrelated listing).

use std::sync::OnceLock;

use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crossleak::ingest::{Inputs, SalesPanel};
use crossleak::matching::features::{feature_index, pair_features, RecordAttrs, FEATURE_NAMES};
use crossleak::matching::index::TfIdf;
use crossleak::matching::text::Normalizer;
use crossleak::pipeline::{Detector, DetectorParams, Report};
use crossleak::{ColumnsConfig, Date, InputPaths};
use crossleak_eval::synth::{generate, SynthParams};

use crate::assert_same_findings;

/// Words of product titles in several scripts, with units, packs, codes and symbols.
const WORDS: &[&str] = &[
    "kaos",
    "polos",
    "hitam",
    "cotton",
    "30s",
    "mug",
    "keramik",
    "350ml",
    "0,5",
    "kg",
    "16x250gr",
    "CT-522",
    "ct522",
    "samsung",
    "ori",
    "PROMO!!!",
    "杯子",
    "水杯",
    "Кружка",
    "🔥",
    "&amp;",
    "xl",
    "2pcs",
    "sepatu",
    "pria",
    "a",
    "l",
    "500",
    "usb-c",
];

fn title() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(WORDS), 0..10).prop_map(|w| w.join(" ")),
        1 => any::<String>(),
    ]
}

fn attrs() -> impl Strategy<Value = RecordAttrs> {
    (
        prop::option::of(prop::sample::select(
            &["Samsung", "Samsnug", "xiaomi", ""][..],
        )),
        prop::option::of(prop::sample::select(&["Dapur", "dapur ", "Fashion"][..])),
        prop::option::of(prop_oneof![0.0..1e9, Just(0.0), Just(1e15)]),
        prop::option::of(prop::sample::select(&["IDR", "idr", "USD"][..])),
        prop::option::of(any::<u64>()),
    )
        .prop_map(|(brand, category, price, currency, phash)| {
            RecordAttrs::new(
                &Normalizer::default(),
                brand,
                category,
                price,
                currency,
                phash,
            )
        })
}

fn model() -> &'static TfIdf {
    static MODEL: OnceLock<TfIdf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let titles: Vec<String> = WORDS.chunks(3).map(|w| w.join(" ")).collect();
        TfIdf::fit(&titles, Normalizer::default(), 3)
    })
}

/// Features that compare the two titles' words (1 for a title with itself).
const TITLE_SIMILARITIES: &[&str] = &[
    "word_cosine",
    "char_cosine",
    "token_jaccard",
    "token_sort_similarity",
    "rare_token_share",
    "containment",
    "length_ratio",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn features_are_in_unit_interval_and_symmetric(
        (a, b) in (title(), title()),
        (aa, ba) in (attrs(), attrs()),
    ) {
        let (x, y) = (model().analyze(&a), model().analyze(&b));
        let ab = pair_features(&x, &aa, &y, &ba);
        let ba_ = pair_features(&y, &ba, &x, &aa);
        for (j, name) in FEATURE_NAMES.iter().enumerate() {
            prop_assert!((0.0..=1.0).contains(&ab[j]), "{name} = {} for {a:?} / {b:?}", ab[j]);
            prop_assert!((ab[j] - ba_[j]).abs() < 1e-9, "{name}: {} vs {}", ab[j], ba_[j]);
        }
    }

    #[test]
    fn identical_titles_score_one(a in title(), aa in attrs()) {
        // As in the detector, the home title is part of the catalog the model is fitted on.
        let fitted = TfIdf::fit(&[a.clone(), "kaos polos hitam".into()], Normalizer::default(), 3);
        let x = fitted.analyze(&a);
        prop_assume!(!x.tokens.is_empty());
        let f = pair_features(&x, &aa, &x, &aa);
        for name in TITLE_SIMILARITIES {
            let v = f[feature_index(name).unwrap()];
            let empty = (*name == "word_cosine" && x.words.idx.is_empty())
                || (*name == "char_cosine" && x.chars.idx.is_empty());
            // TF-IDF weights are f32: a vector's norm is 1 within f32 precision.
            prop_assert!(empty || (v - 1.0).abs() < 1e-6, "{name} = {v} for {a:?}");
        }
        for (v, has) in [("brand_agreement", "has_brand"), ("category_agreement", "has_category"),
                         ("price_similarity", "has_price"), ("image_similarity", "has_image")] {
            if f[feature_index(has).unwrap()] == 1.0 {
                prop_assert_eq!(f[feature_index(v).unwrap()], 1.0, "{}", v);
            }
        }
    }
}

/// A small generated world loaded once, and the detector's report on it.
fn baseline() -> &'static (Inputs, Report) {
    static BASE: OnceLock<(Inputs, Report)> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("crossleak-it-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let params = SynthParams {
            seed: 13,
            products: 300,
            ..SynthParams::default()
        };
        generate(&params).unwrap().write(&dir).unwrap();
        let paths = InputPaths {
            sales: dir.join("sales.parquet"),
            products: dir.join("products.csv"),
            catalog: dir.join("catalog.csv"),
        };
        let inputs = Inputs::load(&paths, &ColumnsConfig::default()).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        let report = detect(inputs.clone(), 2);
        assert!(!report.alerts.is_empty(), "the world must produce alerts");
        (inputs, report)
    })
}

fn detect(inputs: Inputs, threads: usize) -> Report {
    Detector::new(DetectorParams::default().with_threads(threads))
        .unwrap()
        .run(inputs)
        .unwrap()
}

fn shuffle_sales(s: &SalesPanel, order: &[usize]) -> SalesPanel {
    let mut out = SalesPanel::default();
    for &i in order {
        let r = s.row(i);
        out.push(r.product_id, r.date, r.units, r.revenue, r.source_row);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3))]

    #[test]
    fn findings_ignore_row_order_and_thread_count(
        seed in any::<u64>(),
        threads in 1usize..=3,
    ) {
        let (inputs, report) = baseline();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut order = |n: usize| {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut rng);
            order
        };
        let shuffled = Inputs {
            sales: shuffle_sales(&inputs.sales, &order(inputs.sales.len())),
            products: inputs.products.select(&order(inputs.products.len())),
            catalog: inputs.catalog.select(&order(inputs.catalog.len())),
            report: inputs.report.clone(),
        };
        assert_same_findings(report, &detect(shuffled, threads));
    }

    #[test]
    fn an_unrelated_listing_changes_no_other_alert(
        words in prop::collection::vec(
            prop::sample::select(&["vinyl", "turntable", "guitar", "strings", "violin", "bow",
                                    "rosin", "amplifier", "tube", "cassette", "tape"][..]),
            1..6,
        ),
        day in 0i32..365,
        existing_seller in any::<bool>(),
    ) {
        let (inputs, report) = baseline();
        let mut more = inputs.clone();
        let c = &mut more.catalog;
        let seller = if existing_seller { c.seller_id[0].clone() } else { Some("zz-new".into()) };
        c.id.push("zz-unrelated".into());
        c.title.push(words.join(" "));
        c.description.push(None);
        c.category.push(None);
        c.brand.push(None);
        c.price.push(Some(25.0));
        c.currency.push(c.currency[0].clone());
        c.seller_id.push(seller);
        c.origin_country.push(None);
        c.image_phash.push(None);
        c.listed_at.push(Some(Date::from_ymd(2024, 1, 1).unwrap().add_days(day)));
        c.source_row.push(c.source_row.len() + 1);
        let after = detect(more, 2);
        let key = |r: &Report| -> Vec<(String, String, i32)> {
            r.alerts
                .iter()
                .filter(|a| a.listing_id != "zz-unrelated")
                .map(|a| (a.listing_id.clone(), a.product_id.clone(), a.lag_days))
                .collect()
        };
        prop_assert_eq!(key(report), key(&after));
    }
}
