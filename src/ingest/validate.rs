//! Row validation: each cell read as its logical type, or the row rejected with the column
//! and the reason.

use super::*;

/// Reason given for a row whose every mapped cell is empty.
pub(super) const BLANK_ROW: &str = "blank row";

/// Why a row is rejected: the logical column and the reason.
pub(super) type Fault = (&'static str, String);

pub(super) fn reject(kind: TableKind, row: usize, (column, reason): Fault) -> RejectedRow {
    RejectedRow {
        table: kind.name().into(),
        row,
        column: column.into(),
        reason,
    }
}

pub(super) fn record(
    report: &mut IngestReport,
    kind: TableKind,
    path: &Path,
    rows_read: usize,
    rejected: Vec<RejectedRow>,
) {
    report.tables.push(TableReport {
        table: kind.name().into(),
        path: path.to_path_buf(),
        rows_read,
        accepted: rows_read - rejected.len(),
        rejected: rejected.len(),
    });
    report.rejected.extend(rejected);
}

/// A value for a message, cut to a readable length.
pub(super) fn clip(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

pub(super) fn show(cell: &Cell<'_>) -> String {
    match cell {
        Cell::Missing => String::new(),
        Cell::Str(s) => clip(s),
        Cell::Num(v) => v.to_string(),
        Cell::Day(d) => Date(*d).to_string(),
        Cell::Int(v) => v.to_string(),
    }
}

/// Optional text, trimmed; `None` when blank.
pub(super) fn text(t: &Table, c: &str, i: usize) -> Option<String> {
    match t.cell(c, i) {
        Cell::Missing => None,
        Cell::Str(s) => Some(s.to_string()),
        other => Some(show(&other)),
    }
}

/// Required text without a copy.
pub(super) fn required_str<'a>(t: &'a Table, c: &'static str, i: usize) -> Result<&'a str, Fault> {
    match t.cell(c, i) {
        Cell::Str(s) => Ok(s),
        Cell::Missing => Err((c, format!("{c} is empty"))),
        // Integer ids in a Parquet file were cast to text by the scan.
        other => Err((c, format!("{c} is not text: '{}'", show(&other)))),
    }
}

pub(super) fn required_text(t: &Table, c: &'static str, i: usize) -> Result<String, Fault> {
    text(t, c, i).ok_or_else(|| (c, format!("{c} is empty")))
}

/// Optional date; dates after [`Table::latest`] are refused as impossible.
pub(super) fn date(t: &Table, c: &'static str, i: usize) -> Result<Option<Date>, Fault> {
    let day = match t.cell(c, i) {
        Cell::Missing => return Ok(None),
        Cell::Day(d) => Date(d),
        Cell::Str(s) => Date::parse_day(s)
            .ok_or_else(|| (c, format!("not a YYYY-MM-DD date: '{}'", clip(s))))?,
        other => return Err((c, format!("not a YYYY-MM-DD date: '{}'", show(&other)))),
    };
    if day > t.latest {
        return Err((
            c,
            format!(
                "{c} {day} is in the future (today is {})",
                t.latest.add_days(-1)
            ),
        ));
    }
    Ok(Some(day))
}

pub(super) fn required_date(t: &Table, c: &'static str, i: usize) -> Result<Date, Fault> {
    date(t, c, i)?.ok_or_else(|| (c, format!("{c} is empty")))
}

/// The largest number accepted in a numeric column: below 2^53, so sums of counts stay exact
/// in `f64` and no total overflows. No real daily count or price comes near it.
pub(crate) const MAX_NUMBER: f64 = 1e15;

/// Optional non-negative finite number, at most [`MAX_NUMBER`].
pub(super) fn number(t: &Table, c: &'static str, i: usize) -> Result<Option<f64>, Fault> {
    let cell = t.cell(c, i);
    let value = match cell {
        Cell::Missing => return Ok(None),
        Cell::Num(v) => v,
        Cell::Str(s) => s
            .parse::<f64>()
            .map_err(|_| (c, format!("{c} is not a number: '{}'", clip(s))))?,
        Cell::Int(v) => v as f64,
        Cell::Day(_) => return Err((c, format!("{c} is not a number: '{}'", show(&cell)))),
    };
    if !value.is_finite() {
        return Err((c, format!("{c} is not finite: '{}'", show(&cell))));
    }
    if value < 0.0 {
        return Err((c, format!("{c} is negative: '{}'", show(&cell))));
    }
    if value > MAX_NUMBER {
        return Err((
            c,
            format!(
                "{c} is too large: '{}' (at most {MAX_NUMBER:e}, where sums stay exact)",
                show(&cell)
            ),
        ));
    }
    // Normalise -0.0.
    Ok(Some(value + 0.0))
}

/// Parses a 64-bit perceptual hash written as exactly 16 hex digits.
pub fn parse_phash(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        u64::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

pub(super) fn phash(t: &Table, c: &'static str, i: usize) -> Result<Option<u64>, Fault> {
    match t.cell(c, i) {
        Cell::Missing => Ok(None),
        Cell::Int(v) => Ok(Some(v)),
        Cell::Str(s) => parse_phash(s).map(Some).ok_or_else(|| {
            (
                c,
                format!("{c} must be exactly 16 hex digits: '{}'", clip(s)),
            )
        }),
        other => Err((
            c,
            format!("{c} must be exactly 16 hex digits: '{}'", show(&other)),
        )),
    }
}
