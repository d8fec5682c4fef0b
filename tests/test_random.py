"""junco._random: per-request random bytes, never handed out twice, fresh after fork."""

from __future__ import annotations

import os
import threading

import pytest

from junco._random import random_bytes


def test_lengths_and_no_repeats_across_pages() -> None:
    drawn = [random_bytes(16) for _ in range(2000)]  # several 4 KiB pages
    assert all(len(b) == 16 for b in drawn)
    assert len(set(drawn)) == len(drawn)
    assert len(random_bytes(4096)) == 4096


def test_threads_never_share_bytes() -> None:
    results: list[list[bytes]] = [[] for _ in range(4)]

    def draw(out: list[bytes]) -> None:
        out.extend(random_bytes(16) for _ in range(500))

    threads = [threading.Thread(target=draw, args=(out,)) for out in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [b for out in results for b in out]
    assert len(set(everything)) == len(everything) == 2000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parent() -> None:
    random_bytes(16)  # the parent has a page in use
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, random_bytes(16))
        os._exit(0)
    os.close(write)
    child = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 16
    assert child != random_bytes(16)
