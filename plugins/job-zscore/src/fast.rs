//! The CSV-to-CSV fast path: two streaming passes over the bytes, one for
//! the statistics, one appending the score, every other byte kept as is.
//!
//! Any value it does not parse exactly as polars would (text, infinity, a
//! missing field) makes it step aside, so that the general path reports the
//! problem with its row, as it does for every other format.

use std::path::Path;

use table_io::append::{AppendOutcome, Record, Records, append_column, header_names};
use table_io::fields::FieldReader;
use table_io::{Output, Result, TableError, infer};

use crate::zscore::Moments;

/// A CSV field as the z-score sees it.
enum Value {
    Missing,
    Number(f64),
    Unparsable,
}

/// The value at `index` of `record`, read by the shared field reader and
/// number classifier: unparsable where polars might read it otherwise.
fn value(reader: &mut FieldReader, record: &Record<'_>, index: usize) -> Value {
    let Some(field) = reader
        .read(record.bytes())
        .and_then(|fields| fields.get(index))
    else {
        return Value::Unparsable;
    };
    if field.is_missing() {
        return Value::Missing;
    }
    match infer::float(field.text) {
        Some(x) if x.is_nan() => Value::Missing,
        Some(x) if x.is_finite() => Value::Number(x),
        _ => Value::Unparsable,
    }
}

/// The position of `column` among the CSV file's fields and the moments of
/// its values, or `None` when the fast path does not apply.
pub fn moments(path: &Path, column: &str) -> Result<Option<(usize, Moments)>> {
    let read_error = |cause: std::io::Error| TableError::io("cannot read", path, &cause);
    let mut records = Records::open(path)?;
    let Some((header, _)) = records.next_record().map_err(read_error)? else {
        return Ok(None);
    };
    let names = header_names(&header).unwrap_or_default();
    let Some(index) = names.iter().position(|name| name == column) else {
        return Ok(None);
    };
    let (mut moments, mut reader) = (Moments::default(), FieldReader::default());
    while let Some((record, _)) = records.next_record().map_err(read_error)? {
        match value(&mut reader, &record, index) {
            Value::Number(x) => moments.add(x),
            Value::Missing => {}
            Value::Unparsable => return Ok(None),
        }
    }
    Ok(Some((index, moments)))
}

/// Writes the CSV `input` with the column `into` appended: the score of the
/// field at `index` (as [`moments`] found it), empty where it is missing.
pub fn append_scores(
    input: &Path,
    output: &Output,
    index: usize,
    into: &str,
    score: impl Fn(f64) -> f64,
) -> Result<AppendOutcome> {
    let (mut digits, mut reader) = (ryu::Buffer::new(), FieldReader::default());
    append_column(input, output, into, |record, field| {
        match value(&mut reader, record, index) {
            Value::Number(x) => field.extend_from_slice(digits.format(score(x)).as_bytes()),
            Value::Missing => {}
            Value::Unparsable => {
                return Err(TableError::invalid_data(format!(
                    "`{}` changed while it was being read",
                    input.display()
                ))
                .with_hint("run the job again once the file is complete"));
            }
        }
        Ok(())
    })
}
