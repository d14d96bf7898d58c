"""Choosing the torch device from a user's ``auto`` / ``cpu`` / ``cuda`` / ``cuda:N``."""

from __future__ import annotations

import re

import torch

DEVICES = ("auto", "cpu", "cuda")
_CUDA_INDEX = re.compile(r"cuda:(0|[1-9][0-9]*)")


def check_device_name(name: str) -> str:
    """``name`` when it is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; else a ValueError.

    >>> check_device_name("cuda:1")
    'cuda:1'
    """
    if name in DEVICES or (isinstance(name, str) and _CUDA_INDEX.fullmatch(name)):
        return name
    raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}")


def device_type(text: str) -> str:
    """An argparse ``type`` for ``--device``: :func:`check_device_name` with argparse's
    error (a usage error, exit 2)."""
    import argparse

    try:
        return check_device_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` / ``cuda:N`` must exist.

    Raises:
        ValueError: an unknown name; ``cuda`` without a GPU; ``cuda:N`` with N at least the
            number of GPUs (the message names the count).
    """
    check_device_name(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise ValueError(f"--device {name}: no CUDA device is available (use cpu or auto)")
    device = torch.device(name)
    if device.index is not None and device.index >= count:
        devices = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
        raise ValueError(f"--device {name}: this machine has {count} CUDA device"
                         f"{'s' if count != 1 else ''} ({devices})")
    return device
