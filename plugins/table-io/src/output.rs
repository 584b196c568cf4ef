//! An output table, written atomically.
//!
//! The frame is written to a hidden temporary file in the output's own folder
//! and renamed onto the output path only once complete, so a reader (or
//! `flow`) never sees half a file: after a crash there is either the old
//! output or the new one, and at worst a hidden `.NAME.*.tmp` file.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;
use tempfile::NamedTempFile;

use crate::column::input_error;
use crate::{Format, Input, Result, Sheet, TableError, rfc3339, xlsx};

/// A table file a job writes.
pub struct Output {
    path: PathBuf,
    format: Format,
}

impl Output {
    /// Checks, before any work is done, that `path` names a known format and
    /// that its folder exists.
    pub fn new(path: &Path) -> Result<Self> {
        let format = Format::of(path)?;
        let folder = folder_of(path);
        match std::fs::metadata(folder) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => {
                return Err(TableError::io_message(format!(
                    "cannot write `{}`: `{}` is not a folder",
                    path.display(),
                    folder.display()
                )));
            }
            Err(cause) => {
                return Err(
                    TableError::io("cannot write into the folder", folder, &cause)
                        .with_hint(format!("create it first: mkdir -p {}", folder.display())),
                );
            }
        }
        if path.is_dir() {
            return Err(TableError::io_message(format!(
                "cannot write `{}`: it is a folder",
                path.display()
            ))
            .with_hint("name a file inside the folder as the output"));
        }
        Ok(Self {
            path: path.to_path_buf(),
            format,
        })
    }

    /// The output path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `frame` and writes the result. CSV and Parquet are streamed by
    /// polars' streaming engine, which opens the staging file by its path;
    /// xlsx is collected first and written through the staging file's own
    /// handle. A polars failure is traced back to whichever of `inputs`
    /// caused it.
    pub fn write(&self, frame: LazyFrame, inputs: &[&Input]) -> Result<()> {
        let explain = |error: PolarsError| explain(error, inputs, &self.path);
        self.write_staged(|staging| match self.format {
            Format::Csv => sink(
                datetimes_as_text(frame).map_err(explain)?,
                staging.path(),
                csv_format(),
            )
            .map_err(explain),
            Format::Parquet => sink(frame, staging.path(), parquet_format()).map_err(explain),
            Format::Xlsx => {
                // A sheet is at most a million rows and is built in memory
                // anyway; the in-memory engine starts no streaming executor
                // (its threads and async runtime cost a small job more time
                // than the work).
                let table = frame
                    .collect_with_engine(Engine::InMemory)
                    .map_err(explain)?
                    .unwrap_single();
                xlsx::write(&table, staging.as_file(), &self.path)
            }
        })
    }

    /// The format the output's extension names.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Writes `sheet` as the output, without polars. Only an xlsx output is
    /// written from a sheet: callers check [`Output::format`] first.
    pub fn write_sheet(&self, sheet: &Sheet) -> Result<()> {
        if self.format != Format::Xlsx {
            return Err(TableError::usage(format!(
                "`{}` is a {} output; only an xlsx output is written from a sheet",
                self.path.display(),
                self.format
            )));
        }
        self.write_file(|file| xlsx::write_sheet(sheet, file, &self.path))
    }

    /// Writes the output through `fill`, given the path of a hidden staging
    /// file in the output's folder, for writers that open files by path.
    /// Only when `fill` succeeds is the file synced to disk and renamed onto
    /// the output path; otherwise it is removed.
    pub fn write_with(&self, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        self.write_staged(|staging| fill(staging.path()))
    }

    /// Writes the output through `fill`, given the hidden staging file
    /// itself, open for writing; as [`Output::write_with`] otherwise. The
    /// way for any writer that takes a handle: opening the file again by
    /// path costs an `openat`, and on ext4 the reopen's `O_TRUNC` makes its
    /// `close` start writing the data out (`auto_da_alloc`), work the
    /// `fsync` then does anyway.
    pub fn write_file(&self, fill: impl FnOnce(&File) -> Result<()>) -> Result<()> {
        self.write_staged(|staging| fill(staging.as_file()))
    }

    fn write_staged(&self, fill: impl FnOnce(&NamedTempFile) -> Result<()>) -> Result<()> {
        // Created 0666 so that the umask, not tempfile's private 0600, decides
        // who may read the output, as for any file the user writes.
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{}.", file_name(&self.path)))
            .suffix(".tmp")
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(folder_of(&self.path))
            .map_err(|cause| {
                TableError::io("cannot write into the folder of", &self.path, &cause)
            })?;
        fill(&staging)?;
        promote(staging, &self.path)
    }
}

fn sink(frame: LazyFrame, path: &Path, format: FileWriteFormat) -> PolarsResult<()> {
    let target = SinkDestination::File {
        target: SinkTarget::Path(PlRefPath::try_from_path(path)?),
    };
    frame
        .sink(target, format, UnifiedSinkArgs::default())?
        .collect_with_engine(Engine::Streaming)
        .map(drop)
}

/// `frame` with every datetime column turned into RFC 3339 UTC text, the
/// form CSV holds datetimes in.
fn datetimes_as_text(mut frame: LazyFrame) -> PolarsResult<LazyFrame> {
    let formatted: Vec<Expr> = frame
        .collect_schema()?
        .iter()
        .filter(|(_, dtype)| matches!(dtype, DataType::Datetime(_, _)))
        .map(|(name, _)| rfc3339::format_column(name))
        .collect();
    Ok(frame.with_columns(formatted))
}

fn csv_format() -> FileWriteFormat {
    FileWriteFormat::Csv(CsvWriterOptions {
        check_extension: false,
        ..CsvWriterOptions::default()
    })
}

fn parquet_format() -> FileWriteFormat {
    FileWriteFormat::Parquet(Arc::new(ParquetWriteOptions::default()))
}

/// Syncs the staging file, then renames it onto `path`: the rename is the
/// moment the output appears, complete, and it survives a power cut.
fn promote(staging: NamedTempFile, path: &Path) -> Result<()> {
    staging
        .as_file()
        .sync_all()
        .map_err(|cause| TableError::io("cannot write", path, &cause))?;
    staging
        .persist(path)
        .map(drop)
        .map_err(|error| TableError::io("cannot move the finished output to", path, &error.error))
}

fn explain(error: PolarsError, inputs: &[&Input], output: &Path) -> TableError {
    if let PolarsError::IO { error, .. } = &error {
        return TableError::io("cannot write", output, error);
    }
    inputs
        .iter()
        .find_map(|input| input.explain(&error))
        .unwrap_or_else(|| match inputs {
            [input] => input_error(input, &error),
            _ => TableError::invalid_data(format!("cannot produce `{}`", output.display()))
                .caused_by(error),
        })
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || "output".to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}
