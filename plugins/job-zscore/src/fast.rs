//! The CSV-to-CSV fast path: two streaming passes over the bytes, one for
//! the statistics, one appending the score, every other byte kept as is.
//!
//! Any value it does not parse exactly as polars would (text, infinity, a
//! missing field) makes it step aside, so that the general path reports the
//! problem with its row, as it does for every other format.

use std::path::Path;

use table_io::append::{AppendOutcome, Records, append_column, header_names};
use table_io::{Output, Result, TableError};

use crate::zscore::Moments;

/// A CSV field as the z-score sees it.
enum Value {
    Missing,
    Number(f64),
    Unparsable,
}

fn parse(field: Option<&[u8]>) -> Value {
    match field {
        None => Value::Unparsable,
        Some([]) => Value::Missing,
        Some(bytes) => match fast_float2::parse::<f64, _>(bytes) {
            Ok(x) if x.is_nan() => Value::Missing,
            Ok(x) if x.is_finite() => Value::Number(x),
            _ => Value::Unparsable,
        },
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
    let Some(index) = header_names(&header).iter().position(|name| name == column) else {
        return Ok(None);
    };
    let mut moments = Moments::default();
    while let Some((record, _)) = records.next_record().map_err(read_error)? {
        match parse(record.field(index).as_deref()) {
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
    let mut digits = ryu::Buffer::new();
    append_column(input, output, into, |record, field| {
        match parse(record.field(index).as_deref()) {
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
