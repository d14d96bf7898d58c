"""Sections of ``benchmarks/bench_gpu.py``: one module per area, discovered by file name.

A section is a module ``benchmarks/gpu_sections/NAME.py`` with

* ``run(device: torch.device, quick: bool) -> list[dict]``: measures and returns rows made
  with :func:`row` (``name``, ``value``, ``unit``, ``baseline``, ``ratio``, ``note``);
  ``quick`` means tiny sizes and few repeats (the CPU smoke test runs every section that way
  in seconds);
* optionally ``add_arguments(parser)`` to add its own command-line options, and
  ``configure(args)`` to read them before ``run``.

A section that raises is reported as one failed row; the others still run. Time with
:func:`median_ms` (CUDA events on a GPU), and state ratios against a baseline measured in the
same run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def row(name: str, value: float | None, unit: str = "", baseline: str = "",
        ratio: float | None = None, note: str = "") -> dict:
    """One line of the table; ``value`` None for a figure that could not be measured (say
    why in ``note``)."""
    return {"name": name, "value": value, "unit": unit, "baseline": baseline, "ratio": ratio,
            "note": note}


def median_ms(fn: Callable[[], object], device: torch.device, repeats: int,
              warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` calls, after ``warmup``
    calls; timed with CUDA events (each call on its own) on a CUDA device."""
    for _ in range(warmup):
        fn()
    times = []
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        for _ in range(repeats):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
    else:
        for _ in range(repeats):
            begin = time.perf_counter()
            fn()
            times.append((time.perf_counter() - begin) * 1e3)
    return statistics.median(times)
