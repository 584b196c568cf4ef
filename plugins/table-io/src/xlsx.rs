//! Excel workbooks: the first sheet read into a frame with calamine, a frame
//! written as a one-sheet workbook with rust_xlsxwriter.
//!
//! Excel stores every number as a float, so reading needs rules for types:
//! a column of whole numbers becomes `Int64`, other numbers `Float64`, cells
//! formatted as dates `Datetime`, true/false `Boolean`, and any mix text.
//! Datetimes are written as Excel serial dates with a date format, so they
//! come back as datetimes, not numbers.

mod read;
mod write;

pub(crate) use read::read;
pub(crate) use write::write;
