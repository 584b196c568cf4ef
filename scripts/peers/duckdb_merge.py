"""Peer of job-merge in DuckDB: left join on isin, subscriptions 0 when missing, earlier time kept."""
import sys

import duckdb

left_path, right_path, target = sys.argv[1], sys.argv[2], sys.argv[3]
duckdb.sql(
    f"""COPY (
        SELECT a.* REPLACE (least(a.time_started, b.time_started) AS time_started),
               coalesce(b.subscriptions, 0) AS subscriptions
        FROM read_csv('{left_path}') AS a
        LEFT JOIN read_csv('{right_path}') AS b USING (isin)
    ) TO '{target}' (HEADER)"""
)
