//! The one CSV field reader of the fast paths: splits a record into its
//! fields and says whether every field is quoted the plain way. A record
//! with a quote is split by `csv-core` (the state machine under the `csv`
//! crate); one without quotes, which every reader splits the same way, on
//! its commas, which is what the large files hold and costs less.
//!
//! Plain is what every fast path reads exactly as polars does, so a record
//! that is not plain makes the caller step aside for the polars path: an
//! unquoted field holds no quote and no carriage return; a quoted field is
//! not empty (`""`), closes right before the comma or the record's end, and
//! doubles the quotes inside it. Records come whole from
//! [`Records`](crate::append::Records), without their line end; this reader
//! splits fields only.

use csv_core::{ReadRecordResult, Reader, ReaderBuilder, Terminator};

/// Splits records into fields, reusing its buffers from one record to the
/// next.
pub struct FieldReader {
    /// csv-core's reader, built at the first record with a quote: most
    /// files have none, and building its DFA costs a third of a million
    /// instructions (several readers a run).
    core: Option<Reader>,
    /// The record's fields unescaped, one after the other (csv-core's
    /// output); never shorter than the record read.
    text: Vec<u8>,
    /// Where each field's text ends in `text` (csv-core's `ends`).
    ends: Vec<usize>,
    spans: Vec<Span>,
}

/// Where one field lies: its bytes in the record, its unescaped text in the
/// reader's buffer.
#[derive(Debug, Clone, Copy)]
struct Span {
    raw_start: usize,
    raw_end: usize,
    text_start: usize,
    text_end: usize,
}

/// The fields of one record, borrowed from the record and the reader.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    record: &'a [u8],
    text: &'a [u8],
    spans: &'a [Span],
}

/// One field: as it stands in the record and as its value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The bytes in the record, quotes and all.
    pub raw: &'a [u8],
    /// The value: quotes removed, doubled quotes made single.
    pub text: &'a [u8],
}

impl Field<'_> {
    /// Whether the field is quoted in the record.
    #[inline]
    pub fn quoted(&self) -> bool {
        self.raw.first() == Some(&b'"')
    }

    /// Whether the field is empty and unquoted: a missing value.
    #[inline]
    pub fn is_missing(&self) -> bool {
        self.raw.is_empty()
    }
}

impl Default for FieldReader {
    fn default() -> Self {
        Self {
            core: None,
            text: Vec::new(),
            ends: vec![0; 16],
            spans: Vec::new(),
        }
    }
}

/// csv-core's reader as the fast paths configure it. Built anew for each
/// [`FieldReader`] that needs one: a clone of a built reader is not one
/// (csv-core 0.1.13's `Dfa::clone` copies only the transition table).
fn configured_reader() -> Reader {
    // A carriage return ends a record for csv-core; inside a record it then
    // shows as a record that ends early, which is refused.
    ReaderBuilder::new().terminator(Terminator::CRLF).build()
}

impl FieldReader {
    /// The fields of `record` (one empty field for an empty record), or
    /// `None` when a field is not quoted the plain way.
    pub fn read<'a>(&'a mut self, record: &'a [u8]) -> Option<Fields<'a>> {
        // csv-core would drop a byte-order mark at the start of each record.
        if record.starts_with(b"\xEF\xBB\xBF") {
            return None;
        }
        if self.split_unquoted(record) {
            return Some(Fields {
                record,
                text: record,
                spans: &self.spans,
            });
        }
        let count = self.split(record)?;
        self.locate(record, count)?;
        Some(Fields {
            record,
            text: &self.text,
            spans: &self.spans,
        })
    }

    /// Splits a record without quotes on its commas, where every reader
    /// agrees: each field's text is its bytes; `false` at the first quote or
    /// carriage return, for csv-core to read. Measured: csv-core on every
    /// record cost the z-score half as much time again (docs/performance.md).
    fn split_unquoted(&mut self, record: &[u8]) -> bool {
        self.spans.clear();
        let mut start = 0;
        for end in memchr::memchr3_iter(b',', b'"', b'\r', record).chain([record.len()]) {
            if end < record.len() && record[end] != b',' {
                return false;
            }
            self.spans.push(Span {
                raw_start: start,
                raw_end: end,
                text_start: start,
                text_end: end,
            });
            start = end + 1;
        }
        true
    }

    /// Runs csv-core over the whole record, one call and a final one for
    /// its end: the number of fields, or `None` when the record ends before
    /// its bytes do (a carriage return).
    fn split(&mut self, record: &[u8]) -> Option<usize> {
        let core = self.core.get_or_insert_with(configured_reader);
        core.reset();
        // A field's text is never longer than its bytes.
        if self.text.len() <= record.len() {
            self.text.resize(record.len() + 1, 0);
        }
        let (mut read, mut wrote, mut count) = (0, 0, 0);
        loop {
            let (result, used, written, ended) = core.read_record(
                &record[read..],
                &mut self.text[wrote..],
                &mut self.ends[count..],
            );
            read += used;
            wrote += written;
            count += ended;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                ReadRecordResult::Record => return (read == record.len()).then_some(count),
                ReadRecordResult::End => {
                    self.ends[0] = 0;
                    return Some(1);
                }
                ReadRecordResult::OutputFull => return None,
            }
        }
    }

    /// Finds each field's bytes in the record from its text, and checks
    /// that they are its plain quoting and end at a comma or the record's
    /// end: csv-core reads anything, plain or not.
    fn locate(&mut self, record: &[u8], count: usize) -> Option<()> {
        self.spans.clear();
        let (mut at, mut text_start) = (0, 0);
        for (index, &text_end) in self.ends[..count].iter().enumerate() {
            let text = &self.text[text_start..text_end];
            let raw_end = at + plain_length(record.get(at), text);
            let field = Field {
                raw: record.get(at..raw_end)?,
                text,
            };
            let last = index + 1 == count;
            let delimited = match record.get(raw_end) {
                None => last,
                Some(b',') => !last,
                Some(_) => false,
            };
            if !delimited || !is_plain(field) {
                return None;
            }
            self.spans.push(Span {
                raw_start: at,
                raw_end,
                text_start,
                text_end,
            });
            at = raw_end + 1;
            text_start = text_end;
        }
        Some(())
    }
}

/// How long `text` is when quoted the plain way: quoted (quotes doubled)
/// when its field starts with a quote, as it is otherwise.
fn plain_length(first: Option<&u8>, text: &[u8]) -> usize {
    if first == Some(&b'"') {
        text.len() + quotes(text) + 2
    } else {
        text.len()
    }
}

// The accessors are `#[inline]`: the jobs call them for every field from
// their own crates, which otherwise call them out of line (perf: `get` alone
// was 4 % of a 10M-row merge).
impl<'a> Fields<'a> {
    /// How many fields the record has.
    #[inline]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the record has no fields (never: an empty record has one).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The field at `index` (0-based).
    #[inline]
    pub fn get(&self, index: usize) -> Option<Field<'a>> {
        let span = self.spans.get(index)?;
        Some(Field {
            raw: &self.record[span.raw_start..span.raw_end],
            text: &self.text[span.text_start..span.text_end],
        })
    }

    /// The fields in order.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = Field<'a>> + '_ {
        (0..self.len()).filter_map(|index| self.get(index))
    }
}

/// Whether `field` reads the same under any CSV reader: see the module's
/// rules.
fn is_plain(field: Field<'_>) -> bool {
    if !field.quoted() {
        return memchr::memchr2(b'"', b'\r', field.raw).is_none();
    }
    let Some(inner) = field
        .raw
        .strip_prefix(b"\"")
        .and_then(|rest| rest.strip_suffix(b"\""))
    else {
        return false;
    };
    !inner.is_empty() && inner.len() == field.text.len() + quotes(field.text) && doubled(inner)
}

fn quotes(text: &[u8]) -> usize {
    memchr::memchr_iter(b'"', text).count()
}

/// Whether every quote of `inner` is one of a doubled pair.
fn doubled(inner: &[u8]) -> bool {
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'"', &inner[at..]) {
        if inner.get(at + found + 1) != Some(&b'"') {
            return false;
        }
        at += found + 2;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(record: &str) -> Option<Vec<(String, bool)>> {
        let mut reader = FieldReader::default();
        let fields = reader.read(record.as_bytes())?;
        Some(
            fields
                .iter()
                .map(|f| (String::from_utf8_lossy(f.text).into_owned(), f.quoted()))
                .collect(),
        )
    }

    fn owned(fields: &[(&str, bool)]) -> Vec<(String, bool)> {
        fields.iter().map(|(t, q)| (t.to_string(), *q)).collect()
    }

    #[test]
    fn splits_plain_and_quoted_fields() {
        assert_eq!(
            texts("a,\"b,c\",\"say \"\"hi\"\"\",,e"),
            Some(owned(&[
                ("a", false),
                ("b,c", true),
                ("say \"hi\"", true),
                ("", false),
                ("e", false)
            ]))
        );
        assert_eq!(texts("x,"), Some(owned(&[("x", false), ("", false)])));
        assert_eq!(texts(""), Some(owned(&[("", false)])));
        assert_eq!(
            texts("\"two\nlines\""),
            Some(owned(&[("two\nlines", true)]))
        );
        assert_eq!(
            texts("\"cr\r\nlf\",1"),
            Some(owned(&[("cr\r\nlf", true), ("1", false)]))
        );
        assert_eq!(
            texts("\"\"\"\"\"\",x"),
            Some(owned(&[("\"\"", true), ("x", false)]))
        );
        assert_eq!(
            texts("café,ü"),
            Some(owned(&[("café", false), ("ü", false)]))
        );
    }

    #[test]
    fn csv_core_splits_records_without_quotes_as_the_comma_split_does() {
        let owned = |fields: Fields<'_>| -> Vec<(Vec<u8>, Vec<u8>)> {
            fields
                .iter()
                .map(|f| (f.raw.to_vec(), f.text.to_vec()))
                .collect()
        };
        for record in [
            "a,b",
            "",
            ",",
            "x,,y,",
            "LU0000000001,6959946.0880",
            "café,ü",
        ] {
            let bytes = record.as_bytes();
            let mut reader = FieldReader::default();
            assert!(reader.split_unquoted(bytes));
            let Some(by_commas) = reader.read(bytes).map(owned) else {
                panic!("{record:?} is plain");
            };
            let count = reader.split(bytes);
            assert!(
                count
                    .and_then(|count| reader.locate(bytes, count))
                    .is_some()
            );
            let by_csv_core = owned(Fields {
                record: bytes,
                text: &reader.text,
                spans: &reader.spans,
            });
            assert_eq!(by_commas, by_csv_core, "{record:?}");
        }
    }

    #[test]
    fn a_long_field_is_read_whole() {
        let long = "x".repeat(10_000);
        let record = format!("\"{long}\",{long}");
        assert_eq!(
            texts(&record),
            Some(owned(&[(&long, true), (&long, false)]))
        );
    }

    #[test]
    fn refuses_what_polars_might_read_otherwise() {
        for record in [
            "a\"b,c", "\"a\"b,c", "a,\"\"", "a\r,b", "a,b\r", "\"open,b", "\"a\"\"", "\"a\" ,b",
        ] {
            assert_eq!(texts(record), None, "{record:?}");
        }
    }

    #[test]
    fn fields_keep_their_bytes_as_they_stand() {
        let mut reader = FieldReader::default();
        let Some(fields) = reader.read(b"\"a,b\",,c") else {
            panic!("a plain record");
        };
        let raws: Vec<&[u8]> = fields.iter().map(|f| f.raw).collect();
        assert_eq!(raws, [&b"\"a,b\""[..], b"", b"c"]);
        assert!(fields.get(1).is_some_and(|f| f.is_missing()));
        assert_eq!(fields.get(3), None);
    }
}
