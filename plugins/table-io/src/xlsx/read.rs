//! Reading the first sheet of a workbook with calamine, by the type rules
//! of the parent module: into plain columns ([`Sheet`]), and from there into
//! a frame for the polars path.

use std::path::Path;

use calamine::{Data, DataType as _, Range, Reader, Xlsx, XlsxError, open_workbook};
use chrono::{NaiveDate, NaiveDateTime};
use polars::prelude::*;

use super::sheet::{Cells, Sheet, SheetColumn};
use crate::{Result, TableError};

/// The largest integer an `f64` holds exactly; whole numbers beyond it stay floats.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// The first sheet of a workbook as a frame.
pub(crate) struct SheetFrame {
    pub(crate) frame: DataFrame,
    /// The spreadsheet row number of the first data row.
    pub(crate) first_data_row: usize,
}

/// Reads the first sheet of the workbook at `path` into a frame.
pub(crate) fn read(path: &Path) -> Result<SheetFrame> {
    let sheet = read_sheet(path)?;
    let columns = sheet
        .columns
        .into_iter()
        .map(polars_column)
        .collect::<std::result::Result<Vec<_>, _>>()
        .and_then(|columns| DataFrame::new(sheet.height, columns))
        .map_err(|error| {
            TableError::invalid_data(format!("cannot read `{}`", path.display())).caused_by(error)
        })?;
    Ok(SheetFrame {
        frame: columns,
        first_data_row: sheet.first_data_row,
    })
}

/// Reads the first sheet of the workbook at `path`; its first non-empty row
/// is the header.
pub(crate) fn read_sheet(path: &Path) -> Result<Sheet> {
    let mut workbook: Xlsx<_> = open_workbook(path).map_err(|error| unreadable(path, error))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| TableError::invalid_data(format!("`{}` has no sheet", path.display())))?
        .map_err(|error| unreadable(path, error))?;
    let Some((first_row, _)) = range.start() else {
        return Err(TableError::invalid_data(format!(
            "`{}`: the first sheet is empty: it has no header and no rows",
            path.display()
        ))
        .with_hint("put the header in the first row of the first sheet"));
    };
    let first_data_row = first_row as usize + 2;
    let names = header(path, &range)?;
    let columns = names
        .into_iter()
        .enumerate()
        .map(|(index, name)| {
            let cells: Vec<&Data> = range.rows().skip(1).map(|row| &row[index]).collect();
            match column(&cells) {
                Ok(cells) => Ok(SheetColumn { name, cells }),
                Err((row, message)) => Err(TableError::invalid_data(format!(
                    "`{}`: column `{name}`, row {}: {message}",
                    path.display(),
                    first_data_row + row
                ))
                .with_hint("fix the cell in the workbook and save it again")),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Sheet {
        columns,
        height: range.height().saturating_sub(1),
        first_data_row,
    })
}

/// The polars column of a sheet's column, with the same type.
fn polars_column(column: SheetColumn) -> PolarsResult<Column> {
    let name = PlSmallStr::from(column.name);
    Ok(match column.cells {
        Cells::Integer(cells) => Column::new(name, cells),
        Cells::Float(cells) => Column::new(name, cells),
        Cells::Boolean(cells) => Column::new(name, cells),
        Cells::Datetime(micros) => {
            Column::new(name, micros).cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
        }
        Cells::Text(cells) => Column::new(name, cells),
    })
}

fn unreadable(path: &Path, error: XlsxError) -> TableError {
    match error {
        XlsxError::Io(cause) => TableError::io("cannot read", path, &cause),
        other => TableError::invalid_data(format!(
            "`{}` is not a readable xlsx workbook",
            path.display()
        ))
        .caused_by(other)
        .with_hint("open it in Excel and save it again as .xlsx; a file cut short while being copied looks like this too"),
    }
}

fn header(path: &Path, range: &Range<Data>) -> Result<Vec<String>> {
    let Some(cells) = range.rows().next() else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = Vec::with_capacity(cells.len());
    for (index, cell) in cells.iter().enumerate() {
        let name = cell.to_string();
        if name.trim().is_empty() {
            return Err(TableError::invalid_data(format!(
                "`{}`: the header cell of column {} is empty",
                path.display(),
                index + 1
            ))
            .with_hint("give every column a name in the first row"));
        }
        if names.contains(&name) {
            return Err(TableError::invalid_data(format!(
                "`{}`: the header names column `{name}` twice",
                path.display()
            ))
            .with_hint("give every column a distinct name"));
        }
        names.push(name);
    }
    Ok(names)
}

/// The cells of a column, by the rules in the module docs; an error names
/// the data row (0-based) and what is wrong with its cell.
fn column(cells: &[&Data]) -> std::result::Result<Cells, (usize, String)> {
    if let Some(row) = cells.iter().position(|cell| matches!(cell, Data::Error(_))) {
        return Err((
            row,
            format!("the cell holds the Excel error {}", cells[row]),
        ));
    }
    let present = || cells.iter().filter(|cell| !matches!(cell, Data::Empty));
    if present().next().is_none() {
        return Ok(Cells::Text(vec![None; cells.len()]));
    }
    if present().all(|cell| matches!(cell, Data::Int(_) | Data::Float(_))) {
        let numbers: Vec<Option<f64>> = cells.iter().map(|cell| number(cell)).collect();
        let whole = numbers
            .iter()
            .flatten()
            .all(|x| x.fract() == 0.0 && x.abs() < EXACT_INTEGER_LIMIT);
        return Ok(if whole {
            #[expect(
                clippy::cast_possible_truncation,
                reason = "whole and within the exact range"
            )]
            let integers: Vec<Option<i64>> = numbers.iter().map(|x| x.map(|x| x as i64)).collect();
            Cells::Integer(integers)
        } else {
            Cells::Float(numbers)
        });
    }
    if present().all(|cell| matches!(cell, Data::Bool(_))) {
        return Ok(Cells::Boolean(
            cells.iter().map(|cell| cell.get_bool()).collect(),
        ));
    }
    if present().all(|cell| datetime(cell).is_some()) {
        return Ok(Cells::Datetime(
            cells
                .iter()
                .map(|cell| datetime(cell).map(|at| at.and_utc().timestamp_micros()))
                .collect(),
        ));
    }
    Ok(Cells::Text(cells.iter().map(|cell| text(cell)).collect()))
}

fn number(cell: &Data) -> Option<f64> {
    match cell {
        Data::Int(x) => Some(*x as f64),
        Data::Float(x) => Some(*x),
        _ => None,
    }
}

fn datetime(cell: &Data) -> Option<NaiveDateTime> {
    match cell {
        Data::DateTime(_) => cell.as_datetime(),
        Data::DateTimeIso(text) => text
            .parse::<NaiveDateTime>()
            .ok()
            .or_else(|| text.parse::<NaiveDate>().ok()?.and_hms_opt(0, 0, 0)),
        _ => None,
    }
}

fn text(cell: &Data) -> Option<String> {
    match cell {
        Data::Empty => None,
        Data::Float(x) if x.fract() == 0.0 && x.abs() < EXACT_INTEGER_LIMIT =>
        {
            #[expect(
                clippy::cast_possible_truncation,
                reason = "whole and within the exact range"
            )]
            Some((*x as i64).to_string())
        }
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_make_an_integer_column_and_fractions_a_float_column() {
        let whole = [Data::Float(500.0), Data::Empty, Data::Int(10)];
        let cells: Vec<&Data> = whole.iter().collect();
        assert_eq!(
            column(&cells),
            Ok(Cells::Integer(vec![Some(500), None, Some(10)]))
        );
        let fractional = [Data::Float(1.5), Data::Int(2)];
        let cells: Vec<&Data> = fractional.iter().collect();
        assert_eq!(column(&cells), Ok(Cells::Float(vec![Some(1.5), Some(2.0)])));
    }

    #[test]
    fn a_mix_of_numbers_and_text_is_text_with_whole_numbers_unchanged() {
        let mixed = [Data::Float(3.0), Data::String("abc".into())];
        let cells: Vec<&Data> = mixed.iter().collect();
        assert_eq!(
            column(&cells),
            Ok(Cells::Text(vec![Some("3".into()), Some("abc".into())]))
        );
    }

    #[test]
    fn an_empty_column_is_text_and_keeps_its_polars_type() -> PolarsResult<()> {
        let empty = [Data::Empty, Data::Empty];
        let cells: Vec<&Data> = empty.iter().collect();
        let cells =
            column(&cells).map_err(|(_, message)| polars_err!(ComputeError: "{message}"))?;
        assert_eq!(cells, Cells::Text(vec![None, None]));
        let polars = polars_column(SheetColumn {
            name: "note".into(),
            cells,
        })?;
        assert_eq!(polars.dtype(), &DataType::String);
        assert_eq!(polars.null_count(), 2);
        Ok(())
    }

    #[test]
    fn an_error_cell_names_its_row() {
        let cells = [Data::Float(1.0), Data::Error(calamine::CellErrorType::Div0)];
        let cells: Vec<&Data> = cells.iter().collect();
        assert_eq!(
            column(&cells).err(),
            Some((1, "the cell holds the Excel error #DIV/0!".to_string()))
        );
    }
}
