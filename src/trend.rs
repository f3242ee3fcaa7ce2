//! Bestseller onsets from the home sales series.
//!
//! The sales panel is put on a daily grid with explicit zeros ([`DemandGrid`]; revenue stands in
//! for units where a row gives no units) and summed into 7-day periods, which removes weekly
//! cycles. A product's onset period is the first period that is above its baseline and after
//! which demand stays up: the lower median of the next `sustain_weeks` periods is at least
//! `min_rise` times the baseline (rule 1), or the product enters the top `top_share` of sellers
//! of its category (of the whole market when categories are absent or small) for all those
//! periods, having been out of it over the baseline periods, with a rise of at least
//! `rank_min_rise` (rule 2). The baseline is the larger of the median of the last
//! `baseline_weeks` periods and the running median since the product's first sale, so a
//! recovery after a stock-out or an off season is not a rise. The lower median lets one period
//! in four dip while a promotion that falls within two periods never passes (a two-week
//! promotion straddling three periods can, when each partial period alone reaches the
//! threshold: about 10x). Demand must then reach the threshold in at least `sustain_weeks` of
//! the `3 * sustain_weeks` periods from the onset on, so that the dip is made up later and a
//! three-week spike is not a rise. A product on sale for fewer than `baseline_weeks` periods (a
//! launch) has no baseline and no onset.
//!
//! The onset day is then placed by Page's one-sided CUSUM on deseasonalised log daily demand
//! (E. S. Page, "Continuous inspection schemes", Biometrika 41, 1954): the start of the
//! excursion that raises the alarm. When the CUSUM raises none (a rise too small in log terms
//! for its noise), the least-squares single change point in mean is used instead (D. V.
//! Hinkley, "Inference about the change-point in a sequence of random variables", Biometrika
//! 57, 1970).
//!
//! `crossleak_eval::trend_eval` measures this stage on real Complete Journey demand curves with
//! injected rises, promotions and launches.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

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
    /// Rank products within their category for rule 2 when the catalog has categories (default
    /// true). A category is used only when it has at least `1 / top_share` products; smaller
    /// ones and products without a category are ranked against the whole market.
    pub rank_within_category: bool,
    /// CUSUM reference value as a share of the log shift between the baseline and the risen
    /// level (default 0.5, Page's choice: half the shift to detect).
    pub cusum_drift: f64,
    /// CUSUM decision interval in standard deviations of the baseline's daily log demand
    /// (default 4.0).
    pub cusum_threshold: f64,
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
            rank_within_category: true,
            cusum_drift: 0.5,
            cusum_threshold: 4.0,
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
        )?;
        check_range(
            "trend.cusum_drift",
            self.cusum_drift,
            f64::MIN_POSITIVE,
            1.0,
            "a number in (0, 1]",
        )?;
        check_range(
            "trend.cusum_threshold",
            self.cusum_threshold,
            f64::MIN_POSITIVE,
            100.0,
            "a number in (0, 100]",
        )
    }
}

/// `Ok` when parameter `name`'s value `v` is finite and in `lo..=hi`, else an
/// [`Error::Param`] naming it, its value and the `expected` range.
pub fn check_range(name: &str, v: f64, lo: f64, hi: f64, expected: &str) -> Result<()> {
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
    /// Share of the periods after onset (up to 3 times `sustain_weeks`, from the first period
    /// that starts on or after the onset day) that stay above the rule's threshold, in [0, 1].
    pub confidence: f64,
    /// Rule that found the onset.
    pub rule: OnsetRule,
}

/// Daily demand per product on a dense grid.
#[derive(Clone, Debug)]
pub struct DemandGrid {
    /// First day of the grid.
    pub start: Date,
    /// Number of days.
    pub days: usize,
    /// `units[product][day]`: units sold, or units derived from revenue (see
    /// [`DemandGrid::build`]).
    pub units: Vec<Vec<f32>>,
    /// How each product's series was measured.
    pub measure: Vec<DemandMeasure>,
}

/// What a product's demand series counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandMeasure {
    /// Units, as given (also for products without sales rows).
    Units,
    /// Units, with rows that give only revenue converted at the product's unit price.
    UnitsFromRevenue,
    /// Revenue: no row of the product gives units and no unit price is known. The rise rule is
    /// scale-free and applies unchanged; ranks compare revenue with other products' units.
    Revenue,
}

impl DemandGrid {
    /// Sums the sales panel onto a daily grid indexed like `products`, with explicit zeros on
    /// days without a row (rows whose product is not in the catalog are skipped; ingest already
    /// rejects them).
    ///
    /// Units are used where a row gives them. A row that gives only revenue is converted to
    /// units at the product's unit price: its total revenue over total units on the rows that
    /// give both, else the catalog `price`. A product with no units at all and no price is
    /// measured in revenue ([`DemandMeasure::Revenue`]); a product that mixes units-only and
    /// revenue-only rows with no price anywhere keeps its units rows only.
    pub fn build(sales: &SalesPanel, products: &Catalog) -> DemandGrid {
        let n = products.len();
        let index: HashMap<&str, usize> = products
            .id
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let (Some(lo), Some(hi)) = (sales.dates().iter().min(), sales.dates().iter().max()) else {
            return DemandGrid {
                start: Date(0),
                days: 0,
                units: vec![Vec::new(); n],
                measure: vec![DemandMeasure::Units; n],
            };
        };
        // Product index of every row (`u32::MAX`: not in the catalog), looked up once per id.
        let of_code: Vec<u32> = sales
            .distinct_ids()
            .iter()
            .map(|id| index.get(id.as_str()).map_or(u32::MAX, |&p| p as u32))
            .collect();
        let product_of: Vec<u32> = sales
            .id_codes()
            .par_iter()
            .map(|&c| of_code[c as usize])
            .collect();
        let days = (hi.0 - lo.0 + 1) as usize;
        let order = canonical_order(sales, &product_of);
        let rows = (0..product_of.len()).map(|k| order.as_ref().map_or(k, |o| o[k]));
        let mut units = vec![vec![0f32; days]; n];
        // One pass adds the units and gathers, per product, the revenue and units of the rows
        // that give both (its unit price); rows that give only revenue wait for that price.
        let mut revenue_sum = vec![0.0f64; n];
        let mut units_sum = vec![0.0f64; n];
        let mut has_units = vec![false; n];
        let mut revenue_only = Vec::new();
        for i in rows {
            let p = product_of[i] as usize;
            if p >= n {
                continue;
            }
            match (sales.units(i), sales.revenue(i)) {
                (Some(u), r) => {
                    units[p][(sales.dates()[i].0 - lo.0) as usize] += u as f32;
                    has_units[p] = true;
                    if let Some(r) = r {
                        revenue_sum[p] += r;
                        units_sum[p] += u;
                    }
                }
                (None, Some(_)) => revenue_only.push(i),
                (None, None) => {}
            }
        }
        let mut measure = vec![DemandMeasure::Units; n];
        let mut price: Vec<Option<f64>> = vec![None; n];
        for &i in &revenue_only {
            let p = product_of[i] as usize;
            if measure[p] != DemandMeasure::Units || price[p].is_some() {
                continue;
            }
            let own =
                (units_sum[p] > 0.0 && revenue_sum[p] > 0.0).then(|| revenue_sum[p] / units_sum[p]);
            price[p] = own
                .or(products.price.get(p).copied().flatten())
                .filter(|&x| x.is_finite() && x > 0.0);
            measure[p] = match (price[p], has_units[p]) {
                (Some(_), _) => DemandMeasure::UnitsFromRevenue,
                (None, false) => DemandMeasure::Revenue,
                // Units rows and revenue-only rows with no price anywhere: units rows only.
                (None, true) => DemandMeasure::Units,
            };
        }
        for &i in &revenue_only {
            let p = product_of[i] as usize;
            let r = sales.revenue(i).unwrap_or(0.0);
            let value = match (measure[p], price[p]) {
                (DemandMeasure::UnitsFromRevenue, Some(price)) => r / price,
                (DemandMeasure::Revenue, _) => r,
                _ => continue,
            };
            units[p][(sales.dates()[i].0 - lo.0) as usize] += value as f32;
        }
        DemandGrid {
            start: *lo,
            days,
            units,
            measure,
        }
    }

    /// A grid from daily series already on one calendar (every series `days` long).
    pub fn from_daily(start: Date, units: Vec<Vec<f32>>) -> Result<DemandGrid> {
        let days = units.first().map_or(0, Vec::len);
        if let Some(p) = units.iter().position(|u| u.len() != days) {
            return Err(Error::Config(format!(
                "demand grid: product {p} has {} days, the first has {days}",
                units[p].len()
            )));
        }
        let measure = vec![DemandMeasure::Units; units.len()];
        Ok(DemandGrid {
            start,
            days,
            units,
            measure,
        })
    }

    /// 7-day sums from the grid start (a trailing partial period is dropped).
    pub fn weekly(&self) -> Vec<Vec<f64>> {
        let weeks = self.days / 7;
        self.units
            .par_iter()
            .map(|d| weekly_sums(d, weeks))
            .collect()
    }
}

/// The order in which sales rows are added up: by product, date and then value, so that the
/// grid (float sums of several rows for one day, the unit price from revenue) is the same
/// whatever the order of the file's rows. `None` when the rows already come in that order, as
/// long-form exports usually do.
fn canonical_order(sales: &SalesPanel, product_of: &[u32]) -> Option<Vec<usize>> {
    let key = |i: usize| {
        (
            product_of[i],
            sales.dates()[i],
            sales.units(i).map(f64::to_bits),
            sales.revenue(i).map(f64::to_bits),
        )
    };
    let sorted = (1..product_of.len())
        .into_par_iter()
        .all(|i| key(i - 1) <= key(i));
    if sorted {
        return None;
    }
    let mut order: Vec<usize> = (0..product_of.len()).collect();
    order.par_sort_unstable_by_key(|&i| key(i));
    Some(order)
}

fn weekly_sums(daily: &[f32], weeks: usize) -> Vec<f64> {
    (0..weeks)
        .map(|w| daily[w * 7..w * 7 + 7].iter().map(|&u| u as f64).sum())
        .collect()
}

/// Finds the bestseller onsets of every product, in product order.
///
/// `products` must be the catalog the grid was built for (same length and order); a shorter
/// catalog limits detection to its products.
pub fn detect_onsets(
    grid: &DemandGrid,
    products: &Catalog,
    params: &TrendParams,
) -> Vec<BestsellerEvent> {
    let n = grid.units.len().min(products.len());
    let weeks = grid.days / 7;
    let weekly: Vec<Vec<f64>> = grid.units[..n]
        .par_iter()
        .map(|d| weekly_sums(d, weeks))
        .collect();
    let ranking = Ranking::new(&weekly, weeks, products, params);
    (0..n)
        .into_par_iter()
        .filter_map(|p| {
            let series = &weekly[p];
            let group = ranking.group[p];
            let top = &ranking.top[group];
            let (week, rule, rise, baseline) = onset_week(series, top, params)?;
            let factor = match rule {
                OnsetRule::Rise => params.min_rise,
                OnsetRule::Rank => params.rank_min_rise,
            };
            let daily = &grid.units[p];
            let onset_day = cusum_onset(daily, week, params)
                .unwrap_or_else(|| refine_onset(daily, week, params.sustain_weeks));
            let threshold = factor * baseline;
            // Periods from the first one that starts on or after the onset day (the detection
            // period may be the one before, partly up).
            let first_full = onset_day.div_ceil(7).min(week + 1);
            let after = &series[first_full..weeks.min(first_full + 3 * params.sustain_weeks)];
            // Staying up means reaching the threshold in at least `sustain_weeks` periods from
            // the onset on: the dip the lower median allows must be made up within them, so a
            // three-week spike that passes the median is not a rise.
            let at = after.iter().filter(|&&v| v >= threshold).count();
            if at < params.sustain_weeks.min(after.len()) {
                return None;
            }
            let confidence = at as f64 / after.len().max(1) as f64;
            let (peak_week, peak) =
                series[week..]
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f64::MIN),
                        |best, (i, &v)| if v > best.1 { (i, v) } else { best },
                    );
            let peak_week = week + peak_week;
            let rank_percentile = ranking.ranks[group].percentile(peak_week, peak);
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

/// Who each product is ranked against: its category when [`TrendParams::rank_within_category`]
/// is on and the category has at least `1 / top_share` products (fewer cannot hold a top share
/// of that size), else the whole market.
struct Ranking {
    /// Rank group of each product (0 = the whole market).
    group: Vec<usize>,
    /// Sorted weekly units per group.
    ranks: Vec<WeekRanks>,
    /// Top-seller threshold per group and week.
    top: Vec<Vec<f64>>,
}

impl Ranking {
    fn new(weekly: &[Vec<f64>], weeks: usize, products: &Catalog, params: &TrendParams) -> Ranking {
        let n = weekly.len();
        let mut group = vec![0usize; n];
        let mut members: Vec<Vec<usize>> = vec![(0..n).collect()];
        if params.rank_within_category && params.top_share > 0.0 {
            let min_size = (1.0 / params.top_share).ceil() as usize;
            let mut by_cat: BTreeMap<&str, Vec<usize>> = Default::default();
            for p in 0..n {
                if let Some(Some(c)) = products.category.get(p) {
                    by_cat.entry(c.as_str()).or_default().push(p);
                }
            }
            for ps in by_cat.into_values().filter(|ps| ps.len() >= min_size) {
                for &p in &ps {
                    group[p] = members.len();
                }
                members.push(ps);
            }
        }
        let ranks: Vec<WeekRanks> = members
            .iter()
            .map(|m| WeekRanks::new(weekly, m, weeks))
            .collect();
        let top = ranks
            .iter()
            .map(|r| r.top_thresholds(params.top_share))
            .collect();
        Ranking { group, ranks, top }
    }
}

/// The units of a group of products in each week, sorted: one sort per week serves the
/// top-seller thresholds and every rank percentile.
struct WeekRanks {
    sorted: Vec<Vec<f64>>,
}

impl WeekRanks {
    fn new(weekly: &[Vec<f64>], members: &[usize], weeks: usize) -> WeekRanks {
        let sorted = (0..weeks)
            .into_par_iter()
            .map(|w| {
                let mut v: Vec<f64> = members.iter().map(|&p| weekly[p][w]).collect();
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

/// Running median of non-negative values: a max-heap of the lower half and a min-heap of the
/// upper half, O(log n) per value. Values are kept as the bits of non-negative `f64`s, whose
/// integer order is their numeric order.
#[derive(Default)]
struct RunningMedian {
    low: BinaryHeap<u64>,
    high: BinaryHeap<Reverse<u64>>,
}

impl RunningMedian {
    fn push(&mut self, x: f64) {
        // Negative zero and NaN (not produced by ingest) count as zero.
        let bits = if x > 0.0 { x.to_bits() } else { 0 };
        match self.low.peek() {
            Some(&top) if bits > top => self.high.push(Reverse(bits)),
            _ => self.low.push(bits),
        }
        if self.low.len() > self.high.len() + 1 {
            if let Some(v) = self.low.pop() {
                self.high.push(Reverse(v));
            }
        } else if self.high.len() > self.low.len() {
            if let Some(Reverse(v)) = self.high.pop() {
                self.low.push(v);
            }
        }
    }

    /// The median (mean of the two middle values for an even count); 0 when empty.
    fn median(&self) -> f64 {
        let lo = self.low.peek().map_or(0.0, |&b| f64::from_bits(b));
        if self.low.len() > self.high.len() {
            lo
        } else {
            let hi = self.high.peek().map_or(lo, |&Reverse(b)| f64::from_bits(b));
            (lo + hi) / 2.0
        }
    }
}

/// The first onset period of one product's weekly series: its rule, rise factor and baseline.
///
/// The baseline before period `w` is the larger of the median of the last `baseline_weeks`
/// periods and the median of all periods since the first sale (kept as a running median),
/// floored. The long-run median keeps a recovery after a dip (stock-out, off season) from
/// reading as a rise.
fn onset_week(
    series: &[f64],
    top: &[f64],
    params: &TrendParams,
) -> Option<(usize, OnsetRule, f64, f64)> {
    let (b, s) = (params.baseline_weeks, params.sustain_weeks);
    if series.len() < b + s + 1 {
        return None;
    }
    // A product is on sale from its first period with sales; before it has been on sale for
    // `baseline_weeks` it has no baseline (a launch is not an onset).
    let first = series.iter().position(|&v| v > 0.0)?;
    let least_rise = params.min_rise.min(params.rank_min_rise);
    let mut long_run = RunningMedian::default();
    let mut pushed = first;
    for w in (first + b).max(b)..series.len() - s {
        while pushed < w {
            long_run.push(series[pushed]);
            pushed += 1;
        }
        let base_window = &series[w - b..w];
        if base_window.iter().filter(|&&v| v > 0.0).count() < params.min_active_baseline_weeks {
            continue;
        }
        // Both rules need the period above the baseline and the lower median of the next `s`
        // periods at least `least_rise` times it, so at least `s - (s - 1) / 2` of them that
        // high; checked first against a lower bound of the baseline, which skips most periods
        // without sorting.
        let lower_bound = long_run.median().max(params.baseline_floor);
        if series[w] <= lower_bound
            || series[w + 1..=w + s]
                .iter()
                .filter(|&&v| v >= least_rise * lower_bound)
                .count()
                < s - (s - 1) / 2
        {
            continue;
        }
        let baseline = median(base_window).max(lower_bound);
        // A rise is dated at its first period: the period itself must be up too, partly.
        if series[w] <= baseline {
            continue;
        }
        // The onset period may be only partly up; the `s` periods after it must be up, all but
        // a few: the lower median lets one period in four dip (a stock-out) while a promotion
        // within two periods never passes, however high it goes.
        let sustained = lower_median(&series[w + 1..=w + s]);
        let rise = sustained / baseline;
        if rise >= params.min_rise {
            return Some((w, OnsetRule::Rise, rise, baseline));
        }
        let in_top_now = (w + 1..=w + s).all(|i| series[i] >= top[i]);
        let in_top_before = (w - b..w).any(|i| series[i] >= top[i]);
        if in_top_now && !in_top_before && rise >= params.rank_min_rise {
            return Some((w, OnsetRule::Rank, rise, baseline));
        }
    }
    None
}

/// Dates the onset by Page's one-sided CUSUM on log demand (E. S. Page, "Continuous inspection
/// schemes", Biometrika 41, 1954), the change day being the start of the excursion that raises
/// the alarm (the last day the statistic was zero, plus one).
///
/// The series is `x_t = ln(1 + units_t)` minus a day-of-week profile, both estimated on the
/// `baseline_weeks` periods before the onset period. The in-control level `mu0` is the median of
/// the baseline periods' mean `x`, the risen level `mu1` the median over the `sustain_weeks`
/// periods after it (medians, so a promotion or a stock-out in either window does not move
/// them). The reference value is `k = cusum_drift * (mu1 - mu0)` (Page's half the shift by
/// default) and the decision interval `h = cusum_threshold` standard deviations of the baseline
/// `x`. The statistic runs from the start of the baseline window; the first alarm on or after
/// the onset period's first day dates the change. `None` when the periods do not rise in log
/// terms or no alarm is raised.
fn cusum_onset(daily: &[f32], week: usize, params: &TrendParams) -> Option<usize> {
    let (b, s) = (params.baseline_weeks, params.sustain_weeks);
    let lo = week.checked_sub(b)? * 7;
    let hi = daily.len().min((week + s + 1) * 7);
    if hi <= week * 7 + 7 {
        return None;
    }
    let x: Vec<f64> = daily[lo..hi].iter().map(|&u| (u as f64).ln_1p()).collect();
    let base = &x[..b * 7];
    let base_mean = base.iter().sum::<f64>() / base.len() as f64;
    // Day-of-week profile of the baseline (grid days, so `lo` is a multiple of 7).
    let mut profile = [0.0f64; 7];
    for (i, v) in base.iter().enumerate() {
        profile[i % 7] += v / b as f64;
    }
    for p in &mut profile {
        *p -= base_mean;
    }
    let z: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, v)| v - profile[i % 7])
        .collect();
    let week_means = |from: usize, to: usize| -> Vec<f64> {
        (from..to)
            .map(|w| z[w * 7..w * 7 + 7].iter().sum::<f64>() / 7.0)
            .collect()
    };
    let mu0 = median(&week_means(0, b));
    let after_end = ((hi - lo) / 7).min(b + 1 + s);
    let mu1 = median(&week_means(b + 1, after_end));
    let shift = mu1 - mu0;
    if shift.is_nan() || shift <= 0.0 {
        return None;
    }
    let sd = (z[..b * 7].iter().map(|v| (v - mu0).powi(2)).sum::<f64>() / (b * 7) as f64)
        .sqrt()
        .max(1e-3);
    let k = params.cusum_drift * shift;
    let h = params.cusum_threshold * sd;
    let mut stat = 0.0f64;
    let mut last_zero = None;
    for (i, v) in z.iter().enumerate() {
        stat = (stat + v - mu0 - k).max(0.0);
        if stat == 0.0 {
            last_zero = Some(i);
        } else if lo + i >= week * 7 && stat > h {
            return Some(lo + last_zero.map_or(0, |z| z + 1));
        }
    }
    None
}

/// Fallback dating when the CUSUM raises no alarm: the least-squares single change point in
/// mean of `ln(1 + units)` (Hinkley 1970) over the days from three periods before the onset
/// period to the end of the sustained periods; the new segment must be the higher one. Returns
/// a day index on the grid.
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

pub(crate) fn median(v: &[f64]) -> f64 {
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
        (
            DemandGrid::from_daily(Date::from_ymd(2024, 1, 1).unwrap(), curves).unwrap(),
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
    fn a_rise_must_stay_up_four_weeks_not_three() {
        // Both rise in the middle of week 20 (day 144) and pass the lower median of weeks
        // 21..=24. The spike is up for weeks 21, 22 and 23 only; the other dips in week 22
        // and is up again in weeks 23 to 25: four weeks at the threshold.
        let curve = |up: &[usize]| -> Vec<f32> {
            (0..364)
                .map(|d| {
                    let w = d / 7;
                    if d >= 144 && (w == 20 || up.contains(&w)) {
                        50.0
                    } else {
                        5.0
                    }
                })
                .collect()
        };
        let (g, p) = grid(vec![curve(&[21, 22, 23]), curve(&[21, 23, 24, 25])]);
        let params = TrendParams {
            top_share: 0.0,
            ..TrendParams::default()
        };
        let ev = detect_onsets(&g, &p, &params);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0].product, 1);
    }

    #[test]
    fn running_median_matches_sorting() {
        let xs = [3.0, 0.0, 7.5, 1.0, 1.0, 9.0, -0.0, 4.0, 2.0];
        let mut rm = RunningMedian::default();
        assert_eq!(rm.median(), 0.0);
        for i in 0..xs.len() {
            rm.push(xs[i]);
            let want = median(&xs[..=i].iter().map(|&x| x.max(0.0)).collect::<Vec<_>>());
            assert_eq!(rm.median(), want, "after {} values", i + 1);
        }
    }

    #[test]
    fn cusum_dates_the_start_of_a_ramp() {
        // Weekly cycle at 6 a day, then a linear ramp from day 161 to 20x over 10 days.
        let curve: Vec<f32> = (0..364)
            .map(|d| {
                let m = if d < 161 {
                    1.0
                } else {
                    (1.0 + 19.0 * (d - 160) as f32 / 10.0).min(20.0)
                };
                weekly_cycle(d, 6.0) * m
            })
            .collect();
        let (g, p) = grid(vec![curve]);
        let ev = detect_onsets(&g, &p, &TrendParams::default());
        assert_eq!(ev.len(), 1);
        let onset = g.start.days_until(ev[0].onset);
        assert!((161..=164).contains(&onset), "onset day {onset}");
        // No rise in log terms: no CUSUM date.
        let flat = vec![5.0f32; 364];
        assert_eq!(cusum_onset(&flat, 20, &TrendParams::default()), None);
    }

    #[test]
    fn params_are_range_checked() {
        let bad = TrendParams {
            min_rise: 0.5,
            ..TrendParams::default()
        };
        let err = bad.check().unwrap_err().to_string();
        assert!(err.contains("trend.min_rise"), "{err}");
        let bad = TrendParams {
            cusum_drift: 0.0,
            ..TrendParams::default()
        };
        assert!(bad.check().is_err());
        assert!(TrendParams::default().check().is_ok());
    }
}
