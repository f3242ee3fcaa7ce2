//! Match probability of candidate pairs, with per-feature explanations.
//!
//! Two models share one interface ([`MatchModel`]):
//! - [`MixtureModel`], the unsupervised default: a two-class naive Bayes mixture fitted by EM on
//!   the candidate pairs themselves (the Fellegi-Sunter approach to record linkage, with
//!   Gaussian densities on logit similarities and Bernoulli or categorical densities on
//!   agreement features). Candidates are grouped by foreign listing and a listing copies at
//!   most one home product, so each group holds either no match or exactly one (the
//!   many-to-one constraint of record linkage EM; Jaro, JASA 84, 1989): EM then learns what a
//!   copy looks like against its listing's near misses, not just "similar vs dissimilar". It
//!   needs no labels at all; the match class is the one whose similarities are higher.
//! - [`LogisticModel`], a `linfa-logistic` regression fitted on labelled pairs.
//!
//! Both explain a pair as each feature's contribution to the log-odds of a match.

use ndarray::{Array1, Array2, ArrayView1, ShapeBuilder};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::matching::features::{Feature, PairFeatures, FEATURE_NAMES, N_FEATURES};
use crate::matching::index::{query_runs, CandidatePair};
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
    /// Names of the terms [`MatchModel::contributions`] returns, in order: the feature columns,
    /// then (logistic model) `similar:<attribute>` and `has:<attribute>` for each further
    /// attribute it was fitted with ([`PairFeatures::attributes`]) and one `differs:<token>`
    /// term per token of its vocabulary.
    pub fn term_names(&self) -> Vec<String> {
        let n = match self {
            MatchModel::Logistic(m) => m.columns() + m.tokens.len(),
            MatchModel::Mixture(m) => m.columns(),
        };
        (0..n).map(|j| self.term_name(j)).collect()
    }

    /// Name of term `j` of [`MatchModel::term_names`].
    fn term_name(&self, j: usize) -> String {
        let attribute = |attributes: &[String]| {
            let a = &attributes[(j - N_FEATURES) / 2];
            if (j - N_FEATURES).is_multiple_of(2) {
                format!("similar:{a}")
            } else {
                format!("has:{a}")
            }
        };
        match (FEATURE_NAMES.get(j), self) {
            (Some(name), _) => (*name).to_string(),
            (None, MatchModel::Logistic(m)) if j < m.columns() => attribute(&m.attributes),
            (None, MatchModel::Logistic(m)) => format!("differs:{}", m.tokens[j - m.columns()]),
            (None, MatchModel::Mixture(m)) if j < m.columns() => attribute(&m.attributes),
            (None, MatchModel::Mixture(_)) => format!("term {j}"),
        }
    }

    /// Log-odds contributions of each term for pair `i` of `f`, in the order of
    /// [`MatchModel::term_names`]; the log-odds of a match is their sum plus
    /// [`MatchModel::prior_log_odds`].
    pub fn contributions(&self, f: &PairFeatures, i: usize) -> Vec<f64> {
        match self {
            MatchModel::Mixture(m) => m.contributions(f.x.row(i)),
            MatchModel::Logistic(m) => m.contributions(f, i),
        }
    }

    /// Log-odds of a match before looking at any feature.
    pub fn prior_log_odds(&self) -> f64 {
        match self {
            MatchModel::Mixture(m) => (m.prior / (1.0 - m.prior)).ln(),
            MatchModel::Logistic(m) => m.intercept,
        }
    }

    /// Match probability of pair `i`, scored alone.
    pub(crate) fn predict_row(&self, f: &PairFeatures, i: usize) -> f64 {
        sigmoid(self.prior_log_odds() + self.contributions(f, i).iter().sum::<f64>())
    }

    /// Match probability of every pair, pairs grouped by query (`groups[i]` is pair `i`'s
    /// query; pairs of one query are contiguous). The mixture model allows at most one match
    /// per group; the logistic model scores each pair alone. Groups are scored in parallel.
    pub fn predict_grouped(&self, f: &PairFeatures, groups: &[usize]) -> Vec<f64> {
        match self {
            MatchModel::Mixture(m) => {
                let bounds = group_bounds(groups);
                let tables = m.tables();
                let per: Vec<Vec<f64>> = bounds
                    .par_iter()
                    .map(|&(s, e)| m.group_posterior(&tables, &f.x, s, e).0)
                    .collect();
                per.into_iter().flatten().collect()
            }
            MatchModel::Logistic(_) => self.predict(f),
        }
    }

    /// Match probability of every pair, each scored alone, in parallel.
    pub fn predict(&self, f: &PairFeatures) -> Vec<f64> {
        (0..f.len())
            .into_par_iter()
            .map(|i| self.predict_row(f, i))
            .collect()
    }

    /// The decision threshold on the probability.
    pub fn threshold(&self) -> f64 {
        match self {
            MatchModel::Mixture(_) => 0.5,
            MatchModel::Logistic(m) => m.threshold,
        }
    }

    /// A short explanation of pair `i`: the terms that moved the log-odds most, strongest
    /// first, as `name=value (contribution)`.
    pub fn explain(&self, f: &PairFeatures, i: usize, top: usize) -> String {
        let c = self.contributions(f, i);
        let mut order: Vec<usize> = (0..c.len()).filter(|&j| c[j].abs() > 0.05).collect();
        order.sort_by(|&a, &b| c[b].abs().total_cmp(&c[a].abs()).then(a.cmp(&b)));
        order
            .iter()
            .take(top)
            .map(|&j| {
                let (columns, attributes) = match self {
                    MatchModel::Logistic(m) => (m.columns(), &m.attributes[..]),
                    MatchModel::Mixture(m) => (m.columns(), &m.attributes[..]),
                };
                if j < columns {
                    let v = f.value(i, j, attributes);
                    format!("{}={v:.2} ({:+.1})", self.term_name(j), c[j])
                } else {
                    format!("{} ({:+.1})", self.term_name(j), c[j])
                }
            })
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

/// For each query of `pairs` (grouped by query), the row of its most probable candidate when
/// the query is judged a match: when `pooled` (the model allows at most one match per query,
/// so its candidates' probabilities add up to the probability that the query matches one of
/// them), when that sum reaches `threshold`, so two near-identical candidates splitting the
/// probability do not hide the match; otherwise when the candidate's own probability does.
/// Ties: higher index similarity, then lower target index. Rows come out in query order.
pub fn best_per_query(
    pairs: &[CandidatePair],
    prob: &[f64],
    threshold: f64,
    pooled: bool,
) -> Vec<usize> {
    query_runs(pairs)
        .filter_map(|run| {
            let is_match = if pooled {
                prob[run.clone()].iter().sum::<f64>() >= threshold
            } else {
                prob[run.clone()].iter().any(|&p| p >= threshold)
            };
            run.filter(|_| is_match).max_by(|&a, &b| {
                prob[a]
                    .total_cmp(&prob[b])
                    .then(pairs[a].score.total_cmp(&pairs[b].score))
                    .then(pairs[b].target.cmp(&pairs[a].target))
            })
        })
        .collect()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

const EPS: f64 = 0.01;

/// Floor of a class variance on the logit scale (a standard deviation of 0.5). Similarities
/// are clamped to [0.01, 0.99], so identical titles pile up at one logit value; without a
/// floor of this order one class can collapse onto that spike and call every copy that is
/// not letter-for-letter identical a non-match.
const MIN_VARIANCE: f64 = 0.25;

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
    /// Levels cut at fixed points (the feature's `cuts`), each with its own probability: no
    /// shape is assumed, so a pile of identical titles at 1.0 is one level among others
    /// rather than a spike a Gaussian class collapses onto.
    Levels,
}

/// Most levels a [`Density::Levels`] feature may have (cut points + 1).
pub(crate) const MAX_LEVELS: usize = 8;

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
    /// Cut points of a [`Density::Levels`] feature, increasing: level `i` holds the values
    /// with `i` cut points at or below them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cuts: Vec<f64>,
}

impl MixtureFeature {
    fn read(&self, v: f64) -> f64 {
        read_value(self.density, &self.cuts, v)
    }
}

/// Unsupervised two-class mixture (naive Bayes) fitted by EM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixtureModel {
    /// Share of queries (foreign listings) that match one of their candidates.
    pub prior: f64,
    /// Share of queries whose match is their candidate of rank `r` (0 = most similar by the
    /// index); learned by EM with the rest, sums to `prior`.
    pub rank_prior: Vec<f64>,
    /// Modelled features.
    pub features: Vec<MixtureFeature>,
    /// Density of each candidate's lead over the other candidates of its query (see
    /// [`MixtureModel::leads`]); `None` in models saved without it.
    #[serde(default)]
    pub lead: Option<LeadDensity>,
    /// EM iterations run.
    pub iterations: usize,
    /// Names of the further attributes whose similarity columns the model reads
    /// ([`PairFeatures::attributes`], see [`MixtureModel::fit_pairs`]); empty for the
    /// detector's listings and products.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
}

/// Gaussian parameters (mean, variance) on the logit scale of a candidate's lead, per class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeadDensity {
    /// Match class.
    pub matched: Vec<f64>,
    /// Non-match class.
    pub unmatched: Vec<f64>,
    /// Cut points on the lead when it is modelled by levels; empty (models saved without it):
    /// Gaussian on the logit of the lead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cuts: Vec<f64>,
}

impl LeadDensity {
    fn density(&self) -> Density {
        if self.cuts.is_empty() {
            Density::LogitGaussian
        } else {
            Density::Levels
        }
    }

    fn read(&self, lead: f64) -> f64 {
        read_value(self.density(), &self.cuts, lead)
    }
}

/// The mean of the word and character cosines of pair `i`.
fn mean_cosine(x: &Array2<f64>, i: usize) -> f64 {
    0.5 * (x[[i, Feature::WordCosine.index()]] + x[[i, Feature::CharCosine.index()]])
}

/// The similarity the candidate index ranks by: [`mean_cosine`], rounded as the index stores it.
fn index_similarity(x: &Array2<f64>, i: usize) -> f64 {
    f64::from(mean_cosine(x, i) as f32)
}

/// Cut points of title similarities in [0, 1]: as in record-linkage comparison levels, a few
/// bands from "unrelated" to "the same but for case or punctuation" (0.97 and over).
const SIMILARITY_CUTS: [f64; 5] = [0.5, 0.7, 0.8, 0.9, 0.97];
/// Cut points of a further attribute's similarity (a Jaccard similarity of word and trigram
/// sets, [`crate::matching::features::attribute_similarity`]): spread over the whole range,
/// since two long texts about one product (descriptions) share well under half their words.
const ATTRIBUTE_CUTS: [f64; 6] = [0.1, 0.2, 0.35, 0.5, 0.7, 0.9];
/// Cut points of a count of tokens `n` read as `1 / (1 + n)`: 0, 1, 2, 3 or more.
const COUNT_CUTS: [f64; 3] = [0.3, 0.45, 0.99];
/// Cut points of a count read as `1 - 1 / (1 + n)`: 0, 1, 2, 3 or more.
const RISING_COUNT_CUTS: [f64; 3] = [0.01, 0.6, 0.7];
/// Cut points of the lead `(1 + d) / 2` for a difference `d` in mean cosine with the best
/// other candidate of 0.04, 0.1 and 0.2. Candidates behind the best other or barely ahead of it
/// share the lowest level whatever their rank: a cut at `d = 0` would tell the top candidate
/// from the rest exactly, and EM can then settle on "the top candidate always matches".
const LEAD_CUTS: [f64; 3] = [0.52, 0.55, 0.6];

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

impl MixtureModel {
    /// Fits the mixture on unlabelled candidate pairs by EM; `groups[i]` is the query of row
    /// `i` (rows of one query contiguous), and each query matches at most one of its rows.
    pub fn fit(x: &Array2<f64>, groups: &[usize], params: &MixtureParams) -> Result<MixtureModel> {
        MixtureModel::fit_labelled(x, groups, &[], params)
    }

    /// [`MixtureModel::fit`] on the pairs of `f`, its further attributes
    /// ([`PairFeatures::attributes`]) among the compared features: each attribute's
    /// similarity in levels (cut at 0.1, 0.2, 0.35, 0.5, 0.7 and 0.9), where both records have
    /// it.
    pub fn fit_pairs(
        f: &PairFeatures,
        groups: &[usize],
        params: &MixtureParams,
    ) -> Result<MixtureModel> {
        MixtureModel::fit_with(&f.x, groups, &[], params, &f.attributes)
    }

    /// [`MixtureModel::fit`] with some pairs labelled by an analyst: `labels[i]` is
    /// `Some(true)` when row `i`'s target is known to be its query's match, `Some(false)` when
    /// it is known not to be, `None` when unknown (`labels` empty: nothing known). EM holds the
    /// labelled rows at their labels (`condition_on_labels`), so a few dozen labels on the
    /// pairs the model is least sure of steer what each class learns, as labelled pairs do in
    /// Splink and dedupe; without labels the fit is the unsupervised one.
    pub fn fit_labelled(
        x: &Array2<f64>,
        groups: &[usize],
        labels: &[Option<bool>],
        params: &MixtureParams,
    ) -> Result<MixtureModel> {
        MixtureModel::fit_with(x, groups, labels, params, &[])
    }

    /// [`MixtureModel::fit_labelled`] reading the columns of `attributes` as well (the layout
    /// of [`PairFeatures::with_attributes`]).
    fn fit_with(
        x: &Array2<f64>,
        groups: &[usize],
        labels: &[Option<bool>],
        params: &MixtureParams,
        attributes: &[String],
    ) -> Result<MixtureModel> {
        if x.ncols() < N_FEATURES + 2 * attributes.len() {
            return Err(Error::Model(format!(
                "{} feature columns for {} further attributes",
                x.ncols(),
                attributes.len()
            )));
        }
        if !labels.is_empty() && labels.len() != x.nrows() {
            return Err(Error::Model(format!(
                "{} labels for {} candidate pairs",
                labels.len(),
                x.nrows()
            )));
        }
        if groups.len() != x.nrows() {
            return Err(Error::Model(format!(
                "{} group ids for {} candidate pairs",
                groups.len(),
                x.nrows()
            )));
        }
        if x.nrows() < 4 {
            return Err(Error::Model(format!(
                "an unsupervised match model needs at least 4 candidate pairs, got {}",
                x.nrows()
            )));
        }
        let spec: [(Feature, Option<Feature>, Density, &[f64]); 11] = [
            (Feature::CharCosine, None, Density::Levels, &SIMILARITY_CUTS),
            (
                Feature::RareTokenShare,
                None,
                Density::Levels,
                &SIMILARITY_CUTS,
            ),
            (Feature::CoverBetter, None, Density::Levels, &COUNT_CUTS),
            (Feature::CoverWorse, None, Density::Levels, &COUNT_CUTS),
            (
                Feature::SoleCover,
                None,
                Density::Levels,
                &RISING_COUNT_CUTS,
            ),
            (Feature::RivalCover, None, Density::Levels, &COUNT_CUTS),
            (
                Feature::CodeAgreement,
                Some(Feature::HasCodes),
                Density::ThreeLevel,
                &[],
            ),
            (
                Feature::NumberAgreement,
                Some(Feature::HasNumbers),
                Density::ThreeLevel,
                &[],
            ),
            (
                Feature::BrandAgreement,
                Some(Feature::HasBrand),
                Density::Bernoulli,
                &[],
            ),
            (
                Feature::PriceSimilarity,
                Some(Feature::HasPrice),
                Density::LogitGaussian,
                &[],
            ),
            (
                Feature::ImageSimilarity,
                Some(Feature::HasImage),
                Density::LogitGaussian,
                &[],
            ),
        ];
        // Further attributes (columns after the features, two each: similarity, presence) are
        // compared by levels of similarity when both records have them.
        let further = (0..attributes.len()).map(|a| N_FEATURES + 2 * a);
        let mut model = MixtureModel {
            prior: 0.5,
            rank_prior: Vec::new(),
            features: spec
                .iter()
                .map(|&(c, p, density, cuts)| (c.index(), p.map(Feature::index), density, cuts))
                .chain(further.map(|c| (c, Some(c + 1), Density::Levels, &ATTRIBUTE_CUTS[..])))
                .map(|(column, present, density, cuts)| MixtureFeature {
                    column,
                    present,
                    density,
                    matched: Vec::new(),
                    unmatched: Vec::new(),
                    cuts: cuts.to_vec(),
                })
                .collect(),
            lead: Some(LeadDensity {
                matched: Vec::new(),
                unmatched: Vec::new(),
                cuts: LEAD_CUTS.to_vec(),
            }),
            iterations: 0,
            attributes: attributes.to_vec(),
        };
        // Start from a two-means split of the mean title similarity.
        let score: Vec<f64> = (0..x.nrows()).map(|i| mean_cosine(x, i)).collect();
        let bounds = group_bounds(groups);
        let leads: Vec<f64> = bounds
            .iter()
            .flat_map(|&(s, e)| MixtureModel::leads(x, s, e))
            .collect();
        let prepared = Prepared::new(&model, x, &leads);
        let mut resp = two_means(&score);
        condition_bounds(&mut resp, &bounds, labels);
        // Two stages: first with the match equally likely at any rank (so the classes settle
        // on what a copy looks like), then with the rank prior learned too. Learning ranks from
        // the start can settle on "the top candidate always matches".
        for learn_ranks in [false, true] {
            let mut last = f64::NEG_INFINITY;
            for _ in 0..params.max_iterations {
                model.m_step(&prepared, &resp, &bounds, learn_ranks);
                let (new_resp, ll) = model.e_step(&prepared, &bounds);
                resp = new_resp;
                condition_bounds(&mut resp, &bounds, labels);
                model.iterations += 1;
                if (ll - last).abs() < params.tolerance {
                    break;
                }
                last = ll;
            }
        }
        model.m_step(&prepared, &resp, &bounds, true);
        // The match class is the one with the higher character similarity, unless labels say
        // which it is.
        let c = &model.features[0];
        let known = labels.contains(&Some(true));
        if !known && centre(c.density, &c.matched) < centre(c.density, &c.unmatched) {
            model.prior = 1.0 - model.prior;
            for f in &mut model.features {
                std::mem::swap(&mut f.matched, &mut f.unmatched);
            }
            if let Some(l) = &mut model.lead {
                std::mem::swap(&mut l.matched, &mut l.unmatched);
            }
        }
        Ok(model)
    }

    /// Each candidate's lead over the other candidates of its query (rows `s..e`), in mean
    /// word/character cosine and mapped to [0, 1]: `(1 + sim - best other sim) / 2`, where the
    /// best other is 0 for a lone candidate. A copy usually stands out from the runner-up even
    /// when heavy rewording keeps its own similarity modest; a listing that resembles several
    /// products alike (variants, generic titles) gives none of them a lead.
    pub fn leads(x: &Array2<f64>, s: usize, e: usize) -> Vec<f64> {
        let sim: Vec<f64> = (s..e).map(|i| mean_cosine(x, i)).collect();
        (0..sim.len())
            .map(|i| {
                let other = (0..sim.len())
                    .filter(|&j| j != i)
                    .map(|j| sim[j])
                    .fold(0.0, f64::max);
                0.5 * (1.0 + sim[i] - other)
            })
            .collect()
    }

    fn m_step(
        &mut self,
        prepared: &Prepared,
        resp: &[f64],
        bounds: &[(usize, usize)],
        learn_ranks: bool,
    ) {
        let ranks = bounds.iter().map(|&(s, e)| e - s).max().unwrap_or(1);
        let mut counts = vec![0.0; ranks];
        for &(s, e) in bounds {
            for (r, v) in resp[s..e].iter().enumerate() {
                counts[r] += v;
            }
        }
        // Add-half smoothing over the `ranks + 1` outcomes (no match, or rank r).
        let total = bounds.len() as f64 + 0.5 * (ranks + 1) as f64;
        self.rank_prior = counts.iter().map(|c| (c + 0.5) / total).collect();
        self.prior = self.rank_prior.iter().sum::<f64>().clamp(1e-6, 1.0 - 1e-6);
        if !learn_ranks {
            let share = self.prior / ranks as f64;
            self.rank_prior.iter_mut().for_each(|p| *p = share);
        }
        // Each density's statistics are summed in row order, one density per task.
        let densities: Vec<(Density, usize)> = self
            .features
            .iter()
            .map(|f| (f.density, f.cuts.len() + 1))
            .chain(self.lead.as_ref().map(|l| (l.density(), l.cuts.len() + 1)))
            .collect();
        let params: Vec<[Vec<f64>; 2]> = densities
            .par_iter()
            .enumerate()
            .map(|(j, &(density, levels))| {
                let mut stats = [Stats::new(density, levels), Stats::new(density, levels)];
                let absent = &prepared.absent[j];
                for (i, (&t, &r)) in prepared.value[j].iter().zip(resp).enumerate() {
                    if absent.get(i) == Some(&true) {
                        continue;
                    }
                    stats[0].add(t, r);
                    stats[1].add(t, 1.0 - r);
                }
                [stats[0].params(), stats[1].params()]
            })
            .collect();
        for (f, [m, u]) in self.features.iter_mut().zip(params.iter().cloned()) {
            f.matched = m;
            f.unmatched = u;
        }
        if let (Some(l), Some([m, u])) = (&mut self.lead, params.get(self.features.len())) {
            l.matched = m.clone();
            l.unmatched = u.clone();
        }
    }

    /// Responsibilities of every row and the mean log-likelihood; blocks of queries run in
    /// parallel and the likelihood is summed query by query in order, so the result does not
    /// depend on the number of threads.
    fn e_step(&self, prepared: &Prepared, bounds: &[(usize, usize)]) -> (Vec<f64>, f64) {
        let tables = self.tables();
        let lead = self.lead.as_ref().map(|_| self.features.len());
        let row = |i: usize| {
            let (mut m, mut u) = (0.0, 0.0);
            if let Some(j) = lead {
                let t = prepared.value[j][i];
                m += tables[j][0].at(t);
                u += tables[j][1].at(t);
            }
            for (j, table) in tables.iter().enumerate().take(self.features.len()) {
                if prepared.absent[j].get(i) == Some(&true) {
                    continue;
                }
                let t = prepared.value[j][i];
                m += table[0].at(t);
                u += table[1].at(t);
            }
            (m, u)
        };
        let blocks: Vec<(Vec<f64>, Vec<f64>)> = bounds
            .par_chunks(1024)
            .map(|block| {
                let (mut resp, mut ll) = (Vec::new(), Vec::with_capacity(block.len()));
                for &(s, e) in block {
                    let similarity = &prepared.similarity[s..e];
                    ll.push(self.posterior(similarity, (s..e).map(row), &mut resp));
                }
                (resp, ll)
            })
            .collect();
        let rows: usize = bounds.last().map_or(0, |b| b.1);
        let mut resp = Vec::with_capacity(rows);
        let mut ll = 0.0;
        for (r, l) in blocks {
            resp.extend(r);
            for v in l {
                ll += v;
            }
        }
        (resp, ll / rows.max(1) as f64)
    }

    /// Each modelled density's log densities for the match and non-match classes, logarithms
    /// taken once: the features in model order, then the lead.
    fn tables(&self) -> Vec<[LogDensity; 2]> {
        self.features
            .iter()
            .map(|f| (f.density, &f.matched, &f.unmatched))
            .chain(
                self.lead
                    .as_ref()
                    .map(|l| (l.density(), &l.matched, &l.unmatched)),
            )
            .map(|(d, m, u)| [LogDensity::new(d, m), LogDensity::new(d, u)])
            .collect()
    }

    /// Posterior match probability of rows `s..e` (one query's candidates) when at most one
    /// of them matches, and the group's log-likelihood; `tables` from [`MixtureModel::tables`].
    fn group_posterior(
        &self,
        tables: &[[LogDensity; 2]],
        x: &Array2<f64>,
        s: usize,
        e: usize,
    ) -> (Vec<f64>, f64) {
        let leads = self.lead.as_ref().map(|_| MixtureModel::leads(x, s, e));
        let similarity: Vec<f64> = (s..e).map(|i| index_similarity(x, i)).collect();
        let mut probabilities = Vec::with_capacity(e - s);
        let ll = self.posterior(
            &similarity,
            (s..e).map(|i| {
                let row = x.row(i);
                let (mut m, mut u) = (0.0, 0.0);
                if let (Some(l), Some(v)) = (&self.lead, &leads) {
                    let [tm, tu] = &tables[self.features.len()];
                    let t = l.read(v[i - s]);
                    m += tm.at(t);
                    u += tu.at(t);
                }
                for (f, [tm, tu]) in self.features.iter().zip(tables) {
                    if f.present.is_some_and(|p| row[p] < 0.5) {
                        continue;
                    }
                    let t = f.read(row[f.column]);
                    m += tm.at(t);
                    u += tu.at(t);
                }
                (m, u)
            }),
            &mut probabilities,
        );
        (probabilities, ll)
    }

    /// Posterior match probability of each of a query's candidates, given each one's index
    /// similarity and log-likelihood under the match and non-match classes (in rank order),
    /// when at most one of them matches, appended to `out`; returns the query's log-likelihood.
    ///
    /// Candidates the index scores alike share the prior of the ranks they hold: their order
    /// among themselves is the index's tie-break, which says nothing about which is the copy.
    fn posterior(
        &self,
        similarity: &[f64],
        likelihoods: impl Iterator<Item = (f64, f64)>,
        out: &mut Vec<f64>,
    ) -> f64 {
        let k = similarity.len();
        let none = (1.0 - self.prior).ln();
        let at_rank = |r: usize| {
            self.rank_prior
                .get(r)
                .copied()
                .unwrap_or(self.prior / k as f64)
        };
        let ties = (1..k).any(|i| similarity[..i].contains(&similarity[i]));
        let rank_prior = |r: usize| {
            if !ties {
                return at_rank(r).max(1e-12);
            }
            let tied = (0..k).filter(|&j| similarity[j] == similarity[r]);
            let (sum, n) = tied.fold((0.0, 0.0), |(s, n), j| (s + at_rank(j), n + 1.0));
            (sum / n).max(1e-12)
        };
        let mut base = 0.0;
        // Each candidate's log posterior odds, then (in place) its probability.
        let start = out.len();
        out.extend(likelihoods.enumerate().map(|(r, (m, u))| {
            base += u;
            rank_prior(r).ln() + m - u
        }));
        let a = &mut out[start..];
        let top = a.iter().copied().fold(none, f64::max);
        let lse = top + ((none - top).exp() + a.iter().map(|v| (v - top).exp()).sum::<f64>()).ln();
        for v in a.iter_mut() {
            *v = (*v - lse).exp();
        }
        base + lse
    }

    /// Number of columns the model reads: [`FEATURE_NAMES`] and two per further attribute.
    fn columns(&self) -> usize {
        N_FEATURES + 2 * self.attributes.len()
    }

    /// Each feature's log-likelihood ratio for one row. The lead is a property of the whole
    /// candidate list, so it is not among one row's contributions.
    fn contributions(&self, row: ArrayView1<'_, f64>) -> Vec<f64> {
        let mut c = vec![0.0; self.columns()];
        for f in &self.features {
            if f.present.is_some_and(|p| row[p] < 0.5) {
                continue;
            }
            let t = f.read(row[f.column]);
            c[f.column] += LogDensity::new(f.density, &f.matched).at(t)
                - LogDensity::new(f.density, &f.unmatched).at(t);
        }
        c
    }
}

/// A candidate pair put to the analyst: a listing and its most probable home product, where
/// the model is least sure whether the listing copies anything. Labelled and read back (see
/// [`crate::ingest::PairLabels`]), such pairs steer the fit ([`MixtureModel::fit_labelled`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewPair {
    /// Foreign listing.
    pub listing_id: String,
    /// Home product.
    pub product_id: String,
    /// The listing's title.
    pub listing_title: String,
    /// The product's title.
    pub product_title: String,
    /// Probability that the listing copies one of its candidates (the candidates' sum).
    pub probability: f64,
}

/// Match probabilities of grouped pairs (`groups` as in [`MatchModel::predict_grouped`])
/// conditioned on what an analyst labelled (`labels` as in [`MixtureModel::fit_labelled`];
/// empty: nothing). A query with a pair known to match has that pair at 1 and its other
/// candidates at 0; pairs known not to match go to 0 and the query's other candidates are
/// divided by what is left, `p / (1 - p_excluded)`, the posterior given that those candidates
/// are not the match.
pub(crate) fn condition_on_labels(prob: &mut [f64], groups: &[usize], labels: &[Option<bool>]) {
    condition_bounds(prob, &group_bounds(groups), labels);
}

fn condition_bounds(prob: &mut [f64], bounds: &[(usize, usize)], labels: &[Option<bool>]) {
    if labels.is_empty() {
        return;
    }
    for &(s, e) in bounds {
        let known = &labels[s..e];
        if known.iter().all(Option::is_none) {
            continue;
        }
        if let Some(k) = known.iter().position(|l| *l == Some(true)) {
            for (j, p) in prob[s..e].iter_mut().enumerate() {
                *p = f64::from(u8::from(j == k));
            }
            continue;
        }
        let excluded: f64 = (s..e)
            .filter(|&i| labels[i] == Some(false))
            .map(|i| prob[i])
            .sum();
        let left = (1.0 - excluded).max(1e-12);
        for i in s..e {
            prob[i] = if labels[i] == Some(false) {
                0.0
            } else {
                (prob[i] / left).min(1.0)
            };
        }
    }
}

/// `(start, end)` of each run of equal group ids.
fn group_bounds(groups: &[usize]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=groups.len() {
        if i == groups.len() || groups[i] != groups[start] {
            out.push((start, i));
            start = i;
        }
    }
    out
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

/// A feature value as its density reads it: the logit of a similarity, agreement as 0 or 1,
/// or the level (0, 1, 2 for three levels; the number of `cuts` at or below `v` for levels).
fn read_value(d: Density, cuts: &[f64], v: f64) -> f64 {
    match d {
        Density::LogitGaussian => logit(v),
        Density::Bernoulli => f64::from(u8::from(v > 0.5)),
        Density::ThreeLevel => level(v) as f64,
        Density::Levels => cuts.partition_point(|&c| c <= v).min(MAX_LEVELS - 1) as f64,
    }
}

/// Where a class's density of read values lies: the Gaussian's mean, the probability of
/// agreement, or the expected level.
fn centre(d: Density, p: &[f64]) -> f64 {
    match d {
        Density::LogitGaussian | Density::Bernoulli => p[0],
        Density::ThreeLevel | Density::Levels => {
            p.iter().enumerate().map(|(i, q)| i as f64 * q).sum()
        }
    }
}

/// One class's log density of read values, with its logarithms taken once.
enum LogDensity {
    Gaussian {
        mean: f64,
        var: f64,
        log_norm: f64,
    },
    /// Log probability of each level (agreement: 0 and 1).
    Levels([f64; MAX_LEVELS]),
}

impl LogDensity {
    fn new(d: Density, p: &[f64]) -> LogDensity {
        match d {
            Density::LogitGaussian => LogDensity::Gaussian {
                mean: p[0],
                var: p[1],
                log_norm: (2.0 * std::f64::consts::PI * p[1]).ln(),
            },
            Density::Bernoulli => {
                let mut l = [0.0; MAX_LEVELS];
                l[0] = (1.0 - p[0]).ln();
                l[1] = p[0].ln();
                LogDensity::Levels(l)
            }
            Density::ThreeLevel | Density::Levels => {
                let mut l = [0.0; MAX_LEVELS];
                for (l, q) in l.iter_mut().zip(p) {
                    *l = q.ln();
                }
                LogDensity::Levels(l)
            }
        }
    }

    fn at(&self, t: f64) -> f64 {
        match self {
            LogDensity::Gaussian {
                mean,
                var,
                log_norm,
            } => {
                let z = t - mean;
                -0.5 * (z * z / var + log_norm)
            }
            LogDensity::Levels(l) => l[t as usize],
        }
    }
}

/// The modelled features' read values (see [`read_value`]), computed once for the EM fit: per
/// feature in model order, then the lead, each row's value and whether the feature is absent
/// (empty when always present).
struct Prepared {
    value: Vec<Vec<f64>>,
    absent: Vec<Vec<bool>>,
    /// Each row's index similarity ([`index_similarity`]), which orders a query's candidates.
    similarity: Vec<f64>,
}

impl Prepared {
    fn new(model: &MixtureModel, x: &Array2<f64>, leads: &[f64]) -> Prepared {
        let (mut value, mut absent): (Vec<Vec<f64>>, Vec<Vec<bool>>) = model
            .features
            .par_iter()
            .map(|f| {
                let v = x.column(f.column).iter().map(|&v| f.read(v)).collect();
                let p = f
                    .present
                    .map(|p| x.column(p).iter().map(|&v| v < 0.5).collect())
                    .unwrap_or_default();
                (v, p)
            })
            .unzip();
        if let Some(lead) = &model.lead {
            value.push(leads.iter().map(|&l| lead.read(l)).collect());
            absent.push(Vec::new());
        }
        let similarity = (0..x.nrows()).map(|i| index_similarity(x, i)).collect();
        Prepared {
            value,
            absent,
            similarity,
        }
    }
}

/// Weighted sufficient statistics of one feature in one class.
struct Stats {
    density: Density,
    w: f64,
    sum: f64,
    sq: f64,
    levels: [f64; MAX_LEVELS],
    /// Number of levels (three-level and levels densities).
    n_levels: usize,
}

impl Stats {
    /// Statistics of a density; `levels` is the number of levels of a [`Density::Levels`].
    fn new(density: Density, levels: usize) -> Stats {
        Stats {
            density,
            w: 0.0,
            sum: 0.0,
            sq: 0.0,
            levels: [0.0; MAX_LEVELS],
            n_levels: match density {
                Density::ThreeLevel => 3,
                Density::Levels => levels.min(MAX_LEVELS),
                Density::LogitGaussian | Density::Bernoulli => 0,
            },
        }
    }

    /// Adds read value `t` (see [`read_value`]) with weight `w`.
    fn add(&mut self, t: f64, w: f64) {
        self.w += w;
        match self.density {
            Density::LogitGaussian => {
                self.sum += w * t;
                self.sq += w * t * t;
            }
            Density::Bernoulli => self.sum += w * t,
            Density::ThreeLevel | Density::Levels => self.levels[t as usize] += w,
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
                let var = (self.sq / self.w - mean * mean).max(MIN_VARIANCE);
                vec![mean, var]
            }
            Density::Bernoulli => vec![((self.sum + 0.5) / (self.w + 1.0)).clamp(1e-4, 1.0 - 1e-4)],
            Density::ThreeLevel | Density::Levels => {
                let n = self.n_levels as f64;
                self.levels[..self.n_levels]
                    .iter()
                    .map(|l| ((l + 0.5) / (self.w + 0.5 * n)).max(1e-4))
                    .collect()
            }
        }
    }
}

/// Options of the supervised fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticParams {
    /// L2 penalties tried; the one with the lowest cross-validated log-loss is kept (default
    /// 0.3, 1, 3).
    pub alphas: Vec<f64>,
    /// A differing token becomes a term when it differs in at least this many training pairs
    /// (default 3); 0 turns token terms off.
    pub min_token_pairs: usize,
    /// At most this many token terms, the most frequent first (default 2,000).
    pub max_tokens: usize,
    /// Iterations of the optimiser (default 100, as scikit-learn's L-BFGS solver).
    pub max_iterations: u64,
    /// Folds of the cross-validation over the training and validation pairs pooled (default
    /// 5, at least 2), on which the penalty, the calibration and the threshold are chosen.
    pub folds: usize,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            alphas: vec![0.3, 1.0, 3.0],
            min_token_pairs: 3,
            max_tokens: 2000,
            max_iterations: 100,
            folds: 5,
        }
    }
}

/// Logistic regression on the pair features and on the tokens that differ between the two
/// titles, fitted with `linfa-logistic`; probabilities calibrated on validation pairs (Platt,
/// "Probabilistic outputs for support vector machines", 1999) and the threshold chosen there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    /// Weight of each feature column (log-odds per unit): [`FEATURE_NAMES`], then the
    /// similarity and presence columns of each of `attributes`.
    pub weights: Vec<f64>,
    /// Further attributes the model was fitted with ([`PairFeatures::attributes`]); pairs
    /// without one of them have it absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
    /// Token vocabulary of the `differs:` terms.
    pub tokens: Vec<String>,
    /// Weight of each token term (log-odds when the token is in one title only).
    pub token_weights: Vec<f64>,
    /// Intercept (log-odds).
    pub intercept: f64,
    /// Decision threshold on the probability.
    pub threshold: f64,
    /// L2 penalty the model was fitted with.
    pub alpha: f64,
}

/// What a supervised fit tried and chose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitSummary {
    /// Out-of-fold F1 at the tuned threshold for each penalty tried, in order, as
    /// `(penalty, F1)`: each pair of the training and validation pool scored by the model
    /// fitted without its fold.
    pub validation_f1: Vec<(f64, f64)>,
    /// Out-of-fold mean log-loss of the calibrated probabilities for each penalty tried, in
    /// order, as `(penalty, log-loss)`: the penalty with the lowest is chosen.
    #[serde(default)]
    pub validation_log_loss: Vec<(f64, f64)>,
    /// The chosen penalty.
    pub alpha: f64,
    /// Token terms in the model.
    pub token_terms: usize,
}

impl LogisticModel {
    /// Fits the supervised model on the training and validation pairs pooled, by
    /// `params.folds`-fold cross-validation: pair `i` of the pool is in fold `i % folds`, and
    /// for each penalty of `params` a model is fitted on every fold's complement and scores
    /// the fold. Platt scaling is fitted on those out-of-fold log-odds and the F1-best
    /// threshold found on the calibrated out-of-fold probabilities. The penalty whose
    /// calibrated out-of-fold probabilities have the lowest log-loss is kept (a proper score of
    /// every pair; the F1 at a tuned threshold turns on the few pairs near the cut, and
    /// penalties a thousandth of F1 apart are a coin toss between them), and the final model is
    /// fitted on the whole pool with that penalty, calibration and threshold. Every labelled
    /// pair thus serves both fitting and choosing, nothing is chosen on a small split alone,
    /// and the result does not depend on the thread count.
    pub fn train(
        train: &PairFeatures,
        train_labels: &[bool],
        valid: &PairFeatures,
        valid_labels: &[bool],
        params: &LogisticParams,
    ) -> Result<(LogisticModel, FitSummary)> {
        if params.alphas.is_empty() {
            return Err(Error::Param {
                name: "logistic.alphas".into(),
                value: "[]".into(),
                expected: "at least one penalty > 0".into(),
            });
        }
        if params.folds < 2 {
            return Err(Error::Param {
                name: "logistic.folds".into(),
                value: params.folds.to_string(),
                expected: "at least 2".into(),
            });
        }
        check_labels(train, train_labels)?;
        check_labels(valid, valid_labels)?;
        let pool = PairFeatures::concat(&[train, valid]);
        let labels: Vec<bool> = train_labels.iter().chain(valid_labels).copied().collect();
        let k = params.folds.min(pool.len().max(2));
        // Out-of-fold log-odds for every (penalty, fold), fitted in parallel.
        let jobs: Vec<(f64, usize)> = params
            .alphas
            .iter()
            .flat_map(|&a| (0..k).map(move |fold| (a, fold)))
            .collect();
        let scored: Vec<Vec<(usize, f64)>> = jobs
            .par_iter()
            .map(|&(alpha, fold)| {
                let (held, kept): (Vec<usize>, Vec<usize>) =
                    (0..pool.len()).partition(|i| i % k == fold);
                let kept_labels: Vec<bool> = kept.iter().map(|&i| labels[i]).collect();
                let m = LogisticModel::fit(&pool.select(&kept), &kept_labels, alpha, params)?;
                let z = m.log_odds(&pool.select(&held));
                Ok(held.into_iter().zip(z).collect())
            })
            .collect::<Result<_>>()?;
        let mut best: Option<(f64, f64, (f64, f64), f64)> = None;
        let (mut tried, mut losses) = (Vec::new(), Vec::new());
        for (a_i, &alpha) in params.alphas.iter().enumerate() {
            let mut z = vec![0.0; pool.len()];
            for part in &scored[a_i * k..(a_i + 1) * k] {
                for &(i, zi) in part {
                    z[i] = zi;
                }
            }
            let (a, b) = platt(&z, &labels)?;
            let p: Vec<f64> = z.iter().map(|&zi| sigmoid(a * zi + b)).collect();
            let (f1, threshold) = best_threshold(&p, &labels);
            let loss = log_loss(&p, &labels);
            tried.push((alpha, f1));
            losses.push((alpha, loss));
            if best.is_none_or(|(b_loss, ..)| loss < b_loss) {
                best = Some((loss, alpha, (a, b), threshold));
            }
        }
        let (_, alpha, (a, b), threshold) = best.expect("at least one penalty was tried");
        let mut model = LogisticModel::fit(&pool, &labels, alpha, params)?;
        model.scale(a, b);
        model.threshold = threshold;
        let summary = FitSummary {
            validation_f1: tried,
            validation_log_loss: losses,
            alpha: model.alpha,
            token_terms: model.tokens.len(),
        };
        Ok((model, summary))
    }

    /// Number of feature columns the weights cover: [`FEATURE_NAMES`] and two per attribute.
    fn columns(&self) -> usize {
        N_FEATURES + 2 * self.attributes.len()
    }

    /// Log-odds of each pair of `f`.
    fn log_odds(&self, f: &PairFeatures) -> Vec<f64> {
        (0..f.len())
            .map(|i| {
                let c = self.contributions(f, i);
                self.intercept + c.iter().sum::<f64>()
            })
            .collect()
    }

    /// Folds `p = sigmoid(a z + b)` into the weights, so contributions stay exact log-odds.
    fn scale(&mut self, a: f64, b: f64) {
        self.weights.iter_mut().for_each(|w| *w *= a);
        self.token_weights.iter_mut().for_each(|w| *w *= a);
        self.intercept = a * self.intercept + b;
    }

    /// Fits on labelled pairs with L2 penalty `alpha` > 0; the threshold is 0.5 until
    /// [`LogisticModel::tune_threshold`] picks one on validation pairs.
    pub fn fit(
        f: &PairFeatures,
        labels: &[bool],
        alpha: f64,
        params: &LogisticParams,
    ) -> Result<LogisticModel> {
        use linfa::prelude::Fit;
        check_labels(f, labels)?;
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(Error::Param {
                name: "logistic.alphas".into(),
                value: alpha.to_string(),
                expected: "penalties > 0".into(),
            });
        }
        let positives = labels.iter().filter(|&&l| l).count();
        if positives == 0 || positives == labels.len() {
            return Err(Error::Model(format!(
                "a supervised match model needs both matching and non-matching pairs; got {positives} matches in {} pairs",
                labels.len()
            )));
        }
        let tokens = token_vocabulary(f, params);
        let attributes = f.attributes.clone();
        let x = design(f, &attributes, &tokens);
        let y = Array1::from(labels.to_vec());
        let data = linfa::Dataset::new(x, y);
        let fitted = linfa_logistic::LogisticRegression::default()
            .alpha(alpha as f32)
            .max_iterations(params.max_iterations)
            .fit(&data)?;
        // linfa labels the larger class positive: orient the weights towards "match".
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        let w: Vec<f64> = fitted
            .params()
            .iter()
            .map(|w| sign * f64::from(*w))
            .collect();
        let columns = N_FEATURES + 2 * attributes.len();
        Ok(LogisticModel {
            weights: w[..columns].to_vec(),
            token_weights: w[columns..].to_vec(),
            attributes,
            tokens,
            intercept: sign * f64::from(fitted.intercept()),
            threshold: 0.5,
            alpha,
        })
    }

    /// Platt scaling on labelled validation pairs: fits `p = sigmoid(a z + b)` on the model's
    /// log-odds `z` by Newton's method (targets smoothed as in Platt's paper) and folds `a`
    /// and `b` into the weights, so contributions stay exact log-odds.
    pub fn calibrate(&mut self, f: &PairFeatures, labels: &[bool]) -> Result<()> {
        check_labels(f, labels)?;
        let (a, b) = platt(&self.log_odds(f), labels)?;
        self.scale(a, b);
        Ok(())
    }

    /// Picks the threshold that maximises F1 on labelled validation pairs; returns that F1.
    pub fn tune_threshold(&mut self, f: &PairFeatures, labels: &[bool]) -> f64 {
        let p = MatchModel::Logistic(self.clone()).predict(f);
        let (f1, threshold) = best_threshold(&p, labels);
        self.threshold = threshold;
        f1
    }

    /// Each term's contribution for pair `i` of `f`, its columns read by the model's
    /// attribute layout ([`PairFeatures::value`]).
    fn contributions(&self, f: &PairFeatures, i: usize) -> Vec<f64> {
        let columns = self.columns();
        let mut c = vec![0.0; columns + self.tokens.len()];
        for (j, w) in self.weights.iter().enumerate().take(columns) {
            c[j] = w * f.value(i, j, &self.attributes);
        }
        for t in &f.differing[i] {
            if let Ok(j) = self.tokens.binary_search(t) {
                c[columns + j] = self.token_weights[j];
            }
        }
        c
    }
}

/// Platt scaling: fits `p = sigmoid(a z + b)` to labels on log-odds `z` by Newton's method,
/// targets smoothed as in Platt's paper.
fn platt(z: &[f64], labels: &[bool]) -> Result<(f64, f64)> {
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    let (hi, lo) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
    let t: Vec<f64> = labels.iter().map(|&l| if l { hi } else { lo }).collect();
    let (mut a, mut b) = (1.0, 0.0);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
        for (zi, ti) in z.iter().zip(&t) {
            let p = sigmoid(a * zi + b);
            let d = p - ti;
            let w = p * (1.0 - p);
            ga += d * zi;
            gb += d;
            haa += w * zi * zi;
            hab += w * zi;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() < 1e-9 && db.abs() < 1e-9 {
            break;
        }
    }
    if !(a.is_finite() && b.is_finite() && a > 0.0) {
        return Err(Error::Model(
            "calibration failed: the held-out pairs do not rank matches above non-matches".into(),
        ));
    }
    Ok((a, b))
}

/// Mean log-loss of probabilities `p` of labelled pairs (probabilities kept off 0 and 1 by
/// 1e-15).
fn log_loss(p: &[f64], labels: &[bool]) -> f64 {
    let sum: f64 = p
        .iter()
        .zip(labels)
        .map(|(&q, &l)| -(if l { q } else { 1.0 - q }).clamp(1e-15, 1.0).ln())
        .sum();
    sum / p.len().max(1) as f64
}

/// The F1-best threshold on probabilities `p` of labelled pairs, cut between distinct
/// probabilities: `(F1, threshold)`; `(0, 0.5)` when no cut finds a match.
fn best_threshold(p: &[f64], labels: &[bool]) -> (f64, f64) {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let (mut tp, mut best) = (0.0, (0.0, 0.5));
    for (k, &i) in order.iter().enumerate() {
        if labels[i] {
            tp += 1.0;
        }
        let next = order.get(k + 1).map_or(0.0, |&j| p[j]);
        if next == p[i] {
            continue;
        }
        let f1 = 2.0 * tp / ((k + 1) as f64 + positives);
        if f1 > best.0 {
            best = (f1, (p[i] + next) / 2.0);
        }
    }
    best
}

fn check_labels(f: &PairFeatures, labels: &[bool]) -> Result<()> {
    if labels.len() != f.len() || f.differing.len() != f.len() {
        return Err(Error::Model(format!(
            "{} labels for {} pairs",
            labels.len(),
            f.len()
        )));
    }
    Ok(())
}

/// Tokens differing in at least `min_token_pairs` pairs, the `max_tokens` most frequent
/// (ties by token), sorted.
fn token_vocabulary(f: &PairFeatures, params: &LogisticParams) -> Vec<String> {
    if params.min_token_pairs == 0 || params.max_tokens == 0 {
        return Vec::new();
    }
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for d in &f.differing {
        for t in d {
            *counts.entry(t.as_str()).or_insert(0) += 1;
        }
    }
    let mut kept: Vec<(&str, usize)> = counts
        .into_iter()
        .filter(|&(_, c)| c >= params.min_token_pairs)
        .collect();
    kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    kept.truncate(params.max_tokens);
    let mut tokens: Vec<String> = kept.into_iter().map(|(t, _)| t.to_string()).collect();
    tokens.sort();
    tokens
}

/// The dense design matrix: feature columns, then one 0/1 column per vocabulary token. Single
/// precision: the fit reads this matrix many times and is bound by memory bandwidth.
///
/// Column-major: the optimiser's gradient multiplies the transpose by a vector, which then
/// reads each column contiguously (row-major makes that product several times slower).
fn design(f: &PairFeatures, attributes: &[String], tokens: &[String]) -> Array2<f32> {
    let columns = N_FEATURES + 2 * attributes.len();
    let mut x = Array2::zeros((f.len(), columns + tokens.len()).f());
    for i in 0..f.len() {
        for j in 0..columns {
            x[[i, j]] = f.value(i, j, attributes) as f32;
        }
    }
    for (i, d) in f.differing.iter().enumerate() {
        for t in d {
            if let Ok(j) = tokens.binary_search(t) {
                x[[i, columns + j]] = 1.0;
            }
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::features::feature_index;

    fn col(name: &str) -> usize {
        feature_index(name).unwrap()
    }
    use rand::{Rng, SeedableRng};

    /// Rows of features where matches have high similarities and agreeing numbers.
    fn sample(n: usize, seed: u64) -> (PairFeatures, Vec<bool>) {
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
        (plain(x), y)
    }

    fn plain(x: Array2<f64>) -> PairFeatures {
        let differing = vec![Vec::new(); x.nrows()];
        PairFeatures {
            x,
            differing,
            attributes: Vec::new(),
        }
    }

    fn accuracy(model: &MatchModel, f: &PairFeatures, y: &[bool]) -> f64 {
        let p = model.predict(f);
        let t = model.threshold();
        p.iter().zip(y).filter(|(p, y)| (**p >= t) == **y).count() as f64 / y.len() as f64
    }

    #[test]
    fn mixture_separates_matches_without_labels() {
        let (f, y) = sample(2000, 1);
        let groups: Vec<usize> = (0..f.len()).collect();
        let model = MatchModel::Mixture(
            MixtureModel::fit(&f.x, &groups, &MixtureParams::default()).unwrap(),
        );
        assert!(accuracy(&model, &f, &y) > 0.97);
        let back = MatchModel::from_json(&model.to_json().unwrap()).unwrap();
        assert_eq!(back, model);
    }

    #[test]
    fn grouped_mixture_prefers_the_copy_over_near_misses() {
        // 600 listings with 4 candidates each; 60% hold one copy, the others are near misses
        // (similar titles, numbers disagreeing) or unrelated.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let (n, k) = (600, 4);
        let mut x = Array2::zeros((n * k, N_FEATURES));
        let mut truth = Vec::new();
        for g in 0..n {
            let copy = rng.gen_bool(0.6).then(|| rng.gen_range(0..k));
            let mut cands: Vec<(f64, f64, bool)> = (0..k)
                .map(|j| {
                    if copy == Some(j) {
                        (rng.gen_range(0.6..0.95), 1.0, true)
                    } else if j < 2 {
                        let numbers = if rng.gen_bool(0.7) { 0.0 } else { 0.5 };
                        (rng.gen_range(0.3..0.55), numbers, false)
                    } else {
                        (rng.gen_range(0.05..0.3), 0.0, false)
                    }
                })
                .collect();
            // Candidates come best first, as the index returns them.
            cands.sort_by(|a, b| b.0.total_cmp(&a.0));
            for (j, &(sim, numbers, is_copy)) in cands.iter().enumerate() {
                let i = g * k + j;
                for c in [
                    "word_cosine",
                    "char_cosine",
                    "token_jaccard",
                    "rare_token_share",
                ] {
                    x[[i, col(c)]] = (sim + rng.gen_range(-0.05..0.05)).clamp(0.0, 1.0);
                }
                x[[i, col("has_numbers")]] = 1.0;
                x[[i, col("number_agreement")]] = numbers;
                truth.push(is_copy);
            }
        }
        let groups: Vec<usize> = (0..n * k).map(|i| i / k).collect();
        let model =
            MatchModel::Mixture(MixtureModel::fit(&x, &groups, &MixtureParams::default()).unwrap());
        let p = model.predict_grouped(&plain(x), &groups);
        let correct = p
            .iter()
            .zip(&truth)
            .filter(|(p, t)| (**p >= 0.5) == **t)
            .count();
        assert!(
            correct as f64 / truth.len() as f64 > 0.97,
            "{correct} of {}",
            truth.len()
        );
        for g in 0..n {
            let s: f64 = p[g * k..(g + 1) * k].iter().sum();
            assert!(
                s <= 1.0 + 1e-9,
                "a group's match probabilities sum to at most 1"
            );
        }
    }

    #[test]
    fn candidates_the_index_scores_alike_share_their_rank_prior() {
        // Listings whose copy is always the top candidate, so the rank prior favours rank 0
        // strongly; then a listing with two candidates alike in every feature.
        let (n, k) = (400, 2);
        let mut x = Array2::zeros((n * k + 2, N_FEATURES));
        for g in 0..n {
            for (j, sim) in [(0, 0.9), (1, 0.3)] {
                for c in ["word_cosine", "char_cosine", "rare_token_share"] {
                    x[[g * k + j, col(c)]] = sim + 0.0001 * (g % 7) as f64;
                }
            }
        }
        for i in [n * k, n * k + 1] {
            for c in ["word_cosine", "char_cosine", "rare_token_share"] {
                x[[i, col(c)]] = 0.9;
            }
        }
        let groups: Vec<usize> = (0..n * k + 2).map(|i| i / k).collect();
        let model = MixtureModel::fit(&x, &groups, &MixtureParams::default()).unwrap();
        assert!(model.rank_prior[0] > 10.0 * model.rank_prior[1]);
        let p = MatchModel::Mixture(model).predict_grouped(&plain(x), &groups);
        let (a, b) = (p[n * k], p[n * k + 1]);
        assert!((a - b).abs() < 1e-12, "{a} against {b}");
        assert!(a + b > 0.5);
    }

    #[test]
    fn logistic_learns_tokens_calibrates_and_explains() {
        let (mut f, y) = sample(1500, 2);
        let (mut vf, vy) = sample(500, 3);
        // A word that differs only in non-matching pairs ("refill"), and one that differs
        // everywhere ("promo"): the first must weigh against a match.
        for (d, &m) in f
            .differing
            .iter_mut()
            .zip(&y)
            .chain(vf.differing.iter_mut().zip(&vy))
        {
            d.push("promo".into());
            if !m {
                d.insert(0, "refill".into());
            }
        }
        let (m, summary) =
            LogisticModel::train(&f, &y, &vf, &vy, &LogisticParams::default()).unwrap();
        assert_eq!(summary.validation_f1.len(), 3);
        // The penalty kept is the one with the lowest out-of-fold log-loss.
        let lowest = summary
            .validation_log_loss
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert_eq!(summary.alpha, lowest.0);
        assert_eq!(m.tokens, ["promo", "refill"]);
        assert!(m.token_weights[1] < -1.0, "{:?}", m.token_weights);
        let model = MatchModel::Logistic(m);
        assert!(accuracy(&model, &vf, &vy) > 0.97);
        // Calibrated: the mean probability is close to the share of matches.
        let p = model.predict(&vf);
        let mean = p.iter().sum::<f64>() / p.len() as f64;
        let share = vy.iter().filter(|&&v| v).count() as f64 / vy.len() as f64;
        assert!((mean - share).abs() < 0.03, "{mean} vs {share}");
        let i = vy.iter().position(|&v| !v).unwrap();
        assert!(model.explain(&vf, i, 5).contains("differs:refill"));
        let back = MatchModel::from_json(&model.to_json().unwrap()).unwrap();
        assert_eq!(back.predict(&vf), p);
    }

    #[test]
    fn em_step_on_read_values_equals_the_posterior_of_raw_features() {
        // The fit reads each feature once (logits, levels, presence) and runs the E-step in
        // parallel blocks; its responsibilities and likelihood must be those of the posterior
        // computed from the raw features, query by query, to the bit, whatever the threads.
        let (mut f, _) = sample(3000, 9);
        for i in (0..f.len()).step_by(7) {
            f.x[[i, col("has_numbers")]] = 0.0;
        }
        let groups: Vec<usize> = (0..f.len()).map(|i| i / 3).collect();
        let model = MixtureModel::fit(&f.x, &groups, &MixtureParams::default()).unwrap();
        let bounds = group_bounds(&groups);
        let leads: Vec<f64> = bounds
            .iter()
            .flat_map(|&(s, e)| MixtureModel::leads(&f.x, s, e))
            .collect();
        let prepared = Prepared::new(&model, &f.x, &leads);
        let (mut raw, mut ll) = (Vec::new(), 0.0);
        for &(s, e) in &bounds {
            let (r, l) = model.group_posterior(&model.tables(), &f.x, s, e);
            raw.extend(r);
            ll += l;
        }
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (resp, mean_ll) = pool.install(|| model.e_step(&prepared, &bounds));
            assert_eq!(resp, raw);
            assert_eq!(mean_ll, ll / f.len() as f64);
        }
    }

    #[test]
    fn labels_hold_through_the_fit_and_none_changes_nothing() {
        let (f, y) = sample(1200, 5);
        let groups: Vec<usize> = (0..f.len()).map(|i| i / 3).collect();
        let params = MixtureParams::default();
        let plain = MixtureModel::fit(&f.x, &groups, &params).unwrap();
        let none = vec![None; f.len()];
        assert_eq!(
            MixtureModel::fit_labelled(&f.x, &groups, &none, &params).unwrap(),
            plain
        );
        // Every third group labelled from the truth: the conditioned probabilities of the
        // labelled rows are their labels, and a group with a known match has no other.
        let mut labels: Vec<Option<bool>> = (0..f.len())
            .map(|i| groups[i].is_multiple_of(3).then_some(y[i]))
            .collect();
        // At most one match per query: a second known match in a group is left unlabelled.
        for i in 1..f.len() {
            let seen = (i - i % 3..i).any(|j| labels[j] == Some(true));
            if labels[i] == Some(true) && seen {
                labels[i] = None;
            }
        }
        let model = MatchModel::Mixture(
            MixtureModel::fit_labelled(&f.x, &groups, &labels, &params).unwrap(),
        );
        let mut p = model.predict_grouped(&f, &groups);
        condition_on_labels(&mut p, &groups, &labels);
        for (i, l) in labels.iter().enumerate() {
            if let Some(l) = l {
                assert_eq!(p[i], f64::from(u8::from(*l)), "row {i}");
            }
        }
        assert!(MixtureModel::fit_labelled(&f.x, &groups, &labels[1..], &params).is_err());
    }

    #[test]
    fn log_loss_is_the_mean_negative_log_probability_of_the_labels() {
        let l = log_loss(&[0.5, 0.5, 0.9], &[true, false, false]);
        assert!((l - (2.0 * 2f64.ln() + 10f64.ln()) / 3.0).abs() < 1e-12);
        assert!(log_loss(&[1.0], &[false]).is_finite());
    }

    #[test]
    fn mixture_reads_further_attributes_only_when_fitted_on_pairs() {
        let (f, y) = sample(1200, 6);
        let groups: Vec<usize> = (0..f.len()).map(|i| i / 3).collect();
        // An attribute equal in matches and unrelated otherwise, missing in every fifth pair.
        let values: Vec<Vec<(Option<&str>, Option<&str>)>> = y
            .iter()
            .enumerate()
            .map(|(i, &m)| {
                let right = if m { "deep red" } else { "pale blue" };
                vec![(Some("deep red"), (i % 5 != 0).then_some(right))]
            })
            .collect();
        let g = f.clone().with_attributes(vec!["colour".into()], &values);
        let params = MixtureParams::default();
        let plain = MixtureModel::fit(&f.x, &groups, &params).unwrap();
        assert_eq!(MixtureModel::fit(&g.x, &groups, &params).unwrap(), plain);
        let with = MixtureModel::fit_pairs(&g, &groups, &params).unwrap();
        assert_eq!(with.attributes, ["colour"]);
        assert_eq!(with.features.len(), plain.features.len() + 1);
        let colour = with.features.last().unwrap();
        assert_eq!(
            (colour.column, colour.present),
            (N_FEATURES, Some(N_FEATURES + 1))
        );
        assert!(
            centre(colour.density, &colour.matched) > centre(colour.density, &colour.unmatched)
        );
        let model = MatchModel::Mixture(with);
        let names = model.term_names();
        assert_eq!(&names[N_FEATURES..], ["similar:colour", "has:colour"]);
        assert_eq!(model.contributions(&g, 1).len(), names.len());
        // Where the attribute is missing it contributes nothing.
        assert_eq!(model.contributions(&g, 0)[N_FEATURES], 0.0);
        assert_eq!(
            MatchModel::from_json(&model.to_json().unwrap()).unwrap(),
            model
        );
        assert!(
            MixtureModel::fit_pairs(&f.clone().with_attributes(vec![], &[]), &groups, &params)
                .is_ok()
        );
        let mut short = g.clone();
        short.x = f.x.clone();
        assert!(MixtureModel::fit_pairs(&short, &groups, &params).is_err());
    }

    #[test]
    fn too_few_pairs_is_an_error() {
        let x = Array2::zeros((2, N_FEATURES));
        assert!(MixtureModel::fit(&x, &[0, 1], &MixtureParams::default()).is_err());
        assert!(MixtureModel::fit(&x, &[0], &MixtureParams::default()).is_err());
    }

    #[test]
    fn condition_on_labels_examples() {
        let mut p = vec![0.5, 0.3, 0.6, 0.2];
        condition_on_labels(
            &mut p,
            &[0, 0, 1, 1],
            &[Some(false), None, None, Some(true)],
        );
        assert_eq!(p, vec![0.0, 0.6, 0.0, 1.0]);
    }
}
