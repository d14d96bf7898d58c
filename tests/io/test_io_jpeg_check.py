"""Truncated JPEGs are found from their structure, with or without an end marker appended;
complete files of every common layout pass."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ppr10k.io import read_photo
from ppr10k.io.decode import PhotoError
from ppr10k.io.jpeg_check import jpeg_truncation

EOI = b"\xff\xd9"


def jpeg(image: Image.Image, **options) -> bytes | None:
    """``image`` as JPEG bytes; None where Pillow cannot write the layout (some noisy
    progressive 4:4:4 images: "Suspension not allowed here")."""
    buffer = io.BytesIO()
    try:
        image.save(buffer, "JPEG", **options)
    except OSError:
        return None
    return buffer.getvalue()


def encode(mode: str = "RGB", **options) -> bytes:
    """A noisy 301x457 photo-like image as JPEG (odd sizes: partial MCUs)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:301, 0:457] / 457
    base = np.stack([0.2 + 0.6 * x, 0.3 + 0.5 * y, 0.5 + 0.3 * (x - y)], axis=-1)
    pixels = (np.clip(base + 0.1 * rng.standard_normal(base.shape), 0, 1) * 255)
    data = jpeg(Image.fromarray(pixels.astype(np.uint8)).convert(mode), quality=90, **options)
    assert data is not None
    return data


SEQUENTIAL = {
    "4:2:0": {"subsampling": 2},
    "4:2:2": {"subsampling": 1},
    "4:4:4": {"subsampling": 0},
    "optimized tables": {"optimize": True},
    "restart every 7 MCUs": {"restart_marker_blocks": 7},
    "restart every 2 MCU rows": {"restart_marker_rows": 2, "subsampling": 0},
}


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
@pytest.mark.parametrize("name", list(SEQUENTIAL))
def test_sequential_complete_passes_and_every_cut_is_found(mode: str, name: str) -> None:
    data = encode(mode, **SEQUENTIAL[name])
    assert jpeg_truncation(data) is None
    for fraction in (0.2, 0.5, 0.8, 0.97):
        cut = data[: int(len(data) * fraction)]
        assert jpeg_truncation(cut) is not None, fraction
        reason = jpeg_truncation(cut + EOI)
        assert reason is not None and "blocks" in reason, (fraction, reason)


PROGRESSIVE = {
    "4:2:0": {"subsampling": 2},
    "4:2:2": {"subsampling": 1},
    "optimized tables": {"optimize": True},
    "restart every 7 MCUs": {"restart_marker_blocks": 7},
}


@pytest.mark.parametrize("mode", ["RGB", "L"])
@pytest.mark.parametrize("name", list(PROGRESSIVE))
def test_progressive_complete_passes_and_every_cut_is_found(mode: str, name: str) -> None:
    data = encode(mode, progressive=True, **PROGRESSIVE[name])
    assert jpeg_truncation(data) is None
    cut = data[: int(len(data) * 0.3)]
    assert jpeg_truncation(cut) is not None
    assert "progressive scans are missing" in jpeg_truncation(cut + EOI)
    for fraction in (0.6, 0.8, 0.9, 0.97):  # inside the last scans (the largest)
        reason = jpeg_truncation(data[: int(len(data) * fraction)] + EOI)
        assert reason is not None, fraction


def test_random_layouts_qualities_and_cuts() -> None:
    """Sizes, qualities, sampling, progression and restart intervals drawn at random:
    complete files pass, any cut (end marker appended) is found."""
    rng = np.random.default_rng(5)
    for _ in range(40):
        height, width = (int(v) for v in rng.integers(8, 400, 2))
        y, x = np.mgrid[0:height, 0:width] / max(height, width)
        base = np.stack([0.2 + 0.6 * x, 0.3 + 0.5 * y, 0.5 + 0.3 * np.sin(9 * (x - y))], -1)
        noise = float(rng.choice([0.0, 0.02, 0.3]))
        pixels = np.clip(base + noise * rng.standard_normal(base.shape), 0, 1) * 255
        options = {"quality": int(rng.integers(5, 101)), "subsampling": int(rng.integers(0, 3)),
                   "progressive": bool(rng.integers(0, 2))}
        if rng.integers(0, 3) == 0:
            options["restart_marker_blocks"] = int(rng.integers(1, 40))
        image = Image.fromarray(pixels.astype(np.uint8)).convert(str(rng.choice(["RGB", "L"])))
        data = jpeg(image, **options)
        if data is None:
            continue
        assert jpeg_truncation(data) is None, options
        scan = data.index(b"\xff\xda")
        for cut in rng.integers(scan + 20, len(data) - 3, 3):
            assert jpeg_truncation(data[:cut] + EOI) is not None, (options, cut, len(data))


def test_other_files_are_left_to_the_decoder() -> None:
    assert jpeg_truncation(b"\x89PNG\r\n\x1a\n") is None
    assert jpeg_truncation(b"\xff\xd8") is not None  # no end marker at all


def test_real_jpegs_are_complete(shared_data: Path) -> None:
    files = sorted(shared_data.rglob("*.jpg"))
    assert files
    for path in files:
        assert jpeg_truncation(path.read_bytes()) is None, path


def test_read_photo_refuses_a_cut_jpeg_with_end_marker(tmp_path: Path) -> None:
    data = encode()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2] + EOI)
    with pytest.raises(PhotoError, match=r"cut\.jpg: cannot decode JPEG: truncated file"):
        read_photo(path)
    path.write_bytes(data)
    assert read_photo(path).pixels.shape == (301, 457, 3)


def test_damaged_headers_never_raise() -> None:
    """Bytes changed in the headers (tables, frame, scan) give a reason or None, never an
    exception of the checker's own: a layout it cannot follow is left to the decoder."""
    data = encode(restart_marker_blocks=5)
    header_end = data.index(b"\xff\xda") + 14
    rng = np.random.default_rng(1)
    for _ in range(300):
        copy = bytearray(data)
        for index in rng.integers(2, header_end, 2):
            copy[index] = int(rng.integers(0, 256))
        reason = jpeg_truncation(bytes(copy))
        assert reason is None or isinstance(reason, str)
