//! The file's rows as the database receives them: one typed vector per
//! column, keys checked (present, unique) before any database is opened.
//!
//! Owns reading the whole input into memory and the value conversions both
//! backends share; it knows no SQL. Each column stays a polars array of one
//! chunk, cast once to the type its SQL column gets: a cell is read in
//! place, so loading 10 million rows allocates nothing per cell.

use chrono::{DateTime, Utc};
use polars::prelude::*;
use table_io::{Input, Result, TableError, first_repeated, input_error, row_list};

use crate::schema::{FileColumn, SqlType};

/// The values of one column, converted once to the type the SQL column
/// gets, in one chunk so that a cell is found by index.
enum Values {
    Text(StringChunked),
    Float(Float64Chunked),
    Integer(Int64Chunked),
    Boolean(BooleanChunked),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(Int64Chunked),
}

/// One value of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Text(&'a str),
    Float(f64),
    Integer(i64),
    Boolean(bool),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
}

/// Rows of cells, found by position: the whole file, or a batch of it.
pub(crate) trait Cells {
    /// The value of column `column` (by position) in row `row`.
    fn cell(&self, row: usize, column: usize) -> Cell<'_>;
}

/// The whole input, typed and checked.
pub(crate) struct Table {
    columns: Vec<FileColumn>,
    values: Vec<Values>,
    height: usize,
}

impl Table {
    /// Reads every row of `input` and checks that column `key` has a value
    /// in every row and no value twice. The column must exist.
    pub(crate) fn read(input: &Input, key: &str) -> Result<Self> {
        let frame = input
            .frame()
            .collect()
            .map_err(|error| input_error(input, &error))?;
        let mut columns = Vec::with_capacity(frame.width());
        let mut values = Vec::with_capacity(frame.width());
        for column in frame.columns() {
            let sql = SqlType::of(column.dtype());
            let converted = convert(column, sql).map_err(|error| {
                TableError::invalid_data(format!(
                    "`{}`: column `{}` cannot be stored as {sql:?}",
                    input.path().display(),
                    column.name()
                ))
                .caused_by(error)
                .with_hint("check the column's values; integers must fit in 64 bits")
            })?;
            columns.push(FileColumn {
                name: column.name().to_string(),
                sql,
                all_missing: column.null_count() == frame.height(),
            });
            values.push(converted);
        }
        let table = Self {
            columns,
            values,
            height: frame.height(),
        };
        table.check_keys(input, key)?;
        Ok(table)
    }

    /// The columns, in file order.
    pub(crate) fn columns(&self) -> &[FileColumn] {
        &self.columns
    }

    /// The number of rows.
    pub(crate) fn height(&self) -> usize {
        self.height
    }

    fn check_keys(&self, input: &Input, key: &str) -> Result<()> {
        let Some(index) = self.columns.iter().position(|c| c.name == key) else {
            return Ok(());
        };
        if self.values[index].surely_unique_and_present() {
            return Ok(());
        }
        self.find_bad_keys(input, key, index)
    }

    /// The exact, slower check, run only when the fast one found something:
    /// names the empty or repeated keys and their rows (the repeated ones
    /// located by table-io, as job-merge locates them).
    fn find_bad_keys(&self, input: &Input, key: &str, index: usize) -> Result<()> {
        let file = input.path().display();
        let missing: Vec<usize> = (0..self.height)
            .filter(|&row| self.cell(row, index) == Cell::Null)
            .collect();
        if let Some(&first) = missing.first() {
            let rows = missing.iter().map(|&row| input.row_number(row));
            return Err(TableError::invalid_data(format!(
                "`{file}`: key column `{key}` is empty in {} ({} in all)",
                row_list(rows, missing.len()),
                missing.len()
            ))
            .with_hint(format!(
                "give every row a `{key}` (row {} first), or name another key column with `--key`",
                input.row_number(first)
            )));
        }
        let Some(repeated) = first_repeated(input, key)? else {
            return Ok(());
        };
        Err(TableError::invalid_data(format!(
            "`{file}`: key `{key}` value {:?} appears {} times ({}); each key must appear once",
            repeated.value,
            repeated.count,
            repeated.row_list()
        ))
        .with_hint(format!(
            "remove the repeated rows from `{file}`, or name a column that is unique with `--key`"
        )))
    }
}

impl Cells for Table {
    fn cell(&self, row: usize, column: usize) -> Cell<'_> {
        let cell = match &self.values[column] {
            Values::Text(v) => v.get(row).map(Cell::Text),
            Values::Float(v) => v.get(row).map(Cell::Float),
            Values::Integer(v) => v.get(row).map(Cell::Integer),
            Values::Boolean(v) => v.get(row).map(Cell::Boolean),
            Values::Timestamp(v) => v.get(row).map(Cell::Timestamp),
        };
        cell.unwrap_or(Cell::Null)
    }
}

impl Values {
    /// True when no value is missing and none repeats. Keys in increasing
    /// order (the usual merged file) need one pass without hashing; others
    /// go through polars' parallel `n_unique`. False only means "look
    /// closer": the exact check decides and names what it finds.
    fn surely_unique_and_present(&self) -> bool {
        let (nulls, len) = match self {
            Self::Text(v) => (v.null_count(), v.len()),
            Self::Float(v) => (v.null_count(), v.len()),
            Self::Integer(v) | Self::Timestamp(v) => (v.null_count(), v.len()),
            Self::Boolean(v) => (v.null_count(), v.len()),
        };
        if nulls > 0 {
            return false;
        }
        let increasing = match self {
            Self::Text(v) => strictly_increasing(v.iter()),
            Self::Float(v) => strictly_increasing(v.iter()),
            Self::Integer(v) | Self::Timestamp(v) => strictly_increasing(v.iter()),
            Self::Boolean(v) => strictly_increasing(v.iter()),
        };
        if increasing {
            return true;
        }
        let distinct = match self {
            Self::Text(v) => v.n_unique(),
            Self::Float(v) => v.n_unique(),
            Self::Integer(v) | Self::Timestamp(v) => v.n_unique(),
            Self::Boolean(v) => v.n_unique(),
        };
        distinct.is_ok_and(|distinct| distinct == len)
    }
}

/// Whether every value is greater than the one before (none missing).
fn strictly_increasing<T: PartialOrd>(mut values: impl Iterator<Item = Option<T>>) -> bool {
    let Some(Some(mut previous)) = values.next() else {
        return true;
    };
    for value in values {
        match value {
            Some(value) if value > previous => previous = value,
            _ => return false,
        }
    }
    true
}

/// The instant `micros` after the Unix epoch, when chrono can represent it.
pub(crate) fn utc(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

/// The column cast to the type `sql` stores, in one chunk (a cast of a
/// column already of that type shares its buffers).
fn convert(column: &Column, sql: SqlType) -> PolarsResult<Values> {
    let series = column.as_materialized_series();
    Ok(match sql {
        SqlType::Text => Values::Text(one_chunk(series.cast(&DataType::String)?.str()?)),
        SqlType::Float => Values::Float(one_chunk(series.cast(&DataType::Float64)?.f64()?)),
        // Strict: an unsigned value beyond i64 fails instead of becoming null.
        SqlType::Integer => {
            Values::Integer(one_chunk(series.strict_cast(&DataType::Int64)?.i64()?))
        }
        SqlType::Boolean => Values::Boolean(one_chunk(series.bool()?)),
        SqlType::Timestamp => {
            let micros = series.cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
            Values::Timestamp(one_chunk(micros.to_physical_repr().i64()?))
        }
    })
}

/// `values` as one chunk: looking a row up in a column of many chunks
/// would search the chunks for every cell.
fn one_chunk<T: PolarsDataType>(values: &ChunkedArray<T>) -> ChunkedArray<T>
where
    ChunkedArray<T>: Clone,
{
    values.rechunk().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_each_type_and_keeps_missing_values() -> PolarsResult<()> {
        let frame = df!(
            "isin" => [Some("A"), None],
            "units" => [Some(1_u32), None],
            "flag" => [Some(true), None],
        )?;
        let units = convert(&frame.columns()[1], SqlType::Integer)?;
        assert!(
            matches!(units, Values::Integer(v) if v.iter().collect::<Vec<_>>() == [Some(1), None])
        );
        let flags = convert(&frame.columns()[2], SqlType::Boolean)?;
        assert!(
            matches!(flags, Values::Boolean(v) if v.iter().collect::<Vec<_>>() == [Some(true), None])
        );
        Ok(())
    }

    #[test]
    fn the_fast_key_check_passes_only_unique_present_keys() {
        let text = |values: &[Option<&str>]| {
            Values::Text(StringChunked::from_iter_options(
                "k".into(),
                values.iter().copied(),
            ))
        };
        assert!(text(&[Some("A"), Some("B"), Some("C")]).surely_unique_and_present());
        assert!(text(&[Some("C"), Some("A"), Some("B")]).surely_unique_and_present());
        assert!(!text(&[Some("B"), Some("A"), Some("B")]).surely_unique_and_present());
        assert!(!text(&[Some("A"), None]).surely_unique_and_present());
        assert!(text(&[]).surely_unique_and_present());
        let ints = Values::Integer(Int64Chunked::from_slice("k".into(), &[3, 1, 3]));
        assert!(!ints.surely_unique_and_present());
    }
}
