//! The toolkit against real files: formats, types across formats, atomic
//! output, and the errors of bad inputs.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use table_io::{ErrorKind, Input, Output, TableError};
use tempfile::TempDir;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn write_file(dir: &TempDir, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes)?;
    Ok(path)
}

fn open_error(path: &Path) -> Option<(ErrorKind, String)> {
    Input::open(path)
        .err()
        .map(|error| (error.kind(), error.to_string()))
}

fn read(path: &Path) -> Result<DataFrame, Box<dyn std::error::Error>> {
    Ok(Input::open(path)?.frame().collect()?)
}

fn copy(from: &Path, to: &Path) -> Result<(), TableError> {
    let input = Input::open(from)?;
    Output::new(to)?.write(input.frame(), &[&input])
}

fn typed_sample() -> PolarsResult<DataFrame> {
    df!(
        "isin" => ["LU1", "LU2", "LU3"],
        "nav" => [Some(1.25), None, Some(-3.5)],
        "subscriptions" => [500_i64, 0, 20_000],
        "time_started" => [1_763_800_000_123_000_i64, 1_763_800_001_000_000, 1_763_800_002_500_000],
    )?
    .lazy()
    .with_column(col("time_started").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
    .collect()
}

#[test]
fn every_format_keeps_the_column_types_through_a_round_trip() -> TestResult {
    let dir = tempfile::tempdir()?;
    let sample = typed_sample()?;
    let first = dir.path().join("sample.parquet");
    Output::new(&first)?.write(sample.clone().lazy(), &[])?;
    let mut previous = first;
    for name in ["a.csv", "b.xlsx", "c.csv", "d.parquet"] {
        let next = dir.path().join(name);
        copy(&previous, &next)?;
        let table = read(&next)?;
        assert!(
            table.equals_missing(&sample),
            "{name} differs:\n{:?}\n{:?}",
            table.columns(),
            sample.columns()
        );
        previous = next;
    }
    Ok(())
}

#[test]
fn datetimes_in_csv_are_rfc3339_utc() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("out.csv");
    Output::new(&path)?.write(typed_sample()?.lazy(), &[])?;
    let text = std::fs::read_to_string(&path)?;
    assert_eq!(
        text.lines().nth(1),
        Some("LU1,1.25,500,2025-11-22T08:26:40.123000Z")
    );
    Ok(())
}

#[test]
fn csv_dates_are_still_inferred_beside_timestamps_and_codes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = write_file(
        &dir,
        "in.csv",
        b"isin,day,time_started,note\nLU1,2026-01-31,2026-11-22T08:00:00Z,a-1\nLU2,2026-02-01,2026-11-22T08:00:00Z,b.2\n",
    )?;
    let schema = Input::open(&path)?.schema().clone();
    assert_eq!(schema.get("isin"), Some(&DataType::String));
    assert_eq!(schema.get("day"), Some(&DataType::Date));
    assert!(matches!(
        schema.get("time_started"),
        Some(DataType::Datetime(_, _))
    ));
    assert_eq!(schema.get("note"), Some(&DataType::String));
    Ok(())
}

#[test]
fn a_failed_write_leaves_neither_output_nor_temporary_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut text = String::from("isin,nav\n");
    for row in 0..12_000 {
        text.push_str(&format!("LU{row},{row}.5\n"));
    }
    text.push_str("LUX,oops\n");
    let input_path = write_file(&dir, "late.csv", text.as_bytes())?;
    let input = Input::open(&input_path)?;
    let output = dir.path().join("out.csv");
    let error = Output::new(&output)?.write(input.frame(), &[&input]).err();
    assert_eq!(
        error.map(|error| error.to_string()),
        Some(format!(
            "error: `{}`: column `nav`, row 12002: \"oops\" does not fit the column's type\n\
             hint: the first rows of `nav` made it a f64 column; fix the value, or leave the cell empty to mark it missing",
            input_path.display()
        ))
    );
    assert_eq!(names_in(dir.path())?, ["late.csv"]);
    Ok(())
}

#[test]
fn a_rewrite_replaces_the_output_whole() -> TestResult {
    let dir = tempfile::tempdir()?;
    let output = dir.path().join("out.csv");
    std::fs::write(&output, "old,content\n1,2\n3,4\n5,6\n")?;
    Output::new(&output)?.write(df!("isin" => ["LU1"])?.lazy(), &[])?;
    assert_eq!(std::fs::read_to_string(&output)?, "isin\nLU1\n");
    Ok(())
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    Ok(names)
}

#[test]
fn a_write_through_the_staging_handle_is_atomic() -> TestResult {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("out.csv");
    std::fs::write(&path, "old\n")?;
    let output = Output::new(&path)?;
    let failed = output.write_file(|mut file| {
        file.write_all(b"half")
            .map_err(|cause| TableError::io("cannot write", &path, &cause))?;
        Err(TableError::invalid_data("stopped half way"))
    });
    assert!(failed.is_err());
    assert_eq!(std::fs::read_to_string(&path)?, "old\n");
    assert_eq!(names_in(dir.path())?, ["out.csv"]);
    output.write_file(|mut file| {
        file.write_all(b"isin\nLU1\n")
            .map_err(|cause| TableError::io("cannot write", &path, &cause))
    })?;
    assert_eq!(std::fs::read_to_string(&path)?, "isin\nLU1\n");
    assert_eq!(names_in(dir.path())?, ["out.csv"]);
    Ok(())
}

#[test]
fn a_header_only_file_is_a_table_without_rows() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = write_file(&dir, "header.csv", b"isin,nav\n")?;
    let table = read(&path)?;
    assert_eq!(
        (
            table.height(),
            table
                .get_column_names()
                .iter()
                .map(|name| name.as_str())
                .collect::<Vec<_>>()
        ),
        (0, vec!["isin", "nav"])
    );
    Ok(())
}

#[test]
fn bad_inputs_get_errors_that_say_what_where_and_what_to_do() -> TestResult {
    let dir = tempfile::tempdir()?;
    let empty = write_file(&dir, "empty.csv", b"")?;
    assert_eq!(
        open_error(&empty),
        Some((
            ErrorKind::InvalidData,
            format!(
                "error: `{}` is empty: it has no header and no rows\n\
                 hint: check the program that wrote it; a table needs at least a header row",
                empty.display()
            )
        ))
    );
    let folder = dir.path().join("folder.csv");
    std::fs::create_dir(&folder)?;
    assert_eq!(
        open_error(&folder),
        Some((
            ErrorKind::Io,
            format!(
                "error: `{}` is a folder, not a file\n\
                 hint: pass the path of a table file, for example `folder/File_A.csv`",
                folder.display()
            )
        ))
    );
    let missing = dir.path().join("missing.csv");
    let error = open_error(&missing);
    assert_eq!(error.as_ref().map(|(kind, _)| *kind), Some(ErrorKind::Io));
    assert!(error.is_some_and(|(_, text)| text.ends_with("hint: check that the path is right")));
    Ok(())
}

#[test]
fn non_utf8_csv_names_the_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = write_file(&dir, "latin1.csv", b"isin,name\nLU1,cafe\nLU2,caf\xe9\n")?;
    let error = Input::open(&path).and_then(|input| {
        let frame = input.frame();
        Output::new(&dir.path().join("out.csv"))?.write(frame, &[&input])
    });
    let error = error
        .err()
        .map(|error| (error.kind(), error.message().to_string()));
    assert_eq!(
        error,
        Some((
            ErrorKind::InvalidData,
            format!("`{}`: line 3 is not valid UTF-8", path.display())
        ))
    );
    Ok(())
}

#[test]
fn a_truncated_workbook_is_invalid_data_with_a_hint() -> TestResult {
    let dir = tempfile::tempdir()?;
    let whole = dir.path().join("whole.xlsx");
    Output::new(&whole)?.write(typed_sample()?.lazy(), &[])?;
    let bytes = std::fs::read(&whole)?;
    let cut = write_file(&dir, "cut.xlsx", &bytes[..bytes.len() / 2])?;
    let error = open_error(&cut);
    assert_eq!(
        error.as_ref().map(|(kind, _)| *kind),
        Some(ErrorKind::InvalidData)
    );
    assert!(error.is_some_and(|(_, text)| text.starts_with(&format!(
        "error: `{}` is not a readable xlsx workbook",
        cut.display()
    ))));
    Ok(())
}

#[test]
fn an_output_folder_that_does_not_exist_is_refused_before_any_work() -> TestResult {
    let dir = tempfile::tempdir()?;
    let output = dir.path().join("no/such/folder/out.csv");
    let error = Output::new(&output)
        .err()
        .map(|error| (error.kind(), error.to_string()));
    let folder = dir.path().join("no/such/folder");
    assert_eq!(
        error.map(|(kind, text)| (kind, text.lines().last().map(str::to_string))),
        Some((
            ErrorKind::Io,
            Some(format!(
                "hint: create it first: mkdir -p {}",
                folder.display()
            ))
        ))
    );
    Ok(())
}

#[test]
fn a_late_timestamp_that_is_not_rfc3339_is_located() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut text = String::from("isin,time_started\n");
    for row in 0..500 {
        text.push_str(&format!("LU{row},2026-11-22T08:00:00.{row:06}Z\n"));
    }
    text.push_str("LUX,yesterday\n");
    let input_path = write_file(&dir, "late.csv", text.as_bytes())?;
    let input = Input::open(&input_path)?;
    assert_eq!(
        input.schema().get("time_started"),
        Some(&DataType::Datetime(TimeUnit::Microseconds, None))
    );
    let output = dir.path().join("out.parquet");
    let error = Output::new(&output)?.write(input.frame(), &[&input]).err();
    assert_eq!(
        error.map(|error| error.message().to_string()),
        Some(format!(
            "`{}`: column `time_started`, row 502: \"yesterday\" does not fit the column's type",
            input_path.display()
        ))
    );
    Ok(())
}
