//! Bestseller onsets from the home sales series.
//!
//! The sales panel is put on a daily grid with explicit zeros and summed into 7-day periods.
//! A product's onset period is the first period that is above its baseline and after which
//! demand stays up: the lower median of the next `sustain_weeks` periods is at least
//! `min_rise` times the baseline (rule 1), or the product enters the market's top `top_share`
//! of sellers for all those periods, having been out of it over the baseline periods, with a
//! rise of at least `rank_min_rise` (rule 2). The baseline is the larger of the median of the
//! last `baseline_weeks` periods and the median since the product's first sale, so a recovery
//! after a stock-out or an off season is not a rise. The lower median lets one period in four
//! dip while a promotion of two periods or less never passes; weekly cycles vanish in 7-day
//! sums; a product on sale for fewer than `baseline_weeks` periods (a launch) has no baseline
//! and no onset. The onset day is then placed by a least-squares single change point in mean
//! of `log(1 + units)` over the days around the onset period (Hinkley, "Inference about the
//! change-point in a sequence of random variables", Biometrika 57, 1970).

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ingest::{Catalog, SalesPanel};
use crate::{Date, Error, Result};

/// Parameters of onset detection. Every threshold of the rules above is one of these.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrendParams {
    /// Minimum rise of the sustained median over the baseline median (default 5.0).
    pub min_rise: f64,
    /// Periods (weeks) the rise must last (default 4).
    pub sustain_weeks: usize,
    /// Periods (weeks) of baseline before a candidate onset (default 8).
    pub baseline_weeks: usize,
    /// Baseline periods that must have sales (default 4); fewer means a launch, not an onset.
    pub min_active_baseline_weeks: usize,
    /// Floor for the baseline, in units per period, so near-zero baselines do not make any
    /// sale a rise (default 1.0).
    pub baseline_floor: f64,
    /// Share of products counted as the market's top sellers for rule 2 (default 0.01); 0
    /// turns rule 2 off.
    pub top_share: f64,
    /// Minimum rise for rule 2 (default 2.0).
    pub rank_min_rise: f64,
}

impl Default for TrendParams {
    fn default() -> Self {
        TrendParams {
            min_rise: 5.0,
            sustain_weeks: 4,
            baseline_weeks: 8,
            min_active_baseline_weeks: 4,
            baseline_floor: 1.0,
            top_share: 0.01,
            rank_min_rise: 2.0,
        }
    }
}

impl TrendParams {
    /// Checks every parameter's range.
    pub fn check(&self) -> Result<()> {
        check_range(
            "trend.min_rise",
            self.min_rise,
            1.0,
            f64::MAX,
            "a number > 1",
        )?;
        check_range(
            "trend.sustain_weeks",
            self.sustain_weeks as f64,
            1.0,
            520.0,
            "1..=520",
        )?;
        check_range(
            "trend.baseline_weeks",
            self.baseline_weeks as f64,
            1.0,
            520.0,
            "1..=520",
        )?;
        if self.min_active_baseline_weeks > self.baseline_weeks {
            return Err(Error::Param {
                name: "trend.min_active_baseline_weeks".into(),
                value: self.min_active_baseline_weeks.to_string(),
                expected: format!("0..=baseline_weeks ({})", self.baseline_weeks),
            });
        }
        check_range(
            "trend.baseline_floor",
            self.baseline_floor,
            0.0,
            f64::MAX,
            "a number >= 0",
        )?;
        check_range("trend.top_share", self.top_share, 0.0, 1.0, "0..=1")?;
        check_range(
            "trend.rank_min_rise",
            self.rank_min_rise,
            1.0,
            f64::MAX,
            "a number >= 1",
        )
    }
}

pub(crate) fn check_range(name: &str, v: f64, lo: f64, hi: f64, expected: &str) -> Result<()> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(Error::Param {
            name: name.into(),
            value: v.to_string(),
            expected: expected.into(),
        })
    }
}

/// Which rule found an onset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnsetRule {
    /// Sustained multi-fold rise over the product's own baseline.
    Rise,
    /// Entry into the market's top sellers, sustained.
    Rank,
}

/// A home product that became a bestseller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestsellerEvent {
    /// Index of the product in the home catalog.
    pub product: usize,
    /// Product id.
    pub product_id: String,
    /// First day of the sustained rise.
    pub onset: Date,
    /// Highest 7-day demand after the onset, in units per day.
    pub peak: f64,
    /// First day of the peak period.
    pub peak_date: Date,
    /// Sustained median over baseline median.
    pub rise_factor: f64,
    /// Rank percentile of the product among all products in the peak period (1.0 = top).
    pub rank_percentile: f64,
    /// Share of the periods after onset (up to 3 times `sustain_weeks`) that stay above the
    /// rise threshold, in [0, 1].
    pub confidence: f64,
    /// Rule that found the onset.
    pub rule: OnsetRule,
}

/// Daily units per product on a dense grid.
#[derive(Clone, Debug)]
pub struct DemandGrid {
    /// First day of the grid.
    pub start: Date,
    /// Number of days.
    pub days: usize,
    /// `units[product][day]`.
    pub units: Vec<Vec<f32>>,
}

impl DemandGrid {
    /// Sums the sales panel onto a daily grid indexed like `products` (rows whose product is not
    /// in the catalog are skipped; ingest already rejects them).
    pub fn build(sales: &SalesPanel, products: &Catalog) -> DemandGrid {
        let index: HashMap<&str, usize> = products
            .id
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let (Some(lo), Some(hi)) = (sales.date.iter().min(), sales.date.iter().max()) else {
            return DemandGrid {
                start: Date(0),
                days: 0,
                units: vec![Vec::new(); products.len()],
            };
        };
        let days = (hi.0 - lo.0 + 1) as usize;
        let mut units = vec![vec![0f32; days]; products.len()];
        for ((id, d), u) in sales.product_id.iter().zip(&sales.date).zip(&sales.units) {
            if let Some(&p) = index.get(id.as_str()) {
                units[p][(d.0 - lo.0) as usize] += *u as f32;
            }
        }
        DemandGrid {
            start: *lo,
            days,
            units,
        }
    }

    /// 7-day sums from the grid start (a trailing partial period is dropped).
    pub fn weekly(&self) -> Vec<Vec<f64>> {
        let weeks = self.days / 7;
        self.units
            .iter()
            .map(|d| {
                (0..weeks)
                    .map(|w| d[w * 7..w * 7 + 7].iter().map(|&u| u as f64).sum())
                    .collect()
            })
            .collect()
    }
}

/// Finds the bestseller onsets of every product, in product order.
pub fn detect_onsets(
    grid: &DemandGrid,
    products: &Catalog,
    params: &TrendParams,
) -> Vec<BestsellerEvent> {
    let weekly = grid.weekly();
    let weeks = grid.days / 7;
    let ranks = WeekRanks::new(&weekly, weeks);
    let top_threshold = ranks.top_thresholds(params.top_share);
    weekly
        .par_iter()
        .enumerate()
        .filter_map(|(p, series)| {
            let (week, rule, rise) = onset_week(series, &top_threshold, params)?;
            let onset_day = refine_onset(&grid.units[p], week, params.sustain_weeks);
            let baseline = baseline_of(series, week, params);
            let factor = match rule {
                OnsetRule::Rise => params.min_rise,
                OnsetRule::Rank => params.rank_min_rise,
            };
            let threshold = factor * baseline;
            let after = &series[week..weeks.min(week + 3 * params.sustain_weeks)];
            let confidence = after.iter().filter(|&&v| v >= threshold).count() as f64
                / after.len().max(1) as f64;
            let (peak_week, peak) =
                series[week..]
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f64::MIN),
                        |best, (i, &v)| if v > best.1 { (i, v) } else { best },
                    );
            let peak_week = week + peak_week;
            let rank_percentile = ranks.percentile(peak_week, peak);
            Some(BestsellerEvent {
                product: p,
                product_id: products.id[p].clone(),
                onset: grid.start.add_days(onset_day as i32),
                peak: peak / 7.0,
                peak_date: grid.start.add_days((peak_week * 7) as i32),
                rise_factor: rise,
                rank_percentile,
                confidence,
                rule,
            })
        })
        .collect()
}

/// A product's baseline before period `week`: the larger of the median of the last
/// `baseline_weeks` periods and the median of all periods since its first sale, floored. The
/// long-run median keeps a recovery after a dip (stock-out, off season) from reading as a rise.
fn baseline_of(series: &[f64], week: usize, params: &TrendParams) -> f64 {
    let first = series
        .iter()
        .position(|&v| v > 0.0)
        .unwrap_or(week)
        .min(week);
    let recent = median(&series[week.saturating_sub(params.baseline_weeks).max(first)..week]);
    let long_run = median(&series[first..week]);
    recent.max(long_run).max(params.baseline_floor)
}

/// Every product's units in each week, sorted: one sort per week serves the top-seller
/// thresholds and every rank percentile.
struct WeekRanks {
    sorted: Vec<Vec<f64>>,
}

impl WeekRanks {
    fn new(weekly: &[Vec<f64>], weeks: usize) -> WeekRanks {
        let sorted = (0..weeks)
            .into_par_iter()
            .map(|w| {
                let mut v: Vec<f64> = weekly.iter().map(|s| s[w]).collect();
                v.sort_by(f64::total_cmp);
                v
            })
            .collect();
        WeekRanks { sorted }
    }

    /// Weekly unit level of the top `share` of products, per week (infinite when rule 2 is
    /// off).
    fn top_thresholds(&self, share: f64) -> Vec<f64> {
        self.sorted
            .iter()
            .map(|v| {
                if share <= 0.0 || v.is_empty() {
                    return f64::INFINITY;
                }
                let k = ((v.len() as f64) * (1.0 - share)).floor() as usize;
                v[k.min(v.len() - 1)].max(f64::MIN_POSITIVE)
            })
            .collect()
    }

    /// Share of products selling less than `value` in `week`.
    fn percentile(&self, week: usize, value: f64) -> f64 {
        let v = &self.sorted[week];
        v.partition_point(|&x| x < value) as f64 / v.len().max(1) as f64
    }
}

/// The first onset period of one product's weekly series, its rule and rise factor.
fn onset_week(
    series: &[f64],
    top: &[f64],
    params: &TrendParams,
) -> Option<(usize, OnsetRule, f64)> {
    let (b, s) = (params.baseline_weeks, params.sustain_weeks);
    if series.len() < b + s + 1 {
        return None;
    }
    // A product is on sale from its first period with sales; before it has been on sale for
    // `baseline_weeks` it has no baseline (a launch is not an onset).
    let first = series.iter().position(|&v| v > 0.0)?;
    for w in (first + b).max(b)..series.len() - s {
        let base_window = &series[w - b..w];
        if base_window.iter().filter(|&&v| v > 0.0).count() < params.min_active_baseline_weeks {
            continue;
        }
        let baseline = baseline_of(series, w, params);
        // The onset period may be only partly up; the `s` periods after it must be up, all but
        // a few: the lower median lets one period in four dip (a stock-out) while a promotion of
        // two periods or less never passes, however high it goes.
        let sustained = lower_median(&series[w + 1..=w + s]);
        // A rise is dated at its first period: the period itself must be up too, partly.
        if series[w] <= baseline {
            continue;
        }
        let rise = sustained / baseline;
        if rise >= params.min_rise {
            return Some((w, OnsetRule::Rise, rise));
        }
        let in_top_now = (w + 1..=w + s).all(|i| series[i] >= top[i]);
        let in_top_before = (w - b..w).any(|i| series[i] >= top[i]);
        if in_top_now && !in_top_before && rise >= params.rank_min_rise {
            return Some((w, OnsetRule::Rank, rise));
        }
    }
    None
}

/// Places the onset day by the least-squares single change point in mean of `ln(1 + units)`
/// over the days from three periods before the onset period to the end of the sustained
/// periods; the new segment must be the higher one. Returns a day index on the grid.
fn refine_onset(daily: &[f32], week: usize, sustain_weeks: usize) -> usize {
    let lo = (week * 7).saturating_sub(21);
    let hi = daily.len().min((week + sustain_weeks + 1) * 7);
    let x: Vec<f64> = daily[lo..hi].iter().map(|&u| (u as f64).ln_1p()).collect();
    let n = x.len();
    if n < 2 {
        return week * 7;
    }
    let total: f64 = x.iter().sum();
    let mut best = (f64::MIN, week * 7);
    let mut left = 0.0;
    for k in 1..n {
        left += x[k - 1];
        let (n1, n2) = (k as f64, (n - k) as f64);
        let (m1, m2) = (left / n1, (total - left) / n2);
        if m2 <= m1 {
            continue;
        }
        // Reduction of the sum of squares from splitting at k.
        let gain = n1 * n2 / n as f64 * (m2 - m1).powi(2);
        if gain > best.0 {
            best = (gain, lo + k);
        }
    }
    best.1
}

/// The lower of the two middle values (the middle value for odd lengths).
fn lower_median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[(s.len() - 1) / 2]
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::TableKind;

    fn grid(curves: Vec<Vec<f32>>) -> (DemandGrid, Catalog) {
        let mut products = Catalog::new(TableKind::Products);
        for i in 0..curves.len() {
            products.id.push(format!("p{i}"));
        }
        let days = curves[0].len();
        (
            DemandGrid {
                start: Date::from_ymd(2024, 1, 1).unwrap(),
                days,
                units: curves,
            },
            products,
        )
    }

    fn weekly_cycle(day: usize, level: f32) -> f32 {
        level * if day % 7 >= 5 { 1.6 } else { 0.8 }
    }

    #[test]
    fn sustained_rise_is_found_near_its_start() {
        let curve: Vec<f32> = (0..364)
            .map(|d| weekly_cycle(d, if d >= 150 { 40.0 } else { 5.0 }))
            .collect();
        let (g, p) = grid(vec![curve]);
        let ev = detect_onsets(&g, &p, &TrendParams::default());
        assert_eq!(ev.len(), 1);
        let onset = g.start.days_until(ev[0].onset);
        assert!((onset - 150).abs() <= 3, "onset day {onset}");
        assert!(ev[0].rise_factor > 6.0);
        assert_eq!(ev[0].rule, OnsetRule::Rise);
    }

    #[test]
    fn promotions_stockouts_and_launches_are_not_onsets() {
        let promo: Vec<f32> = (0..364)
            .map(|d| weekly_cycle(d, if (100..114).contains(&d) { 50.0 } else { 5.0 }))
            .collect();
        let stockout: Vec<f32> = (0..364)
            .map(|d| {
                if (120..134).contains(&d) {
                    0.0
                } else {
                    weekly_cycle(d, 5.0)
                }
            })
            .collect();
        let launch: Vec<f32> = (0..364)
            .map(|d| if d >= 200 { 30.0 } else { 0.0 })
            .collect();
        let mild: Vec<f32> = (0..364)
            .map(|d| if d >= 200 { 12.0 } else { 5.0 })
            .collect();
        let (g, p) = grid(vec![promo, stockout, launch, mild]);
        let params = TrendParams {
            top_share: 0.0,
            ..TrendParams::default()
        };
        assert!(detect_onsets(&g, &p, &params).is_empty());
    }

    #[test]
    fn params_are_range_checked() {
        let bad = TrendParams {
            min_rise: 0.5,
            ..TrendParams::default()
        };
        let err = bad.check().unwrap_err().to_string();
        assert!(err.contains("trend.min_rise"), "{err}");
        assert!(TrendParams::default().check().is_ok());
    }
}
