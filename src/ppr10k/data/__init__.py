"""PPR10K data: the official layout, pairing by (G, I), checks, datasets and transforms."""

from ppr10k.data.dataset import EvaluationImages, TrainingPairs
from ppr10k.data.layout import (
    EXPERTS,
    FIRST_VAL_GROUP,
    CheckReport,
    DatasetProblem,
    PhotoKey,
    Sample,
    check_dataset,
    index_split,
    parse_stem,
)
from ppr10k.data.split import SplitReport, plan_split, split_dataset, split_of
from ppr10k.data.stats import capture_times, collect_settings, dataset_stats

__all__ = [
    "EXPERTS",
    "FIRST_VAL_GROUP",
    "CheckReport",
    "DatasetProblem",
    "EvaluationImages",
    "PhotoKey",
    "Sample",
    "SplitReport",
    "TrainingPairs",
    "capture_times",
    "check_dataset",
    "collect_settings",
    "dataset_stats",
    "index_split",
    "parse_stem",
    "plan_split",
    "split_dataset",
    "split_of",
]
