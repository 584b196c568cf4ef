//! `job-timestamp`: adds the processing start time (UTC) to every row.
//!
//! The time is taken once, when the job starts, so every row of a file
//! carries the same instant; `--at` pins it for reproducible runs. CSV to
//! CSV takes the byte-streaming fast path of `table_io::append`; every other
//! pair of formats goes through polars.

mod timestamp;

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Parser;
use table_io::append::{AppendOutcome, append_column};
use table_io::{Input, InputArg, Output, OutputArg, Result, format_micros, run_job};

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
        let input = Input::open(&args.input.path)?;
        let frame = timestamp::add_timestamp(input.frame(), &args.column, at);
        output.write(frame, &[&input])?;
    }
    eprintln!(
        "job-timestamp: wrote `{}` with {} = {}",
        output.path().display(),
        args.column,
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    );
    Ok(())
}

fn parse_rfc3339(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|error| format!("{error}; write it as 2026-11-22T08:00:00Z"))
}
