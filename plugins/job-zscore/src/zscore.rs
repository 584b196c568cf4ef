//! The transform: statistics of a column in one pass, the z-score in a second.
//!
//! Two passes instead of one window expression keep memory flat: each pass
//! streams, and only three numbers travel from the first to the second.

use polars::prelude::*;

/// Count, mean and standard deviation of the present values of a column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// How many values are present (neither empty nor NaN).
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    /// Their standard deviation with the requested ddof.
    pub std: f64,
}

/// Running count, mean and sum of squared deviations (Welford's method:
/// one pass, no cancellation on large values such as a nav in millions).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    count: u64,
    mean: f64,
    squares: f64,
}

impl Moments {
    /// Adds one present value.
    pub fn add(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.squares += delta * (x - self.mean);
    }

    /// The statistics with `ddof`, or `None` when fewer than `ddof + 1`
    /// values were added.
    pub fn stats(&self, ddof: u8) -> Option<Stats> {
        (self.count > u64::from(ddof)).then(|| Stats {
            count: self.count,
            mean: self.mean,
            std: (self.squares / (self.count - u64::from(ddof)) as f64).sqrt(),
        })
    }
}

impl Stats {
    /// The z-score of one value: `(x - mean) / std`, or 0 when std is 0.
    pub fn score(&self, x: f64) -> f64 {
        if self.std == 0.0 {
            0.0
        } else {
            (x - self.mean) / self.std
        }
    }

    /// The statistics of `values` (a `Float64` expression) over `frame`, or
    /// `None` when fewer than `ddof + 1` values are present.
    pub fn of(frame: LazyFrame, values: Expr, ddof: u8) -> PolarsResult<Option<Self>> {
        let present = present(values);
        let row = frame
            .select([
                present
                    .clone()
                    .count()
                    .cast(DataType::UInt64)
                    .alias("count"),
                present.clone().mean().alias("mean"),
                present.std(ddof).alias("std"),
            ])
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single();
        let count = row
            .column("count")?
            .u64()?
            .iter()
            .next()
            .flatten()
            .unwrap_or(0);
        let mean = row.column("mean")?.f64()?.iter().next().flatten();
        let std = row.column("std")?.f64()?.iter().next().flatten();
        if count <= u64::from(ddof) {
            return Ok(None);
        }
        Ok(mean.zip(std).map(|(mean, std)| Self { count, mean, std }))
    }

    /// `frame` with `into` set to `(x - mean) / std` for every present value;
    /// 0 when std is 0, since every value then equals the mean.
    pub fn apply(&self, frame: LazyFrame, values: Expr, into: &str) -> LazyFrame {
        let present = present(values);
        let score = if self.std == 0.0 {
            when(present.clone().is_not_null())
                .then(lit(0.0))
                .otherwise(lit(NULL).cast(DataType::Float64))
        } else {
            (present - lit(self.mean)) / lit(self.std)
        };
        frame.with_column(score.alias(into))
    }
}

/// NaN counts as missing, as empty cells do, so one NaN cannot poison the
/// mean of a whole column.
fn present(values: Expr) -> Expr {
    values.fill_nan(lit(NULL).cast(DataType::Float64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(values: &[Option<f64>], ddof: u8) -> PolarsResult<Option<Vec<Option<f64>>>> {
        let frame = df!("nav" => values)?.lazy();
        let Some(stats) = Stats::of(frame.clone(), col("nav"), ddof)? else {
            return Ok(None);
        };
        let out = stats.apply(frame, col("nav"), "z").collect()?;
        Ok(Some(out.column("z")?.f64()?.iter().collect()))
    }

    #[test]
    fn population_std_by_default_as_scipy() -> PolarsResult<()> {
        // scipy.stats.zscore([1, 2, 3, 4]) = [-1.3416..., -0.4472..., 0.4472..., 1.3416...]
        let z = scores(&[Some(1.0), Some(2.0), Some(3.0), Some(4.0)], 0)?.unwrap_or_default();
        let expected = [
            -1.341_640_786_499_874,
            -0.447_213_595_499_958,
            0.447_213_595_499_958,
            1.341_640_786_499_874,
        ];
        for (got, want) in z.iter().zip(expected) {
            assert!(
                (got.unwrap_or(f64::NAN) - want).abs() < 1e-12,
                "{got:?} != {want}"
            );
        }
        Ok(())
    }

    #[test]
    fn ddof_one_gives_the_sample_std() -> PolarsResult<()> {
        let z = scores(&[Some(1.0), Some(3.0)], 1)?.unwrap_or_default();
        let half_sqrt2 = std::f64::consts::FRAC_1_SQRT_2;
        let [Some(low), Some(high)] = z[..] else {
            panic!("expected two scores, got {z:?}");
        };
        assert!((low + half_sqrt2).abs() < 1e-12 && (high - half_sqrt2).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn missing_and_nan_values_are_left_out_and_stay_empty() -> PolarsResult<()> {
        let z = scores(&[Some(1.0), None, Some(f64::NAN), Some(3.0)], 0)?;
        assert_eq!(z, Some(vec![Some(-1.0), None, None, Some(1.0)]));
        Ok(())
    }

    #[test]
    fn a_constant_column_scores_zero_not_nan() -> PolarsResult<()> {
        let z = scores(&[Some(7.0), Some(7.0), None], 0)?;
        assert_eq!(z, Some(vec![Some(0.0), Some(0.0), None]));
        Ok(())
    }

    #[test]
    fn welford_moments_agree_with_polars() -> PolarsResult<()> {
        let values = [
            6_114_444.900_499_728_5,
            8_707_500.906_919_869,
            4_951_582.096_309_099,
        ];
        let mut moments = Moments::default();
        values.iter().for_each(|x| moments.add(*x));
        let frame = df!("nav" => values)?.lazy();
        for ddof in [0, 1] {
            let polars = Stats::of(frame.clone(), col("nav"), ddof)?;
            let (Some(ours), Some(polars)) = (moments.stats(ddof), polars) else {
                panic!("both must have statistics");
            };
            assert_eq!(ours.count, polars.count);
            assert!((ours.mean - polars.mean).abs() < 1e-6 && (ours.std - polars.std).abs() < 1e-6);
        }
        assert_eq!(Moments::default().stats(0), None);
        Ok(())
    }

    #[test]
    fn too_few_values_for_the_ddof_is_none() -> PolarsResult<()> {
        assert_eq!(scores(&[Some(1.0)], 1)?, None);
        assert_eq!(scores(&[None, Some(f64::NAN)], 0)?, None);
        Ok(())
    }
}
