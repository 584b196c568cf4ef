//! `db-export`: loads a table file into SQLite, PostgreSQL or
//! MySQL/MariaDB in one transaction, upserting on a key.
//!
//! This file owns the command line and the order of the work. A CSV file
//! is streamed (read while it loads); every other file is
//! read and checked whole before a database is opened, and so is a streamed
//! file the stream declines. Either way a bad file leaves the database
//! untouched: what the stream wrote is rolled back.

mod copy_binary;
mod csv_stream;
mod digest;
mod export;
mod mysql;
mod postgres;
mod schema;
mod sql;
mod sqlite;
mod table;
mod table_name;
mod target;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use clap::Parser;
use polars::prelude::*;
use table_io::{Input, Output, Result, TableError, find_column, run_job};

use crate::csv_stream::CsvStream;
use crate::digest::FileDigest;
use crate::export::{Job, Mode, Outcome, Report, Rows};
use crate::table::Table;
use crate::target::Target;

/// Loads a .csv, .xlsx (first sheet) or .parquet file into a database table
/// in one transaction, upserting on a key column.
///
/// The table is created from the file's columns when missing (text, double
/// precision, bigint, boolean, timestamp with time zone), with the key as
/// primary key. Rows are inserted or updated by key, so exporting the same
/// file twice leaves the same rows; rows the file lacks are kept. Each
/// export is recorded in the table `flow_exports` (file name, SHA-256 of
/// the file, row count, time, table, mode) in the same transaction. On any
/// error nothing is written.
///
/// Exit codes: 0 done, 2 usage, 3 the file does not fit (missing, empty or
/// repeated key, columns that differ from the table, a row the database
/// refuses), 4 a file could not be read or written (the input, a read-only
/// SQLite file), 5 the database failed (unreachable, login refused).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The file to load: .csv, .xlsx (first sheet) or .parquet.
    #[arg(long, value_name = "PATH")]
    input: PathBuf,

    /// The database: sqlite://PATH (relative to the current folder, or
    /// sqlite:///ABSOLUTE/PATH), postgres://USER:PASSWORD@HOST:PORT/DB or
    /// mysql://USER:PASSWORD@HOST:PORT/DB (mariadb:// too). Server URLs
    /// take ?sslmode=disable|prefer|require|verify-ca|verify-full and
    /// &sslrootcert=PATH (TLS; prefer is the default). Passwords are
    /// masked in every message; prefer FLOW_DB to keep them out of
    /// process lists.
    #[arg(
        long,
        value_name = "URL",
        env = "FLOW_DB",
        hide_env_values = true,
        default_value = "sqlite://flow.db"
    )]
    db: String,

    /// The table to load into. [default: the file name in lower case, each
    /// run of other characters than letters and digits made `_`:
    /// `merged/File.xlsx` goes into `file`]
    #[arg(long, value_name = "NAME")]
    table: Option<String>,

    /// The key column: present and unique in every row of the file; the
    /// primary key of a table db-export creates.
    #[arg(long, value_name = "COLUMN", default_value = "isin")]
    key: String,

    /// What to do when the table exists: `upsert` inserts new keys and
    /// updates changed rows (the columns must match the table's);
    /// `replace` drops the table and creates it anew from the file.
    #[arg(long, value_enum, default_value = "upsert")]
    mode: Mode,

    /// Also write a receipt of the export (file, hash, table, database,
    /// row counts) as a one-row table in the format its extension names.
    /// As a flow job, the host passes it and keeps the receipt as the
    /// job's target.
    #[arg(long, value_name = "PATH")]
    output: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tls::install_provider();
    run_job(|| run(&args))
}

fn run(args: &Args) -> Result<()> {
    let target = Target::parse(&args.db)?;
    let table_name = match &args.table {
        Some(name) => {
            table_name::check(name)?;
            name.clone()
        }
        None => table_name::from_file(&args.input),
    };
    let output = args.output.as_deref().map(Output::new).transpose()?;
    let input = Input::open(&args.input)?;
    find_column(&input, &args.key, "--key")?;
    let stream = CsvStream::plan(&input, &args.key)?;
    // Each read whole at most once: up front, or after the stream declined.
    let (first, second): (Table, Table);
    let rows = match &stream {
        Some(stream) => Rows::Csv(stream),
        None => {
            first = Table::read(&input, &args.key)?;
            Rows::Table(&first)
        }
    };
    let file = args.input.display().to_string();
    let file_name = args
        .input
        .file_name()
        .map_or_else(|| file.clone(), |name| name.to_string_lossy().into_owned());
    // A stream hashes the bytes it reads; a file read whole is hashed on a
    // thread of its own meanwhile.
    let sha256 = match stream {
        Some(_) => FileDigest::expected(&args.input),
        None => FileDigest::start(&args.input),
    };
    let database = target.shown();
    let mut job = Job {
        file: &file,
        file_name: &file_name,
        sha256: &sha256,
        table_name: &table_name,
        key: &args.key,
        mode: args.mode,
        rows,
        database: &database,
        at: Utc::now(),
    };
    let mut outcome = export(&target, &job)?;
    if let Outcome::Declined(reason) = outcome {
        eprintln!("db-export: `{file}` is read whole instead of streamed: {reason}");
        sha256.start_thread();
        second = Table::read(&input, &args.key)?;
        job.rows = Rows::Table(&second);
        outcome = export(&target, &job)?;
    }
    let Outcome::Done(report) = outcome else {
        return Err(TableError::database(format!(
            "the export of `{file}` gave way twice"
        )));
    };
    eprintln!("db-export: {}", summary(&job, &report));
    if let Some(output) = output {
        output.write(receipt(&job, &report)?.lazy(), &[])?;
    }
    Ok(())
}

fn export(target: &Target, job: &Job<'_>) -> Result<Outcome> {
    match target {
        Target::Sqlite { path } => sqlite::export(path, job),
        Target::Postgres {
            config,
            shown,
            secrets,
            tls,
        } => postgres::export(
            &postgres::Server {
                config,
                shown,
                secrets,
                tls,
            },
            job,
        ),
        Target::Mysql {
            opts,
            connect_timeout,
            shown,
            secrets,
            tls,
        } => mysql::export(
            &mysql::Server {
                opts,
                connect_timeout: *connect_timeout,
                shown,
                secrets,
                tls,
            },
            job,
        ),
    }
}

/// "`F` → table `t` of URL: 3 rows, 1 inserted, 1 updated, 1 unchanged".
fn summary(job: &Job<'_>, report: &Report) -> String {
    let created = if report.created {
        " (table created)"
    } else {
        ""
    };
    format!(
        "exported `{}` into table `{}` of {}{created}: {} rows, {} inserted, {} updated, {} unchanged",
        job.file,
        job.table_name,
        job.database,
        report.rows,
        report.inserted,
        report.updated,
        report.unchanged
    )
}

/// The export as a one-row table, for `--output`.
fn receipt(job: &Job<'_>, report: &Report) -> Result<DataFrame> {
    let counts = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    df!(
        "file" => [job.file],
        "content_sha256" => [job.sha256.hex()?],
        "table" => [job.table_name],
        "database" => [job.database],
        "mode" => [job.mode.as_str()],
        "exported_at" => [job.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)],
        "rows" => [counts(report.rows)],
        "inserted" => [counts(report.inserted)],
        "updated" => [counts(report.updated)],
        "unchanged" => [counts(report.unchanged)],
    )
    .map_err(|error| TableError::invalid_data("cannot build the export receipt").caused_by(error))
}
