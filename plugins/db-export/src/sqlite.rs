//! SQLite: the embedded default. One `BEGIN IMMEDIATE` transaction, rows
//! upserted through a prepared multi-row `INSERT ... ON CONFLICT DO UPDATE`.
//!
//! Owns the SQLite file (opening, the read-only check, removing a file it
//! created for an export that failed) and every SQLite statement.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::Null;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use table_io::{Result, TableError};

use crate::csv_stream::{CsvStream, Streamed};
use crate::export::{self, EXPORTS_TABLE, Job, Outcome, Rows, Transaction, Written};
use crate::schema::{Dialect, FileColumn, TableColumn, quote};
use crate::sql;
use crate::table::{Cell, Cells, Table, utc};
use table_io::timestamp;

/// How long to wait for another writer (another export) to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound parameters per statement; SQLite allows 32766 since 3.32.
const MAX_PARAMETERS: usize = 30_000;
/// Rows per statement, so that a one-column table does not compile one
/// huge statement; 6,000 rows of five columns measured a little faster
/// than 256.
const MAX_BATCH_ROWS: usize = 8_192;
/// The page size of a database file db-export creates (SQLite's default
/// is 4 KiB).
const PAGE_SIZE: i64 = 16_384;
/// How SQLite stores a timestamp: ISO 8601 in UTC, which sorts in time
/// order and which SQLite's date functions read.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// Exports `job` into the SQLite file at `path`, creating it if missing.
pub(crate) fn export(path: &Path, job: &Job<'_>) -> Result<Outcome> {
    let existed = path.exists();
    let outcome = export_into(path, job);
    if !matches!(outcome, Ok(Outcome::Done(_))) && !existed {
        // The file was made by this export, which failed or gave way, and
        // holds nothing: leave the folder as it was.
        let _ = std::fs::remove_file(path);
    }
    outcome
}

fn export_into(path: &Path, job: &Job<'_>) -> Result<Outcome> {
    check_writable(path)?;
    // NO_MUTEX: one thread uses the connection, and SQLite's serialized
    // mode would take a mutex around every bind and step (a tenth of a
    // load's time in the profile).
    let mut connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|error| failure(path, "cannot open", &error))?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(|error| failure(path, "cannot open", &error))?;
    // Only a database without tables takes a new page size: files
    // db-export creates get 16 KiB pages, which cut the time of a large
    // load by a fifth (fewer B-tree splits and writes); existing files
    // keep theirs.
    connection
        .pragma_update(None, "page_size", PAGE_SIZE)
        .map_err(|error| failure(path, "cannot open", &error))?;
    // IMMEDIATE takes the write lock now, so two exports queue instead of
    // failing halfway when both try to write.
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|error| failure(path, "cannot start a transaction in", &error))?;
    let mut session = Sqlite { tx: &tx, path };
    let outcome = export::apply(&mut session, job)?;
    if let Outcome::Done(_) = outcome {
        tx.commit()
            .map_err(|error| failure(path, "cannot commit the export to", &error))?;
    }
    // A declined export drops `tx` uncommitted, which rolls it back.
    Ok(outcome)
}

/// SQLite run by root writes to a file without write permission; a file
/// made read-only is meant to stay as it is, whoever runs the export.
fn check_writable(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.permissions().readonly() => Err(TableError::io_message(format!(
            "the database file `{}` is read-only",
            path.display()
        ))
        .with_hint(format!(
            "make it writable (`chmod u+w {}`) or export to another file with `--db sqlite://PATH`",
            path.display()
        ))),
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let folder = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            if folder.is_dir() {
                Ok(())
            } else {
                Err(TableError::io_message(format!(
                    "cannot create the database file `{}`: its folder `{}` does not exist",
                    path.display(),
                    folder.display()
                ))
                .with_hint(
                    "create the folder first, or give another path with `--db sqlite://PATH`",
                ))
            }
        }
        Err(error) => Err(TableError::io(
            "cannot open the database file",
            path,
            &error,
        )),
    }
}

/// A failure of SQLite on `path`: file problems exit 4, refused rows 3,
/// anything else 5.
fn failure(path: &Path, doing: &str, error: &rusqlite::Error) -> TableError {
    let file = path.display();
    let code = error.sqlite_error_code();
    match code {
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            TableError::io_message(format!("{doing} the database file `{file}`"))
                .caused_by(error)
                .with_hint("check that the file and its folder are writable by this user")
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            TableError::database(format!("{doing} `{file}`: another process holds it locked"))
                .caused_by(error)
                .with_hint(format!(
                    "wait for the other export to end and run again; it waited {} s",
                    BUSY_TIMEOUT.as_secs()
                ))
        }
        Some(ErrorCode::NotADatabase) => {
            TableError::database(format!("`{file}` is not an SQLite database"))
                .caused_by(error)
                .with_hint("name another file with `--db sqlite://PATH`")
        }
        Some(ErrorCode::ConstraintViolation) => {
            TableError::invalid_data(format!("{doing} `{file}`: the database refused a row"))
                .caused_by(error)
                .with_hint(
                    "fix the rows the constraint names, or drop the constraint from the table",
                )
        }
        _ => TableError::database(format!("{doing} `{file}`")).caused_by(error),
    }
}

/// An open transaction on one SQLite file.
struct Sqlite<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    path: &'a Path,
}

impl Sqlite<'_> {
    fn fail(&self, doing: &str) -> impl Fn(rusqlite::Error) -> TableError + '_ {
        let doing = doing.to_string();
        move |error| failure(self.path, &doing, &error)
    }

    fn write_table(
        &self,
        job: &Job<'_>,
        table: &Table,
        batch: usize,
        fresh: bool,
    ) -> Result<Written> {
        let height = table.height();
        let mut changed = 0;
        let mut start = 0;
        while start < height {
            let end = (start + batch).min(height);
            changed += self.insert(job, fresh, table, start..end, start)?;
            start = end;
        }
        Ok(Written::Rows {
            rows: height as u64,
            changed,
        })
    }

    fn write_stream(
        &self,
        job: &Job<'_>,
        stream: &CsvStream,
        batch: usize,
        fresh: bool,
    ) -> Result<Written> {
        let mut changed = 0;
        let streamed = stream.load(batch, |first, rows| {
            changed += self.insert(job, fresh, rows, 0..rows.rows(), first)?;
            Ok(())
        })?;
        Ok(match streamed {
            Streamed::Rows { rows, sha256 } => {
                job.sha256.provide(sha256);
                Written::Rows { rows, changed }
            }
            Streamed::Declined(reason) => Written::Declined(reason),
        })
    }

    /// Inserts `range` of `cells` in one statement; `first` is the index
    /// in the file of the range's first row, for messages. Returns the rows
    /// inserted or changed.
    fn insert(
        &self,
        job: &Job<'_>,
        fresh: bool,
        cells: &impl Cells,
        range: std::ops::Range<usize>,
        first: usize,
    ) -> Result<u64> {
        let count = range.len();
        let sql = Self::insert_sql(job, count, fresh);
        // Cached: every full batch reuses one prepared statement.
        let mut statement = self.tx.prepare_cached(&sql).map_err(|error| {
            let failed = failure(self.path, "cannot prepare the insert into", &error);
            export::explain_missing_unique_key(failed, &error.to_string(), job)
        })?;
        bind_rows(&mut statement, cells, job.rows.columns().len(), range)
            .map_err(|error| failure(self.path, "cannot bind the values of a row for", &error))?;
        let changed = statement.raw_execute().map_err(|error| {
            failure(
                self.path,
                &format!(
                    "cannot write rows {}-{} of `{}` into",
                    first + 2,
                    first + count + 1,
                    job.file
                ),
                &error,
            )
        })?;
        Ok(changed as u64)
    }

    /// The multi-row statement for `rows` rows.
    fn insert_sql(job: &Job<'_>, rows: usize, fresh: bool) -> String {
        let columns = job.rows.columns();
        let one_row = format!("({})", vec!["?"; columns.len()].join(","));
        let values = vec![one_row.as_str(); rows].join(",");
        let mut text = format!(
            "INSERT INTO {} ({}) VALUES {values}",
            quote(job.table_name),
            sql::column_list(columns)
        );
        if !fresh {
            text.push(' ');
            text.push_str(&sql::on_conflict(
                job.table_name,
                columns,
                job.key,
                Dialect::Sqlite,
            ));
        }
        text
    }
}

impl Transaction for Sqlite<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn columns(&mut self, table: &str) -> Result<Option<Vec<TableColumn>>> {
        let doing = format!("cannot read the columns of table `{table}` in");
        let mut statement = self
            .tx
            .prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")
            .map_err(self.fail(&doing))?;
        let columns = statement
            .query_map([table], |row| {
                Ok(TableColumn {
                    name: row.get(0)?,
                    declared: row.get(1)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.fail(&doing))?;
        Ok((!columns.is_empty()).then_some(columns))
    }

    fn count(&mut self, table: &str) -> Result<u64> {
        self.tx
            .query_row(
                &format!("SELECT count(*) FROM {}", quote(table)),
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n.unsigned_abs())
            .map_err(self.fail(&format!("cannot count the rows of table `{table}` in")))
    }

    fn drop_table(&mut self, table: &str) -> Result<()> {
        self.tx
            .execute_batch(&format!("DROP TABLE {}", quote(table)))
            .map_err(self.fail(&format!("cannot drop table `{table}` in")))
    }

    fn create_table(&mut self, table: &str, columns: &[FileColumn], key: &str) -> Result<()> {
        self.tx
            .execute_batch(&sql::create_table(table, columns, key, Dialect::Sqlite))
            .map_err(self.fail(&format!("cannot create table `{table}` in")))
    }

    fn write_rows(&mut self, job: &Job<'_>, fresh: bool) -> Result<Written> {
        let width = job.rows.columns().len().max(1);
        let batch = (MAX_PARAMETERS / width).clamp(1, MAX_BATCH_ROWS);
        match job.rows {
            Rows::Table(table) => self.write_table(job, table, batch, fresh),
            Rows::Csv(stream) => self.write_stream(job, stream, batch, fresh),
        }
    }

    fn record(&mut self, job: &Job<'_>, rows: u64) -> Result<()> {
        let sha256 = job.sha256.hex()?;
        let doing = format!("cannot record the export in table `{EXPORTS_TABLE}` of");
        self.tx
            .execute_batch(&sql::create_exports_table(Dialect::Sqlite))
            .map_err(self.fail(&doing))?;
        self.tx
            .execute(
                &sql::insert_export(Dialect::Sqlite),
                (
                    job.file_name,
                    sha256,
                    i64::try_from(rows).unwrap_or(i64::MAX),
                    job.at.format(TIMESTAMP_FORMAT).to_string(),
                    job.table_name,
                    job.mode.as_str(),
                ),
            )
            .map(drop)
            .map_err(self.fail(&doing))
    }
}

/// Binds the cells of `rows` to the statement's parameters, row by row.
/// Binding each value by position skips rusqlite's per-call parameter
/// checks and the boxing of generic parameters.
fn bind_rows(
    statement: &mut rusqlite::CachedStatement<'_>,
    cells: &impl Cells,
    width: usize,
    rows: std::ops::Range<usize>,
) -> rusqlite::Result<()> {
    let mut times = TimestampText::default();
    let mut index = 1;
    for row in rows {
        for column in 0..width {
            bind(statement, index, cells.cell(row, column), &mut times)?;
            index += 1;
        }
    }
    Ok(())
}

/// Binds one cell; a timestamp becomes ISO 8601 text in UTC (SQLite copies
/// it).
fn bind(
    statement: &mut rusqlite::Statement<'_>,
    index: usize,
    cell: Cell<'_>,
    times: &mut TimestampText,
) -> rusqlite::Result<()> {
    match cell {
        Cell::Null => statement.raw_bind_parameter(index, Null),
        Cell::Text(text) => statement.raw_bind_parameter(index, text),
        Cell::Float(x) => statement.raw_bind_parameter(index, x),
        Cell::Integer(i) => statement.raw_bind_parameter(index, i),
        Cell::Boolean(b) => statement.raw_bind_parameter(index, i64::from(b)),
        Cell::Timestamp(micros) => match times.of(micros) {
            Some(text) => statement.raw_bind_parameter(index, text),
            None => statement.raw_bind_parameter(index, micros),
        },
    }
}

/// The text of the last timestamp written: a merged file's `time_started`
/// holds one or two instants, mostly the same from one row to the next, so
/// most rows reuse the text instead of writing it again.
#[derive(Default)]
struct TimestampText {
    micros: Option<i64>,
    text: String,
}

impl TimestampText {
    /// `micros` as ISO 8601 text in UTC, or `None` beyond the years chrono
    /// represents.
    fn of(&mut self, micros: i64) -> Option<&str> {
        if self.micros != Some(micros) {
            self.micros = None;
            self.text.clear();
            let mut buffer = [0; timestamp::MAX_LEN];
            match timestamp::write(&mut buffer, micros, b'T', b"Z") {
                Some(text) => self.text.push_str(text),
                None => self
                    .text
                    .push_str(&utc(micros)?.format(TIMESTAMP_FORMAT).to_string()),
            }
            self.micros = Some(micros);
        }
        Some(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_text_follows_each_change_of_instant() {
        let mut times = TimestampText::default();
        assert_eq!(times.of(1), Some("1970-01-01T00:00:00.000001Z"));
        assert_eq!(times.of(1), Some("1970-01-01T00:00:00.000001Z"));
        assert_eq!(times.of(-1), Some("1969-12-31T23:59:59.999999Z"));
        // Year 10000: past the fast writer, written by chrono.
        assert_eq!(
            times.of(253_402_300_800_000_000),
            Some("+10000-01-01T00:00:00.000000Z")
        );
        assert_eq!(times.of(i64::MAX), None);
        assert_eq!(times.of(1), Some("1970-01-01T00:00:00.000001Z"));
    }
}
