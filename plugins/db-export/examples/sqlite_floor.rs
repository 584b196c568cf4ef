//! The floor of `db-export` into SQLite, for `scripts/bench`: SQLite
//! inserting rows of the merged file's shape that it makes itself, in one
//! statement and one transaction, into the table db-export would create
//! (`WITHOUT ROWID`, 16 KiB pages), with the same bundled SQLite. No file is
//! read, nothing is parsed, nothing is bound: what is left is SQLite's own
//! work per row.
//!
//!     sqlite_floor ROWS DATABASE     DATABASE must not exist

use std::process::ExitCode;

use rusqlite::Connection;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (rows, database) = match args.get(1..) {
        Some([rows, database]) => match rows.parse::<i64>() {
            Ok(rows) if rows > 0 => (rows, database),
            _ => return usage(),
        },
        _ => return usage(),
    };
    if std::path::Path::new(database).exists() {
        eprintln!("sqlite_floor: `{database}` exists; give a path to a new file");
        return ExitCode::from(2);
    }
    match insert(rows, database) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sqlite_floor: {error}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: sqlite_floor ROWS DATABASE");
    ExitCode::from(2)
}

fn insert(rows: i64, database: &str) -> rusqlite::Result<()> {
    let mut connection = Connection::open(database)?;
    connection.pragma_update(None, "page_size", 16_384)?;
    connection.execute_batch(
        "CREATE TABLE merged (isin TEXT PRIMARY KEY NOT NULL, nav REAL,
         time_started TIMESTAMP, z_score_nav REAL, subscriptions INTEGER) WITHOUT ROWID",
    )?;
    let tx = connection.transaction()?;
    // Keys of one width, so that they come in increasing order as in a
    // merged file.
    tx.execute(
        "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < ?1 - 1)
         INSERT INTO merged
         SELECT 'LU' || (10000000000 + x), x * 1.5, '2026-11-22T07:00:00.000000Z', x * 0.001, x
         FROM n",
        [rows],
    )?;
    tx.commit()
}
