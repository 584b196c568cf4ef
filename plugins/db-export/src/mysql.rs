//! MySQL 8 and MariaDB 10.11+ (InnoDB): rows go in through prepared
//! multi-row `INSERT`s in one transaction, with `ON DUPLICATE KEY UPDATE`
//! into an existing table; a CSV file is sent in batches as it is parsed
//! ([`CsvStream`](crate::csv_stream::CsvStream)), other files once read
//! whole.
//!
//! MySQL commits any open transaction at a `CREATE`, `DROP` or `RENAME`
//! and cannot roll those back. So every statement that changes a table's
//! shape runs before the transaction: a new or replaced table is created
//! under a name of its own ([`staging_name`]), filled and recorded in
//! `flow_exports` in the one transaction, and put in place with one
//! atomic `RENAME TABLE` after the commit. A failure before the commit
//! leaves the table and `flow_exports` as they were.
//!
//! Owns the connection and every MySQL statement. Every message it makes
//! from a driver error goes through [`scrub`], so no password leaks.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{Datelike, Timelike};
use mysql::prelude::Queryable;
use mysql::{Conn, DriverError, Opts, OptsBuilder, Params, Value};
use table_io::{Result, TableError};

use crate::export::{self, EXPORTS_TABLE, Job, Outcome, TakeRows, Transaction, Written};
use crate::schema::{Dialect, FileColumn, TableColumn};
use crate::sql;
use crate::table::{Cell, Cells, utc};
use crate::target::{chain, refused_rows, scrub, statement_failure};
use crate::tls::{self, SslMode, Tls};

/// How long to try to reach the server when the URL sets no
/// `connect_timeout`, as for PostgreSQL.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows per `INSERT`: 1,000-row prepared batches loaded 1M rows faster
/// than `LOAD DATA LOCAL` through the crate (docs/db-export.md, "Speed";
/// `examples/mysql_bulk` measures both), and keep each statement far below
/// `max_allowed_packet`.
const MAX_BATCH_ROWS: usize = 1_000;
/// Statements' worth of rows in each batch a streamed file is parsed in:
/// few enough to keep memory flat, enough that handing batches between
/// threads costs nothing next to sending them.
const STATEMENTS_PER_BATCH: usize = 8;
/// The protocol's limit of placeholders in one statement.
const MAX_PARAMETERS: usize = 65_535;
/// A batch is sent early once its values reach this size, so rows of long
/// texts stay below the server's `max_allowed_packet` (16 MiB by default
/// on MariaDB).
const MAX_BATCH_BYTES: usize = 4 << 20;
/// Strict: a value that does not fit its column is an error, not a
/// silently cut or zeroed value. Names both MySQL 8 and MariaDB know.
const SQL_MODE: &str = "STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION";
/// Binary collations that do not pad, in order of preference (MariaDB's,
/// then MySQL 8's): keys `A` and `a`, or `A` and `A `, are two keys, as
/// they are in the file. `utf8mb4_bin` is the fallback every server has.
const COLLATIONS: [&str; 2] = ["utf8mb4_nopad_bin", "utf8mb4_0900_bin"];

/// Where and how to connect, and what to keep out of messages.
pub(crate) struct Server<'a> {
    pub(crate) opts: &'a Opts,
    pub(crate) connect_timeout: Option<Duration>,
    /// The URL with its password masked.
    pub(crate) shown: &'a str,
    pub(crate) secrets: &'a [String],
    pub(crate) tls: &'a Tls,
}

/// Exports `job` into the server's database.
pub(crate) fn export(server: &Server<'_>, job: &Job<'_>) -> Result<Outcome> {
    let mut conn = connect(server)?;
    let fail = |doing: &str, error: &mysql::Error| failure(server, doing, error);
    conn.query_drop(format!(
        "SET time_zone = '+00:00', SESSION sql_mode = '{SQL_MODE}'"
    ))
    .map_err(|error| fail("cannot set up the session on", &error))?;
    let collation =
        collation(&mut conn).map_err(|error| fail("cannot read the collations of", &error))?;
    // Before the transaction: a CREATE inside it would commit it.
    conn.query_drop(format!(
        "{} ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={collation}",
        sql::create_exports_table(Dialect::Mysql)
    ))
    .map_err(|error| fail(&format!("cannot create table `{EXPORTS_TABLE}` on"), &error))?;
    let mut session = Mysql {
        conn,
        server,
        collation,
        staged: None,
        replacing: false,
        in_transaction: false,
        statements: HashMap::new(),
    };
    match export::apply(&mut session, job) {
        Ok(Outcome::Done(report)) => {
            session.finish(job)?;
            Ok(Outcome::Done(report))
        }
        other => {
            session.abandon();
            other
        }
    }
}

/// Connects with the URL's TLS; `sslmode=prefer` falls back to plain TCP
/// when the server offers no TLS, as libpq does.
fn connect(server: &Server<'_>) -> Result<Conn> {
    let timeout = server.connect_timeout.unwrap_or(CONNECT_TIMEOUT);
    let builder = OptsBuilder::from_opts(server.opts.clone())
        .tcp_connect_timeout(Some(timeout))
        // No statement cache of the driver's own beyond what a load uses;
        // db-export keeps its batch statements itself.
        .ssl_opts(server.tls.mysql_opts()?);
    match Conn::new(builder.clone()) {
        Ok(conn) => Ok(conn),
        Err(mysql::Error::DriverError(DriverError::TlsNotSupported))
            if server.tls.mode == SslMode::Prefer =>
        {
            Conn::new(builder.ssl_opts(None)).map_err(|error| connect_failure(server, &error))
        }
        Err(error) => Err(connect_failure(server, &error)),
    }
}

/// The collation new tables get.
fn collation(conn: &mut Conn) -> mysql::Result<&'static str> {
    let names: Vec<String> = conn.query(format!(
        "SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN ('{}')",
        COLLATIONS.join("', '")
    ))?;
    Ok(COLLATIONS
        .into_iter()
        .find(|c| names.iter().any(|n| n == c))
        .unwrap_or("utf8mb4_bin"))
}

fn connect_failure(server: &Server<'_>, error: &mysql::Error) -> TableError {
    let shown = server.shown;
    let cause = scrub(&chain(error), server.secrets);
    let host = server.opts.get_ip_or_hostname();
    // The driver's error gives no source; the handshake's lies within.
    let inner: &(dyn std::error::Error + 'static) = match error {
        mysql::Error::CodecError(codec) => codec,
        mysql::Error::IoError(io) => io,
        other => other,
    };
    if let Some(failed) = tls::handshake_failure(inner, "MySQL", shown, &host, server.tls) {
        return failed.caused_by(cause);
    }
    let user = server.opts.get_user().unwrap_or("(none)");
    match error {
        mysql::Error::DriverError(DriverError::TlsNotSupported) => {
            tls::not_offered("MySQL", shown, server.tls)
        }
        // ER_ACCESS_DENIED_ERROR
        mysql::Error::MySqlError(e) if e.code == 1045 => TableError::database(format!(
            "the MySQL server at {shown} refused the login of user `{user}`"
        ))
        .caused_by(cause)
        .with_hint(login_hint(server.tls)),
        // ER_BAD_DB_ERROR, ER_DBACCESS_DENIED_ERROR
        mysql::Error::MySqlError(e) if e.code == 1049 || e.code == 1044 => {
            TableError::database(format!(
                "the MySQL server at {shown} has no such database, or user `{user}` may not use it"
            ))
            .caused_by(cause)
            .with_hint("create it (`CREATE DATABASE name`) and grant the user access (`GRANT ALL ON name.* TO user`), or name another at the end of the URL")
        }
        mysql::Error::MySqlError(_) => TableError::database(format!(
            "the MySQL server at {shown} refused the connection"
        ))
        .caused_by(cause),
        _ => TableError::database(format!("cannot connect to the MySQL server at {shown}"))
            .caused_by(cause)
            .with_hint("check that the server runs and that host and port in the URL are right (`mariadb-admin -h HOST -P PORT ping` tells)"),
    }
}

/// What to check when the server refused a login. MySQL and MariaDB
/// refuse a plain-TCP login to a server or user that accepts TLS
/// connections only (`require_secure_transport`, `REQUIRE SSL`) with the
/// same error as a wrong password, so under `sslmode=disable` both are
/// named.
fn login_hint(tls: &Tls) -> String {
    let password = "check the user and password in the URL; pass it through the FLOW_DB variable to keep it out of shell history and process lists";
    if tls.mode == SslMode::Disable {
        format!(
            "{password}. Or the server accepts TLS connections only (require_secure_transport, or a user created with REQUIRE SSL): {}",
            tls::USE_TLS
        )
    } else {
        password.to_string()
    }
}

/// A failure of a statement: refused rows exit 3, anything else 5.
fn failure(server: &Server<'_>, doing: &str, error: &mysql::Error) -> TableError {
    let cause = scrub(&chain(error), server.secrets);
    let refused = matches!(error, mysql::Error::MySqlError(e) if refused_rows(&e.state));
    statement_failure(doing, server.shown, refused, cause)
}

/// The name a new or replacing table is filled under before it is put in
/// place; `prefix` tells staged (`flow_new_`) from replaced (`flow_old_`).
/// MySQL names have at most 64 characters.
fn staging_name(prefix: &str, table: &str) -> String {
    let mut name = format!("{prefix}{table}");
    name.truncate(64);
    name
}

/// One export's connection and where it stands.
struct Mysql<'s> {
    conn: Conn,
    server: &'s Server<'s>,
    collation: &'static str,
    /// The table filled under its staging name, when the export creates
    /// or replaces the table.
    staged: Option<String>,
    /// The table existed and is being replaced.
    replacing: bool,
    in_transaction: bool,
    /// `INSERT` texts by rows per statement, for the batches of one load.
    statements: HashMap<usize, String>,
}

impl Mysql<'_> {
    fn fail(&self, doing: &str) -> impl Fn(mysql::Error) -> TableError + '_ {
        let doing = doing.to_string();
        move |error| failure(self.server, &doing, &error)
    }

    /// Opens the transaction unless it is open; every change of shape is
    /// done by then.
    fn begin(&mut self) -> Result<()> {
        if !self.in_transaction {
            self.conn
                .query_drop("START TRANSACTION")
                .map_err(self.fail("cannot start a transaction on"))?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// Commits, then puts a staged table in place.
    fn finish(&mut self, job: &Job<'_>) -> Result<()> {
        self.conn
            .query_drop("COMMIT")
            .map_err(self.fail("cannot commit the export to"))?;
        self.in_transaction = false;
        let Some(staged) = self.staged.take() else {
            return Ok(());
        };
        let q = |name: &str| Dialect::Mysql.quote(name);
        let table = job.table_name;
        let rename = if self.replacing {
            let old = staging_name("flow_old_", table);
            self.conn
                .query_drop(format!("DROP TABLE IF EXISTS {}", q(&old)))
                .map_err(self.fail("cannot drop a table left by an earlier export on"))?;
            format!(
                "RENAME TABLE {t} TO {o}, {s} TO {t}",
                t = q(table),
                o = q(&old),
                s = q(&staged)
            )
        } else {
            format!("RENAME TABLE {} TO {}", q(&staged), q(table))
        };
        let doing = format!(
            "the rows are committed in table `{staged}` but could not be renamed to `{table}` on"
        );
        self.conn.query_drop(rename).map_err(self.fail(&doing))?;
        if self.replacing {
            let old = staging_name("flow_old_", table);
            self.conn
                .query_drop(format!("DROP TABLE {}", q(&old)))
                .map_err(self.fail(&format!("cannot drop the replaced table `{old}` on")))?;
        }
        Ok(())
    }

    /// Rolls back and drops a staged table: the database as before.
    fn abandon(&mut self) {
        if self.in_transaction {
            let _ = self.conn.query_drop("ROLLBACK");
        }
        if let Some(staged) = self.staged.take() {
            let _ = self.conn.query_drop(format!(
                "DROP TABLE IF EXISTS {}",
                Dialect::Mysql.quote(&staged)
            ));
        }
    }

    /// Whether `table` has a unique index of the key column alone, the
    /// one `ON DUPLICATE KEY UPDATE` matches rows by. Without one, MySQL
    /// would add every row again instead of failing.
    fn has_unique_key(&mut self, table: &str, key: &str) -> Result<bool> {
        let indexes: Vec<(String, u64, String)> = self
            .conn
            .exec(
                "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (table,),
            )
            .map_err(self.fail(&format!("cannot read the indexes of table `{table}` on")))?;
        let mut columns: HashMap<&str, (bool, Vec<&str>)> = HashMap::new();
        for (index, non_unique, column) in &indexes {
            let entry = columns
                .entry(index)
                .or_insert((*non_unique == 0, Vec::new()));
            entry.1.push(column);
        }
        Ok(columns
            .values()
            .any(|(unique, columns)| *unique && columns.as_slice() == [key]))
    }

    /// Inserts rows `0..height` of `cells` through `load`'s statements;
    /// returns MySQL's affected rows.
    fn insert(&mut self, load: &Load, cells: &impl Cells, height: usize) -> Result<u64> {
        let mut values = Vec::with_capacity(load.per_statement * load.width);
        let (mut batch_rows, mut batch_bytes, mut affected) = (0, 0, 0);
        for row in 0..height {
            for column in 0..load.width {
                let value = value(cells.cell(row, column));
                batch_bytes += size(&value);
                values.push(value);
            }
            batch_rows += 1;
            if batch_rows == load.per_statement || batch_bytes >= MAX_BATCH_BYTES {
                affected += self.send(load, batch_rows, &mut values)?;
                (batch_rows, batch_bytes) = (0, 0);
            }
        }
        if batch_rows > 0 {
            affected += self.send(load, batch_rows, &mut values)?;
        }
        Ok(affected)
    }

    /// Runs one `INSERT` of `rows` rows, taking the values.
    fn send(&mut self, load: &Load, rows: usize, values: &mut Vec<Value>) -> Result<u64> {
        let statement = self.statements.entry(rows).or_insert_with(|| {
            let row = format!("({})", vec!["?"; load.width].join(", "));
            format!(
                "{}{} {}",
                load.head,
                vec![row; rows].join(", "),
                load.suffix
            )
        });
        let params = Params::Positional(std::mem::take(values));
        let server = self.server;
        self.conn
            .exec_drop(statement.as_str(), params)
            .map_err(|error| failure(server, &load.doing, &error))?;
        Ok(self.conn.affected_rows())
    }
}

/// A load's statements on its session, with MySQL's affected rows so far.
struct Inserting<'m, 's> {
    session: &'m mut Mysql<'s>,
    load: &'m Load,
    affected: u64,
}

impl TakeRows for Inserting<'_, '_> {
    fn take(&mut self, cells: &impl Cells, height: usize, _first: usize) -> Result<()> {
        self.affected += self.session.insert(self.load, cells, height)?;
        Ok(())
    }
}

/// The `INSERT` of one load: its text up to the values and after them.
struct Load {
    head: String,
    /// The upsert clause, or nothing into a new table.
    suffix: String,
    width: usize,
    per_statement: usize,
    /// What failed, for messages.
    doing: String,
}

impl Load {
    fn new(job: &Job<'_>, into: &str, suffix: String) -> Self {
        let columns = job.rows.columns();
        let width = columns.len().max(1);
        Self {
            head: format!(
                "INSERT INTO {} ({}) VALUES ",
                Dialect::Mysql.quote(into),
                sql::column_list_in(columns, Dialect::Mysql)
            ),
            suffix,
            width: columns.len(),
            per_statement: MAX_BATCH_ROWS.min(MAX_PARAMETERS / width).max(1),
            doing: format!(
                "cannot write the rows of `{}` into table `{}` on",
                job.file, job.table_name
            ),
        }
    }
}

/// `cell` as a MySQL parameter.
fn value(cell: Cell<'_>) -> Value {
    match cell {
        Cell::Null => Value::NULL,
        Cell::Text(text) => Value::Bytes(text.as_bytes().to_vec()),
        Cell::Float(x) => Value::Double(x),
        Cell::Integer(i) => Value::Int(i),
        Cell::Boolean(b) => Value::Int(i64::from(b)),
        Cell::Timestamp(micros) => timestamp(micros),
    }
}

/// An instant as a DATETIME in UTC; one chrono cannot represent is null,
/// as on the other databases.
fn timestamp(micros: i64) -> Value {
    let Some(at) = utc(micros) else {
        return Value::NULL;
    };
    let part = |n: u32| u8::try_from(n).unwrap_or(u8::MAX);
    match u16::try_from(at.year()) {
        Ok(year) => Value::Date(
            year,
            part(at.month()),
            part(at.day()),
            part(at.hour()),
            part(at.minute()),
            part(at.second()),
            at.timestamp_subsec_micros(),
        ),
        // Before year 0: out of DATETIME's range; the server says so.
        Err(_) => Value::Date(0, 0, 0, 0, 0, 0, 0),
    }
}

/// About how many bytes `value` takes in a statement.
fn size(value: &Value) -> usize {
    match value {
        Value::Bytes(bytes) => bytes.len() + 4,
        _ => 12,
    }
}

impl Transaction for Mysql<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn columns(&mut self, table: &str) -> Result<Option<Vec<TableColumn>>> {
        let columns: Vec<(String, String)> = self
            .conn
            .exec(
                "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
                 ORDER BY ORDINAL_POSITION",
                (table,),
            )
            .map_err(self.fail(&format!("cannot read the columns of table `{table}` on")))?;
        let columns: Vec<TableColumn> = columns
            .into_iter()
            .map(|(name, declared)| TableColumn { name, declared })
            .collect();
        Ok((!columns.is_empty()).then_some(columns))
    }

    fn count(&mut self, table: &str) -> Result<u64> {
        self.begin()?;
        let count: Option<u64> = self
            .conn
            .query_first(format!(
                "SELECT COUNT(*) FROM {}",
                Dialect::Mysql.quote(table)
            ))
            .map_err(self.fail(&format!("cannot count the rows of table `{table}` on")))?;
        Ok(count.unwrap_or(0))
    }

    /// Remembers that the table is replaced: it is renamed away only once
    /// the new one is committed.
    fn drop_table(&mut self, _table: &str) -> Result<()> {
        self.replacing = true;
        Ok(())
    }

    fn create_table(&mut self, table: &str, columns: &[FileColumn], key: &str) -> Result<()> {
        let staged = staging_name("flow_new_", table);
        let doing = format!("cannot create table `{table}` on");
        // One left by an export that was killed before its commit.
        self.conn
            .query_drop(format!(
                "DROP TABLE IF EXISTS {}",
                Dialect::Mysql.quote(&staged)
            ))
            .map_err(self.fail(&doing))?;
        self.conn
            .query_drop(format!(
                "{} ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={}",
                sql::create_table(&staged, columns, key, Dialect::Mysql),
                self.collation
            ))
            .map_err(self.fail(&doing))?;
        self.staged = Some(staged);
        Ok(())
    }

    fn write_rows(&mut self, job: &Job<'_>, fresh: bool) -> Result<Written> {
        let load = match (fresh, &self.staged) {
            (true, Some(staged)) => Load::new(job, staged, String::new()),
            (true, None) => Load::new(job, job.table_name, String::new()),
            (false, _) => {
                if !self.has_unique_key(job.table_name, job.key)? {
                    return Err(TableError::invalid_data(format!(
                        "cannot upsert the rows of `{}` into table `{}` of {}: it has no unique index of column `{}`",
                        job.file, job.table_name, self.server.shown, job.key
                    ))
                    .with_hint(export::missing_unique_key_hint(job, Dialect::Mysql)));
                }
                let suffix = sql::on_duplicate_key(job.rows.columns(), job.key);
                Load::new(job, job.table_name, suffix)
            }
        };
        self.begin()?;
        let batch_rows = load.per_statement * STATEMENTS_PER_BATCH;
        let mut inserting = Inserting {
            session: self,
            load: &load,
            affected: 0,
        };
        let passed = export::pass_rows(job, batch_rows, &mut inserting)?;
        let affected = inserting.affected;
        Ok(match passed {
            Err(reason) => Written::Declined(reason),
            Ok(rows) if fresh => Written::Rows {
                rows,
                changed: affected,
            },
            Ok(rows) => Written::Affected { rows, affected },
        })
    }

    fn record(&mut self, job: &Job<'_>, rows: u64) -> Result<()> {
        self.begin()?;
        let doing = format!("cannot record the export in table `{EXPORTS_TABLE}` on");
        let sha256 = job.sha256.hex()?;
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        let at = job.at.timestamp_micros();
        self.conn
            .exec_drop(
                sql::insert_export(Dialect::Mysql),
                (
                    job.file_name,
                    sha256,
                    rows,
                    timestamp(at),
                    job.table_name,
                    job.mode.as_str(),
                ),
            )
            .map_err(self.fail(&doing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_cells_to_parameters() {
        assert_eq!(value(Cell::Null), Value::NULL);
        assert_eq!(value(Cell::Text("ab")), Value::Bytes(b"ab".to_vec()));
        assert_eq!(value(Cell::Boolean(true)), Value::Int(1));
        // 2026-11-22T08:00:00.000001Z
        assert_eq!(
            value(Cell::Timestamp(1_795_334_400_000_001)),
            Value::Date(2026, 11, 22, 8, 0, 0, 1)
        );
    }

    #[test]
    fn staging_names_fit_mysql() {
        assert_eq!(staging_name("flow_new_", "nav"), "flow_new_nav");
        assert_eq!(staging_name("flow_new_", &"x".repeat(63)).len(), 64);
    }
}
