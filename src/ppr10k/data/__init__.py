"""PPR10K data: the official layout, pairing by (G, I), a photographer's own before/after
pairs (``pairs:ORIGINALS,EDITED``), checks, datasets and transforms."""

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
from ppr10k.data.pairs import (
    PairsIndex,
    PairsSpec,
    check_pairs,
    index_pairs,
    index_training_data,
    is_pairs_spec,
    parse_pairs_spec,
)
from ppr10k.data.split import SplitReport, plan_split, split_dataset, split_of
from ppr10k.data.stats import capture_times, collect_settings, dataset_stats

__all__ = [
    "EXPERTS",
    "FIRST_VAL_GROUP",
    "CheckReport",
    "DatasetProblem",
    "EvaluationImages",
    "PairsIndex",
    "PairsSpec",
    "PhotoKey",
    "Sample",
    "SplitReport",
    "TrainingPairs",
    "capture_times",
    "check_dataset",
    "check_pairs",
    "collect_settings",
    "dataset_stats",
    "index_pairs",
    "index_split",
    "index_training_data",
    "is_pairs_spec",
    "parse_pairs_spec",
    "parse_stem",
    "plan_split",
    "split_dataset",
    "split_of",
]
