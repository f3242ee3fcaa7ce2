//! Match labelled record pairs (DeepMatcher layout) and score the test split.
//!
//! ```text
//! cargo run --release --example match_pairs -- --train T --valid V --test X \
//!     [--unsupervised] [--predictions F] [--model F]
//! ```
//!
//! Supervised (default): a logistic model is fitted on the training pairs, calibrated and its
//! threshold chosen on the validation pairs, and the test pairs are scored. With
//! `--unsupervised` no label is read except to score the test split at the end: the mixture
//! model is fitted by EM on the features of every given pair (train, valid and test, labels
//! ignored) and decides at its own threshold; `--train` and `--valid` are then optional.
//! `--predictions` writes the test pairs with probability, decision, label and explanation;
//! `--model` saves the fitted model as JSON. The last line printed is
//! `precision=P recall=R f1=F`. Bad input exits with status 2 and a one-line reason.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crossleak::matcher::{LogisticModel, LogisticParams, MatchModel, MixtureModel, MixtureParams};
use crossleak::pairs::{grouped_order, read_pairs, score_decisions, LabeledPairs, RecordAnalyzer};
use crossleak::PairFeatures;

struct Args {
    train: Option<PathBuf>,
    valid: Option<PathBuf>,
    test: PathBuf,
    unsupervised: bool,
    predictions: Option<PathBuf>,
    model: Option<PathBuf>,
}

const USAGE: &str = "--train T --valid V --test X [--unsupervised] [--predictions F] [--model F]";

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut train, mut valid, mut test, mut predictions, mut model) =
        (None, None, None, None, None);
    let mut unsupervised = false;
    while let Some(flag) = it.next() {
        if flag == "--unsupervised" {
            unsupervised = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let path = Some(PathBuf::from(value));
        match flag.as_str() {
            "--train" => train = path,
            "--valid" => valid = path,
            "--test" => test = path,
            "--predictions" => predictions = path,
            "--model" => model = path,
            other => return Err(format!("unknown argument `{other}` (expected {USAGE})")),
        }
    }
    let test = test.ok_or(format!("missing --test (expected {USAGE})"))?;
    if !unsupervised && (train.is_none() || valid.is_none()) {
        return Err(format!(
            "supervised matching needs --train and --valid (or pass --unsupervised); expected {USAGE}"
        ));
    }
    Ok(Args {
        train,
        valid,
        test,
        unsupervised,
        predictions,
        model,
    })
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("match_pairs: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("match_pairs: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> crossleak::Result<()> {
    let started = Instant::now();
    let test = read_pairs(&args.test)?;
    let train = args.train.as_deref().map(read_pairs).transpose()?;
    let valid = args.valid.as_deref().map(read_pairs).transpose()?;
    let splits: Vec<&LabeledPairs> = [train.as_ref(), valid.as_ref(), Some(&test)]
        .into_iter()
        .flatten()
        .collect();
    for s in &splits {
        let positives = s.labels.iter().filter(|&&l| l).count();
        println!(
            "{}: {} pairs, {} matches, {} unparsed prices",
            s.path.display(),
            s.len(),
            positives,
            s.unparsed_prices
        );
    }
    let r = &test.roles;
    println!(
        "roles: title={} brand={} price={} category={} unused=[{}]",
        r.title,
        r.brand.as_deref().unwrap_or("-"),
        r.price.as_deref().unwrap_or("-"),
        r.category.as_deref().unwrap_or("-"),
        r.unused.join(", ")
    );
    // The TF-IDF weights come from every title given (no labels involved).
    let analyzer = RecordAnalyzer::fit(splits.iter().flat_map(|s| s.titles()), 3);
    let test_f = analyzer.features(&test);
    let fit_started = Instant::now();
    let mut test_rows: Vec<usize> = (0..test.len()).collect();
    let mut grouped_test: Option<(PairFeatures, Vec<usize>)> = None;
    let model = if args.unsupervised {
        // Every given pair, labels ignored; each left record matches at most one right record
        // (a catalog without duplicates), so pairs are grouped by left record.
        let feats: Vec<PairFeatures> = splits.iter().map(|s| analyzer.features(s)).collect();
        let all = PairFeatures::concat(&feats.iter().collect::<Vec<_>>());
        let keys: Vec<&str> = splits
            .iter()
            .flat_map(|s| s.left.iter().map(|r| r.title.as_str()))
            .collect();
        let score: Vec<f64> = all.x.rows().into_iter().map(|r| r[0] + r[1]).collect();
        let (order, groups) = grouped_order(&keys, &score);
        let sorted = all.select(&order);
        let m = MixtureModel::fit(&sorted.x, &groups, &MixtureParams::default())?;
        println!(
            "unsupervised mixture: {} pairs in {} left-record groups, prior {:.3}, {} EM iterations",
            sorted.len(),
            groups.last().map_or(0, |g| g + 1),
            m.prior,
            m.iterations
        );
        // Test pairs sit at the end of `all`; keep their positions in the grouped order.
        let offset = all.len() - test.len();
        test_rows = vec![0; test.len()];
        for (pos, &i) in order.iter().enumerate() {
            if i >= offset {
                test_rows[i - offset] = pos;
            }
        }
        grouped_test = Some((sorted, groups));
        MatchModel::Mixture(m)
    } else {
        let (train, valid) = (train.as_ref(), valid.as_ref());
        let (train, valid) = (train.expect("checked"), valid.expect("checked"));
        let (m, summary) = LogisticModel::train(
            &analyzer.features(train),
            &train.labels,
            &analyzer.features(valid),
            &valid.labels,
            &LogisticParams::default(),
        )?;
        let tried: Vec<String> = summary
            .validation_f1
            .iter()
            .map(|(a, f)| format!("alpha {a}: {:.3}", f))
            .collect();
        println!(
            "logistic: validation F1 {}; chosen alpha {}, {} token terms, threshold {:.3}",
            tried.join(", "),
            summary.alpha,
            summary.token_terms,
            m.threshold
        );
        MatchModel::Logistic(m)
    };
    let fit_secs = fit_started.elapsed().as_secs_f64();
    let predict_started = Instant::now();
    let prob: Vec<f64> = match &grouped_test {
        Some((sorted, groups)) => {
            let p = model.predict_grouped(sorted, groups);
            test_rows.iter().map(|&pos| p[pos]).collect()
        }
        None => model.predict(&test_f),
    };
    let predict_secs = predict_started.elapsed().as_secs_f64();
    let decided: Vec<bool> = prob.iter().map(|&p| p >= model.threshold()).collect();
    let s = score_decisions(&decided, &test.labels);
    println!(
        "test: {} pairs, tp {} fp {} fn {}; fit {:.2} s, prediction {:.3} s, total {:.2} s",
        test.len(),
        s.tp,
        s.fp,
        s.fn_,
        fit_secs,
        predict_secs,
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.predictions {
        let mut out = String::from("row,probability,predicted,label,explanation\n");
        for (i, p) in prob.iter().enumerate() {
            out.push_str(&format!(
                "{},{:.6},{},{},\"{}\"\n",
                i + 1,
                p,
                u8::from(decided[i]),
                u8::from(test.labels[i]),
                model.explain(&test_f, i, 4).replace('"', "\"\"")
            ));
        }
        std::fs::write(path, out).map_err(|e| crossleak::Error::io(path, e))?;
    }
    if let Some(path) = &args.model {
        std::fs::write(path, model.to_json()?).map_err(|e| crossleak::Error::io(path, e))?;
    }
    println!(
        "precision={:.4} recall={:.4} f1={:.4}",
        s.precision, s.recall, s.f1
    );
    Ok(())
}
