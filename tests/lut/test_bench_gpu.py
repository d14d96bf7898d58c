"""Smoke test of benchmarks/bench_gpu.py: the whole script at tiny sizes on the CPU, the
Triton rows through Triton's interpreter (so the GPU run's code paths are exercised)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import torch

from required import require_module

REPO = Path(__file__).resolve().parents[2]


def bench_row(*args):
    from gpu_sections import row

    return row(*args)


def run_bench(*args: str, interpret: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRITON_INTERPRET": "1" if interpret else "0"}
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_gpu.py"), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def table_values(stdout: str) -> dict[str, str]:
    """figure -> value column of the printed table."""
    values = {}
    for line in stdout.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 3 and cells[0] == "kernels":
            values[cells[1]] = cells[2]
    return values


def test_bench_gpu_quick_on_cpu(tmp_path):
    """~15 s: every kernels row, Triton ones interpreted; no official source -> a note."""
    require_module("triton")
    result = run_bench("--device", "cpu", "--quick", "--official-src", str(tmp_path),
                       interpret=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    values = table_values(result.stdout)
    for figure in ("fwd 4K: grid_sample", "fwd 4K: triton", "fwd 4K: torch",
                   "fwd+bwd 4K, LUT grad: triton", "fwd+bwd 4K, LUT+image grads: triton",
                   "train 2x8^2 fwd+bwd: triton", "curves+LUT fwd+bwd 4K, all grads: triton"):
        assert float(values[figure].replace(",", "")) > 0, (figure, result.stdout)
    assert values["fwd 4K: official"] == "-"
    assert "official kernel needs CUDA" in result.stdout
    assert float(values["fwd 4K: max |triton - float64 torch|"]) <= 1e-6
    assert any(name.startswith("study smooth image") for name in values)


def load_bench(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_gpu", REPO / "benchmarks" / "bench_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_gpu_refuses_cuda_without_a_gpu_and_unknown_sections(monkeypatch, capsys):
    bench = load_bench(monkeypatch)
    if not torch.cuda.is_available():
        assert bench.main(["--device", "cuda"]) == 2
        assert "no CUDA device" in capsys.readouterr().err
    assert bench.main(["--device", "cpu", "--sections", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown nope" in err and "kernels" in err


def test_a_failing_section_is_one_row_and_exit_code_1(monkeypatch, capsys):
    bench = load_bench(monkeypatch)
    broken = types.ModuleType("broken")

    def run(device, quick):
        raise RuntimeError("out of memory\nsecond line")

    def fine(device, quick):
        return [bench_row("a figure", 2.0, "Mpx/s", "other", 1.5)]

    broken.run = run
    ok_section = types.ModuleType("fine")
    ok_section.run = fine
    monkeypatch.setattr(bench, "discover", lambda: {"broken": broken, "fine": ok_section})
    assert bench.main(["--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert "section failed" in out and "RuntimeError: out of memory" in out
    assert "second line" not in out
    assert re.search(r"fine\s+a figure\s+2\s+Mpx/s\s+other\s+1.50x", out)
