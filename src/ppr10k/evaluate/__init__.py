"""The PPR10K measures (spec §5): PSNR, ΔE, PSNR^HC, ΔE^HC, M^GLC, per image, group and set.

Typical use::

    from ppr10k.evaluate import evaluate_folders
    images, groups, summary = evaluate_folders("pred", "val/target_a", "val/masks", workers=2)
"""

from ppr10k.evaluate.compare import compare_sheet, sheet_size
from ppr10k.evaluate.folders import (
    DEFAULT_PSNR_CAP,
    MEASURES,
    Evaluation,
    evaluate_folders,
    group_rows,
    score_files,
    summarize,
)
from ppr10k.evaluate.metrics import (
    delta_e,
    group_consistency,
    group_level_consistency,
    human_centered_delta_e,
    human_centered_psnr,
    human_centered_weights,
    mean_ab,
    psnr,
    resize_mask,
    score_pair,
    to_uint8,
)
from ppr10k.evaluate.pairing import MissingFilesError, Pair, Pairing, group_of, pair_files
from ppr10k.evaluate.report import (
    GROUP_COLUMNS,
    IMAGE_COLUMNS,
    SUMMARY_KEYS,
    default_group_csv,
    format_table,
    write_rows_csv,
    write_summary_json,
)

__all__ = [
    "DEFAULT_PSNR_CAP",
    "GROUP_COLUMNS",
    "IMAGE_COLUMNS",
    "MEASURES",
    "SUMMARY_KEYS",
    "Evaluation",
    "MissingFilesError",
    "Pair",
    "Pairing",
    "compare_sheet",
    "default_group_csv",
    "delta_e",
    "evaluate_folders",
    "format_table",
    "group_consistency",
    "group_level_consistency",
    "group_of",
    "group_rows",
    "human_centered_delta_e",
    "human_centered_psnr",
    "human_centered_weights",
    "mean_ab",
    "pair_files",
    "psnr",
    "resize_mask",
    "score_files",
    "score_pair",
    "sheet_size",
    "summarize",
    "to_uint8",
    "write_plots",
    "write_rows_csv",
    "write_summary_json",
]


def __getattr__(name: str):
    # matplotlib is imported only when plots are asked for (keeps `import` light for training)
    if name == "write_plots":
        from ppr10k.evaluate.plots import write_plots

        return write_plots
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
