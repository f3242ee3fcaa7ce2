//! Seeded pairs of catalogs to link, at any size, for candidate-generation benchmarks.
//!
//! The left catalog is a home catalog drawn exactly as a world's (Tokopedia names, then
//! variants recombined within a category, so near-duplicate products exist); the right
//! catalog holds foreign listings, a share of them copies of home products perturbed as a
//! world's copies are (word order, spam words, Indonesian/English swaps, unit respellings,
//! typos, brand prefixes, case), the rest unrelated goods. The truth is every (product,
//! copy) pair. A product may be copied several times or never.
//!
//! Listing `i` is drawn from its own stream of the seed, so one seed gives byte-identical
//! files on any number of threads, and the first listings do not change when more are asked.
//!
//! Files written by [`LinkageCatalogs::write`], in the layout
//! [`crate::pairs::read_catalog_records`] and [`crate::pairs::read_id_pairs`] read:
//!
//! | file | columns |
//! |---|---|
//! | `left.csv` | `id,title,brand,price,category` (home products, prices in IDR) |
//! | `right.csv` | `id,title,brand,price,category` (foreign listings, prices in IDR) |
//! | `truth.csv` | `left_id,right_id`: every listing that copies a home product |
//! | `linkage.json` | the [`LinkageParams`] used |

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    find_brand, home_catalog, load_names, param, sub_rng, write_text, ForeignSeller, HomeProduct,
    Listing, ListingCtx, Plan, SellerKind,
};
use crate::eval::write_csv;
use crossleak::{Date, Error, Result};

/// Parameters of a pair of catalogs to link. Missing fields in JSON take their default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkageParams {
    /// Seed of every random draw.
    pub seed: u64,
    /// Number of home products (left), 1..=2,000,000.
    pub products: usize,
    /// Number of foreign listings (right), 1..=100,000,000.
    pub listings: usize,
    /// Share of listings that copy a home product (0..=1); the rest are unrelated goods.
    pub copy_share: f64,
}

impl Default for LinkageParams {
    fn default() -> Self {
        LinkageParams {
            seed: 7,
            products: 10_000,
            listings: 10_000,
            copy_share: 0.3,
        }
    }
}

/// Two catalogs to link and which listings copy which products.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkageCatalogs {
    /// The parameters used.
    pub params: LinkageParams,
    /// Home products (the left catalog).
    pub products: Vec<HomeProduct>,
    /// Foreign listings (the right catalog); `copy_of` is the product copied, if any.
    pub listings: Vec<Listing>,
}

impl LinkageCatalogs {
    /// `(product_id, listing_id)` of every listing that copies a home product, in listing order.
    pub fn truth(&self) -> Vec<(String, String)> {
        self.listings
            .iter()
            .filter_map(|l| {
                l.copy_of
                    .map(|p| (self.products[p].product_id.clone(), l.listing_id.clone()))
            })
            .collect()
    }

    /// Writes `left.csv`, `right.csv`, `truth.csv` and `linkage.json` into `dir`, creating it if
    /// needed.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let header = ["id", "title", "brand", "price", "category"];
        write_csv(
            &dir.join("left.csv"),
            &header,
            self.products.iter().map(|p| {
                [
                    p.product_id.clone(),
                    p.title.clone(),
                    p.brand.clone(),
                    format!("{:.0}", p.price),
                    p.category.clone(),
                ]
            }),
        )?;
        write_csv(
            &dir.join("right.csv"),
            &header,
            self.listings.iter().map(|l| {
                [
                    l.listing_id.clone(),
                    l.title.clone(),
                    find_brand(&l.title),
                    format!("{:.0}", l.price),
                    l.category.clone(),
                ]
            }),
        )?;
        write_csv(
            &dir.join("truth.csv"),
            &["left_id", "right_id"],
            self.truth().into_iter().map(|(p, l)| [p, l]),
        )?;
        let json = serde_json::to_string_pretty(&self.params)
            .map_err(|e| Error::Config(format!("cannot serialise linkage parameters: {e}")))?;
        write_text(&dir.join("linkage.json"), &(json + "\n"))
    }
}

/// Generates the two catalogs. Deterministic for `params.seed`, whatever the thread count.
///
/// Errors with [`Error::Param`] when a parameter is out of range.
pub fn generate_linkage(params: &LinkageParams) -> Result<LinkageCatalogs> {
    if !(1..=2_000_000).contains(&params.products) {
        return Err(param("products", params.products, "1..=2000000"));
    }
    if !(1..=100_000_000).contains(&params.listings) {
        return Err(param("listings", params.listings, "1..=100000000"));
    }
    if !(0.0..=1.0).contains(&params.copy_share) {
        return Err(param("copy_share", params.copy_share, "0.0..=1.0"));
    }
    let names = load_names()?;
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let home = home_catalog(&mut rng, &names, params.products);
    let n = home.products.len();
    let plans = vec![Plan::Normal; n];
    let days = 365;
    let ctx = ListingCtx {
        products: &home.products,
        plans: &plans,
        names: &names,
        held: &home.held,
        by_cat: &home.by_cat,
        days,
        start: Date::from_ymd(2024, 1, 1).unwrap_or(Date(19_723)),
    };
    // Prices are kept in IDR on both sides, so the price feature needs no exchange rates.
    let seller = ForeignSeller {
        seller_id: "S0001".into(),
        kind: SellerKind::Organic,
        origin_country: "CN".into(),
        currency: "IDR".into(),
    };
    let width = params.listings.to_string().len().max(5);
    let listings: Vec<Listing> = (0..params.listings)
        .into_par_iter()
        .map(|i| {
            let mut r = sub_rng(params.seed, 3, i as u64);
            let day = r.gen_range(0..days);
            let mut l = if r.gen_bool(params.copy_share) {
                let p = r.gen_range(0..n);
                ctx.copy(&mut r, &seller, p, day)
            } else {
                ctx.unrelated(&mut r, &seller)
            };
            l.listing_id = format!("R{:0width$}", i + 1);
            l
        })
        .collect();
    Ok(LinkageCatalogs {
        params: params.clone(),
        products: home.products,
        listings,
    })
}
