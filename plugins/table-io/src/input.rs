//! An input table: checked, opened lazily, and able to explain its own
//! read failures.
//!
//! Opening checks what the operating system can tell (the path exists, is a
//! file, is not empty) before polars sees it, so those failures get precise
//! messages. Polars errors that surface later, while the job's query runs,
//! come back here through [`Input::explain`] to be located by row or line.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::{Format, Result, TableError, csv, xlsx};

/// A table file a job reads.
pub struct Input {
    path: PathBuf,
    format: Format,
    frame: LazyFrame,
    schema: SchemaRef,
    first_data_row: usize,
}

impl Input {
    /// Checks `path` and opens it as a lazy frame in the format its extension
    /// names. CSV and Parquet are scanned (streamed when the query runs);
    /// an xlsx workbook is read whole, as the format requires.
    pub fn open(path: &Path) -> Result<Self> {
        let format = Self::check(path)?;
        let (frame, first_data_row) = match format {
            Format::Csv => (csv::scan(path)?, 2),
            Format::Parquet => (scan_parquet(path)?, 2),
            Format::Xlsx => {
                let sheet = xlsx::read(path)?;
                (sheet.frame.lazy(), sheet.first_data_row)
            }
        };
        let explain = |error: PolarsError| located_or_generic(path, format, &error);
        let (frame, schema) = utc_as_naive(frame).map_err(explain)?;
        Ok(Self {
            path: path.to_path_buf(),
            format,
            frame,
            schema,
            first_data_row,
        })
    }

    /// Checks what [`Input::open`] checks before reading anything: a known
    /// extension, and a readable, non-empty file. For fast paths that read
    /// the file themselves.
    pub fn check(path: &Path) -> Result<Format> {
        let format = Format::of(path)?;
        check_readable_file(path)?;
        Ok(format)
    }

    /// The path the input was opened from, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The input as a lazy frame, to build a query on.
    pub fn frame(&self) -> LazyFrame {
        self.frame.clone()
    }

    /// The format the input's extension names.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The columns and their types.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The row number users see for the data row at `index` (0-based): the
    /// header is row 1, as in a spreadsheet and in a CSV file's line count.
    pub fn row_number(&self, index: usize) -> usize {
        self.first_data_row + index
    }

    /// Names every column, for messages: "`isin`, `nav`".
    pub fn column_list(&self) -> String {
        let names: Vec<String> = self
            .schema
            .iter_names()
            .map(|name| format!("`{name}`"))
            .collect();
        names.join(", ")
    }

    /// Turns a polars error raised while a query over this input ran into a
    /// located error, if this input is what failed.
    pub fn explain(&self, error: &PolarsError) -> Option<TableError> {
        match self.format {
            Format::Csv => csv::explain(&self.path, error),
            Format::Xlsx | Format::Parquet => None,
        }
    }
}

/// The frame with every zoned datetime column turned into a naive UTC one,
/// and its schema. Polars is built without time zones (they cost a large
/// dependency), and a zoned column can be neither printed nor compared with
/// a naive one; the stored instants are UTC either way.
fn utc_as_naive(mut frame: LazyFrame) -> PolarsResult<(LazyFrame, SchemaRef)> {
    let schema = frame.collect_schema()?;
    let naive: Vec<Expr> = schema
        .iter()
        .filter_map(|(name, dtype)| match dtype {
            DataType::Datetime(unit, Some(_)) => Some(
                col(name.clone())
                    .cast(DataType::Int64)
                    .cast(DataType::Datetime(*unit, None)),
            ),
            _ => None,
        })
        .collect();
    if naive.is_empty() {
        return Ok((frame, schema));
    }
    let mut frame = frame.with_columns(naive);
    let schema = frame.collect_schema()?;
    Ok((frame, schema))
}

fn check_readable_file(path: &Path) -> Result<()> {
    let metadata = std::fs::metadata(path).map_err(|cause| {
        TableError::io("cannot read", path, &cause).with_hint("check that the path is right")
    })?;
    if metadata.is_dir() {
        return Err(TableError::io_message(format!(
            "`{}` is a folder, not a file",
            path.display()
        ))
        .with_hint("pass the path of a table file, for example `folder/File_A.csv`"));
    }
    if metadata.len() == 0 {
        return Err(TableError::invalid_data(format!(
            "`{}` is empty: it has no header and no rows",
            path.display()
        ))
        .with_hint("check the program that wrote it; a table needs at least a header row"));
    }
    File::open(path)
        .map(drop)
        .map_err(|cause| TableError::io("cannot read", path, &cause))
}

fn scan_parquet(path: &Path) -> Result<LazyFrame> {
    let target = PlRefPath::try_from_path(path)
        .map_err(|error| located_or_generic(path, Format::Parquet, &error))?;
    LazyFrame::scan_parquet(target, ScanArgsParquet::default())
        .map_err(|error| located_or_generic(path, Format::Parquet, &error))
}

/// The best error for a polars failure while opening `path`.
pub(crate) fn located_or_generic(path: &Path, format: Format, error: &PolarsError) -> TableError {
    if let PolarsError::IO { error, .. } = error {
        return TableError::io("cannot read", path, error);
    }
    if format == Format::Csv
        && let Some(located) = csv::explain(path, error)
    {
        return located;
    }
    TableError::invalid_data(format!("cannot read `{}` as {format}", path.display()))
        .caused_by(error)
        .with_hint(format!(
            "check that the file is a complete, valid {format} file"
        ))
}
