//! `job-zscore`: the z-score of one numeric column, as a new column.
//!
//! Three paths, the first that applies does the work: CSV to CSV streams
//! bytes (`fast.rs`), xlsx to xlsx works on the sheet as calamine reads it
//! (no polars, no threads), anything else goes through polars, which also
//! reports every problem the first two step aside for.

mod fast;
mod zscore;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use table_io::append::AppendOutcome;
use table_io::{
    Cells, Format, Input, InputArg, Output, OutputArg, Result, Sheet, TableError, numeric_column,
    run_job,
};
use zscore::{Moments, Stats};

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

impl Args {
    /// The column that receives the z-score.
    fn score_column(&self) -> String {
        self.into
            .clone()
            .unwrap_or_else(|| format!("z_score_{}", self.column))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    run_job(|| run(&args))
}

fn run(args: &Args) -> Result<()> {
    let output = Output::new(&args.output.path)?;
    Input::check(&args.input.path)?;
    let into = args.score_column();
    let mut stats = fast_path(args, &output, &into)?;
    if stats.is_none() {
        stats = sheet_path(args, &output, &into)?;
    }
    let stats = match stats {
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

/// xlsx to xlsx on the sheet's own columns, without polars; `None` when
/// the column is missing or not numeric (the general path reads text as
/// numbers where it can, and words the error otherwise) and nothing was
/// written. NaN and empty cells are missing, as in the general path.
fn sheet_path(args: &Args, output: &Output, into: &str) -> Result<Option<Stats>> {
    if Format::of(&args.input.path)? != Format::Xlsx || output.format() != Format::Xlsx {
        return Ok(None);
    }
    let mut sheet = Sheet::read(&args.input.path)?;
    let Some(values) = sheet
        .column(&args.column)
        .and_then(|column| column.cells.numbers())
    else {
        return Ok(None);
    };
    let mut moments = Moments::default();
    values
        .iter()
        .flatten()
        .filter(|x| !x.is_nan())
        .for_each(|x| moments.add(*x));
    let stats = moments
        .stats(args.ddof)
        .ok_or_else(|| too_few_values(&args.input.path, args))?;
    let scores = values
        .iter()
        .map(|x| x.filter(|x| !x.is_nan()).map(|x| stats.score(x)))
        .collect();
    sheet.set_column(into, Cells::Float(scores))?;
    output.write_sheet(&sheet)?;
    Ok(Some(stats))
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use polars::prelude::*;

    use super::*;

    type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

    fn args(input: &Path, output: &Path, extra: &[&str]) -> TestResult<(Args, Output)> {
        let mut command: Vec<PathBuf> = ["job-zscore", "--input"].map(PathBuf::from).into();
        command.extend([input.into(), "--output".into(), output.into()]);
        command.extend(extra.iter().map(PathBuf::from));
        Ok((Args::try_parse_from(command)?, Output::new(output)?))
    }

    /// The outputs of the sheet path and of the general path for the same
    /// run, as calamine reads them back; `None` where the sheet path stepped
    /// aside.
    fn both_paths(input: &Path, extra: &[&str]) -> TestResult<Option<(Sheet, Sheet)>> {
        let dir = tempfile::tempdir()?;
        let (sheet_args, sheet_output) = args(input, &dir.path().join("sheet.xlsx"), extra)?;
        let into = sheet_args.score_column();
        if sheet_path(&sheet_args, &sheet_output, &into)?.is_none() {
            return Ok(None);
        }
        let (general_args, general_output) = args(input, &dir.path().join("general.xlsx"), extra)?;
        general_path(&general_args, &general_output, &into)?;
        Ok(Some((
            Sheet::read(sheet_output.path())?,
            Sheet::read(general_output.path())?,
        )))
    }

    /// Equal sheets but for the scores, which agree to 1e-12 (Welford's
    /// moments against polars' sums), empty in the same cells.
    fn assert_same_cells(sheet: &Sheet, general: &Sheet, score: &str) {
        assert_eq!(sheet.height, general.height);
        let names = |s: &Sheet| s.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(sheet), names(general));
        for (ours, theirs) in sheet.columns.iter().zip(&general.columns) {
            if ours.name != score {
                assert_eq!(ours, theirs);
                continue;
            }
            let (Cells::Float(ours), Cells::Float(theirs)) = (&ours.cells, &theirs.cells) else {
                panic!("{score} is not a float column: {ours:?}");
            };
            for (a, b) in ours.iter().zip(theirs) {
                match (a, b) {
                    (Some(a), Some(b)) => assert!((a - b).abs() < 1e-12, "{a} != {b}"),
                    (a, b) => assert_eq!(a, b),
                }
            }
        }
    }

    fn shipped_sample() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../flow-config/source/File_A.xlsx")
    }

    fn workbook(dir: &Path, frame: DataFrame) -> TestResult<PathBuf> {
        let path = dir.join("in.xlsx");
        Output::new(&path)?.write(frame.lazy(), &[])?;
        Ok(path)
    }

    #[test]
    fn the_sheet_path_writes_the_general_paths_cells() -> TestResult {
        let dir = tempfile::tempdir()?;
        let awkward = workbook(
            dir.path(),
            df!(
                "isin" => [Some("LU1"), None, Some("007"), Some("LU4")],
                "nav" => [Some(1.5), None, Some(-2.0), Some(4.0)],
                "count" => [Some(3_i64), Some(4), None, Some(3)],
                "z_score_nav" => [Some("old"), None, None, None],
            )?,
        )?;
        let runs: [(&Path, &[&str], &str); 5] = [
            (&shipped_sample(), &[], "z_score_nav"),
            (&shipped_sample(), &["--ddof", "1"], "z_score_nav"),
            (&awkward, &[], "z_score_nav"),
            (&awkward, &["--column", "count"], "z_score_count"),
            (&awkward, &["--column", "count", "--into", "isin"], "isin"),
        ];
        for (input, extra, score) in runs {
            let Some((sheet, general)) = both_paths(input, extra)? else {
                panic!("the sheet path stepped aside for {extra:?}");
            };
            assert_same_cells(&sheet, &general, score);
        }
        Ok(())
    }

    #[test]
    fn text_and_missing_columns_are_left_to_the_general_path() -> TestResult {
        let dir = tempfile::tempdir()?;
        let input = workbook(
            dir.path(),
            df!("isin" => ["LU1", "LU2"], "nav" => ["1.5", "2"])?,
        )?;
        for extra in [&[][..], &["--column", "navs"], &["--column", "isin"]] {
            assert!(both_paths(&input, extra)?.is_none(), "{extra:?}");
        }
        Ok(())
    }

    #[test]
    fn too_few_values_is_the_general_paths_error() -> TestResult {
        let dir = tempfile::tempdir()?;
        let input = workbook(dir.path(), df!("nav" => [Some(1.0), None])?)?;
        let (args, output) = args(&input, &dir.path().join("z.xlsx"), &["--ddof", "1"])?;
        let sheet = sheet_path(&args, &output, "z").err().map(|e| e.to_string());
        let general = general_path(&args, &output, "z")
            .err()
            .map(|e| e.to_string());
        assert!(sheet.is_some());
        assert_eq!(sheet, general);
        assert!(!output.path().exists());
        Ok(())
    }
}
