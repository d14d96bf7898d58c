"""Where a :class:`~ppr10k.retouch.Retoucher`'s stages run (``ppr10k retouch --engine``).

A runner takes a configured engine (model and options) and runs it over inputs into an
output folder; :data:`ENGINES` maps each ``--engine`` name to a factory. ``local`` is the
engine's own threads on this machine; ``ray`` the same stages on Ray Data
(:mod:`ppr10k.retouch.ray_engine`, imported only when chosen).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Protocol

from ppr10k.retouch.engine import Retoucher
from ppr10k.retouch.options import EngineUsageError
from ppr10k.retouch.report import RetouchReport

__all__ = ["ENGINES", "EngineUsageError", "LocalRunner", "Runner", "make_runner"]


class Runner(Protocol):
    """Runs a configured engine over inputs into an output folder."""

    def run(self, engine: Retoucher, inputs: Sequence[str | os.PathLike],
            out_dir: str | os.PathLike) -> RetouchReport: ...  # pragma: no cover


class LocalRunner:
    """This machine, the engine's own threads (:meth:`Retoucher.run`)."""

    def run(self, engine: Retoucher, inputs: Sequence[str | os.PathLike],
            out_dir: str | os.PathLike) -> RetouchReport:
        return engine.run(inputs, out_dir)


def _local(address: str | None = None) -> Runner:
    if address is not None:
        raise EngineUsageError("--address names a Ray cluster: use it with --engine ray")
    return LocalRunner()


def _ray(address: str | None = None) -> Runner:
    from ppr10k.retouch.ray_engine import RayRunner

    return RayRunner(address)


#: ``--engine`` name -> runner factory (keyword ``address``: a Ray cluster, or None).
ENGINES: dict[str, Callable[..., Runner]] = {"local": _local, "ray": _ray}


def make_runner(name: str, address: str | None = None) -> Runner:
    """The runner of engine ``name``.

    Raises:
        EngineUsageError: an unknown name, ``address`` without the ``ray`` engine, ``ray``
            without Ray installed, nothing answering at ``address``.

    >>> type(make_runner("local")).__name__
    'LocalRunner'
    """
    if name not in ENGINES:
        raise EngineUsageError(f"engine must be one of {sorted(ENGINES)}, got {name!r}")
    return ENGINES[name](address=address)
