//! The two ways to load rows in bulk into MySQL/MariaDB through the
//! `mysql` crate, measured on the same rows, so db-export's choice rests on
//! a measurement (docs/db-export.md, "Speed"): prepared multi-row
//! `INSERT`s of B rows in one transaction, as db-export does, against
//! `LOAD DATA LOCAL INFILE` fed by the crate's handler, the rows written
//! as CSV text on the fly. Rows of the merged shape (isin, nav,
//! time_started, z_score_nav, subscriptions), made here.
//!
//! A first load into a new table, then the same rows again into it, each
//! one a conflict: upsert `INSERT`s against `LOAD DATA` into a staging
//! table and one `INSERT ... SELECT ... ON DUPLICATE KEY UPDATE`, as
//! db-export would do it. The two ways alternate, for a loaded machine.
//!
//! `cargo run --release -p db-export --example mysql_bulk -- URL [ROWS] [BATCH...]`
//! (URL as `FLOW_TEST_MYSQL_URL`; the server needs `local_infile=1`).

use std::io::Write;
use std::time::Instant;

use mysql::prelude::Queryable;
use mysql::{Conn, LocalInfileHandler, Opts, Params, Value};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const CREATE: &str = "(isin varchar(255) PRIMARY KEY NOT NULL, nav double, time_started datetime(6), z_score_nav double, subscriptions bigint) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin";

/// Row `i`'s values: the same for both ways.
fn row(i: u64) -> (String, f64, (u8, u8, u32), f64, i64) {
    let x = i.wrapping_mul(2_654_435_761) % 1_000_000;
    let f = x as f64 / 1_000_000.0;
    let minute = u8::try_from(x % 60).unwrap_or(0);
    let second = u8::try_from((x / 60) % 60).unwrap_or(0);
    let micros = u32::try_from(x).unwrap_or(0);
    let subscriptions = i64::try_from(x % 1000).unwrap_or(0);
    (
        format!("LU{i:010}"),
        50.0 + f * 100.0,
        (minute, second, micros),
        (f - 0.5) * 6.0,
        subscriptions,
    )
}

fn fresh(conn: &mut Conn, table: &str) -> Result<()> {
    conn.query_drop(format!("DROP TABLE IF EXISTS {table}"))?;
    conn.query_drop(format!("CREATE TABLE {table} {CREATE}"))?;
    Ok(())
}

/// Sends the rows as `INSERT`s of `batch` rows into `table`, `suffix`
/// after each; the caller times it and owns the transaction.
fn insert_batches(
    conn: &mut Conn,
    table: &str,
    rows: u64,
    batch: usize,
    suffix: &str,
) -> Result<()> {
    let one = "(?, ?, ?, ?, ?)";
    let mut statements = std::collections::HashMap::new();
    let mut values = Vec::with_capacity(batch * 5);
    let mut pending = 0;
    for i in 1..=rows {
        let (isin, nav, (minute, second, micros), z, subscriptions) = row(i);
        values.push(Value::Bytes(isin.into_bytes()));
        values.push(Value::Double(nav));
        values.push(Value::Date(2026, 11, 22, 8, minute, second, micros));
        values.push(Value::Double(z));
        values.push(Value::Int(subscriptions));
        pending += 1;
        if pending == batch || i == rows {
            let sql = statements.entry(pending).or_insert_with(|| {
                format!(
                    "INSERT INTO {table} VALUES {} {suffix}",
                    vec![one; pending].join(", ")
                )
            });
            conn.exec_drop(
                sql.as_str(),
                Params::Positional(std::mem::take(&mut values)),
            )?;
            pending = 0;
        }
    }
    Ok(())
}

/// Sends the rows through `LOAD DATA LOCAL INFILE` into `table`, written
/// on the fly in the server's default text format (tab-separated, as
/// db-export would stream its parsed batches).
fn load_rows(conn: &mut Conn, table: &str, rows: u64) -> Result<()> {
    conn.set_local_infile_handler(Some(LocalInfileHandler::new(move |name, writer| {
        if name != b"rows" {
            return Err(std::io::Error::other("the server asked for another file"));
        }
        let mut buffer = Vec::with_capacity(1 << 20);
        for i in 1..=rows {
            let (isin, nav, (minute, second, micros), z, subscriptions) = row(i);
            writeln!(
                buffer,
                "{isin}\t{}\t2026-11-22 08:{minute:02}:{second:02}.{micros:06}\t{}\t{subscriptions}",
                ryu::Buffer::new().format(nav),
                ryu::Buffer::new().format(z)
            )?;
            if buffer.len() >= 1 << 20 {
                writer.write_all(&buffer)?;
                buffer.clear();
            }
        }
        writer.write_all(&buffer)
    })));
    conn.query_drop(format!("LOAD DATA LOCAL INFILE 'rows' INTO TABLE {table}"))?;
    Ok(())
}

/// Times `work` in one transaction.
fn timed(conn: &mut Conn, work: impl FnOnce(&mut Conn) -> Result<()>) -> Result<f64> {
    let started = Instant::now();
    conn.query_drop("START TRANSACTION")?;
    work(conn)?;
    conn.query_drop("COMMIT")?;
    Ok(started.elapsed().as_secs_f64())
}

const UPSERT: &str = "ON DUPLICATE KEY UPDATE nav = VALUES(nav), time_started = VALUES(time_started), z_score_nav = VALUES(z_score_nav), subscriptions = VALUES(subscriptions)";

fn say(what: &str, rows: u64, seconds: f64) {
    println!(
        "{what:<44} {rows} rows in {seconds:.2} s, {:.0} rows/s",
        rows as f64 / seconds
    );
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: mysql_bulk URL [ROWS] [BATCH...]")?;
    let rows: u64 = args.next().map_or(Ok(1_000_000), |n| n.parse())?;
    let mut batches: Vec<usize> = args
        .map(|n| n.parse())
        .collect::<std::result::Result<_, _>>()?;
    if batches.is_empty() {
        batches = vec![1_000];
    }
    let mut conn = Conn::new(Opts::from_url(&url)?)?;
    conn.query_drop("SET time_zone = '+00:00'")?;
    // First loads, alternating, into new tables.
    for &batch in &batches {
        fresh(&mut conn, "bulk_insert")?;
        let seconds = timed(&mut conn, |c| {
            insert_batches(c, "bulk_insert", rows, batch, "")
        })?;
        say(&format!("first: INSERTs of {batch} rows"), rows, seconds);
        fresh(&mut conn, "bulk_load")?;
        let seconds = timed(&mut conn, |c| load_rows(c, "bulk_load", rows))?;
        say("first: LOAD DATA LOCAL via the crate", rows, seconds);
    }
    // The same rows again, every one a conflict: upserts straight into the
    // table against LOAD DATA into a staging table and one upsert.
    let columns = "isin, nav, time_started, z_score_nav, subscriptions";
    for &batch in &batches {
        let seconds = timed(&mut conn, |c| {
            insert_batches(c, "bulk_insert", rows, batch, UPSERT)
        })?;
        say(
            &format!("repeat: upsert INSERTs of {batch} rows"),
            rows,
            seconds,
        );
        let seconds = timed(&mut conn, |c| {
            c.query_drop("CREATE TEMPORARY TABLE bulk_stage LIKE bulk_load")?;
            load_rows(c, "bulk_stage", rows)?;
            c.query_drop(format!(
                "INSERT INTO bulk_load ({columns}) SELECT {columns} FROM bulk_stage {UPSERT}"
            ))?;
            c.query_drop("DROP TEMPORARY TABLE bulk_stage")?;
            Ok(())
        })?;
        say("repeat: LOAD DATA to staging + one upsert", rows, seconds);
    }
    conn.query_drop("DROP TABLE bulk_insert, bulk_load")?;
    Ok(())
}
