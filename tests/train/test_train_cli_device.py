"""`--device cuda:N` and torchrun variables without a rendezvous: one line, exit 2, before
any data is read; `python -m ppr10k` is the command."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ppr10k.cli.main import main
from ppr10k.train import distributed

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                 "MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE")


@pytest.fixture(autouse=True)
def no_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TORCHRUN_VARS:
        monkeypatch.delenv(name, raising=False)


def gpus(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def train_argv(tmp: Path, *extra: str) -> list[str]:
    # --data need not exist: the device is refused before anything is read
    return ["train", "--data", str(tmp / "nothing"), "--out", str(tmp / "run"), "--quiet",
            *extra]


@pytest.mark.parametrize(("count", "says"), [(1, "this machine has 1 CUDA device (cuda:0)"),
                                             (0, "no CUDA device is available")])
def test_train_on_a_gpu_the_machine_lacks(tmp_path, monkeypatch, capsys, count, says) -> None:
    gpus(monkeypatch, count)
    assert main(train_argv(tmp_path, "--device", "cuda:7")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"ppr10k train: error: --device cuda:7: {says}"
                   + (" (use cpu or auto)" if count == 0 else "")]
    assert not (tmp_path / "run").exists()


def test_predict_on_a_gpu_the_machine_lacks(tmp_path, monkeypatch, capsys) -> None:
    gpus(monkeypatch, 2)
    code = main(["predict", "--data", str(tmp_path), "--model", str(tmp_path / "m"),
                 "--out", str(tmp_path / "out"), "--device", "cuda:7", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "this machine has 2 CUDA devices (cuda:0 to cuda:1)" in err[0]


def test_device_name_that_is_no_device_is_a_usage_error(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(train_argv(tmp_path, "--device", "gpu0"))
    assert stop.value.code == 2
    assert "device must be auto, cpu, cuda or cuda:N" in capsys.readouterr().err


def test_torchrun_variables_without_master_addr(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(train_argv(tmp_path, "--device", "cpu")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("ppr10k train: error: torchrun variables incomplete: RANK, "
                             "WORLD_SIZE set but LOCAL_RANK, MASTER_ADDR, MASTER_PORT missing")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_torchrun_variables_with_nobody_listening(tmp_path, monkeypatch, capsys) -> None:
    port = free_port()  # closed again: nothing listens there
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1",
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(distributed, "RENDEZVOUS_TIMEOUT", 1.0)
    assert main(train_argv(tmp_path, "--device", "cpu")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"ppr10k train: error: no rendezvous at MASTER_ADDR=127.0.0.1 "
                             f"MASTER_PORT={port} after 1 s")
    assert not torch.distributed.is_initialized()


def test_torchrun_process_needs_its_own_gpu(tmp_path, monkeypatch, capsys) -> None:
    gpus(monkeypatch, 1)
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1",
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}.items():
        monkeypatch.setenv(name, value)
    assert main(train_argv(tmp_path, "--device", "cuda")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs GPU 1 but this machine has 1 CUDA device(s)" in err[0]


def test_python_dash_m_ppr10k_is_the_command(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "ppr10k", "train", "--data",
                           str(tmp_path / "nothing"), "--out", str(tmp_path / "run"),
                           "--device", "cpu", "--quiet"],
                          check=False, capture_output=True, text=True, timeout=120,
                          env={**_clean_env(), "PYTHONPATH": ":".join(sys.path)})
    assert done.returncode == 1  # no data there: bad data, one line
    assert done.stderr.strip().count("\n") == 0 and "ppr10k train: error:" in done.stderr


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARS}


def test_torchrun_env_reads_the_node_layout() -> None:
    env = distributed.torchrun_env({"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1",
                                    "LOCAL_WORLD_SIZE": "4", "GROUP_RANK": "1",
                                    "MASTER_ADDR": "node0", "MASTER_PORT": "29500",
                                    "TORCHELASTIC_USE_AGENT_STORE": "True"})
    assert (env.rank, env.world_size, env.local_rank, env.local_world_size, env.node,
            env.agent_store) == (5, 8, 1, 4, 1, True)
    with pytest.raises(distributed.RendezvousError, match="out of range"):
        distributed.torchrun_env({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0",
                                  "MASTER_ADDR": "a", "MASTER_PORT": "1"})


def test_retouch_on_a_gpu_the_machine_lacks(tmp_path, monkeypatch, capsys) -> None:
    """The retouch command shares train's device check: one line, exit 2, nothing written."""
    gpus(monkeypatch, 1)
    photo = tmp_path / "in" / "a.jpg"
    photo.parent.mkdir()
    photo.write_bytes(b"not read: the device is refused first")
    code = main(["retouch", str(photo), "--out", str(tmp_path / "out"), "--device", "cuda:7",
                 "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [("ppr10k retouch: error: --device cuda:7: this machine has 1 CUDA device "
                    "(cuda:0)")]
    assert not (tmp_path / "out").exists()
