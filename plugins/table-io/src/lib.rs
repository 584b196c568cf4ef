//! The table toolkit shared by every flow job.
//!
//! It owns everything a job does with files: reading `.csv`, `.xlsx` (first
//! sheet) and `.parquet` into polars frames, writing a frame in the format the
//! output's extension names, atomically, and turning every failure into a
//! [`TableError`] that says what went wrong, where, and what to do, with the
//! exit code of the job contract. It knows nothing about scheduling: a job
//! built on it runs the same by hand as under `flow`.

pub mod append;
mod cli;
mod column;
mod csv;
mod error;
pub mod exit;
pub mod fields;
mod format;
pub mod infer;
mod input;
mod job;
mod output;
mod rfc3339;
mod synced;
pub mod timestamp;
mod xlsx;

pub use cli::{InputArg, OutputArg};
pub use column::{Repeated, find_column, first_repeated, input_error, numeric_column, row_list};
pub use csv::{INFER_SCHEMA_ROWS, SAMPLE_ROWS};
pub use error::{ErrorKind, TableError};
pub use format::Format;
pub use input::Input;
pub use job::run_job;
pub use output::Output;
pub use rfc3339::{format_micros, parse_micros};
pub use synced::SyncedFile;
pub use xlsx::{Cells, Sheet, SheetColumn};

/// The result type of every fallible operation of the toolkit.
pub type Result<T, E = TableError> = std::result::Result<T, E>;
