//! Timestamps as text, written without allocating: CSV output and both
//! databases of `db-export` receive every datetime cell as
//! `YYYY-MM-DD?HH:MM:SS.ffffff` plus a zone suffix, and with chrono's
//! formatter this was the most expensive part of a CSV write or a load.
//!
//! Owns only the text; which separator and suffix a format reads is the
//! caller's choice. Years outside 0..=9999 (which chrono writes with a sign)
//! are left to the caller's chrono fallback.

/// Room for the longest text: 26 characters of date and time, and a suffix.
pub const MAX_LEN: usize = 32;

pub(crate) const MICROS_PER_SECOND: i64 = 1_000_000;
pub(crate) const SECONDS_PER_DAY: i64 = 86_400;

/// Writes the UTC instant `micros` after the Unix epoch into `out` as
/// `YYYY-MM-DD{separator}HH:MM:SS.ffffff{suffix}` and returns the text,
/// or `None` when the year is outside 0..=9999 or the text does not fit.
pub fn write<'a>(
    out: &'a mut [u8; MAX_LEN],
    micros: i64,
    separator: u8,
    suffix: &[u8],
) -> Option<&'a str> {
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    let fraction = micros.rem_euclid(MICROS_PER_SECOND);
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let length = 26 + suffix.len();
    if !(0..=9999).contains(&year) || length > MAX_LEN {
        return None;
    }
    digits(&mut out[0..4], year);
    out[4] = b'-';
    digits(&mut out[5..7], month);
    out[7] = b'-';
    digits(&mut out[8..10], day);
    out[10] = separator;
    digits(&mut out[11..13], of_day / 3600);
    out[13] = b':';
    digits(&mut out[14..16], of_day / 60 % 60);
    out[16] = b':';
    digits(&mut out[17..19], of_day % 60);
    out[19] = b'.';
    digits(&mut out[20..26], fraction);
    out[26..length].copy_from_slice(suffix);
    // ASCII digits and punctuation, and a suffix the caller gives as ASCII.
    std::str::from_utf8(&out[..length]).ok()
}

/// Fills `out` with the last `out.len()` decimal digits of `value` (which
/// is not negative), zero-padded.
fn digits(out: &mut [u8], mut value: i64) {
    for place in out.iter_mut().rev() {
        // The remainder is 0..=9, so the narrowing cannot lose anything.
        *place = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

/// Year, month and day of the day `days` after 1970-01-01 in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn text(micros: i64) -> Option<String> {
        let mut out = [0; MAX_LEN];
        write(&mut out, micros, b'T', b"Z").map(str::to_string)
    }

    fn chrono_text(micros: i64) -> Option<String> {
        DateTime::from_timestamp_micros(micros)
            .map(|at| at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
    }

    #[test]
    fn writes_what_chrono_writes() {
        let mut micros: i64 = -62_167_219_200_000_000; // 0000-01-01
        let end: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999
        // A step that is prime to every calendar period visits every kind
        // of day, second and fraction.
        while micros <= end {
            assert_eq!(text(micros), chrono_text(micros), "at {micros}");
            micros += 7_919_999_999_983;
        }
        for micros in [0, -1, 1, end, 951_782_400_000_000, 1_795_852_800_000_001] {
            assert_eq!(text(micros), chrono_text(micros), "at {micros}");
        }
    }

    #[test]
    fn leaves_years_beyond_four_digits_to_the_caller() {
        assert_eq!(text(253_402_300_800_000_000), None);
        assert_eq!(text(-62_167_219_200_000_001), None);
        assert_eq!(text(i64::MIN), None);
    }
}
