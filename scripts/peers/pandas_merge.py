"""Peer of job-merge in pandas: left join on isin, subscriptions 0 when missing, earlier time kept."""
import sys

import pandas as pd

left_path, right_path, target = sys.argv[1], sys.argv[2], sys.argv[3]
left = pd.read_csv(left_path, parse_dates=["time_started"])
right = pd.read_csv(right_path, parse_dates=["time_started"])
merged = left.merge(right, on="isin", how="left", suffixes=("", "_right"), validate="many_to_one")
merged["subscriptions"] = merged["subscriptions"].fillna(0).astype("int64")
merged["time_started"] = merged[["time_started", "time_started_right"]].min(axis=1)
merged.drop(columns=["time_started_right"]).to_csv(target, index=False)
