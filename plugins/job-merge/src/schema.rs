//! The columns of a CSV file and their types, inferred as the polars path
//! infers them (table-io's `Input::open`): types from the first 10,000
//! records, RFC 3339 timestamps from the first 100.
//!
//! Owns only the inference. It answers `None` wherever the polars path
//! would decide something this reader does not reproduce (booleans, numbers
//! beyond `i64`, date inference, repeated or quoted-quote header names,
//! ragged or blank records), so that the caller leaves the file to it.

use std::path::Path;

use table_io::append::{Record, Records};
use table_io::fields::{Field, FieldReader};
use table_io::infer::{Inferred, infer, looks_like_a_date};
use table_io::{INFER_SCHEMA_ROWS, Result, SAMPLE_ROWS, TableError, parse_micros};

use crate::cell::{ColumnType, plain_record};

/// A CSV file's header and column types.
#[derive(Debug)]
pub struct CsvSchema {
    /// The column names, in file order.
    pub names: Vec<String>,
    /// The type of each column.
    pub types: Vec<ColumnType>,
    /// Bytes per record in the sample, for sizing an index of the file.
    pub bytes_per_record: usize,
}

impl CsvSchema {
    /// The schema of the CSV file at `path`, or `None` when the fast path
    /// cannot read it exactly as polars would.
    pub fn infer(path: &Path) -> Result<Option<Self>> {
        let read_error = |cause: std::io::Error| TableError::io("cannot read", path, &cause);
        let mut records = Records::open(path)?;
        let Some((header, _)) = records.next_record().map_err(read_error)? else {
            return Ok(None);
        };
        let Some(names) = header_names(&header) else {
            return Ok(None);
        };
        let mut columns: Vec<ColumnSample> = names.iter().map(|_| ColumnSample::new()).collect();
        let (mut count, mut bytes) = (0, 0);
        let mut reader = FieldReader::default();
        while count < INFER_SCHEMA_ROWS {
            let Some((record, end)) = records.next_record().map_err(read_error)? else {
                break;
            };
            let Some(fields) = plain_record(&mut reader, record.bytes(), names.len()) else {
                return Ok(None);
            };
            for (column, field) in columns.iter_mut().zip(fields.iter()) {
                column.add(field, count < SAMPLE_ROWS);
            }
            count += 1;
            bytes += record.bytes().len() + end.len();
        }
        let types: Option<Vec<ColumnType>> =
            columns.iter().map(ColumnSample::column_type).collect();
        Ok(types.map(|types| Self {
            names,
            types,
            bytes_per_record: bytes.checked_div(count).unwrap_or(64).max(1),
        }))
    }

    /// The position of column `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|candidate| candidate == name)
    }
}

/// The names of a header polars reads the same way: plain CSV in UTF-8
/// without a byte-order mark (table-io's `header_names`), no quote inside a
/// name (polars keeps escapes there), no empty or repeated name.
fn header_names(header: &Record<'_>) -> Option<Vec<String>> {
    let names = table_io::append::header_names(header)?;
    let odd = |(at, name): (usize, &String)| {
        name.is_empty() || name.contains('"') || names[..at].contains(name)
    };
    (!names.iter().enumerate().any(odd)).then_some(names)
}

/// Bits for the kinds of value a column holds.
const BOOLEAN: u8 = 1;
const FLOAT: u8 = 2;
const INTEGER: u8 = 4;
const TEXT: u8 = 8;
const UNDECIDED: u8 = 16;

/// What the sampled records say about one column.
struct ColumnSample {
    /// The kinds of value in the first 10,000 records.
    kinds: u8,
    /// The kinds of value in the first 100.
    sample_kinds: u8,
    /// Whether the first 100 hold a value, and whether all are timestamps.
    sampled_a_value: bool,
    all_timestamps: bool,
    /// Whether the first value of the first 100 looks like a date.
    first_looks_like_a_date: Option<bool>,
}

impl ColumnSample {
    fn new() -> Self {
        Self {
            kinds: 0,
            sample_kinds: 0,
            sampled_a_value: false,
            all_timestamps: true,
            first_looks_like_a_date: None,
        }
    }

    fn add(&mut self, field: Field<'_>, in_sample: bool) {
        if field.is_missing() {
            return;
        }
        let Ok(text) = std::str::from_utf8(field.text) else {
            self.kinds |= UNDECIDED;
            return;
        };
        let kind = match infer(text) {
            Inferred::Boolean => BOOLEAN,
            Inferred::Float => FLOAT,
            Inferred::Integer => INTEGER,
            Inferred::Text => TEXT,
            Inferred::BigInteger | Inferred::Unsure => UNDECIDED,
        };
        self.kinds |= kind;
        if in_sample {
            self.sample_kinds |= kind;
            self.sampled_a_value = true;
            self.all_timestamps &= parse_micros(text).is_some();
            self.first_looks_like_a_date
                .get_or_insert_with(|| looks_like_a_date(text));
        }
    }

    /// The column's type, or `None` where the polars path would infer one
    /// the fast path does not write (booleans), or might infer dates.
    fn column_type(&self) -> Option<ColumnType> {
        if self.sampled_a_value && self.all_timestamps {
            return Some(ColumnType::Timestamp);
        }
        let sampled = kinds_type(self.sample_kinds);
        if sampled == Some(ColumnType::Text) && self.first_looks_like_a_date == Some(true) {
            return None;
        }
        kinds_type(self.kinds)
    }
}

/// Polars' rule: one kind is its type, integers with floats are floats, any
/// other mix is text.
fn kinds_type(kinds: u8) -> Option<ColumnType> {
    match kinds {
        _ if kinds & UNDECIDED != 0 => None,
        0 | TEXT => Some(ColumnType::Text),
        BOOLEAN => None,
        FLOAT => Some(ColumnType::Float),
        INTEGER => Some(ColumnType::Integer),
        _ if kinds == FLOAT | INTEGER => Some(ColumnType::Float),
        _ => Some(ColumnType::Text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(text: &str) -> Result<Option<CsvSchema>, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text)?;
        Ok(CsvSchema::infer(&path)?)
    }

    #[test]
    fn infers_types_as_polars_does() -> Result<(), Box<dyn std::error::Error>> {
        let found = schema(
            "isin,nav,n,t,empty,mixed\r\n\
             LU1,1.5,3,2026-01-01T00:00:00Z,,7\r\n\
             \"LU,2\",2,-4,,,true\r\n",
        )?;
        let found = found.map(|s| (s.names, s.types));
        let names = ["isin", "nav", "n", "t", "empty", "mixed"].map(String::from);
        use ColumnType::*;
        assert_eq!(
            found,
            Some((
                names.to_vec(),
                vec![Text, Float, Integer, Timestamp, Text, Text]
            ))
        );
        Ok(())
    }

    #[test]
    fn leaves_to_polars_what_it_does_not_reproduce() -> Result<(), Box<dyn std::error::Error>> {
        for text in [
            "a,b\n1,true\n",
            "a,a\n1,2\n",
            "a,b\n1\n",
            "a,b\n1,2\n\n3,4\n",
            "a,b\nx,2026-01-02\n",
            "\u{feff}a,b\n1,2\n",
            "a,b\nx,12345678901234567890\n",
        ] {
            assert!(schema(text)?.is_none(), "{text:?}");
        }
        Ok(())
    }
}
