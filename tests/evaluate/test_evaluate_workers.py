"""`--workers N` larger than the number of pairs starts no more processes than pairs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ppr10k.evaluate import folders


def test_pool_is_never_larger_than_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []

    class Recording(ThreadPoolExecutor):
        def __init__(self, max_workers: int, mp_context=None) -> None:
            sizes.append(max_workers)
            super().__init__(max_workers=max_workers)

    monkeypatch.setattr(folders, "ProcessPoolExecutor", Recording)
    monkeypatch.setattr(folders._kernel, "warm_up", lambda: None)
    assert list(folders._map(abs, [-1, -2, -3], workers=10_000)) == [1, 2, 3]
    assert sizes == [3]
