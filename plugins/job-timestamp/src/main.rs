//! `job-timestamp`: adds the processing start time (UTC) to every row.
//!
//! The time is taken once, when the job starts, so every row of a file
//! carries the same instant; `--at` pins it for reproducible runs. CSV to
//! CSV takes the byte-streaming fast path of `table_io::append`, xlsx to xlsx
//! the sheet path (calamine, the column, rust_xlsxwriter: no polars, no
//! threads); every other pair of formats goes through polars.

mod timestamp;

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Parser;
use table_io::append::{AppendOutcome, append_column};
use table_io::{
    Cells, Format, Input, InputArg, Output, OutputArg, Result, Sheet, format_micros, run_job,
};

/// Adds the processing start time (UTC) to every row of a table.
///
/// Reads .csv, .xlsx (first sheet) or .parquet and writes the format the
/// output's extension names, atomically. Exit codes: 0 done, 2 usage,
/// 3 invalid input data, 4 a file could not be read or written.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    input: InputArg,

    #[command(flatten)]
    output: OutputArg,

    /// The column that receives the time; an existing column of that name
    /// is replaced.
    #[arg(long, value_name = "NAME", default_value = "time_started")]
    column: String,

    /// The time to record, in RFC 3339 (for example 2026-11-22T08:00:00Z);
    /// by default the moment the job starts. Stored as UTC.
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    at: Option<DateTime<Utc>>,
}

fn main() -> ExitCode {
    let started = Utc::now();
    let args = Args::parse();
    run_job(|| run(&args, started))
}

fn run(args: &Args, started: DateTime<Utc>) -> Result<()> {
    let output = Output::new(&args.output.path)?;
    Input::check(&args.input.path)?;
    let at = args.at.unwrap_or(started);
    let mut stamp = String::new();
    format_micros(at.timestamp_micros(), &mut stamp);
    let appended = append_column(&args.input.path, &output, &args.column, |_, field| {
        field.extend_from_slice(stamp.as_bytes());
        Ok(())
    })?;
    if appended == AppendOutcome::NotApplicable {
        if Format::of(&args.input.path)? == Format::Xlsx && output.format() == Format::Xlsx {
            sheet_path(args, &output, at)?;
        } else {
            polars_path(args, &output, at)?;
        }
    }
    eprintln!(
        "job-timestamp: wrote `{}` with {} = {}",
        output.path().display(),
        args.column,
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    );
    Ok(())
}

/// xlsx to xlsx without polars: the sheet as calamine reads it, the column
/// set as [`timestamp::add_timestamp`] sets it.
fn sheet_path(args: &Args, output: &Output, at: DateTime<Utc>) -> Result<()> {
    let mut sheet = Sheet::read(&args.input.path)?;
    let stamps = Cells::Datetime(vec![Some(at.timestamp_micros()); sheet.height]);
    sheet.set_column(&args.column, stamps)?;
    output.write_sheet(&sheet)
}

/// Any formats, through polars.
fn polars_path(args: &Args, output: &Output, at: DateTime<Utc>) -> Result<()> {
    let input = Input::open(&args.input.path)?;
    let frame = timestamp::add_timestamp(input.frame(), &args.column, at);
    output.write(frame, &[&input])
}

fn parse_rfc3339(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|error| format!("{error}; write it as 2026-11-22T08:00:00Z"))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use polars::prelude::*;

    use super::*;

    type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

    /// The sheet path's and the polars path's outputs for the same run, as
    /// calamine reads them back.
    fn both_paths(input: &Path, extra: &[&str]) -> TestResult<(Sheet, Sheet)> {
        let dir = tempfile::tempdir()?;
        let run = |name: &str| -> TestResult<(Args, Output)> {
            let path = dir.path().join(name);
            let mut command = vec!["job-timestamp", "--at", "2026-11-22T08:00:00.250Z"];
            command.extend(extra);
            let args = Args::try_parse_from(command.iter().map(PathBuf::from).chain([
                "--input".into(),
                input.into(),
                "--output".into(),
                path.clone(),
            ]))?;
            Ok((args, Output::new(&path)?))
        };
        let (args, sheet_output) = run("sheet.xlsx")?;
        let at = args.at.unwrap_or_default();
        sheet_path(&args, &sheet_output, at)?;
        let (args, polars_output) = run("polars.xlsx")?;
        polars_path(&args, &polars_output, at)?;
        Ok((
            Sheet::read(sheet_output.path())?,
            Sheet::read(polars_output.path())?,
        ))
    }

    fn shipped_sample(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../flow-config/source")
            .join(name)
    }

    #[test]
    fn the_sheet_path_writes_the_polars_paths_cells_on_the_shipped_sample() -> TestResult {
        for name in ["File_A.xlsx", "File_B.xlsx"] {
            let (sheet, polars) = both_paths(&shipped_sample(name), &[])?;
            assert_eq!(sheet, polars, "{name}");
            assert_eq!(
                sheet
                    .columns
                    .last()
                    .map(|c| (c.name.as_str(), c.cells.len())),
                Some(("time_started", sheet.height))
            );
        }
        Ok(())
    }

    #[test]
    fn the_sheet_path_writes_the_polars_paths_cells_on_awkward_sheets() -> TestResult {
        let dir = tempfile::tempdir()?;
        let awkward = dir.path().join("awkward.xlsx");
        let day = |d: i64| Some(d * 86_400_000_000);
        let mut frame = df!(
            "isin" => [Some("LU1"), None, Some("007")],
            "nav" => [Some(1.5), None, Some(-2.0)],
            "count" => [Some(3_i64), Some(4), None],
            "flag" => [Some(true), None, Some(false)],
            "note" => [None::<&str>, None, None],
        )?;
        let when = Column::new("when".into(), [day(20_000), None, day(20_001)])
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
        frame.with_column(when)?;
        Output::new(&awkward)?.write(frame.lazy(), &[])?;
        let header_only = dir.path().join("header_only.xlsx");
        Output::new(&header_only)?.write(df!("isin" => Vec::<&str>::new())?.lazy(), &[])?;
        for (input, extra) in [
            (&awkward, &[][..]),
            (&awkward, &["--column", "nav"]),
            (&header_only, &[]),
        ] {
            let (sheet, polars) = both_paths(input, extra)?;
            assert_eq!(sheet, polars, "{} {extra:?}", input.display());
        }
        Ok(())
    }
}
