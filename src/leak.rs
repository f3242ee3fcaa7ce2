//! From matched pairs to findings: temporal linking and seller-level evidence.
//!
//! Each foreign listing is linked to the home product it most probably copies. When that
//! product is a bestseller, the listing's lag after the onset classifies it: within the window
//! (default 1..=180 days) it *follows* the bestseller and is an alert; listed on or before the
//! onset it is *pre-existing* (reported, never an alert); after the onset but outside the window it is *outside the window*.
//!
//! A seller's evidence asks whether its copies of bestsellers come soon after the onsets more
//! often than chance. Under the null hypothesis a listing's date is independent of the copied
//! product's onset and drawn from the catalog's own distribution of listing dates. The statistic
//! is the sum over the seller's copies of a recency score: `1 - (lag - min_lag) / (max_lag -
//! min_lag + 1)` for a lag inside the window (a copy listed the day after the onset scores
//! near 1, one at the end of the window near 0) and 0 outside it. Its p-value is estimated
//! from `permutations` seeded Monte Carlo draws of the copies' dates from the null
//! distribution (`(1 + #{T_null >= T}) / (1 + permutations)`, a valid p-value), and
//! Benjamini-Hochberg q-values control the false discovery rate over sellers. The expected
//! follow rate and the lift compare the count of follows with its expectation under the same
//! null.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use serde::{Deserialize, Serialize};

use crate::trend::{check_range, BestsellerEvent};
use crate::{Date, Error, Result};

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
    /// Monte Carlo draws of the null distribution per seller (default 9999).
    pub permutations: usize,
    /// Seed of the Monte Carlo draws (default 0).
    pub seed: u64,
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
            seed: 0,
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
    /// Foreign listing index in the catalog.
    pub listing: usize,
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
#[derive(Clone, Debug, PartialEq)]
pub struct MatchedListing {
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

/// What `leak` needs of the foreign catalog.
#[derive(Clone, Copy, Debug)]
pub struct ListingInfo<'a> {
    /// Listing ids.
    pub id: &'a [String],
    /// Seller ids.
    pub seller_id: &'a [Option<String>],
    /// Listing dates.
    pub listed_at: &'a [Date],
}

/// Statistics of one foreign seller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SellerFinding {
    /// Seller id.
    pub seller_id: String,
    /// Listings of the seller in the catalog.
    pub listings: usize,
    /// Listings matched to a home bestseller.
    pub bestseller_copies: usize,
    /// Listings that follow a bestseller's onset within the window.
    pub follow_listings: usize,
    /// `follow_listings / listings`.
    pub follow_rate: f64,
    /// Expected follow rate under the null (listing dates independent of onsets).
    pub expected_rate: f64,
    /// `follow_rate / expected_rate` (0 when nothing is expected and nothing follows).
    pub lift: f64,
    /// Monte Carlo p-value of the recency statistic under the null.
    pub p_value: f64,
    /// Benjamini-Hochberg q-value over all sellers.
    pub q_value: f64,
    /// `q_value < alpha`, `lift >= min_lift` and `follow_listings >= min_follow_listings`.
    pub flagged: bool,
    /// Median lag of the follow listings, in days.
    pub median_lag_days: Option<f64>,
}

/// Output of temporal linking.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Linked {
    /// Copies that follow an onset within the window.
    pub alerts: Vec<LeakAlert>,
    /// Copies listed on or before the onset.
    pub pre_existing: Vec<LeakAlert>,
    /// Copies listed after the onset but outside the window.
    pub outside_window: Vec<LeakAlert>,
}

/// Links matched listings to bestseller onsets. `onset_of[p]` is the event of product `p`, if
/// it is a bestseller. Output is ordered by listing.
pub fn link(
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
            listing: m.listing,
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

/// Seller statistics, ordered by seller id, computed in parallel; deterministic for a seed
/// whatever the thread count.
pub fn seller_findings(
    linked: &Linked,
    listings: ListingInfo<'_>,
    params: &LeakParams,
) -> Vec<SellerFinding> {
    let mut dates: Vec<i32> = listings.listed_at.iter().map(|d| d.0).collect();
    dates.sort_unstable();
    let null = NullDates {
        dates: &dates,
        params,
    };
    #[derive(Default)]
    struct Acc {
        listings: usize,
        onsets: Vec<i32>,
        lags: Vec<i32>,
    }
    let mut by_seller: BTreeMap<&str, Acc> = BTreeMap::new();
    for s in listings.seller_id.iter().flatten() {
        by_seller.entry(s.as_str()).or_default().listings += 1;
    }
    for a in linked
        .alerts
        .iter()
        .chain(&linked.pre_existing)
        .chain(&linked.outside_window)
    {
        let Some(s) = &a.seller_id else { continue };
        let acc = by_seller.entry(s.as_str()).or_default();
        acc.onsets.push(a.onset.0);
        acc.lags.push(a.lag_days);
    }
    let by_seller: Vec<(&str, Acc)> = by_seller.into_iter().collect();
    let mut findings: Vec<SellerFinding> = by_seller
        .par_iter()
        .enumerate()
        .map(|(i, (seller, acc))| {
            let n = acc.listings.max(1) as f64;
            let expected: f64 = acc.onsets.iter().map(|&o| null.follow_probability(o)).sum();
            let mut follow_lags: Vec<f64> = acc
                .lags
                .iter()
                .filter(|&&l| params.follows(l))
                .map(|&l| f64::from(l))
                .collect();
            follow_lags.sort_by(f64::total_cmp);
            let follows = follow_lags.len();
            let lift = if expected > 0.0 {
                follows as f64 / expected
            } else if follows == 0 {
                0.0
            } else {
                f64::INFINITY
            };
            let observed: f64 = acc.lags.iter().map(|&l| params.recency(l)).sum();
            // One stream per seller, from the seed and the seller's rank: independent of the
            // thread that runs it.
            let seed = params.seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            SellerFinding {
                seller_id: seller.to_string(),
                listings: acc.listings,
                bestseller_copies: acc.onsets.len(),
                follow_listings: follows,
                follow_rate: follows as f64 / n,
                expected_rate: expected / n,
                lift,
                p_value: null.p_value(&acc.onsets, observed, seed),
                q_value: 1.0,
                flagged: false,
                median_lag_days: (!follow_lags.is_empty())
                    .then(|| follow_lags[follow_lags.len() / 2]),
            }
        })
        .collect();
    let q = benjamini_hochberg(&findings.iter().map(|f| f.p_value).collect::<Vec<_>>());
    for (f, q) in findings.iter_mut().zip(q) {
        f.q_value = q;
        f.flagged = q < params.alpha
            && f.lift >= params.min_lift
            && f.follow_listings >= params.min_follow_listings;
    }
    findings
}

impl LeakParams {
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

/// The null distribution of listing dates: the catalog's own dates, sorted.
struct NullDates<'a> {
    dates: &'a [i32],
    params: &'a LeakParams,
}

impl NullDates<'_> {
    /// Share of listing dates inside the follow window of an onset.
    fn follow_probability(&self, onset: i32) -> f64 {
        let a = self
            .dates
            .partition_point(|&d| d < onset + self.params.min_lag_days);
        let b = self
            .dates
            .partition_point(|&d| d <= onset + self.params.max_lag_days);
        (b - a) as f64 / self.dates.len().max(1) as f64
    }

    /// Monte Carlo p-value of the recency statistic: each draw gives every copy a date drawn
    /// from the catalog's dates.
    fn p_value(&self, onsets: &[i32], observed: f64, seed: u64) -> f64 {
        if onsets.is_empty() || self.dates.is_empty() || observed <= 0.0 {
            return 1.0;
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let draws = self.params.permutations;
        let mut at_least = 0usize;
        for _ in 0..draws {
            let t: f64 = onsets
                .iter()
                .map(|&o| {
                    let d = self.dates[rng.gen_range(0..self.dates.len())];
                    self.params.recency(d - o)
                })
                .sum();
            if t >= observed - 1e-9 {
                at_least += 1;
            }
        }
        (1 + at_least) as f64 / (1 + draws) as f64
    }
}

/// Benjamini-Hochberg adjusted p-values (q-values), in input order.
///
/// ```
/// use crossleak::leak::benjamini_hochberg;
/// let q = benjamini_hochberg(&[0.01, 0.04, 0.03]);
/// assert!((q[0] - 0.03).abs() < 1e-12 && (q[1] - 0.04).abs() < 1e-12 && (q[2] - 0.04).abs() < 1e-12);
/// ```
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
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
        let info = ListingInfo {
            id: &ids,
            seller_id: &sellers,
            listed_at: &dates,
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
        let f = seller_findings(&linked, info, &params);
        assert_eq!(f[0].seller_id, "A");
        assert_eq!(f[0].follow_listings, 3);
        // Three of six listing dates fall in 101..=160: w = 0.5 each, 1.5 follows expected.
        assert!((f[0].expected_rate * 3.0 - 1.5).abs() < 1e-12);
        assert!((f[0].lift - 2.0).abs() < 1e-12);
        // A null draw scores at least the observed lags (10, 20, 30) only when all three dates
        // land in the window about as early: rare among six dates.
        assert!(f[0].p_value < 0.1, "{}", f[0].p_value);
        assert_eq!(f[0].median_lag_days, Some(20.0));
        assert_eq!(f[1].follow_listings, 0);
        assert_eq!(f[1].p_value, 1.0);
    }
}
