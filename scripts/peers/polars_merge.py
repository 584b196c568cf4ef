"""Peer of job-merge in Python polars: left join on isin, fill 0, earlier time kept, lazy."""
import sys

import polars as pl

left_path, right_path, target = sys.argv[1], sys.argv[2], sys.argv[3]
left = pl.scan_csv(left_path, try_parse_dates=True)
right = pl.scan_csv(right_path, try_parse_dates=True)
(
    left.join(right, on="isin", how="left", validate="m:1")
    .with_columns(
        pl.col("subscriptions").fill_null(0),
        pl.min_horizontal("time_started", "time_started_right").alias("time_started"),
    )
    .drop("time_started_right")
    .sink_csv(target)
)
