"""Peer of job-timestamp in Python polars, lazy and streamed."""
import sys
from datetime import datetime, timezone

import polars as pl

source, target = sys.argv[1], sys.argv[2]
now = datetime.now(timezone.utc)
pl.scan_csv(source).with_columns(pl.lit(now).alias("time_started")).sink_csv(target)
