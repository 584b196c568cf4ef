"""Peer of job-timestamp in DuckDB: every row with the processing start time (UTC), streamed."""
import sys
from datetime import datetime, timezone

import duckdb

source, target = sys.argv[1], sys.argv[2]
now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
duckdb.sql(
    f"COPY (SELECT *, '{now}' AS time_started FROM read_csv('{source}')) TO '{target}' (HEADER)"
)
