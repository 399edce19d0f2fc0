"""Official-equivalent DCASE2025 Task 3 SELD metrics (F(20deg,1), F(20deg,1,on), DOAE_CD, RDE_CD, DistE, OSA).

Command line: ``python -m seldlib.metrics REF_DIR PRED_DIR --json OUT.json [--onscreen] [--average macro|micro]``.
The package imports numpy only; scipy is loaded when a tie or a large group needs the Hungarian solver
or when jackknife intervals are asked for.
"""

from seldlib.metrics.core import (
    EPS,
    METRIC_NAMES,
    SeldCounts,
    SeldScores,
    aggregate,
    count_events,
    majority_osa,
    score,
    score_dirs,
    score_pairs,
    scores_from_counts,
)
from seldlib.metrics.io import InputWarning, collect_csvs, read_seld_csv, read_seld_text

__all__ = [
    "EPS",
    "METRIC_NAMES",
    "InputWarning",
    "SeldCounts",
    "SeldScores",
    "aggregate",
    "collect_csvs",
    "count_events",
    "majority_osa",
    "read_seld_csv",
    "read_seld_text",
    "score",
    "score_dirs",
    "score_pairs",
    "scores_from_counts",
]
