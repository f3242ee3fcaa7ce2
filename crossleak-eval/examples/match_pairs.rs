//! Match labelled record pairs (DeepMatcher layout) and score the test split.
//!
//! ```text
//! cargo run --release -p crossleak-eval --example match_pairs -- --train T --valid V --test X \
//!     [--unsupervised] [--predictions F] [--model F]
//! ```
//!
//! Supervised (default): a logistic model is fitted on the training pairs, calibrated and its
//! threshold chosen on the validation pairs, and the test pairs are scored. With
//! `--unsupervised` no label is read except to score the test split at the end: the mixture
//! model is fitted by EM on the features of every given pair (train, valid and test, labels
//! ignored) and decides at its own threshold; `--train` and `--valid` are then optional.
//! `--predictions` writes the test pairs with probability, decision, label and explanation;
//! `--model` saves the fitted model as JSON; `--logistic` sets options of the supervised fit as
//! a JSON object of `LogisticParams` fields (e.g. `{"min_token_pairs": 0}`). When training pairs are given, the line before
//! the last scores the plain baseline on the same test pairs (`crossleak_eval::baseline`: logistic
//! regression on six title similarities). The last line printed is
//! `precision=P recall=R f1=F`. Bad input exits with status 2 and a one-line reason.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crossleak::matching::matcher::{LogisticParams, MatchModel, MixtureParams};
use crossleak_eval::baseline::match_baseline;
use crossleak_eval::pairs::{match_supervised, match_unsupervised, read_pairs, LabeledPairs};

struct Args {
    train: Option<PathBuf>,
    valid: Option<PathBuf>,
    test: PathBuf,
    unsupervised: bool,
    predictions: Option<PathBuf>,
    model: Option<PathBuf>,
    logistic: LogisticParams,
}

const USAGE: &str =
    "--train T --valid V --test X [--unsupervised] [--predictions F] [--model F] [--logistic JSON]";

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut train, mut valid, mut test, mut predictions, mut model) =
        (None, None, None, None, None);
    let mut unsupervised = false;
    let mut logistic = LogisticParams::default();
    while let Some(flag) = it.next() {
        if flag == "--unsupervised" {
            unsupervised = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        if flag == "--logistic" {
            logistic = serde_json::from_str(&value).map_err(|e| format!("--logistic: {e}"))?;
            continue;
        }
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
        logistic,
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
        "roles: title={} brand={} price={} category={} model={} other=[{}]",
        r.title,
        r.brand.as_deref().unwrap_or("-"),
        r.price.as_deref().unwrap_or("-"),
        r.category.as_deref().unwrap_or("-"),
        r.model.as_deref().unwrap_or("-"),
        r.other.join(", ")
    );
    let fit_started = Instant::now();
    let run = if args.unsupervised {
        let others: Vec<&LabeledPairs> = [train.as_ref(), valid.as_ref()]
            .into_iter()
            .flatten()
            .collect();
        let run = match_unsupervised(&others, &test, &MixtureParams::default())?;
        if let MatchModel::Mixture(m) = &run.model {
            println!(
                "unsupervised mixture: fitted on {} pairs grouped by left record, prior {:.3}, {} EM iterations",
                splits.iter().map(|s| s.len()).sum::<usize>(),
                m.prior,
                m.iterations
            );
        }
        run
    } else {
        let (train, valid) = (train.as_ref(), valid.as_ref());
        let (train, valid) = (train.expect("checked"), valid.expect("checked"));
        let run = match_supervised(train, valid, &test, &args.logistic)?;
        if let Some(summary) = &run.fit {
            let tried: Vec<String> = summary
                .validation_f1
                .iter()
                .zip(&summary.validation_log_loss)
                .map(|((a, f), (_, l))| format!("alpha {a}: {f:.3} (log-loss {l:.4})"))
                .collect();
            println!(
                "logistic: cross-validated F1 {}; chosen alpha {}, {} token terms, threshold {:.3}",
                tried.join(", "),
                summary.alpha,
                summary.token_terms,
                run.model.threshold()
            );
        }
        run
    };
    let s = run.scores;
    println!(
        "test: {} pairs, tp {} fp {} fn {}; features, fit and prediction {:.2} s, total {:.2} s",
        test.len(),
        s.tp,
        s.fp,
        s.fn_,
        fit_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let (model, prob, decided, test_f) = (
        &run.model,
        &run.probabilities,
        &run.decisions,
        &run.features,
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
                model.explain(test_f, i, 4).replace('"', "\"\"")
            ));
        }
        std::fs::write(path, out).map_err(|e| crossleak::Error::io(path, e))?;
    }
    if let Some(path) = &args.model {
        std::fs::write(path, model.to_json()?).map_err(|e| crossleak::Error::io(path, e))?;
    }
    // The yardstick: logistic regression on six plain title similarities, same splits.
    if let Some(train) = &train {
        let others: Vec<&LabeledPairs> = valid.iter().collect();
        let b = match_baseline(train, &others, &test)?;
        println!(
            "baseline (six plain features): precision={:.4} recall={:.4} f1={:.4}",
            b.precision, b.recall, b.f1
        );
    }
    println!(
        "precision={:.4} recall={:.4} f1={:.4}",
        s.precision, s.recall, s.f1
    );
    Ok(())
}
