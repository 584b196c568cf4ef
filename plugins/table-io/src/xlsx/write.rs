//! Writing a frame as a one-sheet workbook with rust_xlsxwriter.

use std::path::Path;

use polars::prelude::*;
use rust_xlsxwriter::{Format as CellFormat, Workbook, Worksheet, XlsxError as WriteError};

use crate::{Result, TableError};

/// Excel's last row, counting the header.
const MAX_ROWS: usize = 1_048_576;
const DATETIME_FORMAT: &str = "yyyy-mm-dd hh:mm:ss.000";

/// Writes `frame` as a one-sheet workbook at `path`: a bold header row, then
/// one row per frame row; missing values and NaN are empty cells.
pub(crate) fn write(frame: &DataFrame, path: &Path) -> Result<()> {
    if frame.height() >= MAX_ROWS {
        return Err(TableError::invalid_data(format!(
            "{} rows do not fit in an xlsx sheet (at most {} below the header)",
            frame.height(),
            MAX_ROWS - 1
        ))
        .with_hint("write the output as .csv or .parquet instead"));
    }
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    fill_sheet(sheet, frame).map_err(|error| unwritable(path, &error))?;
    workbook
        .save(path)
        .map_err(|error| unwritable(path, &error))
}

fn unwritable(path: &Path, error: &dyn std::fmt::Display) -> TableError {
    TableError::io_message(format!("cannot write `{}`", path.display())).caused_by(error)
}

fn fill_sheet(
    sheet: &mut Worksheet,
    frame: &DataFrame,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let bold = CellFormat::new().set_bold();
    let date = CellFormat::new().set_num_format(DATETIME_FORMAT);
    for (index, column) in frame.columns().iter().enumerate() {
        let col = u16::try_from(index)?;
        sheet.write_string_with_format(0, col, column.name().as_str(), &bold)?;
        write_cells(sheet, col, column, &date)?;
    }
    Ok(())
}

fn write_cells(
    sheet: &mut Worksheet,
    col: u16,
    column: &Column,
    date: &CellFormat,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let series = column.as_materialized_series();
    match series.dtype() {
        DataType::Datetime(_, _) => {
            let micros = series.cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
            let micros = micros.to_physical_repr();
            for (row, value) in micros.i64()?.iter().enumerate() {
                if let Some(value) = value {
                    sheet.write_number_with_format(row_of(row)?, col, excel_serial(value), date)?;
                }
            }
        }
        DataType::Boolean => {
            for (row, value) in series.bool()?.iter().enumerate() {
                if let Some(value) = value {
                    sheet.write_boolean(row_of(row)?, col, value)?;
                }
            }
        }
        dtype if dtype.is_primitive_numeric() => {
            let numbers = series.cast(&DataType::Float64)?;
            for (row, value) in numbers.f64()?.iter().enumerate() {
                if let Some(value) = value.filter(|value| value.is_finite()) {
                    sheet.write_number(row_of(row)?, col, value)?;
                }
            }
        }
        _ => {
            let texts = series.cast(&DataType::String)?;
            for (row, value) in texts.str()?.iter().enumerate() {
                if let Some(value) = value {
                    sheet.write_string(row_of(row)?, col, value)?;
                }
            }
        }
    }
    Ok(())
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
