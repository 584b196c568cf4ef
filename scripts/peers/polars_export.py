"""Peer of db-export in Python polars: load a CSV into an SQLite table in one transaction."""
import sqlite3
import sys

import polars as pl

source, database = sys.argv[1], sys.argv[2]
frame = pl.read_csv(source)
columns = ", ".join(f'"{name}"' for name in frame.columns)
marks = ", ".join("?" for _ in frame.columns)
with sqlite3.connect(database) as connection:
    connection.execute("DROP TABLE IF EXISTS merged")
    connection.execute(f"CREATE TABLE merged ({columns})")
    connection.executemany(f"INSERT INTO merged VALUES ({marks})", frame.iter_rows())
