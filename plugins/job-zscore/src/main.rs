//! `job-zscore`: the z-score of one numeric column, as a new column.

mod fast;
mod zscore;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use table_io::append::AppendOutcome;
use table_io::{
    Format, Input, InputArg, Output, OutputArg, Result, TableError, numeric_column, run_job,
};
use zscore::Stats;

/// Adds the z-score of a numeric column: (x - mean) / std.
///
/// The standard deviation is the population one by default (ddof 0), as
/// scipy.stats.zscore computes it. Empty cells and NaN are missing values:
/// they are left out of the mean and std and get an empty z-score. A column
/// whose std is 0 (all values equal) gets a z-score of 0 on every row.
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

    /// The numeric column to score.
    #[arg(long, value_name = "NAME", default_value = "nav")]
    column: String,

    /// The column that receives the z-score [default: z_score_<COLUMN>].
    #[arg(long, value_name = "NAME")]
    into: Option<String>,

    /// Delta degrees of freedom of the standard deviation: 0 for the
    /// population std (scipy's default), 1 for the sample std (pandas').
    #[arg(long, value_name = "N", default_value_t = 0)]
    ddof: u8,
}

fn main() -> ExitCode {
    let args = Args::parse();
    run_job(|| run(&args))
}

fn run(args: &Args) -> Result<()> {
    let output = Output::new(&args.output.path)?;
    Input::check(&args.input.path)?;
    let into = args
        .into
        .clone()
        .unwrap_or_else(|| format!("z_score_{}", args.column));
    let stats = match fast_path(args, &output, &into)? {
        Some(stats) => stats,
        None => general_path(args, &output, &into)?,
    };
    eprintln!(
        "job-zscore: wrote `{}`: {} values of `{}`, mean {}, std {} (ddof {})",
        output.path().display(),
        stats.count,
        args.column,
        stats.mean,
        stats.std,
        args.ddof
    );
    Ok(())
}

/// CSV to CSV by streaming bytes, without polars; `None` when the input is
/// not plain enough for it and nothing was written.
fn fast_path(args: &Args, output: &Output, into: &str) -> Result<Option<Stats>> {
    if Format::of(&args.input.path)? != Format::Csv || Format::of(output.path())? != Format::Csv {
        return Ok(None);
    }
    let Some((index, moments)) = fast::moments(&args.input.path, &args.column)? else {
        return Ok(None);
    };
    let stats = moments
        .stats(args.ddof)
        .ok_or_else(|| too_few_values(&args.input.path, args))?;
    let appended = fast::append_scores(&args.input.path, output, index, into, |x| stats.score(x))?;
    Ok((appended == AppendOutcome::Written).then_some(stats))
}

/// Any format through polars: statistics in one streaming pass, scores in
/// a second.
fn general_path(args: &Args, output: &Output, into: &str) -> Result<Stats> {
    let input = Input::open(&args.input.path)?;
    let values = numeric_column(&input, &args.column, "--column")?;
    let stats = Stats::of(input.frame(), values.clone(), args.ddof)
        .map_err(|error| table_io::input_error(&input, &error))?
        .ok_or_else(|| too_few_values(input.path(), args))?;
    output.write(stats.apply(input.frame(), values, into), &[&input])?;
    Ok(stats)
}

fn too_few_values(input: &Path, args: &Args) -> TableError {
    TableError::invalid_data(format!(
        "`{}`: column `{}` has too few values for a z-score with ddof {} (it needs at least {})",
        input.display(),
        args.column,
        args.ddof,
        u32::from(args.ddof) + 1
    ))
    .with_hint("check that the file has data rows with numbers in the column; empty cells and NaN do not count")
}
