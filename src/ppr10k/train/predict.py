"""Predictions for a split of a PPR10K root, as the reference's validation step writes them."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from tqdm import tqdm

from ppr10k.data.layout import SOURCE_DIRS, SOURCE_SUFFIXES, parse_stem
from ppr10k.io import image_to_tensor, read_image, tensor_to_image, write_image
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
                  progress: bool = True) -> list[Path]:
    """Retouch every source of ``split`` with the model; write 8-bit ``OUT/G_I.png``.

    Returns:
        The written files.
    """
    out_dir = Path(out_dir)
    sources = list_sources(data_root, split)
    if any(out_dir.resolve() == p.parent.resolve() for p in sources[:1]):
        raise ValueError(f"--out {out_dir} is the source folder; choose another folder")
    torch_device = resolve_device(device)
    model = load_model(model_path, torch_device)
    written = []
    for path in tqdm(sources, desc=f"predict {split}", unit="img", disable=not progress):
        prediction, _ = model(image_to_tensor(read_image(path)).to(torch_device))
        if not bool(torch.isfinite(prediction).all()):
            raise ValueError(f"{path}: the model {model_path} gave NaN or infinite values for "
                             "this photo; the model is damaged")
        written.append(write_image(out_dir / f"{path.stem}.png", tensor_to_image(prediction)))
    return written
