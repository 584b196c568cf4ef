//! `job-merge`: left join of two tables on a key.

mod blocks;
mod cell;
mod fill;
mod layout;
mod merge;
mod right_index;
mod schema;
mod sheet;
mod stream;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use table_io::append::AppendOutcome;
use table_io::{Input, Output, OutputArg, Result, run_job};

use crate::fill::Fill;
use crate::merge::MergeSpec;

/// Left join of the input (A) with the right table (B) on a key.
///
/// Every row of A is kept once, in its order. Rows of A without a match in B
/// get the fill values. Where both sides carry the --earliest column, the
/// earlier of the two values is kept. A key that appears more than once in B
/// is an error (exit 3), never a silent fan-out. Other columns that both
/// sides carry are kept, B's with the suffix `_right`.
///
/// Reads .csv, .xlsx (first sheet) or .parquet and writes the format the
/// output's extension names, atomically. Exit codes: 0 done, 2 usage,
/// 3 invalid input data, 4 a file could not be read or written.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The left table (A): a .csv, .xlsx or .parquet file.
    #[arg(long, value_name = "PATH")]
    input: PathBuf,

    /// The right table (B), joined onto A.
    #[arg(long, value_name = "PATH")]
    right: PathBuf,

    #[command(flatten)]
    output: OutputArg,

    /// The key column, present in both tables; unique in the right one.
    #[arg(long, value_name = "COLUMN", default_value = "isin")]
    on: String,

    /// The value a column of B takes on rows of A without a match;
    /// repeatable. [default: subscriptions=0, when B has that column]
    #[arg(long, value_name = "COLUMN=VALUE", value_parser = Fill::parse)]
    fill: Vec<Fill>,

    /// A column both tables carry of which the earlier value is kept.
    /// [default: time_started, when both tables have it]
    #[arg(long, value_name = "COLUMN")]
    earliest: Option<String>,
}

impl Args {
    /// What the streaming merge is asked to do.
    fn request(&self) -> stream::Request<'_> {
        stream::Request {
            left: &self.input,
            right: &self.right,
            on: &self.on,
            fills: &self.fill,
            earliest: self.earliest.as_deref(),
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    run_job(|| run(&args))
}

fn run(args: &Args) -> Result<()> {
    let output = Output::new(&args.output.path)?;
    let mut outcome = stream::merge(&args.request(), &output)?;
    if outcome == AppendOutcome::NotApplicable {
        outcome = sheet::merge(&args.request(), &output)?;
    }
    if outcome == AppendOutcome::NotApplicable {
        polars_path(args, &output)?;
    }
    eprintln!(
        "job-merge: wrote `{}`: `{}` left-joined with `{}` on `{}`",
        output.path().display(),
        args.input.display(),
        args.right.display(),
        args.on
    );
    Ok(())
}

/// Any formats, through polars' streaming engine.
fn polars_path(args: &Args, output: &Output) -> Result<()> {
    let left = Input::open(&args.input)?;
    let right = Input::open(&args.right)?;
    let spec = MergeSpec::resolve(
        &left,
        &right,
        &args.on,
        args.fill.clone(),
        args.earliest.clone(),
    )?;
    let written = output.write(spec.merge(left.frame(), right.frame()), &[&left, &right]);
    if let Err(error) = written {
        merge::check_unique_keys(&right, &spec.on)?;
        return Err(error);
    }
    Ok(())
}
