"""Peer of job-timestamp in pandas: add the processing start time (UTC) to every row."""
import sys

import pandas as pd

source, target = sys.argv[1], sys.argv[2]
frame = pd.read_csv(source)
frame["time_started"] = pd.Timestamp.now(tz="UTC")
frame.to_csv(target, index=False)
