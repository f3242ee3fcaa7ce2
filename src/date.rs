//! Calendar dates as day numbers, parsed from and printed as ISO `YYYY-MM-DD`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date stored as days since 1970-01-01 (the same physical value as polars' `Date`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i32);

impl Date {
    /// Builds a date from year, month and day; `None` when the date does not exist.
    ///
    /// ```
    /// use crossleak::Date;
    /// assert_eq!(Date::from_ymd(1970, 1, 2), Some(Date(1)));
    /// assert_eq!(Date::from_ymd(2023, 2, 29), None);
    /// ```
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        // Howard Hinnant's days_from_civil.
        let y = if month <= 2 { year - 1 } else { year } as i64;
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        i32::try_from(era * 146_097 + doe - 719_468).ok().map(Date)
    }

    /// Year, month and day of this date.
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = self.0 as i64 + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
        (y, m, d)
    }

    /// Parses an ISO `YYYY-MM-DD` date (surrounding spaces allowed); `None` for anything else.
    ///
    /// ```
    /// use crossleak::Date;
    /// assert_eq!(Date::parse("2024-03-01").unwrap().to_string(), "2024-03-01");
    /// assert!(Date::parse("2024-02-30").is_none());
    /// assert!(Date::parse("01/03/2024").is_none());
    /// ```
    pub fn parse(s: &str) -> Option<Date> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        let y = digits(0..4)?;
        let m = digits(5..7)?;
        let d = digits(8..10)?;
        Date::from_ymd(y as i32, m, d)
    }

    /// Parses the day of an ISO date or date-time: `YYYY-MM-DD`, or that followed by `T` or a
    /// space and a time `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff`, with an optional `Z` or offset
    /// (`+07:00`, `-0500`). The day is the date as written: no time zone is converted, so a
    /// sale is counted on the local day of the record. `None` for anything else.
    ///
    /// ```
    /// use crossleak::Date;
    /// let day = Date::parse("2024-03-01");
    /// assert_eq!(Date::parse_day("2024-03-01 16:16:00"), day);
    /// assert_eq!(Date::parse_day("2024-03-01T23:30:00.250-05:00"), day);
    /// assert_eq!(Date::parse_day("2024-03-01T08:15Z"), day);
    /// assert!(Date::parse_day("2024-03-01 25:00").is_none());
    /// assert!(Date::parse_day("2024-03-01 noon").is_none());
    /// ```
    pub fn parse_day(s: &str) -> Option<Date> {
        let s = s.trim();
        match s.as_bytes().get(10) {
            None => Date::parse(s),
            Some(b'T' | b' ') if s.is_char_boundary(10) && is_time(&s[11..]) => {
                Date::parse(&s[..10])
            }
            Some(_) => None,
        }
    }

    /// Today's date in UTC, from the system clock (1970-01-01 if the clock is before it).
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Date(i32::try_from(secs / 86_400).unwrap_or(i32::MAX))
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i32 {
        later.0 - self.0
    }

    /// This date moved by `days`.
    #[must_use]
    pub fn add_days(self, days: i32) -> Date {
        Date(self.0 + days)
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not a YYYY-MM-DD date: {s}")))
    }
}

/// `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff`, then nothing, `Z`, or an offset `+HH:MM` / `-HHMM`.
fn is_time(s: &str) -> bool {
    let two = |b: &[u8], max: u8| -> bool {
        b.len() == 2
            && b.iter().all(u8::is_ascii_digit)
            && (b[0] - b'0') * 10 + (b[1] - b'0') <= max
    };
    let b = s.as_bytes();
    if b.len() < 5 || !two(&b[0..2], 23) || b[2] != b':' || !two(&b[3..5], 59) {
        return false;
    }
    let mut rest = &b[5..];
    if rest.first() == Some(&b':') {
        if rest.len() < 3 || !two(&rest[1..3], 60) {
            return false;
        }
        rest = &rest[3..];
        if rest.first() == Some(&b'.') {
            let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return false;
            }
            rest = &rest[1 + digits..];
        }
    }
    match rest {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] | [b'+' | b'-', h1, h2, m1, m2] => {
            two(&[*h1, *h2], 23) && two(&[*m1, *m2], 59)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_over_four_centuries() {
        for n in (-200_000..200_000).step_by(97) {
            let d = Date(n);
            let (y, m, dd) = d.ymd();
            assert_eq!(Date::from_ymd(y, m, dd), Some(d));
            assert_eq!(Date::parse(&d.to_string()), Some(d), "{d}");
        }
    }

    /// Date-times give their date as written; a malformed time part is no date at all.
    #[test]
    fn date_times_give_their_day() {
        let day = Date::parse("2024-03-01");
        for ok in [
            "2024-03-01 00:00",
            "2024-03-01T23:59:60",
            "2024-03-01 10:00:00.5",
            "2024-03-01T10:00+0700",
            "2024-03-01T10:00:00-05:30",
            " 2024-03-01 10:00Z ",
        ] {
            assert_eq!(Date::parse_day(ok), day, "{ok}");
        }
        for bad in [
            "2024-03-01T",
            "2024-03-01 1:00",
            "2024-03-01 10:60",
            "2024-03-01 10:00:00.",
            "2024-03-01 10:00+7",
            "2024-03-01 10:00 UTC",
            "2024-03-01x10:00",
            "2024-03-01\u{e9}",
            "2024-02-30 10:00",
        ] {
            assert_eq!(Date::parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(Date::parse("2000-03-01").unwrap().0, 11_017);
        assert_eq!(Date::parse("2024-02-29").unwrap().ymd(), (2024, 2, 29));
        assert!(Date::parse("1900-02-29").is_none());
        assert!(Date::parse("2024-13-01").is_none());
        assert!(Date::parse("2024-1-01").is_none());
    }
}
