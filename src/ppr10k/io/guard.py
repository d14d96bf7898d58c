"""May this run write here? Output checks, the run-folder lock and stale temp files.

Every command that writes goes through the same few checks, so that no run loses data:

- :func:`check_output_folder`: an output folder must not be, contain or lie inside a
  folder that holds the run's inputs or a dataset (``ValueError``);
- :func:`check_not_replacing`: files this run did not write are not replaced without an
  explicit ``--overwrite`` (``FileExistsError``);
- :class:`RunLock`: an OS lock (``flock``) on ``FOLDER/.ppr10k.lock`` held for the whole
  run, so two writers never mix one folder; it dies with its process, so a killed run
  never blocks the next (``FileExistsError`` names the holder's PID);
- :func:`remove_stale_temps`: temp files that :func:`~ppr10k.io.image.atomic_write` left
  behind when a process was killed (names ``.NAME.XXXXXXXX.tmp[.ext]``) are removed when a
  run starts in that folder.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Self

__all__ = ["LOCK_NAME", "NoSpaceError", "RunLock", "check_not_replacing", "check_output_folder",
           "folder_of", "is_no_space", "is_temp_name", "remove_stale_temps"]

#: The lock file a run keeps inside the folder it writes.
LOCK_NAME = ".ppr10k.lock"

# atomic_write: mkstemp(prefix=".{stem}.", suffix=".tmp{suffix}") -> 8 random characters
_TEMP_NAME = re.compile(r"^\..*\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")


def _resolve(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_folder(out: str | os.PathLike, protected: Iterable[str | os.PathLike], *,
                        option: str = "--out", what: str = "an input folder",
                        inside: bool = True, contain: bool = True) -> None:
    """Refuse an output folder that is, (``inside``) lies inside or (``contain``) holds a
    protected one.

    Args:
        out: the folder (or file) the run will write.
        protected: folders holding the run's inputs or a dataset (missing ones are fine).
        option: the option naming ``out``, for the message.
        what: what the protected folders are, for the message.
        inside: also refuse an ``out`` below a protected folder.
        contain: also refuse an ``out`` that holds a protected folder.

    Raises:
        ValueError: one line naming both folders.

    >>> check_output_folder("/data/ppr10k/val/masks", ["/data/ppr10k"], what="the dataset")
    Traceback (most recent call last):
    ...
    ValueError: --out /data/ppr10k/val/masks is inside the dataset /data/ppr10k; choose a folder outside it (nothing is written into a run's inputs)
    """
    target = _resolve(out)
    for folder in protected:
        root = _resolve(folder)
        if target == root:
            where = f"is {what}"
        elif inside and _inside(target, root):
            where = f"is inside {what} {root}"
        elif contain and _inside(root, target):
            where = f"holds {what} {root}"
        else:
            continue
        raise ValueError(f"{option} {out} {where}; choose a folder outside it (nothing is "
                         "written into a run's inputs)")


def folder_of(path: str | os.PathLike) -> Path:
    """``path`` when it is a folder, else the folder holding it (a model file's folder)."""
    path = Path(path)
    return path if path.is_dir() else path.parent


def check_not_replacing(paths: Iterable[str | os.PathLike], overwrite: bool = False, *,
                        hint: str = "pass --overwrite to replace it or choose another --out"
                        ) -> None:
    """Refuse to replace existing files (written by an earlier run or by someone else).

    Raises:
        FileExistsError: one line naming the first existing file, how many more, and
            ``hint`` (how to proceed); never with ``overwrite``.
    """
    if overwrite:
        return
    existing = [Path(p) for p in paths if Path(p).exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise FileExistsError(f"{existing[0]} exists{more} and was not written by this run; "
                              f"{hint}")


class NoSpaceError(OSError):
    """The disk (or quota) filled up; the message says what was kept and how to go on."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ENOSPC, message)

    def __str__(self) -> str:
        return str(self.strerror)


def is_no_space(error: BaseException) -> bool:
    """True for a full disk or an exhausted quota."""
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is one of :func:`~ppr10k.io.image.atomic_write`'s temp names.

    >>> is_temp_name(".train_state.k2j_x9q1.tmp.pt"), is_temp_name("model.safetensors")
    (True, False)
    """
    return bool(_TEMP_NAME.match(name))


def remove_stale_temps(folder: str | os.PathLike, before: float,
                       subfolders: Iterable[str] = ()) -> list[Path]:
    """Remove temp files (and temp folders) that killed runs left in ``folder``.

    Only names of :func:`is_temp_name`'s pattern last modified before ``before`` (a
    ``time.time()``, the run's start) are removed; call it while holding the folder's
    :class:`RunLock`, so no live writer of this folder owns them.

    Args:
        folder: the run folder.
        before: the run's start time.
        subfolders: names of subfolders searched too (not recursively).

    Returns:
        The removed paths.
    """
    removed = []
    root = Path(folder)
    for place in [root, *(root / name for name in subfolders)]:
        if not place.is_dir():
            continue
        for path in place.iterdir():
            if not is_temp_name(path.name):
                continue
            try:
                if path.lstat().st_mtime >= before:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
    return removed


class RunLock:
    """An exclusive OS lock on ``FOLDER/.ppr10k.lock``, held until :meth:`release`.

    ``flock`` locks belong to the open file: they vanish when the process ends however it
    ends, so a lock file left by a killed run never blocks. The file holds the holder's
    PID, for the message a second writer gets; the holder removes it when it releases the
    lock (a writer that locked a file just removed sees that and takes the new one). On
    Windows ``msvcrt.locking`` is used (also released by the OS when the process dies).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder, RunLock(folder):
    ...     pass
    """

    def __init__(self, folder: str | os.PathLike, what: str = "run folder") -> None:
        self.folder = Path(folder)
        self.what = what
        self._file = None

    @property
    def path(self) -> Path:
        return self.folder / LOCK_NAME

    def acquire(self) -> Self:
        """Take the lock (creating the folder); ``FileExistsError`` when another holds it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(self.path, "a+", encoding="ascii")  # noqa: SIM115 - until release
            try:
                _lock(handle)
            except OSError as error:
                try:
                    handle.seek(0)
                    holder = handle.read().strip()
                except OSError:  # Windows: the locked byte cannot be read
                    holder = ""
                handle.close()
                if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK,
                                       errno.EDEADLK):
                    raise
                pid = f" (PID {holder})" if holder.isdigit() else ""
                raise FileExistsError(
                    f"{self.folder} is in use by another ppr10k run{pid}; wait for it to "
                    f"finish or choose another {self.what}") from None
            if _same_file(handle, self.path):
                break
            handle.close()  # its holder removed it as we opened it: lock the new one
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        """Remove the lock file (still holding the lock), then drop the lock."""
        if self._file is None:
            return
        try:
            if _same_file(self._file, self.path):
                self.path.unlink()
        except OSError:  # Windows cannot remove an open file: it stays, unlocked
            pass
        try:
            _unlock(self._file)
        except OSError:
            pass
        finally:
            self._file.close()
            self._file = None

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _same_file(handle, path: Path) -> bool:
    """Whether the open ``handle`` is still the file at ``path``."""
    try:
        here, there = os.fstat(handle.fileno()), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


try:
    import fcntl

    def _lock(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

except ImportError:  # Windows
    import msvcrt

    def _lock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
