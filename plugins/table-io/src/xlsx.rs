//! Excel workbooks: the first sheet read with calamine, a one-sheet
//! workbook written with rust_xlsxwriter, both through plain typed columns
//! ([`Sheet`]) that the polars path turns into a frame and back.
//!
//! Excel stores every number as a float, so reading needs rules for types:
//! a column of whole numbers becomes `Int64`, other numbers `Float64`, cells
//! formatted as dates `Datetime`, true/false `Boolean`, and any mix text.
//! Datetimes are written as Excel serial dates with a date format, so they
//! come back as datetimes, not numbers.

mod read;
mod sheet;
mod write;

pub(crate) use read::read;
pub use sheet::{Cells, Sheet, SheetColumn};
pub(crate) use write::{write, write_sheet};
