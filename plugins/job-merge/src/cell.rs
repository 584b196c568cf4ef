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

/// Writers of numbers and timestamps, kept across fields.
#[derive(Default)]
pub struct Formatter {
    integer: itoa::Buffer,
    float: zmij::Buffer,
    timestamp: String,
}

impl Formatter {
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

    /// Writes microseconds since the epoch as RFC 3339 UTC text.
    pub fn write_timestamp(&mut self, micros: i64, out: &mut Vec<u8>) {
        self.timestamp.clear();
        table_io::format_micros(micros, &mut self.timestamp);
        out.extend_from_slice(self.timestamp.as_bytes());
    }

    /// The decimal text of `value`.
    pub fn integer(&mut self, value: i64) -> &[u8] {
        self.integer.format(value).as_bytes()
    }
}

/// The fields of a record the fast path can read: UTF-8, not blank, plain
/// CSV, exactly `width` fields.
pub fn plain_record<'a>(
    reader: &'a mut FieldReader,
    record: &'a [u8],
    width: usize,
) -> Option<Fields<'a>> {
    if record.is_empty() || std::str::from_utf8(record).is_err() {
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
        let mut formatter = Formatter::default();
        let mut out = Vec::new();
        for text in ["5", "1000000.5000", "1e-7", "-0.0"] {
            with_field(text, |field| {
                if let Some(value) = read(field, ColumnType::Float) {
                    formatter.write(&value, &mut out);
                }
            });
            out.push(b'|');
        }
        assert_eq!(String::from_utf8_lossy(&out), "5.0|1000000.5|1e-7|-0.0|");
    }

    #[test]
    fn a_record_must_have_the_header_width() {
        let mut reader = FieldReader::default();
        assert!(plain_record(&mut reader, b"a,b", 2).is_some());
        assert!(plain_record(&mut reader, b"a,b", 3).is_none());
        assert!(plain_record(&mut reader, b"", 1).is_none());
    }
}
