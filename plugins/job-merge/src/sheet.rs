//! The xlsx-to-xlsx merge without polars: both sheets as calamine reads
//! them, joined on a text key in plain vectors, written by rust_xlsxwriter.
//!
//! A workbook is read and written whole on either path; polars' join only
//! added its thread pool and async runtime, several times the work of a
//! one-sheet merge (docs/performance.md, "Start-up"). The result equals the
//! polars path's cell for cell (`MergeSpec::merge`: left order kept,
//! B's clashing columns suffixed `_right`, the earlier time kept, fills on
//! every empty cell of their column). Whatever it does not reproduce
//! exactly (keys that are not text on both sides, a repeated or empty right
//! key, a fill or time column of another type) makes it step aside before
//! writing, and the polars path runs, reporting the errors in its words.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use table_io::append::AppendOutcome;
use table_io::{Cells, Format, Output, Result, Sheet, SheetColumn};

use crate::fill::Fill;
use crate::merge::{DEFAULT_EARLIEST, DEFAULT_FILL, RIGHT_SUFFIX};
use crate::stream::Request;

/// Merges xlsx to xlsx, or returns [`AppendOutcome::NotApplicable`] without
/// output when the polars path must run instead.
pub fn merge(request: &Request<'_>, output: &Output) -> Result<AppendOutcome> {
    let xlsx = |path| Format::of(path).map(|format| format == Format::Xlsx);
    if !(xlsx(request.left)? && xlsx(request.right)? && output.format() == Format::Xlsx) {
        return Ok(AppendOutcome::NotApplicable);
    }
    let left = Sheet::read(request.left)?;
    let right = Sheet::read(request.right)?;
    let Some(merged) = join(request, &left, &right) else {
        return Ok(AppendOutcome::NotApplicable);
    };
    output.write_sheet(&merged)?;
    Ok(AppendOutcome::Written)
}

/// The left join of the two sheets, or `None` where it would not be the
/// polars path's.
fn join(request: &Request<'_>, left: &Sheet, right: &Sheet) -> Option<Sheet> {
    let rows = matches(text_key(left, request.on)?, text_key(right, request.on)?)?;
    let earliest = earliest_column(request, left, right)?;
    let mut columns = left.columns.clone();
    for column in right.columns.iter().filter(|c| c.name != request.on) {
        let taken = column.cells.take(&rows);
        if Some(column.name.as_str()) == earliest {
            let kept = columns.iter_mut().find(|c| c.name == column.name)?;
            kept.cells = earlier(&kept.cells, &taken)?;
            continue;
        }
        let name = if left.column(&column.name).is_some() {
            format!("{}{RIGHT_SUFFIX}", column.name)
        } else {
            column.name.clone()
        };
        if columns.iter().any(|c| c.name == name) {
            return None;
        }
        columns.push(SheetColumn { name, cells: taken });
    }
    for fill in fills(request, right) {
        let target = if left.column(&fill.column).is_some() {
            format!("{}{RIGHT_SUFFIX}", fill.column)
        } else {
            fill.column.clone()
        };
        let column = columns.iter_mut().find(|c| c.name == target)?;
        column.cells = filled(&column.cells, &fill.value)?;
    }
    Some(Sheet {
        columns,
        height: left.height,
        first_data_row: left.first_data_row,
    })
}

/// The key column's cells, when they are text.
fn text_key<'a>(sheet: &'a Sheet, on: &str) -> Option<&'a [Option<String>]> {
    match &sheet.column(on)?.cells {
        Cells::Text(keys) => Some(keys),
        _ => None,
    }
}

/// For every left row, the right row with its key; `None` when a right key
/// is empty or repeated (the polars path names the repeat).
fn matches(left: &[Option<String>], right: &[Option<String>]) -> Option<Vec<Option<usize>>> {
    let mut index = HashMap::with_capacity(right.len());
    for (row, key) in right.iter().enumerate() {
        match index.entry(key.as_deref()?) {
            Entry::Occupied(_) => return None,
            Entry::Vacant(slot) => {
                slot.insert(row);
            }
        }
    }
    Some(
        left.iter()
            .map(|key| index.get(key.as_deref()?).copied())
            .collect(),
    )
}

/// The column of which the earlier time is kept, `Some(None)` for none, as
/// `MergeSpec::resolve` picks it; `None` when it is not a time on both sides.
fn earliest_column<'a>(
    request: &Request<'a>,
    left: &Sheet,
    right: &Sheet,
) -> Option<Option<&'a str>> {
    let name = request.earliest.unwrap_or(DEFAULT_EARLIEST);
    let both = (left.column(name), right.column(name));
    match both {
        (Some(l), Some(r)) => match (&l.cells, &r.cells) {
            (Cells::Datetime(_), Cells::Datetime(_)) => Some(Some(name)),
            _ => None,
        },
        _ if request.earliest.is_none() => Some(None),
        _ => None,
    }
}

/// The earlier of two time columns, row by row; an empty cell yields the
/// other side's.
fn earlier(left: &Cells, right: &Cells) -> Option<Cells> {
    let (Cells::Datetime(left), Cells::Datetime(right)) = (left, right) else {
        return None;
    };
    let pairs = left.iter().zip(right);
    Some(Cells::Datetime(
        pairs
            .map(|(l, r)| match (l, r) {
                (Some(l), Some(r)) => Some(*l.min(r)),
                (l, r) => l.or(*r),
            })
            .collect(),
    ))
}

/// The fills asked for, or the default one when B has its column.
fn fills(request: &Request<'_>, right: &Sheet) -> Vec<Fill> {
    if !request.fills.is_empty() {
        return request.fills.to_vec();
    }
    let (column, value) = DEFAULT_FILL;
    right
        .column(column)
        .map(|_| Fill {
            column: column.to_string(),
            value: value.to_string(),
        })
        .into_iter()
        .collect()
}

/// `cells` with every empty cell set to `value`, typed as `Fill::literal`
/// types it; `None` when the value does not parse as the column's type.
fn filled(cells: &Cells, value: &str) -> Option<Cells> {
    fn fill<T: Clone>(cells: &[Option<T>], value: T) -> Vec<Option<T>> {
        cells
            .iter()
            .map(|cell| cell.clone().or_else(|| Some(value.clone())))
            .collect()
    }
    Some(match cells {
        Cells::Integer(cells) => Cells::Integer(fill(cells, value.parse().ok()?)),
        Cells::Float(cells) => Cells::Float(fill(cells, value.parse().ok()?)),
        Cells::Boolean(cells) => Cells::Boolean(fill(cells, value.parse().ok()?)),
        Cells::Text(cells) => Cells::Text(fill(cells, value.to_string())),
        Cells::Datetime(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use clap::Parser;
    use polars::prelude::*;

    use super::*;
    use crate::{Args, polars_path};

    type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

    fn args(left: &Path, right: &Path, output: &Path, extra: &[&str]) -> TestResult<Args> {
        let mut command: Vec<PathBuf> = vec!["job-merge".into(), "--input".into(), left.into()];
        command.extend([
            "--right".into(),
            right.into(),
            "--output".into(),
            output.into(),
        ]);
        command.extend(extra.iter().map(PathBuf::from));
        Ok(Args::try_parse_from(command)?)
    }

    /// The outputs of the sheet path and of the polars path for the same
    /// run, as calamine reads them back; `None` where the sheet path stepped
    /// aside.
    fn both_paths(left: &Path, right: &Path, extra: &[&str]) -> TestResult<Option<(Sheet, Sheet)>> {
        let dir = tempfile::tempdir()?;
        let sheet_output = Output::new(&dir.path().join("sheet.xlsx"))?;
        let sheet_args = args(left, right, sheet_output.path(), extra)?;
        if merge(&sheet_args.request(), &sheet_output)? == AppendOutcome::NotApplicable {
            return Ok(None);
        }
        let polars_output = Output::new(&dir.path().join("polars.xlsx"))?;
        polars_path(
            &args(left, right, polars_output.path(), extra)?,
            &polars_output,
        )?;
        Ok(Some((
            Sheet::read(sheet_output.path())?,
            Sheet::read(polars_output.path())?,
        )))
    }

    fn workbook(dir: &Path, name: &str, mut frame: DataFrame) -> TestResult<PathBuf> {
        let path = dir.join(name);
        if frame
            .get_column_names()
            .iter()
            .any(|c| c.as_str() == "time_started")
        {
            let times = frame
                .column("time_started")?
                .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
            frame.with_column(times)?;
        }
        Output::new(&path)?.write(frame.lazy(), &[])?;
        Ok(path)
    }

    fn shipped_sample(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../flow-config/source")
            .join(name)
    }

    #[test]
    fn the_sheet_path_writes_the_polars_paths_cells() -> TestResult {
        let dir = tempfile::tempdir()?;
        let hour = 3_600_000_000_i64;
        let left = workbook(
            dir.path(),
            "left.xlsx",
            df!(
                "isin" => [Some("C"), Some("A"), None, Some("B"), Some("D")],
                "nav" => [Some(3.0), None, Some(9.0), Some(2.0), Some(4.0)],
                "time_started" => [Some(2 * hour), Some(hour), None, None, Some(hour)],
            )?,
        )?;
        let right = workbook(
            dir.path(),
            "right.xlsx",
            df!(
                "isin" => ["A", "B", "C", "E"],
                "nav" => [Some(10.5), None, Some(30.0), Some(50.0)],
                "subscriptions" => [Some(500_i64), None, Some(7), Some(1)],
                "note" => [Some("x"), None, None, Some("y")],
                "time_started" => [Some(0), Some(hour), Some(3 * hour), None],
            )?,
        )?;
        let runs: [(&Path, &Path, &[&str]); 4] = [
            (
                &shipped_sample("File_A.xlsx"),
                &shipped_sample("File_B.xlsx"),
                &[],
            ),
            (&left, &right, &[]),
            (&left, &right, &["--fill", "nav=1.5", "--fill", "note=none"]),
            (
                &left,
                &right,
                &["--earliest", "time_started", "--fill", "subscriptions=-1"],
            ),
        ];
        for (left, right, extra) in runs {
            let Some((sheet, polars)) = both_paths(left, right, extra)? else {
                panic!("the sheet path stepped aside for {extra:?}");
            };
            assert_eq!(sheet, polars, "{extra:?}");
        }
        Ok(())
    }

    #[test]
    fn what_the_polars_path_words_or_casts_is_left_to_it() -> TestResult {
        let dir = tempfile::tempdir()?;
        let left = workbook(
            dir.path(),
            "left.xlsx",
            df!("isin" => ["A", "B"], "n" => [1_i64, 2])?,
        )?;
        let repeated = workbook(dir.path(), "repeated.xlsx", df!("isin" => ["A", "A"])?)?;
        let empty_key = workbook(
            dir.path(),
            "empty.xlsx",
            df!("isin" => [None, Some("A")], "s" => [1_i64, 2])?,
        )?;
        let numeric_key = workbook(dir.path(), "numeric.xlsx", df!("isin" => [1_i64, 2])?)?;
        let runs: [(&Path, &[&str]); 5] = [
            (&repeated, &[]),
            (&empty_key, &[]),
            (&numeric_key, &[]),
            (&left, &["--fill", "n=x"]),
            (&left, &["--earliest", "n"]),
        ];
        for (right, extra) in runs {
            assert!(
                both_paths(&left, right, extra)?.is_none(),
                "{} {extra:?}",
                right.display()
            );
        }
        Ok(())
    }
}
