//! The transform: one datetime column, the same instant on every row.

use chrono::{DateTime, Utc};
use polars::prelude::*;

/// `frame` with `column` set to `at` on every row, as a naive UTC datetime
/// to the microsecond (polars is built without time zones; UTC by convention).
pub fn add_timestamp(frame: LazyFrame, column: &str, at: DateTime<Utc>) -> LazyFrame {
    let instant = lit(at.timestamp_micros())
        .cast(DataType::Datetime(TimeUnit::Microseconds, None))
        .alias(column);
    frame.with_column(instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PolarsResult<DataFrame> {
        df!("isin" => ["LU1", "LU2"], "nav" => [1.5, 2.5])
    }

    #[test]
    fn every_row_gets_the_same_instant() -> PolarsResult<()> {
        let at = DateTime::from_timestamp_micros(1_763_800_000_123_456).unwrap_or_default();
        let out = add_timestamp(sample()?.lazy(), "time_started", at).collect()?;
        let micros = out.column("time_started")?.to_physical_repr();
        let micros: Vec<Option<i64>> = micros.i64()?.iter().collect();
        assert_eq!(micros, vec![Some(1_763_800_000_123_456); 2]);
        assert_eq!(
            out.get_column_names()
                .iter()
                .map(|name| name.as_str())
                .collect::<Vec<_>>(),
            ["isin", "nav", "time_started"]
        );
        Ok(())
    }

    #[test]
    fn an_existing_column_is_replaced_in_place() -> PolarsResult<()> {
        let at = DateTime::from_timestamp_micros(0).unwrap_or_default();
        let out = add_timestamp(sample()?.lazy(), "nav", at).collect()?;
        assert_eq!(
            out.get_column_names()
                .iter()
                .map(|name| name.as_str())
                .collect::<Vec<_>>(),
            ["isin", "nav"]
        );
        assert!(matches!(
            out.column("nav")?.dtype(),
            DataType::Datetime(_, None)
        ));
        Ok(())
    }
}
