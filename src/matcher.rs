//! Match probability of candidate pairs, with per-feature explanations.
//!
//! Two models share one interface ([`MatchModel`]):
//! - [`MixtureModel`], the unsupervised default: a two-class naive Bayes mixture fitted by EM on
//!   the candidate pairs themselves (the Fellegi-Sunter approach to record linkage, with
//!   Gaussian densities on logit similarities and Bernoulli or categorical densities on
//!   agreement features). It needs no labels at all; the match class is the one whose
//!   similarities are higher.
//! - [`LogisticModel`], a `linfa-logistic` regression fitted on labelled pairs.
//!
//! Both explain a pair as each feature's contribution to the log-odds of a match.

use ndarray::{Array1, Array2, ArrayView1, Axis};
use serde::{Deserialize, Serialize};

use crate::features::{feature_index, FEATURE_NAMES, N_FEATURES};
use crate::{Error, Result};

/// A fitted match model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MatchModel {
    /// Unsupervised mixture model.
    Mixture(MixtureModel),
    /// Supervised logistic regression.
    Logistic(LogisticModel),
}

impl MatchModel {
    /// Log-odds contributions of each feature for one pair, named; the log-odds of a match is
    /// their sum plus [`MatchModel::prior_log_odds`].
    pub fn contributions(&self, row: ArrayView1<'_, f64>) -> [f64; N_FEATURES] {
        match self {
            MatchModel::Mixture(m) => m.contributions(row),
            MatchModel::Logistic(m) => m.contributions(row),
        }
    }

    /// Log-odds of a match before looking at any feature.
    pub fn prior_log_odds(&self) -> f64 {
        match self {
            MatchModel::Mixture(m) => (m.prior / (1.0 - m.prior)).ln(),
            MatchModel::Logistic(m) => m.intercept,
        }
    }

    /// Match probability of one feature row.
    pub fn predict_row(&self, row: ArrayView1<'_, f64>) -> f64 {
        sigmoid(self.prior_log_odds() + self.contributions(row).iter().sum::<f64>())
    }

    /// Match probability of every row.
    pub fn predict(&self, x: &Array2<f64>) -> Array1<f64> {
        x.axis_iter(Axis(0))
            .map(|row| self.predict_row(row))
            .collect()
    }

    /// The decision threshold on the probability.
    pub fn threshold(&self) -> f64 {
        match self {
            MatchModel::Mixture(_) => 0.5,
            MatchModel::Logistic(m) => m.threshold,
        }
    }

    /// A short explanation: the features that moved the log-odds most, strongest first.
    pub fn explain(&self, row: ArrayView1<'_, f64>, top: usize) -> String {
        let c = self.contributions(row);
        let mut order: Vec<usize> = (0..N_FEATURES).filter(|&i| c[i].abs() > 0.05).collect();
        order.sort_by(|&a, &b| c[b].abs().total_cmp(&c[a].abs()).then(a.cmp(&b)));
        order
            .iter()
            .take(top)
            .map(|&i| format!("{}={:.2} ({:+.1})", FEATURE_NAMES[i], row[i], c[i]))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Saves the model as JSON.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Loads a model saved by [`MatchModel::to_json`].
    pub fn from_json(s: &str) -> Result<MatchModel> {
        Ok(serde_json::from_str(s)?)
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

const EPS: f64 = 0.01;

fn logit(x: f64) -> f64 {
    let x = x.clamp(EPS, 1.0 - EPS);
    (x / (1.0 - x)).ln()
}

/// How a feature enters the mixture model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Density {
    /// Gaussian on the logit of the similarity.
    LogitGaussian,
    /// Bernoulli on agreement (value > 0.5).
    Bernoulli,
    /// Three levels: none (0), partial, full (1).
    ThreeLevel,
}

/// One modelled feature: column, density and the column telling whether it is present.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixtureFeature {
    /// Feature column.
    pub column: usize,
    /// Presence column (`None` = always present).
    pub present: Option<usize>,
    /// Density family.
    pub density: Density,
    /// Parameters for the match class: (mean, variance) or level probabilities.
    pub matched: Vec<f64>,
    /// Parameters for the non-match class.
    pub unmatched: Vec<f64>,
}

/// Unsupervised two-class mixture (naive Bayes) fitted by EM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixtureModel {
    /// Share of candidate pairs that are matches.
    pub prior: f64,
    /// Modelled features.
    pub features: Vec<MixtureFeature>,
    /// EM iterations run.
    pub iterations: usize,
}

/// Options of the EM fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixtureParams {
    /// Maximum EM iterations (default 200).
    pub max_iterations: usize,
    /// Stop when the mean log-likelihood gains less than this (default 1e-7).
    pub tolerance: f64,
}

impl Default for MixtureParams {
    fn default() -> Self {
        MixtureParams {
            max_iterations: 200,
            tolerance: 1e-7,
        }
    }
}

fn col(name: &str) -> usize {
    feature_index(name).unwrap_or(0)
}

impl MixtureModel {
    /// Fits the mixture on unlabelled candidate pairs by EM.
    pub fn fit(x: &Array2<f64>, params: &MixtureParams) -> Result<MixtureModel> {
        if x.nrows() < 4 {
            return Err(Error::Model(format!(
                "an unsupervised match model needs at least 4 candidate pairs, got {}",
                x.nrows()
            )));
        }
        let spec: [(&str, Option<&str>, Density); 7] = [
            ("word_cosine", None, Density::LogitGaussian),
            ("char_cosine", None, Density::LogitGaussian),
            ("token_jaccard", None, Density::LogitGaussian),
            ("number_agreement", Some("has_numbers"), Density::ThreeLevel),
            ("brand_agreement", Some("has_brand"), Density::Bernoulli),
            (
                "price_similarity",
                Some("has_price"),
                Density::LogitGaussian,
            ),
            (
                "image_similarity",
                Some("has_image"),
                Density::LogitGaussian,
            ),
        ];
        let mut model = MixtureModel {
            prior: 0.5,
            features: spec
                .iter()
                .map(|&(c, p, density)| MixtureFeature {
                    column: col(c),
                    present: p.map(col),
                    density,
                    matched: Vec::new(),
                    unmatched: Vec::new(),
                })
                .collect(),
            iterations: 0,
        };
        // Start from a two-means split of the mean title similarity.
        let score: Vec<f64> = x
            .axis_iter(Axis(0))
            .map(|r| (r[col("word_cosine")] + r[col("char_cosine")]) / 2.0)
            .collect();
        let mut resp = two_means(&score);
        let mut last = f64::NEG_INFINITY;
        for it in 0..params.max_iterations {
            model.m_step(x, &resp);
            let (new_resp, ll) = model.e_step(x);
            resp = new_resp;
            model.iterations = it + 1;
            if (ll - last).abs() < params.tolerance {
                break;
            }
            last = ll;
        }
        model.m_step(x, &resp);
        // The match class is the one with the higher character similarity.
        let c = &model.features[1];
        if c.matched[0] < c.unmatched[0] {
            model.prior = 1.0 - model.prior;
            for f in &mut model.features {
                std::mem::swap(&mut f.matched, &mut f.unmatched);
            }
        }
        Ok(model)
    }

    fn m_step(&mut self, x: &Array2<f64>, resp: &[f64]) {
        let n = resp.len() as f64;
        let total: f64 = resp.iter().sum();
        self.prior = ((total + 1.0) / (n + 2.0)).clamp(1e-6, 1.0 - 1e-6);
        for f in &mut self.features {
            let mut stats = [Stats::new(f.density), Stats::new(f.density)];
            for (row, &r) in x.axis_iter(Axis(0)).zip(resp) {
                if f.present.is_some_and(|p| row[p] < 0.5) {
                    continue;
                }
                let v = row[f.column];
                stats[0].add(v, r);
                stats[1].add(v, 1.0 - r);
            }
            f.matched = stats[0].params();
            f.unmatched = stats[1].params();
        }
    }

    fn e_step(&self, x: &Array2<f64>) -> (Vec<f64>, f64) {
        let mut ll = 0.0;
        let lp = self.prior.ln();
        let lq = (1.0 - self.prior).ln();
        let resp = x
            .axis_iter(Axis(0))
            .map(|row| {
                let (mut a, mut b) = (lp, lq);
                for f in &self.features {
                    if f.present.is_some_and(|p| row[p] < 0.5) {
                        continue;
                    }
                    a += log_density(f.density, &f.matched, row[f.column]);
                    b += log_density(f.density, &f.unmatched, row[f.column]);
                }
                let m = a.max(b);
                ll += m + ((a - m).exp() + (b - m).exp()).ln();
                sigmoid(a - b)
            })
            .collect();
        (resp, ll / x.nrows().max(1) as f64)
    }

    fn contributions(&self, row: ArrayView1<'_, f64>) -> [f64; N_FEATURES] {
        let mut c = [0.0; N_FEATURES];
        for f in &self.features {
            if f.present.is_some_and(|p| row[p] < 0.5) {
                continue;
            }
            c[f.column] += log_density(f.density, &f.matched, row[f.column])
                - log_density(f.density, &f.unmatched, row[f.column]);
        }
        c
    }
}

/// Responsibilities from a 1-D two-means split (centres start at the extremes).
fn two_means(score: &[f64]) -> Vec<f64> {
    let (mut lo, mut hi) = score
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &s| (a.min(s), b.max(s)));
    for _ in 0..100 {
        let cut = (lo + hi) / 2.0;
        let (mut sl, mut nl, mut sh, mut nh) = (0.0, 0.0, 0.0, 0.0);
        for &s in score {
            if s > cut {
                sh += s;
                nh += 1.0;
            } else {
                sl += s;
                nl += 1.0;
            }
        }
        let (nlo, nhi) = (
            if nl > 0.0 { sl / nl } else { lo },
            if nh > 0.0 { sh / nh } else { hi },
        );
        if (nlo - lo).abs() < 1e-12 && (nhi - hi).abs() < 1e-12 {
            break;
        }
        (lo, hi) = (nlo, nhi);
    }
    let cut = (lo + hi) / 2.0;
    score
        .iter()
        .map(|&s| if s > cut { 0.9 } else { 0.1 })
        .collect()
}

fn level(v: f64) -> usize {
    if v <= 1e-9 {
        0
    } else if v >= 1.0 - 1e-9 {
        2
    } else {
        1
    }
}

fn log_density(d: Density, p: &[f64], v: f64) -> f64 {
    match d {
        Density::LogitGaussian => {
            let (mean, var) = (p[0], p[1]);
            let z = logit(v) - mean;
            -0.5 * (z * z / var + (2.0 * std::f64::consts::PI * var).ln())
        }
        Density::Bernoulli => {
            if v > 0.5 {
                p[0].ln()
            } else {
                (1.0 - p[0]).ln()
            }
        }
        Density::ThreeLevel => p[level(v)].ln(),
    }
}

/// Weighted sufficient statistics of one feature in one class.
struct Stats {
    density: Density,
    w: f64,
    sum: f64,
    sq: f64,
    levels: [f64; 3],
}

impl Stats {
    fn new(density: Density) -> Stats {
        Stats {
            density,
            w: 0.0,
            sum: 0.0,
            sq: 0.0,
            levels: [0.0; 3],
        }
    }

    fn add(&mut self, v: f64, w: f64) {
        self.w += w;
        match self.density {
            Density::LogitGaussian => {
                let t = logit(v);
                self.sum += w * t;
                self.sq += w * t * t;
            }
            Density::Bernoulli => self.sum += w * f64::from(u8::from(v > 0.5)),
            Density::ThreeLevel => self.levels[level(v)] += w,
        }
    }

    /// Parameters with light smoothing so an unseen value never has probability zero.
    fn params(&self) -> Vec<f64> {
        match self.density {
            Density::LogitGaussian => {
                if self.w < 1e-9 {
                    return vec![0.0, 4.0];
                }
                let mean = self.sum / self.w;
                let var = (self.sq / self.w - mean * mean).max(0.01);
                vec![mean, var]
            }
            Density::Bernoulli => vec![((self.sum + 0.5) / (self.w + 1.0)).clamp(1e-4, 1.0 - 1e-4)],
            Density::ThreeLevel => self
                .levels
                .iter()
                .map(|l| ((l + 0.5) / (self.w + 1.5)).max(1e-4))
                .collect(),
        }
    }
}

/// Logistic regression on the pair features, fitted with `linfa-logistic`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    /// Weight of each feature (log-odds per unit).
    pub weights: Vec<f64>,
    /// Intercept (log-odds).
    pub intercept: f64,
    /// Decision threshold on the probability.
    pub threshold: f64,
}

impl LogisticModel {
    /// Fits on labelled pairs with L2 penalty `alpha`; the threshold is 0.5 until
    /// [`LogisticModel::tune_threshold`] picks one on validation pairs.
    pub fn fit(x: &Array2<f64>, labels: &[bool], alpha: f64) -> Result<LogisticModel> {
        use linfa::prelude::Fit;
        if labels.len() != x.nrows() {
            return Err(Error::Model(format!(
                "{} labels for {} rows",
                labels.len(),
                x.nrows()
            )));
        }
        let y = Array1::from(labels.to_vec());
        let data = linfa::Dataset::new(x.clone(), y);
        let fitted = linfa_logistic::LogisticRegression::default()
            .alpha(alpha)
            .max_iterations(500)
            .fit(&data)?;
        // linfa labels the larger class positive: orient the weights towards "match".
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        Ok(LogisticModel {
            weights: fitted.params().iter().map(|w| sign * w).collect(),
            intercept: sign * fitted.intercept(),
            threshold: 0.5,
        })
    }

    /// Picks the threshold that maximises F1 on labelled validation pairs.
    pub fn tune_threshold(&mut self, x: &Array2<f64>, labels: &[bool]) {
        let model = MatchModel::Logistic(self.clone());
        let p = model.predict(x);
        let mut order: Vec<usize> = (0..p.len()).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
        let positives = labels.iter().filter(|&&l| l).count() as f64;
        let (mut tp, mut best) = (0.0, (0.0, 0.5));
        for (k, &i) in order.iter().enumerate() {
            if labels[i] {
                tp += 1.0;
            }
            let f1 = 2.0 * tp / ((k + 1) as f64 + positives);
            if f1 > best.0 {
                let next = order.get(k + 1).map_or(0.0, |&j| p[j]);
                best = (f1, (p[i] + next) / 2.0);
            }
        }
        self.threshold = best.1;
    }

    fn contributions(&self, row: ArrayView1<'_, f64>) -> [f64; N_FEATURES] {
        let mut c = [0.0; N_FEATURES];
        for (i, w) in self.weights.iter().enumerate().take(N_FEATURES) {
            c[i] = w * row[i];
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Rows of features where matches have high similarities and agreeing numbers.
    fn sample(n: usize, seed: u64) -> (Array2<f64>, Vec<bool>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut x = Array2::zeros((n, N_FEATURES));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let m = rng.gen_bool(0.2);
            let base: f64 = if m {
                rng.gen_range(0.6..0.95)
            } else {
                rng.gen_range(0.05..0.45)
            };
            for c in ["word_cosine", "char_cosine", "token_jaccard"] {
                x[[i, col(c)]] = (base + rng.gen_range(-0.05..0.05)).clamp(0.0, 1.0);
            }
            x[[i, col("has_numbers")]] = 1.0;
            x[[i, col("number_agreement")]] = if m || rng.gen_bool(0.1) { 1.0 } else { 0.0 };
            y.push(m);
        }
        (x, y)
    }

    fn accuracy(model: &MatchModel, x: &Array2<f64>, y: &[bool]) -> f64 {
        let p = model.predict(x);
        let t = model.threshold();
        p.iter().zip(y).filter(|(p, y)| (**p >= t) == **y).count() as f64 / y.len() as f64
    }

    #[test]
    fn mixture_separates_matches_without_labels() {
        let (x, y) = sample(2000, 1);
        let model = MatchModel::Mixture(MixtureModel::fit(&x, &MixtureParams::default()).unwrap());
        assert!(accuracy(&model, &x, &y) > 0.97);
        let back = MatchModel::from_json(&model.to_json().unwrap()).unwrap();
        assert_eq!(back, model);
    }

    #[test]
    fn logistic_learns_and_explains() {
        let (x, y) = sample(1500, 2);
        let (vx, vy) = sample(500, 3);
        let mut m = LogisticModel::fit(&x, &y, 1e-3).unwrap();
        m.tune_threshold(&vx, &vy);
        let model = MatchModel::Logistic(m);
        assert!(accuracy(&model, &vx, &vy) > 0.97);
        let explanation = model.explain(vx.row(0), 3);
        assert!(!explanation.is_empty());
    }

    #[test]
    fn too_few_pairs_is_an_error() {
        let x = Array2::zeros((2, N_FEATURES));
        assert!(MixtureModel::fit(&x, &MixtureParams::default()).is_err());
    }
}
