//! From matched pairs to findings: temporal linking, control groups and seller- and
//! category-level evidence.
//!
//! Each foreign listing is linked to the home product it most probably copies. When that
//! product is a bestseller, the listing's lag after the onset classifies it: within the window
//! (default 1..=180 days) it *follows* the bestseller and is an alert; listed on or before the
//! onset it is *pre-existing* (reported, never an alert); after the onset but outside the
//! window it is *outside the window*.
//!
//! # Evidence
//! A seller's (or a category's) evidence asks whether its copies of bestsellers come soon
//! after the onsets more often than chance, answering three objections:
//!
//! * *"Every seller lists some popular products."* Only the timing of copies is tested, never
//!   how many bestsellers a seller copies: the statistics condition on the copies that exist.
//! * *"Copies appear in that window anyway."* Each bestseller gets a **control group**: the
//!   comparable non-bestsellers of its `Strata` stratum (same category, price tercile within
//!   the category, age tercile by first-seen date, coarsened where a cell holds fewer than
//!   `min_stratum` bestsellers). Its control rate is the share of foreign copies of those
//!   products listed in the bestseller's window (`(k + 0.5) / (n + 1)`; all strata's controls
//!   when the stratum has fewer than `min_controls` copies). A group's expected follows are the
//!   sum of the control rates over its bestseller copies; `lift = follows / expected`, with a
//!   95% interval from the exact (Garwood) Poisson interval on the follows, the expectation
//!   taken as fixed.
//! * *"Among 500 sellers a few look odd by chance."* The p-value comes from a **permutation
//!   test**: the statistic is the sum over the group's copies of a recency score, `1 - (lag -
//!   min_lag) / (max_lag - min_lag + 1)` inside the window and 0 outside, and each of
//!   `permutations` draws shuffles the onsets among the comparable bestsellers of each stratum
//!   (the group's copied products get distinct onsets of their strata). `p = (1 + #{T* >= T})
//!   / (1 + permutations)` is a valid p-value; Benjamini-Hochberg q-values control the false
//!   discovery rate over sellers and, separately, over categories. A group is flagged when
//!   `q < alpha`, `lift >= min_lift` and it has at least `min_follow_listings` follows.
//!
//! Sellers and categories run in parallel; each draws from its own ChaCha stream seeded from
//! `seed`, the group kind and its rank in id order, so results are identical on any number of
//! threads.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use serde::{Deserialize, Serialize};

use crate::trend::{check_range, BestsellerEvent};
use crate::{Date, Error, Result};

mod stats;
mod strata;

use stats::{benjamini_hochberg, lift_interval};
use strata::Strata;

/// Parameters of temporal linking and seller statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeakParams {
    /// Earliest lag after onset that counts as following, in days (default 1).
    pub min_lag_days: i32,
    /// Latest lag after onset that counts as following, in days (default 180).
    pub max_lag_days: i32,
    /// False discovery rate for flagging sellers (default 0.05).
    pub alpha: f64,
    /// Minimum lift (follow rate over expected rate) for flagging (default 1.5).
    pub min_lift: f64,
    /// Minimum follow listings for flagging: fewer cannot show a pattern (default 3).
    pub min_follow_listings: usize,
    /// Permutations of the onsets per seller or category (default 9999).
    pub permutations: usize,
    /// Most permutations for a group whose statistic fewer than 10 of the first
    /// `permutations` draws reach: its test continues until 10 draws have reached it, or until
    /// a p-value could fall to a tenth of Benjamini-Hochberg's first threshold (10 m / alpha
    /// draws for m tested groups), at most this many (default 1,000,000; at most `permutations`
    /// turns the continuation off).
    pub max_permutations: usize,
    /// Seed of the permutations (default 0).
    pub seed: u64,
    /// Minimum bestsellers in a stratum of comparable products; smaller cells pool into a
    /// coarser stratum (default 10).
    pub min_stratum: usize,
    /// Minimum control copies (matched listings of comparable non-bestsellers) for a stratum's
    /// own control rate; with fewer, the controls of all strata are used (default 30).
    pub min_controls: usize,
}

impl Default for LeakParams {
    fn default() -> Self {
        LeakParams {
            min_lag_days: 1,
            max_lag_days: 180,
            alpha: 0.05,
            min_lift: 1.5,
            min_follow_listings: 3,
            permutations: 9999,
            max_permutations: 1_000_000,
            seed: 0,
            min_stratum: 10,
            min_controls: 30,
        }
    }
}

impl LeakParams {
    /// Checks every parameter's range.
    pub fn check(&self) -> Result<()> {
        check_range(
            "leak.min_lag_days",
            self.min_lag_days as f64,
            0.0,
            3650.0,
            "0..=3650",
        )?;
        if self.max_lag_days < self.min_lag_days || self.max_lag_days > 3650 {
            return Err(Error::Param {
                name: "leak.max_lag_days".into(),
                value: self.max_lag_days.to_string(),
                expected: format!("min_lag_days ({})..=3650", self.min_lag_days),
            });
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::Param {
                name: "leak.alpha".into(),
                value: self.alpha.to_string(),
                expected: "0 < alpha < 1".into(),
            });
        }
        check_range(
            "leak.min_lift",
            self.min_lift,
            0.0,
            f64::MAX,
            "a number >= 0",
        )?;
        check_range(
            "leak.permutations",
            self.permutations as f64,
            99.0,
            1e7,
            "99..=10000000",
        )?;
        check_range(
            "leak.max_permutations",
            self.max_permutations as f64,
            0.0,
            1e8,
            "0..=100000000",
        )?;
        check_range(
            "leak.min_stratum",
            self.min_stratum as f64,
            2.0,
            1e9,
            "an integer >= 2",
        )?;
        check_range(
            "leak.min_controls",
            self.min_controls as f64,
            1.0,
            1e9,
            "an integer >= 1",
        )
    }
}

/// How a copy of a bestseller sits in time relative to its onset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// Listed within the window after onset: an alert.
    Follows,
    /// Listed on or before the onset.
    PreExisting,
    /// Listed after the onset but outside the window.
    OutsideWindow,
}

/// A foreign listing linked to the home bestseller it copies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeakAlert {
    /// 1-based data row of the listing in the catalog file.
    pub listing_row: usize,
    /// Foreign listing id.
    pub listing_id: String,
    /// Home product index.
    pub product: usize,
    /// Home product id.
    pub product_id: String,
    /// Foreign seller (None when the catalog has no seller column).
    pub seller_id: Option<String>,
    /// Match probability.
    pub match_probability: f64,
    /// Days from onset to listing.
    pub lag_days: i32,
    /// Bestseller onset.
    pub onset: Date,
    /// Listing date.
    pub listed_at: Date,
    /// Timing class.
    pub timing: Timing,
    /// The similarity features behind the match and its explanation.
    #[serde(flatten)]
    pub evidence: MatchEvidence,
}

/// A matched listing as `leak` needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct MatchedListing {
    /// Listing index.
    pub listing: usize,
    /// Home product index it copies.
    pub product: usize,
    /// Match probability.
    pub probability: f64,
    /// Features and explanation, carried into the alert.
    pub evidence: MatchEvidence,
}

/// Similarity evidence carried from matching into alerts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MatchEvidence {
    /// Word TF-IDF cosine.
    pub word_cosine: f64,
    /// Character n-gram TF-IDF cosine.
    pub char_cosine: f64,
    /// Token Jaccard similarity.
    pub token_jaccard: f64,
    /// Agreement of numbers, units and model codes (None when a side has none).
    pub number_agreement: Option<f64>,
    /// Price similarity min/max, same currency only (None otherwise).
    pub price_similarity: Option<f64>,
    /// The features that weighed most in the match decision.
    pub explanation: String,
}

/// What `leak` needs of the matched foreign listings (`MatchedListing::listing` indexes
/// these slices); listings that matched nothing may be left out.
#[derive(Clone, Copy, Debug)]
pub struct ListingInfo<'a> {
    /// Listing ids.
    pub id: &'a [String],
    /// Seller ids.
    pub seller_id: &'a [Option<String>],
    /// Listing dates.
    pub listed_at: &'a [Date],
    /// 1-based data rows in the catalog file.
    pub source_row: &'a [usize],
}

/// Counts over the whole foreign catalog that the seller statistics need: listings per seller
/// and per listing day. They are added up a listing at a time, so a catalog read in chunks
/// never has to be held whole.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingTotals {
    per_seller: BTreeMap<String, usize>,
    per_day: BTreeMap<i32, usize>,
    listings: usize,
}

impl ListingTotals {
    /// Counts one listing.
    pub fn add(&mut self, seller_id: Option<&str>, listed_at: Date) {
        if let Some(s) = seller_id {
            match self.per_seller.get_mut(s) {
                Some(n) => *n += 1,
                None => {
                    self.per_seller.insert(s.to_string(), 1);
                }
            }
        }
        *self.per_day.entry(listed_at.0).or_default() += 1;
        self.listings += 1;
    }

    /// The totals of every listing in `info`.
    pub fn of(info: ListingInfo<'_>) -> ListingTotals {
        let mut t = ListingTotals::default();
        for (s, d) in info.seller_id.iter().zip(info.listed_at) {
            t.add(s.as_deref(), *d);
        }
        t
    }

    /// Adds the counts of `other` (another part of the same catalog).
    pub fn merge(&mut self, other: &ListingTotals) {
        for (s, &n) in &other.per_seller {
            match self.per_seller.get_mut(s) {
                Some(m) => *m += n,
                None => {
                    self.per_seller.insert(s.clone(), n);
                }
            }
        }
        for (&d, &n) in &other.per_day {
            *self.per_day.entry(d).or_default() += n;
        }
        self.listings += other.listings;
    }

    /// Listings counted.
    pub fn listings(&self) -> usize {
        self.listings
    }

    /// Listings per seller, in seller order.
    pub fn per_seller(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.per_seller.iter().map(|(s, &n)| (s.as_str(), n))
    }

    /// Listings dated from `first` to `last`, both included.
    pub(crate) fn listed_between(&self, first: i32, last: i32) -> usize {
        if first > last {
            return 0;
        }
        self.per_day.range(first..=last).map(|(_, &n)| n).sum()
    }
}

/// Output of temporal linking.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Linked {
    /// Copies that follow an onset within the window.
    pub alerts: Vec<LeakAlert>,
    /// Copies listed on or before the onset.
    pub pre_existing: Vec<LeakAlert>,
    /// Copies listed after the onset but outside the window.
    pub outside_window: Vec<LeakAlert>,
}

/// Links matched listings to bestseller onsets. `onset_of[p]` is the event of product `p`, if
/// it is a bestseller. Output is ordered by listing.
pub(crate) fn link(
    matches: &[MatchedListing],
    events: &[BestsellerEvent],
    n_products: usize,
    listings: ListingInfo<'_>,
    params: &LeakParams,
) -> Linked {
    let mut event_of: Vec<Option<&BestsellerEvent>> = vec![None; n_products];
    for e in events {
        if e.product < n_products {
            event_of[e.product] = Some(e);
        }
    }
    let mut out = Linked::default();
    for m in matches {
        let Some(e) = event_of.get(m.product).copied().flatten() else {
            continue;
        };
        let listed_at = listings.listed_at[m.listing];
        let lag = e.onset.days_until(listed_at);
        let timing = if lag <= 0 {
            Timing::PreExisting
        } else if (params.min_lag_days..=params.max_lag_days).contains(&lag) {
            Timing::Follows
        } else {
            Timing::OutsideWindow
        };
        let alert = LeakAlert {
            listing_row: listings.source_row[m.listing],
            listing_id: listings.id[m.listing].clone(),
            product: m.product,
            product_id: e.product_id.clone(),
            seller_id: listings.seller_id[m.listing].clone(),
            match_probability: m.probability,
            lag_days: lag,
            onset: e.onset,
            listed_at,
            timing,
            evidence: m.evidence.clone(),
        };
        match timing {
            Timing::Follows => out.alerts.push(alert),
            Timing::PreExisting => out.pre_existing.push(alert),
            Timing::OutsideWindow => out.outside_window.push(alert),
        }
    }
    out
}

/// What `leak` needs of the home catalog to build comparable groups.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProductInfo<'a> {
    /// Categories (None when unknown).
    pub category: &'a [Option<String>],
    /// Prices (None when unknown).
    pub price: &'a [Option<f64>],
    /// When the product was first seen: its `listed_at`, else its first day with sales.
    pub first_seen: &'a [Option<Date>],
}

/// Follow statistics of a group of listings: one foreign seller's, or all copies of one
/// category's products.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FollowStats {
    /// Listings in the group (a seller's catalog listings; a category's matched listings).
    pub listings: usize,
    /// Listings matched to a home bestseller.
    pub bestseller_copies: usize,
    /// Bestseller copies listed on or before the onset (never alerts).
    pub pre_existing: usize,
    /// Listings that follow a bestseller's onset within the window.
    pub follow_listings: usize,
    /// `follow_listings / listings`.
    pub follow_rate: f64,
    /// Follows expected from the control group: the sum over bestseller copies of the share of
    /// copies of comparable non-bestsellers listed in that bestseller's window.
    pub expected_follows: f64,
    /// `expected_follows / listings`.
    pub expected_rate: f64,
    /// `follow_listings / expected_follows`.
    pub lift: f64,
    /// Lower end of the 95% interval of the lift (`lift_interval`: the follows' exact Poisson
    /// interval and the expectation's own sampling error, each at 97.5%).
    pub lift_low: f64,
    /// Upper end of the 95% interval of the lift.
    pub lift_high: f64,
    /// Permutation p-value of the recency statistic, onsets shuffled among comparable
    /// bestsellers.
    pub p_value: f64,
    /// Permutation draws behind `p_value`: `permutations`, or more when few draws reached the
    /// observed statistic (0 when there was nothing to test).
    pub permutations: usize,
    /// Benjamini-Hochberg q-value over the tested groups of the same kind (sellers or
    /// categories): those with at least `min_follow_listings` bestseller copies. 1 for the
    /// others, which cannot be flagged.
    pub q_value: f64,
    /// `q_value < alpha`, `lift >= min_lift` and `follow_listings >= min_follow_listings`.
    pub flagged: bool,
    /// Median lag of the follow listings, in days.
    pub median_lag_days: Option<f64>,
    /// Lags of the follow listings, in days, ascending: the lag distribution.
    pub follow_lags_days: Vec<i32>,
}

/// Statistics of one foreign seller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SellerFinding {
    /// Seller id.
    pub seller_id: String,
    /// The seller's follow statistics.
    #[serde(flatten)]
    pub stats: FollowStats,
}

/// Statistics of the copies of one home category's bestsellers, all foreign sellers together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryFinding {
    /// Home category of the copied products (`(unknown)` when the catalog has none).
    pub category: String,
    /// The category's follow statistics.
    #[serde(flatten)]
    pub stats: FollowStats,
}

/// The control group of one bestseller: comparable non-bestsellers and how often foreign
/// listings copied them in the bestseller's follow window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ControlGroup {
    /// Bestseller product id.
    pub product_id: String,
    /// Its stratum (see `Strata`).
    pub stratum: String,
    /// Comparable bestsellers its onset is shuffled with (itself included).
    pub stratum_bestsellers: usize,
    /// Comparable non-bestsellers in the stratum.
    pub control_products: usize,
    /// Copies of those (matched foreign listings) the rate is computed from; when the stratum
    /// has fewer than `min_controls`, the controls of all strata are used.
    pub control_copies: usize,
    /// Share of the control copies listed in the bestseller's window: the probability that a
    /// copy of this bestseller follows it by chance.
    pub control_rate: f64,
}

/// Everything `leak` concludes beyond the linking.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Seller statistics, ordered by seller id.
    pub sellers: Vec<SellerFinding>,
    /// Category statistics, ordered by category.
    pub categories: Vec<CategoryFinding>,
    /// The control group of each bestseller, in bestseller order.
    pub controls: Vec<ControlGroup>,
}

/// A bestseller copy as the statistics see it.
#[derive(Clone, Copy, Debug)]
struct Copy {
    product: usize,
    listed_at: i32,
    lag: i32,
}

/// The null model: onsets per stratum for the permutations, control copy dates per stratum for
/// the expected rate.
struct NullModel<'a> {
    params: &'a LeakParams,
    stratum: &'a [usize],
    onset: Vec<Option<i32>>,
    /// Onsets of the bestsellers of each stratum.
    onsets: Vec<Vec<i32>>,
    /// Follow probability of a copy of each product (bestsellers only; 0 otherwise).
    follow_probability: Vec<f64>,
    /// Standard error of each follow probability, from the size of its control pool.
    follow_probability_se: Vec<f64>,
}

impl NullModel<'_> {
    /// Permutation p-value of the recency statistic and the draws behind it: the copied
    /// bestsellers of each stratum get distinct onsets drawn from that stratum's onsets (a
    /// random permutation of the stratum's onsets, restricted to the products in the group).
    ///
    /// After `permutations` draws, a statistic that fewer than [`EXTEND_BELOW`] (10) draws
    /// reached continues, on the same stream, until 10 draws have reached it (p = 10 / draws,
    /// Besag and Clifford's sequential p-value) or `extended` draws are done. The p-value stays
    /// valid: one under `11 / (1 + permutations)` can only come from the longer run, itself a
    /// valid sequential test, and whenever the run is extended the first run's p-value was
    /// already at most `10 / (1 + permutations)`, so no larger level is reached more often than
    /// by the first run alone.
    fn p_value(&self, copies: &[Copy], observed: f64, seed: u64, extended: usize) -> (f64, usize) {
        if copies.is_empty() || observed <= 0.0 {
            return (1.0, 0);
        }
        // Products in first-copy order with their copy dates, grouped by stratum.
        let mut products: BTreeMap<usize, Vec<i32>> = BTreeMap::new();
        for c in copies {
            products.entry(c.product).or_default().push(c.listed_at);
        }
        let mut by_stratum: BTreeMap<usize, Vec<Vec<i32>>> = BTreeMap::new();
        for (p, dates) in products {
            by_stratum.entry(self.stratum[p]).or_default().push(dates);
        }
        let mut groups: Vec<(Vec<i32>, Vec<Vec<i32>>)> = by_stratum
            .into_iter()
            .map(|(s, products)| (self.onsets[s].clone(), products))
            .collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut reaches = || {
            let mut t = 0.0;
            for (pool, products) in groups.iter_mut() {
                // Partial Fisher-Yates: the first k entries become a uniform random ordered
                // k-subset of the pool, whatever its current order.
                for (i, dates) in products.iter().enumerate() {
                    let j = rng.gen_range(i..pool.len());
                    pool.swap(i, j);
                    let o = pool[i];
                    t += dates
                        .iter()
                        .map(|&d| self.params.recency(d - o))
                        .sum::<f64>();
                }
            }
            t >= observed - 1e-9
        };
        let mut draws = self.params.permutations;
        let mut at_least = (0..draws).filter(|_| reaches()).count();
        if at_least < EXTEND_BELOW {
            // Besag and Clifford's sequential test: stop as soon as EXTEND_BELOW draws have
            // reached the statistic, with p = EXTEND_BELOW / draws.
            while draws < extended {
                draws += 1;
                if reaches() {
                    at_least += 1;
                    if at_least == EXTEND_BELOW {
                        return (at_least as f64 / draws as f64, draws);
                    }
                }
            }
        }
        ((1 + at_least) as f64 / (1 + draws) as f64, draws)
    }

    fn stats(&self, listings: usize, copies: &[Copy], seed: u64, extended: usize) -> FollowStats {
        let mut lags: Vec<i32> = copies
            .iter()
            .filter(|c| self.params.follows(c.lag))
            .map(|c| c.lag)
            .collect();
        lags.sort_unstable();
        let follows = lags.len();
        // Folded from +0 (an empty `sum` of floats is -0, which would be written as "-0.0").
        let expected = copies
            .iter()
            .map(|c| self.follow_probability[c.product])
            .fold(0.0, |a, b| a + b);
        let n = listings.max(1) as f64;
        let lift = ratio(follows as f64, expected);
        // The copies' rates may share a control pool: summing their errors bounds the error of
        // the sum whatever their correlation.
        let expected_se: f64 = copies
            .iter()
            .map(|c| self.follow_probability_se[c.product])
            .sum();
        let (lift_low, lift_high) = lift_interval(follows, expected, expected_se, 0.05);
        let observed: f64 = copies.iter().map(|c| self.params.recency(c.lag)).sum();
        let (p_value, permutations) = self.p_value(copies, observed, seed, extended);
        debug_assert!(copies.iter().all(|c| self.onset[c.product].is_some()));
        FollowStats {
            listings,
            bestseller_copies: copies.len(),
            pre_existing: copies.iter().filter(|c| c.lag <= 0).count(),
            follow_listings: follows,
            follow_rate: follows as f64 / n,
            expected_follows: expected,
            expected_rate: expected / n,
            lift,
            lift_low,
            lift_high,
            p_value,
            permutations,
            q_value: 1.0,
            flagged: false,
            median_lag_days: (!lags.is_empty()).then(|| f64::from(lags[lags.len() / 2])),
            follow_lags_days: lags,
        }
    }
}

/// `a / b`, with 0 / 0 = 0 and a / 0 = infinity.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else if a == 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// A seeded stream per group: from the seed, the group kind and its rank, never from the
/// thread that runs it.
fn group_seed(seed: u64, kind: u64, i: usize) -> u64 {
    let mut z = seed
        ^ kind.wrapping_mul(0xD1B5_4A32_D192_ED03)
        ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64 finaliser
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A group's test continues past `permutations` draws when fewer than this many reach its
/// statistic.
const EXTEND_BELOW: usize = 10;

/// Draws for a group whose statistic few draws reach, among `m` tested groups: enough that a
/// p-value can fall to a tenth of the Benjamini-Hochberg threshold of the first rank,
/// `alpha / m`, within `max_permutations`.
fn extended_draws(m: usize, params: &LeakParams) -> usize {
    let needed = (10.0 * m as f64 / params.alpha).ceil() as usize;
    needed
        .saturating_sub(1)
        .min(params.max_permutations)
        .max(params.permutations)
}

/// Benjamini-Hochberg over the tested groups; q = 1 for the others.
fn flag(stats: &mut [&mut FollowStats], params: &LeakParams) {
    let tested: Vec<usize> = (0..stats.len())
        .filter(|&i| params.tests(stats[i].bestseller_copies))
        .collect();
    let q = benjamini_hochberg(&tested.iter().map(|&i| stats[i].p_value).collect::<Vec<_>>());
    for f in stats.iter_mut() {
        f.q_value = 1.0;
        f.flagged = false;
    }
    for (&i, q) in tested.iter().zip(q) {
        let f = &mut stats[i];
        f.q_value = q;
        f.flagged = q < params.alpha
            && f.lift >= params.min_lift
            && f.follow_listings >= params.min_follow_listings;
    }
}

/// Seller and category statistics with their control groups, computed in parallel;
/// deterministic for a seed whatever the thread count.
///
/// `matches` are all matched listings (copies of any home product: the non-bestsellers' copies
/// are the control group); `linked` is [`link`]'s output for the same matches.
pub(crate) fn evidence(
    matches: &[MatchedListing],
    linked: &Linked,
    events: &[BestsellerEvent],
    products: ProductInfo<'_>,
    listings: ListingInfo<'_>,
    totals: &ListingTotals,
    params: &LeakParams,
) -> Evidence {
    let n = products.category.len();
    let mut onset: Vec<Option<i32>> = vec![None; n];
    for e in events.iter().filter(|e| e.product < n) {
        onset[e.product] = Some(e.onset.0);
    }
    let is_best: Vec<bool> = onset.iter().map(Option::is_some).collect();
    let strata = Strata::build(products, &is_best, params.min_stratum);
    let k = strata.labels.len();
    let mut onsets: Vec<Vec<i32>> = vec![Vec::new(); k];
    let mut stratum_best = vec![0usize; k];
    let mut stratum_products = vec![0usize; k];
    for p in 0..n {
        stratum_products[strata.of_product[p]] += 1;
        if let Some(o) = onset[p] {
            onsets[strata.of_product[p]].push(o);
            stratum_best[strata.of_product[p]] += 1;
        }
    }
    // Control copies: matched listings of non-bestsellers, dates sorted per stratum.
    let mut control: Vec<Vec<i32>> = vec![Vec::new(); k];
    for m in matches
        .iter()
        .filter(|m| m.product < n && !is_best[m.product])
    {
        if let Some(d) = listings.listed_at.get(m.listing) {
            control[strata.of_product[m.product]].push(d.0);
        }
    }
    let mut all_control: Vec<i32> = control.iter().flatten().copied().collect();
    for c in control.iter_mut() {
        c.sort_unstable();
    }
    all_control.sort_unstable();
    let in_window = |dates: &[i32], o: i32| {
        let a = dates.partition_point(|&d| d < o + params.min_lag_days);
        let b = dates.partition_point(|&d| d <= o + params.max_lag_days);
        b - a
    };
    let mut follow_probability = vec![0.0; n];
    let mut follow_probability_se = vec![0.0; n];
    let mut controls = Vec::with_capacity(events.len());
    for e in events.iter().filter(|e| e.product < n) {
        let s = strata.of_product[e.product];
        let o = e.onset.0;
        let (follows, pool) = if control[s].len() >= params.min_controls {
            (in_window(&control[s], o), control[s].len())
        } else if !all_control.is_empty() {
            (in_window(&all_control, o), all_control.len())
        } else {
            let window = (o + params.min_lag_days, o + params.max_lag_days);
            (totals.listed_between(window.0, window.1), totals.listings())
        };
        // A half count in the window and one in the pool keep the rate off 0 and 1.
        let rate = (follows as f64 + 0.5) / (pool as f64 + 1.0);
        follow_probability[e.product] = rate;
        follow_probability_se[e.product] = (rate * (1.0 - rate) / (pool as f64 + 1.0)).sqrt();
        controls.push(ControlGroup {
            product_id: e.product_id.clone(),
            stratum: strata.labels[s].clone(),
            stratum_bestsellers: stratum_best[s],
            control_products: stratum_products[s] - stratum_best[s],
            control_copies: pool,
            control_rate: rate,
        });
    }
    let null = NullModel {
        params,
        stratum: &strata.of_product,
        onset,
        onsets,
        follow_probability,
        follow_probability_se,
    };

    let copies: Vec<(&LeakAlert, Copy)> = linked
        .alerts
        .iter()
        .chain(&linked.pre_existing)
        .chain(&linked.outside_window)
        .filter(|a| a.product < n)
        .map(|a| {
            (
                a,
                Copy {
                    product: a.product,
                    listed_at: a.listed_at.0,
                    lag: a.lag_days,
                },
            )
        })
        .collect();

    // Sellers: all catalog listings count; copies from `linked`.
    let mut by_seller: BTreeMap<&str, (usize, Vec<Copy>)> = BTreeMap::new();
    for (s, n) in totals.per_seller() {
        by_seller.entry(s).or_default().0 += n;
    }
    for (a, c) in &copies {
        if let Some(s) = &a.seller_id {
            by_seller.entry(s.as_str()).or_default().1.push(*c);
        }
    }
    let by_seller: Vec<(&str, (usize, Vec<Copy>))> = by_seller.into_iter().collect();
    let m = by_seller
        .iter()
        .filter(|(_, (_, c))| params.tests(c.len()))
        .count();
    let extended = extended_draws(m, params);
    let mut sellers: Vec<SellerFinding> = by_seller
        .par_iter()
        .enumerate()
        .map(|(i, (seller, (listings, copies)))| SellerFinding {
            seller_id: seller.to_string(),
            stats: null.stats(*listings, copies, group_seed(params.seed, 1, i), extended),
        })
        .collect();
    flag(
        &mut sellers.iter_mut().map(|s| &mut s.stats).collect::<Vec<_>>(),
        params,
    );

    // Categories: the matched listings of the category's products count; copies of its
    // bestsellers.
    let cat = |p: usize| {
        products.category[p]
            .clone()
            .unwrap_or_else(|| "(unknown)".to_string())
    };
    let mut by_category: BTreeMap<String, (usize, Vec<Copy>)> = BTreeMap::new();
    for m in matches.iter().filter(|m| m.product < n) {
        by_category.entry(cat(m.product)).or_default().0 += 1;
    }
    for (_, c) in &copies {
        by_category.entry(cat(c.product)).or_default().1.push(*c);
    }
    let by_category: Vec<(String, (usize, Vec<Copy>))> = by_category
        .into_iter()
        .filter(|(_, (_, copies))| !copies.is_empty())
        .collect();
    let m = by_category
        .iter()
        .filter(|(_, (_, c))| params.tests(c.len()))
        .count();
    let extended = extended_draws(m, params);
    let mut categories: Vec<CategoryFinding> = by_category
        .par_iter()
        .enumerate()
        .map(|(i, (category, (listings, copies)))| CategoryFinding {
            category: category.clone(),
            stats: null.stats(*listings, copies, group_seed(params.seed, 2, i), extended),
        })
        .collect();
    flag(
        &mut categories
            .iter_mut()
            .map(|s| &mut s.stats)
            .collect::<Vec<_>>(),
        params,
    );

    Evidence {
        sellers,
        categories,
        controls,
    }
}

impl LeakParams {
    /// True when a group (seller or category) with this many bestseller copies is tested and
    /// counts in the Benjamini-Hochberg correction: with fewer copies than
    /// `min_follow_listings` (and at least one) it can never be flagged. The copy count does not
    /// change when onsets are permuted, so leaving such groups out of the correction keeps the
    /// false discovery rate controlled (independent filtering).
    pub fn tests(&self, bestseller_copies: usize) -> bool {
        bestseller_copies >= self.min_follow_listings.max(1)
    }

    /// True when a lag falls in the follow window.
    pub fn follows(&self, lag: i32) -> bool {
        (self.min_lag_days..=self.max_lag_days).contains(&lag)
    }

    /// Recency score of a lag: linear from 1 at the window start to near 0 at its end, 0
    /// outside the window.
    pub fn recency(&self, lag: i32) -> f64 {
        if self.follows(lag) {
            1.0 - f64::from(lag - self.min_lag_days)
                / f64::from(self.max_lag_days - self.min_lag_days + 1)
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::stats::*;
    use super::*;
    use crate::trend::OnsetRule;

    fn event(product: usize, onset: i32) -> BestsellerEvent {
        BestsellerEvent {
            product,
            product_id: format!("p{product}"),
            onset: Date(onset),
            peak: 10.0,
            peak_date: Date(onset + 14),
            rise_factor: 8.0,
            rank_percentile: 0.99,
            confidence: 1.0,
            rule: OnsetRule::Rise,
        }
    }

    #[test]
    fn listing_totals_count_per_seller_and_day_in_any_order_and_parts() {
        let rows = [
            (Some("B"), 10),
            (None, 12),
            (Some("A"), 10),
            (Some("B"), 15),
            (Some("A"), 20),
        ];
        let mut forward = ListingTotals::default();
        let mut backward = ListingTotals::default();
        for &(s, d) in &rows {
            forward.add(s, Date(d));
        }
        for &(s, d) in rows.iter().rev() {
            backward.add(s, Date(d));
        }
        assert_eq!(forward, backward);
        let mut halves = ListingTotals::default();
        let mut second = ListingTotals::default();
        for &(s, d) in &rows[..2] {
            halves.add(s, Date(d));
        }
        for &(s, d) in &rows[2..] {
            second.add(s, Date(d));
        }
        halves.merge(&second);
        assert_eq!(halves, forward);
        assert_eq!(forward.listings(), 5);
        assert_eq!(
            forward.per_seller().collect::<Vec<_>>(),
            [("A", 2), ("B", 2)]
        );
        assert_eq!(forward.listed_between(10, 12), 3);
        assert_eq!(forward.listed_between(11, 19), 2);
        assert_eq!(forward.listed_between(21, 30), 0);
        assert_eq!(forward.listed_between(15, 10), 0);
    }

    #[test]
    fn lags_classify_and_sellers_are_tested() {
        // Product 0 and 1 are bestsellers with onset at day 100; seller A copies both soon
        // after, seller B copied them long before.
        let ids: Vec<String> = (0..6).map(|i| format!("L{i}")).collect();
        let sellers: Vec<Option<String>> = ["A", "A", "A", "B", "B", "B"]
            .iter()
            .map(|s| Some(s.to_string()))
            .collect();
        let dates: Vec<Date> = [110, 120, 130, 10, 20, 300]
            .iter()
            .map(|&d| Date(d))
            .collect();
        let rows: Vec<usize> = (1..=6).collect();
        let info = ListingInfo {
            id: &ids,
            seller_id: &sellers,
            listed_at: &dates,
            source_row: &rows,
        };
        let matches: Vec<MatchedListing> = [(0, 0), (1, 1), (2, 2), (3, 0), (4, 1), (5, 2)]
            .iter()
            .map(|&(listing, product)| MatchedListing {
                listing,
                product,
                probability: 0.9,
                evidence: MatchEvidence::default(),
            })
            .collect();
        let events = [event(0, 100), event(1, 100), event(2, 100)];
        let params = LeakParams {
            max_lag_days: 60,
            min_follow_listings: 1,
            ..LeakParams::default()
        };
        let linked = link(&matches, &events, 3, info, &params);
        assert_eq!(
            linked.alerts.iter().map(|a| a.lag_days).collect::<Vec<_>>(),
            [10, 20, 30]
        );
        assert_eq!(linked.pre_existing.len(), 2);
        assert_eq!(linked.outside_window.len(), 1);
        assert_eq!(linked.pre_existing[0].timing, Timing::PreExisting);
    }

    /// A world of 20 bestsellers (onsets spread over a year) and 40 ordinary products in one
    /// category: seller F copies 10 bestsellers 5 days after their onsets, seller O copies
    /// products at dates unrelated to the onsets.
    struct Toy {
        ids: Vec<String>,
        sellers: Vec<Option<String>>,
        dates: Vec<Date>,
        matches: Vec<MatchedListing>,
        events: Vec<BestsellerEvent>,
        product_ids: Vec<String>,
        category: Vec<Option<String>>,
        price: Vec<Option<f64>>,
        first_seen: Vec<Option<Date>>,
    }

    fn toy() -> Toy {
        let n = 60;
        let events: Vec<BestsellerEvent> = (0..20).map(|p| event(p, 100 + 17 * p as i32)).collect();
        let mut rows: Vec<(&str, i32, usize)> = Vec::new();
        for p in 0..10 {
            rows.push(("F", 100 + 17 * p as i32 + 5, p));
        }
        // O: one copy of every product at a date that ignores onsets (a fixed scatter).
        for p in 0..n {
            rows.push(("O", 50 + (p as i32 * 97) % 450, p));
        }
        let mut t = Toy {
            ids: Vec::new(),
            sellers: Vec::new(),
            dates: Vec::new(),
            matches: Vec::new(),
            events,
            product_ids: (0..n).map(|p| format!("p{p}")).collect(),
            category: vec![Some("toys".to_string()); n],
            price: (0..n).map(|p| Some(1000.0 + p as f64)).collect(),
            first_seen: vec![None; n],
        };
        for (i, (seller, day, product)) in rows.into_iter().enumerate() {
            t.ids.push(format!("L{i}"));
            t.sellers.push(Some(seller.to_string()));
            t.dates.push(Date(day));
            t.matches.push(MatchedListing {
                listing: i,
                product,
                probability: 0.9,
                evidence: MatchEvidence::default(),
            });
        }
        t
    }

    fn run(t: &Toy, params: &LeakParams) -> Evidence {
        let rows: Vec<usize> = (1..=t.ids.len()).collect();
        let info = ListingInfo {
            id: &t.ids,
            seller_id: &t.sellers,
            listed_at: &t.dates,
            source_row: &rows,
        };
        let products = ProductInfo {
            category: &t.category,
            price: &t.price,
            first_seen: &t.first_seen,
        };
        let linked = link(&t.matches, &t.events, t.product_ids.len(), info, params);
        let totals = ListingTotals::of(info);
        evidence(
            &t.matches, &linked, &t.events, products, info, &totals, params,
        )
    }

    /// Parameters sized for [`toy`]: a 60-day window and small strata.
    fn toy_params(permutations: usize) -> LeakParams {
        LeakParams {
            max_lag_days: 60,
            permutations,
            min_stratum: 5,
            min_controls: 5,
            ..LeakParams::default()
        }
    }

    #[test]
    fn follower_is_flagged_organic_is_not_and_threads_do_not_matter() {
        let t = toy();
        let params = toy_params(999);
        let e = run(&t, &params);
        let (f, o) = (&e.sellers[0], &e.sellers[1]);
        assert_eq!((f.seller_id.as_str(), o.seller_id.as_str()), ("F", "O"));
        assert_eq!(f.stats.follow_listings, 10);
        assert_eq!(f.stats.follow_lags_days, vec![5; 10]);
        assert!(f.stats.p_value < 0.01, "{:?}", f.stats);
        assert!(f.stats.flagged && f.stats.lift > 1.5, "{:?}", f.stats);
        assert!(f.stats.lift_low < f.stats.lift && f.stats.lift < f.stats.lift_high);
        assert!(!o.stats.flagged, "{:?}", o.stats);
        assert!(o.stats.p_value > 0.05, "{:?}", o.stats);
        // Every bestseller has its control group, with a rate strictly inside (0, 1).
        assert_eq!(e.controls.len(), 20);
        assert!(e
            .controls
            .iter()
            .all(|c| c.control_rate > 0.0 && c.control_rate < 1.0));
        assert_eq!(e.categories.len(), 1);
        assert_eq!(
            e.categories[0].stats.follow_listings,
            f.stats.follow_listings + o.stats.follow_listings
        );
        let on = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| run(&t, &params))
        };
        assert_eq!(on(1), on(3));
        // Another seed gives other draws, but the same counts.
        let other = run(
            &t,
            &LeakParams {
                seed: 9,
                ..params.clone()
            },
        );
        assert_eq!(other.sellers[0].stats.follow_listings, 10);
    }

    #[test]
    fn few_reaching_draws_extend_the_test_on_the_same_stream() {
        let t = toy();
        let params = toy_params(99);
        // Two tested sellers: 10 * 2 / 0.05 = 400 draws let a p-value reach a tenth of the first
        // rank's threshold.
        let e = run(&t, &params);
        let (f, o) = (&e.sellers[0].stats, &e.sellers[1].stats);
        assert_eq!((f.permutations, o.permutations), (399, 99), "{f:?} {o:?}");
        assert!(f.p_value < 1.0 / 100.0, "{f:?}");
        assert!(o.p_value > 10.0 / 100.0, "{o:?}");
        // Capped by max_permutations, and never below permutations.
        let capped = run(
            &t,
            &LeakParams {
                max_permutations: 200,
                ..params.clone()
            },
        );
        assert_eq!(capped.sellers[0].stats.permutations, 200);
        // A weaker follower (five copies 40 days after the onsets) stops as soon as 10 draws
        // reach its statistic (Besag-Clifford); a strong one runs to 10 * 3 / 0.001 draws.
        let mut t = toy();
        for p in 0..5 {
            let i = t.ids.len();
            t.ids.push(format!("L{i}"));
            t.sellers.push(Some("P".to_string()));
            t.dates.push(Date(100 + 17 * p as i32 + 40));
            t.matches.push(MatchedListing {
                listing: i,
                product: p,
                probability: 0.9,
                evidence: MatchEvidence::default(),
            });
        }
        let strict = LeakParams {
            alpha: 0.001,
            ..params.clone()
        };
        let e = run(&t, &strict);
        let (f, w) = (&e.sellers[0].stats, &e.sellers[2].stats);
        assert_eq!(f.permutations, 29_999, "{f:?}");
        assert!(w.permutations > 99 && w.permutations < 29_999, "{w:?}");
        assert_eq!(w.p_value, 10.0 / w.permutations as f64);
        assert_eq!(extended_draws(1, &LeakParams::default()), 9999);
        assert_eq!(extended_draws(869, &LeakParams::default()), 173_799);
        assert_eq!(extended_draws(1_000_000, &LeakParams::default()), 1_000_000);
    }

    #[test]
    fn groups_that_cannot_be_flagged_are_left_out_of_the_correction() {
        let params = LeakParams::default();
        let group = |copies: usize, p_value: f64| FollowStats {
            bestseller_copies: copies,
            follow_listings: copies,
            lift: 3.0,
            p_value,
            ..FollowStats::default()
        };
        let mut stats = [
            group(5, 0.02),
            group(2, 0.001),
            group(0, 1.0),
            group(3, 0.04),
        ];
        flag(&mut stats.iter_mut().collect::<Vec<_>>(), &params);
        // Two tested groups: q = 0.02 * 2 / 1 and 0.04 * 2 / 2; the others are at 1.
        let q: Vec<f64> = stats.iter().map(|s| s.q_value).collect();
        assert_eq!(q, vec![0.04, 1.0, 1.0, 0.04]);
        let flagged: Vec<bool> = stats.iter().map(|s| s.flagged).collect();
        assert_eq!(flagged, vec![true, false, false, true]);
    }

    #[test]
    fn strata_pool_small_cells_into_coarser_ones() {
        let n = 30;
        // Category a: 20 products, 12 bestsellers; category b: 10 products, 2 bestsellers.
        let category: Vec<Option<String>> = (0..n)
            .map(|p| Some(if p < 20 { "a" } else { "b" }.to_string()))
            .collect();
        let price: Vec<Option<f64>> = (0..n).map(|p| Some(p as f64)).collect();
        let first_seen = vec![None; n];
        let best: Vec<bool> = (0..n).map(|p| p < 12 || p == 20 || p == 21).collect();
        let s = Strata::build(
            ProductInfo {
                category: &category,
                price: &price,
                first_seen: &first_seen,
            },
            &best,
            4,
        );
        let label = |p: usize| s.labels[s.of_product[p]].as_str();
        // Category a's price terciles hold 6, 6 and 0 bestsellers: the first two are strata,
        // the third pools with category b into the rest.
        assert_eq!(label(0), "a | price 1/3 | age ?");
        assert_eq!(label(8), "a | price 2/3 | age ?");
        assert_eq!(label(19), "all other products");
        assert_eq!(label(25), "all other products");
        assert_eq!(s.labels.len(), 3);
    }

    #[test]
    fn normal_quantiles() {
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_964),
            (0.9875, 2.241_403),
            (0.01, -2.326_348),
        ] {
            assert!((normal_quantile(p) - z).abs() < 1e-5, "{p}");
        }
    }

    /// Simulated sellers with no leakage (true lift 1): each has 40 bestseller copies, each
    /// follows with probability 0.1, and the rate is estimated from a control pool of 20
    /// copies. The interval must cover 1 at least 95% of the time; taking the estimate as
    /// exact covers it about 86% of the time.
    #[test]
    fn lift_interval_covers_with_estimated_controls() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (copies, p, pool) = (40, 0.1, 20);
        let (mut covered, mut covered_fixed, sims) = (0, 0, 4000);
        for _ in 0..sims {
            let follows = (0..copies).filter(|_| rng.gen_bool(p)).count();
            let in_window = (0..pool).filter(|_| rng.gen_bool(p)).count();
            let rate = (in_window as f64 + 0.5) / (pool as f64 + 1.0);
            let se = (rate * (1.0 - rate) / (pool as f64 + 1.0)).sqrt();
            let expected = copies as f64 * rate;
            let (lo, hi) = lift_interval(follows, expected, copies as f64 * se, 0.05);
            covered += usize::from(lo <= 1.0 && 1.0 <= hi);
            let (lo, hi) = lift_interval(follows, expected, 0.0, 0.1);
            covered_fixed += usize::from(lo <= 1.0 && 1.0 <= hi);
        }
        let share = covered as f64 / sims as f64;
        assert!(share >= 0.95, "coverage {share}");
        let fixed = covered_fixed as f64 / sims as f64;
        assert!(fixed < 0.95, "taken as exact: coverage {fixed}");
    }

    #[test]
    fn poisson_interval_covers_the_count() {
        for k in [0usize, 1, 3, 10, 100] {
            let (lo, hi) = poisson_interval(k, 0.05);
            assert!(lo <= k as f64 && k as f64 <= hi, "{k}: {lo} {hi}");
        }
        let (lo, hi) = poisson_interval(1, 0.05);
        assert!((lo - 0.0253).abs() < 1e-3 && (hi - 5.572).abs() < 1e-3);
    }
}
