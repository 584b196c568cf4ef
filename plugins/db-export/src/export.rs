//! What one export does, the same on every database: check the table
//! against the file, create or replace it, upsert the rows, record the
//! export. The backends run it inside their one transaction.
//!
//! Owns the order of the steps and the schema check; the SQL of each step
//! belongs to the backend behind [`Transaction`].

use chrono::{DateTime, Utc};
use table_io::{Result, TableError};

use crate::csv_stream::{CsvStream, Streamed};
use crate::digest::FileDigest;
use crate::schema::{Dialect, FileColumn, SchemaDiff, TableColumn};
use crate::table::{Cells, Table};

/// The table that records every export.
pub(crate) const EXPORTS_TABLE: &str = "flow_exports";

/// What to do with a table that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// Insert new keys, update changed rows, keep rows the file lacks. The
    /// file's columns must match the table's.
    Upsert,
    /// Drop the table and create it anew from the file (its old rows and
    /// columns are gone).
    Replace,
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Upsert => "upsert",
            Self::Replace => "replace",
        }
    }
}

/// One export, ready to run.
pub(crate) struct Job<'a> {
    /// The input path as given, for messages.
    pub(crate) file: &'a str,
    /// The file name recorded in `flow_exports`.
    pub(crate) file_name: &'a str,
    pub(crate) sha256: &'a FileDigest,
    pub(crate) table_name: &'a str,
    pub(crate) key: &'a str,
    pub(crate) mode: Mode,
    pub(crate) rows: Rows<'a>,
    /// The database URL, password masked, for messages.
    pub(crate) database: &'a str,
    pub(crate) at: DateTime<Utc>,
}

/// Where an export's rows come from.
#[derive(Clone, Copy)]
pub(crate) enum Rows<'a> {
    /// The whole file, read and checked before the database is opened.
    Table(&'a Table),
    /// A CSV file parsed while it loads; a backend that cannot stream, or a
    /// file that does not suit the stream, declines it.
    Csv(&'a CsvStream),
}

impl Rows<'_> {
    /// The file's columns, in order.
    pub(crate) fn columns(&self) -> &[FileColumn] {
        match self {
            Self::Table(table) => table.columns(),
            Self::Csv(stream) => stream.columns(),
        }
    }
}

/// What takes the rows of a file, part after part: the whole file read
/// whole is one part; a stream hands over each batch as it is parsed.
pub(crate) trait TakeRows {
    /// Takes rows `0..height` of `cells`; `first` is the index in the file
    /// of the first of them, for messages.
    fn take(&mut self, cells: &impl Cells, height: usize, first: usize) -> Result<()>;
}

/// Hands every row of the job's file to `taker`, a stream in batches of
/// `batch_rows` rows (its hash, computed on the way, then goes to the
/// job's digest). The rows of the file, or why the stream gave way.
pub(crate) fn pass_rows(
    job: &Job<'_>,
    batch_rows: usize,
    taker: &mut impl TakeRows,
) -> Result<std::result::Result<u64, &'static str>> {
    let stream = match job.rows {
        Rows::Table(table) => {
            taker.take(table, table.height(), 0)?;
            return Ok(Ok(table.height() as u64));
        }
        Rows::Csv(stream) => stream,
    };
    let streamed = stream.load(batch_rows, |first, batch| {
        taker.take(batch, batch.rows(), first)
    })?;
    Ok(match streamed {
        Streamed::Rows { rows, sha256 } => {
            job.sha256.provide(sha256);
            Ok(rows)
        }
        Streamed::Declined(reason) => Err(reason),
    })
}

/// How an export ended.
pub(crate) enum Outcome {
    /// Committed.
    Done(Report),
    /// Rolled back before anything was committed: the streamed file needs
    /// the whole-file reader, for the reason given.
    Declined(&'static str),
}

/// What writing the rows did.
pub(crate) enum Written {
    /// `rows` rows of the file went in; `changed` of them were inserted or
    /// changed.
    Rows { rows: u64, changed: u64 },
    /// `rows` rows of the file went into an existing table, and MySQL
    /// counted `affected`: 1 for each row inserted, 2 for each updated,
    /// 0 for each already as in the file.
    Affected { rows: u64, affected: u64 },
    /// The rows were streamed and the stream gave up, for the reason given.
    Declined(&'static str),
}

/// What an export changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    /// The rows of the file.
    pub(crate) rows: u64,
    pub(crate) created: bool,
    pub(crate) inserted: u64,
    pub(crate) updated: u64,
    pub(crate) unchanged: u64,
}

/// The steps of an export on one database, inside one open transaction.
/// Errors are already worded for the user, passwords scrubbed.
pub(crate) trait Transaction {
    fn dialect(&self) -> Dialect;
    /// The columns of `table`, or `None` when there is no such table.
    fn columns(&mut self, table: &str) -> Result<Option<Vec<TableColumn>>>;
    fn count(&mut self, table: &str) -> Result<u64>;
    fn drop_table(&mut self, table: &str) -> Result<()>;
    /// Creates `table` with the file's columns, the key as primary key.
    fn create_table(&mut self, table: &str, columns: &[FileColumn], key: &str) -> Result<()>;
    /// Writes every row; `fresh` means the table was created in this
    /// transaction, so no key can clash.
    fn write_rows(&mut self, job: &Job<'_>, fresh: bool) -> Result<Written>;
    /// Adds the export of `rows` rows to [`EXPORTS_TABLE`], creating it
    /// when missing.
    fn record(&mut self, job: &Job<'_>, rows: u64) -> Result<()>;
}

/// Runs the export's steps in `tx`; the caller commits a
/// [`Outcome::Done`] and rolls a [`Outcome::Declined`] back.
pub(crate) fn apply(tx: &mut impl Transaction, job: &Job<'_>) -> Result<Outcome> {
    let dialect = tx.dialect();
    let existing = tx.columns(job.table_name)?;
    let fresh = match (&existing, job.mode) {
        (None, _) => true,
        (Some(_), Mode::Replace) => {
            tx.drop_table(job.table_name)?;
            true
        }
        (Some(columns), Mode::Upsert) => {
            if let Some(reason) = check_existing(job, columns, dialect)? {
                return Ok(Outcome::Declined(reason));
            }
            false
        }
    };
    if fresh {
        tx.create_table(job.table_name, job.rows.columns(), job.key)?;
    }
    announce(job);
    let before = if fresh { 0 } else { tx.count(job.table_name)? };
    let (rows, changed, affected) = match tx.write_rows(job, fresh)? {
        Written::Rows { rows, changed } => (rows, changed, None),
        Written::Affected { rows, affected } => (rows, affected, Some(affected)),
        Written::Declined(reason) => return Ok(Outcome::Declined(reason)),
    };
    let after = if fresh {
        changed
    } else {
        tx.count(job.table_name)?
    };
    tx.record(job, rows)?;
    let inserted = after.saturating_sub(before);
    let updated = match affected {
        Some(affected) => affected.saturating_sub(inserted) / 2,
        None => changed.saturating_sub(inserted),
    };
    Ok(Outcome::Done(Report {
        rows,
        created: fresh,
        inserted,
        updated,
        unchanged: rows.saturating_sub(inserted + updated),
    }))
}

/// Says what is about to load, before the longest step.
fn announce(job: &Job<'_>) {
    let what = match job.rows {
        Rows::Table(table) => format!("{} rows of `{}`", table.height(), job.file),
        Rows::Csv(_) => format!("`{}`, read as it loads,", job.file),
    };
    eprintln!(
        "db-export: loading {what} into table `{}` of {}",
        job.table_name, job.database
    );
}

/// Adds the fix to `error` when the database said, in `driver_text`, that
/// the upsert has no unique index to match: a table made by hand whose key
/// column is not unique.
pub(crate) fn explain_missing_unique_key(
    error: TableError,
    driver_text: &str,
    job: &Job<'_>,
) -> TableError {
    if !driver_text.contains("ON CONFLICT") {
        return error;
    }
    error.with_hint(missing_unique_key_hint(job, Dialect::Postgres))
}

/// How to give a table made by hand the unique key an upsert matches by.
pub(crate) fn missing_unique_key_hint(job: &Job<'_>, dialect: Dialect) -> String {
    let (key, table) = (job.key, job.table_name);
    let index = match dialect {
        Dialect::Mysql => format!(
            "ALTER TABLE `{table}` ADD UNIQUE (`{key}`); a TEXT column must first become VARCHAR: ALTER TABLE `{table}` MODIFY `{key}` VARCHAR(255) NOT NULL"
        ),
        Dialect::Sqlite | Dialect::Postgres => {
            format!("`CREATE UNIQUE INDEX ON \"{table}\" (\"{key}\")`")
        }
    };
    format!(
        "column `{key}` of table `{table}` is not unique there, so rows cannot be matched by it: add a unique index ({index}), or export with `--mode replace`"
    )
}

/// Checks the table's columns against the file's: an error for a file
/// read whole; for a stream, a reason to decline, since only the whole file
/// tells which columns are empty throughout, which the check forgives.
fn check_existing(
    job: &Job<'_>,
    columns: &[TableColumn],
    dialect: Dialect,
) -> Result<Option<&'static str>> {
    match (check_columns(job, columns, dialect), job.rows) {
        (Ok(()), _) => Ok(None),
        (Err(_), Rows::Csv(_)) => Ok(Some("the table's columns need a closer check")),
        (Err(error), Rows::Table(_)) => Err(error),
    }
}

fn check_columns(job: &Job<'_>, columns: &[TableColumn], dialect: Dialect) -> Result<()> {
    let Some(diff) = SchemaDiff::between(job.rows.columns(), columns, dialect) else {
        return Ok(());
    };
    let mut hint = "to load it as it is, export with `--mode replace`: the table is dropped and created from the file, and its rows are lost".to_string();
    let statements = diff.alter_statements(job.table_name, dialect);
    if diff.mistyped.is_empty() && !statements.is_empty() {
        hint.push_str(&format!(
            "; to keep the rows, change the table first: {}",
            statements.join("; ")
        ));
    } else if !diff.mistyped.is_empty() {
        hint.push_str("; or fix the file so that each column holds values of the table's type");
    }
    Err(TableError::invalid_data(format!(
        "`{}` does not fit table `{}` of {}: {}",
        job.file,
        job.table_name,
        job.database,
        diff.describe(dialect)
    ))
    .with_hint(hint))
}
