"""Peer of job-zscore in pandas: population z-score of nav, as scipy.stats.zscore."""
import sys

import pandas as pd

source, target = sys.argv[1], sys.argv[2]
frame = pd.read_csv(source)
nav = frame["nav"]
frame["z_score_nav"] = (nav - nav.mean()) / nav.std(ddof=0)
frame.to_csv(target, index=False)
