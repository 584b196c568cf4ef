//! Which table format a path names, decided by its extension alone.

use std::path::Path;

use crate::{Result, TableError};

/// A table file format the jobs read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values, UTF-8, with a header line.
    Csv,
    /// An Excel workbook; the first sheet is the table, its first row the header.
    Xlsx,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format named by the extension of `path` (case-insensitive).
    pub fn of(path: &Path) -> Result<Self> {
        let extension = path
            .extension()
            .and_then(|extension| extension.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("xlsx") => Ok(Format::Xlsx),
            Some("parquet") => Ok(Format::Parquet),
            _ => Err(TableError::usage(format!(
                "`{}` has no table extension this job knows",
                path.display()
            ))
            .with_hint("name the file with `.csv`, `.xlsx` or `.parquet`")),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Csv => "CSV",
            Format::Xlsx => "xlsx",
            Format::Parquet => "Parquet",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_decides_the_format_whatever_its_case() {
        assert_eq!(
            Format::of(Path::new("a/File_A.XLSX")).ok(),
            Some(Format::Xlsx)
        );
        assert_eq!(Format::of(Path::new("b.csv")).ok(), Some(Format::Csv));
        assert_eq!(
            Format::of(Path::new("c.parquet")).ok(),
            Some(Format::Parquet)
        );
    }

    #[test]
    fn unknown_extension_is_a_usage_error_with_a_hint() {
        let error = Format::of(Path::new("notes.txt")).err();
        let error = error.map(|error| (error.exit_code(), error.to_string()));
        assert_eq!(
            error,
            Some((
                crate::exit::USAGE,
                "error: `notes.txt` has no table extension this job knows\nhint: name the file with `.csv`, `.xlsx` or `.parquet`".to_string()
            ))
        );
    }
}
