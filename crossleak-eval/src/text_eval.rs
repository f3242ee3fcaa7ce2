//! Evaluation of title normalisation: seeded cross-language copies of the PRDECT-ID product
//! names, matched back to their originals with and without each normaliser step, and the
//! hand-written Chinese-titled copies in `datasets/text/zh_copies.tsv`.
//!
//! Each of the 1,308 Tokopedia names gets one copy: Indonesian words put into English and
//! English words into Indonesian (each with probability 0.8, word by word through the bundled
//! lexicon, so this measures what the normaliser does given a lexicon covering the vocabulary,
//! not translation quality), quantities respelled (`250gr`, `0,25 kg`, `250 gram`), spam
//! words, emoji and literal `\n` added, and the case changed. A share of the names
//! (`holdout_share`) is left out of the home catalog: their copies must not be matched. The
//! home catalog is indexed ([`TfIdf`], [`CandidateIndex`]), each copy's top 5 candidates are
//! scored with the unsupervised mixture, and a copy is matched to its most probable candidate
//! when the candidates' probabilities add up to 0.5, as in the detector.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::synth::{load_names, respell_units, SPAM};
use crossleak::matching::features::{feature_matrix, RecordAttrs, Side};
use crossleak::matching::index::{CandidateIndex, TfIdf};
use crossleak::matching::matcher::{best_per_query, MatchModel, MixtureModel, MixtureParams};
use crossleak::matching::text::{Lexicon, Normalizer};
use crossleak::{Error, Result};

/// Options of the evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextEvalParams {
    /// Seed of the copies (default 7).
    pub seed: u64,
    /// Share of names left out of the home catalog (default 0.2).
    pub holdout_share: f64,
    /// Candidates per copy (default 5).
    pub top_k: usize,
}

impl Default for TextEvalParams {
    fn default() -> Self {
        TextEvalParams {
            seed: 7,
            holdout_share: 0.2,
            top_k: 5,
        }
    }
}

/// Scores of one normaliser configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepScores {
    /// `standard`, `without <step>`, `tokeniser only` or `with <filter>`.
    pub config: String,
    /// Share of copies of home products whose top candidate is their original.
    pub recall_at_1: f64,
    /// F1 of the matches (a copy of a left-out name matched counts as a false positive).
    pub f1: f64,
}

/// Matching copies back to originals, per configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextEval {
    /// Copies made (one per name).
    pub copies: usize,
    /// Copies whose original is in the home catalog.
    pub in_catalog: usize,
    /// One row per configuration, the standard normaliser first.
    pub rows: Vec<StepScores>,
}

/// Makes the seeded copies of `titles`.
pub fn make_copies(titles: &[String], seed: u64) -> Vec<String> {
    let lexicon = Lexicon::standard();
    // Concept -> the words that map to it, for putting English back into Indonesian.
    let mut words_of: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
    for (w, c) in lexicon.entries() {
        if w != c {
            words_of.entry(c).or_default().push(w);
        }
    }
    titles
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9));
            copy_title(&mut rng, t, &lexicon, &words_of)
        })
        .collect()
}

fn copy_title(
    rng: &mut ChaCha8Rng,
    title: &str,
    lexicon: &Lexicon,
    words_of: &std::collections::HashMap<&str, Vec<&str>>,
) -> String {
    let mut tokens: Vec<String> = title.split_whitespace().map(str::to_string).collect();
    for t in tokens.iter_mut() {
        let low = t.to_lowercase();
        if let Some(en) = lexicon.concept(&low) {
            if en != low && rng.gen_bool(0.8) {
                *t = en.to_string();
            }
        } else if let Some(ids) = words_of.get(low.as_str()) {
            if rng.gen_bool(0.8) {
                *t = ids[rng.gen_range(0..ids.len())].to_string();
            }
        }
    }
    respell_units(rng, &mut tokens);
    let mut out = tokens.join(" ");
    for _ in 0..rng.gen_range(1..=2) {
        let s = SPAM[rng.gen_range(0..SPAM.len())];
        out = if rng.gen_bool(0.5) {
            format!("{s} {out}")
        } else {
            format!("{out} {s}")
        };
    }
    if rng.gen_bool(0.3) {
        out = format!("🔥 {out} 🔥");
    }
    if rng.gen_bool(0.2) {
        out = out.replacen(' ', "\\n", 1);
    }
    if rng.gen_bool(0.3) {
        out = out.to_uppercase();
    }
    out
}

/// Recall@1 and F1 of matching `queries` to `home` with `normalizer`; `truth[q]` is the home
/// index of query `q`'s original (`None`: not in the home catalog).
pub fn score_matching(
    normalizer: &Normalizer,
    home: &[String],
    queries: &[String],
    truth: &[Option<usize>],
    top_k: usize,
) -> Result<(f64, f64)> {
    let model = TfIdf::fit(home, normalizer.clone(), 3);
    let docs = model.analyze_all(home);
    let qs = model.analyze_all(queries);
    let pairs = CandidateIndex::build(&model, &docs).search(&qs, top_k);
    let (home_attrs, query_attrs) = (
        vec![RecordAttrs::default(); home.len()],
        vec![RecordAttrs::default(); queries.len()],
    );
    let features = feature_matrix(
        &pairs,
        Side {
            titles: &qs,
            attrs: &query_attrs,
        },
        Side {
            titles: &docs,
            attrs: &home_attrs,
        },
    );
    let groups: Vec<usize> = pairs.iter().map(|p| p.query).collect();
    let mixture = MatchModel::Mixture(MixtureModel::fit(
        &features.x,
        &groups,
        &MixtureParams::default(),
    )?);
    let prob = mixture.predict_grouped(&features, &groups);
    let mut top1 = vec![None; queries.len()];
    for p in pairs.iter().rev() {
        top1[p.query] = Some(p.target);
    }
    let mut matched = vec![None; queries.len()];
    for i in best_per_query(&pairs, &prob, mixture.threshold(), true) {
        matched[pairs[i].query] = Some(pairs[i].target);
    }
    let in_catalog = truth.iter().filter(|t| t.is_some()).count();
    let hits = truth
        .iter()
        .zip(&top1)
        .filter(|(t, p)| t.is_some() && t == p)
        .count();
    let (mut tp, mut fp) = (0usize, 0usize);
    for (t, m) in truth.iter().zip(&matched) {
        match (t, m) {
            (Some(t), Some(m)) if t == m => tp += 1,
            (_, Some(_)) => fp += 1,
            _ => {}
        }
    }
    let scores = crate::eval::Scores::from_counts(tp, fp, in_catalog - tp);
    Ok((hits as f64 / in_catalog.max(1) as f64, scores.f1))
}

/// Runs the ablation: the standard normaliser, without each of its steps, the tokeniser
/// alone, and with [`crossleak::matching::text::CodeParts`] added.
pub fn run(params: &TextEvalParams) -> Result<TextEval> {
    if !(0.0..1.0).contains(&params.holdout_share) || params.top_k == 0 {
        return Err(Error::Param {
            name: "text_eval".into(),
            value: format!(
                "holdout_share {} top_k {}",
                params.holdout_share, params.top_k
            ),
            expected: "holdout_share in [0, 1), top_k >= 1".into(),
        });
    }
    let names: Vec<String> = load_names()?.into_iter().map(|n| n.name).collect();
    let copies = make_copies(&names, params.seed);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let held: Vec<bool> = names
        .iter()
        .map(|_| rng.gen_bool(params.holdout_share))
        .collect();
    let mut home = Vec::new();
    let mut truth = Vec::with_capacity(names.len());
    for (n, &h) in names.iter().zip(&held) {
        if h {
            truth.push(None);
        } else {
            truth.push(Some(home.len()));
            home.push(n.clone());
        }
    }
    let standard = Normalizer::default();
    let mut configs: Vec<(String, Normalizer)> = vec![("standard".into(), standard.clone())];
    for step in standard.steps() {
        configs.push((format!("without {step}"), standard.without(&step)));
    }
    configs.push(("tokeniser only".into(), Normalizer::builder().build()));
    configs.push((
        "with code_parts".into(),
        Normalizer::builder()
            .standard()
            .filter(crossleak::matching::text::CodeParts)
            .build(),
    ));
    let rows = configs
        .into_iter()
        .map(|(config, n)| {
            let (recall_at_1, f1) = score_matching(&n, &home, &copies, &truth, params.top_k)?;
            Ok(StepScores {
                config,
                recall_at_1,
                f1,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TextEval {
        copies: copies.len(),
        in_catalog: home.len(),
        rows,
    })
}

/// Recall of the Chinese-titled copies of `datasets/text/zh_copies.tsv` against the whole
/// PRDECT-ID catalog (no copy is held out): `(pairs, recall@1, recall@5)` with `normalizer`.
pub fn zh_recall(normalizer: &Normalizer) -> Result<(usize, f64, f64)> {
    let names: Vec<String> = load_names()?.into_iter().map(|n| n.name).collect();
    let mut queries = Vec::new();
    let mut truth = Vec::new();
    for (i, line) in include_str!("../../datasets/text/zh_copies.tsv")
        .lines()
        .enumerate()
        .skip(1)
    {
        let mut cols = line.split('\t');
        let (Some(home), Some(zh)) = (cols.next(), cols.next()) else {
            continue;
        };
        let at = names
            .iter()
            .position(|n| n == home)
            .ok_or_else(|| Error::BadValue {
                table: "zh_copies".into(),
                row: i,
                column: "home_title".into(),
                reason: "not a PRDECT-ID product name".into(),
            })?;
        queries.push(zh.to_string());
        truth.push(at);
    }
    let model = TfIdf::fit(&names, normalizer.clone(), 3);
    let docs = model.analyze_all(&names);
    let qs = model.analyze_all(&queries);
    let pairs = CandidateIndex::build(&model, &docs).search(&qs, 5);
    let (mut at1, mut at5) = (0, 0);
    for (q, &t) in truth.iter().enumerate() {
        let mine: Vec<usize> = pairs
            .iter()
            .filter(|p| p.query == q)
            .map(|p| p.target)
            .collect();
        at1 += usize::from(mine.first() == Some(&t));
        at5 += usize::from(mine.contains(&t));
    }
    let n = truth.len().max(1) as f64;
    Ok((truth.len(), at1 as f64 / n, at5 as f64 / n))
}
