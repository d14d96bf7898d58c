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

__all__ = [
    "EXPERTS",
    "FIRST_VAL_GROUP",
    "CheckReport",
    "DatasetProblem",
    "EvaluationImages",
    "PhotoKey",
    "Sample",
    "TrainingPairs",
    "check_dataset",
    "index_split",
    "parse_stem",
]
