"""Predictions for a split of a PPR10K root, as the reference's validation step writes them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ppr10k.data.layout import SOURCE_DIRS, SOURCE_SUFFIXES, parse_stem
from ppr10k.io import image_to_tensor, read_image, tensor_to_image, write_image
from ppr10k.io.guard import (
    RunLock,
    check_not_replacing,
    check_output_folder,
    folder_of,
    remove_stale_temps,
)
from ppr10k.models import load_model, resolve_device


def list_sources(root: str | os.PathLike, split: str) -> list[Path]:
    """Source files of ``split`` named ``G_I`` (or ``G_I_K``), sorted by (G, I, K)."""
    folder = Path(root) / split / SOURCE_DIRS[split]
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} not found (expected the PPR10K layout under {root})")
    keyed = [(parse_stem(p.stem), p) for p in folder.iterdir()
             if p.suffix.lower() in SOURCE_SUFFIXES]
    return [p for key, p in sorted((k, p) for k, p in keyed if k is not None)]


@torch.no_grad()
def predict_split(data_root: str | os.PathLike, split: str, model_path: str | os.PathLike,
                  out_dir: str | os.PathLike, device: str = "auto",
                  progress: bool = True, overwrite: bool = False) -> list[Path]:
    """Retouch every source of ``split`` with the model; write 8-bit ``OUT/G_I.png``.

    Args:
        overwrite: replace existing ``OUT/G_I.png`` files (refused otherwise).

    Returns:
        The written files.

    Raises:
        ValueError: ``out_dir`` is, lies inside or holds the dataset ``data_root``, or is
            (inside) the model's folder.
        FileExistsError: a prediction file exists already and ``overwrite`` is off.
    """
    out_dir = Path(out_dir)
    sources = list_sources(data_root, split)
    check_output_folder(out_dir, [data_root], what="the dataset")
    check_output_folder(out_dir, [folder_of(model_path)], what="the model folder",
                        contain=False)
    check_not_replacing((out_dir / f"{p.stem}.png" for p in sources), overwrite,
                        hint="pass --overwrite to replace the predictions there or choose "
                             "another --out")
    torch_device = resolve_device(device)
    model = load_model(model_path, torch_device)
    written = []
    started_at = time.time()
    with RunLock(out_dir, "--out"):  # one writer per output folder
        remove_stale_temps(out_dir, started_at)  # what killed runs left there
        for path in tqdm(sources, desc=f"predict {split}", unit="img", disable=not progress):
            prediction, _ = model(image_to_tensor(read_image(path)).to(torch_device))
            if not bool(torch.isfinite(prediction).all()):
                raise ValueError(f"{path}: the model {model_path} gave NaN or infinite values "
                                 "for this photo; the model is damaged")
            written.append(write_image(out_dir / f"{path.stem}.png",
                                       tensor_to_image(prediction)))
    return written
