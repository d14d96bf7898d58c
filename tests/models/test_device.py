"""``resolve_device`` with ``cuda:N``, on machines with 0, 1 or 2 GPUs (torch.cuda's answers
monkeypatched, so these run without a GPU)."""

from __future__ import annotations

import pytest
import torch

from ppr10k.models.device import check_device_name, resolve_device


def gpus(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_device_names_accepted(name: str) -> None:
    assert check_device_name(name) == name


@pytest.mark.parametrize("name", ["tpu", "cuda:", "cuda:-1", "cuda:01", "cuda:x", "CUDA", "gpu:0"])
def test_device_names_refused(name: str) -> None:
    with pytest.raises(ValueError, match="device must be auto, cpu, cuda or cuda:N"):
        check_device_name(name)


def test_cuda_index_within_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    gpus(monkeypatch, 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("auto").type == "cuda"


@pytest.mark.parametrize(("count", "message"), [
    (1, r"--device cuda:7: this machine has 1 CUDA device \(cuda:0\)$"),
    (2, r"--device cuda:7: this machine has 2 CUDA devices \(cuda:0 to cuda:1\)$"),
    (0, r"--device cuda:7: no CUDA device is available \(use cpu or auto\)$"),
])
def test_cuda_index_beyond_the_count_names_it(monkeypatch: pytest.MonkeyPatch, count: int,
                                              message: str) -> None:
    gpus(monkeypatch, count)
    with pytest.raises(ValueError, match=message):
        resolve_device("cuda:7")


def test_auto_without_gpus_is_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    gpus(monkeypatch, 0)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA device"):
        resolve_device("cuda")
