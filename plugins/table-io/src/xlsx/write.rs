//! Writing a one-sheet workbook with rust_xlsxwriter: from plain columns
//! ([`Sheet`]), and from a frame, one column at a time through the same
//! cell writer, so that both paths write the same cells.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use polars::prelude::*;
use rust_xlsxwriter::{Format as CellFormat, Workbook, Worksheet, XlsxError as WriteError};

use super::sheet::{Cells, Sheet};
use crate::{Result, TableError};

/// Excel's last row, counting the header.
const MAX_ROWS: usize = 1_048_576;
const DATETIME_FORMAT: &str = "yyyy-mm-dd hh:mm:ss.000";

type WriteResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Writes `frame` as a one-sheet workbook into `file`, the output `path`'s
/// staging file: a bold header row, then one row per frame row; missing
/// values and NaN are empty cells.
pub(crate) fn write(frame: &DataFrame, file: &File, path: &Path) -> Result<()> {
    write_columns(frame.height(), file, path, |sheet, formats| {
        for (index, column) in frame.columns().iter().enumerate() {
            let cells = cells_of(column)?;
            write_column(sheet, index, column.name().as_str(), &cells, formats)?;
        }
        Ok(())
    })
}

/// Writes `sheet` as a one-sheet workbook into `file`, as [`write`] writes
/// a frame of the same columns.
pub(crate) fn write_sheet(sheet: &Sheet, file: &File, path: &Path) -> Result<()> {
    write_columns(sheet.height, file, path, |worksheet, formats| {
        for (index, column) in sheet.columns.iter().enumerate() {
            write_column(worksheet, index, &column.name, &column.cells, formats)?;
        }
        Ok(())
    })
}

/// The header's and the datetimes' cell formats.
struct Formats {
    bold: CellFormat,
    date: CellFormat,
}

fn write_columns(
    height: usize,
    file: &File,
    path: &Path,
    fill: impl FnOnce(&mut Worksheet, &Formats) -> WriteResult,
) -> Result<()> {
    if height >= MAX_ROWS {
        return Err(TableError::invalid_data(format!(
            "{height} rows do not fit in an xlsx sheet (at most {} below the header)",
            MAX_ROWS - 1
        ))
        .with_hint("write the output as .csv or .parquet instead"));
    }
    let formats = Formats {
        bold: CellFormat::new().set_bold(),
        date: CellFormat::new().set_num_format(DATETIME_FORMAT),
    };
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    fill(sheet, &formats).map_err(|error| unwritable(path, &*error))?;
    // Buffered: `Workbook::save` hands the zip writer the bare file, which
    // made a one-sheet workbook 98 small `write` calls.
    let mut out = BufWriter::new(file);
    workbook
        .save_to_writer(&mut out)
        .map_err(|error| unwritable(path, &error))?;
    out.flush()
        .map_err(|cause| TableError::io("cannot write", path, &cause))
}

fn unwritable(path: &Path, error: &dyn std::fmt::Display) -> TableError {
    TableError::io_message(format!("cannot write `{}`", path.display())).caused_by(error)
}

/// A frame's column as the cells the workbook gets: datetimes, booleans,
/// every numeric type as floats (Excel has no other), anything else as text.
fn cells_of(column: &Column) -> PolarsResult<Cells> {
    let series = column.as_materialized_series();
    Ok(match series.dtype() {
        DataType::Datetime(_, _) => {
            let micros = series.cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
            Cells::Datetime(micros.to_physical_repr().i64()?.iter().collect())
        }
        DataType::Boolean => Cells::Boolean(series.bool()?.iter().collect()),
        dtype if dtype.is_primitive_numeric() => {
            Cells::Float(series.cast(&DataType::Float64)?.f64()?.iter().collect())
        }
        _ => {
            let texts = series.cast(&DataType::String)?;
            Cells::Text(
                texts
                    .str()?
                    .iter()
                    .map(|text| text.map(str::to_string))
                    .collect(),
            )
        }
    })
}

fn write_column(
    sheet: &mut Worksheet,
    index: usize,
    name: &str,
    cells: &Cells,
    formats: &Formats,
) -> WriteResult {
    let col = u16::try_from(index)?;
    sheet.write_string_with_format(0, col, name, &formats.bold)?;
    match cells {
        Cells::Datetime(micros) => {
            for (row, value) in present(micros) {
                sheet.write_number_with_format(
                    row_of(row)?,
                    col,
                    excel_serial(*value),
                    &formats.date,
                )?;
            }
        }
        Cells::Boolean(flags) => {
            for (row, value) in present(flags) {
                sheet.write_boolean(row_of(row)?, col, *value)?;
            }
        }
        #[expect(
            clippy::cast_precision_loss,
            reason = "the reader keeps only integers an f64 holds exactly"
        )]
        Cells::Integer(numbers) => {
            for (row, value) in present(numbers) {
                sheet.write_number(row_of(row)?, col, *value as f64)?;
            }
        }
        Cells::Float(numbers) => {
            for (row, value) in present(numbers).filter(|(_, value)| value.is_finite()) {
                sheet.write_number(row_of(row)?, col, *value)?;
            }
        }
        Cells::Text(texts) => {
            for (row, value) in present(texts) {
                sheet.write_string(row_of(row)?, col, value)?;
            }
        }
    }
    Ok(())
}

/// The non-empty cells with their 0-based row.
fn present<T>(cells: &[Option<T>]) -> impl Iterator<Item = (usize, &T)> {
    cells
        .iter()
        .enumerate()
        .filter_map(|(row, cell)| cell.as_ref().map(|cell| (row, cell)))
}

fn row_of(index: usize) -> std::result::Result<u32, WriteError> {
    u32::try_from(index + 1).map_err(|_| WriteError::RowColumnLimitError)
}

/// Microseconds since the Unix epoch as an Excel serial date (days since
/// 1899-12-30, the fraction being the time of day).
fn excel_serial(micros: i64) -> f64 {
    const UNIX_EPOCH_SERIAL: f64 = 25_569.0;
    const MICROS_PER_DAY: f64 = 86_400_000_000.0;
    UNIX_EPOCH_SERIAL + micros as f64 / MICROS_PER_DAY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unix_epoch_is_excel_day_25569() {
        assert!((excel_serial(0) - 25_569.0).abs() < f64::EPSILON);
        assert!((excel_serial(43_200_000_000) - 25_569.5).abs() < f64::EPSILON);
    }
}
