//! A workbook's first sheet as typed columns of plain vectors, without
//! polars.
//!
//! Both xlsx paths go through it: the polars path turns it into a frame
//! after reading and a frame back into it before writing, and the jobs'
//! polars-free path works on it directly. A small workbook is read whole by
//! calamine and written whole by rust_xlsxwriter either way; what polars
//! added in between was its thread pool and async runtime, started at the
//! first query, which cost a one-sheet job several times its work
//! (docs/performance.md, "Start-up").

use std::path::Path;

use crate::{Result, TableError};

/// The cells of one column, by the type rules of the parent module; `None`
/// is an empty cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cells {
    /// Whole numbers within the range an `f64` holds exactly.
    Integer(Vec<Option<i64>>),
    /// Any other numbers.
    Float(Vec<Option<f64>>),
    /// True and false.
    Boolean(Vec<Option<bool>>),
    /// Dates and times, as microseconds since the Unix epoch (naive UTC).
    Datetime(Vec<Option<i64>>),
    /// Text, and any mix of types.
    Text(Vec<Option<String>>),
}

impl Cells {
    /// How many rows the column has.
    pub fn len(&self) -> usize {
        match self {
            Cells::Integer(cells) | Cells::Datetime(cells) => cells.len(),
            Cells::Float(cells) => cells.len(),
            Cells::Boolean(cells) => cells.len(),
            Cells::Text(cells) => cells.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cells at `rows` in that order, an empty cell where a row is
    /// `None` (as a left join leaves an unmatched row).
    pub fn take(&self, rows: &[Option<usize>]) -> Cells {
        fn pick<T: Clone>(cells: &[Option<T>], rows: &[Option<usize>]) -> Vec<Option<T>> {
            rows.iter()
                .map(|row| row.and_then(|row| cells.get(row).cloned().flatten()))
                .collect()
        }
        match self {
            Cells::Integer(cells) => Cells::Integer(pick(cells, rows)),
            Cells::Float(cells) => Cells::Float(pick(cells, rows)),
            Cells::Boolean(cells) => Cells::Boolean(pick(cells, rows)),
            Cells::Datetime(cells) => Cells::Datetime(pick(cells, rows)),
            Cells::Text(cells) => Cells::Text(pick(cells, rows)),
        }
    }

    /// The values as floats when the column holds numbers, as polars casts
    /// a numeric column to `Float64`; `None` for any other type.
    pub fn numbers(&self) -> Option<Vec<Option<f64>>> {
        match self {
            #[expect(
                clippy::cast_precision_loss,
                reason = "the reader keeps only integers an f64 holds exactly"
            )]
            Cells::Integer(cells) => Some(cells.iter().map(|x| x.map(|x| x as f64)).collect()),
            Cells::Float(cells) => Some(cells.clone()),
            Cells::Boolean(_) | Cells::Datetime(_) | Cells::Text(_) => None,
        }
    }
}

/// A named column of a sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetColumn {
    /// The header cell's text.
    pub name: String,
    /// The cells below it.
    pub cells: Cells,
}

/// The first sheet of a workbook: its header and columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    /// The columns, in the sheet's order.
    pub columns: Vec<SheetColumn>,
    /// How many data rows there are (below the header).
    pub height: usize,
    /// The spreadsheet row number of the first data row.
    pub first_data_row: usize,
}

impl Sheet {
    /// Reads the first sheet of the workbook at `path`, with the checks and
    /// messages of [`crate::Input::open`]: its first non-empty row is the
    /// header.
    pub fn read(path: &Path) -> Result<Self> {
        crate::Input::check(path)?;
        super::read::read_sheet(path)
    }

    /// The column named `name`, if there is one.
    pub fn column(&self, name: &str) -> Option<&SheetColumn> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// Sets the column `name` to `cells`, as polars' `with_column` does: an
    /// existing column of that name is replaced where it stands, otherwise
    /// the column is added at the end.
    pub fn set_column(&mut self, name: &str, cells: Cells) -> Result<()> {
        if cells.len() != self.height {
            return Err(TableError::invalid_data(format!(
                "column `{name}` has {} rows where the sheet has {}",
                cells.len(),
                self.height
            )));
        }
        match self.columns.iter_mut().find(|column| column.name == name) {
            Some(column) => column.cells = cells,
            None => self.columns.push(SheetColumn {
                name: name.to_string(),
                cells,
            }),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet() -> Sheet {
        Sheet {
            columns: vec![
                SheetColumn {
                    name: "isin".into(),
                    cells: Cells::Text(vec![Some("LU1".into()), None]),
                },
                SheetColumn {
                    name: "nav".into(),
                    cells: Cells::Integer(vec![Some(3), None]),
                },
            ],
            height: 2,
            first_data_row: 2,
        }
    }

    fn names(sheet: &Sheet) -> Vec<&str> {
        sheet.columns.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn a_new_column_goes_last_and_an_existing_one_is_replaced_in_place() -> Result<()> {
        let mut sheet = sheet();
        sheet.set_column("z", Cells::Float(vec![Some(0.5), None]))?;
        assert_eq!(names(&sheet), ["isin", "nav", "z"]);
        sheet.set_column("isin", Cells::Boolean(vec![Some(true), Some(false)]))?;
        assert_eq!(names(&sheet), ["isin", "nav", "z"]);
        assert_eq!(
            sheet.column("isin").map(|c| &c.cells),
            Some(&Cells::Boolean(vec![Some(true), Some(false)]))
        );
        Ok(())
    }

    #[test]
    fn a_column_of_another_height_is_refused() {
        let mut sheet = sheet();
        assert!(sheet.set_column("z", Cells::Float(vec![None])).is_err());
        assert_eq!(names(&sheet), ["isin", "nav"]);
    }

    #[test]
    fn taking_rows_reorders_and_leaves_unmatched_rows_empty() {
        let cells = Cells::Text(vec![Some("a".into()), None, Some("c".into())]);
        assert_eq!(
            cells.take(&[Some(2), None, Some(1), Some(0), Some(9)]),
            Cells::Text(vec![Some("c".into()), None, None, Some("a".into()), None])
        );
    }

    #[test]
    fn integers_are_numbers_and_text_is_not() {
        let sheet = sheet();
        let nav = sheet.column("nav").and_then(|c| c.cells.numbers());
        assert_eq!(nav, Some(vec![Some(3.0), None]));
        assert_eq!(sheet.column("isin").and_then(|c| c.cells.numbers()), None);
    }
}
