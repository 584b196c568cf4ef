//! `job-merge` run as a user runs it: the real binary on real files.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use polars::prelude::*;
use table_io::Input;
use tempfile::TempDir;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn binary(name: &str) -> Result<Command, Box<dyn std::error::Error>> {
    Ok(Command::cargo_bin(name)?)
}

fn file(dir: &TempDir, name: &str, text: &str) -> std::io::Result<PathBuf> {
    let path = dir.path().join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Writes `input` to `output` with a `time_started` column set to `at`, as
/// `job-timestamp` would.
fn timestamp(input: &Path, output: &Path, at: &str) -> TestResult {
    let micros = chrono::DateTime::parse_from_rfc3339(at)?.timestamp_micros();
    let input = Input::open(input)?;
    let stamped = input.frame().with_column(
        lit(micros)
            .cast(DataType::Datetime(TimeUnit::Microseconds, None))
            .alias("time_started"),
    );
    Ok(table_io::Output::new(output)?.write(stamped, &[&input])?)
}

fn merge(
    left: &Path,
    right: &Path,
    output: &Path,
    extra: &[&str],
) -> Result<assert_cmd::assert::Assert, Box<dyn std::error::Error>> {
    Ok(binary("job-merge")?
        .arg("--input")
        .arg(left)
        .arg("--right")
        .arg(right)
        .arg("--output")
        .arg(output)
        .args(extra)
        .assert())
}

fn table(path: &Path) -> Result<DataFrame, Box<dyn std::error::Error>> {
    Ok(Input::open(path)?.frame().collect()?)
}

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

#[test]
fn seed_files_merge_to_file_a_rows_with_zero_fill_and_the_earlier_time() -> TestResult {
    let dir = tempfile::tempdir()?;
    let a = dir.path().join("A.xlsx");
    let b = dir.path().join("B.csv");
    timestamp(
        &repo_file("../shared/seed-data/File_A.xlsx"),
        &a,
        "2026-11-22T08:00:00Z",
    )?;
    timestamp(
        &repo_file("../shared/seed-data/File_B.xlsx"),
        &b,
        "2026-11-22T07:00:00Z",
    )?;
    let output = dir.path().join("merged.xlsx");
    merge(&a, &b, &output, &["--on", "isin"])?.success();
    let merged = table(&output)?;
    assert_eq!(merged.height(), 7);
    let names: Vec<&str> = merged
        .get_column_names()
        .iter()
        .map(|name| name.as_str())
        .collect();
    assert_eq!(names, ["isin", "nav", "time_started", "subscriptions"]);
    let subscriptions: Vec<Option<i64>> = merged.column("subscriptions")?.i64()?.iter().collect();
    let expected = [500, 1000, 10, 0, 0, 20_000, 450].map(Some);
    assert_eq!(subscriptions, expected);
    let times = merged.column("time_started")?.to_physical_repr();
    let seven = chrono::DateTime::parse_from_rfc3339("2026-11-22T07:00:00Z")?.timestamp_micros();
    let eight = chrono::DateTime::parse_from_rfc3339("2026-11-22T08:00:00Z")?.timestamp_micros();
    let times: Vec<Option<i64>> = times.i64()?.iter().collect();
    // LU…03 and LU…04 have no row in B: they keep A's time.
    let expected = [seven, seven, seven, eight, eight, seven, seven].map(Some);
    assert_eq!(times, expected);
    Ok(())
}

#[test]
fn the_later_right_time_never_replaces_an_earlier_left_one() -> TestResult {
    let dir = tempfile::tempdir()?;
    let a = file(
        &dir,
        "a.csv",
        "isin,time_started\nX,2026-01-01T00:00:00Z\nY,2026-01-03T00:00:00Z\n",
    )?;
    let b = file(
        &dir,
        "b.csv",
        "isin,subscriptions,time_started\nX,5,2026-01-02T00:00:00Z\nY,6,2026-01-02T00:00:00Z\n",
    )?;
    let output = dir.path().join("m.csv");
    merge(&a, &b, &output, &[])?.success();
    assert_eq!(
        std::fs::read_to_string(&output)?,
        "isin,time_started,subscriptions\n\
         X,2026-01-01T00:00:00.000000Z,5\n\
         Y,2026-01-02T00:00:00.000000Z,6\n"
    );
    Ok(())
}

#[test]
fn the_shipped_sample_keeps_file_a_rows_and_drops_keys_only_in_b() -> TestResult {
    let dir = tempfile::tempdir()?;
    let output = dir.path().join("m.parquet");
    let a = repo_file("flow-config/source/File_A.xlsx");
    let b = repo_file("flow-config/source/File_B.xlsx");
    merge(&a, &b, &output, &[])?.success();
    let merged = table(&output)?;
    let keys: Vec<Option<&str>> = merged.column("isin")?.str()?.iter().collect();
    assert_eq!(keys.len(), 8);
    assert!(!keys.contains(&Some("LU0000000099")));
    let filled = merged
        .column("subscriptions")?
        .i64()?
        .iter()
        .filter(|v| *v == Some(0))
        .count();
    assert_eq!(filled, 3);
    Ok(())
}

#[test]
fn a_key_repeated_in_the_right_table_is_exit_3_naming_key_and_rows() -> TestResult {
    let dir = tempfile::tempdir()?;
    let a = file(&dir, "a.csv", "isin,nav\nX,1\n")?;
    let b = file(&dir, "b.csv", "isin,subscriptions\nX,1\nY,2\nX,3\n")?;
    let output = dir.path().join("m.csv");
    let run = merge(&a, &b, &output, &[])?.code(3);
    assert_eq!(
        stderr(&run),
        format!(
            "error: `{b}`: key `isin` value \"X\" appears 2 times (rows 2, 4); a key must be unique in the right table\n\
             hint: remove the repeated rows from `{b}`, or join on a column that is unique there with `--on`\n",
            b = b.display()
        )
    );
    assert!(!output.exists());
    Ok(())
}

#[test]
fn explicit_options_must_name_existing_columns() -> TestResult {
    let dir = tempfile::tempdir()?;
    let a = file(&dir, "a.csv", "isin,nav\nX,1\n")?;
    let b = file(&dir, "b.csv", "code,subscriptions\nX,1\n")?;
    let output = dir.path().join("m.csv");
    let run = merge(&a, &b, &output, &[])?.code(3);
    assert!(stderr(&run).starts_with(&format!(
        "error: `{}` has no column `isin`; its columns are `code`, `subscriptions`",
        b.display()
    )));
    let run = merge(
        &a,
        &b,
        &output,
        &["--on", "isin", "--fill", "redemptions=0"],
    )?
    .code(3);
    assert!(stderr(&run).contains("has no column `isin`"));
    let b = file(&dir, "b2.csv", "isin,subscriptions\nX,1\n")?;
    let run = merge(&a, &b, &output, &["--fill", "redemptions=0"])?.code(3);
    assert!(stderr(&run).contains("has no column `redemptions`"));
    let run = merge(&a, &b, &output, &["--earliest", "time_started"])?.code(3);
    assert!(stderr(&run).contains("has no column `time_started`"));
    let run = merge(&a, &b, &output, &["--fill", "subscriptions=many"])?.code(2);
    assert!(stderr(&run).contains("\"many\" is not a value of column `subscriptions`"));
    Ok(())
}

#[test]
fn an_empty_right_table_fills_every_row() -> TestResult {
    let dir = tempfile::tempdir()?;
    let a = file(&dir, "a.csv", "isin,nav\nX,1\nY,2\n")?;
    let b = file(&dir, "b.csv", "isin,subscriptions\n")?;
    let output = dir.path().join("m.csv");
    merge(&a, &b, &output, &["--fill", "subscriptions=0"])?.success();
    assert_eq!(
        std::fs::read_to_string(&output)?,
        "isin,nav,subscriptions\nX,1,0\nY,2,0\n"
    );
    Ok(())
}

#[test]
fn a_timestamped_right_table_without_rows_keeps_the_left_times() -> TestResult {
    // What job-timestamp writes for a File_B with no rows: an all-empty
    // time column, which a CSV reader can only read as text.
    let dir = tempfile::tempdir()?;
    let a = file(
        &dir,
        "a.csv",
        "isin,nav,time_started\nX,1,2026-11-22T08:00:00.000000Z\n",
    )?;
    let b = file(&dir, "b.csv", "isin,subscriptions,time_started\n")?;
    let output = dir.path().join("m.csv");
    merge(&a, &b, &output, &[])?.success();
    assert_eq!(
        std::fs::read_to_string(&output)?,
        "isin,nav,time_started,subscriptions\nX,1,2026-11-22T08:00:00.000000Z,0\n"
    );
    Ok(())
}

#[test]
fn help_explains_every_option() -> TestResult {
    let help = binary("job-merge")?.arg("--help").assert().success();
    let help = String::from_utf8(help.get_output().stdout.clone())?;
    for option in [
        "--input",
        "--right",
        "--output",
        "--on",
        "--fill",
        "--earliest",
        "Exit codes",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
    Ok(())
}
