"""Peer of db-export in pandas: load a CSV into an SQLite table in one transaction."""
import sqlite3
import sys

import pandas as pd

source, database = sys.argv[1], sys.argv[2]
frame = pd.read_csv(source)
with sqlite3.connect(database) as connection:
    frame.to_sql("merged", connection, if_exists="replace", index=False, chunksize=100_000)
