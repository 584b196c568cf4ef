//! One field of the streaming merge: split from its record, read as polars
//! reads a value of its column's type, and written back as polars' CSV
//! writer writes that value.
//!
//! Whatever it cannot read exactly as polars would (stray quotes, a `""`,
//! a carriage return outside quotes, a value that does not fit its column's
//! type) comes back as `None`: the caller then leaves the whole merge to the
//! polars path, which reads it or reports it.

use std::borrow::Cow;

use table_io::infer::{is_float, is_integer};
use table_io::parse_micros;

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

/// A field as it stands in its record: the bytes between the quotes (quote
/// escapes still doubled) and whether it was quoted.
#[derive(Debug, Clone, Copy)]
pub struct RawField<'a> {
    inner: &'a [u8],
    quoted: bool,
    escaped: bool,
}

/// A field read with its column's type; `Missing` is an empty, unquoted field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Missing,
    Text(RawField<'a>),
    Integer(i64),
    Float(f64),
    Timestamp(i64),
}

impl PartialEq for RawField<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner && self.quoted == other.quoted
    }
}

impl<'a> RawField<'a> {
    /// Whether the field is empty and unquoted: a missing value.
    pub fn is_missing(&self) -> bool {
        !self.quoted && self.inner.is_empty()
    }

    /// The field's text with quote escapes undone.
    pub fn content(&self) -> Cow<'a, [u8]> {
        if !self.escaped {
            return Cow::Borrowed(self.inner);
        }
        let mut out = Vec::with_capacity(self.inner.len());
        let mut bytes = self.inner.iter().copied();
        while let Some(byte) = bytes.next() {
            out.push(byte);
            if byte == b'"' {
                bytes.next();
            }
        }
        Cow::Owned(out)
    }

    /// The field's text with quote escapes undone, as UTF-8 (the records are
    /// checked to be UTF-8 before they are split).
    fn text(&self) -> Option<Cow<'a, str>> {
        match self.content() {
            Cow::Borrowed(bytes) => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
            Cow::Owned(bytes) => String::from_utf8(bytes).ok().map(Cow::Owned),
        }
    }

    /// The field read as a value of type `column`, or `None` when polars
    /// would read it differently or not at all.
    pub fn read(self, column: ColumnType) -> Option<Value<'a>> {
        if self.is_missing() {
            return Some(Value::Missing);
        }
        match column {
            ColumnType::Text => Some(Value::Text(self)),
            ColumnType::Integer if !self.quoted && is_integer(self.inner) => {
                std::str::from_utf8(self.inner)
                    .ok()?
                    .parse()
                    .ok()
                    .map(Value::Integer)
            }
            ColumnType::Float
                if !self.quoted && (is_float(self.inner) || is_integer(self.inner)) =>
            {
                fast_float2::parse::<f64, _>(self.inner)
                    .ok()
                    .filter(|x| x.is_finite())
                    .map(Value::Float)
            }
            ColumnType::Timestamp => parse_micros(&self.text()?).map(Value::Timestamp),
            ColumnType::Integer | ColumnType::Float => None,
        }
    }

    /// The field as polars' CSV writer writes the text it holds: quoted when
    /// it holds a comma, a quote or a line break, `""` when it is empty.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        if !self.quoted {
            // Unquoted fields hold no quote, comma or line break: as they are.
            out.extend_from_slice(self.inner);
        } else if self.escaped || memchr::memchr3(b',', b'\n', b'\r', self.inner).is_some() {
            out.push(b'"');
            out.extend_from_slice(self.inner);
            out.push(b'"');
        } else {
            out.extend_from_slice(self.inner);
        }
    }
}

/// Writes `text` as polars' CSV writer writes a text value (a column name,
/// a fill value).
pub fn write_str(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let quote = bytes.is_empty() || memchr::memchr3(b',', b'\n', b'\r', bytes).is_some();
    if !quote && memchr::memchr(b'"', bytes).is_none() {
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
            Value::Text(field) => field.write_text(out),
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

/// The allocation of a field list, kept across records: a list of fields
/// borrows its record, so it is emptied and handed back between them.
#[derive(Default)]
pub struct FieldBuffer(Vec<RawField<'static>>);

impl FieldBuffer {
    /// The empty list, for the fields of a record that lives for `'a`.
    pub fn take<'a>(&mut self) -> Vec<RawField<'a>> {
        // A list of longer-lived fields is one of shorter-lived ones.
        std::mem::take(&mut self.0)
    }

    /// Keeps the allocation of `fields` for the next record.
    pub fn put_back(&mut self, mut fields: Vec<RawField<'_>>) {
        fields.clear();
        // Collecting an empty list into one of the same layout reuses its
        // allocation.
        self.0 = fields.into_iter().map(|_| unquoted(b"")).collect();
    }
}

/// Splits `record` into `fields` (cleared first); `false` when a field is
/// not quoted the plain way (a quote inside an unquoted field, text after a
/// closing quote, `""`) or an unquoted field holds a carriage return.
pub fn split<'a>(record: &'a [u8], fields: &mut Vec<RawField<'a>>) -> bool {
    fields.clear();
    let mut start = 0;
    loop {
        let (field, next) = if record.get(start) == Some(&b'"') {
            match quoted_field(record, start) {
                Some(found) => found,
                None => return false,
            }
        } else {
            let rest = &record[start..];
            match memchr::memchr3(b',', b'"', b'\r', rest) {
                Some(at) if rest[at] != b',' => return false,
                Some(at) => (unquoted(&rest[..at]), Some(start + at + 1)),
                None => (unquoted(rest), None),
            }
        };
        fields.push(field);
        match next {
            Some(next) => start = next,
            None => return true,
        }
    }
}

fn unquoted(inner: &[u8]) -> RawField<'_> {
    RawField {
        inner,
        quoted: false,
        escaped: false,
    }
}

/// The quoted field that starts at `start` and where the next one starts
/// (`None` at the end of the record).
fn quoted_field(record: &[u8], start: usize) -> Option<(RawField<'_>, Option<usize>)> {
    let mut at = start + 1;
    let mut escaped = false;
    let close = loop {
        at += memchr::memchr(b'"', &record[at..])?;
        if record.get(at + 1) == Some(&b'"') {
            escaped = true;
            at += 2;
        } else {
            break at;
        }
    };
    let inner = &record[start + 1..close];
    let next = match record.get(close + 1) {
        None => None,
        Some(b',') => Some(close + 2),
        Some(_) => return None,
    };
    if inner.is_empty() {
        return None;
    }
    let field = RawField {
        inner,
        quoted: true,
        escaped,
    };
    Some((field, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(record: &str) -> Option<Vec<(String, bool)>> {
        let mut fields = Vec::new();
        split(record.as_bytes(), &mut fields).then(|| {
            fields
                .iter()
                .map(|f| (String::from_utf8_lossy(&f.content()).into_owned(), f.quoted))
                .collect()
        })
    }

    fn written(field: &str) -> String {
        let mut fields = Vec::new();
        assert!(split(field.as_bytes(), &mut fields));
        let mut out = Vec::new();
        fields[0].write_text(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn splits_plain_and_quoted_fields() {
        let expected = [
            ("a", false),
            ("b,c", true),
            ("say \"hi\"", true),
            ("", false),
            ("e", false),
        ]
        .map(|(text, quoted)| (text.to_string(), quoted));
        assert_eq!(
            texts("a,\"b,c\",\"say \"\"hi\"\"\",,e"),
            Some(expected.to_vec())
        );
        assert_eq!(
            texts("x,"),
            Some(vec![("x".into(), false), ("".into(), false)])
        );
        assert_eq!(
            texts("\"two\nlines\""),
            Some(vec![("two\nlines".into(), true)])
        );
    }

    #[test]
    fn refuses_what_polars_might_read_otherwise() {
        for record in ["a\"b,c", "\"a\"b,c", "a,\"\"", "a\r,b", "\"open,b"] {
            assert_eq!(texts(record), None, "{record}");
        }
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
        let field = |text: &'static str| {
            let mut fields = Vec::new();
            assert!(split(text.as_bytes(), &mut fields));
            fields[0]
        };
        assert_eq!(
            field("42").read(ColumnType::Integer),
            Some(Value::Integer(42))
        );
        assert_eq!(field("4.5").read(ColumnType::Integer), None);
        assert_eq!(field("\"42\"").read(ColumnType::Integer), None);
        assert_eq!(field("5").read(ColumnType::Float), Some(Value::Float(5.0)));
        assert_eq!(field("inf").read(ColumnType::Float), None);
        assert_eq!(field("").read(ColumnType::Float), Some(Value::Missing));
        assert_eq!(field("x").read(ColumnType::Timestamp), None);
        let mut formatter = Formatter::default();
        let mut out = Vec::new();
        for text in ["5", "1000000.5000", "1e-7", "-0.0"] {
            if let Some(value) = field(text).read(ColumnType::Float) {
                formatter.write(&value, &mut out);
            }
            out.push(b'|');
        }
        assert_eq!(String::from_utf8_lossy(&out), "5.0|1000000.5|1e-7|-0.0|");
    }
}
