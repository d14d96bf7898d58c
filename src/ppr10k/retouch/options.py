"""The retouch engine's options: what to write, how to group, how to run.

Three small frozen dataclasses replace ``retouch()``'s sixteen keyword arguments; each
checks its own values when built (:class:`ValueError`, one line naming the option) and is
picklable, so a cluster engine can ship it to its workers. Defaults are those of
``ppr10k retouch``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ppr10k.io.colour import ColourProfile
from ppr10k.io.photo import DEFAULT_MAX_PIXELS
from ppr10k.retouch.discover import FORMATS
from ppr10k.retouch.groups import GROUP_MODES

__all__ = ["APPLY_BACKEND_CHOICES", "EXISTING_POLICIES", "GroupOptions", "OutputOptions",
           "RunOptions"]

#: What to do with an output file that exists: refuse the run, skip that photo, replace it.
EXISTING_POLICIES = ("refuse", "skip", "overwrite")
#: ``auto``: numba on the CPU, torch on CUDA (:data:`ppr10k.retouch.apply.APPLY_BACKENDS`).
APPLY_BACKEND_CHOICES = ("auto", "numba", "torch")


@dataclass(frozen=True)
class OutputOptions:
    """What is written for each photo.

    Attributes:
        fmt: ``jpg``, ``png`` or ``tif``; None: the input's format (raws: ``tif``).
        bits: 8 or 16 for PNG/TIFF; None: the input's depth (raws: 16). JPEG is 8-bit.
        quality: JPEG quality, 1..100.
        profile: ``srgb`` (outputs sRGB, tagged so), ``input`` (converted back to each
            input's profile), or a :class:`~ppr10k.io.colour.ColourProfile` (read an ICC
            file with :func:`ppr10k.retouch.output_profile_of`).
        existing: an output file that exists: ``refuse`` the run before anything is
            written, ``skip`` that photo (resume a batch), or ``overwrite`` it.
    """

    fmt: str | None = None
    bits: int | None = None
    quality: int = 95
    profile: str | ColourProfile = "srgb"
    existing: str = "refuse"

    def __post_init__(self) -> None:
        if self.fmt is not None and self.fmt not in FORMATS:
            raise ValueError(f"format must be one of {sorted(FORMATS)}, got {self.fmt!r}")
        if self.bits not in (None, 8, 16):
            raise ValueError(f"bits must be 8 or 16, got {self.bits}")
        if self.bits == 16 and self.fmt == "jpg":
            raise ValueError("JPEG is 8-bit: use --format png or tif for 16-bit output")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be 1..100, got {self.quality}")
        if not isinstance(self.profile, ColourProfile) and self.profile not in ("srgb",
                                                                                "input"):
            raise ValueError(f"output profile must be srgb, input or a ColourProfile (read "
                             f"an ICC file with output_profile_of), got {self.profile!r}")
        if self.existing not in EXISTING_POLICIES:
            raise ValueError(f"existing must be one of {EXISTING_POLICIES}, "
                             f"got {self.existing!r}")


@dataclass(frozen=True)
class GroupOptions:
    """Group-consistent retouching (:mod:`ppr10k.retouch.groups`).

    Attributes:
        consistent: share smoothed parameters within groups of photos.
        by: ``auto``, ``prefix`` (PPR10K ``G_``), ``folder`` or ``time``.
        gap: seconds between shots that still belong to one group (``time``), >= 0.
        strength: 0..1, how far each photo's parameters move to the group mean.
    """

    consistent: bool = False
    by: str = "auto"
    gap: float = 300.0
    strength: float = 1.0

    def __post_init__(self) -> None:
        if self.by not in GROUP_MODES:
            raise ValueError(f"group mode must be one of {GROUP_MODES}, got {self.by!r}")
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"group strength must be in [0, 1], got {self.strength}")
        if not self.gap >= 0.0:
            raise ValueError(f"group gap must be >= 0 seconds, got {self.gap}")


@dataclass(frozen=True)
class RunOptions:
    """How a run goes: where, how wide, with what limits.

    Attributes:
        workers: photos decoded, applied and written at once (threads; the CPU LUT kernel
            itself uses every core); never more than the photos or the CPUs.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (model, and the apply on ``auto``
            backend).
        recursive: also photos in subfolders of input folders.
        max_pixels: refuse larger images (decompression bombs); None: no limit.
        colour_manage: convert inputs from their profile to the model's sRGB (default);
            False: the model sees the stored numbers, as the papers' own test code did.
        progress: show a progress bar.
        batch_size: thumbnails per predictor call; None: 1 on the CPU (outputs then equal
            a photo-by-photo run's bit for bit: a batched convolution rounds differently,
            ~1e-7), 16 on CUDA.
        memory_budget: bytes of decoded full-resolution samples group mode may keep
            between its two passes; photos beyond it are decoded again for the apply. None:
            a quarter of the machine's memory (of the GPU's, for samples decoded there).
        backend: the apply kernel, ``auto`` (numba on the CPU, torch on CUDA), ``numba``
            or ``torch`` (torch on ``device``; on the CPU it is the GPU code path, for tests).
        gpu_decode: on CUDA, decode JPEGs on the GPU (torchvision/nvJPEG) when possible;
            the CPU decoder is used otherwise, or when this is False.
    """

    workers: int = 1
    device: str = "auto"
    recursive: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    colour_manage: bool = True
    progress: bool = True
    batch_size: int | None = None
    memory_budget: int | None = None
    backend: str = "auto"
    gpu_decode: bool = True

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if self.memory_budget is not None and self.memory_budget < 0:
            raise ValueError(f"memory budget must be >= 0 bytes, got {self.memory_budget}")
        if self.backend not in APPLY_BACKEND_CHOICES:
            raise ValueError(f"apply backend must be one of {APPLY_BACKEND_CHOICES}, "
                             f"got {self.backend!r}")


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


class EngineUsageError(ValueError):
    """An engine that cannot run as asked (not installed, cluster unreachable): bad usage,
    one line that says how to fix it."""
