//! The streamed load of a CSV file, on each database that streams: it
//! must store exactly what the whole-file reader stores, and when it gives
//! way late in a file, nothing it wrote may remain.

use sha2::{Digest, Sha256};

use crate::backend::{Backend, Kind, TestResult, stderr};

const STREAMED: &str = "read as it loads";
const GAVE_WAY: &str = "is read whole instead of streamed";

const HEADER: &str = "isin,label,nav,units,flag,at";
const COLUMNS: [&str; 6] = ["isin", "label", "nav", "units", "flag", "at"];
/// Rows with every type and the quoting a stream must read as polars does.
const ROWS: [&str; 7] = [
    "K1,plain,1.5,1,true,2026-11-22T08:00:00Z",
    "K2,\"a, b\",-1.5e-3,-3,false,2026-11-22T08:00:00.000001Z",
    "K3,\"say \"\"hi\"\"\",7,9223372036854775807,true,2026-11-22T09:00:00+01:00",
    "K4,Zürich,0.1,0,false,1999-12-31T23:59:59.999999Z",
    "K5,,,,,",
    "K6,\"two\nlines\",\"2.5\",\"4\",true,2026-01-01T00:00:00Z",
    "K7,tab\there,-1.7976931348623157e308,-9223372036854775808,false,2026-11-22T08:00:00Z",
];

fn csv<'a>(rows: impl Iterator<Item = &'a str>) -> String {
    let mut text = format!("{HEADER}\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

/// 2026-11-22T08:00:00Z as the database gives it back as text.
fn eight_o_clock(db: &Backend) -> &'static str {
    match db.kind {
        Kind::Sqlite => "2026-11-22T08:00:00.000000Z",
        Kind::Postgres { .. } => "2026-11-22 08:00:00+00",
        Kind::Mysql { .. } => "2026-11-22 08:00:00.000000",
    }
}

/// `n` rows with increasing keys `K00000`…, then `last`.
fn many_rows_then(n: usize, last: &str) -> String {
    let mut text = "isin,nav\n".to_string();
    for i in 0..n {
        text.push_str(&format!("K{i:05},{i}.5\n"));
    }
    text.push_str(last);
    text.push('\n');
    text
}

pub fn a_sorted_file_is_streamed_and_stores_what_the_whole_file_reader_stores(
    db: &Backend,
) -> TestResult {
    let sorted = db.file("sorted.csv", &csv(ROWS.iter().copied()))?;
    let run = db.export(&sorted, &["--table", "streamed"])?.success();
    assert!(stderr(&run).contains(STREAMED), "{}", stderr(&run));
    assert!(!stderr(&run).contains(GAVE_WAY), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("7 rows, 7 inserted"),
        "{}",
        stderr(&run)
    );
    let hash: String = Sha256::digest(std::fs::read(&sorted)?)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(db.exports("streamed")?[0][1], Some(hash));
    let reversed = db.file("reversed.csv", &csv(ROWS.iter().rev().copied()))?;
    let run = db.export(&reversed, &["--table", "whole"])?.success();
    assert!(
        stderr(&run).contains("its keys are not in increasing order"),
        "{}",
        stderr(&run)
    );
    let streamed = db.rows("streamed", &COLUMNS)?;
    assert_eq!(streamed, db.rows("whole", &COLUMNS)?);
    assert_eq!(streamed[1][1].as_deref(), Some("a, b"));
    assert_eq!(streamed[2][1].as_deref(), Some("say \"hi\""));
    assert_eq!(streamed[2][5].as_deref(), Some(eight_o_clock(db)));
    assert_eq!(streamed[4][1..], [None, None, None, None, None]);
    Ok(())
}

pub fn an_odd_value_makes_the_stream_give_way_and_the_whole_reader_load_it(
    db: &Backend,
) -> TestResult {
    // polars reads booleans in any case; the stream takes `true` and `false`
    let input = db.file("odd.csv", "isin,flag\nK1,true\nK2,TRUE\n")?;
    let run = db.export(&input, &[])?.success();
    assert!(
        stderr(&run).contains("a value is not in a form this reader parses"),
        "{}",
        stderr(&run)
    );
    assert_eq!(db.count("odd")?, Some(2));
    assert_eq!(db.exports("odd")?.len(), 1);
    Ok(())
}

/// 20,000 rows are more than two batches: the stream has inserted some
/// when the last row makes it give way.
pub fn a_stream_that_gives_way_late_leaves_only_the_whole_load(db: &Backend) -> TestResult {
    let input = db.file("late.csv", &many_rows_then(20_000, "A0,0.5"))?;
    let run = db.export(&input, &[])?.success();
    assert!(stderr(&run).contains(GAVE_WAY), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("20001 rows, 20001 inserted, 0 updated, 0 unchanged"),
        "{}",
        stderr(&run)
    );
    assert_eq!(db.count("late")?, Some(20_001));
    let exports = db.exports("late")?;
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0][2].as_deref(), Some("20001"));
    Ok(())
}

pub fn a_late_repeated_key_is_named_and_nothing_is_written(db: &Backend) -> TestResult {
    let input = db.file("twice.csv", &many_rows_then(20_000, "K00007,1.0"))?;
    let run = db.export(&input, &[])?.code(3);
    assert!(
        stderr(&run).contains("key `isin` value \"K00007\" appears 2 times (rows 9, 20002)"),
        "{}",
        stderr(&run)
    );
    // A new SQLite file is not left behind, nor a MySQL staging table.
    assert!(!db.path("flow.db").exists());
    assert_eq!(db.count("twice")?, None);
    assert_eq!(db.count("flow_new_twice")?, None);
    assert!(db.exports("twice")?.is_empty());
    Ok(())
}

pub fn a_late_repeated_key_leaves_an_existing_table_as_it_was(db: &Backend) -> TestResult {
    let first = db.file("twice.csv", "isin,nav\nK00001,9.5\n")?;
    db.export(&first, &[])?.success();
    db.file("twice.csv", &many_rows_then(20_000, "K00007,1.0"))?;
    db.export(&first, &[])?.code(3);
    assert_eq!(db.count("twice")?, Some(1));
    assert_eq!(
        db.rows("twice", &["isin", "nav"])?[0][1].as_deref(),
        Some("9.5")
    );
    assert_eq!(db.exports("twice")?.len(), 1);
    Ok(())
}

/// A column the file leaves empty throughout fits a table column of any
/// type; only the whole file tells, so the stream gives way to it.
pub fn an_empty_column_fits_the_table_through_the_whole_reader(db: &Backend) -> TestResult {
    let first = db.file("notes.csv", "isin,note\nK1,1.5\n")?;
    db.export(&first, &[])?.success();
    db.file("notes.csv", "isin,note\nK1,\nK2,\n")?;
    let run = db.export(&first, &[])?.success();
    assert!(
        stderr(&run).contains("the table's columns need a closer check"),
        "{}",
        stderr(&run)
    );
    assert!(
        stderr(&run).contains("2 rows, 1 inserted, 1 updated"),
        "{}",
        stderr(&run)
    );
    assert_eq!(
        db.rows("notes", &["isin", "note"])?,
        [
            [Some("K1".to_string()), None],
            [Some("K2".to_string()), None]
        ]
    );
    Ok(())
}
