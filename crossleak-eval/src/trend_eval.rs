//! Measuring onset detection on real demand curves.
//!
//! The curves are the 388 stable daily demand curves of The Complete Journey 2.0 bundled in
//! `datasets/source/cj_daily_curves.csv.gz` (84.51°, CC0; one year of grocery sales with their
//! weekly cycles, retail promotions, seasonality and low-count noise). Each curve is used
//! several times:
//!
//! - **untouched**, as sold;
//! - with an injected **rise**: from a known onset day, extra demand ramps up over 0 to
//!   `max_ramp_days` days to `height` times the curve's local level (`height` in
//!   `min_height..max_height`) and stays there at least `min_plateau_days` days, to the end of
//!   the year or then back down over a week;
//! - with an injected **promotion**: `promo_days_min..=promo_days_max` days (two weeks at most)
//!   at 2 to `promo_max_height` times the local level;
//! - as a **launch**: no sales before a launch day, then the curve, phased in over two weeks.
//!
//! Some curves of every kind also get a stock-out of 5 to 14 days (before the onset for rises).
//! Extra demand is drawn as Poisson counts around `(multiplier - 1)` times the curve's local
//! level (its centred 28-day mean times its day-of-week profile), so an injected rise keeps the
//! curve's own noise and cycles. Only rises are bestsellers; everything is seeded.
//!
//! [`score`] matches detected onsets to the truth: a detection on a rise curve within
//! `match_days` of the true onset is a true positive, anything else detected is a false positive,
//! and the onset error is counted on the true positives.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::synth::{poisson, raw_curves, sub_rng};
use crossleak::ingest::{Catalog, SalesPanel, TableKind};
use crossleak::trend::{check_range, detect_onsets, BestsellerEvent, DemandGrid, TrendParams};
use crossleak::{Date, Error, Result};

/// First day of the Complete Journey curves.
fn curves_start() -> Date {
    Date::from_ymd(2017, 1, 1).unwrap_or(Date(0))
}

/// Parameters of the injection harness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnsetEvalParams {
    /// Seed of every random choice (default 7).
    pub seed: u64,
    /// Number of source curves used, the first ones in file order; 0 = all (default 0).
    pub curves: usize,
    /// Rise curves made from each source curve (default 2).
    pub rises_per_curve: usize,
    /// Smallest injected rise, as a multiple of the local level (default 5.0).
    pub min_height: f64,
    /// Largest injected rise (default 20.0).
    pub max_height: f64,
    /// Longest ramp from the onset to the full rise, in days; ramps are 0 (a step) to this
    /// long (default 14).
    pub max_ramp_days: usize,
    /// Shortest time the full rise lasts, in days (default 28).
    pub min_plateau_days: usize,
    /// Earliest onset day (default 63: nine weeks of history).
    pub min_onset_day: usize,
    /// Shortest promotion, in days (default 3).
    pub promo_days_min: usize,
    /// Longest promotion, in days (default 14).
    pub promo_days_max: usize,
    /// Highest promotion, as a multiple of the local level (default 10.0).
    pub promo_max_height: f64,
    /// Share of curves given a stock-out (default 0.15).
    pub stockout_share: f64,
    /// A detected onset further than this from the true one, in days, does not count as
    /// finding the rise (default 28).
    pub match_days: i32,
}

impl Default for OnsetEvalParams {
    fn default() -> Self {
        OnsetEvalParams {
            seed: 7,
            curves: 0,
            rises_per_curve: 2,
            min_height: 5.0,
            max_height: 20.0,
            max_ramp_days: 14,
            min_plateau_days: 28,
            min_onset_day: 63,
            promo_days_min: 3,
            promo_days_max: 14,
            promo_max_height: 10.0,
            stockout_share: 0.15,
            match_days: 28,
        }
    }
}

impl OnsetEvalParams {
    /// Checks the ranges, for curves of `days` days.
    pub fn check(&self, days: usize) -> Result<()> {
        check_range("eval.min_height", self.min_height, 1.0, 1e6, "1..=1e6")?;
        check_range(
            "eval.max_height",
            self.max_height,
            self.min_height,
            1e6,
            "min_height..=1e6",
        )?;
        check_range(
            "eval.promo_max_height",
            self.promo_max_height,
            2.0,
            1e6,
            "2..=1e6",
        )?;
        check_range(
            "eval.stockout_share",
            self.stockout_share,
            0.0,
            1.0,
            "0..=1",
        )?;
        if self.promo_days_min == 0 || self.promo_days_min > self.promo_days_max {
            return Err(Error::Param {
                name: "eval.promo_days_min".into(),
                value: self.promo_days_min.to_string(),
                expected: format!("1..=promo_days_max ({})", self.promo_days_max),
            });
        }
        let need = self.min_onset_day + self.max_ramp_days + self.min_plateau_days + 7;
        if need > days || self.promo_days_max + 28 > days {
            return Err(Error::Param {
                name: "eval.min_onset_day".into(),
                value: self.min_onset_day.to_string(),
                expected: format!(
                    "min_onset_day + max_ramp_days + min_plateau_days + 7 <= {days} days"
                ),
            });
        }
        if self.match_days < 0 {
            return Err(Error::Param {
                name: "eval.match_days".into(),
                value: self.match_days.to_string(),
                expected: "a number of days >= 0".into(),
            });
        }
        Ok(())
    }
}

/// What was done to a curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurveKind {
    /// As sold.
    Untouched,
    /// Injected sustained rise: a bestseller.
    Rise,
    /// Injected promotion of two weeks at most.
    Promotion,
    /// No sales before a launch day.
    Launch,
}

impl CurveKind {
    /// Every kind, in table order.
    pub const ALL: [CurveKind; 4] = [
        CurveKind::Untouched,
        CurveKind::Rise,
        CurveKind::Promotion,
        CurveKind::Launch,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            CurveKind::Untouched => "untouched",
            CurveKind::Rise => "rise",
            CurveKind::Promotion => "promotion",
            CurveKind::Launch => "launch",
        }
    }
}

/// The truth about one evaluation curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InjectedCurve {
    /// Index of the source curve.
    pub source: usize,
    /// What was injected.
    pub kind: CurveKind,
    /// First day of the injection (rise onset, promotion start, launch day), as a grid day.
    pub start: Option<usize>,
    /// Multiple of the local level at full height (rises and promotions).
    pub height: f64,
    /// Ramp length in days (rises).
    pub ramp_days: usize,
    /// Days at full height (rises and promotions).
    pub days: usize,
}

/// The evaluation curves on one grid, with their truth, in the same order.
#[derive(Clone, Debug)]
pub struct EvalSet {
    /// Daily units of every evaluation curve.
    pub grid: DemandGrid,
    /// One product per curve (`c00001`, ...), without categories.
    pub products: Catalog,
    /// What each curve is.
    pub truth: Vec<InjectedCurve>,
}

/// Builds the seeded evaluation curves from the bundled Complete Journey curves.
pub fn generate(params: &OnsetEvalParams) -> Result<EvalSet> {
    let curves = raw_curves()?;
    let days = curves.iter().map(Vec::len).min().unwrap_or(0);
    params.check(days)?;
    let used = if params.curves == 0 {
        curves.len()
    } else {
        params.curves.min(curves.len())
    };
    let mut units = Vec::new();
    let mut truth = Vec::new();
    for (c, raw) in curves.iter().take(used).enumerate() {
        let raw = &raw[..days];
        let level = local_level(raw);
        let mut kinds = vec![CurveKind::Untouched];
        kinds.extend(std::iter::repeat_n(CurveKind::Rise, params.rises_per_curve));
        kinds.extend([CurveKind::Promotion, CurveKind::Launch]);
        for (v, kind) in kinds.into_iter().enumerate() {
            let mut r = sub_rng(params.seed, 0x7e1d, (c as u64) << 8 | v as u64);
            let (series, t) = inject(&mut r, raw, &level, kind, params);
            units.push(series);
            truth.push(InjectedCurve { source: c, ..t });
        }
    }
    let products = plain_catalog((0..units.len()).map(|i| (format!("c{:05}", i + 1), None)));
    let grid = DemandGrid::from_daily(curves_start(), units)?;
    Ok(EvalSet {
        grid,
        products,
        truth,
    })
}

/// A home catalog with only ids, categories and placeholder titles.
fn plain_catalog(rows: impl Iterator<Item = (String, Option<String>)>) -> Catalog {
    let mut c = Catalog::new(TableKind::Products);
    for (i, (id, category)) in rows.enumerate() {
        c.title.push(format!("product {id}"));
        c.id.push(id);
        c.description.push(None);
        c.category.push(category);
        c.brand.push(None);
        c.price.push(None);
        c.currency.push(None);
        c.seller_id.push(None);
        c.origin_country.push(None);
        c.image_phash.push(None);
        c.listed_at.push(None);
        c.source_row.push(i + 1);
    }
    c
}

/// A curve's expected units per day: its centred 28-day mean times its day-of-week profile.
fn local_level(raw: &[f64]) -> Vec<f64> {
    let profile = weekday_profile(raw);
    let n = raw.len();
    let mean = raw.iter().sum::<f64>() / n.max(1) as f64;
    (0..n)
        .map(|t| {
            let lo = t.saturating_sub(14);
            let hi = (t + 14).min(n);
            let m = raw[lo..hi].iter().sum::<f64>() / (hi - lo) as f64;
            // Floor: a curve that has a quiet month still has its yearly level of demand.
            m.max(0.25 * mean) * profile[t % 7]
        })
        .collect()
}

/// A curve's mean units on each day of the week (grid days mod 7) over its overall mean.
fn weekday_profile(raw: &[f64]) -> [f64; 7] {
    let n = raw.len();
    let mean = raw.iter().sum::<f64>() / n.max(1) as f64;
    let mut weekday = [0.0f64; 7];
    let mut count = [0usize; 7];
    for (t, &u) in raw.iter().enumerate() {
        weekday[t % 7] += u;
        count[t % 7] += 1;
    }
    let mut profile = [1.0f64; 7];
    for (d, p) in profile.iter_mut().enumerate() {
        if mean > 0.0 && count[d] > 0 {
            *p = weekday[d] / count[d] as f64 / mean;
        }
    }
    profile
}

/// One evaluation curve of `kind` from a source curve.
fn inject(
    r: &mut rand_chacha::ChaCha8Rng,
    raw: &[f64],
    level: &[f64],
    kind: CurveKind,
    p: &OnsetEvalParams,
) -> (Vec<f32>, InjectedCurve) {
    let n = raw.len();
    let profile = weekday_profile(raw);
    let mut mult = vec![1.0f64; n];
    let mut keep = vec![1.0f64; n];
    let mut t = InjectedCurve {
        source: 0,
        kind,
        start: None,
        height: 1.0,
        ramp_days: 0,
        days: 0,
    };
    let mut stock_before = n;
    // Level the extra demand is drawn around: the local level, or for rises the pre-onset one.
    let mut rise_level = level.to_vec();
    match kind {
        CurveKind::Untouched => {}
        CurveKind::Rise => {
            let ramp = r.gen_range(0..=p.max_ramp_days);
            let height = r.gen_range(p.min_height..=p.max_height);
            let last_onset = n - ramp - p.min_plateau_days - 7;
            let onset = r.gen_range(p.min_onset_day..=last_onset);
            let to_end = n - onset - ramp;
            let plateau = if r.gen_bool(0.5) {
                to_end
            } else {
                r.gen_range(p.min_plateau_days..=to_end.min(2 * p.min_plateau_days))
            };
            // The rise is relative to what the product sold before: the extra demand at full
            // height is `height - 1` times its mean over the eight weeks before the onset.
            let before = &raw[onset - 56.min(onset)..onset];
            let pre = before.iter().sum::<f64>() / before.len().max(1) as f64;
            for i in 0..ramp {
                mult[onset + i] = 1.0 + (height - 1.0) * (i + 1) as f64 / (ramp + 1) as f64;
            }
            for m in &mut mult[onset + ramp..onset + ramp + plateau] {
                *m = height;
            }
            let end = onset + ramp + plateau;
            for i in 0..7.min(n - end) {
                mult[end + i] = 1.0 + (height - 1.0) * (6 - i) as f64 / 7.0;
            }
            for (t, l) in rise_level.iter_mut().enumerate() {
                *l = pre * profile[t % 7];
            }
            stock_before = onset.saturating_sub(14);
            t.start = Some(onset);
            t.height = height;
            t.ramp_days = ramp;
            t.days = plateau;
        }
        CurveKind::Promotion => {
            let len = r.gen_range(p.promo_days_min..=p.promo_days_max);
            let height = r.gen_range(2.0..=p.promo_max_height);
            let start = r.gen_range(28..=n - len);
            for m in &mut mult[start..start + len] {
                *m = height;
            }
            t.start = Some(start);
            t.height = height;
            t.days = len;
        }
        CurveKind::Launch => {
            let day = r.gen_range(28..=n * 5 / 6);
            for (i, k) in keep.iter_mut().enumerate() {
                *k = if i < day {
                    0.0
                } else {
                    (0.3 + 0.7 * (i - day) as f64 / 14.0).min(1.0)
                };
            }
            t.start = Some(day);
        }
    }
    if r.gen_bool(p.stockout_share) && stock_before > 20 {
        let len = r.gen_range(5..=14);
        let s = r.gen_range(0..stock_before - 15);
        for k in &mut keep[s..(s + len).min(n)] {
            *k = 0.0;
        }
    }
    let series = (0..n)
        .map(|i| {
            let extra = poisson(r, (mult[i] - 1.0).max(0.0) * rise_level[i]);
            let kept = if keep[i] >= 1.0 {
                raw[i]
            } else if keep[i] <= 0.0 {
                0.0
            } else {
                poisson(r, keep[i] * raw[i])
            };
            (kept + extra) as f32
        })
        .collect();
    (series, t)
}

/// Detections and misses of one kind of curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindScore {
    /// Which curves.
    pub kind: CurveKind,
    /// How many curves of this kind.
    pub curves: usize,
    /// How many of them have a detected onset.
    pub detected: usize,
}

/// How well detected onsets match the injected truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnsetScore {
    /// Per kind of curve, in [`CurveKind::ALL`] order.
    pub kinds: Vec<KindScore>,
    /// Rises found within `match_days` of their onset.
    pub true_positives: usize,
    /// Every other detection.
    pub false_positives: usize,
    /// Rises not found within `match_days`.
    pub false_negatives: usize,
    /// `tp / (tp + fp)` (1 when nothing is detected).
    pub precision: f64,
    /// `tp / (tp + fn)` (1 when there are no rises).
    pub recall: f64,
    /// Signed onset errors of the true positives, detected minus true, in days, sorted.
    pub onset_errors: Vec<i32>,
    /// Median absolute onset error, in days (0 without true positives).
    pub onset_error_median: f64,
    /// 90th percentile (nearest rank) of the absolute onset error, in days.
    pub onset_error_p90: f64,
    /// Share of promotion curves with a detected onset.
    pub promo_false_positive_rate: f64,
}

/// Scores `events` (from [`detect_onsets`] on `set`) against the truth.
pub fn score(set: &EvalSet, events: &[BestsellerEvent], match_days: i32) -> OnsetScore {
    let mut detected = vec![None; set.truth.len()];
    for e in events {
        if let Some(slot) = detected.get_mut(e.product) {
            *slot = Some(set.grid.start.days_until(e.onset));
        }
    }
    let (mut tp, mut fp, mut fneg) = (0, 0, 0);
    let mut errors = Vec::new();
    let mut kinds: Vec<KindScore> = CurveKind::ALL
        .iter()
        .map(|&kind| KindScore {
            kind,
            curves: 0,
            detected: 0,
        })
        .collect();
    for (t, d) in set.truth.iter().zip(&detected) {
        if let Some(k) = kinds.iter_mut().find(|k| k.kind == t.kind) {
            k.curves += 1;
            k.detected += usize::from(d.is_some());
        }
        match (t.kind, t.start, *d) {
            (CurveKind::Rise, Some(onset), Some(day)) => {
                let err = day - onset as i32;
                if err.abs() <= match_days {
                    tp += 1;
                    errors.push(err);
                } else {
                    fp += 1;
                    fneg += 1;
                }
            }
            (CurveKind::Rise, _, None) => fneg += 1,
            (_, _, Some(_)) => fp += 1,
            _ => {}
        }
    }
    errors.sort_unstable();
    let mut abs: Vec<i32> = errors.iter().map(|e| e.abs()).collect();
    abs.sort_unstable();
    let promo = kinds
        .iter()
        .find(|k| k.kind == CurveKind::Promotion)
        .filter(|k| k.curves > 0)
        .map_or(0.0, |k| k.detected as f64 / k.curves as f64);
    OnsetScore {
        kinds,
        true_positives: tp,
        false_positives: fp,
        false_negatives: fneg,
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fneg),
        onset_error_median: quantile(&abs, 0.5),
        onset_error_p90: quantile(&abs, 0.9),
        onset_errors: errors,
        promo_false_positive_rate: promo,
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Nearest-rank quantile of sorted values (0 when empty).
fn quantile(sorted: &[i32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// Generates the evaluation set, detects onsets with `trend` and scores them.
pub fn run(params: &OnsetEvalParams, trend: &TrendParams) -> Result<OnsetScore> {
    trend.check()?;
    let set = generate(params)?;
    let events = detect_onsets(&set.grid, &set.products, trend);
    Ok(score(&set, &events, params.match_days))
}

/// A seeded panel of `products` products over `days` days for timing the trend stage: each
/// product is a bundled curve (cycled to `days`), rescaled, shifted by whole weeks and
/// resampled as Poisson counts; one in a hundred gets a rise and one in ten a promotion. The
/// products are spread over 20 categories. Returns the daily grid and the catalog.
pub fn scale_panel(products: usize, days: usize, seed: u64) -> Result<(DemandGrid, Catalog)> {
    use rayon::prelude::*;
    let curves = raw_curves()?;
    let level: Vec<Vec<f64>> = curves.iter().map(|c| local_level(c)).collect();
    let units: Vec<Vec<f32>> = (0..products)
        .into_par_iter()
        .map(|p| {
            let mut r = sub_rng(seed, 0xbe4c, p as u64);
            let c = r.gen_range(0..curves.len());
            let (curve, level) = (&curves[c], &level[c]);
            let scale = (r.gen_range(-1.5f64..2.0)).exp();
            let shift = 7 * r.gen_range(0..52usize);
            let mut mult = vec![1.0f64; days];
            if r.gen_bool(0.01) && days > 120 {
                let onset = r.gen_range(60..days - 40);
                let height = r.gen_range(5.0..20.0);
                for m in &mut mult[onset..] {
                    *m = height;
                }
            }
            if r.gen_bool(0.1) && days > 30 {
                let s = r.gen_range(0..days - 14);
                let f = r.gen_range(2.0..10.0);
                for m in &mut mult[s..s + r.gen_range(3..=14)] {
                    *m *= f;
                }
            }
            (0..days)
                .map(|t| {
                    let i = (t + shift) % curve.len();
                    let lambda = scale * (0.5 * curve[i] + 0.5 * level[i]) * mult[t];
                    poisson(&mut r, lambda) as f32
                })
                .collect()
        })
        .collect();
    let catalog = plain_catalog(
        (0..products).map(|p| (format!("p{p:06}"), Some(format!("cat{:02}", p % 20)))),
    );
    let grid = DemandGrid::from_daily(curves_start(), units)?;
    Ok((grid, catalog))
}

/// The grid as a long-form sales panel, as ingest delivers it: one row per product-day with
/// sales, grouped by product, units only.
pub fn long_form(grid: &DemandGrid, products: &Catalog) -> SalesPanel {
    let mut s = SalesPanel::default();
    for (p, days) in grid.units.iter().enumerate().take(products.len()) {
        for (d, &u) in days.iter().enumerate() {
            if u > 0.0 {
                let row = s.len() + 1;
                s.push(
                    &products.id[p],
                    grid.start.add_days(d as i32),
                    Some(u as f64),
                    None,
                    row,
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(quantile(&[1, 2, 3, 4], 0.5), 2.0);
        assert_eq!(quantile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 9.0);
    }

    #[test]
    fn generation_is_seeded_and_shaped() {
        let p = OnsetEvalParams {
            curves: 3,
            ..OnsetEvalParams::default()
        };
        let a = generate(&p).unwrap();
        let b = generate(&p).unwrap();
        assert_eq!(a.grid.units, b.grid.units);
        assert_eq!(a.truth.len(), 3 * 5);
        assert_eq!(a.products.len(), a.truth.len());
        let launch = a.truth.iter().position(|t| t.kind == CurveKind::Launch);
        let launch = launch.unwrap();
        let day = a.truth[launch].start.unwrap();
        assert!(a.grid.units[launch][..day].iter().all(|&u| u == 0.0));
        let bad = OnsetEvalParams {
            min_onset_day: 400,
            ..p
        };
        assert!(generate(&bad).is_err());
        let sales = long_form(&a.grid, &a.products);
        let again = DemandGrid::build(&sales, &a.products);
        assert_eq!(again.units[0], a.grid.units[0]);
    }
}
