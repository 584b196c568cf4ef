//! The database a scenario runs against: an SQLite file in a temporary
//! folder, a schema of its own on the test PostgreSQL server, or a
//! database of its own on the test MariaDB server, with the few queries
//! the scenarios check results with.
//!
//! A server test runs when its URL variable is set (`scripts/test` sets
//! them all). Without it the test is skipped, saying so, unless `CI` is
//! set: there a missing server fails the test.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use assert_cmd::assert::Assert;
use mysql::prelude::Queryable;
use tempfile::TempDir;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type Rows = Vec<Vec<Option<String>>>;

/// The variables that name the test servers.
pub const POSTGRES_URL: &str = "FLOW_TEST_POSTGRES_URL";
pub const MYSQL_URL: &str = "FLOW_TEST_MYSQL_URL";
/// The same servers with TLS, their certificate for `localhost` signed
/// by the authority in the `_CA` file.
pub const POSTGRES_TLS_URL: &str = "FLOW_TEST_POSTGRES_TLS_URL";
pub const MYSQL_TLS_URL: &str = "FLOW_TEST_MYSQL_TLS_URL";

pub enum Kind {
    Sqlite,
    Postgres {
        /// The server's password, which no output may show.
        password: String,
    },
    Mysql {
        password: String,
    },
}

pub struct Backend {
    pub kind: Kind,
    /// The working folder: the input files, and the SQLite file.
    pub dir: TempDir,
    /// What `--db` gets.
    pub url: String,
    /// What the checks connect by: `url`, or the server's socket once the
    /// server refuses plain TCP ([`Backend::check_through_socket`]).
    checks: String,
}

impl Backend {
    pub fn sqlite() -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("flow.db").display());
        Ok(Self {
            kind: Kind::Sqlite,
            dir,
            checks: url.clone(),
            url,
        })
    }

    /// A fresh schema named after the test on the server, so tests that run
    /// at once do not see each other's tables or `flow_exports`; `None`
    /// when the test is skipped.
    pub fn postgres(test: &str) -> Result<Option<Self>, Box<dyn std::error::Error>> {
        Self::postgres_on(POSTGRES_URL, test)
    }

    /// [`Backend::postgres`] on the server named by `variable`.
    pub fn postgres_on(
        variable: &str,
        test: &str,
    ) -> Result<Option<Self>, Box<dyn std::error::Error>> {
        let Some(base) = server_url(variable)? else {
            return Ok(None);
        };
        Self::postgres_at(&base, test).map(Some)
    }

    /// [`Backend::postgres`] on the server at `base`.
    pub fn postgres_at(base: &str, test: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let schema = format!("test_{test}");
        let mut client = postgres::Client::connect(base, postgres::NoTls)?;
        client.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))?;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        let config: postgres::Config = base.parse()?;
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default();
        Ok(Self {
            kind: Kind::Postgres { password },
            dir: tempfile::tempdir()?,
            checks: url.clone(),
            url,
        })
    }

    /// A fresh database named after the test on the MariaDB server; `None`
    /// when the test is skipped.
    pub fn mysql(test: &str) -> Result<Option<Self>, Box<dyn std::error::Error>> {
        Self::mysql_on(MYSQL_URL, test)
    }

    /// [`Backend::mysql`] on the server named by `variable`.
    pub fn mysql_on(
        variable: &str,
        test: &str,
    ) -> Result<Option<Self>, Box<dyn std::error::Error>> {
        let Some(base) = server_url(variable)? else {
            return Ok(None);
        };
        Self::mysql_at(&base, test).map(Some)
    }

    /// [`Backend::mysql`] on the server at `base`.
    pub fn mysql_at(base: &str, test: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let mut database = format!("test_{test}");
        // MySQL's names have at most 64 characters.
        database.truncate(64);
        let opts = mysql::Opts::from_url(base)?;
        let password = opts.get_pass().unwrap_or_default().to_string();
        let mut conn = mysql::Conn::new(opts)?;
        conn.query_drop(format!(
            "DROP DATABASE IF EXISTS {database}; CREATE DATABASE {database}"
        ))?;
        let (before_query, query) = base.split_once('?').unwrap_or((base, ""));
        let server = before_query
            .rsplit_once('/')
            .map_or(before_query, |(server, _)| server);
        let mut url = format!("{server}/{database}");
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        Ok(Self {
            kind: Kind::Mysql { password },
            dir: tempfile::tempdir()?,
            checks: url.clone(),
            url,
        })
    }

    /// Makes the checks connect through the server's socket in `dir` (the
    /// folder the throwaway script printed), which a server that refuses
    /// plain TCP still serves: PostgreSQL's `local` logins are trusted,
    /// and MariaDB counts a socket as secure transport.
    pub fn check_through_socket(&mut self, dir: &Path) -> TestResult {
        self.checks = match self.kind {
            Kind::Sqlite => return Err("an SQLite file has no socket".into()),
            Kind::Postgres { .. } => {
                let config: postgres::Config = self.url.parse()?;
                format!(
                    "host={} port={} user={} dbname={} options='{}'",
                    dir.display(),
                    config.get_ports().first().copied().unwrap_or(5432),
                    config.get_user().unwrap_or("flow"),
                    config.get_dbname().unwrap_or("flow"),
                    config.get_options().unwrap_or_default()
                )
            }
            Kind::Mysql { .. } => {
                format!("{}?socket={}", self.url, dir.join("mysql.sock").display())
            }
        };
        Ok(())
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self.kind, Kind::Sqlite)
    }

    pub fn is_mysql(&self) -> bool {
        matches!(self.kind, Kind::Mysql { .. })
    }

    /// The URL with `query` (`sslmode=require`) added.
    pub fn url_with(&self, query: &str) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}{query}", self.url)
    }

    /// An identifier as db-export quotes it in the SQL it suggests.
    pub fn quote(&self, name: &str) -> String {
        match self.kind {
            Kind::Mysql { .. } => format!("`{name}`"),
            _ => format!("\"{name}\""),
        }
    }

    /// `expression` cast to text in this database's SQL.
    fn text(&self, expression: &str) -> String {
        match self.kind {
            Kind::Mysql { .. } => format!("CAST({expression} AS CHAR)"),
            _ => format!("CAST({expression} AS TEXT)"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn file(&self, name: &str, text: &str) -> std::io::Result<PathBuf> {
        let path = self.path(name);
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// Runs `db-export --input INPUT --db URL EXTRA...` in the working
    /// folder. On PostgreSQL it also checks that the password appears in
    /// nothing the run printed.
    pub fn export(
        &self,
        input: &Path,
        extra: &[&str],
    ) -> Result<Assert, Box<dyn std::error::Error>> {
        self.export_to(input, &self.url, extra)
    }

    /// [`Backend::export`] into the database `url` names, on this server.
    pub fn export_to(
        &self,
        input: &Path,
        url: &str,
        extra: &[&str],
    ) -> Result<Assert, Box<dyn std::error::Error>> {
        let assert = Command::cargo_bin("db-export")?
            .current_dir(self.dir.path())
            .env_remove("FLOW_DB")
            .arg("--input")
            .arg(input)
            .arg("--db")
            .arg(url)
            .args(extra)
            .assert();
        if let Kind::Postgres { password } | Kind::Mysql { password } = &self.kind
            && !password.is_empty()
        {
            let output = assert.get_output();
            for stream in [&output.stdout, &output.stderr] {
                let text = String::from_utf8_lossy(stream);
                assert!(
                    !text.contains(password.as_str()),
                    "the password leaked into: {text}"
                );
            }
        }
        Ok(assert)
    }

    /// Runs SQL statements, for a scenario's setup.
    pub fn execute(&self, sql: &str) -> TestResult {
        match &self.kind {
            Kind::Sqlite => rusqlite::Connection::open(self.path("flow.db"))?.execute_batch(sql)?,
            Kind::Postgres { .. } => {
                postgres::Client::connect(&self.checks, postgres::NoTls)?.batch_execute(sql)?
            }
            Kind::Mysql { .. } => self.mysql_connection()?.query_drop(sql)?,
        }
        Ok(())
    }

    /// A connection to the test's MySQL database that reads `"x"` as a
    /// name, as the scenarios write them.
    fn mysql_connection(&self) -> Result<mysql::Conn, Box<dyn std::error::Error>> {
        let mut conn = mysql::Conn::new(mysql::Opts::from_url(&self.checks)?)?;
        conn.query_drop(
            "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES'), time_zone = '+00:00'",
        )?;
        Ok(conn)
    }

    /// `columns` of every row of `table` as text, ordered by the first.
    pub fn rows(&self, table: &str, columns: &[&str]) -> Result<Rows, Box<dyn std::error::Error>> {
        let casts: Vec<String> = columns
            .iter()
            .map(|c| self.text(&format!("\"{c}\"")))
            .collect();
        let sql = format!("SELECT {} FROM \"{table}\" ORDER BY 1", casts.join(", "));
        self.query(&sql, columns.len())
    }

    /// The number of rows of `table`, `None` when it does not exist.
    pub fn count(&self, table: &str) -> Result<Option<i64>, Box<dyn std::error::Error>> {
        let exists_sql = match self.kind {
            Kind::Sqlite => format!("SELECT count(*) FROM sqlite_master WHERE name = '{table}'"),
            Kind::Postgres { .. } => format!(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{table}'"
            ),
            Kind::Mysql { .. } => format!(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}'"
            ),
        };
        if self.is_sqlite() && !self.path("flow.db").exists() {
            return Ok(None);
        }
        if self.query(&exists_sql, 1)? == [[Some("0".to_string())]] {
            return Ok(None);
        }
        let count = self.query(&format!("SELECT count(*) FROM \"{table}\""), 1)?;
        Ok(count[0][0].as_deref().and_then(|n| n.parse().ok()))
    }

    /// `(file_name, content_sha256, row_count)` of every recorded export of
    /// `table`, oldest first.
    pub fn exports(&self, table: &str) -> Result<Rows, Box<dyn std::error::Error>> {
        if self.count("flow_exports")?.is_none() {
            return Ok(Vec::new());
        }
        self.query(
            &format!(
                "SELECT file_name, content_sha256, {} FROM flow_exports WHERE table_name = '{table}' ORDER BY id",
                self.text("row_count")
            ),
            3,
        )
    }

    /// Every row of `sql`, its first `width` columns as text.
    pub fn query(&self, sql: &str, width: usize) -> Result<Rows, Box<dyn std::error::Error>> {
        match &self.kind {
            Kind::Sqlite => {
                let connection = rusqlite::Connection::open(self.path("flow.db"))?;
                let mut statement = connection.prepare(sql)?;
                let rows = statement.query_map([], |row| {
                    (0..width)
                        .map(|i| {
                            let value: rusqlite::types::Value = row.get(i)?;
                            Ok(match value {
                                rusqlite::types::Value::Null => None,
                                rusqlite::types::Value::Integer(i) => Some(i.to_string()),
                                rusqlite::types::Value::Real(x) => Some(x.to_string()),
                                rusqlite::types::Value::Text(t) => Some(t),
                                rusqlite::types::Value::Blob(_) => Some("<blob>".into()),
                            })
                        })
                        .collect::<rusqlite::Result<Vec<_>>>()
                })?;
                Ok(rows.collect::<rusqlite::Result<Rows>>()?)
            }
            Kind::Postgres { .. } => {
                let mut client = postgres::Client::connect(&self.checks, postgres::NoTls)?;
                let rows = client.query(sql, &[])?;
                Ok(rows
                    .iter()
                    .map(|row| {
                        (0..width)
                            .map(|i| match row.columns()[i].type_() {
                                &postgres::types::Type::INT8 => {
                                    row.get::<_, Option<i64>>(i).map(|n| n.to_string())
                                }
                                _ => row.get::<_, Option<String>>(i),
                            })
                            .collect()
                    })
                    .collect())
            }
            Kind::Mysql { .. } => {
                let mut conn = self.mysql_connection()?;
                let rows: Vec<mysql::Row> = conn.query(sql)?;
                Ok(rows
                    .into_iter()
                    .map(|row| (0..width).map(|i| mysql_text(row.as_ref(i))).collect())
                    .collect())
            }
        }
    }
}

/// A MySQL value as the scenarios compare it: text, `None` for null.
fn mysql_text(value: Option<&mysql::Value>) -> Option<String> {
    match value? {
        mysql::Value::NULL => None,
        mysql::Value::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        mysql::Value::Int(i) => Some(i.to_string()),
        mysql::Value::UInt(u) => Some(u.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// The URL in `variable`; `None` (the test is skipped, and says so) when
/// it is unset outside CI; an error saying how to start the server when
/// it is unset in CI, where every test must run.
pub fn server_url(variable: &str) -> Result<Option<String>, Box<dyn std::error::Error>> {
    if let Ok(url) = std::env::var(variable)
        && !url.is_empty()
    {
        return Ok(Some(url));
    }
    let how = "run `scripts/test`, which starts throwaway servers, or start one with \
               `eval \"$(scripts/pg-throwaway)\"` or `eval \"$(scripts/mysql-throwaway)\"` \
               (`--tls` for the _TLS_ variables) and run the tests again";
    let in_ci = std::env::var("CI").is_ok_and(|ci| !ci.is_empty() && ci != "false" && ci != "0");
    if in_ci {
        return Err(
            format!("{variable} is not set and CI is, so this test cannot run: {how}").into(),
        );
    }
    eprintln!("skipped: {variable} is not set; {how}");
    Ok(None)
}

/// Rows as the scenarios write them: `&[&["LU1", "1.5"]]`, `""` for null.
pub fn rows(expected: &[&[&str]]) -> Rows {
    expected
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| (!v.is_empty()).then(|| v.to_string()))
                .collect()
        })
        .collect()
}

pub fn stderr(assert: &Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}
