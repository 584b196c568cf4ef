//! What type polars infers for one CSV value: the rules of polars 0.55's
//! `infer_field_schema` (its `BOOLEAN_RE`, `FLOAT_RE` and `INTEGER_RE`,
//! without date parsing), written out by hand so that a fast path can decide
//! a column's type exactly as the general path would, without polars.
//!
//! [`float`] and [`integer`] read a value of a column already typed, for
//! the fast paths that must take exactly what polars' reader takes.
//!
//! Owns the classification of a single value only; combining the values of a
//! column into its type is the caller's (polars: two kinds of number make a
//! float column, any other mix a text column).

/// The type polars infers for one non-empty CSV value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inferred {
    /// `true` or `false`, in any case.
    Boolean,
    /// A decimal or exponent number, `inf` or `NaN`, with an optional sign.
    Float,
    /// Digits with an optional minus sign that fit an `i64`.
    Integer,
    /// Digits that do not fit an `i64`; polars' answer depends on its
    /// features, so a fast path should not decide it.
    BigInteger,
    /// Anything else.
    Text,
    /// Non-ASCII text that polars' Unicode-aware patterns might still read
    /// as a number or a boolean (other scripts' digits, case folding); a
    /// fast path should not decide it.
    Unsure,
}

/// The type polars infers for `text`, a value as read (quotes removed).
pub fn infer(text: &str) -> Inferred {
    if !text.is_ascii() {
        return non_ascii(text);
    }
    let bytes = text.as_bytes();
    if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") {
        Inferred::Boolean
    } else if is_float(bytes) {
        Inferred::Float
    } else if is_integer(bytes) {
        if text.parse::<i64>().is_ok() {
            Inferred::Integer
        } else {
            Inferred::BigInteger
        }
    } else {
        Inferred::Text
    }
}

/// Text unless a pattern could match: every character a digit of some
/// script, or as long as `true`/`false` (a case-folded letter).
fn non_ascii(text: &str) -> Inferred {
    let all_numeric = text
        .chars()
        .all(|c| c.is_numeric() || "+-.eEinfaN".contains(c));
    let word_length = matches!(text.chars().count(), 4 | 5);
    if all_numeric || word_length {
        Inferred::Unsure
    } else {
        Inferred::Text
    }
}

/// `^[-+]?((\d*\.\d+)([eE][-+]?\d+)?|inf|NaN|(\d+)[eE][-+]?\d+|\d+\.)$`
pub fn is_float(bytes: &[u8]) -> bool {
    let body = match bytes {
        [b'-' | b'+', rest @ ..] => rest,
        _ => bytes,
    };
    if body == b"inf" || body == b"NaN" {
        return true;
    }
    let (whole, rest) = split_digits(body);
    match rest {
        [b'.', after @ ..] => {
            let (fraction, rest) = split_digits(after);
            if fraction.is_empty() {
                !whole.is_empty() && rest.is_empty()
            } else {
                rest.is_empty() || is_exponent(rest)
            }
        }
        [b'e' | b'E', ..] => !whole.is_empty() && is_exponent(rest),
        _ => false,
    }
}

/// A value of a float column read as polars reads it: a float or integer by
/// polars' patterns, parsed by fast-float (polars' own parser); `inf` and
/// `NaN` included, a value the patterns do not take is `None`.
pub fn float(bytes: &[u8]) -> Option<f64> {
    if let Some(value) = plain_decimal(bytes) {
        return Some(value);
    }
    if !is_float(bytes) && !is_integer(bytes) {
        return None;
    }
    fast_float2::parse(bytes).ok()
}

/// The powers of ten a double holds exactly.
const EXACT_POWERS: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A value in plain notation (`-?\d+` or `-?\d+\.\d+`, the form of the
/// numbers of large files), checked and read in one pass, or `None` for
/// any other form or one too long. Its digits as an integer of at most
/// 2^53 and the power of ten of its point are both exact doubles, so their
/// quotient is one correctly rounded division: the double fast-float
/// returns (its own exact path), without checking the pattern first, which
/// with fast-float's parse cost the z-score a fifth of its time.
fn plain_decimal(bytes: &[u8]) -> Option<f64> {
    let (negative, body) = match bytes {
        [b'-', body @ ..] => (true, body),
        body => (false, body),
    };
    let (mut digits, mut point, mut mantissa) = (0_usize, None, 0_u64);
    for &byte in body {
        match byte {
            b'0'..=b'9' if digits < 19 => {
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                digits += 1;
            }
            b'.' if point.is_none() && digits > 0 => point = Some(digits),
            _ => return None,
        }
    }
    let fraction = digits - point.unwrap_or(digits);
    if digits == 0 || point == Some(digits) || mantissa > 1 << 53 {
        return None;
    }
    // At most 2^53: the conversion is exact.
    let value = mantissa as f64 / EXACT_POWERS[fraction];
    Some(if negative { -value } else { value })
}

/// A value of an integer column: polars' integer pattern, within `i64`.
pub fn integer(bytes: &[u8]) -> Option<i64> {
    if !is_integer(bytes) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// `^-?(\d+)$`
pub fn is_integer(bytes: &[u8]) -> bool {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// `[eE][-+]?\d+` to the end.
fn is_exponent(bytes: &[u8]) -> bool {
    let Some(rest) = bytes
        .strip_prefix(b"e")
        .or_else(|| bytes.strip_prefix(b"E"))
    else {
        return false;
    };
    let digits = match rest {
        [b'-' | b'+', digits @ ..] => digits,
        _ => rest,
    };
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

fn split_digits(bytes: &[u8]) -> (&[u8], &[u8]) {
    let end = bytes
        .iter()
        .position(|byte| !byte.is_ascii_digit())
        .unwrap_or(bytes.len());
    bytes.split_at(end)
}

/// Whether a text value starts like a date (a digit, and `-`, `/` or `.` in
/// it): table-io asks polars to infer dates only when a text column's first
/// value does.
pub fn looks_like_a_date(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit()) && text.contains(['-', '/', '.'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_polars_pattern_reads_them() {
        for text in [
            "0.1",
            "3.0",
            "-9.9990e-003",
            "9.9990E+003",
            ".5",
            "2.5e10",
            "NaN",
            "-NaN",
            "-inf",
            "+inf",
            "-7e-05",
            "5.",
            "+1.5",
            "1e5",
        ] {
            assert_eq!(infer(text), Inferred::Float, "{text}");
        }
        for text in ["5", "-12", "0", "-0"] {
            assert_eq!(infer(text), Inferred::Integer, "{text}");
        }
        for text in [
            "+5", ".", "e5", "1e", "1.e5", "1.5.", " 5", "5 ", "Inf", "nan", "1_0", "--1", "LU01",
            "",
        ] {
            assert_eq!(infer(text), Inferred::Text, "{text}");
        }
        assert_eq!(infer("12345678901234567890"), Inferred::BigInteger);
        assert_eq!(infer("TRUE"), Inferred::Boolean);
        assert_eq!(infer("false"), Inferred::Boolean);
    }

    #[test]
    fn values_of_typed_columns_read_as_polars_reads_them() {
        assert_eq!(float(b"4529341.0306"), Some(4_529_341.030_6));
        assert_eq!(float(b"-1.5e-3"), Some(-0.0015));
        assert_eq!(float(b"7"), Some(7.0));
        assert_eq!(float(b".5"), Some(0.5));
        assert_eq!(float(b"-inf"), Some(f64::NEG_INFINITY));
        assert!(float(b"NaN").is_some_and(f64::is_nan));
        for odd in [&b"+1"[..], b" 1", b"1e", b"1-2", b"", b"0x1", b"Inf"] {
            assert_eq!(float(odd), None, "{}", String::from_utf8_lossy(odd));
        }
        assert_eq!(integer(b"-42"), Some(-42));
        assert_eq!(integer(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(integer(b"-9223372036854775808"), Some(i64::MIN));
        for odd in [&b"9223372036854775808"[..], b"1.0", b"-", b"+1", b""] {
            assert_eq!(integer(odd), None, "{}", String::from_utf8_lossy(odd));
        }
    }

    #[test]
    fn plain_decimals_read_as_fast_float_reads_them() {
        // A fixed sequence of pseudo-random texts (a linear congruential
        // generator): every length of 1 to 20 digits, the point anywhere.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |below: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % below
        };
        let mut read = 0;
        for _ in 0..200_000 {
            let length = 1 + next(20) as usize;
            let mut text: Vec<u8> = (0..length).map(|_| b'0' + next(10) as u8).collect();
            if next(4) > 0 {
                text.insert(next(length as u64 + 1) as usize, b'.');
            }
            if next(2) == 0 {
                text.insert(0, b'-');
            }
            let parsed = fast_float2::parse::<f64, _>(&text).ok();
            if let Some(value) = plain_decimal(&text) {
                read += 1;
                let expected = parsed.map(f64::to_bits);
                assert_eq!(
                    Some(value.to_bits()),
                    expected,
                    "{}",
                    String::from_utf8_lossy(&text)
                );
            }
            let expected = parsed.filter(|_| is_float(&text) || is_integer(&text));
            assert_eq!(float(&text).map(f64::to_bits), expected.map(f64::to_bits));
        }
        assert!(read > 100_000, "only {read} texts took the plain path");
        for other in [
            &b"5."[..],
            b".5",
            b"+1",
            b"1e5",
            b"1.2.3",
            b"-",
            b"",
            b"-.5",
            b"1,5",
        ] {
            assert_eq!(
                plain_decimal(other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        assert_eq!(
            plain_decimal(b"-0").map(f64::to_bits),
            Some((-0.0_f64).to_bits())
        );
        assert_eq!(plain_decimal(b"9007199254740993"), None);
    }

    #[test]
    fn non_ascii_text_is_text_unless_a_pattern_could_match() {
        assert_eq!(infer("café au lait"), Inferred::Text);
        assert_eq!(infer("١٢٣"), Inferred::Unsure);
        assert_eq!(infer("falſe"), Inferred::Unsure);
    }

    #[test]
    fn dates_are_recognised_by_their_start() {
        assert!(looks_like_a_date("2026-01-02"));
        assert!(looks_like_a_date("1.5"));
        assert!(!looks_like_a_date("LU-1"));
        assert!(!looks_like_a_date("2026"));
    }
}
