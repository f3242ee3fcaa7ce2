//! Seeded synthetic "Project S" worlds with ground truth.
//!
//! A world is a home marketplace (product titles from the Tokopedia PRDECT-ID dataset, daily
//! demand built on real Complete Journey grocery curves) in which a share of products become
//! bestsellers on a planted onset day, plus a foreign catalog whose sellers are of three
//! hidden kinds. A bestseller's expected demand ramps over 3–10 days to 6–20 times its own
//! pre-onset level (the larger of its mean over the 8 weeks before the onset and over every
//! day before it) and stays at least 5 times that level to the end, whatever its own curve does
//! meanwhile: the planted onsets are rises of the kind the trend stage is asked to find. The
//! foreign sellers are:
//!
//! * **followers** watch the home bestseller charts and list copies of 8–16 bestsellers
//!   7–56 days after each one's onset (the leakage pattern crossleak must find), plus a few
//!   copies of ordinary products and some unrelated items as cover;
//! * **organic** sellers copy 20–40 random home products at uniformly random dates, so some
//!   of their bestseller copies fall before the onset and some after, by chance;
//! * **unrelated** sellers list goods that are not in the home catalog at all.
//!
//! Copies are perturbed the way real cross-seller listings differ (word order, spam words,
//! Indonesian/English swaps, unit respellings, typos, brand prefixes, case, lower prices).
//! Demand carries realistic distractors: promotion spikes, stock-outs, seasonal drift, mid-year
//! launches and "decoys" whose sustained rise is only 1.5–3x.
//!
//! Everything is drawn from [`ChaCha8Rng`] streams derived from [`SynthParams::seed`] and
//! iterated in a fixed order, so one seed always gives byte-identical files.
//!
//! Files written by [`World::write`] (the data contract):
//!
//! | file | columns |
//! |---|---|
//! | `products.csv` | `product_id,title,category,brand,price,currency,seller_id` |
//! | `sales.parquet` | `product_id` String, `date` Date, `units` Float64 (rows with units > 0) |
//! | `catalog.csv` | `listing_id,title,listed_at,seller_id,price,currency,origin_country,category` |
//! | `truth_alerts.csv` | `listing_id,product_id`: copies of bestsellers listed 1..=180 days after onset |
//! | `truth_sellers.csv` | `seller_id,kind` (`follower`, `organic`, `unrelated`) |
//! | `truth_onsets.csv` | `product_id,onset` |
//! | `truth_copies.csv` | `listing_id,product_id`: every listing that copies a home product |
//! | `truth_events.csv` | `product_id,event,start,end,factor`: every planted demand event |
//! | `world.json` | the [`SynthParams`] used |
//!
//! Sources (embedded, see `datasets/source/README.md`): PRDECT-ID (Sutoyo et al., Data in
//! Brief 44, 2022; CC BY 4.0) and The Complete Journey 2.0 (84.51°, CC0).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use polars::prelude::{
    Column, DataFrame, DataType, NamedFrom, ParquetCompression, ParquetWriter, Series,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::eval::write_csv;
use crossleak::{Date, Error, Result};

pub mod linkage;

pub use linkage::{generate_linkage, LinkageCatalogs, LinkageParams};

/// Gzipped CSV `category,name,price,number_sold` of the 1,308 unique PRDECT-ID product names.
const TOKOPEDIA_GZ: &[u8] = include_bytes!("../../datasets/source/tokopedia_products.csv.gz");
/// Gzipped CSV `curve,product_id,department,units` of stable Complete Journey daily curves.
const CURVES_GZ: &[u8] = include_bytes!("../../datasets/source/cj_daily_curves.csv.gz");

/// Lag window, in days after the onset, within which a copy of a bestseller is an alert.
pub const ALERT_LAG: std::ops::RangeInclusive<i32> = 1..=180;

/// Parameters of a synthetic world. Missing fields in JSON take their default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthParams {
    /// Seed of every random draw.
    pub seed: u64,
    /// Number of home products. Up to 1,308 they are distinct Tokopedia names; more are made by
    /// recombining words of names in the same category and altering sizes, brands and colours.
    pub products: usize,
    /// Share of home products planted as bestsellers (0..=0.5).
    pub bestseller_share: f64,
    /// Number of follower sellers (the leakage pattern).
    pub followers: usize,
    /// Number of organic sellers (copy random products at random times).
    pub organic: usize,
    /// Number of unrelated sellers (list goods not in the home catalog).
    pub unrelated: usize,
    /// First day of the sales history and of the catalog period.
    pub start: Date,
    /// Length of the period in days (181..=3660).
    pub days: u32,
    /// Share of non-bestsellers given a sustained but modest (1.5–3x) rise.
    pub decoy_share: f64,
    /// Share of non-bestsellers launched mid-period (no sales before their launch day).
    pub launch_share: f64,
}

impl Default for SynthParams {
    fn default() -> Self {
        SynthParams {
            seed: 7,
            products: 1308,
            bestseller_share: 0.05,
            followers: 6,
            organic: 12,
            unrelated: 30,
            start: Date::from_ymd(2024, 1, 1).unwrap_or(Date(19_723)),
            days: 365,
            decoy_share: 0.03,
            launch_share: 0.02,
        }
    }
}

/// A home-market product.
#[derive(Clone, Debug, PartialEq)]
pub struct HomeProduct {
    /// Identifier, `P00001`, ...
    pub product_id: String,
    /// Listing title (mixed Indonesian/English).
    pub title: String,
    /// Tokopedia category.
    pub category: String,
    /// Brand when a brand-like word is known, else empty.
    pub brand: String,
    /// Price in IDR.
    pub price: f64,
    /// Home seller, `H0001`, ...
    pub seller_id: String,
}

/// The hidden kind of a foreign seller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SellerKind {
    /// Lists copies of home bestsellers shortly after their onset.
    Follower,
    /// Lists copies of random home products at random times.
    Organic,
    /// Lists goods unrelated to the home catalog.
    Unrelated,
}

impl SellerKind {
    /// Lower-case name as written in `truth_sellers.csv`.
    pub fn name(self) -> &'static str {
        match self {
            SellerKind::Follower => "follower",
            SellerKind::Organic => "organic",
            SellerKind::Unrelated => "unrelated",
        }
    }
}

/// A foreign seller.
#[derive(Clone, Debug, PartialEq)]
pub struct ForeignSeller {
    /// Identifier, `S0001`, ... (shuffled so it does not reveal the kind).
    pub seller_id: String,
    /// Hidden kind.
    pub kind: SellerKind,
    /// ISO country code of origin.
    pub origin_country: String,
    /// Currency the seller prices in.
    pub currency: String,
}

/// A foreign listing.
#[derive(Clone, Debug, PartialEq)]
pub struct Listing {
    /// Identifier, `L00001`, ..., in order of `listed_at`.
    pub listing_id: String,
    /// Listing title.
    pub title: String,
    /// Day listed.
    pub listed_at: Date,
    /// Seller.
    pub seller_id: String,
    /// Price in `currency`.
    pub price: f64,
    /// Currency code.
    pub currency: String,
    /// ISO country code of the seller.
    pub origin_country: String,
    /// Category (may be empty).
    pub category: String,
    /// Index into [`World::products`] of the home product copied, if any.
    pub copy_of: Option<usize>,
}

/// Kind of a planted demand event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    /// Bestseller onset: expected demand ramps to 6–20x the product's pre-onset level and stays
    /// at >= 5x it (the own curve's later ups and downs never pull it below that).
    Bestseller,
    /// Promotion spike of 2–5x for 3–14 days.
    Promotion,
    /// Stock-out: zero sales for 5–14 days.
    Stockout,
    /// Sustained rise of only 1.5–3x.
    Decoy,
    /// Product launch: no sales before this day.
    Launch,
}

impl EventKind {
    /// Lower-case name as written in `truth_events.csv`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Bestseller => "bestseller",
            EventKind::Promotion => "promotion",
            EventKind::Stockout => "stockout",
            EventKind::Decoy => "decoy",
            EventKind::Launch => "launch",
        }
    }
}

/// A planted demand event on one product.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Index into [`World::products`].
    pub product: usize,
    /// What happened.
    pub kind: EventKind,
    /// First day of the event.
    pub start: Date,
    /// Last day of the event (inclusive; the period end for lasting changes).
    pub end: Date,
    /// Multiplier on the base level (0 for stock-outs and launches).
    pub factor: f64,
}

/// Long-form daily sales, one entry per product and day with units > 0, sorted by product
/// then date.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SalesTable {
    /// Index into [`World::products`].
    pub product: Vec<u32>,
    /// Day.
    pub date: Vec<Date>,
    /// Units sold (whole numbers).
    pub units: Vec<f64>,
}

impl SalesTable {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

/// A generated world with its ground truth.
#[derive(Clone, Debug)]
pub struct World {
    /// Parameters used.
    pub params: SynthParams,
    /// Home products.
    pub products: Vec<HomeProduct>,
    /// Home daily sales.
    pub sales: SalesTable,
    /// Foreign sellers, sorted by id.
    pub sellers: Vec<ForeignSeller>,
    /// Foreign listings, sorted by id (= by `listed_at`).
    pub listings: Vec<Listing>,
    /// Planted bestsellers: product index and onset day, sorted by product.
    pub onsets: Vec<(usize, Date)>,
    /// Planted demand events, sorted by product then start.
    pub events: Vec<Event>,
}

impl World {
    /// `(listing_id, product_id)` of every listing that copies a home product.
    pub fn truth_copies(&self) -> Vec<(String, String)> {
        self.listings
            .iter()
            .filter_map(|l| {
                l.copy_of
                    .map(|p| (l.listing_id.clone(), self.products[p].product_id.clone()))
            })
            .collect()
    }

    /// `(listing_id, product_id)` of every listing that copies a planted bestseller and is listed
    /// [`ALERT_LAG`] days after its onset, whatever the seller kind.
    pub fn truth_alerts(&self) -> Vec<(String, String)> {
        let onset: BTreeMap<usize, Date> = self.onsets.iter().copied().collect();
        self.listings
            .iter()
            .filter_map(|l| {
                let p = l.copy_of?;
                let o = onset.get(&p)?;
                ALERT_LAG
                    .contains(&o.days_until(l.listed_at))
                    .then(|| (l.listing_id.clone(), self.products[p].product_id.clone()))
            })
            .collect()
    }

    /// Writes the world's files (see the module docs) into `dir`, creating it if needed.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        write_csv(
            &dir.join("products.csv"),
            &[
                "product_id",
                "title",
                "category",
                "brand",
                "price",
                "currency",
                "seller_id",
            ],
            self.products.iter().map(|p| {
                [
                    p.product_id.as_str(),
                    &p.title,
                    &p.category,
                    &p.brand,
                    &fmt_price(p.price, "IDR"),
                    "IDR",
                    &p.seller_id,
                ]
                .map(String::from)
            }),
        )?;
        write_csv(
            &dir.join("catalog.csv"),
            &[
                "listing_id",
                "title",
                "listed_at",
                "seller_id",
                "price",
                "currency",
                "origin_country",
                "category",
            ],
            self.listings.iter().map(|l| {
                [
                    l.listing_id.clone(),
                    l.title.clone(),
                    l.listed_at.to_string(),
                    l.seller_id.clone(),
                    fmt_price(l.price, &l.currency),
                    l.currency.clone(),
                    l.origin_country.clone(),
                    l.category.clone(),
                ]
            }),
        )?;
        let pairs = |rows: Vec<(String, String)>| rows.into_iter().map(|(a, b)| [a, b]);
        write_csv(
            &dir.join("truth_alerts.csv"),
            &["listing_id", "product_id"],
            pairs(self.truth_alerts()),
        )?;
        write_csv(
            &dir.join("truth_copies.csv"),
            &["listing_id", "product_id"],
            pairs(self.truth_copies()),
        )?;
        write_csv(
            &dir.join("truth_sellers.csv"),
            &["seller_id", "kind"],
            self.sellers
                .iter()
                .map(|s| [s.seller_id.clone(), s.kind.name().to_string()]),
        )?;
        write_csv(
            &dir.join("truth_onsets.csv"),
            &["product_id", "onset"],
            self.onsets
                .iter()
                .map(|(p, d)| [self.products[*p].product_id.clone(), d.to_string()]),
        )?;
        write_csv(
            &dir.join("truth_events.csv"),
            &["product_id", "event", "start", "end", "factor"],
            self.events.iter().map(|e| {
                [
                    self.products[e.product].product_id.clone(),
                    e.kind.name().to_string(),
                    e.start.to_string(),
                    e.end.to_string(),
                    format!("{:.2}", e.factor),
                ]
            }),
        )?;
        let json = serde_json::to_string_pretty(&self.params)?;
        write_text(&dir.join("world.json"), &(json + "\n"))?;
        self.write_sales(&dir.join("sales.parquet"))
    }

    fn write_sales(&self, path: &Path) -> Result<()> {
        let n = self.sales.len();
        let ids: Vec<&str> = self
            .sales
            .product
            .iter()
            .map(|&p| self.products[p as usize].product_id.as_str())
            .collect();
        let days: Vec<i32> = self.sales.date.iter().map(|d| d.0).collect();
        let date = Series::new("date".into(), days).cast(&DataType::Date)?;
        let mut df = DataFrame::new(
            n,
            vec![
                Column::new("product_id".into(), ids),
                Column::from(date),
                Column::new("units".into(), self.sales.units.clone()),
            ],
        )?;
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(&mut df)?;
        Ok(())
    }
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

fn decimals(currency: &str) -> usize {
    match currency {
        "IDR" | "VND" | "THB" | "PHP" => 0,
        _ => 2,
    }
}

fn fmt_price(p: f64, currency: &str) -> String {
    format!("{:.*}", decimals(currency), p)
}

// ---------------------------------------------------------------------------------------------
// Embedded sources

/// A source title for home products: the embedded Tokopedia names ([`generate`]) or a names
/// file ([`load_names_file`], [`generate_from`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SourceName {
    /// Category, shared by the variants recombined from the name.
    pub category: String,
    /// Product title.
    pub name: String,
    /// Price in the home currency (IDR scale: the foreign currencies are converted from it).
    pub price: f64,
}

/// Reads a names file: CSV with a header and the columns `category,name,price` (others are
/// ignored), price in the home currency at IDR scale; gzipped when the name ends in `.gz`. An
/// empty name or a price that is not a positive number is an error naming the file, row and
/// column.
pub fn load_names_file(path: &Path) -> Result<Vec<SourceName>> {
    let table = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut s)
            .map_err(|e| Error::io(path, e))?;
        s
    } else {
        String::from_utf8(bytes).map_err(|e| {
            Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?
    };
    let rows = crate::eval::read_columns(path, &text, &["category", "name", "price"])?;
    let bad = |row: usize, column: &str, reason: String| Error::BadValue {
        table: table.clone(),
        row,
        column: column.into(),
        reason,
    };
    let names: Vec<SourceName> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let [category, name, price]: [String; 3] = r
                .try_into()
                .expect("read_truth returns the columns asked for");
            if name.is_empty() {
                return Err(bad(i + 1, "name", "empty name".into()));
            }
            match price.parse::<f64>() {
                Ok(p) if p.is_finite() && p > 0.0 => Ok(SourceName {
                    category,
                    name,
                    price: p,
                }),
                _ => Err(bad(
                    i + 1,
                    "price",
                    format!("`{price}` is not a positive number"),
                )),
            }
        })
        .collect::<Result<_>>()?;
    if names.is_empty() {
        return Err(Error::Config(format!("{table}: no names")));
    }
    Ok(names)
}

fn gunzip(bytes: &[u8]) -> Result<String> {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut s)
        .map_err(|e| Error::io("<embedded synth source>", e))?;
    Ok(s)
}

/// Splits RFC 4180 CSV text into records of fields.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .into_records()
        .map(|r| {
            r.map(|r| r.iter().map(String::from).collect())
                .map_err(|e| Error::Config(format!("embedded synth source: {e}")))
        })
        .collect()
}

pub(crate) fn load_names() -> Result<Vec<SourceName>> {
    let rows = parse_csv(&gunzip(TOKOPEDIA_GZ)?)?;
    Ok(rows
        .into_iter()
        .skip(1)
        .filter(|r| r.len() >= 3 && !r[1].is_empty())
        .map(|r| SourceName {
            category: r[0].clone(),
            name: r[1].clone(),
            price: r[2].parse().unwrap_or(50_000.0),
        })
        .collect())
}

/// The embedded Complete Journey daily demand curves as they are: one `Vec` of daily units per
/// curve (365 days, 2017-01-01..2017-12-31), in file order. Curves that are shorter than a week
/// or never sell are skipped.
pub(crate) fn raw_curves() -> Result<Vec<Vec<f64>>> {
    let text = gunzip(CURVES_GZ)?;
    let mut curves = Vec::new();
    for line in text.lines().skip(1) {
        let Some(units) = line.rsplit(',').next() else {
            continue;
        };
        let raw: Vec<f64> = units.split(' ').filter_map(|x| x.parse().ok()).collect();
        if raw.len() < 7 || raw.iter().sum::<f64>() <= 0.0 {
            continue;
        }
        curves.push(raw);
    }
    if curves.is_empty() {
        return Err(Error::Config("embedded demand curves are empty".into()));
    }
    Ok(curves)
}

/// Loads the curves, each normalised to mean 1 and blended half-and-half with its centred
/// 7-day moving average (keeps seasonality and retail promotions, tames zero-inflation of
/// low-count products).
fn load_curves() -> Result<Vec<Vec<f64>>> {
    Ok(raw_curves()?
        .into_iter()
        .map(|raw| {
            let n = raw.len();
            let mean = raw.iter().sum::<f64>() / n as f64;
            (0..n)
                .map(|t| {
                    let ma = (0..7).map(|k| raw[(t + n + k - 3) % n]).sum::<f64>() / 7.0;
                    0.5 * raw[t] / mean + 0.5 * ma / mean
                })
                .collect()
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

#[rustfmt::skip]
const BRANDS: &[&str] = &[
    "Logitech", "SanDisk", "Xiaomi", "Samsung", "Asus", "Acer", "LG", "Rexus", "Vention", "Baseus",
    "Fantech", "Razer", "Kingston", "Philips", "Tefal", "Oxone", "Joyko", "Deli", "Garnier",
    "L'Oreal", "Merries", "Elzatta", "Miniso", "Dettol", "Kahf", "HMNS", "Blackmores", "Imboost",
    "Mooimom", "Ezviz", "GameSir", "Dobe", "Huion", "Wacom", "Prolink", "Nintendo", "Sony", "Apple",
    "Usams", "Bardi", "Ovikids", "Cuit", "PVN", "Jedai", "Pronas", "Telkomsel", "TP-Link", "Lenovo",
    "Canon", "Fujifilm", "Nikon", "GoPro", "Dunlop", "Denpoo", "Arami", "Tomsis", "Oumier",
    "Wardah", "Emina", "Scarlett", "Nestle", "Pampers", "MamyPoko", "Sweety", "Pigeon", "Cosmos",
    "Miyako", "Maspion", "Tupperware", "Faber-Castell", "Pilot", "Kenko", "Snowman", "Adidas",
    "Nike", "Puma", "Specs", "Ortuseight", "Eiger", "Consina", "Polytron", "Sharp", "Panasonic",
    "Toshiba", "Anker", "Ugreen", "Robot", "JBL", "Edifier", "Realme", "Oppo", "Vivo", "Infinix",
    "3M", "Bosch", "Makita", "Krisbow", "Tekiro", "Kuke", "Aonez", "SPC", "Mediatech", "Coreful",
    "Homade", "Bitzen", "Madame Gie", "Mujigae", "Ciji", "Kazu", "Cooger", "Mama's Choice", "Costa",
    "HP", "Dell", "MSI", "Intel", "AMD", "Epson", "Brother", "Casio", "Seiko", "Uniqlo", "Zara",
    "Rabbani", "Hush Puppies", "Converse", "Vans",
];

#[rustfmt::skip]
const FOREIGN_BRANDS: &[&str] = &[
    "OEM", "Generic", "NoBrand", "IMPORT", "HOMEY", "Kinsun", "YOUPIN", "Vakind",
];

pub(crate) const SPAM: &[&str] = &[
    "READY STOCK",
    "PROMO",
    "TERMURAH",
    "BISA COD",
    "ORIGINAL",
    "Free Ongkir",
    "!!!",
];

#[rustfmt::skip]
const SPAM_TOKENS: &[&str] = &[
    "ready", "stock", "stok", "promo", "termurah", "murah", "cod", "original", "ori", "!!!",
    "[fs]", "[baru]", "bisa", "free", "ongkir", "sale", "hot",
];

/// Indonesian/English word pairs, private to synth (the matcher must not see this table).
#[rustfmt::skip]
const TRANSLATIONS: &[(&str, &str)] = &[
    ("hitam", "black"), ("putih", "white"), ("merah", "red"), ("biru", "blue"), ("hijau", "green"),
    ("kuning", "yellow"), ("abu", "grey"), ("coklat", "brown"), ("ungu", "purple"),
    ("emas", "gold"), ("perak", "silver"), ("tas", "bag"), ("sepatu", "shoes"), ("kaos", "t-shirt"),
    ("botol", "bottle"), ("susu", "milk"), ("celana", "pants"), ("kemeja", "shirt"),
    ("jaket", "jacket"), ("topi", "hat"), ("kacamata", "glasses"), ("dompet", "wallet"),
    ("sabuk", "belt"), ("payung", "umbrella"), ("bantal", "pillow"), ("selimut", "blanket"),
    ("handuk", "towel"), ("lampu", "lamp"), ("kipas", "fan"), ("kabel", "cable"), ("mainan", "toy"),
    ("buku", "book"), ("kertas", "paper"), ("pena", "pen"), ("gunting", "scissors"),
    ("pisau", "knife"), ("wajan", "pan"), ("panci", "pot"), ("gelas", "glass"), ("piring", "plate"),
    ("sendok", "spoon"), ("garpu", "fork"), ("mangkok", "bowl"), ("sikat", "brush"),
    ("sabun", "soap"), ("minyak", "oil"), ("kopi", "coffee"), ("teh", "tea"), ("gula", "sugar"),
    ("garam", "salt"), ("beras", "rice"), ("kue", "cake"), ("keju", "cheese"),
    ("cokelat", "chocolate"), ("ayam", "chicken"), ("ikan", "fish"), ("pedas", "spicy"),
    ("manis", "sweet"), ("besar", "large"), ("kecil", "small"), ("baru", "new"), ("anak", "kids"),
    ("bayi", "baby"), ("wanita", "women"), ("pria", "men"), ("mobil", "car"), ("kamar", "bedroom"),
    ("rumah", "home"), ("dinding", "wall"), ("meja", "desk"), ("kursi", "chair"), ("rak", "rack"),
    ("kulit", "leather"), ("kayu", "wooden"), ("plastik", "plastic"), ("kain", "fabric"),
    ("tenda", "tent"), ("bola", "ball"), ("masker", "mask"), ("parfum", "perfume"),
    ("obat", "medicine"), ("lilin", "candle"), ("tali", "rope"), ("karet", "rubber"),
    ("sepeda", "bicycle"), ("kantong", "pouch"), ("lem", "glue"), ("pelindung", "protector"),
    ("pendingin", "cooler"), ("panjang", "long"), ("pendek", "short"), ("tebal", "thick"),
    ("tipis", "thin"), ("makanan", "food"), ("minuman", "drink"), ("kucing", "cat"),
    ("anjing", "dog"), ("jam", "watch"),
];

#[rustfmt::skip]
const COLOURS: &[&str] = &[
    "Hitam", "Putih", "Merah", "Biru", "Hijau", "Kuning", "Abu", "Coklat", "Ungu", "Pink", "Navy",
    "Cream", "Black", "White", "Red", "Blue", "Green", "Grey", "Maroon", "Tosca",
];

#[rustfmt::skip]
const GENERIC_ADJ: &[&str] = &[
    "Portable", "Mini", "Stainless Steel", "Wooden", "Foldable", "Waterproof", "Premium", "Classic",
    "Vintage", "Magnetic", "Ceramic", "Silicone", "Bamboo", "LED", "Smart", "Ergonomic",
    "Heavy Duty", "Handmade", "Nordic", "Adjustable",
];

#[rustfmt::skip]
const GENERIC_NOUNS: &[(&str, &str)] = &[
    ("Water Bottle", "Kitchen"), ("Desk Lamp", "Household"), ("Yoga Mat", "Sport"),
    ("Phone Stand", "Phones and Tablets"), ("Cutting Board", "Kitchen"),
    ("Storage Box", "Household"), ("Shower Curtain", "Household"), ("Coffee Mug", "Kitchen"),
    ("Garden Hose", "Carpentry"), ("Pet Bed", "Animal Care"), ("Laundry Basket", "Household"),
    ("Wall Clock", "Household"), ("Bath Towel", "Body Care"), ("Tool Kit", "Carpentry"),
    ("Camping Lantern", "Sport"), ("Shoe Rack", "Household"), ("Pillow Cover", "Household"),
    ("Keychain", "Other Products"), ("Travel Pouch", "Tour and Travel"), ("Hair Dryer", "Beauty"),
    ("Bike Light", "Sport"), ("Plant Pot", "Household"), ("Tea Infuser", "Kitchen"),
    ("Picture Frame", "Household"), ("Doormat", "Household"), ("Lunch Box", "Kitchen"),
    ("Rain Poncho", "Sport"), ("Dog Leash", "Animal Care"), ("Spice Rack", "Kitchen"),
    ("Wine Opener", "Kitchen"), ("Car Seat Cushion", "Automotive"), ("Makeup Organizer", "Beauty"),
    ("Drawing Tablet Glove", "Office & Stationery"), ("Sticky Notes", "Office & Stationery"),
    ("Jigsaw Puzzle", "Toys and Hobbies"), ("Kite", "Toys and Hobbies"), ("Fishing Lure", "Sport"),
];

#[rustfmt::skip]
const GENERIC_ATTR: &[&str] = &[
    "30cm", "Large", "Set of 2", "500ml", "XL", "1.5m", "Grey", "Black", "White", "Green", "2 pcs",
    "Pack of 3", "40x60cm", "Model X-200", "Pro", "Plus", "1L", "Blue", "Beige", "Rose Gold",
];

/// Currency per origin country and its value in IDR (fixed, illustrative rates).
const ORIGINS: &[(&str, &str, f64)] = &[
    ("CN", "CNY", 2150.0),
    ("CN", "CNY", 2150.0),
    ("MY", "MYR", 3400.0),
    ("SG", "SGD", 11_800.0),
    ("TH", "THB", 440.0),
    ("VN", "VND", 0.62),
    ("PH", "PHP", 275.0),
];

fn find_brand(title: &str) -> String {
    // Lower-cased words of each brand, made once (titles are scanned by the million).
    static LOWER: std::sync::OnceLock<Vec<Vec<String>>> = std::sync::OnceLock::new();
    let lower_brands = LOWER.get_or_init(|| {
        BRANDS
            .iter()
            .map(|b| b.to_lowercase().split(' ').map(str::to_string).collect())
            .collect()
    });
    let lower = title.to_lowercase();
    let tokens: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '/' | '(' | ')' | '[' | ']' | '|'))
        .filter(|t| !t.is_empty())
        .collect();
    for i in 0..tokens.len() {
        for (b, parts) in BRANDS.iter().zip(lower_brands) {
            if tokens.len() >= i + parts.len()
                && tokens[i..i + parts.len()]
                    .iter()
                    .zip(parts)
                    .all(|(a, b)| a == b)
            {
                return (*b).to_string();
            }
        }
    }
    String::new()
}

/// Case style of a token, to carry over to its replacement.
fn same_case(model: &str, word: &str) -> String {
    let letters: Vec<char> = model.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() > 1 && letters.iter().all(|c| c.is_uppercase()) {
        word.to_uppercase()
    } else if letters.first().is_some_and(|c| c.is_uppercase()) {
        let mut cs = word.chars();
        cs.next()
            .map(|f| f.to_uppercase().chain(cs).collect())
            .unwrap_or_default()
    } else {
        word.to_lowercase()
    }
}

// ---------------------------------------------------------------------------------------------
// Random helpers

pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(1e-12);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub(crate) fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 0.0;
    }
    if lambda < 30.0 {
        let l = (-lambda).exp();
        let mut k = 0.0;
        let mut p: f64 = rng.gen();
        while p > l {
            k += 1.0;
            p *= rng.gen::<f64>();
        }
        k
    } else {
        (lambda + lambda.sqrt() * normal(rng)).round().max(0.0)
    }
}

/// Independent stream `tag`/`index` of the seed, so parallel work stays deterministic.
pub(crate) fn sub_rng(seed: u64, tag: u64, index: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream((tag << 48) ^ index);
    r
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.gen_range(0..xs.len())]
}

// ---------------------------------------------------------------------------------------------
// Title perturbation

fn typo(rng: &mut ChaCha8Rng, word: &str) -> String {
    let mut cs: Vec<char> = word.chars().collect();
    let n = cs.len();
    let i = rng.gen_range(1..n - 1);
    match rng.gen_range(0..4) {
        0 => cs.swap(i, i + 1),
        1 => {
            cs.remove(i);
        }
        2 => cs.insert(i, cs[i]),
        _ => {
            const NEAR: &str = "qwertyuiopasdfghjklzxcvbnm";
            let row: Vec<char> = NEAR.chars().collect();
            if let Some(pos) = row.iter().position(|&c| c == cs[i].to_ascii_lowercase()) {
                let j = if pos + 1 < row.len() {
                    pos + 1
                } else {
                    pos - 1
                };
                cs[i] = if cs[i].is_uppercase() {
                    row[j].to_ascii_uppercase()
                } else {
                    row[j]
                };
            } else {
                cs.swap(i, i + 1);
            }
        }
    }
    cs.into_iter().collect()
}

fn fmt_num(x: f64, comma: bool) -> String {
    let s = if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').to_string()
    };
    if comma {
        s.replace('.', ",")
    } else {
        s
    }
}

fn parse_num(s: &str) -> Option<f64> {
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        || !s.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    s.replace(',', ".").parse().ok()
}

/// Unit of a unit token: 0 = grams, 1 = kilograms, 2 = millilitres, 3 = litres.
fn unit_of(s: &str) -> Option<u8> {
    match s {
        "g" | "gr" | "gram" | "grams" | "GR" | "Gr" | "GRAM" | "Gram" | "gram." => Some(0),
        "kg" | "KG" | "Kg" => Some(1),
        "ml" | "ML" | "mL" | "Ml" => Some(2),
        "l" | "L" | "liter" | "Liter" | "LITER" | "litre" | "ltr" | "Ltr" => Some(3),
        _ => None,
    }
}

fn respell_unit(rng: &mut ChaCha8Rng, value: f64, unit: u8) -> String {
    let comma = rng.gen_bool(0.5);
    let space = if rng.gen_bool(0.5) { " " } else { "" };
    match unit {
        0 => match rng.gen_range(0..3) {
            0 if value >= 100.0 => format!("{} kg", fmt_num(value / 1000.0, comma)),
            1 => format!("{}{space}gram", fmt_num(value, comma)),
            _ => format!(
                "{}{space}{}",
                fmt_num(value, comma),
                if rng.gen_bool(0.5) { "g" } else { "gr" }
            ),
        },
        1 => match rng.gen_range(0..2) {
            0 if value < 10.0 => format!("{}{space}gr", fmt_num(value * 1000.0, comma)),
            _ => format!(
                "{}{space}{}",
                fmt_num(value, comma),
                if rng.gen_bool(0.5) { "kg" } else { "KG" }
            ),
        },
        2 => match rng.gen_range(0..2) {
            0 if value >= 100.0 => format!("{}{space}L", fmt_num(value / 1000.0, comma)),
            _ => format!(
                "{}{space}{}",
                fmt_num(value, comma),
                if rng.gen_bool(0.5) { "ml" } else { "ML" }
            ),
        },
        _ => match rng.gen_range(0..2) {
            0 if value < 10.0 => format!("{}{space}ml", fmt_num(value * 1000.0, comma)),
            _ => format!(
                "{}{space}{}",
                fmt_num(value, comma),
                if rng.gen_bool(0.5) { "liter" } else { "L" }
            ),
        },
    }
}

/// Rewrites quantities like `250gr`, `250 g`, `1,5L` into another spelling. Returns true if
/// anything changed.
pub(crate) fn respell_units(rng: &mut ChaCha8Rng, tokens: &mut Vec<String>) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].clone();
        // Split a glued token "250gr" into number and unit.
        let split = t
            .find(|c: char| c.is_alphabetic())
            .map(|k| (&t[..k], &t[k..]));
        let (value, unit, width) = if let Some((num, u)) = split.filter(|(n, _)| !n.is_empty()) {
            match (parse_num(num), unit_of(u)) {
                (Some(v), Some(u)) => (v, u, 1),
                _ => (0.0, 9, 0),
            }
        } else if let (Some(v), Some(u)) =
            (parse_num(&t), tokens.get(i + 1).and_then(|n| unit_of(n)))
        {
            (v, u, 2)
        } else {
            (0.0, 9, 0)
        };
        if width > 0 && value > 0.0 {
            let new = respell_unit(rng, value, unit);
            let parts: Vec<String> = new.split(' ').map(str::to_string).collect();
            let step = parts.len();
            tokens.splice(i..i + width, parts);
            changed = true;
            i += step;
        } else {
            i += 1;
        }
    }
    changed
}

fn is_spam(token: &str) -> bool {
    let low = token.to_lowercase();
    SPAM_TOKENS.contains(&low.trim_matches(|c: char| c == ',' || c == '-'))
}

/// A foreign seller's version of a home title: recognisably the same product (most content
/// words kept) with the differences real cross-seller listings show.
fn perturb_title(rng: &mut ChaCha8Rng, title: &str, brand: &str) -> String {
    let mut tokens: Vec<String> = title.split_whitespace().map(str::to_string).collect();
    if tokens.is_empty() {
        return title.to_string();
    }
    // Spam words removed.
    if rng.gen_bool(0.5) {
        let kept: Vec<String> = tokens.iter().filter(|t| !is_spam(t)).cloned().collect();
        if kept.len() >= 2 {
            tokens = kept;
        }
    }
    // Indonesian <-> English swaps.
    if rng.gen_bool(0.4) {
        for t in tokens.iter_mut() {
            let low = t.to_lowercase();
            let swap = TRANSLATIONS.iter().find_map(|(id, en)| {
                if low == *id {
                    Some(*en)
                } else if low == *en {
                    Some(*id)
                } else {
                    None
                }
            });
            if let Some(w) = swap {
                if rng.gen_bool(0.7) {
                    *t = same_case(t, w);
                }
            }
        }
    }
    // Unit respellings.
    if rng.gen_bool(0.6) {
        respell_units(rng, &mut tokens);
    }
    // Partial word-order shuffle: swap 1-2 adjacent pairs, or move the tail segment to the front.
    if tokens.len() >= 3 && rng.gen_bool(0.35) {
        if rng.gen_bool(0.3) {
            let cut = rng.gen_range(tokens.len() / 2..tokens.len());
            tokens.rotate_left(cut);
        } else {
            for _ in 0..rng.gen_range(1..=2) {
                let i = rng.gen_range(0..tokens.len() - 1);
                tokens.swap(i, i + 1);
            }
        }
    }
    // Drop one trailing token of a long title.
    if tokens.len() >= 7 && rng.gen_bool(0.2) {
        tokens.pop();
    }
    // Character typos (one only in short titles).
    if rng.gen_bool(0.35) {
        let max_typos = if tokens.len() < 4 { 1 } else { 2 };
        for _ in 0..rng.gen_range(1..=max_typos) {
            let candidates: Vec<usize> = (0..tokens.len())
                .filter(|&i| {
                    tokens[i].chars().count() >= 4 && tokens[i].chars().all(char::is_alphabetic)
                })
                .collect();
            if let Some(&i) = candidates.get(rng.gen_range(0..candidates.len().max(1))) {
                tokens[i] = typo(rng, &tokens[i]);
            }
        }
    }
    // Brand prefix.
    if rng.gen_bool(0.15) {
        let b = if !brand.is_empty() && !tokens[0].eq_ignore_ascii_case(brand) {
            brand.to_string()
        } else {
            (*pick(rng, FOREIGN_BRANDS)).to_string()
        };
        tokens.insert(0, b);
    }
    let mut out = tokens.join(" ");
    // Spam words added.
    if rng.gen_bool(0.45) {
        for _ in 0..rng.gen_range(1..=2) {
            let s = pick(rng, SPAM);
            out = if rng.gen_bool(0.5) {
                format!("{s} {out}")
            } else {
                format!("{out} {s}")
            };
        }
    }
    // Case changes.
    match rng.gen_range(0..10) {
        0 | 1 => out = out.to_uppercase(),
        2 => out = out.to_lowercase(),
        3 => {
            out = out
                .split(' ')
                .map(|w| {
                    let mut cs = w.chars();
                    cs.next()
                        .map(|f| {
                            f.to_uppercase()
                                .chain(cs.flat_map(char::to_lowercase))
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect::<Vec<String>>()
                .join(" ")
        }
        _ => {}
    }
    out
}

/// A new home title made from `base`: colours, numbers and brands altered and the tail spliced
/// from another name of the same category, and sometimes one of the variant axes marketplaces
/// list separately: a size, a bundle, or a model of the line.
fn variant_title(rng: &mut ChaCha8Rng, base: &str, other: &str, cat_brands: &[String]) -> String {
    let mut tokens: Vec<String> = base.split_whitespace().map(str::to_string).collect();
    let mut changed = false;
    for t in tokens.iter_mut() {
        let low = t.to_lowercase();
        if COLOURS.iter().any(|c| c.to_lowercase() == low) && rng.gen_bool(0.8) {
            let c = pick::<&str>(rng, COLOURS);
            *t = same_case(t, c);
            changed = true;
        } else if t.chars().all(|c| c.is_ascii_digit()) && t.len() <= 4 && rng.gen_bool(0.6) {
            let v: u32 = t.parse().unwrap_or(1);
            let nv = match rng.gen_range(0..3) {
                0 => v * 2,
                1 => (v / 2).max(1),
                _ => v + rng.gen_range(1..=5),
            };
            *t = nv.to_string();
            changed = true;
        } else if !cat_brands.is_empty()
            && cat_brands.iter().any(|b| b.to_lowercase() == low)
            && rng.gen_bool(0.7)
        {
            let b: &String = pick(rng, cat_brands);
            *t = same_case(t, b);
            changed = true;
        }
    }
    if rng.gen_bool(0.6) || !changed {
        let others: Vec<&str> = other.split_whitespace().collect();
        let keep = (tokens.len() * 2 / 3).max(2).min(tokens.len());
        tokens.truncate(keep);
        let take = rng.gen_range(1..=3).min(others.len());
        tokens.extend(others[others.len() - take..].iter().map(|s| s.to_string()));
    }
    if rng.gen_bool(0.3) {
        tokens.push(pick(rng, COLOURS).to_string());
    }
    match rng.gen_range(0..10) {
        0 => tokens.push(pick(rng, SIZES).to_string()),
        1 => {
            let n = rng.gen_range(2..=12);
            tokens.extend(match rng.gen_range(0..3) {
                0 => vec!["isi".to_string(), n.to_string()],
                1 => vec!["Paket".to_string(), n.to_string(), "pcs".to_string()],
                _ => vec![format!("{n}pcs")],
            });
        }
        2 => tokens.push(pick(rng, MODELS).to_string()),
        _ => {}
    }
    tokens.join(" ")
}

#[rustfmt::skip]
const SIZES: &[&str] = &["S", "M", "L", "XL", "XXL", "3XL", "All Size", "Jumbo"];

#[rustfmt::skip]
const MODELS: &[&str] = &["Pro", "Plus", "Max", "Mini", "Lite", "V2", "V3", "2023", "2024", "Series 2"];

fn generic_title(rng: &mut ChaCha8Rng) -> (String, String) {
    let (noun, cat) = pick(rng, GENERIC_NOUNS);
    let mut t = format!("{} {}", pick(rng, GENERIC_ADJ), noun);
    if rng.gen_bool(0.7) {
        t = format!("{t} {}", pick(rng, GENERIC_ATTR));
    }
    if rng.gen_bool(0.3) {
        t = format!("{} {t}", pick(rng, FOREIGN_BRANDS));
    }
    (t, (*cat).to_string())
}

// ---------------------------------------------------------------------------------------------
// Generation

fn param(name: &str, value: impl ToString, expected: &str) -> Error {
    Error::Param {
        name: name.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

fn validate(p: &SynthParams) -> Result<()> {
    if !(1..=2_000_000).contains(&p.products) {
        return Err(param("products", p.products, "1..=2000000"));
    }
    if !(0.0..=0.5).contains(&p.bestseller_share) {
        return Err(param("bestseller_share", p.bestseller_share, "0.0..=0.5"));
    }
    if !(0.0..=0.3).contains(&p.decoy_share) {
        return Err(param("decoy_share", p.decoy_share, "0.0..=0.3"));
    }
    if !(0.0..=0.3).contains(&p.launch_share) {
        return Err(param("launch_share", p.launch_share, "0.0..=0.3"));
    }
    for (name, v) in [
        ("followers", p.followers),
        ("organic", p.organic),
        ("unrelated", p.unrelated),
    ] {
        if v > 100_000 {
            return Err(param(name, v, "0..=100000"));
        }
    }
    if !(181..=3660).contains(&p.days) {
        return Err(param(
            "days",
            p.days,
            "181..=3660 (onsets fall in days 90..days-90)",
        ));
    }
    if p.start.0.checked_add(p.days as i32).is_none() {
        return Err(param(
            "start",
            p.start,
            "a date at least `days` before the end of the calendar",
        ));
    }
    let best = bestseller_count(p);
    if p.followers > 0 && best < 8 {
        return Err(param(
            "bestseller_share",
            p.bestseller_share,
            &format!("at least 8 bestsellers when followers > 0 (products x bestseller_share = {best}); raise products or bestseller_share, or set followers = 0"),
        ));
    }
    Ok(())
}

fn bestseller_count(p: &SynthParams) -> usize {
    ((p.products as f64 * p.bestseller_share).round() as usize).min(p.products)
}

/// Per-product plan drawn on the main stream.
#[derive(Clone, Copy)]
enum Plan {
    Normal,
    Bestseller(i32),
    Decoy,
    Launch(i32),
}

/// The home catalog of a world, drawn on the main stream.
struct HomeCatalog<'a> {
    products: Vec<HomeProduct>,
    /// Names held out of the home catalog (alone in their family), for unrelated listings.
    held: Vec<usize>,
    /// Name indices by category.
    by_cat: BTreeMap<&'a str, Vec<usize>>,
}

/// Draws `n_products` home products: distinct names first (some held out while there are
/// names to spare), then variants recombined within a category.
fn home_catalog<'a>(
    rng: &mut ChaCha8Rng,
    names: &'a [SourceName],
    n_products: usize,
) -> HomeCatalog<'a> {
    // Family key: first three lower-cased words. Only names alone in their family can be held
    // out, so a held-out (unrelated) name is never a near-twin of a home title.
    let family = |s: &str| {
        s.to_lowercase()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut family_size: BTreeMap<String, usize> = BTreeMap::new();
    for n in names {
        *family_size.entry(family(&n.name)).or_default() += 1;
    }
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.shuffle(rng);
    let total = names.len();
    let hold_target = if n_products <= total {
        (total * 15 / 100).min(total - n_products)
    } else {
        0
    };
    let mut held: Vec<usize> = Vec::new();
    let mut home_names: Vec<usize> = Vec::new();
    for &i in &order {
        if held.len() < hold_target && family_size[&family(&names[i].name)] == 1 {
            held.push(i);
        } else {
            home_names.push(i);
        }
    }
    // If too few singletons, fill the held-out set from the end of the home order.
    while held.len() < hold_target {
        if let Some(i) = home_names.pop() {
            held.push(i);
        }
    }
    home_names.truncate(n_products.min(home_names.len()));
    home_names.sort_unstable();
    held.sort_unstable();

    // Brands per category, for variants.
    let mut cat_brands: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for n in names {
        let b = find_brand(&n.name);
        if !b.is_empty() {
            cat_brands.entry(n.category.as_str()).or_default().insert(b);
        }
    }
    let cat_brands: BTreeMap<&str, Vec<String>> = cat_brands
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect();
    let mut by_cat: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        by_cat.entry(n.category.as_str()).or_default().push(i);
    }

    // Home products.
    let width = n_products.to_string().len().max(5);
    let n_home_sellers = (n_products / 8).max(1);
    // Two titles that differ only in case, punctuation or the language of a word that copies
    // may translate (`Hitam` and `Black`) name one product: a variant must differ in its words.
    let words = |t: &str| {
        t.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| {
                TRANSLATIONS
                    .iter()
                    .find_map(|&(id, en)| (w == en).then_some(id))
                    .unwrap_or(w)
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut used: BTreeSet<String> = names.iter().map(|n| words(&n.name)).collect();
    let mut products = Vec::with_capacity(n_products);
    for k in 0..n_products {
        let (title, category, price) = if let Some(&i) = home_names.get(k) {
            (
                names[i].name.clone(),
                names[i].category.clone(),
                names[i].price,
            )
        } else {
            let base = &names[rng.gen_range(0..total)];
            let peers = &by_cat[base.category.as_str()];
            let other = &names[*pick(rng, peers)];
            let empty = Vec::new();
            let brands = cat_brands.get(base.category.as_str()).unwrap_or(&empty);
            let mut t = variant_title(rng, &base.name, &other.name, brands);
            let mut tries = 0;
            while used.contains(&words(&t)) {
                tries += 1;
                t = if tries < 5 {
                    variant_title(rng, &base.name, &other.name, brands)
                } else {
                    format!(
                        "{t} {}{}",
                        (b'A' + rng.gen_range(0..26u8)) as char,
                        rng.gen_range(10..1000)
                    )
                };
            }
            used.insert(words(&t));
            let price = (base.price * (0.3 * normal(rng)).exp() / 100.0)
                .round()
                .max(1.0)
                * 100.0;
            (t, base.category.clone(), price)
        };
        products.push(HomeProduct {
            product_id: format!("P{:0width$}", k + 1),
            brand: find_brand(&title),
            title,
            category,
            price,
            seller_id: format!("H{:04}", rng.gen_range(0..n_home_sellers) + 1),
        });
    }

    HomeCatalog {
        products,
        held,
        by_cat,
    }
}

/// Generates a world. Deterministic for `params.seed`.
///
/// Errors with [`Error::Param`] when a parameter is out of range, including `followers > 0`
/// with fewer than 8 bestsellers (followers copy 8–16 of them).
pub fn generate(params: &SynthParams) -> Result<World> {
    generate_from(params, &load_names()?)
}

/// The world of [`generate`], its home titles drawn from `names` instead of the embedded
/// Tokopedia names (see [`load_names_file`]): distinct names first, then variants recombined
/// within a category. Copies are perturbed as in [`generate`].
pub fn generate_from(params: &SynthParams, names: &[SourceName]) -> Result<World> {
    validate(params)?;
    let curves = load_curves()?;
    let days = params.days as i32;
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);

    let home = home_catalog(&mut rng, names, params.products);
    let (products, held, by_cat) = (home.products, home.held, home.by_cat);

    // Plans: bestsellers, then launches and decoys among the rest.
    let n = products.len();
    let n_best = bestseller_count(params);
    let mut plans = vec![Plan::Normal; n];
    let mut onsets = Vec::new();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rng);
    let mut best_idx: Vec<usize> = idx[..n_best].to_vec();
    best_idx.sort_unstable();
    for &p in &best_idx {
        let onset = rng.gen_range(90..days - 90);
        plans[p] = Plan::Bestseller(onset);
        onsets.push((p, params.start.add_days(onset)));
    }
    let rest = &idx[n_best..];
    let n_launch = (rest.len() as f64 * params.launch_share).round() as usize;
    let n_decoy = (rest.len() as f64 * params.decoy_share).round() as usize;
    let mut launch_idx: Vec<usize> = rest[..n_launch].to_vec();
    launch_idx.sort_unstable();
    for &p in &launch_idx {
        plans[p] = Plan::Launch(rng.gen_range(30..days - 60));
    }
    let mut decoy_idx: Vec<usize> = rest[n_launch..n_launch + n_decoy].to_vec();
    decoy_idx.sort_unstable();
    for &p in &decoy_idx {
        plans[p] = Plan::Decoy;
    }

    // Sales, one independent stream per product (parallel, order-preserving).
    let seed = params.seed;
    let start = params.start;
    let per_product: Vec<Simulated> = (0..n)
        .into_par_iter()
        .map(|p| {
            simulate_sales(
                &mut sub_rng(seed, 1, p as u64),
                p,
                plans[p],
                &curves,
                days,
                start,
            )
        })
        .collect();
    let mut sales = SalesTable::default();
    let mut events = Vec::new();
    for (p, (rows, evs)) in per_product.into_iter().enumerate() {
        for (d, u) in rows {
            sales.product.push(p as u32);
            sales.date.push(start.add_days(d));
            sales.units.push(u);
        }
        events.extend(evs);
    }

    // Foreign sellers, kinds shuffled before ids are given.
    let mut kinds: Vec<SellerKind> = std::iter::repeat_n(SellerKind::Follower, params.followers)
        .chain(std::iter::repeat_n(SellerKind::Organic, params.organic))
        .chain(std::iter::repeat_n(SellerKind::Unrelated, params.unrelated))
        .collect();
    kinds.shuffle(&mut rng);
    let swidth = kinds.len().to_string().len().max(4);
    let sellers: Vec<ForeignSeller> = kinds
        .iter()
        .enumerate()
        .map(|(i, &kind)| {
            let (country, cur, _) = *pick(&mut rng, ORIGINS);
            ForeignSeller {
                seller_id: format!("S{:0swidth$}", i + 1),
                kind,
                origin_country: country.to_string(),
                currency: if rng.gen_bool(0.5) {
                    "IDR".into()
                } else {
                    cur.to_string()
                },
            }
        })
        .collect();

    let ctx = ListingCtx {
        products: &products,
        plans: &plans,
        names,
        held: &held,
        by_cat: &by_cat,
        days,
        start,
    };
    let non_best: Vec<usize> = (0..n)
        .filter(|p| !matches!(plans[*p], Plan::Bestseller(_)))
        .collect();
    let mut drafts: Vec<Listing> = Vec::new();
    for (si, seller) in sellers.iter().enumerate() {
        let mut r = sub_rng(seed, 2, si as u64);
        match seller.kind {
            SellerKind::Follower => {
                let k = r.gen_range(8..=16).min(best_idx.len());
                let chosen = rand::seq::index::sample(&mut r, best_idx.len(), k).into_vec();
                for c in chosen {
                    let p = best_idx[c];
                    let Plan::Bestseller(onset) = plans[p] else {
                        continue;
                    };
                    let day = (onset + r.gen_range(7..=56)).min(days - 1);
                    drafts.push(ctx.copy(&mut r, seller, p, day));
                }
                let k = r.gen_range(5..=15).min(non_best.len());
                for c in rand::seq::index::sample(&mut r, non_best.len(), k).into_vec() {
                    let p = non_best[c];
                    let day = ctx.random_day(&mut r, p);
                    drafts.push(ctx.copy(&mut r, seller, p, day));
                }
                for _ in 0..r.gen_range(0..=5) {
                    drafts.push(ctx.unrelated(&mut r, seller));
                }
            }
            SellerKind::Organic => {
                let k = r.gen_range(20..=40).min(n);
                for p in rand::seq::index::sample(&mut r, n, k).into_vec() {
                    let day = ctx.random_day(&mut r, p);
                    drafts.push(ctx.copy(&mut r, seller, p, day));
                }
            }
            SellerKind::Unrelated => {
                for _ in 0..r.gen_range(10..=30) {
                    drafts.push(ctx.unrelated(&mut r, seller));
                }
            }
        }
    }
    // Ids in order of listing date (stable: ties keep a shuffled order, not the seller order).
    drafts.shuffle(&mut rng);
    drafts.sort_by_key(|l| l.listed_at);
    let lwidth = drafts.len().to_string().len().max(5);
    for (i, l) in drafts.iter_mut().enumerate() {
        l.listing_id = format!("L{:0lwidth$}", i + 1);
    }

    Ok(World {
        params: params.clone(),
        products,
        sales,
        sellers,
        listings: drafts,
        onsets,
        events,
    })
}

/// One product's simulated sales (day offset, units > 0) and its planted events.
type Simulated = (Vec<(i32, f64)>, Vec<Event>);

fn simulate_sales(
    r: &mut ChaCha8Rng,
    p: usize,
    plan: Plan,
    curves: &[Vec<f64>],
    days: i32,
    start: Date,
) -> Simulated {
    let curve = pick(r, curves);
    let clen = curve.len() as i32;
    let shift = 7 * r.gen_range(-4..=4);
    let base = (5f64.ln() + 0.8 * normal(r)).exp().clamp(0.5, 60.0);
    let wk_amp = r.gen_range(0.0..0.25);
    let wk_phase = r.gen_range(0..7) as f64;
    let drift_amp = r.gen_range(0.0..0.15);
    let drift_phase = r.gen_range(0.0..std::f64::consts::TAU);
    let trend = r.gen_range(-0.15..0.15);
    let mut mult = vec![1.0f64; days as usize];
    // Bestsellers: multiple of the pre-onset level the expected demand is held at (0: none).
    let mut rise = vec![0.0f64; days as usize];
    let mut events = Vec::new();
    let day = |d: i32| start.add_days(d);
    let ev = |kind, s: i32, e: i32, factor| Event {
        product: p,
        kind,
        start: day(s),
        end: day(e),
        factor,
    };
    // Plan-specific shape.
    let mut stock_before = days;
    match plan {
        Plan::Bestseller(onset) => {
            let ramp = r.gen_range(3..=10);
            let peak = r.gen_range(6.0..20.0);
            let decay = if r.gen_bool(0.5) {
                r.gen_range(0.0..0.01)
            } else {
                0.0
            };
            for t in onset..days {
                let k = (t - onset) as f64;
                rise[t as usize] = if t - onset < ramp {
                    1.0 + (peak - 1.0) * (k + 1.0) / ramp as f64
                } else {
                    (peak * (-decay * (k - ramp as f64)).exp()).max(5.0)
                };
            }
            events.push(ev(EventKind::Bestseller, onset, days - 1, peak));
            stock_before = onset - 14;
        }
        Plan::Decoy => {
            let s = r.gen_range(60..days - 30);
            let ramp = r.gen_range(7..=21);
            let f = r.gen_range(1.5..3.0);
            for t in s..days {
                mult[t as usize] = 1.0 + (f - 1.0) * (((t - s + 1) as f64) / ramp as f64).min(1.0);
            }
            events.push(ev(EventKind::Decoy, s, days - 1, f));
        }
        Plan::Launch(l) => {
            for t in 0..days {
                mult[t as usize] = if t < l {
                    0.0
                } else {
                    (0.3 + 0.7 * (t - l) as f64 / 14.0).min(1.0)
                };
            }
            events.push(ev(EventKind::Launch, l, days - 1, 0.0));
        }
        Plan::Normal => {}
    }
    // Promotions (0-2).
    for _ in 0..r.gen_range(0..=2) {
        let s = r.gen_range(0..days);
        let len = r.gen_range(3..=14);
        let f = r.gen_range(2.0..5.0);
        let e = (s + len - 1).min(days - 1);
        for m in &mut mult[s as usize..=e as usize] {
            *m *= f;
        }
        events.push(ev(EventKind::Promotion, s, e, f));
    }
    // Stock-out (some products; for bestsellers only well before the onset).
    if r.gen_bool(0.15) && stock_before > 20 {
        let s = r.gen_range(0..stock_before - 15);
        let len = r.gen_range(5..=14);
        let e = (s + len - 1).min(days - 1);
        for m in &mut mult[s as usize..=e as usize] {
            *m = 0.0;
        }
        events.push(ev(EventKind::Stockout, s, e, 0.0));
    }
    events.sort_by_key(|e| (e.start, e.kind));
    let weekly =
        |t: i32| 1.0 + wk_amp * (std::f64::consts::TAU * (t as f64 + wk_phase) / 7.0).cos();
    // Expected demand of the product's own curve, before planted events.
    let level = |t: i32| {
        let c = curve[(t + shift).rem_euclid(clen) as usize];
        let drift = (1.0
            + drift_amp * (std::f64::consts::TAU * t as f64 / 365.0 + drift_phase).sin())
            * (1.0 + trend * t as f64 / days as f64);
        base * c * weekly(t) * drift
    };
    // A rise is planted relative to what the product sold before it: the larger of its mean
    // expected demand over the 8 weeks before the onset and over every day before the onset, so
    // that neither a recent dip nor a drifting curve makes the realised rise smaller than planted.
    let pre_level = match plan {
        Plan::Bestseller(onset) if onset > 0 => {
            let mean = |from: i32| (from..onset).map(level).sum::<f64>() / (onset - from) as f64;
            mean((onset - 56).max(0)).max(mean(0))
        }
        _ => 0.0,
    };
    let mut rows = Vec::new();
    for t in 0..days {
        let own = level(t);
        // After the onset: the own curve plus the rise's extra demand over the pre-onset level,
        // and never less than the rise times that level, with the product's weekly cycle.
        let m = rise[t as usize];
        let planted = if m > 0.0 {
            let pre = pre_level * weekly(t);
            (own + (m - 1.0) * pre).max(m * pre)
        } else {
            own
        };
        let lambda = planted * mult[t as usize];
        let noise = (0.15 * normal(r) - 0.011).exp();
        let u = poisson(r, lambda * noise);
        if u > 0.0 {
            rows.push((t, u));
        }
    }
    (rows, events)
}

struct ListingCtx<'a> {
    products: &'a [HomeProduct],
    plans: &'a [Plan],
    names: &'a [SourceName],
    held: &'a [usize],
    by_cat: &'a BTreeMap<&'a str, Vec<usize>>,
    days: i32,
    start: Date,
}

impl ListingCtx<'_> {
    /// A uniformly random day, not before the product's launch.
    fn random_day(&self, r: &mut ChaCha8Rng, p: usize) -> i32 {
        let from = match self.plans[p] {
            Plan::Launch(l) => l,
            _ => 0,
        };
        r.gen_range(from..self.days)
    }

    fn price(&self, idr: f64, seller: &ForeignSeller) -> f64 {
        if seller.currency == "IDR" {
            (idr / 100.0).round().max(1.0) * 100.0
        } else {
            let rate = ORIGINS
                .iter()
                .find(|o| o.1 == seller.currency)
                .map_or(1.0, |o| o.2);
            let v = idr / rate;
            if decimals(&seller.currency) == 0 {
                v.round().max(1.0)
            } else {
                (v * 100.0).round().max(1.0) / 100.0
            }
        }
    }

    fn listing(
        &self,
        seller: &ForeignSeller,
        title: String,
        day: i32,
        price: f64,
        category: String,
        copy_of: Option<usize>,
    ) -> Listing {
        Listing {
            listing_id: String::new(),
            title,
            listed_at: self.start.add_days(day),
            seller_id: seller.seller_id.clone(),
            price,
            currency: seller.currency.clone(),
            origin_country: seller.origin_country.clone(),
            category,
            copy_of,
        }
    }

    fn copy(&self, r: &mut ChaCha8Rng, seller: &ForeignSeller, p: usize, day: i32) -> Listing {
        let prod = &self.products[p];
        let title = perturb_title(r, &prod.title, &prod.brand);
        let idr = prod.price * r.gen_range(0.5..0.95);
        let price = self.price(idr, seller);
        let category = if r.gen_bool(0.1) {
            String::new()
        } else {
            prod.category.clone()
        };
        self.listing(seller, title, day, price, category, Some(p))
    }

    fn unrelated(&self, r: &mut ChaCha8Rng, seller: &ForeignSeller) -> Listing {
        let choice = r.gen_range(0..10);
        let (title, category, idr) = if choice < 4 && !self.held.is_empty() {
            let n = &self.names[*pick(r, self.held)];
            (
                perturb_title(r, &n.name, &find_brand(&n.name)),
                n.category.clone(),
                n.price * r.gen_range(0.5..1.1),
            )
        } else if choice < 7 {
            // Head of a name from one category joined to the tail of a name from another.
            let cats: Vec<&str> = self.by_cat.keys().copied().collect();
            let a = *pick(r, &cats);
            let mut b = *pick(r, &cats);
            if b == a {
                b = cats[(cats.iter().position(|c| *c == a).unwrap_or(0) + 1) % cats.len()];
            }
            let na = &self.names[*pick(r, &self.by_cat[a])];
            let nb = &self.names[*pick(r, &self.by_cat[b])];
            let ta: Vec<&str> = na.name.split_whitespace().collect();
            let tb: Vec<&str> = nb.name.split_whitespace().collect();
            let ha = ta.len().div_ceil(2).max(1);
            let hb = tb.len() / 2;
            let title = ta[..ha]
                .iter()
                .chain(&tb[hb..])
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            (title, na.category.clone(), (na.price * nb.price).sqrt())
        } else {
            let (t, c) = generic_title(r);
            (t, c, (11.5 + normal(r)).exp())
        };
        let day = r.gen_range(0..self.days);
        let price = self.price(idr, seller);
        let category = if r.gen_bool(0.1) {
            String::new()
        } else {
            category
        };
        self.listing(seller, title, day, price, category, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(1)
    }

    #[test]
    fn csv_round_trip() {
        let rows = parse_csv("a,b\n\"x, \"\"y\"\"\",2\n").unwrap();
        assert_eq!(rows, vec![vec!["a", "b"], vec!["x, \"y\"", "2"]]);
        let path = std::env::temp_dir().join(format!("crossleak-csv-{}.csv", std::process::id()));
        write_csv(&path, &["a", "b"], [["x, \"y\"", "2"]]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(text, "a,b\n\"x, \"\"y\"\"\",2\n");
        assert_eq!(parse_csv(&text).unwrap(), rows);
    }

    #[test]
    fn units_are_respelled() {
        let mut r = rng();
        for src in [
            "Kopi Bubuk 250gr",
            "Susu UHT 1 L",
            "Minyak 500ml",
            "Beras 5 kg",
        ] {
            let mut t: Vec<String> = src.split(' ').map(str::to_string).collect();
            assert!(respell_units(&mut r, &mut t), "{src}");
        }
        let mut t: Vec<String> = vec!["Mouse".into(), "2.4G".into()];
        assert!(!respell_units(&mut r, &mut t));
    }

    #[test]
    fn brands_found() {
        assert_eq!(find_brand("Logitech M191 Mouse Wireless"), "Logitech");
        assert_eq!(find_brand("Ball Pen Pulpen Pena Joyko BP-273"), "Joyko");
        assert_eq!(find_brand("kopi bubuk"), "");
    }

    #[test]
    fn perturbed_titles_keep_most_words() {
        let mut r = rng();
        let title = "Logitech M191 Mouse Wireless Full Size - Mid Grey";
        for _ in 0..200 {
            let t = perturb_title(&mut r, title, "Logitech").to_lowercase();
            let kept = title
                .to_lowercase()
                .split(' ')
                .filter(|w| t.contains(w))
                .count();
            assert!(kept >= 5, "{t}");
        }
    }

    #[test]
    fn a_names_file_gives_the_home_titles_and_a_bad_row_is_named() {
        let path = std::env::temp_dir().join(format!("crossleak-names-{}.csv", std::process::id()));
        let colours = [
            "RED", "PINK", "BLUE", "GREEN", "WHITE", "BLACK", "IVORY", "GOLD",
        ];
        let things = [
            "JUMBO BAG",
            "LUNCH BOX",
            "T-LIGHT HOLDER",
            "PARTY BUNTING",
            "TEA TOWEL",
        ];
        let mut rows: Vec<[String; 3]> = Vec::new();
        for t in things {
            for c in colours {
                for pattern in ["RETROSPOT", "POLKADOT", "PAISLEY"] {
                    rows.push(["Gifts".into(), format!("{t} {c} {pattern}"), "41600".into()]);
                }
            }
        }
        write_csv(&path, &["category", "name", "price"], rows.iter()).unwrap();
        let names = load_names_file(&path).unwrap();
        assert_eq!(names.len(), 120);
        let params = SynthParams {
            products: 100,
            bestseller_share: 0.1,
            organic: 2,
            unrelated: 2,
            ..SynthParams::default()
        };
        let world = generate_from(&params, &names).unwrap();
        assert_eq!(world.products.len(), 100);
        let titles: BTreeSet<&str> = names.iter().map(|n| n.name.as_str()).collect();
        assert!(world
            .products
            .iter()
            .all(|p| titles.contains(p.title.as_str())));
        assert!(!world.truth_copies().is_empty());

        std::fs::write(
            &path,
            "category,name,price\nGifts,JUMBO BAG RED,41600\nGifts,LUNCH BOX,free\n",
        )
        .unwrap();
        let err = load_names_file(&path).unwrap_err();
        assert!(
            matches!(&err, Error::BadValue { row: 2, column, .. } if column == "price"),
            "{err}"
        );
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn bad_params_are_errors() {
        let p = SynthParams {
            days: 100,
            ..SynthParams::default()
        };
        assert!(matches!(generate(&p), Err(Error::Param { .. })));
        let p = SynthParams {
            products: 50,
            ..SynthParams::default()
        };
        assert!(matches!(generate(&p), Err(Error::Param { .. })));
        let p = SynthParams {
            bestseller_share: f64::NAN,
            ..SynthParams::default()
        };
        assert!(matches!(generate(&p), Err(Error::Param { .. })));
    }
}
