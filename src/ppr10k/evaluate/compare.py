"""Comparison sheet: one row per method, one column per photo of a group.

Defines :func:`compare_sheet` and :func:`sheet_size`.

Rows are folders (e.g. sources, the predictions of several models, the expert target);
columns are the group's photos, found by stem ``G_I`` in any of the rows. Seeing a group
side by side shows at a glance whether a method keeps its photos consistent; each row's
label also carries its M^GLC term for the group (variance of the photos' mean a*, b*).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ppr10k.evaluate.metrics import group_consistency, mean_ab, to_uint8
from ppr10k.evaluate.pairing import group_of, index_folder, stem_sort_key
from ppr10k.io.image import atomic_write, read_image_native

_BACKGROUND = (255, 255, 255)
_CELL_BACKGROUND = (48, 48, 48)
_TEXT = (0, 0, 0)


def sheet_size(
    n_rows: int, n_columns: int, *, cell_height: int = 180, cell_width: int | None = None,
    label_width: int = 170, header_height: int = 24, gap: int = 4,
) -> tuple[int, int]:
    """``(width, height)`` in pixels of a sheet; ``cell_width`` defaults to 1.5 x height.

    ``width = label_width + gap + n_columns * (cell_width + gap)`` and
    ``height = header_height + gap + n_rows * (cell_height + gap)``.
    """
    cell_width = round(1.5 * cell_height) if cell_width is None else cell_width
    return (label_width + gap + n_columns * (cell_width + gap),
            header_height + gap + n_rows * (cell_height + gap))


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType support for the default font
        return ImageFont.load_default()


def _fit(image: np.ndarray, width: int, height: int) -> Image.Image:
    """The photo scaled to fit ``width x height`` (aspect kept), centred on a dark cell."""
    photo = Image.fromarray(to_uint8(image))
    scale = min(width / photo.width, height / photo.height)
    size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
    photo = photo.resize(size, resample=Image.Resampling.LANCZOS)
    cell = Image.new("RGB", (width, height), _CELL_BACKGROUND)
    cell.paste(photo, ((width - size[0]) // 2, (height - size[1]) // 2))
    return cell


def _clip_text(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    while text and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…" if len(text) > 2 else ""
    return text


def compare_sheet(
    rows: Sequence[str | os.PathLike],
    group: str,
    out: str | os.PathLike,
    *,
    labels: Sequence[str] | None = None,
    max_photos: int | None = None,
    cell_height: int = 180,
    cell_width: int | None = None,
    label_width: int = 170,
    header_height: int = 24,
    gap: int = 4,
) -> Path:
    """Write a PNG grid: one row per folder of ``rows``, one column per photo of ``group``.

    Args:
        rows: folders holding ``G_I`` images (8- or 16-bit PNG/TIFF/JPEG).
        group: the group id ``G``.
        out: output PNG path (written atomically; must not be one of the input images).
        labels: one label per row (default: the folder names).
        max_photos: keep only the first photos of the group (natural stem order).
        cell_height, cell_width, label_width, header_height, gap: layout in pixels; the size
            is :func:`sheet_size`. A photo missing from a row leaves a dark cell marked
            "missing".

    Returns:
        ``out`` as a :class:`~pathlib.Path`.
    """
    if not rows:
        raise ValueError("give at least one folder of images (--rows DIR1,DIR2,...)")
    labels = [Path(r).name for r in rows] if labels is None else list(labels)
    if len(labels) != len(rows):
        raise ValueError(f"{len(labels)} labels for {len(rows)} rows; give one label per row")
    group = str(group)
    indexes = [index_folder(row, f"row {label!r}") for row, label in zip(rows, labels)]
    stems = sorted({s for index in indexes for s in index if group_of(s) == group},
                   key=stem_sort_key)
    if not stems:
        found = sorted({group_of(s) for index in indexes for s in index}, key=stem_sort_key)
        shown = ", ".join(found[:15]) + (" ..." if len(found) > 15 else "")
        raise ValueError(f"no photo of group {group} in {', '.join(map(str, rows))}; "
                         f"groups present: {shown or 'none'}")
    if max_photos is not None:
        stems = stems[:max_photos]
    out = Path(out).resolve()
    if any(out == p.resolve() for index in indexes for p in index.values()):
        raise ValueError(f"{out} is one of the input images; choose another --out")

    cell_width = round(1.5 * cell_height) if cell_width is None else cell_width
    width, height = sheet_size(len(rows), len(stems), cell_height=cell_height,
                               cell_width=cell_width, label_width=label_width,
                               header_height=header_height, gap=gap)
    sheet = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font(max(10, min(16, header_height - 8)))
    for j, stem in enumerate(stems):
        x = label_width + gap + j * (cell_width + gap)
        draw.text((x + cell_width // 2, header_height // 2), _clip_text(draw, stem, font,
                  cell_width), fill=_TEXT, font=font, anchor="mm")
    for i, (index, label) in enumerate(zip(indexes, labels)):
        y = header_height + gap + i * (cell_height + gap)
        ab = []
        for j, stem in enumerate(stems):
            x = label_width + gap + j * (cell_width + gap)
            if stem in index:
                image = to_uint8(read_image_native(index[stem]))
                ab.append(mean_ab(image))
                sheet.paste(_fit(image, cell_width, cell_height), (x, y))
            else:
                sheet.paste(Image.new("RGB", (cell_width, cell_height), _CELL_BACKGROUND),
                            (x, y))
                draw.text((x + cell_width // 2, y + cell_height // 2), "missing",
                          fill=(220, 220, 220), font=font, anchor="mm")
        text = _clip_text(draw, label, font, label_width - 2 * gap)
        if len(ab) >= 2:
            text += f"\nGLC {group_consistency(np.array(ab)):.2f}"
        draw.multiline_text((gap, y + cell_height // 2), text, fill=_TEXT, font=font,
                            anchor="lm")
    with atomic_write(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out
