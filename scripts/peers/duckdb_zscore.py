"""Peer of job-zscore in DuckDB: population z-score of nav, statistics in one pass, scores in a second."""
import sys

import duckdb

source, target = sys.argv[1], sys.argv[2]
duckdb.sql(
    f"""COPY (
        WITH stats AS (SELECT avg(nav) AS mean, stddev_pop(nav) AS std FROM read_csv('{source}'))
        SELECT t.*, (t.nav - stats.mean) / stats.std AS z_score_nav
        FROM read_csv('{source}') AS t, stats
    ) TO '{target}' (HEADER)"""
)
