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

use crate::timestamp::{self, MICROS_PER_SECOND, SECONDS_PER_DAY};

/// Microseconds since the Unix epoch of an RFC 3339 timestamp, as the CSV
/// reader parses the columns it finds to hold them.
pub fn parse_micros(text: &str) -> Option<i64> {
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

/// Writes microseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`
/// (years beyond 0..=9999 as chrono writes them).
pub fn format_micros(micros: i64, out: &mut String) {
    let mut text = [0; timestamp::MAX_LEN];
    match timestamp::write(&mut text, micros, b'T', b"Z") {
        Some(text) => out.push_str(text),
        None => {
            if let Some(at) = chrono::DateTime::from_timestamp_micros(micros) {
                out.push_str(&at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
            }
        }
    }
}

/// `column`, a datetime column, as RFC 3339 text for CSV: polars would
/// format it through chrono, value by value, far slower.
pub(crate) fn format_column(column: &str) -> Expr {
    col(column).map(
        |values: Column| {
            let micros = values.cast(&datetime())?.to_physical_repr();
            let micros = micros.i64()?;
            let mut formatted = StringChunkedBuilder::new(values.name().clone(), micros.len());
            let mut text = [0; timestamp::MAX_LEN];
            for value in micros.iter() {
                match value.map(|value| (value, timestamp::write(&mut text, value, b'T', b"Z"))) {
                    Some((_, Some(fast))) => formatted.append_value(fast),
                    Some((value, None)) => {
                        let mut slow = String::new();
                        format_micros(value, &mut slow);
                        formatted.append_value(slow);
                    }
                    None => formatted.append_null(),
                }
            }
            Ok(formatted.finish().into_column())
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
