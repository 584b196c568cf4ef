"""Peer of job-zscore in Python polars: population z-score of nav, lazy."""
import sys

import polars as pl

source, target = sys.argv[1], sys.argv[2]
nav = pl.col("nav")
pl.scan_csv(source).with_columns(((nav - nav.mean()) / nav.std(ddof=0)).alias("z_score_nav")).sink_csv(target)
