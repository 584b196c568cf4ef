//! The transform: a left join that never fans out, with fill values and the
//! earlier of two timestamps.

use polars::lazy::dsl::min_horizontal;
use polars::prelude::*;
use std::path::Path;

use table_io::{Input, Repeated, Result, TableError, find_column, first_repeated};

use crate::fill::Fill;

/// The suffix polars gives to right-hand columns whose name the left has.
pub(crate) const RIGHT_SUFFIX: &str = "_right";
pub(crate) const DEFAULT_FILL: (&str, &str) = ("subscriptions", "0");
pub(crate) const DEFAULT_EARLIEST: &str = "time_started";

/// A merge checked against the two tables' schemas.
pub struct MergeSpec {
    /// The key column.
    pub on: String,
    /// The type both keys are cast to when their types differ.
    key_type: Option<DataType>,
    /// Result column and typed fill value.
    fills: Vec<(String, Expr)>,
    /// The column of which the earlier value is kept, when both sides have it.
    earliest: Option<String>,
    /// The left's type of that column, for a right column read as text
    /// because it is all empty (a File_B without rows).
    earliest_cast: Option<DataType>,
}

impl MergeSpec {
    /// Checks the options against the tables. Explicit options must name
    /// columns that exist; the defaults apply only where their columns exist.
    pub fn resolve(
        left: &Input,
        right: &Input,
        on: &str,
        fills: Vec<Fill>,
        earliest: Option<String>,
    ) -> Result<Self> {
        let left_key = find_column(left, on, "--on")?;
        let right_key = find_column(right, on, "--on")?;
        let key_type = common_key_type(&left_key, &right_key);
        let fills = if fills.is_empty() {
            default_fills(right)
        } else {
            for fill in &fills {
                find_column(right, &fill.column, "--fill")?;
            }
            fills
        };
        let fills = fills
            .iter()
            .map(|fill| typed_fill(left, right, fill))
            .collect::<Result<Vec<_>>>()?;
        let earliest = match earliest {
            Some(column) => {
                find_column(left, &column, "--earliest")?;
                find_column(right, &column, "--earliest")?;
                Some(column)
            }
            None => {
                let in_both = left.schema().contains(DEFAULT_EARLIEST)
                    && right.schema().contains(DEFAULT_EARLIEST);
                in_both.then(|| DEFAULT_EARLIEST.to_string())
            }
        };
        let earliest_cast = earliest
            .as_deref()
            .and_then(|column| right_cast(left, right, column));
        Ok(Self {
            on: on.to_string(),
            key_type,
            fills,
            earliest,
            earliest_cast,
        })
    }

    /// The left join of `left` with `right`, filled, with the earlier
    /// timestamp kept. Keys of `right` must have been checked unique.
    pub fn merge(&self, left: LazyFrame, right: LazyFrame) -> LazyFrame {
        let key = match &self.key_type {
            Some(dtype) => col(self.on.as_str()).cast(dtype.clone()),
            None => col(self.on.as_str()),
        };
        // The join itself refuses a repeated right key (m:1), so that the
        // check costs no pass of its own; `check_unique_keys` then names it.
        let args = JoinArgs {
            maintain_order: MaintainOrderJoin::Left,
            validation: JoinValidation::ManyToOne,
            ..JoinArgs::new(JoinType::Left)
        };
        let right = match (&self.earliest, &self.earliest_cast) {
            (Some(column), Some(dtype)) => {
                right.with_column(col(column.as_str()).strict_cast(dtype.clone()))
            }
            _ => right,
        };
        let mut joined = left.join(right, [key.clone()], [key], args);
        if let Some(column) = &self.earliest {
            joined = keep_earliest(joined, column);
        }
        let filled: Vec<Expr> = self
            .fills
            .iter()
            .map(|(column, value)| col(column.as_str()).fill_null(value.clone()))
            .collect();
        joined.with_columns(filled)
    }
}

/// Keys of different types are compared as numbers when both are numeric
/// (an xlsx reads whole numbers as integers), else as text.
fn common_key_type(left: &DataType, right: &DataType) -> Option<DataType> {
    if left == right {
        None
    } else if left.is_primitive_numeric() && right.is_primitive_numeric() {
        Some(DataType::Float64)
    } else {
        Some(DataType::String)
    }
}

/// The type the right's `column` is cast to: the left's, when the left's is
/// a time and the right's text (no values to infer a time from; a value
/// that is not one still fails the cast).
fn right_cast(left: &Input, right: &Input, column: &str) -> Option<DataType> {
    let left_type = left.schema().get(column)?;
    let right_type = right.schema().get(column)?;
    (right_type == &DataType::String && left_type.is_temporal()).then(|| left_type.clone())
}

fn default_fills(right: &Input) -> Vec<Fill> {
    let (column, value) = DEFAULT_FILL;
    if right.schema().contains(column) {
        vec![Fill {
            column: column.to_string(),
            value: value.to_string(),
        }]
    } else {
        Vec::new()
    }
}

/// The result column a fill applies to (suffixed when the left has a column
/// of the same name) and its typed value.
fn typed_fill(left: &Input, right: &Input, fill: &Fill) -> Result<(String, Expr)> {
    let dtype = find_column(right, &fill.column, "--fill")?;
    let column = if left.schema().contains(&fill.column) {
        format!("{}{RIGHT_SUFFIX}", fill.column)
    } else {
        fill.column.clone()
    };
    Ok((column, fill.literal(&dtype)?))
}

/// Replaces `column` with the earlier of the left and right values; a
/// missing value on either side yields the other.
fn keep_earliest(joined: LazyFrame, column: &str) -> LazyFrame {
    let right_column = format!("{column}{RIGHT_SUFFIX}");
    let left = col(column);
    let right = col(right_column.as_str());
    let earlier = min_horizontal([left.clone(), right.clone()]).unwrap_or_else(|_| {
        when(right.clone().lt(left.clone()))
            .then(right)
            .otherwise(left)
    });
    joined
        .with_column(earlier.alias(column))
        .drop(Selector::ByName {
            names: Arc::new([right_column.into()]),
            strict: false,
        })
}

/// Fails with exit 3 when a key appears more than once in `right`, naming the
/// first such key in file order and the rows that hold it. A pass over the
/// right table: run it only once the join has refused.
pub fn check_unique_keys(right: &Input, on: &str) -> Result<()> {
    let Some(repeated) = first_repeated(right, on)? else {
        return Ok(());
    };
    Err(repeated_key_error(right.path(), on, &repeated))
}

/// The error for a key that appears more than once in the right table at
/// `path`, shared by the polars path and the streaming one.
pub fn repeated_key_error(path: &Path, on: &str, repeated: &Repeated) -> TableError {
    TableError::invalid_data(format!(
        "`{}`: key `{on}` value {:?} appears {} times ({}); a key must be unique in the right table",
        path.display(),
        repeated.value,
        repeated.count,
        repeated.row_list()
    ))
    .with_hint(format!(
        "remove the repeated rows from `{}`, or join on a column that is unique there with `--on`",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(fills: Vec<(&str, Expr)>, earliest: Option<&str>) -> MergeSpec {
        MergeSpec {
            on: "isin".into(),
            key_type: None,
            fills: fills.into_iter().map(|(c, v)| (c.to_string(), v)).collect(),
            earliest: earliest.map(str::to_string),
            earliest_cast: None,
        }
    }

    #[test]
    fn keeps_every_left_row_in_order_and_fills_the_unmatched() -> PolarsResult<()> {
        let left = df!("isin" => ["C", "A", "B"], "nav" => [3.0, 1.0, 2.0])?;
        let right = df!("isin" => ["A", "C"], "subscriptions" => [10_i64, 30])?;
        let merged = spec(vec![("subscriptions", lit(0_i64))], None)
            .merge(left.lazy(), right.lazy())
            .collect()?;
        let keys: Vec<Option<&str>> = merged.column("isin")?.str()?.iter().collect();
        let subs: Vec<Option<i64>> = merged.column("subscriptions")?.i64()?.iter().collect();
        assert_eq!(keys, [Some("C"), Some("A"), Some("B")]);
        assert_eq!(subs, [Some(30), Some(10), Some(0)]);
        Ok(())
    }

    #[test]
    fn the_earlier_timestamp_wins_and_a_missing_one_yields_the_other() -> PolarsResult<()> {
        let datetime = DataType::Datetime(TimeUnit::Microseconds, None);
        let left = df!("isin" => ["A", "B", "C"], "time_started" => [5_i64, 5, 5])?
            .lazy()
            .with_column(col("time_started").cast(datetime.clone()));
        let right = df!("isin" => ["A", "B"], "time_started" => [3_i64, 9])?
            .lazy()
            .with_column(col("time_started").cast(datetime));
        let merged = spec(vec![], Some("time_started"))
            .merge(left, right)
            .collect()?;
        let times = merged.column("time_started")?.to_physical_repr();
        let times: Vec<Option<i64>> = times.i64()?.iter().collect();
        assert_eq!(times, [Some(3), Some(5), Some(5)]);
        assert_eq!(
            merged
                .get_column_names()
                .iter()
                .map(|name| name.as_str())
                .collect::<Vec<_>>(),
            ["isin", "time_started"]
        );
        Ok(())
    }

    #[test]
    fn an_all_empty_right_time_column_yields_the_left_times() -> PolarsResult<()> {
        let datetime = DataType::Datetime(TimeUnit::Microseconds, None);
        let left = df!("isin" => ["A", "B"], "time_started" => [5_i64, 7])?
            .lazy()
            .with_column(col("time_started").cast(datetime.clone()));
        let right = df!("isin" => ["A"], "time_started" => [None::<&str>])?.lazy();
        let merge = MergeSpec {
            earliest_cast: Some(datetime),
            ..spec(vec![], Some("time_started"))
        };
        let merged = merge.merge(left, right).collect()?;
        let times = merged.column("time_started")?.to_physical_repr();
        let times: Vec<Option<i64>> = times.i64()?.iter().collect();
        assert_eq!(times, [Some(5), Some(7)]);
        Ok(())
    }

    #[test]
    fn a_repeated_right_key_fails_the_join() -> PolarsResult<()> {
        let left = df!("isin" => ["A"])?;
        let right = df!("isin" => ["A", "A"], "subscriptions" => [1_i64, 2])?;
        let merged = spec(vec![], None)
            .merge(left.lazy(), right.lazy())
            .collect();
        assert!(merged.is_err());
        Ok(())
    }

    #[test]
    fn keys_of_different_numeric_types_are_compared_as_numbers() {
        assert_eq!(
            common_key_type(&DataType::Int64, &DataType::Float64),
            Some(DataType::Float64)
        );
        assert_eq!(
            common_key_type(&DataType::Int64, &DataType::String),
            Some(DataType::String)
        );
        assert_eq!(common_key_type(&DataType::String, &DataType::String), None);
    }
}
