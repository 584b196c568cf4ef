//! The database a scenario runs against: an SQLite file in a temporary
//! folder, or a schema of its own on the test PostgreSQL server, with the
//! few queries the scenarios check results with.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use assert_cmd::assert::Assert;
use tempfile::TempDir;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type Rows = Vec<Vec<Option<String>>>;

/// The variable that names the test server.
const URL_VARIABLE: &str = "FLOW_TEST_POSTGRES_URL";

pub enum Kind {
    Sqlite,
    Postgres {
        /// The server's password, which no output may show.
        password: String,
    },
}

pub struct Backend {
    pub kind: Kind,
    /// The working folder: the input files, and the SQLite file.
    pub dir: TempDir,
    /// What `--db` gets.
    pub url: String,
}

impl Backend {
    pub fn sqlite() -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("flow.db").display());
        Ok(Self {
            kind: Kind::Sqlite,
            dir,
            url,
        })
    }

    /// A fresh schema named after the test on the server, so tests that run
    /// at once do not see each other's tables or `flow_exports`.
    pub fn postgres(test: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let base = postgres_url()?;
        let schema = format!("test_{test}");
        let mut client = postgres::Client::connect(&base, postgres::NoTls)?;
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
            url,
        })
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self.kind, Kind::Sqlite)
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
        let assert = Command::cargo_bin("db-export")?
            .current_dir(self.dir.path())
            .env_remove("FLOW_DB")
            .arg("--input")
            .arg(input)
            .arg("--db")
            .arg(&self.url)
            .args(extra)
            .assert();
        if let Kind::Postgres { password, .. } = &self.kind
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
                postgres::Client::connect(&self.url, postgres::NoTls)?.batch_execute(sql)?
            }
        }
        Ok(())
    }

    /// `columns` of every row of `table` as text, ordered by the first.
    pub fn rows(&self, table: &str, columns: &[&str]) -> Result<Rows, Box<dyn std::error::Error>> {
        let casts: Vec<String> = columns
            .iter()
            .map(|c| format!("CAST(\"{c}\" AS TEXT)"))
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
                "SELECT file_name, content_sha256, CAST(row_count AS TEXT) FROM flow_exports WHERE table_name = '{table}' ORDER BY id"
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
                let mut client = postgres::Client::connect(&self.url, postgres::NoTls)?;
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
        }
    }
}

/// The test server's URL, or an error that says how to start one.
pub fn postgres_url() -> Result<String, Box<dyn std::error::Error>> {
    std::env::var(URL_VARIABLE).map_err(|_| {
        format!(
            "{URL_VARIABLE} is not set, so the PostgreSQL half of the db-export tests cannot run: \
             run `scripts/test`, which starts a throwaway server, or start one with \
             `eval \"$(scripts/pg-throwaway)\"` and run the tests again"
        )
        .into()
    })
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
