//! PostgreSQL: one transaction; rows go in through `COPY ... FROM STDIN`,
//! straight into a table created in the same transaction, or into a
//! temporary table that one `INSERT ... SELECT ... ON CONFLICT DO UPDATE`
//! merges into an existing one. A CSV file is copied in batches as it is
//! parsed ([`CsvStream`](crate::csv_stream::CsvStream)), other files once
//! read whole.
//!
//! Owns the connection and every PostgreSQL statement. Every message it
//! makes from a driver error goes through [`scrub`], so no password leaks.

use std::io::Write;
use std::time::Duration;

use postgres::Config;
use postgres::config::{Host, SslMode as PgSslMode};
use postgres::error::SqlState;
use table_io::{Result, TableError};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::copy_binary;
use crate::export::{self, EXPORTS_TABLE, Job, Outcome, TakeRows, Transaction, Written};
use crate::schema::{Dialect, FileColumn, TableColumn, quote};
use crate::sql;
use crate::table::{Cell, Cells, utc};
use crate::target::{chain, refused_rows, scrub, statement_failure};
use crate::tls::{self, SslMode, Tls};
use table_io::timestamp;

/// How long to try to reach the server when the URL sets no
/// `connect_timeout`: a firewall that drops packets would otherwise hang
/// the export for minutes.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much COPY text is gathered before it is sent.
const COPY_CHUNK: usize = 1 << 20;
/// Rows in each batch a streamed file is parsed in: about a chunk of
/// COPY data in the usual files, and flat memory.
const COPY_BATCH_ROWS: usize = 8_192;
/// The temporary table an upsert stages rows in; dropped at commit.
const STAGE: &str = "flow_export_stage";
/// COPY's text form of a timestamp with time zone, in UTC.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f+00";

/// Where and how to connect, and what to keep out of messages.
pub(crate) struct Server<'a> {
    pub(crate) config: &'a Config,
    /// The URL with its password masked.
    pub(crate) shown: &'a str,
    pub(crate) secrets: &'a [String],
    pub(crate) tls: &'a Tls,
}

/// Exports `job` into the server's database.
pub(crate) fn export(server: &Server<'_>, job: &Job<'_>) -> Result<Outcome> {
    let mut config = server.config.clone();
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config.application_name("db-export");
    config.ssl_mode(match server.tls.mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    });
    let connector = MakeRustlsConnect::new(server.tls.client_config()?);
    let mut client = config
        .connect(connector)
        .map_err(|error| connect_failure(server, &error))?;
    let tx = client
        .transaction()
        .map_err(|error| failure(server, "cannot start a transaction on", &error))?;
    let mut session = Postgres { tx, server };
    let outcome = export::apply(&mut session, job)?;
    if let Outcome::Done(_) = outcome {
        session
            .tx
            .commit()
            .map_err(|error| failure(server, "cannot commit the export to", &error))?;
    }
    // A declined export drops the transaction uncommitted: rolled back.
    Ok(outcome)
}

fn connect_failure(server: &Server<'_>, error: &postgres::Error) -> TableError {
    let shown = server.shown;
    let cause = scrub(&chain(error), server.secrets);
    let user = server.config.get_user().unwrap_or("(none)");
    let host = match server.config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        _ => String::new(),
    };
    if let Some(failed) = tls::handshake_failure(error, "PostgreSQL", shown, &host, server.tls) {
        return failed.caused_by(cause);
    }
    if cause.contains("server does not support TLS") {
        return tls::not_offered("PostgreSQL", shown, server.tls);
    }
    // pg_hba.conf has `hostssl` lines only for this login: the server
    // says "no encryption" (PostgreSQL 14+) or "SSL off" (before).
    if server.tls.mode == SslMode::Disable
        && error.code() == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
        && (cause.contains("no encryption") || cause.contains("SSL off"))
    {
        return tls::tls_only("PostgreSQL", shown).caused_by(cause);
    }
    match error.code() {
        Some(code) if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
            TableError::database(format!("the PostgreSQL server at {shown} refused the login of user `{user}`"))
                .caused_by(cause)
                .with_hint("check the user and password in the URL; pass it through the FLOW_DB variable to keep it out of shell history and process lists")
        }
        Some(code) if *code == SqlState::INVALID_CATALOG_NAME => {
            TableError::database(format!("the PostgreSQL server at {shown} has no such database"))
                .caused_by(cause)
                .with_hint("create it (`createdb NAME`) or name an existing one at the end of the URL")
        }
        Some(_) => TableError::database(format!("the PostgreSQL server at {shown} refused the connection"))
            .caused_by(cause),
        None => TableError::database(format!("cannot connect to the PostgreSQL server at {shown}"))
            .caused_by(cause)
            .with_hint("check that the server runs and that host and port in the URL are right (`pg_isready -h HOST -p PORT` tells)"),
    }
}

/// A failure of a statement: rows the database refused exit 3, anything
/// else 5.
fn failure(server: &Server<'_>, doing: &str, error: &postgres::Error) -> TableError {
    let mut cause = chain(error);
    if let Some(place) = error.as_db_error().and_then(|db| db.where_()) {
        cause.push_str(&format!(" ({place})"));
    }
    let cause = scrub(&cause, server.secrets);
    let refused = error.code().is_some_and(|code| refused_rows(code.code()));
    statement_failure(doing, server.shown, refused, cause)
}

/// An open transaction on the server.
struct Postgres<'a, 's> {
    tx: postgres::Transaction<'a>,
    server: &'s Server<'s>,
}

impl Postgres<'_, '_> {
    fn fail(&self, doing: &str) -> impl Fn(postgres::Error) -> TableError + '_ {
        let doing = doing.to_string();
        move |error| failure(self.server, &doing, &error)
    }

    /// Copies every row of the file into `into`: in the binary format
    /// when `binary` (every column of `into` has the type db-export gives
    /// the file's column), else as text, which the server converts to any
    /// type. The rows of the file, or why the stream gave way.
    fn copy(
        &mut self,
        job: &Job<'_>,
        into: &str,
        binary: bool,
    ) -> Result<std::result::Result<u64, &'static str>> {
        let columns = job.rows.columns();
        let doing = format!("cannot copy the rows of `{}` into", job.file);
        let server = self.server;
        let format = if binary { " (FORMAT binary)" } else { "" };
        let writer = self
            .tx
            .copy_in(&format!(
                "COPY {into} ({}) FROM STDIN{format}",
                sql::column_list(columns)
            ))
            .map_err(|error| failure(server, &doing, &error))?;
        let mut copying = Copying {
            writer,
            buffer: Vec::with_capacity(COPY_CHUNK + 4096),
            width: columns.len(),
            binary,
            server,
            doing: &doing,
        };
        if binary {
            copying.buffer.extend_from_slice(copy_binary::HEADER);
        }
        let passed = export::pass_rows(job, COPY_BATCH_ROWS, &mut copying)?;
        if passed.is_err() {
            // Dropped unfinished: the server aborts the COPY, and the
            // transaction is rolled back.
            return Ok(passed);
        }
        if binary {
            copying.buffer.extend_from_slice(copy_binary::TRAILER);
        }
        copying.send()?;
        copying
            .writer
            .finish()
            .map_err(|error| failure(server, &doing, &error))?;
        Ok(passed)
    }

    /// Whether every column of `table` has exactly the type db-export
    /// would create for the file's column of that name, so that binary
    /// values fit it.
    fn takes_binary(&mut self, job: &Job<'_>, table: &str) -> Result<bool> {
        let Some(existing) = self.columns(table)? else {
            return Ok(false);
        };
        Ok(job.rows.columns().iter().all(|column| {
            existing
                .iter()
                .any(|e| e.name == column.name && e.declared == column.sql.name(Dialect::Postgres))
        }))
    }
}

/// One COPY under way: rows are encoded into the buffer and sent in
/// chunks of about [`COPY_CHUNK`].
struct Copying<'w, 's> {
    writer: postgres::CopyInWriter<'w>,
    buffer: Vec<u8>,
    width: usize,
    binary: bool,
    server: &'s Server<'s>,
    doing: &'s str,
}

impl Copying<'_, '_> {
    fn send(&mut self) -> Result<()> {
        self.writer.write_all(&self.buffer).map_err(|error| {
            TableError::database(format!("{} {}", self.doing, self.server.shown))
                .caused_by(scrub(&chain(&error), self.server.secrets))
        })?;
        self.buffer.clear();
        Ok(())
    }
}

impl TakeRows for Copying<'_, '_> {
    fn take(&mut self, cells: &impl Cells, height: usize, _first: usize) -> Result<()> {
        for row in 0..height {
            if self.binary {
                copy_binary::write_row(&mut self.buffer, cells, self.width, row);
            } else {
                write_text_row(&mut self.buffer, cells, self.width, row);
            }
            if self.buffer.len() >= COPY_CHUNK {
                self.send()?;
            }
        }
        Ok(())
    }
}

/// Appends row `row` of `cells`, `width` columns, as a line of COPY text.
fn write_text_row(buffer: &mut Vec<u8>, cells: &impl Cells, width: usize, row: usize) {
    for column in 0..width {
        if column > 0 {
            buffer.push(b'\t');
        }
        write_cell(buffer, cells.cell(row, column));
    }
    buffer.push(b'\n');
}

impl Transaction for Postgres<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn columns(&mut self, table: &str) -> Result<Option<Vec<TableColumn>>> {
        let rows = self
            .tx
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1
                 ORDER BY ordinal_position",
                &[&table],
            )
            .map_err(self.fail(&format!("cannot read the columns of table `{table}` on")))?;
        let columns: Vec<TableColumn> = rows
            .iter()
            .map(|row| TableColumn {
                name: row.get(0),
                declared: row.get(1),
            })
            .collect();
        Ok((!columns.is_empty()).then_some(columns))
    }

    fn count(&mut self, table: &str) -> Result<u64> {
        self.tx
            .query_one(&format!("SELECT count(*) FROM {}", quote(table)), &[])
            .map(|row| row.get::<_, i64>(0).unsigned_abs())
            .map_err(self.fail(&format!("cannot count the rows of table `{table}` on")))
    }

    fn drop_table(&mut self, table: &str) -> Result<()> {
        self.tx
            .batch_execute(&format!("DROP TABLE {}", quote(table)))
            .map_err(self.fail(&format!("cannot drop table `{table}` on")))
    }

    fn create_table(&mut self, table: &str, columns: &[FileColumn], key: &str) -> Result<()> {
        self.tx
            .batch_execute(&sql::create_table(table, columns, key, Dialect::Postgres))
            .map_err(self.fail(&format!("cannot create table `{table}` on")))
    }

    fn write_rows(&mut self, job: &Job<'_>, fresh: bool) -> Result<Written> {
        let table = quote(job.table_name);
        if fresh {
            return Ok(match self.copy(job, &table, true)? {
                Ok(rows) => Written::Rows {
                    rows,
                    changed: rows,
                },
                Err(reason) => Written::Declined(reason),
            });
        }
        self.tx
            .batch_execute(&format!(
                "CREATE TEMPORARY TABLE {STAGE} (LIKE {table}) ON COMMIT DROP"
            ))
            .map_err(self.fail("cannot create the staging table on"))?;
        let binary = self.takes_binary(job, job.table_name)?;
        let rows = match self.copy(job, STAGE, binary)? {
            Ok(rows) => rows,
            Err(reason) => return Ok(Written::Declined(reason)),
        };
        let columns = job.rows.columns();
        let list = sql::column_list(columns);
        let on_conflict = sql::on_conflict(job.table_name, columns, job.key, Dialect::Postgres);
        let changed = self
            .tx
            .execute(
                &format!("INSERT INTO {table} ({list}) SELECT {list} FROM {STAGE} {on_conflict}"),
                &[],
            )
            .map_err(|error| {
                let doing = format!(
                    "cannot upsert the rows of `{}` into table `{}` on",
                    job.file, job.table_name
                );
                let failed = failure(self.server, &doing, &error);
                export::explain_missing_unique_key(failed, &chain(&error), job)
            })?;
        Ok(Written::Rows { rows, changed })
    }

    fn record(&mut self, job: &Job<'_>, rows: u64) -> Result<()> {
        let doing = format!("cannot record the export in table `{EXPORTS_TABLE}` on");
        self.tx
            .batch_execute(&sql::create_exports_table(Dialect::Postgres))
            .map_err(self.fail(&doing))?;
        let sha256 = job.sha256.hex()?;
        let at = job.at.format(TIMESTAMP_FORMAT).to_string();
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        self.tx
            .execute(
                &sql::insert_export(Dialect::Postgres),
                &[
                    &job.file_name,
                    &sha256,
                    &rows,
                    &at,
                    &job.table_name,
                    &job.mode.as_str(),
                ],
            )
            .map(drop)
            .map_err(self.fail(&doing))
    }
}

/// Appends `cell` in COPY's text format: `\N` for null, backslash escapes
/// for the characters that delimit fields and rows.
fn write_cell(buffer: &mut Vec<u8>, cell: Cell<'_>) {
    match cell {
        Cell::Null => buffer.extend_from_slice(b"\\N"),
        Cell::Text(text) => {
            for byte in text.bytes() {
                match byte {
                    b'\\' => buffer.extend_from_slice(b"\\\\"),
                    b'\t' => buffer.extend_from_slice(b"\\t"),
                    b'\n' => buffer.extend_from_slice(b"\\n"),
                    b'\r' => buffer.extend_from_slice(b"\\r"),
                    other => buffer.push(other),
                }
            }
        }
        Cell::Float(x) => {
            if x.is_nan() {
                buffer.extend_from_slice(b"NaN");
            } else if x.is_infinite() {
                buffer.extend_from_slice(if x > 0.0 { b"Infinity" } else { b"-Infinity" });
            } else {
                // ryu writes the shortest text that reads back as the same
                // f64, so a repeated export compares equal; and without
                // going through fmt.
                buffer.extend_from_slice(ryu::Buffer::new().format_finite(x).as_bytes());
            }
        }
        Cell::Integer(i) => buffer.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        Cell::Boolean(b) => buffer.push(if b { b't' } else { b'f' }),
        Cell::Timestamp(micros) => write_timestamp(buffer, micros),
    }
}

/// A timestamp in UTC, as COPY reads `timestamp with time zone`.
fn write_timestamp(buffer: &mut Vec<u8>, micros: i64) {
    let mut text = [0; timestamp::MAX_LEN];
    if let Some(text) = timestamp::write(&mut text, micros, b' ', b"+00") {
        buffer.extend_from_slice(text.as_bytes());
        return;
    }
    match utc(micros) {
        Some(at) => {
            let _ = write!(buffer, "{}", at.format(TIMESTAMP_FORMAT));
        }
        None => buffer.extend_from_slice(b"\\N"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_text(cells: &[Cell<'_>]) -> String {
        let mut buffer = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                buffer.push(b'\t');
            }
            write_cell(&mut buffer, *cell);
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }

    #[test]
    fn writes_copy_text_with_escapes_and_nulls() {
        assert_eq!(
            copy_text(&[Cell::Text("a\tb\\c\nd"), Cell::Null, Cell::Boolean(true)]),
            "a\\tb\\\\c\\nd\t\\N\tt"
        );
    }

    #[test]
    fn writes_numbers_that_read_back_exactly() {
        assert_eq!(
            copy_text(&[
                Cell::Float(0.1),
                Cell::Float(1e-7),
                Cell::Float(f64::NEG_INFINITY),
                Cell::Integer(-3)
            ]),
            "0.1\t1e-7\t-Infinity\t-3"
        );
    }

    #[test]
    fn writes_timestamps_in_utc() {
        assert_eq!(
            copy_text(&[Cell::Timestamp(1_795_852_800_000_001)]),
            "2026-11-28 08:00:00.000001+00"
        );
    }
}
