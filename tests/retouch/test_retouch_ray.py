"""`ppr10k retouch --engine ray`: the local engine's stages on a local Ray of 2 worker
processes (loopback only), checked against the local engine run in this process.

Expected outputs come from the local engine (:meth:`Retoucher.run`), an independent path
(threads in this process, no Ray): the Ray engine must write the same bytes and the same
report. One Ray session serves the module (starting Ray takes seconds).
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ppr10k.cli.main import main
from ppr10k.io.guard import is_temp_name
from ppr10k.retouch import GroupOptions, OutputOptions, Retoucher, RunOptions, write_rendered
from ppr10k.retouch.runners import EngineUsageError, make_runner
from required import require_module

ray = require_module("ray")
ray_engine = require_module("ppr10k.retouch.ray_engine")

MODEL = "adaint-fivek-srgb"  # image-adaptive weights and curves: every photo its own plan


@pytest.fixture(scope="module")
def session():
    """A local Ray of 2 CPUs on the loopback interface, shared by the module's tests."""
    with ray_engine.ray_session(None, num_cpus=2) as connected:
        yield connected


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Six small JPEGs in two PPR10K groups, and one file that is not a JPEG."""
    folder = tmp_path_factory.mktemp("ray_in")
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:120, 0:160] / 160.0
    for group in (1, 2):
        for index in (1, 2, 3):
            tint = rng.uniform(0.2, 0.8, 3)
            image = np.stack([tint[0] + 0.3 * x, tint[1] * (1 - y), tint[2] + 0.2 * x * y], -1)
            pixels = np.clip(image + 0.03 * rng.standard_normal(image.shape), 0, 1)
            Image.fromarray((pixels * 255).astype(np.uint8)).save(
                folder / f"{group}_{index}.jpg", quality=90)
    (folder / "3_1.jpg").write_bytes(b"this is not a JPEG")
    return folder


def engine(group: bool = False) -> Retoucher:
    return Retoucher(MODEL, OutputOptions(),
                     GroupOptions(consistent=group, by="prefix"),
                     RunOptions(device="cpu", progress=False))


def outputs(folder: Path) -> dict[str, bytes]:
    """Each output file's bytes (whole files: the sRGB profile outputs are tagged with has a
    fixed creation date, so Ray's worker processes write the same profile bytes)."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture
def one_torch_thread():
    """torch with one intra-op thread in this process, as ``ppr10k retouch`` sets it: the
    predictor's last bits depend on the thread count, which the Ray actors must follow."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def summary_without_timing(report) -> str:
    return re.sub(r" in [0-9.]+ s(, [0-9.]+ photos/s)?", "", report.summary())


def check_same(local, remote, local_dir: Path, remote_dir: Path) -> None:
    assert outputs(remote_dir) == outputs(local_dir)
    assert summary_without_timing(remote) == summary_without_timing(local)
    def seen(report):
        return [(r.source, r.output.relative_to(r.output.parents[0]) if r.output else None,
                 r.status, r.reason, r.weights, r.group) for r in report.results]

    assert seen(remote) == seen(local)
    assert not [p for p in remote_dir.rglob("*") if is_temp_name(p.name)]


def test_single_mode_writes_what_the_local_engine_writes(session, photos, tmp_path):
    local = engine().run([photos], tmp_path / "local")
    remote = ray_engine.RayRunner().run(engine(), [photos], tmp_path / "ray")
    assert len(local.by_status("done")) == 6 and len(local.failed) == 1
    # the bad file is named exactly as locally
    assert remote.failed[0].source == photos / "3_1.jpg"
    check_same(local, remote, tmp_path / "local", tmp_path / "ray")


def test_group_mode_matches_the_local_engine(session, photos, tmp_path, one_torch_thread):
    local = engine(group=True).run([photos], tmp_path / "local")
    remote = ray_engine.RayRunner().run(engine(group=True), [photos], tmp_path / "ray")
    assert local.groups is not None and len(local.groups) == 3  # 1_*, 2_*, the bad 3_1
    assert [r.group for r in local.results[:6]] == [0, 0, 0, 1, 1, 1]
    assert remote.groups == local.groups
    check_same(local, remote, tmp_path / "local", tmp_path / "ray")


class WriteThenDieOnce:
    """A write stage whose first write of ``1_2`` leaves a temp file and kills its worker
    process (as a machine losing power would), then writes as usual. ``flag`` (a file)
    says whether the kill is still to come: the retry runs in another process."""

    def __init__(self, flag: Path) -> None:
        self.flag = flag

    def __call__(self, rendered):
        output = rendered.job.output
        if rendered.job.source.stem == "1_2" and self.flag.exists():
            self.flag.unlink()
            output.with_name(f".{output.stem}.abcd1234.tmp.jpg").write_bytes(b"\xff\xd8 half")
            os._exit(1)
        return write_rendered(rendered)


def test_a_killed_worker_is_retried_and_leaves_no_partial_file(session, photos, tmp_path):
    flag = tmp_path / "kill-once"
    flag.write_text("")
    stages = ray_engine.Stages(write=WriteThenDieOnce(flag))
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import it
    try:
        remote = ray_engine.RayRunner(stages=stages).run(engine(), [photos], tmp_path / "ray")
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert not flag.exists(), "the faulty write never ran: nothing was killed"
    local = engine().run([photos], tmp_path / "local")
    check_same(local, remote, tmp_path / "local", tmp_path / "ray")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_address_is_one_line_exit_2_and_writes_nothing(photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["retouch", str(photos), "--out", str(out), "--engine", "ray",
                 "--address", f"127.0.0.1:{closed_port()}"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "no Ray cluster answers" in err, err
    assert not out.exists()


def test_without_ray_the_engine_says_how_to_install_it(photos, tmp_path, monkeypatch,
                                                       capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    with pytest.raises(EngineUsageError, match=r"pip install -e '\.\[ray\]'"):
        make_runner("ray")
    code = main(["retouch", str(photos), "--out", str(tmp_path / "out"), "--engine", "ray"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "[ray]" in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_ctrl_c_stops_the_whole_job_and_leaves_only_complete_outputs(tmp_path):
    """`ppr10k retouch --engine ray` in a child process, interrupted once outputs appear."""
    import signal
    import subprocess
    import time

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(5)
    for index in range(40):
        pixels = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(src / f"p{index:02d}.jpg", quality=90)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    code = "import sys; from ppr10k.cli.main import main; sys.exit(main())"
    child = subprocess.Popen(
        [sys.executable, "-c", code, "retouch", str(src), "--out", str(out), "--engine", "ray",
         "--model", MODEL, "--quiet"], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and child.poll() is None and not (
            out.is_dir() and any(p.suffix == ".jpg" for p in out.iterdir())):
        time.sleep(0.2)
    assert child.poll() is None, "the run ended before it could be interrupted"
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    left = sorted(p.name for p in out.iterdir())
    assert 0 < len(left) < 40, left  # stopped part way, the lock released (no .ppr10k.lock)
    assert all(name.endswith(".jpg") and not is_temp_name(name) for name in left), left
    for name in left:  # every output that exists is complete
        with Image.open(out / name) as image:
            image.load()
