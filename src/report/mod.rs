//! Output tables as polars DataFrames, their CSV, Parquet and JSON writers, and the HTML
//! report ([`html`]).

pub mod html;

use std::fs::File;
use std::path::Path;

use polars::prelude::*;
use serde::Serialize;

use crate::ingest::RejectedRow;
use crate::leak::{CategoryFinding, FollowStats, LeakAlert, SellerFinding};
use crate::matching::matcher::ReviewPair;
use crate::trend::BestsellerEvent;
use crate::{Error, Result};

fn strings<T>(rows: &[T], f: impl Fn(&T) -> String) -> Vec<String> {
    rows.iter().map(f).collect()
}

/// A polars `Date` column (written as `YYYY-MM-DD` in CSV).
fn dates<T>(name: &str, rows: &[T], f: impl Fn(&T) -> crate::Date) -> Result<Column> {
    let days: Vec<i32> = rows.iter().map(|r| f(r).0).collect();
    Ok(Column::new(name.into(), days).cast(&DataType::Date)?)
}

/// `alerts.csv`: one row per (foreign listing, home bestseller) copy listed within the window
/// after the onset, with the main similarity features and an explanation.
pub fn alerts_frame(alerts: &[LeakAlert]) -> Result<DataFrame> {
    let a = alerts;
    Ok(DataFrame::new_infer_height(vec![
        Column::new("listing_id".into(), strings(a, |x| x.listing_id.clone())),
        Column::new("product_id".into(), strings(a, |x| x.product_id.clone())),
        Column::new(
            "seller_id".into(),
            a.iter().map(|x| x.seller_id.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "match_probability".into(),
            a.iter().map(|x| x.match_probability).collect::<Vec<_>>(),
        ),
        Column::new(
            "lag_days".into(),
            a.iter().map(|x| x.lag_days).collect::<Vec<_>>(),
        ),
        dates("onset_date", a, |x| x.onset)?,
        dates("listed_at", a, |x| x.listed_at)?,
        Column::new(
            "word_cosine".into(),
            a.iter().map(|x| x.evidence.word_cosine).collect::<Vec<_>>(),
        ),
        Column::new(
            "char_cosine".into(),
            a.iter().map(|x| x.evidence.char_cosine).collect::<Vec<_>>(),
        ),
        Column::new(
            "token_jaccard".into(),
            a.iter()
                .map(|x| x.evidence.token_jaccard)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "number_agreement".into(),
            a.iter()
                .map(|x| x.evidence.number_agreement)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "price_similarity".into(),
            a.iter()
                .map(|x| x.evidence.price_similarity)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "explanation".into(),
            strings(a, |x| x.evidence.explanation.clone()),
        ),
    ])?)
}

/// The follow-statistics columns shared by `sellers.csv` and `categories.csv` (the lag
/// distribution itself is in `report.json`).
fn stats_columns(s: &[&FollowStats]) -> Vec<Column> {
    let num = |f: fn(&FollowStats) -> f64| s.iter().map(|x| f(x)).collect::<Vec<f64>>();
    let count = |f: fn(&FollowStats) -> usize| s.iter().map(|x| f(x) as u64).collect::<Vec<u64>>();
    vec![
        Column::new("listings".into(), count(|x| x.listings)),
        Column::new("bestseller_copies".into(), count(|x| x.bestseller_copies)),
        Column::new("pre_existing".into(), count(|x| x.pre_existing)),
        Column::new("follow_listings".into(), count(|x| x.follow_listings)),
        Column::new("follow_rate".into(), num(|x| x.follow_rate)),
        Column::new("expected_follows".into(), num(|x| x.expected_follows)),
        Column::new("expected_rate".into(), num(|x| x.expected_rate)),
        Column::new("lift".into(), num(|x| x.lift)),
        Column::new("lift_low".into(), num(|x| x.lift_low)),
        Column::new("lift_high".into(), num(|x| x.lift_high)),
        Column::new("p_value".into(), num(|x| x.p_value)),
        Column::new("q_value".into(), num(|x| x.q_value)),
        Column::new(
            "flagged".into(),
            s.iter().map(|x| x.flagged).collect::<Vec<_>>(),
        ),
        Column::new(
            "median_lag_days".into(),
            s.iter().map(|x| x.median_lag_days).collect::<Vec<_>>(),
        ),
    ]
}

/// `sellers.csv`: one row per foreign seller.
pub fn sellers_frame(sellers: &[SellerFinding]) -> Result<DataFrame> {
    let mut columns = vec![Column::new(
        "seller_id".into(),
        strings(sellers, |x| x.seller_id.clone()),
    )];
    columns.extend(stats_columns(
        &sellers.iter().map(|s| &s.stats).collect::<Vec<_>>(),
    ));
    Ok(DataFrame::new_infer_height(columns)?)
}

/// `categories.csv`: one row per home category whose bestsellers were copied.
pub fn categories_frame(categories: &[CategoryFinding]) -> Result<DataFrame> {
    let mut columns = vec![Column::new(
        "category".into(),
        strings(categories, |x| x.category.clone()),
    )];
    columns.extend(stats_columns(
        &categories.iter().map(|s| &s.stats).collect::<Vec<_>>(),
    ));
    Ok(DataFrame::new_infer_height(columns)?)
}

/// `bestsellers.csv`: one row per detected onset.
pub fn bestsellers_frame(events: &[BestsellerEvent]) -> Result<DataFrame> {
    let e = events;
    Ok(DataFrame::new_infer_height(vec![
        Column::new("product_id".into(), strings(e, |x| x.product_id.clone())),
        dates("onset", e, |x| x.onset)?,
        Column::new("peak".into(), e.iter().map(|x| x.peak).collect::<Vec<_>>()),
        dates("peak_date", e, |x| x.peak_date)?,
        Column::new(
            "rise_factor".into(),
            e.iter().map(|x| x.rise_factor).collect::<Vec<_>>(),
        ),
        Column::new(
            "rank_percentile".into(),
            e.iter().map(|x| x.rank_percentile).collect::<Vec<_>>(),
        ),
        Column::new(
            "confidence".into(),
            e.iter().map(|x| x.confidence).collect::<Vec<_>>(),
        ),
        Column::new(
            "rule".into(),
            strings(e, |x| format!("{:?}", x.rule).to_lowercase()),
        ),
    ])?)
}

/// `review_pairs.csv`: candidate pairs put to the analyst, least sure first, with an empty
/// `label` column to fill in (1 = the listing copies the product, 0 = it does not) and pass
/// back as `match.labels`.
pub fn review_frame(pairs: &[ReviewPair]) -> Result<DataFrame> {
    Ok(DataFrame::new_infer_height(vec![
        Column::new(
            "listing_id".into(),
            strings(pairs, |x| x.listing_id.clone()),
        ),
        Column::new(
            "product_id".into(),
            strings(pairs, |x| x.product_id.clone()),
        ),
        Column::new(
            "probability".into(),
            pairs.iter().map(|x| x.probability).collect::<Vec<_>>(),
        ),
        Column::new(
            "listing_title".into(),
            strings(pairs, |x| x.listing_title.clone()),
        ),
        Column::new(
            "product_title".into(),
            strings(pairs, |x| x.product_title.clone()),
        ),
        Column::new("label".into(), strings(pairs, |_| String::new())),
    ])?)
}

/// `rejected_rows.csv`: every input row that broke the data contract.
pub fn rejected_frame(rows: &[RejectedRow]) -> Result<DataFrame> {
    Ok(DataFrame::new_infer_height(vec![
        Column::new("table".into(), strings(rows, |x| x.table.clone())),
        Column::new(
            "row".into(),
            rows.iter().map(|x| x.row as u64).collect::<Vec<_>>(),
        ),
        Column::new("column".into(), strings(rows, |x| x.column.clone())),
        Column::new("reason".into(), strings(rows, |x| x.reason.clone())),
    ])?)
}

fn create(path: &Path) -> Result<File> {
    File::create(path).map_err(|e| Error::io(path, e))
}

/// Writes a frame as CSV with a header.
pub fn write_csv(df: &mut DataFrame, path: &Path) -> Result<()> {
    CsvWriter::new(create(path)?)
        .include_header(true)
        .finish(df)?;
    Ok(())
}

/// Writes a frame as Parquet.
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    ParquetWriter::new(create(path)?).finish(df)?;
    Ok(())
}

/// Writes any serialisable value as pretty JSON.
pub fn write_json<T: Serialize>(value: &T, path: &Path) -> Result<()> {
    let f = std::io::BufWriter::new(create(path)?);
    serde_json::to_writer_pretty(f, value)?;
    Ok(())
}
