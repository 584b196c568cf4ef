//! The scenarios every database must pass, each a function of the backend.
//! "Untouched" is checked the same way everywhere: the table's rows and the
//! `flow_exports` entries are what they were before the failed run.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::backend::{Backend, TestResult, rows, stderr};

const HEADER: &str = "isin,nav,time_started,z_score_nav,subscriptions";
const FIRST: &str = "isin,nav,time_started,z_score_nav,subscriptions
LU0001,1.5,2026-11-22T08:00:00Z,-1.25,10
LU0002,2.25,2026-11-22T08:00:00Z,0.5,
LU0003,3.75,2026-11-22T08:00:00Z,0.75,30
";
const COLUMNS: [&str; 3] = ["isin", "nav", "subscriptions"];

fn first_rows() -> crate::backend::Rows {
    rows(&[
        &["LU0001", "1.5", "10"],
        &["LU0002", "2.25", ""],
        &["LU0003", "3.75", "30"],
    ])
}

/// Loads `FIRST` into table `file` and checks it worked.
fn load_first(db: &Backend) -> TestResult {
    let input = db.file("File.csv", FIRST)?;
    db.export(&input, &[])?.success();
    assert_eq!(db.rows("file", &COLUMNS)?, first_rows());
    Ok(())
}

/// The table and the export log are as after `load_first`.
fn assert_untouched(db: &Backend) -> TestResult {
    assert_eq!(db.rows("file", &COLUMNS)?, first_rows());
    assert_eq!(db.exports("file")?.len(), 1);
    Ok(())
}

pub fn first_load(db: &Backend) -> TestResult {
    let input = db.file("File.csv", FIRST)?;
    let run = db.export(&input, &[])?.success();
    assert!(
        stderr(&run).contains("(table created): 3 rows, 3 inserted, 0 updated, 0 unchanged"),
        "{}",
        stderr(&run)
    );
    assert_eq!(db.rows("file", &COLUMNS)?, first_rows());
    let times = db.rows("file", &["isin", "time_started"])?;
    let first_time = times[0][1].clone().unwrap_or_default();
    assert!(first_time.starts_with("2026-11-22"), "{first_time}");
    let exports = db.exports("file")?;
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0][0].as_deref(), Some("File.csv"));
    assert_eq!(exports[0][1].as_deref().map(str::len), Some(64));
    assert_eq!(exports[0][2].as_deref(), Some("3"));
    Ok(())
}

pub fn repeated_load(db: &Backend) -> TestResult {
    load_first(db)?;
    let input = db.path("File.csv");
    let run = db.export(&input, &[])?.success();
    assert!(
        stderr(&run).contains("3 rows, 0 inserted, 0 updated, 3 unchanged"),
        "{}",
        stderr(&run)
    );
    assert_eq!(db.rows("file", &COLUMNS)?, first_rows());
    // Every export is recorded: two entries, the same content hash.
    let exports = db.exports("file")?;
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[0][1], exports[1][1]);
    Ok(())
}

pub fn changed_file(db: &Backend) -> TestResult {
    load_first(db)?;
    let changed = db.file(
        "File.csv",
        &format!(
            "{HEADER}\nLU0003,3.75,2026-11-22T08:00:00Z,0.75,30\nLU0001,1.125,2026-11-23T08:00:00Z,-1.25,11\nLU0004,4.5,2026-11-23T08:00:00Z,1.5,40\n"
        ),
    )?;
    let run = db.export(&changed, &[])?.success();
    assert!(
        stderr(&run).contains("3 rows, 1 inserted, 1 updated, 1 unchanged"),
        "{}",
        stderr(&run)
    );
    assert_eq!(
        db.rows("file", &COLUMNS)?,
        rows(&[
            &["LU0001", "1.125", "11"],
            &["LU0002", "2.25", ""],
            &["LU0003", "3.75", "30"],
            &["LU0004", "4.5", "40"],
        ])
    );
    let exports = db.exports("file")?;
    assert_eq!(exports.len(), 2);
    assert_ne!(exports[0][1], exports[1][1]);
    Ok(())
}

/// A table with a constraint the last row of a long file breaks: the rows
/// before it were already sent, and must not stay.
pub fn refused_row_late_in_the_file_leaves_the_table_as_before(db: &Backend) -> TestResult {
    let (key, real, time) = if db.is_sqlite() {
        ("TEXT", "REAL", "TIMESTAMP WITH TIME ZONE")
    } else if db.is_mysql() {
        ("VARCHAR(255)", "DOUBLE", "DATETIME(6)")
    } else {
        ("TEXT", "double precision", "TIMESTAMP WITH TIME ZONE")
    };
    db.execute(&format!(
        "CREATE TABLE file (isin {key} PRIMARY KEY NOT NULL, nav {real} CHECK (nav < 1000), time_started {time}, z_score_nav {real}, subscriptions BIGINT)"
    ))?;
    load_first(db)?;
    let mut text = format!("{HEADER}\nLU0001,9.5,2026-11-22T08:00:00Z,0,10\n");
    // Keys in increasing order, so a CSV file is streamed, and more rows
    // than a batch, so some are sent before the last one is refused.
    for i in 5..9999 {
        text.push_str(&format!("LU{i:04},1.5,2026-11-22T08:00:00Z,0,1\n"));
    }
    text.push_str("LU9999,5000.5,2026-11-22T08:00:00Z,0,1\n");
    let input = db.file("Late.csv", &text)?;
    let run = db.export(&input, &["--table", "file"])?.code(3);
    assert!(
        stderr(&run).contains("read as it loads"),
        "{}",
        stderr(&run)
    );
    assert!(stderr(&run).contains("refused a row"), "{}", stderr(&run));
    assert_untouched(db)
}

/// A table made by hand without a unique key: the upsert cannot match
/// rows, and the error says how to fix the table.
pub fn table_without_a_unique_key_is_explained(db: &Backend) -> TestResult {
    db.execute("CREATE TABLE file (isin TEXT, nav DOUBLE PRECISION)")?;
    db.execute("INSERT INTO file VALUES ('LU0001', 1.5)")?;
    let input = db.file("File.csv", "isin,nav\nLU0001,2.5\n")?;
    let run = db.export(&input, &[])?.failure();
    let fix = if db.is_mysql() {
        "ALTER TABLE `file` ADD UNIQUE (`isin`)"
    } else {
        "CREATE UNIQUE INDEX ON \"file\" (\"isin\")"
    };
    assert!(stderr(&run).contains(fix), "{}", stderr(&run));
    assert_eq!(
        db.rows("file", &["isin", "nav"])?,
        rows(&[&["LU0001", "1.5"]])
    );
    assert_eq!(db.exports("file")?.len(), 0);
    Ok(())
}

/// SIGKILL while the rows are being written: the transaction never
/// commits, so the table is as before.
pub fn kill_in_the_middle_leaves_the_table_as_before(db: &Backend) -> TestResult {
    load_first(db)?;
    let mut text = String::with_capacity(20_000_000);
    text.push_str(HEADER);
    text.push('\n');
    text.push_str("LU0001,9.5,2026-11-22T08:00:00Z,0,10\n");
    for i in 10..400_000 {
        text.push_str(&format!("XS{i:08},{i}.5,2026-11-22T08:00:00Z,0.25,{i}\n"));
    }
    let input = db.file("File.csv", &text)?;
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("db-export"))
        .current_dir(db.dir.path())
        .env_remove("FLOW_DB")
        .arg("--input")
        .arg(&input)
        .arg("--db")
        .arg(&db.url)
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line?;
        let loading = line.contains("db-export: loading");
        seen.push(line);
        if loading {
            break;
        }
    }
    child.kill()?;
    let status = child.wait()?;
    assert_eq!(
        status.code(),
        None,
        "db-export ended before the kill: {seen:?}; make the file larger"
    );
    assert_untouched(db)
}

/// After the first load, exporting `text` as `File.csv` fails with exit 3,
/// says every one of `fragments`, and leaves the table as it was.
fn assert_refused(db: &Backend, text: &str, fragments: &[&str]) -> TestResult {
    load_first(db)?;
    let input = db.file("File.csv", text)?;
    let run = db.export(&input, &[])?.code(3);
    let said = stderr(&run);
    for fragment in fragments {
        assert!(
            said.contains(fragment),
            "`{fragment}` is missing from: {said}"
        );
    }
    assert_untouched(db)
}

pub fn columns_that_differ_are_named_and_nothing_changes(db: &Backend) -> TestResult {
    let alter = format!(
        "ALTER TABLE {} ADD COLUMN {}",
        db.quote("file"),
        db.quote("fees")
    );
    assert_refused(
        db,
        "isin,nav,fees\nLU0001,9.5,0.1\n",
        &[
            "does not fit table `file`",
            "only the file has `fees`",
            "only the table has `time_started`, `z_score_nav`, `subscriptions`",
            "--mode replace",
            &alter,
        ],
    )
}

pub fn replace_mode_recreates_the_table_from_the_file(db: &Backend) -> TestResult {
    load_first(db)?;
    let input = db.file("File.csv", "isin,nav,fees\nLU0009,9.5,0.25\n")?;
    db.export(&input, &["--mode", "replace"])?.success();
    assert_eq!(
        db.rows("file", &["isin", "nav", "fees"])?,
        rows(&[&["LU0009", "9.5", "0.25"]])
    );
    assert_eq!(db.exports("file")?.len(), 2);
    Ok(())
}

pub fn type_that_differs_is_named(db: &Backend) -> TestResult {
    let text = format!("{HEADER}\nLU0001,n/a,2026-11-22T08:00:00Z,0,10\n");
    assert_refused(db, &text, &["`nav` is", "in the table but"])
}

pub fn missing_key_column(db: &Backend) -> TestResult {
    assert_refused(
        db,
        "isim,nav\nLU0001,9.5\n",
        &["has no column `isin`", "did you mean `isim`"],
    )
}

pub fn duplicate_keys_are_named_with_their_rows(db: &Backend) -> TestResult {
    let text = format!("{HEADER}\nLU0001,9.5,,0,1\nLU0002,9.5,,0,1\nLU0001,8.5,,0,1\n");
    assert_refused(
        db,
        &text,
        &["key `isin` value \"LU0001\" appears 2 times (rows 2, 4)"],
    )
}

pub fn empty_key(db: &Backend) -> TestResult {
    let text = format!("{HEADER}\nLU0001,9.5,,0,1\n,9.5,,0,1\n");
    assert_refused(db, &text, &["key column `isin` is empty in row 3"])
}

/// The seed workbook, as a person exports it, with a receipt.
pub fn excel_input_and_receipt(db: &Backend) -> TestResult {
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/seed-data/File_A.xlsx");
    let input = db.path("File_A.xlsx");
    std::fs::copy(seed, &input)?;
    let receipt = db.path("receipt.csv");
    db.export(&input, &["--output", "receipt.csv"])?.success();
    let count = db.count("file_a")?.ok_or("no table file_a")?;
    assert!(count > 0);
    let text = std::fs::read_to_string(receipt)?;
    assert!(
        text.starts_with("file,content_sha256,table,database,mode,exported_at,rows,inserted"),
        "{text}"
    );
    assert!(text.contains(",file_a,"), "{text}");
    Ok(())
}

/// A value of every type, with the awkward cases of each: text that COPY
/// and CSV must escape, floats at the ends of their range, the largest
/// integer, microseconds, and a null in every column but the key. Keys out
/// of order, so the key check cannot take its sorted shortcut.
const EVERY_TYPE: &str = "isin,label,nav,units,flag,at
K3,\"tab\there\",0.1,9223372036854775807,true,2026-11-22T08:00:00.000001Z
K1,\"back\\slash \"\"quoted\"\"
newline\",1e-7,-3,false,1999-12-31T23:59:59.999999Z
K2,,-1.7976931348623157e308,,,
";
const EVERY_COLUMN: [&str; 6] = ["isin", "label", "nav", "units", "flag", "at"];

/// A first load into a new table (plain inserts, or COPY straight in) and
/// an upsert into a filled table take different paths; both must leave
/// the same rows, every value exactly as in the file.
pub fn every_type_round_trips_and_upsert_matches_first_load(db: &Backend) -> TestResult {
    let input = db.file("every.csv", EVERY_TYPE)?;
    db.export(&input, &["--table", "fresh"])?.success();
    let old = db.file(
        "old.csv",
        "isin,label,nav,units,flag,at\nK1,old,2.5,1,true,2026-01-01T00:00:00Z\n",
    )?;
    db.export(&old, &["--table", "filled"])?.success();
    let run = db.export(&input, &["--table", "filled"])?.success();
    assert!(
        stderr(&run).contains("3 rows, 2 inserted, 1 updated, 0 unchanged"),
        "{}",
        stderr(&run)
    );
    let fresh = db.rows("fresh", &EVERY_COLUMN)?;
    assert_eq!(fresh, db.rows("filled", &EVERY_COLUMN)?);
    assert_eq!(
        fresh[0][1].as_deref(),
        Some("back\\slash \"quoted\"\nnewline")
    );
    assert_eq!(fresh[1][1], None);
    assert_eq!(fresh[1][3..], [None, None, None]);
    assert_eq!(fresh[2][1].as_deref(), Some("tab\there"));
    for table in ["fresh", "filled"] {
        for condition in [
            "isin = 'K3' AND nav = 0.1 AND units = 9223372036854775807 AND flag AND at = '2026-11-22T08:00:00.000001Z'",
            "isin = 'K1' AND nav = 1e-7 AND units = -3 AND NOT flag AND at = '1999-12-31T23:59:59.999999Z'",
            "isin = 'K2' AND nav = -1.7976931348623157e308",
        ] {
            let found = db.query(
                &format!("SELECT count(*) FROM \"{table}\" WHERE {condition}"),
                1,
            )?;
            assert_eq!(found, rows(&[&["1"]]), "{table}: {condition}");
        }
    }
    Ok(())
}

/// A table made by hand with other column types than db-export creates:
/// PostgreSQL gets the rows as text (binary COPY fits only its own types),
/// and each database converts them. (MySQL's `numeric` has no fraction
/// unless given one; its `float` stands in.)
pub fn a_table_of_other_types_is_loaded_through_conversion(db: &Backend) -> TestResult {
    let nav = if db.is_mysql() { "float" } else { "numeric" };
    db.execute(&format!(
        "CREATE TABLE \"file\" (\"isin\" varchar(12) PRIMARY KEY NOT NULL, \"nav\" {nav}, \"time_started\" timestamp, \"z_score_nav\" real, \"subscriptions\" integer)",
    ))?;
    let input = db.file("File.csv", FIRST)?;
    db.export(&input, &[])?.success();
    assert_eq!(db.rows("file", &COLUMNS)?, first_rows());
    let run = db.export(&input, &[])?.success();
    assert!(
        stderr(&run).contains("3 rows, 0 inserted, 0 updated, 3 unchanged"),
        "{}",
        stderr(&run)
    );
    Ok(())
}
