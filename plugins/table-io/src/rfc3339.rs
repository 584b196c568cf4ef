//! RFC 3339 UTC timestamps in CSV, read fast.
//!
//! The jobs write datetimes to CSV as `2026-11-22T08:00:00.000000Z`. Polars
//! reads a zoned time like that through a general, per-value chrono path
//! (about a microsecond a value, most of a large merge's time), and
//! without its time-zone feature it could not keep the zone anyway. Columns
//! whose first values all have that shape are therefore read as text and
//! parsed here: the fixed layout byte by byte, anything else RFC 3339
//! (offsets, no fraction) by chrono, every value as naive UTC microseconds.

use polars::prelude::*;

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Microseconds since the Unix epoch of an RFC 3339 timestamp.
pub(crate) fn parse_micros(text: &str) -> Option<i64> {
    parse_utc_layout(text.as_bytes()).or_else(|| {
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|at| at.timestamp_micros())
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.f…]Z`, the layout the jobs write.
fn parse_utc_layout(bytes: &[u8]) -> Option<i64> {
    let (body, fraction) = match bytes {
        [body @ .., b'Z'] if body.len() == 19 => (body, &[][..]),
        [body @ .., b'Z'] if body.len() > 20 && body[19] == b'.' => body.split_at(19),
        _ => return None,
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, byte)| body[at] != byte) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| digits(&body[range]);
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let seconds =
        days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3_600 + minute * 60 + second;
    let fraction = fraction.strip_prefix(b".").unwrap_or(fraction);
    Some(seconds * MICROS_PER_SECOND + micros_of_fraction(fraction)?)
}

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0_i64, |value, byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + i64::from(byte - b'0'))
    })
}

/// The fraction's first six digits as microseconds; further digits are
/// dropped, as the columns hold microseconds.
fn micros_of_fraction(fraction: &[u8]) -> Option<i64> {
    if fraction.len() > 9 {
        return None;
    }
    let kept = &fraction[..fraction.len().min(6)];
    let value = digits(kept)?;
    digits(&fraction[kept.len()..])?;
    Some(value * 10_i64.pow(6 - kept.len() as u32))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Writes microseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_micros(micros: i64, out: &mut String) {
    use std::fmt::Write as _;
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    let fraction = micros.rem_euclid(MICROS_PER_SECOND);
    let (year, month, day) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    let time = seconds.rem_euclid(SECONDS_PER_DAY);
    let (hour, minute, second) = (time / 3_600, time % 3_600 / 60, time % 60);
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{fraction:06}Z"
    );
}

/// The date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `column`, a datetime column, as RFC 3339 text for CSV: polars would
/// format it through chrono, value by value, far slower.
pub(crate) fn format_column(column: &str) -> Expr {
    col(column).map(
        |values: Column| {
            let micros = values.cast(&datetime())?.to_physical_repr();
            let mut text = String::with_capacity(27);
            let formatted: StringChunked = micros
                .i64()?
                .iter()
                .map(|micros| {
                    micros.map(|micros| {
                        text.clear();
                        format_micros(micros, &mut text);
                        text.clone()
                    })
                })
                .collect();
            Ok(formatted.into_column().with_name(values.name().clone()))
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::String)),
    )
}

/// The datetime type of parsed columns.
pub(crate) fn datetime() -> DataType {
    DataType::Datetime(TimeUnit::Microseconds, None)
}

/// `column`, a text column, parsed as RFC 3339. Strict: a value that does
/// not parse fails the query with polars' own wording for a CSV value that
/// does not fit its column, so the CSV error path can locate its row.
/// Lenient: such a value becomes null, for locating it.
pub(crate) fn parse_column(column: &str, strict: bool) -> Expr {
    let name = PlSmallStr::from(column);
    col(column).map(
        move |values: Column| {
            let texts = values.str()?;
            let micros: Int64Chunked = texts
                .iter()
                .map(|text| match text.map(|text| (text, parse_micros(text))) {
                    Some((_, Some(micros))) => Ok(Some(micros)),
                    Some((text, None)) if strict => Err(polars_err!(
                        ComputeError: "could not parse `{text}` as dtype `datetime[μs]` at column '{name}' (column number 0)"
                    )),
                    _ => Ok(None),
                })
                .collect::<PolarsResult<_>>()?;
            Ok(micros.into_column().cast(&datetime())?.with_name(values.name().clone()))
        },
        |_, field| Ok(Field::new(field.name().clone(), datetime())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_micros(text: &str) -> Option<i64> {
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|at| at.timestamp_micros())
    }

    #[test]
    fn the_fast_layout_agrees_with_chrono() {
        for text in [
            "2026-11-22T08:00:00.000000Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999999Z",
            "2024-02-29T12:34:56.5Z",
            "2000-03-01T00:00:00.123456789Z",
            "1600-01-01T00:00:00.000001Z",
        ] {
            assert_eq!(
                parse_utc_layout(text.as_bytes()),
                chrono_micros(text),
                "{text}"
            );
        }
    }

    #[test]
    fn formatting_is_the_inverse_of_parsing() {
        for text in [
            "2026-11-22T08:00:00.000000Z",
            "1969-12-31T23:59:59.999999Z",
            "2024-02-29T12:34:56.500000Z",
            "1600-03-01T00:00:00.000001Z",
        ] {
            let mut out = String::new();
            format_micros(parse_micros(text).unwrap_or_default(), &mut out);
            assert_eq!(out, text);
        }
    }

    #[test]
    fn other_rfc3339_forms_go_through_chrono_and_nonsense_fails() {
        assert_eq!(
            parse_micros("2026-11-22T09:00:00+01:00"),
            chrono_micros("2026-11-22T08:00:00Z")
        );
        for text in [
            "2026-02-30T00:00:00Z",
            "2026-11-22 08:00",
            "LU0001",
            "2026-11-22T24:00:00Z",
            "",
        ] {
            assert_eq!(parse_micros(text), None, "{text}");
        }
    }
}
