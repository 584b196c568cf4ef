//! The file's rows as the database receives them: one typed vector per
//! column, keys checked (present, unique) before any database is opened.
//!
//! Owns reading the whole input into memory and the value conversions both
//! backends share; it knows no SQL.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use table_io::{Input, Result, TableError, input_error};

use crate::schema::{FileColumn, SqlType};

/// How many rows of a repeated or missing key an error lists.
const ROWS_SHOWN: usize = 5;

/// The values of one column, converted once to the type the SQL column
/// gets.
enum Values {
    Text(Vec<Option<String>>),
    Float(Vec<Option<f64>>),
    Integer(Vec<Option<i64>>),
    Boolean(Vec<Option<bool>>),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(Vec<Option<i64>>),
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

    /// The value of column `column` (by position) in row `row`.
    pub(crate) fn cell(&self, row: usize, column: usize) -> Cell<'_> {
        let cell = match &self.values[column] {
            Values::Text(v) => v[row].as_deref().map(Cell::Text),
            Values::Float(v) => v[row].map(Cell::Float),
            Values::Integer(v) => v[row].map(Cell::Integer),
            Values::Boolean(v) => v[row].map(Cell::Boolean),
            Values::Timestamp(v) => v[row].map(Cell::Timestamp),
        };
        cell.unwrap_or(Cell::Null)
    }

    fn check_keys(&self, input: &Input, key: &str) -> Result<()> {
        let Some(index) = self.columns.iter().position(|c| c.name == key) else {
            return Ok(());
        };
        let file = input.path().display();
        let missing: Vec<usize> = (0..self.height)
            .filter(|&row| self.cell(row, index) == Cell::Null)
            .collect();
        if let Some(&first) = missing.first() {
            return Err(TableError::invalid_data(format!(
                "`{file}`: key column `{key}` is empty in {} ({} in all)",
                row_list(input, &missing),
                missing.len()
            ))
            .with_hint(format!(
                "give every row a `{key}` (row {} first), or name another key column with `--key`",
                input.row_number(first)
            )));
        }
        let mut seen: HashMap<Cow<'_, str>, usize> = HashMap::with_capacity(self.height);
        for row in 0..self.height {
            let value = self.cell(row, index).key_text();
            if let Some(&first) = seen.get(&value) {
                let rows: Vec<usize> = std::iter::once(first)
                    .chain((row..self.height).filter(|&r| self.cell(r, index).key_text() == value))
                    .collect();
                return Err(TableError::invalid_data(format!(
                    "`{file}`: key `{key}` value {value:?} appears {} times ({}); each key must appear once",
                    rows.len(),
                    row_list(input, &rows)
                ))
                .with_hint(format!(
                    "remove the repeated rows from `{file}`, or name a column that is unique with `--key`"
                )));
            }
            seen.insert(value, row);
        }
        Ok(())
    }
}

impl<'a> Cell<'a> {
    /// The value as text, to compare keys and to name them in messages.
    fn key_text(self) -> Cow<'a, str> {
        match self {
            Cell::Null => Cow::Borrowed(""),
            Cell::Text(text) => Cow::Borrowed(text),
            Cell::Float(x) => Cow::Owned(x.to_string()),
            Cell::Integer(i) => Cow::Owned(i.to_string()),
            Cell::Boolean(b) => Cow::Owned(b.to_string()),
            Cell::Timestamp(micros) => Cow::Owned(micros.to_string()),
        }
    }
}

/// "rows 2, 5" with at most [`ROWS_SHOWN`] rows, as the user numbers them.
fn row_list(input: &Input, indexes: &[usize]) -> String {
    let shown: Vec<String> = indexes
        .iter()
        .take(ROWS_SHOWN)
        .map(|&index| input.row_number(index).to_string())
        .collect();
    let more = if indexes.len() > ROWS_SHOWN {
        ", …"
    } else {
        ""
    };
    let noun = if indexes.len() == 1 { "row" } else { "rows" };
    format!("{noun} {}{more}", shown.join(", "))
}

/// The instant `micros` after the Unix epoch, when chrono can represent it.
pub(crate) fn utc(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

fn convert(column: &Column, sql: SqlType) -> PolarsResult<Values> {
    let series = column.as_materialized_series();
    Ok(match sql {
        SqlType::Text => {
            let text = series.cast(&DataType::String)?;
            Values::Text(text.str()?.iter().map(|v| v.map(str::to_string)).collect())
        }
        SqlType::Float => Values::Float(series.cast(&DataType::Float64)?.f64()?.iter().collect()),
        // Strict: an unsigned value beyond i64 fails instead of becoming null.
        SqlType::Integer => Values::Integer(
            series
                .strict_cast(&DataType::Int64)?
                .i64()?
                .iter()
                .collect(),
        ),
        SqlType::Boolean => Values::Boolean(series.bool()?.iter().collect()),
        SqlType::Timestamp => {
            let micros = series.cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
            let micros = micros.to_physical_repr();
            Values::Timestamp(micros.i64()?.iter().collect())
        }
    })
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
        assert!(matches!(units, Values::Integer(v) if v == [Some(1), None]));
        let flags = convert(&frame.columns()[2], SqlType::Boolean)?;
        assert!(matches!(flags, Values::Boolean(v) if v == [Some(true), None]));
        Ok(())
    }

    #[test]
    fn keys_compare_as_text() {
        assert_eq!(Cell::Integer(7).key_text(), "7");
        assert_eq!(Cell::Text("LU1").key_text(), "LU1");
    }
}
