//! Column lookups with the messages users need: which columns exist, which
//! row holds a value that is not a number, which rows repeat a key.

use polars::prelude::*;

use crate::{Input, Result, TableError};

/// How many rows a message lists.
const ROWS_SHOWN: usize = 5;

/// A value that appears in more than one row of a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeated {
    /// The value, as text.
    pub value: String,
    /// How many rows hold it.
    pub count: usize,
    /// The first rows that hold it, at most five, as users number them.
    pub rows: Vec<usize>,
}

impl Repeated {
    /// "rows 2, 4", or "rows 2, 4, 6, 8, 10, …" when there are more.
    pub fn row_list(&self) -> String {
        row_list(self.rows.iter().copied(), self.count)
    }
}

/// "row 3", "rows 2, 5" or "rows 2, 5, 7, 8, 9, …": the first of `total`
/// rows, numbered as users number them.
pub fn row_list(rows: impl IntoIterator<Item = usize>, total: usize) -> String {
    let shown: Vec<String> = rows
        .into_iter()
        .take(ROWS_SHOWN)
        .map(|row| row.to_string())
        .collect();
    let more = if total > shown.len() { ", …" } else { "" };
    let noun = if total == 1 { "row" } else { "rows" };
    format!("{noun} {}{more}", shown.join(", "))
}

/// Of the values of `column` that appear more than once (missing values
/// aside), the one that appears first; `None` when every value is unique.
/// It reads the input twice, so callers run it once a cheaper check has
/// found a repeat.
pub fn first_repeated(input: &Input, column: &str) -> Result<Option<Repeated>> {
    let explain = |error: PolarsError| input_error(input, &error);
    let repeated = input
        .frame()
        .with_row_index("index", None)
        .filter(col(column).is_not_null())
        .group_by([col(column)])
        .agg([col("index").min().alias("first"), len().alias("count")])
        .filter(col("count").gt(lit(1)))
        .sort(["first"], SortMultipleOptions::default())
        .select([col(column).cast(DataType::String), col("count")])
        .first()
        .collect()
        .map_err(explain)?;
    let value = repeated
        .column(column)
        .ok()
        .and_then(|c| c.str().ok()?.iter().next().flatten().map(str::to_string));
    let Some(value) = value else {
        return Ok(None);
    };
    let count = repeated
        .column("count")
        .ok()
        .and_then(|c| c.idx().ok()?.iter().next().flatten())
        .map_or(2, |count| count as usize);
    let rows = input
        .frame()
        .with_row_index("index", None)
        .filter(col(column).cast(DataType::String).eq(lit(value.as_str())))
        .select([col("index")])
        .limit(ROWS_SHOWN as IdxSize)
        .collect()
        .map_err(explain)?;
    let rows = rows
        .column("index")
        .ok()
        .and_then(|c| {
            c.idx()
                .ok()
                .map(|ids| ids.iter().flatten().collect::<Vec<_>>())
        })
        .unwrap_or_default()
        .into_iter()
        .map(|index| input.row_number(index as usize))
        .collect();
    Ok(Some(Repeated { value, count, rows }))
}

/// The type of `name` in `input`, or an error that lists the columns that
/// exist; `flag` is the option that names the column, for the hint.
pub fn find_column(input: &Input, name: &str, flag: &str) -> Result<DataType> {
    if let Some(dtype) = input.schema().get(name) {
        return Ok(dtype.clone());
    }
    let closest = input
        .schema()
        .iter_names()
        .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance);
    let hint = match closest {
        Some((_, candidate)) => {
            format!("did you mean `{candidate}`? pass it with `{flag} {candidate}`")
        }
        None => format!("pass one of the columns above with `{flag}`"),
    };
    Err(TableError::invalid_data(format!(
        "`{}` has no column `{name}`; its columns are {}",
        input.path().display(),
        input.column_list()
    ))
    .with_hint(hint))
}

/// An expression for column `name` as `Float64`, after checking that every
/// value in it is a number. Empty cells stay missing (null). Text that is not
/// a number is an error naming its row.
pub fn numeric_column(input: &Input, name: &str, flag: &str) -> Result<Expr> {
    let dtype = find_column(input, name, flag)?;
    if dtype.is_primitive_numeric() {
        return Ok(col(name).cast(DataType::Float64));
    }
    if dtype != DataType::String {
        return Err(TableError::invalid_data(format!(
            "`{}`: column `{name}` holds {dtype} values, not numbers",
            input.path().display()
        ))
        .with_hint(format!("name a numeric column with `{flag}`")));
    }
    if let Some((index, value)) = first_non_number(input, name)? {
        return Err(TableError::invalid_data(format!(
            "`{}`: column `{name}`, row {}: {value:?} is not a number",
            input.path().display(),
            input.row_number(index)
        ))
        .with_hint("fix the value, or leave the cell empty to mark it missing"));
    }
    Ok(col(name).cast(DataType::Float64))
}

/// The index and text of the first non-empty value of a text column that
/// does not parse as a number.
fn first_non_number(input: &Input, name: &str) -> Result<Option<(usize, String)>> {
    let text = col(name);
    let not_a_number = text
        .clone()
        .is_not_null()
        .and(text.cast(DataType::Float64).is_null());
    first_match(input.frame(), name, not_a_number).map_err(|error| input_error(input, &error))
}

/// The 0-based index and the text of the first row of `frame` where
/// `condition` holds, `name` being a text column.
pub(crate) fn first_match(
    frame: LazyFrame,
    name: &str,
    condition: Expr,
) -> PolarsResult<Option<(usize, String)>> {
    let found = frame
        .with_row_index("index", None)
        .filter(condition)
        .select([col("index"), col(name)])
        .first()
        .collect()?;
    if found.height() == 0 {
        return Ok(None);
    }
    let index = found.column("index")?.idx()?.iter().next().flatten();
    let value = found
        .column(name)?
        .str()?
        .iter()
        .next()
        .flatten()
        .map(str::to_string);
    Ok(index
        .zip(value)
        .map(|(index, value)| (index as usize, value)))
}

/// The error for a polars failure while reading `input`, located when possible.
pub fn input_error(input: &Input, error: &PolarsError) -> TableError {
    input.explain(error).unwrap_or_else(|| {
        TableError::invalid_data(format!("cannot read `{}`", input.path().display()))
            .caused_by(error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_at_most_five_rows_and_says_when_there_are_more() {
        assert_eq!(row_list([3], 1), "row 3");
        assert_eq!(row_list([2, 4], 2), "rows 2, 4");
        assert_eq!(row_list(2..9, 7), "rows 2, 3, 4, 5, 6, …");
    }
}
