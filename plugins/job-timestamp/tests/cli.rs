//! `job-timestamp` run as a user runs it: the real binary on real files.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use polars::prelude::*;
use table_io::Input;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn job() -> Result<Command, Box<dyn std::error::Error>> {
    Ok(Command::cargo_bin("job-timestamp")?)
}

/// The column's type and its values as microseconds since the epoch.
fn instants(path: &Path, column: &str) -> TestResult<(DataType, Vec<Option<i64>>)> {
    let table = Input::open(path)?.frame().collect()?;
    let column = table.column(column)?;
    let micros = column.to_physical_repr();
    Ok((column.dtype().clone(), micros.i64()?.iter().collect()))
}

#[test]
fn every_row_gets_the_given_instant_as_a_datetime_in_every_format() -> TestResult {
    let dir = tempfile::tempdir()?;
    let at = "2026-11-22T08:00:00.250+01:00";
    let expected = DateTime::parse_from_rfc3339(at)?
        .with_timezone(&Utc)
        .timestamp_micros();
    for name in ["t.xlsx", "t.csv", "t.parquet"] {
        let output = dir.path().join(name);
        job()?
            .arg("--input")
            .arg(repo_file("flow-config/source/File_A.xlsx"))
            .arg("--output")
            .arg(&output)
            .args(["--at", at])
            .assert()
            .success();
        let (dtype, values) = instants(&output, "time_started")?;
        assert_eq!(
            dtype,
            DataType::Datetime(TimeUnit::Microseconds, None),
            "{name}"
        );
        assert_eq!(values, vec![Some(expected); 8], "{name}");
    }
    let csv = std::fs::read_to_string(dir.path().join("t.csv"))?;
    assert_eq!(
        csv.lines().nth(1),
        Some("LU0000000001,101.25,2026-11-22T07:00:00.250000Z")
    );
    Ok(())
}

#[test]
fn by_default_the_instant_is_when_the_job_started() -> TestResult {
    let dir = tempfile::tempdir()?;
    let output = dir.path().join("t.csv");
    let before = Utc::now().timestamp_micros();
    job()?
        .arg("--input")
        .arg(repo_file("flow-config/source/File_B.xlsx"))
        .arg("--output")
        .arg(&output)
        .args(["--column", "loaded_at"])
        .assert()
        .success();
    let after = Utc::now().timestamp_micros();
    let (_, values) = instants(&output, "loaded_at")?;
    assert_eq!(values.len(), 6);
    assert!(
        values
            .iter()
            .all(|value| value.is_some_and(|v| before <= v && v <= after))
    );
    Ok(())
}

#[test]
fn a_header_only_file_gives_a_header_only_output() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "isin,nav\n")?;
    let output = dir.path().join("out.csv");
    job()?
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&output)?, "isin,nav,time_started\n");
    Ok(())
}

#[test]
fn a_time_that_is_not_rfc3339_is_a_usage_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    job()?
        .arg("--input")
        .arg(repo_file("flow-config/source/File_A.xlsx"))
        .arg("--output")
        .arg(dir.path().join("t.csv"))
        .args(["--at", "yesterday"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "write it as 2026-11-22T08:00:00Z",
        ));
    Ok(())
}

#[test]
fn help_explains_every_option() -> TestResult {
    let help = job()?.arg("--help").assert().success();
    let help = String::from_utf8(help.get_output().stdout.clone())?;
    for option in [
        "--input",
        "--output",
        "--column",
        "--at",
        "RFC 3339",
        "Exit codes",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
    Ok(())
}

#[test]
fn csv_to_csv_keeps_every_byte_and_agrees_with_the_general_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    let text = "isin,\"na,me\",nav\r\nA,\"x,\"\"y\"\"\",1.50\r\nB,\"two\nlines\",\r\nC,z,2.5e0";
    let input = dir.path().join("in.csv");
    std::fs::write(&input, text)?;
    let at = "2026-11-22T08:00:00.000001Z";
    for name in ["fast.csv", "general.parquet"] {
        job()?
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(dir.path().join(name))
            .args(["--at", at])
            .assert()
            .success();
    }
    let expected: Vec<String> = text
        .split("\r\n")
        .map(|record| format!("{record},{at}"))
        .collect();
    let header = "isin,\"na,me\",nav,time_started";
    let written = std::fs::read_to_string(dir.path().join("fast.csv"))?;
    assert_eq!(
        written,
        [header]
            .into_iter()
            .chain(expected.iter().skip(1).map(String::as_str))
            .collect::<Vec<_>>()
            .join("\r\n")
    );
    let fast = instants(&dir.path().join("fast.csv"), "time_started")?;
    let general = instants(&dir.path().join("general.parquet"), "time_started")?;
    assert_eq!(fast, general);
    Ok(())
}
