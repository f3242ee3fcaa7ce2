//! `report.html`: one self-contained page (inline CSS and SVG, no script, no network) with the
//! summary, the flagged sellers, the seller lift plot, the lag histogram, the sales curve of
//! each top alert's bestseller, the category statistics, the ingest accounting and the
//! parameters. Charts are drawn with plotters' SVG backend.

use std::fmt::Write as _;

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ingest::IngestReport;
use crate::leak::{CategoryFinding, FollowStats, LeakAlert, SellerFinding};
use crate::{Date, Error, Result};

/// A copy marked on a sales curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CopyMark {
    /// Foreign listing id.
    pub listing_id: String,
    /// Foreign seller.
    pub seller_id: Option<String>,
    /// Listing date.
    pub listed_at: Date,
    /// Days from onset to listing.
    pub lag_days: i32,
}

/// The weekly sales of one alerted bestseller, with its onset and the copies that followed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SalesCurve {
    /// Home product id.
    pub product_id: String,
    /// Home product title.
    pub title: String,
    /// Bestseller onset.
    pub onset: Date,
    /// First day of week 0.
    pub start: Date,
    /// Units (or revenue, see the product's demand measure) per 7-day period from `start`.
    pub weekly_units: Vec<f64>,
    /// The alerts on this product.
    pub copies: Vec<CopyMark>,
}

/// What the HTML page shows; borrowed from the run's report.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HtmlReport<'a> {
    /// Summary lines: label and value.
    pub summary: &'a [(String, String)],
    /// Seller statistics.
    pub sellers: &'a [SellerFinding],
    /// Category statistics.
    pub categories: &'a [CategoryFinding],
    /// Alerts.
    pub alerts: &'a [LeakAlert],
    /// Sales curves of the top alerted bestsellers.
    pub curves: &'a [SalesCurve],
    /// Ingest accounting.
    pub ingest: &'a IngestReport,
    /// The parameters, as pretty JSON.
    pub params_json: &'a str,
    /// Follow window, for the lag histogram.
    pub window: (i32, i32),
    /// Minimum lift for flagging, drawn on the lift plot.
    pub min_lift: f64,
}

type DynResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn chart_error(e: Box<dyn std::error::Error>) -> Error {
    Error::Chart(e.to_string())
}

/// Escapes text for HTML element content and attribute values.
///
/// ```
/// assert_eq!(crossleak::report::html::escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
/// ```
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Inline SVG needs no namespace declaration in HTML; dropping it keeps the page free of any
/// URL.
fn inline(svg: String) -> String {
    svg.replace(r#" xmlns="http://www.w3.org/2000/svg""#, "")
}

const COPY: RGBColor = RGBColor(230, 120, 0);
const GREY: RGBColor = RGBColor(150, 150, 150);
const LIFT_SELLERS: usize = 30;

fn sales_chart(c: &SalesCurve) -> DynResult<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 260)).into_drawing_area();
        root.fill(&WHITE)?;
        let x_end = (c.weekly_units.len().max(1) * 7) as i32;
        let ymax = c
            .weekly_units
            .iter()
            .copied()
            .filter(|u| u.is_finite())
            .fold(0.0, f64::max)
            .max(1.0)
            * 1.1;
        let start = c.start;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0i32..x_end, 0f64..ymax)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(8)
            .x_label_formatter(&|d| start.add_days(*d).to_string())
            .y_desc("units per week")
            .draw()?;
        chart
            .draw_series(LineSeries::new(
                c.weekly_units
                    .iter()
                    .enumerate()
                    .map(|(w, &u)| (w as i32 * 7 + 3, u)),
                BLUE.stroke_width(2),
            ))?
            .label("weekly sales")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        let onset = start.days_until(c.onset);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(onset, 0.0), (onset, ymax)],
                RED.stroke_width(2),
            )))?
            .label(format!("onset {}", c.onset))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        chart
            .draw_series(c.copies.iter().map(|m| {
                let x = start.days_until(m.listed_at);
                PathElement::new(vec![(x, 0.0), (x, ymax * 0.7)], COPY.stroke_width(2))
            }))?
            .label("copy listed abroad")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], COPY.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(inline(out))
}

/// Lags of all alerts (grey) with the flagged sellers' share (red), in 7-day bins.
///
/// The bars are plotters rectangles drawn in bin order rather than its `Histogram` series,
/// which collects bins in a `HashMap` and so writes them in a different order on each run: the
/// page must be byte-identical for the same input.
fn lag_chart(alerts: &[LeakAlert], flagged: &[&str], window: (i32, i32)) -> DynResult<String> {
    let (lo, hi) = window;
    let width = 7;
    let bins = ((hi - lo) / width + 1).max(1) as usize;
    let bin = |lag: i32| (((lag - lo).max(0) / width) as usize).min(bins - 1);
    let mut all = vec![0u32; bins];
    let mut from_flagged = vec![0u32; bins];
    for a in alerts {
        let b = bin(a.lag_days);
        all[b] += 1;
        if a.seller_id.as_deref().is_some_and(|s| flagged.contains(&s)) {
            from_flagged[b] += 1;
        }
    }
    let ymax = all.iter().copied().max().unwrap_or(0).max(1) + 1;
    let x_end = lo + bins as i32 * width;
    let bar = |b: usize, n: u32, style: ShapeStyle| {
        let x0 = lo + b as i32 * width;
        Rectangle::new([(x0, 0), (x0 + width - 1, n)], style)
    };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 280)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(lo..x_end, 0u32..ymax)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(14)
            .x_desc("days from onset to listing (7-day bins)")
            .y_desc("alerts")
            .draw()?;
        chart
            .draw_series(
                all.iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(b, &n)| bar(b, n, GREY.mix(0.6).filled())),
            )?
            .label("all alerts")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], GREY.filled()));
        chart
            .draw_series(
                from_flagged
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(b, &n)| bar(b, n, RED.mix(0.8).filled())),
            )?
            .label("alerts of flagged sellers")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], RED.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(inline(out))
}

/// The sellers shown on the lift plot: flagged first, then by p-value, at most
/// `LIFT_SELLERS`, only sellers with a bestseller copy.
fn lift_sellers(sellers: &[SellerFinding]) -> Vec<&SellerFinding> {
    let mut v: Vec<&SellerFinding> = sellers
        .iter()
        .filter(|s| s.stats.bestseller_copies > 0)
        .collect();
    v.sort_by(|a, b| {
        b.stats
            .flagged
            .cmp(&a.stats.flagged)
            .then(a.stats.p_value.total_cmp(&b.stats.p_value))
            .then(b.stats.lift.total_cmp(&a.stats.lift))
            .then(a.seller_id.cmp(&b.seller_id))
    });
    v.truncate(LIFT_SELLERS);
    v
}

fn lift_chart(sellers: &[&SellerFinding], min_lift: f64) -> DynResult<String> {
    let finite = |x: f64| if x.is_finite() { x } else { 0.0 };
    let ymax = sellers
        .iter()
        .map(|s| finite(s.stats.lift_high).max(finite(s.stats.lift)))
        .fold(min_lift.max(1.0), f64::max)
        .min(1000.0)
        * 1.1;
    let clamp = |x: f64| if x.is_finite() { x.min(ymax) } else { ymax };
    let n = sellers.len().max(1) as i32;
    let ids: Vec<String> = sellers.iter().map(|s| s.seller_id.clone()).collect();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 320)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(60)
            .y_label_area_size(50)
            .build_cartesian_2d(-1i32..n, 0f64..ymax)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n as usize + 2)
            .x_label_style(
                ("sans-serif", 11)
                    .into_font()
                    .transform(FontTransform::Rotate90),
            )
            .x_label_formatter(&|i| {
                usize::try_from(*i)
                    .ok()
                    .and_then(|i| ids.get(i).cloned())
                    .unwrap_or_default()
            })
            .y_desc("lift (follows / expected), 95% interval")
            .draw()?;
        for (level, style) in [
            (1.0, BLACK.stroke_width(1)),
            (min_lift, RED.stroke_width(1)),
        ] {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(-1, level), (n, level)],
                style,
            )))?;
        }
        chart.draw_series(sellers.iter().enumerate().map(|(i, s)| {
            let color = if s.stats.flagged { RED } else { GREY };
            ErrorBar::new_vertical(
                i as i32,
                clamp(s.stats.lift_low),
                clamp(s.stats.lift),
                clamp(s.stats.lift_high),
                color.stroke_width(2),
                8,
            )
        }))?;
        chart.draw_series(sellers.iter().enumerate().map(|(i, s)| {
            let color = if s.stats.flagged { RED } else { GREY };
            Circle::new((i as i32, clamp(s.stats.lift)), 4, color.filled())
        }))?;
        root.present()?;
    }
    Ok(inline(out))
}

fn num(x: f64) -> String {
    if !x.is_finite() {
        "∞".into()
    } else if x == 0.0 || (x.abs() >= 0.01 && x.abs() < 1e5) {
        format!("{x:.2}")
    } else {
        format!("{x:.1e}")
    }
}

fn quartiles(lags: &[i32]) -> String {
    if lags.is_empty() {
        return "-".into();
    }
    let at = |q: f64| lags[((lags.len() - 1) as f64 * q).round() as usize];
    format!("{} / {} / {}", at(0.25), at(0.5), at(0.75))
}

fn stats_cells(s: &FollowStats) -> String {
    format!(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} [{}, {}]</td><td>{}</td><td>{}</td><td>{}</td>",
        s.listings,
        s.bestseller_copies,
        s.pre_existing,
        s.follow_listings,
        num(s.expected_follows),
        num(s.follow_rate),
        num(s.lift),
        num(s.lift_low),
        num(s.lift_high),
        num(s.p_value),
        num(s.q_value),
        quartiles(&s.follow_lags_days),
    )
}

const STATS_HEAD: &str = "<th>listings</th><th>bestseller copies</th><th>pre-existing</th><th>follows</th><th>expected follows</th><th>follow rate</th><th>lift [95% CI]</th><th>p</th><th>q</th><th>lag days p25 / median / p75</th>";

const STYLE: &str = "body{font-family:sans-serif;margin:24px auto;max-width:1000px;color:#222}\
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}\
h3{font-size:15px;margin-bottom:4px}table{border-collapse:collapse;font-size:13px;margin:8px 0}\
td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f3f3f3}\
td:first-child,th:first-child{text-align:left}tr.flagged td{background:#fdecea}\
p.note{font-size:13px;color:#555}pre{font-size:12px;background:#f7f7f7;padding:8px;overflow:auto}\
svg{display:block;max-width:100%;height:auto}";

/// Renders the page.
pub(crate) fn render(r: &HtmlReport<'_>) -> Result<String> {
    let mut h = String::new();
    let w = &mut h;
    let _ = write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>crossleak report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>crossleak: home bestsellers followed by foreign copies</h1>\n"
    );

    // Summary.
    let _ = write!(w, "<section id=\"summary\"><h2>Summary</h2><table>");
    for (k, v) in r.summary {
        let _ = write!(w, "<tr><td>{}</td><td>{}</td></tr>", escape(k), escape(v));
    }
    let _ = writeln!(
        w,
        "</table><p class=\"note\">A copy <em>follows</em> a bestseller when it is listed {}..={} days after the onset; copies listed on or before the onset are pre-existing and never alerts. A seller's expected follows come from the control group: copies of comparable non-bestsellers (same category, price and age tercile) listed in the same windows. The p-value is a permutation test that shuffles onsets among comparable bestsellers; q-values are Benjamini-Hochberg adjusted over the sellers tested (those with enough bestseller copies to be flagged; the others have q = 1); the lift interval combines the exact Poisson interval on the follows with the sampling error of the expected follows.</p></section>",
        r.window.0, r.window.1
    );

    // Flagged sellers.
    let flagged: Vec<&SellerFinding> = r.sellers.iter().filter(|s| s.stats.flagged).collect();
    let _ = write!(
        w,
        "<section id=\"sellers\"><h2>Flagged sellers ({} of {})</h2>",
        flagged.len(),
        r.sellers.len()
    );
    if flagged.is_empty() {
        let _ = write!(w, "<p>No seller is flagged.</p>");
    } else {
        let _ = write!(w, "<table><tr><th>seller</th>{STATS_HEAD}</tr>");
        for s in &flagged {
            let _ = write!(
                w,
                "<tr class=\"flagged\"><td>{}</td>{}</tr>",
                escape(&s.seller_id),
                stats_cells(&s.stats)
            );
        }
        let _ = write!(w, "</table>");
    }
    let _ = writeln!(w, "</section>");

    // Lift plot.
    let shown = lift_sellers(r.sellers);
    let _ = write!(
        w,
        "<section id=\"lift\"><h2>Seller lift</h2><p class=\"note\">{} sellers with bestseller copies, flagged first (red), then by p-value; bars are 95% intervals; the black line is lift 1, the red line the minimum lift for flagging ({}).</p>",
        shown.len(),
        num(r.min_lift)
    );
    let _ = writeln!(
        w,
        "{}</section>",
        lift_chart(&shown, r.min_lift).map_err(chart_error)?
    );

    // Lag histogram and per-seller lag distributions.
    let ids: Vec<&str> = flagged.iter().map(|s| s.seller_id.as_str()).collect();
    let _ = write!(
        w,
        "<section id=\"lags\"><h2>Lag after onset</h2>{}",
        lag_chart(r.alerts, &ids, r.window).map_err(chart_error)?
    );
    if !flagged.is_empty() {
        let _ = write!(
            w,
            "<table><tr><th>flagged seller</th><th>follows</th><th>min</th><th>p25 / median / p75</th><th>max</th><th>lags (days)</th></tr>"
        );
        for s in &flagged {
            let l = &s.stats.follow_lags_days;
            let _ = write!(
                w,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&s.seller_id),
                l.len(),
                l.first().map_or("-".into(), i32::to_string),
                quartiles(l),
                l.last().map_or("-".into(), i32::to_string),
                l.iter().map(i32::to_string).collect::<Vec<_>>().join(" ")
            );
        }
        let _ = write!(w, "</table>");
    }
    let _ = writeln!(w, "</section>");

    // Top alerts.
    let _ = write!(w, "<section id=\"alerts\"><h2>Top alerts</h2>");
    if r.curves.is_empty() {
        let _ = write!(w, "<p>No alerts.</p>");
    }
    for c in r.curves {
        let _ = write!(
            w,
            "<h3>{} &mdash; {}</h3><p class=\"note\">onset {}; copies: {}</p>{}",
            escape(&c.product_id),
            escape(&c.title),
            c.onset,
            c.copies
                .iter()
                .map(|m| format!(
                    "{} by {} on {} (+{} days)",
                    escape(&m.listing_id),
                    escape(m.seller_id.as_deref().unwrap_or("unknown seller")),
                    m.listed_at,
                    m.lag_days
                ))
                .collect::<Vec<_>>()
                .join("; "),
            sales_chart(c).map_err(chart_error)?
        );
    }
    let _ = writeln!(w, "</section>");

    // Categories.
    let _ = write!(
        w,
        "<section id=\"categories\"><h2>Categories</h2><table><tr><th>category</th>{STATS_HEAD}</tr>"
    );
    for c in r.categories {
        let _ = write!(
            w,
            "<tr{}><td>{}</td>{}</tr>",
            if c.stats.flagged {
                " class=\"flagged\""
            } else {
                ""
            },
            escape(&c.category),
            stats_cells(&c.stats)
        );
    }
    let _ = writeln!(w, "</table></section>");

    // Inputs and parameters.
    let _ = write!(
        w,
        "<section id=\"inputs\"><h2>Inputs</h2><table><tr><th>table</th><th>rows read</th><th>accepted</th><th>rejected</th><th>file</th></tr>"
    );
    for t in &r.ingest.tables {
        let _ = write!(
            w,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&t.table),
            t.rows_read,
            t.accepted,
            t.rejected,
            escape(&t.path.display().to_string())
        );
    }
    let _ = writeln!(
        w,
        "</table></section>\n<section id=\"params\"><h2>Parameters</h2><pre>{}</pre></section>\n</body>\n</html>",
        escape(r.params_json)
    );
    Ok(h)
}
