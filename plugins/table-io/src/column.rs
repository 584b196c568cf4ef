//! Column lookups with the messages users need: which columns exist, and
//! which row holds a value that is not a number.

use polars::prelude::*;

use crate::{Input, Result, TableError};

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
