//! `--fill COLUMN=VALUE`: parsed as text on the command line, typed once the
//! column's type is known.

use polars::prelude::*;
use table_io::{Result, TableError};

/// A fill value for rows of the left table that found no match.
#[derive(Debug, Clone, PartialEq)]
pub struct Fill {
    /// The column to fill.
    pub column: String,
    /// The value, as written on the command line.
    pub value: String,
}

impl Fill {
    /// Parses `COLUMN=VALUE`, as clap's value parser.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        match text.split_once('=') {
            Some((column, value)) if !column.is_empty() => Ok(Self {
                column: column.to_string(),
                value: value.to_string(),
            }),
            _ => Err(format!(
                "`{text}` is not COLUMN=VALUE; write it as, for example, subscriptions=0"
            )),
        }
    }

    /// The value as a literal of the column's type `dtype`.
    pub fn literal(&self, dtype: &DataType) -> Result<Expr> {
        let typed = match dtype {
            DataType::String => Some(lit(self.value.as_str())),
            DataType::Boolean => self.value.parse::<bool>().ok().map(lit),
            dtype if dtype.is_integer() => self
                .value
                .parse::<i64>()
                .ok()
                .map(|value| lit(value).cast(dtype.clone())),
            dtype if dtype.is_float() => self
                .value
                .parse::<f64>()
                .ok()
                .map(|value| lit(value).cast(dtype.clone())),
            _ => None,
        };
        typed.ok_or_else(|| {
            TableError::usage(format!(
                "`--fill {}={}`: {:?} is not a value of column `{}`, which holds {dtype} values",
                self.column, self.value, self.value, self.column
            ))
            .with_hint(format!(
                "give a {dtype} value, for example `--fill {}=0` for a number",
                self.column
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_column_and_value() {
        let fill = Fill::parse("subscriptions=0");
        assert_eq!(
            fill,
            Ok(Fill {
                column: "subscriptions".into(),
                value: "0".into()
            })
        );
        assert!(Fill::parse("subscriptions").is_err());
        assert!(Fill::parse("=0").is_err());
    }

    #[test]
    fn the_value_must_fit_the_column_type() {
        let fill = Fill {
            column: "subscriptions".into(),
            value: "none".into(),
        };
        let error = fill.literal(&DataType::Int64).err();
        assert_eq!(
            error.map(|error| error.exit_code()),
            Some(table_io::exit::USAGE)
        );
        assert!(fill.literal(&DataType::String).is_ok());
    }
}
