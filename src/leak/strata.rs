//! Comparable products: the strata the permutations and the control groups work within.

use super::*;

/// Comparable products: a partition of the home catalog into strata of category x price
/// tercile (within the category) x age tercile (first seen), coarsened where too few
/// bestsellers share a cell.
///
/// A cell with at least `min_bestsellers` bestsellers is a stratum. The products of smaller
/// cells pool into the rest of their (category, price tercile) cell, then of their category,
/// then into one stratum of everything left, each pool kept once it holds `min_bestsellers`.
/// Unknown categories, prices and ages form their own `?` level.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Strata {
    /// Stratum index of each product.
    pub of_product: Vec<usize>,
    /// Stratum labels, e.g. `Kecantikan | price 2/3 | age ?`.
    pub labels: Vec<String>,
}

pub(super) const UNKNOWN: u8 = 3;

pub(super) fn tercile(sorted: &[f64], x: f64) -> u8 {
    let n = sorted.len();
    if n < 3 {
        return 0;
    }
    if x < sorted[n / 3] {
        0
    } else if x < sorted[2 * n / 3] {
        1
    } else {
        2
    }
}

pub(super) fn level_name(t: u8) -> String {
    if t == UNKNOWN {
        "?".into()
    } else {
        format!("{}/3", t + 1)
    }
}

impl Strata {
    /// Builds the strata; `is_bestseller[p]` marks the products with an onset.
    pub fn build(
        products: ProductInfo<'_>,
        is_bestseller: &[bool],
        min_bestsellers: usize,
    ) -> Strata {
        let n = products.category.len();
        let cat = |p: usize| products.category[p].as_deref().unwrap_or("?");
        let mut prices: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for p in 0..n {
            if let Some(x) = products
                .price
                .get(p)
                .copied()
                .flatten()
                .filter(|x| x.is_finite())
            {
                prices.entry(cat(p)).or_default().push(x);
            }
        }
        for v in prices.values_mut() {
            v.sort_by(f64::total_cmp);
        }
        let mut ages: Vec<f64> = (0..n)
            .filter_map(|p| products.first_seen.get(p).copied().flatten())
            .map(|d| f64::from(d.0))
            .collect();
        ages.sort_by(f64::total_cmp);
        let key = |p: usize| -> (&str, u8, u8) {
            let c = cat(p);
            let pt = match products
                .price
                .get(p)
                .copied()
                .flatten()
                .filter(|x| x.is_finite())
            {
                Some(x) => tercile(&prices[c], x),
                None => UNKNOWN,
            };
            let at = match products.first_seen.get(p).copied().flatten() {
                Some(d) => tercile(&ages, f64::from(d.0)),
                None => UNKNOWN,
            };
            (c, pt, at)
        };
        let keys: Vec<(&str, u8, u8)> = (0..n).map(key).collect();
        let best = |p: usize| is_bestseller.get(p).copied().unwrap_or(false);
        let m = min_bestsellers.max(1);
        let mut c3: BTreeMap<(&str, u8, u8), usize> = BTreeMap::new();
        for p in (0..n).filter(|&p| best(p)) {
            *c3.entry(keys[p]).or_default() += 1;
        }
        let big3 = |k: &(&str, u8, u8)| c3.get(k).copied().unwrap_or(0) >= m;
        let mut rest2: BTreeMap<(&str, u8), usize> = BTreeMap::new();
        for p in (0..n).filter(|&p| best(p) && !big3(&keys[p])) {
            *rest2.entry((keys[p].0, keys[p].1)).or_default() += 1;
        }
        let big2 = |k: &(&str, u8)| rest2.get(k).copied().unwrap_or(0) >= m;
        let mut rest1: BTreeMap<&str, usize> = BTreeMap::new();
        for p in (0..n).filter(|&p| best(p)) {
            let k = keys[p];
            if !big3(&k) && !big2(&(k.0, k.1)) {
                *rest1.entry(k.0).or_default() += 1;
            }
        }
        let big1 = |c: &str| rest1.get(c).copied().unwrap_or(0) >= m;
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let names: Vec<String> = keys
            .iter()
            .map(|&(c, pt, at)| {
                if big3(&(c, pt, at)) {
                    format!("{c} | price {} | age {}", level_name(pt), level_name(at))
                } else if big2(&(c, pt)) {
                    format!("{c} | price {} | other ages", level_name(pt))
                } else if big1(c) {
                    format!("{c} | other prices and ages")
                } else {
                    "all other products".to_string()
                }
            })
            .collect();
        for name in &names {
            let next = index.len();
            index.entry(name.clone()).or_insert(next);
        }
        // Number the strata in label order, so indices do not depend on product order.
        let labels: Vec<String> = index.keys().cloned().collect();
        let rank: BTreeMap<&str, usize> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        Strata {
            of_product: names.iter().map(|l| rank[l.as_str()]).collect(),
            labels,
        }
    }
}
