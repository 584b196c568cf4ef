//! One field of the streaming merge: read as polars reads a value of its
//! column's type, and written back as polars' CSV writer writes that value.
//! Fields are split by table-io's shared reader ([`FieldReader`]).
//!
//! Whatever it cannot read exactly as polars would (a value that does not
//! fit its column's type; the reader refuses odd quoting) comes back as
//! `None`: the caller then leaves the whole merge to the polars path, which
//! reads it or reports it.

use table_io::fields::{Field, FieldReader, Fields};
use table_io::{infer, parse_micros};

/// The type of a column, as the polars path would infer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Text, and a column with no values at all.
    Text,
    /// Whole numbers that fit an `i64`.
    Integer,
    /// Numbers, written back in their shortest form.
    Float,
    /// RFC 3339 timestamps, as table-io detects and parses them.
    Timestamp,
}

/// A field read with its column's type; `Missing` is an empty, unquoted field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Missing,
    Text(Field<'a>),
    Integer(i64),
    Float(f64),
    Timestamp(i64),
}

/// `field` read as a value of type `column`, or `None` when polars would
/// read it differently or not at all.
pub fn read(field: Field<'_>, column: ColumnType) -> Option<Value<'_>> {
    if field.is_missing() {
        return Some(Value::Missing);
    }
    let unquoted = !field.quoted();
    match column {
        ColumnType::Text => Some(Value::Text(field)),
        ColumnType::Integer if unquoted => infer::integer(field.raw).map(Value::Integer),
        ColumnType::Float if unquoted => infer::float(field.raw)
            .filter(|x| x.is_finite())
            .map(Value::Float),
        ColumnType::Timestamp => {
            parse_micros(std::str::from_utf8(field.text).ok()?).map(Value::Timestamp)
        }
        ColumnType::Integer | ColumnType::Float => None,
    }
}

/// Writes the text `field` holds as polars' CSV writer does: quoted (as it
/// stands, the reader took only plain quoting) when it holds a comma, a
/// quote or a line break, as it reads otherwise.
pub fn write_text(field: &Field<'_>, out: &mut Vec<u8>) {
    if needs_quotes(field.text) {
        out.extend_from_slice(field.raw);
    } else {
        out.extend_from_slice(field.text);
    }
}

fn needs_quotes(text: &[u8]) -> bool {
    memchr::memchr3(b',', b'\n', b'\r', text).is_some() || memchr::memchr(b'"', text).is_some()
}

/// Writes `text` as polars' CSV writer writes a text value (a column name,
/// a fill value).
pub fn write_str(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    if !bytes.is_empty() && !needs_quotes(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    for &byte in bytes {
        out.push(byte);
        if byte == b'"' {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

/// Reads and writes values field by field, keeping its number buffers, the
/// last timestamp it read and the last two it wrote: files stamped by
/// job-timestamp hold the same instant on every row, parsed and formatted
/// once, and the earlier of two such columns alternates between two
/// instants (the right table's where a row matched, the left's elsewhere).
#[derive(Default)]
pub struct Transcoder {
    integer: itoa::Buffer,
    float: zmij::Buffer,
    /// The last timestamp text read and its instant.
    read_text: Vec<u8>,
    read_micros: i64,
    /// The last two instants written and their texts.
    written: [Written; 2],
    /// Which of `written` was formatted longer ago: the next to go.
    older: usize,
}

/// An instant written and its text; `None` before the first.
#[derive(Default)]
struct Written {
    micros: Option<i64>,
    text: String,
}

impl Transcoder {
    /// `field` read as a value of type `column`, as [`read`] does.
    pub fn read<'a>(&mut self, field: Field<'a>, column: ColumnType) -> Option<Value<'a>> {
        if column != ColumnType::Timestamp || field.is_missing() {
            return read(field, column);
        }
        if self.read_text.is_empty() || field.text != self.read_text {
            let Value::Timestamp(micros) = read(field, column)? else {
                return None;
            };
            self.read_text.clear();
            self.read_text.extend_from_slice(field.text);
            self.read_micros = micros;
        }
        Some(Value::Timestamp(self.read_micros))
    }

    /// Writes `field`, a value of type `column`, as polars' CSV writer
    /// does; `false` when it does not fit the type. A value already in the
    /// form polars writes (unquoted text, an integer in canonical decimal, a
    /// float in its shortest form) is copied as it stands.
    pub fn transcode(&mut self, field: Field<'_>, column: ColumnType, out: &mut Vec<u8>) -> bool {
        let as_written = match column {
            ColumnType::Text => !field.quoted(),
            ColumnType::Integer => is_canonical_integer(field.raw),
            ColumnType::Float => match float_form(field.raw) {
                FloatForm::AsWritten => true,
                FloatForm::Decimal => return self.write_decimal(field.raw, out),
                FloatForm::Other => false,
            },
            ColumnType::Timestamp => false,
        };
        if as_written {
            out.extend_from_slice(field.raw);
            return true;
        }
        match self.read(field, column) {
            Some(value) => {
                self.write(&value, out);
                true
            }
            None => false,
        }
    }

    /// Writes `value` as polars' CSV writer does: missing as nothing,
    /// integers in decimal, floats in their shortest round-trip form (the
    /// same formatter polars uses), timestamps as table-io writes them.
    pub fn write(&mut self, value: &Value<'_>, out: &mut Vec<u8>) {
        match value {
            Value::Missing => {}
            Value::Text(field) => write_text(field, out),
            Value::Integer(x) => out.extend_from_slice(self.integer.format(*x).as_bytes()),
            Value::Float(x) => out.extend_from_slice(self.float.format(*x).as_bytes()),
            Value::Timestamp(micros) => self.write_timestamp(*micros, out),
        }
    }

    /// Writes a float in plain decimal notation as polars reads and writes
    /// it: parsed by fast-float, as [`infer::float`] parses what its pattern
    /// takes, and written by zmij; `false` when it is out of range.
    fn write_decimal(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> bool {
        match fast_float2::parse::<f64, _>(bytes) {
            Ok(value) if value.is_finite() => {
                out.extend_from_slice(self.float.format(value).as_bytes());
                true
            }
            _ => false,
        }
    }

    /// Writes microseconds since the epoch as RFC 3339 UTC text.
    pub fn write_timestamp(&mut self, micros: i64, out: &mut Vec<u8>) {
        let slot = match self.written.iter().position(|w| w.micros == Some(micros)) {
            Some(slot) => slot,
            None => {
                let slot = self.older;
                self.older = 1 - slot;
                let written = &mut self.written[slot];
                written.text.clear();
                table_io::format_micros(micros, &mut written.text);
                written.micros = Some(micros);
                slot
            }
        };
        out.extend_from_slice(self.written[slot].text.as_bytes());
    }

    /// The decimal text of `value`.
    pub fn integer(&mut self, value: i64) -> &[u8] {
        self.integer.format(value).as_bytes()
    }
}

/// Whether `bytes` are an integer as itoa writes it: no leading zero, no
/// `-0`, and short enough (18 digits) to fit an `i64` without checking.
fn is_canonical_integer(bytes: &[u8]) -> bool {
    let (negative, digits) = match bytes {
        [b'-', digits @ ..] => (true, digits),
        digits => (false, digits),
    };
    let leading_zero = digits.len() > 1 && digits[0] == b'0';
    let minus_zero = negative && digits == b"0";
    (1..=18).contains(&digits.len())
        && digits.iter().all(u8::is_ascii_digit)
        && !leading_zero
        && !minus_zero
}

/// What a float column's value is to the writer.
#[derive(Debug, PartialEq, Eq)]
enum FloatForm {
    /// Already the text zmij writes for it: copied as it stands.
    AsWritten,
    /// Plain decimal notation (`-?\d+\.\d+`), which polars' float pattern
    /// takes: parsed without checking the pattern again.
    Decimal,
    /// Anything else: read by [`infer::float`]'s rules.
    Other,
}

/// The form of `bytes` in a float column. A plain decimal is
/// [`FloatForm::AsWritten`] when zmij (polars' float writer) writes its
/// value the same: no leading zero, no trailing zero but the one of `5.0`,
/// the first digit within zmij's fixed-notation range (10^-5 to 10^15),
/// and at most 15 significant digits. A decimal of at most 15 digits is the
/// only one of that length that rounds to its double (doubles are closer
/// together than such decimals), so it is the shortest round-trip form
/// zmij writes.
fn float_form(bytes: &[u8]) -> FloatForm {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let Some(point) = memchr::memchr(b'.', digits) else {
        return FloatForm::Other;
    };
    let (whole, fraction) = (&digits[..point], &digits[point + 1..]);
    let decimal = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    if !decimal(whole) || !decimal(fraction) {
        FloatForm::Other
    } else if is_shortest(whole, fraction) {
        FloatForm::AsWritten
    } else {
        FloatForm::Decimal
    }
}

/// Whether the decimal `whole.fraction` is zmij's text of its value (see
/// [`float_form`]).
fn is_shortest(whole: &[u8], fraction: &[u8]) -> bool {
    const MAX_DIGITS: usize = 15;
    if whole.len() > 1 && whole[0] == b'0' {
        return false;
    }
    if fraction == b"0" {
        let significant = whole.len() - whole.iter().rev().take_while(|&&d| d == b'0').count();
        return whole.len() <= MAX_DIGITS + 1 && significant <= MAX_DIGITS;
    }
    if fraction.last() == Some(&b'0') {
        return false;
    }
    if whole == b"0" {
        let zeros = fraction.iter().take_while(|&&d| d == b'0').count();
        return zeros < 5 && fraction.len() - zeros <= MAX_DIGITS;
    }
    whole.len() + fraction.len() <= MAX_DIGITS
}

/// The fields of a record the fast path can read: UTF-8, not blank, plain
/// CSV, exactly `width` fields.
pub fn plain_record<'a>(
    reader: &'a mut FieldReader,
    record: &'a [u8],
    width: usize,
) -> Option<Fields<'a>> {
    if std::str::from_utf8(record).is_err() {
        return None;
    }
    plain_fields(reader, record, width)
}

/// [`plain_record`] for a record already known to be UTF-8 (a block of
/// records is checked at once: a record ends at a line break, which no
/// character's bytes hold, so the block is UTF-8 if each record is).
pub fn plain_fields<'a>(
    reader: &'a mut FieldReader,
    record: &'a [u8],
    width: usize,
) -> Option<Fields<'a>> {
    if record.is_empty() {
        return None;
    }
    reader.read(record).filter(|fields| fields.len() == width)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_field<T>(text: &str, then: impl FnOnce(Field<'_>) -> T) -> T {
        let mut reader = FieldReader::default();
        let fields = reader.read(text.as_bytes());
        match fields.and_then(|fields| fields.get(0)) {
            Some(field) => then(field),
            None => panic!("{text:?} is plain CSV"),
        }
    }

    fn written(text: &str) -> String {
        with_field(text, |field| {
            let mut out = Vec::new();
            write_text(&field, &mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
    }

    #[test]
    fn text_is_written_back_quoted_only_where_polars_quotes_it() {
        assert_eq!(written("plain"), "plain");
        assert_eq!(written("\"plain\""), "plain");
        assert_eq!(written("\"a,b\""), "\"a,b\"");
        assert_eq!(written("\"say \"\"hi\"\"\""), "\"say \"\"hi\"\"\"");
        assert_eq!(written("\"cr\r\nlf\""), "\"cr\r\nlf\"");
        let mut out = Vec::new();
        for name in ["isin", "a,b", "say \"x\"", ""] {
            write_str(name, &mut out);
            out.push(b'|');
        }
        assert_eq!(out, b"isin|\"a,b\"|\"say \"\"x\"\"\"|\"\"|");
    }

    #[test]
    fn values_are_read_by_their_column_type() {
        let read_as = |text: &str, column| {
            with_field(text, |field| read(field, column).map(|v| format!("{v:?}")))
        };
        assert_eq!(
            read_as("42", ColumnType::Integer),
            Some("Integer(42)".into())
        );
        assert_eq!(read_as("4.5", ColumnType::Integer), None);
        assert_eq!(read_as("\"42\"", ColumnType::Integer), None);
        assert_eq!(read_as("5", ColumnType::Float), Some("Float(5.0)".into()));
        assert_eq!(read_as("inf", ColumnType::Float), None);
        assert_eq!(read_as("", ColumnType::Float), Some("Missing".into()));
        assert_eq!(read_as("x", ColumnType::Timestamp), None);
        let mut transcoder = Transcoder::default();
        let mut out = Vec::new();
        for text in ["5", "1000000.5000", "1e-7", "-0.0"] {
            with_field(text, |field| {
                if let Some(value) = read(field, ColumnType::Float) {
                    transcoder.write(&value, &mut out);
                }
            });
            out.push(b'|');
        }
        assert_eq!(String::from_utf8_lossy(&out), "5.0|1000000.5|1e-7|-0.0|");
    }

    /// What `transcode` writes for `text` in a column of type `column`, or
    /// `None` when it does not fit.
    fn transcoded(transcoder: &mut Transcoder, text: &str, column: ColumnType) -> Option<String> {
        with_field(text, |field| {
            let mut out = Vec::new();
            transcoder
                .transcode(field, column, &mut out)
                .then(|| String::from_utf8_lossy(&out).into_owned())
        })
    }

    /// What parsing `text` and writing the value gives, as before any copy.
    fn rendered(text: &str, column: ColumnType) -> Option<String> {
        with_field(text, |field| {
            let mut out = Vec::new();
            let value = read(field, column)?;
            Transcoder::default().write(&value, &mut out);
            Some(String::from_utf8_lossy(&out).into_owned())
        })
    }

    #[test]
    fn values_copied_as_they_stand_are_what_parsing_and_writing_gives() {
        let floats = [
            "6959946.088",
            "6959946.0880",
            "5.0",
            "5.00",
            "0.0",
            "-0.0",
            "00.5",
            "0.00001",
            "0.000001",
            "1e-7",
            "1.5e3",
            "123456789012345.0",
            "1234567890123456.0",
            "12345678901234567.0",
            "1000000000000000.0",
            "10000000000000000.0",
            "12345678901234.5",
            "1234567890123.45",
            "0.123456789012345",
            "0.1234567890123456",
            "-0.8368125729961472",
            "0.5592605420188425",
            "9007199254740993.0",
            "1e400",
            "-0.00000000000000000000000000000000000000000000000000000000000000001",
            "5.",
            ".5",
            "+1.5",
            "-7",
        ];
        let integers = [
            "0",
            "-0",
            "007",
            "42",
            "-42",
            "123456789012345678",
            "9223372036854775807",
            "+1",
        ];
        let texts = ["LU0001", "\"LU,1\"", "\"plain\"", "\"q\"\"q\""];
        let timestamps = [
            "2026-11-22T08:00:00.000000Z",
            "2026-11-22T08:00:00Z",
            "2026-11-22T08:00:00.000000Z",
            "2026-11-22T07:00:00.5+01:00",
        ];
        let mut transcoder = Transcoder::default();
        let past_the_largest_double = format!("1{}.5", "0".repeat(400));
        assert_eq!(
            transcoded(&mut transcoder, &past_the_largest_double, ColumnType::Float),
            None
        );
        assert_eq!(rendered(&past_the_largest_double, ColumnType::Float), None);
        for (column, texts) in [
            (ColumnType::Float, &floats[..]),
            (ColumnType::Integer, &integers[..]),
            (ColumnType::Text, &texts[..]),
            (ColumnType::Timestamp, &timestamps[..]),
        ] {
            for text in texts {
                let expected = rendered(text, column);
                assert_eq!(
                    transcoded(&mut transcoder, text, column),
                    expected,
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn floats_of_at_most_15_digits_are_copied_only_in_the_form_zmij_writes() {
        // Every decimal of one to three digits before and after the point
        // (and with up to 15 digits), each digit 0, 1, 5 or 9, both signs:
        // wherever the text is copied it must be zmij's text of its value.
        let digits = ["0", "1", "5", "9"];
        let mut parts = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> = parts
                .iter()
                .flat_map(|part| digits.iter().map(move |d| format!("{part}{d}")))
                .collect();
            parts.extend(longer);
        }
        parts.retain(|part| !part.is_empty());
        let padding = [
            "",
            "000",
            "0000",
            "00000",
            "999999999999",
            "9999999999999",
            "0000000000000",
        ];
        let (mut copied, mut buffer) = (0, zmij::Buffer::new());
        for sign in ["", "-"] {
            for whole in &parts {
                for pad in padding {
                    for fraction in &parts {
                        for text in [
                            format!("{sign}{whole}{pad}.{fraction}"),
                            format!("{sign}{whole}.{pad}{fraction}"),
                        ] {
                            if float_form(text.as_bytes()) != FloatForm::AsWritten {
                                continue;
                            }
                            copied += 1;
                            let value = infer::float(text.as_bytes());
                            let written = value.map(|value| buffer.format(value).to_string());
                            assert_eq!(written.as_deref(), Some(text.as_str()));
                        }
                    }
                }
            }
        }
        assert!(copied > 50_000, "only {copied} texts were copied");
    }

    #[test]
    fn repeated_timestamps_are_read_and_written_once_and_alike() {
        let mut transcoder = Transcoder::default();
        let mut out = Vec::new();
        for text in [
            "2026-11-22T08:00:00.000000Z",
            "2026-11-22T08:00:00.000000Z",
            "2026-11-22T09:00:00Z",
            "2026-11-22T09:00:00Z",
            "",
            "2026-11-22T08:00:00.000000Z",
        ] {
            with_field(text, |field| {
                assert!(transcoder.transcode(field, ColumnType::Timestamp, &mut out));
            });
            out.push(b'|');
        }
        assert_eq!(
            String::from_utf8_lossy(&out),
            "2026-11-22T08:00:00.000000Z|2026-11-22T08:00:00.000000Z|\
             2026-11-22T09:00:00.000000Z|2026-11-22T09:00:00.000000Z||\
             2026-11-22T08:00:00.000000Z|"
        );
        let not_a_time = with_field("2026-13-01T00:00:00Z", |field| {
            transcoder.transcode(field, ColumnType::Timestamp, &mut out)
        });
        assert!(!not_a_time);
    }

    #[test]
    fn instants_written_in_turn_are_each_written_as_formatted_alone() {
        let mut transcoder = Transcoder::default();
        let later = 1_795_000_000_000_000;
        for micros in [0, later, 0, 5, later, 5, 5, 0, -1, later] {
            let (mut cached, mut alone) = (Vec::new(), String::new());
            transcoder.write_timestamp(micros, &mut cached);
            table_io::format_micros(micros, &mut alone);
            assert_eq!(cached, alone.as_bytes(), "{micros}");
        }
    }

    #[test]
    fn a_record_must_have_the_header_width() {
        let mut reader = FieldReader::default();
        assert!(plain_record(&mut reader, b"a,b", 2).is_some());
        assert!(plain_record(&mut reader, b"a,b", 3).is_none());
        assert!(plain_record(&mut reader, b"", 1).is_none());
    }
}
