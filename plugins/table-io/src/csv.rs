//! CSV specifics: how CSV is scanned, and how a polars CSV failure is traced
//! back to the line or row a user can open and fix.
//!
//! Locating runs only after a failure, so the normal path pays nothing for it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use polars::prelude::*;

use crate::column::first_match;
use crate::infer::looks_like_a_date;
use crate::{Result, TableError, rfc3339};

/// Rows read to infer the column types. Types are inferred, not declared, so
/// a value past this point that does not fit its column's type is reported
/// by [`explain`] with its row.
pub const INFER_SCHEMA_ROWS: usize = 10_000;

/// Rows sampled to find the columns of RFC 3339 timestamps.
pub const SAMPLE_ROWS: usize = 100;

/// Scans a CSV file with a header line; RFC 3339 and ISO 8601 date-times
/// become datetime columns.
pub(crate) fn scan(path: &Path) -> Result<LazyFrame> {
    let sample = Sample::of(path);
    if sample.timestamps.is_empty() {
        return scan_with_overrides(path, None, sample.other_dates);
    }
    let frame = scan_with_overrides(
        path,
        Some(text_schema(&sample.timestamps)),
        sample.other_dates,
    )?;
    let parsed: Vec<Expr> = sample
        .timestamps
        .iter()
        .map(|column| rfc3339::parse_column(column, true))
        .collect();
    Ok(frame.with_columns(parsed))
}

/// What the first rows of a file say about its text columns.
#[derive(Default)]
struct Sample {
    /// The text columns whose sampled values are all RFC 3339 timestamps.
    timestamps: Vec<String>,
    /// Whether another text column starts like a date (a digit, and `-`, `/`
    /// or `.` in it), for polars' own date inference. Without one, that
    /// inference is skipped: it tries every date pattern on every text value
    /// of the first 10,000 rows, which took most of the time of a 100,000-row
    /// merge.
    other_dates: bool,
}

impl Sample {
    /// The sample of the file at `path`; empty when it cannot be read, as
    /// the full scan then says why.
    fn of(path: &Path) -> Self {
        let Ok(target) = PlRefPath::try_from_path(path) else {
            return Self::default();
        };
        let sample = LazyCsvReader::new(target)
            .with_has_header(true)
            .with_infer_schema_length(Some(SAMPLE_ROWS))
            .with_n_rows(Some(SAMPLE_ROWS))
            .finish()
            .and_then(LazyFrame::collect);
        let Ok(sample) = sample else {
            return Self::default();
        };
        let mut found = Self::default();
        for column in sample.columns() {
            let Ok(texts) = column.str() else {
                continue;
            };
            let mut values = texts.iter().flatten().peekable();
            let Some(first) = values.peek().copied() else {
                continue;
            };
            if values.all(|text| rfc3339::parse_micros(text).is_some()) {
                found.timestamps.push(column.name().to_string());
            } else if looks_like_a_date(first) {
                found.other_dates = true;
            }
        }
        found
    }
}

fn text_schema(columns: &[String]) -> SchemaRef {
    Arc::new(Schema::from_iter(columns.iter().map(|column| {
        Field::new(column.as_str().into(), DataType::String)
    })))
}

fn scan_with_overrides(
    path: &Path,
    overrides: Option<SchemaRef>,
    try_parse_dates: bool,
) -> Result<LazyFrame> {
    let target = PlRefPath::try_from_path(path).map_err(|error| {
        TableError::invalid_data(format!("cannot read `{}`", path.display())).caused_by(error)
    })?;
    LazyCsvReader::new(target)
        .with_has_header(true)
        .with_try_parse_dates(try_parse_dates)
        .with_infer_schema_length(Some(INFER_SCHEMA_ROWS))
        .with_dtype_overwrite(overrides)
        .finish()
        .map_err(|error| {
            TableError::invalid_data(format!("cannot read `{}` as CSV", path.display()))
                .caused_by(error)
        })
}

/// A located error for a polars failure over the CSV file at `path`, when
/// the failure is one this module knows how to trace.
pub(crate) fn explain(path: &Path, error: &PolarsError) -> Option<TableError> {
    let message = error.to_string();
    if message.contains("invalid utf-8") {
        return Some(invalid_utf8(path));
    }
    let column = unparsable_column(&message)?;
    let (row, value) = first_unparsable_row(path, column).ok().flatten()?;
    Some(
        TableError::invalid_data(format!(
            "`{}`: column `{column}`, row {row}: {value:?} does not fit the column's type",
            path.display()
        ))
        .with_hint(format!(
            "the first rows of `{column}` made it a {} column; fix the value, or leave the cell empty to mark it missing",
            inferred_kind(&message)
        )),
    )
}

/// The column named by polars' "could not parse `v` as dtype `t` at column 'c'".
fn unparsable_column(message: &str) -> Option<&str> {
    let start = message.find("at column '")? + "at column '".len();
    let length = message[start..].find('\'')?;
    Some(&message[start..start + length])
}

fn inferred_kind(message: &str) -> &str {
    message
        .split_once("as dtype `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map_or("typed", |(dtype, _)| dtype)
}

/// The first row (header = row 1) whose value in `column` polars cannot cast
/// to the type it inferred for it, with that value.
fn first_unparsable_row(path: &Path, column: &str) -> Result<Option<(usize, String)>> {
    let text = col(column);
    let sample = Sample::of(path);
    let parsed = if sample.timestamps.iter().any(|name| name == column) {
        rfc3339::parse_column(column, false)
    } else {
        let inferred = scan_with_overrides(path, None, sample.other_dates)?
            .collect_schema()
            .ok()
            .and_then(|schema| schema.get(column).cloned());
        let Some(dtype) = inferred else {
            return Ok(None);
        };
        text.clone().cast(dtype)
    };
    let unparsable = text.is_not_null().and(parsed.is_null());
    // Only `column` is looked at, as text: no dates to infer.
    let frame = scan_with_overrides(path, Some(text_schema(&[column.to_string()])), false)?;
    Ok(first_match(frame, column, unparsable)
        .ok()
        .flatten()
        .map(|(index, value)| (index + 2, value)))
}

fn invalid_utf8(path: &Path) -> TableError {
    let place = match first_invalid_utf8_line(path) {
        Ok(Some(line)) => format!("line {line}"),
        _ => "the file".to_string(),
    };
    TableError::invalid_data(format!("`{}`: {place} is not valid UTF-8", path.display())).with_hint(
        "save the file as UTF-8 (in Excel: \"CSV UTF-8\"; with iconv: `iconv -f LATIN1 -t UTF-8`)",
    )
}

/// The 1-based line of the first byte sequence that is not UTF-8, read in
/// blocks so that a large file costs no more memory than a block.
fn first_invalid_utf8_line(path: &Path) -> std::io::Result<Option<usize>> {
    let mut file = File::open(path)?;
    let mut block = vec![0_u8; 1 << 20];
    let mut carried = 0;
    let mut line = 1;
    loop {
        let read = file.read(&mut block[carried..])?;
        let filled = carried + read;
        let valid_up_to = match std::str::from_utf8(&block[..filled]) {
            Ok(_) => filled,
            Err(error) if error.error_len().is_some() || read == 0 => {
                line += bytecount_newlines(&block[..error.valid_up_to()]);
                return Ok(Some(line));
            }
            Err(error) => error.valid_up_to(),
        };
        if read == 0 {
            return Ok(None);
        }
        line += bytecount_newlines(&block[..valid_up_to]);
        block.copy_within(valid_up_to..filled, 0);
        carried = filled - valid_up_to;
    }
}

fn bytecount_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&byte| byte == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_column_name_from_a_polars_parse_error() {
        let message = "could not parse `abc` as dtype `f64` at column 'nav' (column number 2)";
        assert_eq!(unparsable_column(message), Some("nav"));
        assert_eq!(inferred_kind(message), "f64");
    }

    #[test]
    fn finds_the_line_of_the_first_invalid_byte() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("latin1.csv");
        std::fs::write(&path, b"isin,name\nLU1,caf\xc3\xa9\nLU2,caf\xe9\n")?;
        assert_eq!(first_invalid_utf8_line(&path)?, Some(3));
        std::fs::write(&path, "isin,name\nLU1,café\n")?;
        assert_eq!(first_invalid_utf8_line(&path)?, None);
        Ok(())
    }
}
