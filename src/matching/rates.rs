//! Exchange rates between the currencies listings are priced in and the home catalog's.
//!
//! Foreign sellers often price in their own currency, and a price is only compared with another
//! in the same currency ([`crate::matching::features::price_similarity`]). A listing price in another
//! currency is converted into the home catalog's currency (the currency most home products
//! give) before it is compared, at a rate the analyst configures (`match.exchange_rates`) or,
//! for a currency without one, a rate learned from the run's own confident matches: the median
//! log ratio of home price to listing price among the matches priced in that currency, less the
//! same median among matches priced in the home currency, so that what copies usually charge
//! against their product (often less) is not mistaken for the exchange rate. A currency needs
//! [`MIN_RATE_PAIRS`] confident matches to be learned; below that its prices stay unused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::matching::features::RecordAttrs;
use crate::trend::median;

/// Fewest confident matches a currency's rate is learned from: the median of 20 log price
/// ratios is within about a quarter of their spread of the middle.
pub const MIN_RATE_PAIRS: usize = 20;

/// Where a rate comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateSource {
    /// Given in `match.exchange_rates`.
    Configured,
    /// Learned from confident matches.
    Learned,
}

/// What one unit of a currency is worth in the home catalog's currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExchangeRate {
    /// Currency code, upper case.
    pub currency: String,
    /// Home-currency units per unit of `currency`.
    pub rate: f64,
    /// Where the rate comes from.
    pub source: RateSource,
    /// Confident matches it was learned from (0 when configured).
    pub pairs: usize,
}

/// The rates a run converts listing prices with, ordered by currency.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExchangeRates {
    /// The home catalog's currency (the one most home products give; `None` when they give none,
    /// and then nothing is converted).
    pub home: Option<String>,
    /// Rates, ordered by currency.
    pub rates: Vec<ExchangeRate>,
}

impl ExchangeRates {
    /// The configured rates (`currency -> home units per unit`) into `home`.
    pub fn configured(home: Option<String>, rates: &BTreeMap<String, f64>) -> ExchangeRates {
        let rates = rates
            .iter()
            .map(|(c, &rate)| ExchangeRate {
                currency: c.trim().to_ascii_uppercase(),
                rate,
                source: RateSource::Configured,
                pairs: 0,
            })
            .filter(|r| Some(&r.currency) != home.as_ref())
            .collect();
        let mut rates = ExchangeRates { home, rates };
        rates.sort();
        rates
    }

    fn sort(&mut self) {
        self.rates.sort_by(|a, b| a.currency.cmp(&b.currency));
        self.rates.dedup_by(|a, b| a.currency == b.currency);
    }

    /// The rate of `currency`, if there is one.
    pub fn get(&self, currency: &str) -> Option<f64> {
        self.rates
            .binary_search_by(|r| r.currency.as_str().cmp(currency))
            .ok()
            .map(|i| self.rates[i].rate)
    }

    /// Whether any rate was learned.
    pub(crate) fn any_learned(&self) -> bool {
        self.rates.iter().any(|r| r.source == RateSource::Learned)
    }

    /// Converts a record's price into the home currency when its currency has a rate.
    pub(crate) fn convert(&self, attrs: &mut RecordAttrs) {
        let (Some(home), Some(currency), Some(price)) = (&self.home, &attrs.currency, attrs.price)
        else {
            return;
        };
        if currency == home {
            return;
        }
        if let Some(rate) = self.get(currency) {
            attrs.price = Some(price * rate);
            attrs.currency = Some(home.clone());
        }
    }

    /// Adds learned rates for the currencies that have none, from `matches`: pairs of a
    /// confidently matched listing's attributes (unconverted) and its home product's. See the
    /// module documentation.
    pub fn learn<'a>(
        &mut self,
        matches: impl IntoIterator<Item = (&'a RecordAttrs, &'a RecordAttrs)>,
    ) {
        let Some(home) = self.home.clone() else {
            return;
        };
        let mut same = Vec::new();
        let mut other: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for (listing, product) in matches {
            let (Some(pl), Some(ph), Some(cl)) = (listing.price, product.price, &listing.currency)
            else {
                continue;
            };
            if product.currency.as_ref() != Some(&home) {
                continue;
            }
            let ratio = (ph / pl).ln();
            if *cl == home {
                same.push(ratio);
            } else if self.get(cl).is_none() {
                other.entry(cl.as_str()).or_default().push(ratio);
            }
        }
        let usual = if same.len() >= MIN_RATE_PAIRS {
            median(&same)
        } else {
            0.0
        };
        let learned: Vec<ExchangeRate> = other
            .into_iter()
            .filter(|(_, v)| v.len() >= MIN_RATE_PAIRS)
            .map(|(c, v)| ExchangeRate {
                currency: c.to_string(),
                rate: (median(&v) - usual).exp(),
                source: RateSource::Learned,
                pairs: v.len(),
            })
            .collect();
        self.rates.extend(learned);
        self.sort();
    }
}

impl ExchangeRates {
    /// What the rates convert into: `exchange rates into IDR`.
    pub fn title(&self) -> String {
        format!(
            "exchange rates into {}",
            self.home.as_deref().unwrap_or("?")
        )
    }

    /// The rates in one line: `CNY 2286.9167 (learned from 127 matches), SGD 11800 (configured)`.
    pub fn listed(&self) -> String {
        let rate = |r: &ExchangeRate| match r.source {
            RateSource::Configured => format!("{} {} (configured)", r.currency, r.rate),
            RateSource::Learned => format!(
                "{} {:.4} (learned from {} matches)",
                r.currency, r.rate, r.pairs
            ),
        };
        self.rates.iter().map(rate).collect::<Vec<_>>().join(", ")
    }
}

impl std::fmt::Display for ExchangeRates {
    /// [`ExchangeRates::title`] and [`ExchangeRates::listed`]: `exchange rates into IDR: CNY ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.title(), self.listed())
    }
}

/// The currency most of `currencies` give (ties: the first in code order); `None` when none does.
pub(crate) fn main_currency<'a>(
    currencies: impl IntoIterator<Item = Option<&'a str>>,
) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for c in currencies.into_iter().flatten() {
        let c = c.trim();
        if !c.is_empty() {
            *counts.entry(c.to_ascii_uppercase()).or_default() += 1;
        }
    }
    let top = counts.values().copied().max()?;
    counts.into_iter().find(|(_, n)| *n == top).map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn priced(price: f64, currency: &str) -> RecordAttrs {
        RecordAttrs {
            price: Some(price),
            currency: Some(currency.to_string()),
            ..RecordAttrs::default()
        }
    }

    #[test]
    fn learned_rates_leave_out_what_copies_usually_charge() {
        // Copies charge 0.8 of their product's price; one SGD is 11,000 IDR.
        let mut pairs = Vec::new();
        for i in 0..30 {
            let home = 10_000.0 + 1_000.0 * i as f64;
            pairs.push((priced(0.8 * home, "IDR"), priced(home, "IDR")));
            pairs.push((priced(0.8 * home / 11_000.0, "SGD"), priced(home, "IDR")));
        }
        // Too few to learn from.
        for _ in 0..5 {
            pairs.push((priced(1.0, "THB"), priced(500.0, "IDR")));
        }
        let mut rates = ExchangeRates::configured(Some("IDR".into()), &BTreeMap::new());
        rates.learn(pairs.iter().map(|(a, b)| (a, b)));
        assert_eq!(rates.rates.len(), 1);
        let sgd = rates.get("SGD").unwrap();
        assert!((sgd - 11_000.0).abs() < 1e-6, "{sgd}");
        assert_eq!(rates.rates[0].pairs, 30);
        assert_eq!(rates.get("THB"), None);

        let mut listing = priced(2.0, "SGD");
        rates.convert(&mut listing);
        assert_eq!(listing.currency.as_deref(), Some("IDR"));
        assert!((listing.price.unwrap() - 22_000.0).abs() < 1e-6);
        let mut thb = priced(2.0, "THB");
        rates.convert(&mut thb);
        assert_eq!(thb, priced(2.0, "THB"));
    }

    #[test]
    fn configured_rates_win_and_the_home_currency_is_the_commonest() {
        let home = main_currency([Some("idr"), Some("IDR "), Some("SGD"), None]);
        assert_eq!(home.as_deref(), Some("IDR"));
        assert_eq!(main_currency([None, Some(" ")]), None);
        let given = BTreeMap::from([("sgd".to_string(), 10_000.0), ("IDR".to_string(), 2.0)]);
        let mut rates = ExchangeRates::configured(home, &given);
        assert_eq!(
            rates.rates.len(),
            1,
            "the home currency's own rate is dropped"
        );
        let pairs: Vec<_> = (0..30)
            .map(|_| (priced(1.0, "SGD"), priced(11_000.0, "IDR")))
            .collect();
        rates.learn(pairs.iter().map(|(a, b)| (a, b)));
        assert_eq!(rates.get("SGD"), Some(10_000.0));
        assert!(!rates.any_learned());
    }
}
