"""``ppr10k.io.guard``: where a run may write, the run-folder lock and stale temp files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ppr10k.io import atomic_write, guard
from ppr10k.io.guard import (
    LOCK_NAME,
    RunLock,
    check_not_replacing,
    check_output_folder,
    is_temp_name,
    remove_stale_temps,
)

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize(("out", "message"), [
    ("data", "is the dataset"),
    ("data/val/masks", "is inside the dataset"),
    (".", "holds the dataset"),
])
def test_output_folder_may_not_be_inside_or_hold_a_protected_one(tmp_path, out, message):
    (tmp_path / "data" / "val").mkdir(parents=True)
    with pytest.raises(ValueError, match=message):
        check_output_folder(tmp_path / out, [tmp_path / "data"], what="the dataset")


def test_output_folder_checks_can_be_narrowed_and_see_through_links(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    check_output_folder(tmp_path / "preds", [data])  # a sibling is fine
    check_output_folder(data / "sub", [data], inside=False)
    check_output_folder(tmp_path, [data], contain=False)
    (tmp_path / "alias").symlink_to(data)
    with pytest.raises(ValueError, match="--pred .*alias is an input folder"):
        check_output_folder(tmp_path / "alias", [data], option="--pred")


def test_existing_files_are_not_replaced_without_overwrite(tmp_path):
    files = [tmp_path / f"{i}.png" for i in range(3)]
    check_not_replacing(files)  # none exists yet
    files[1].write_bytes(b"1")
    files[2].write_bytes(b"2")
    with pytest.raises(FileExistsError, match=r"1\.png exists \(and 1 more\) .*--overwrite"):
        check_not_replacing(files)
    check_not_replacing(files, overwrite=True)


def test_atomic_write_temp_names_are_recognised(tmp_path):
    for name in ("train_state.pt", "model.safetensors", "log.jsonl", "README"):
        with atomic_write(tmp_path / name) as tmp:
            assert is_temp_name(tmp.name), tmp.name
            tmp.write_text("x")
    assert not any(is_temp_name(name) for name in ("model.safetensors", ".ppr10k.lock",
                                                   "notes.tmp", ".hidden"))


def test_stale_temps_of_killed_runs_are_removed_and_nothing_else(tmp_path):
    (tmp_path / "last").mkdir()
    old = [tmp_path / ".train_state.ab12cd34.tmp.pt", tmp_path / "last" / ".model.zz_99yy8.tmp"]
    keep = [tmp_path / "notes.tmp", tmp_path / "model.safetensors", tmp_path / LOCK_NAME,
            tmp_path / "sub" / ".x.ab12cd34.tmp"]  # sub/ is not searched
    staging = tmp_path / ".last.qwer1234.tmp"
    staging.mkdir()
    (staging / "model.safetensors").write_bytes(b"half")
    for path in old + keep:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * 10)
    start = time.time() + 10  # every file above is older than this run
    fresh = tmp_path / ".log.newr1234.tmp.jsonl"  # a live writer's: newer than the start
    fresh.write_text("x")
    os.utime(fresh, (start + 10, start + 10))
    removed = remove_stale_temps(tmp_path, start, subfolders=("last", "best"))
    assert sorted(removed) == sorted([*old, staging])
    assert not any(p.exists() for p in [*old, staging])
    assert all(p.exists() for p in [*keep, fresh])


def test_lock_is_exclusive_within_a_process_and_released(tmp_path):
    held = RunLock(tmp_path / "run").acquire()
    with pytest.raises(FileExistsError, match=f"PID {os.getpid()}"):
        RunLock(tmp_path / "run").acquire()
    held.release()
    assert list((tmp_path / "run").iterdir()) == []  # no lock file left behind
    with RunLock(tmp_path / "run"):  # released: free again
        pass


def test_a_writer_that_locked_a_removed_lock_file_takes_the_new_one(tmp_path, monkeypatch):
    """The holder removed the file between our open and our lock: lock the new file."""
    folder = tmp_path / "run"
    real_lock, calls = guard._lock, []

    def lock_then_lose_the_race(handle):
        real_lock(handle)
        calls.append(handle)
        if len(calls) == 1:
            (folder / LOCK_NAME).unlink()  # what the previous holder's release does

    monkeypatch.setattr(guard, "_lock", lock_then_lose_the_race)
    held = RunLock(folder).acquire()
    assert len(calls) == 2 and calls[0].closed
    monkeypatch.undo()
    with pytest.raises(FileExistsError):  # the lock on the file in place is what counts
        RunLock(folder).acquire()
    held.release()


def _hold_lock(folder: Path) -> subprocess.Popen:
    """Another process that takes the lock, says so, then waits to be killed."""
    code = ("import sys, time\nfrom ppr10k.io.guard import RunLock\n"
            "lock = RunLock(sys.argv[1]).acquire()\nprint('locked', flush=True)\ntime.sleep(600)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], env=env,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_writer_is_refused_and_a_killed_holder_releases_the_lock(tmp_path):
    folder = tmp_path / "run"
    holder = _hold_lock(folder)
    try:
        with pytest.raises(FileExistsError,
                           match=f"{folder} is in use by another ppr10k run \\(PID {holder.pid}\\)"):
            RunLock(folder).acquire()
    finally:
        holder.kill()  # like kill -9: no clean-up runs
        holder.wait()
    assert (folder / LOCK_NAME).exists()  # the file stays, the lock does not
    with RunLock(folder):
        assert (folder / LOCK_NAME).read_text().strip() == str(os.getpid())


def test_train_into_a_locked_run_folder_is_one_line_and_writes_nothing(tmp_path, capsys):
    from ppr10k.cli.main import main

    folder = tmp_path / "run"
    holder = _hold_lock(folder)
    try:
        code = main(["train", "--data", str(tmp_path / "data"), "--out", str(folder),
                     "--epochs", "1", "--quiet"])
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == (f"ppr10k train: error: {folder} is in use by another ppr10k run "
                           f"(PID {holder.pid}); wait for it to finish or choose another --out")
    assert sorted(p.name for p in folder.iterdir()) == [LOCK_NAME]
